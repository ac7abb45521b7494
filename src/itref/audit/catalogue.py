"""The catalogue of audit checks (``docs/checks.md``), generated from the registry.

``python -m itref.audit.catalogue docs/checks.md`` rewrites it; a test fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from itref.audit.registry import all_checks, topics


def render() -> str:
    """Return the Markdown catalogue: one section per check with its texts, platforms and thresholds."""
    lines = ["# Audit checks", "",
             "<!-- Generated from the check registry by `python -m itref.audit.catalogue docs/checks.md`; "
             "do not edit by hand. -->", "",
             "Thresholds can be changed per entity, tag or host in the playbooks (`audits.thresholds`, "
             "`audits.tags`, `audits.hosts`); a check can be skipped per entity (`audits.skip`).", "",
             "| check | what | runs on |", "|---|---|---|"]
    checks = all_checks()
    lines += [f"| [`{c.id}`](#{c.id.replace('.', '')}) | {c.title} | {', '.join(c.platforms())} |" for c in checks]
    for c in checks:
        t = c.topic()
        lines += ["", f"## {c.id}", "", f"**{c.title}** — runs on {', '.join(c.platforms())}.", "",
                  f"*Why it matters:* {t.why}", "", f"*How it is measured:* {t.how}", "", f"*What to do:* {t.fix}"]
        if c.thresholds:
            lines += ["", "Thresholds: " + ", ".join(f"`{k}` = {v}" for k, v in c.thresholds.items())]
        lines += ["", "Commands: " + ", ".join(f"`{x}`" for x in t.commands)]
    others = [t for t in topics().values() if t.id not in {c.id for c in checks}]
    lines += ["", "## Ids carried by findings", "",
              "Some checks give their findings ids of their own; `itref audit explain ID` explains each.", ""]
    for t in others:
        found_by = f" Found by the check `{t.family}`." if t.family else ""
        lines += [f"### {t.id}", "", f"**{t.title}**.{found_by}", "", f"*Why it matters:* {t.why}", "",
                  f"*How it is measured:* {t.how}", "", f"*What to do:* {t.fix}", "",
                  "Commands: " + ", ".join(f"`{x}`" for x in t.commands), ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Write the catalogue to ``argv[0]`` (default docs/checks.md); return 0."""
    Path(argv[0] if argv else "docs/checks.md").write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

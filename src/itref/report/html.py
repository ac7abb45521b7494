"""Audit as one standalone HTML page for people who are not IT staff (an alderman, a CPAS president).

Plain words first (per entity: a coloured badge such as "2 problems to fix, 1 to watch" and a sentence),
details after. One file: inline CSS, no script, no font, image or style sheet from elsewhere; printable
(the meaning never depends on colour or backgrounds, each entity starts a new page). Every text is
HTML-escaped. Formatting only.
"""

from __future__ import annotations

import gettext
import json
import os
import re
from datetime import date
from html import escape
from pathlib import Path

from itref import i18n
from itref.core.audits import AuditReport, Past
from itref.core.findings import Finding, Severity
from itref.i18n import _, format_number, ngettext

_NOT_HTML = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
"""Control characters, lone surrogates and non-characters: never meant as text, a parse error in HTML."""

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 17px; line-height: 1.5; color: #1b1b1b; background: #fff; max-width: 52rem; margin: 0 auto;
  padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.75rem; margin: 0 0 .25rem; }
h2 { font-size: 1.35rem; margin: 2rem 0 .75rem; padding-bottom: .25rem; border-bottom: 2px solid #d0d7de; }
h3 { font-size: 1.1rem; margin: 0 0 .4rem; }
p { margin: .35rem 0; }
a { color: inherit; }
.when { color: #57606a; margin-bottom: 1rem; }
.overall { font-size: 1.15rem; font-weight: 600; margin: 1rem 0; }
.card { border: 1px solid #d0d7de; border-left: .5rem solid #8c959f; border-radius: .4rem; padding: .75rem 1rem;
  margin: .75rem 0; }
.badge { display: inline-block; padding: .1rem .7rem; border: 2px solid currentColor; border-radius: 1rem;
  font-weight: 700; margin: 0 .4rem .3rem 0; }
.tag { display: inline-block; padding: 0 .45rem; border: 1px solid currentColor; border-radius: .3rem;
  font-size: .85rem; font-weight: 700; margin-right: .35rem; }
.critical { color: #a40e26; } .badge.critical, .tag.critical { background: #ffebe9; }
.warning { color: #7d4e00; } .badge.warning, .tag.warning { background: #fff8c5; }
.unknown { color: #5a32a3; } .badge.unknown, .tag.unknown { background: #f3effd; }
.ok { color: #116329; } .badge.ok, .tag.ok { background: #dafbe1; }
.waived { color: #57606a; } .badge.waived, .tag.waived { background: #f6f8fa; }
.change { color: #1b1b1b; background: #ddf4ff; }
.card.critical { border-left-color: #cf222e; } .card.warning { border-left-color: #bf8700; }
.card.unknown { border-left-color: #8250df; } .card.ok { border-left-color: #1a7f37; }
.card.waived { border-left-color: #8c959f; }
.card, .finding p, .fine { color: #1b1b1b; }
.finding { border: 1px solid #d0d7de; border-left: .4rem solid #8c959f; border-radius: .3rem;
  padding: .6rem .9rem; margin: .6rem 0; }
.finding.critical { border-left-color: #cf222e; } .finding.warning { border-left-color: #bf8700; }
.finding.unknown { border-left-color: #8250df; } .finding.waived { border-left-color: #8c959f; }
.finding .what { font-weight: 600; }
.label { font-weight: 700; }
.tech { color: #57606a; font-size: .85rem; overflow-wrap: anywhere; }
.fine li { margin: .15rem 0; }
footer { margin-top: 3rem; color: #57606a; font-size: .85rem; border-top: 1px solid #d0d7de; padding-top: .5rem; }
@media print {
  @page { margin: 1.5cm; }
  body { max-width: none; padding: 0; font-size: 11pt; color: #000; }
  .badge, .tag, .change { background: none !important; }
  .entity { break-before: page; page-break-before: always; }
  .card, .finding { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  a { text-decoration: none; }
}
"""


def esc(text: object) -> str:
    """Return ``text`` escaped for HTML text and attribute values, characters HTML cannot carry replaced."""
    return escape(_NOT_HTML.sub("\ufffd", str(text)), quote=True)


def page_language() -> str:
    """Return the language code of the text the page is written in: the catalogue that :mod:`itref.i18n` uses
    for the current language (``ITREF_LANG``, then the environment), or ``en`` (the source text) without one."""
    forced = os.environ.get("ITREF_LANG")
    found = gettext.find(i18n.DOMAIN, i18n.LOCALE_DIR, languages=[forced] if forced else None)
    if not found:
        return "en"
    code = re.split(r"[.@]", Path(found).parents[1].name)[0].replace("_", "-")
    return code if re.fullmatch(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", code) else "en"


def _day(value: str) -> str:
    try:
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    except (TypeError, ValueError):
        return value


def _kind(f: Finding) -> str:
    """Return the CSS class and plain category of a finding."""
    if f.waiver:
        return "waived"
    if f.severity in (Severity.OK, Severity.INFO):
        return "ok"
    return f.severity.value


def _tag(kind: str) -> str:
    return {"critical": _("To fix"), "warning": _("To watch"), "unknown": _("Not checked"),
            "waived": _("Accepted for now"), "ok": _("In order")}[kind]


def _tally(findings: list[Finding]) -> dict[str, int]:
    out = dict.fromkeys(("critical", "warning", "unknown", "waived", "ok"), 0)
    for f in findings:
        out[_kind(f)] += 1
    return out


def badge_text(n: dict[str, int]) -> str:
    """Return the plain-words badge: "2 problems to fix, 1 to watch" (or "All in order")."""
    parts = []
    if n["critical"]:
        parts.append(ngettext("{n} problem to fix", "{n} problems to fix", n["critical"]).format(n=n["critical"]))
    if n["warning"]:
        parts.append(ngettext("{n} to watch", "{n} to watch", n["warning"]).format(n=n["warning"]))
    if n["unknown"]:
        parts.append(ngettext("{n} could not be checked", "{n} could not be checked",
                              n["unknown"]).format(n=n["unknown"]))
    return ", ".join(parts) if parts else _("All in order")


def _sentence(n: dict[str, int]) -> str:
    if n["critical"]:
        text = _("Something needs fixing soon: the details below say why it matters and what to do.")
    elif n["unknown"]:
        text = _("Some checks could not be done: someone should look at them by hand.")
    elif n["warning"]:
        text = _("Nothing urgent, but some points should be looked at before they become problems.")
    else:
        text = ngettext("The {n} point checked is in order.", "All {n} points checked are in order.",
                        n["ok"]).format(n=n["ok"])
    if n["waived"]:
        text += " " + ngettext("{n} known issue is accepted for now.", "{n} known issues are accepted for now.",
                               n["waived"]).format(n=n["waived"])
    return text


def _worst_kind(n: dict[str, int]) -> str:
    return next((k for k in ("critical", "unknown", "warning") if n[k]), "ok")


def _overall(report: AuditReport) -> str:
    worst = report.worst
    if worst == Severity.CRITICAL:
        return _("Some problems need fixing soon.")
    if worst == Severity.UNKNOWN:
        return _("Some points could not be checked.")
    if worst == Severity.WARNING:
        return _("Nothing urgent, a few points to watch.")
    return _("Everything checked is in order.")


def _evidence(f: Finding) -> str:
    return ", ".join(f"{k} = {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)}"
                     for k, v in f.evidence.items())


def _finding(f: Finding) -> list[str]:
    kind = _kind(f)
    head = f'<span class="tag {kind}">{esc(_tag(kind))}</span>'
    if f.failing and f.change == "new":
        head += f'<span class="tag change">{esc(_("New"))}</span>'
    elif f.failing and f.change == "regressed":
        head += f'<span class="tag change">{esc(_("Worse"))}</span>'
    where = f"{esc(f.host)}: " if f.host else ""
    out = [f'<div class="finding {kind}">', f'<p class="what">{head}{where}{esc(f.message)}</p>']
    if f.waiver:
        text = _("Accepted until {until}: {reason}").format(until=_day(f.waiver.get("until", "?")),
                                                           reason=f.waiver.get("reason", ""))
        if f.waiver.get("by"):
            text += " " + _("(decided by {by})").format(by=f.waiver["by"])
        out.append(f"<p>{esc(text)}</p>")
    if f.why and (f.failing or f.waiver):
        out.append(f'<p><span class="label">{esc(_("Why it matters: ").strip())}</span> {esc(f.why)}</p>')
    if f.fix and f.failing:
        out.append(f'<p><span class="label">{esc(_("What to do: ").strip())}</span> {esc(f.fix)}</p>')
    tech = [_("check {id}").format(id=f.check)]
    if f.host:
        tech.append(_("host {host}").format(host=f.host))
    if f.subject:
        tech.append(_("about {subject}").format(subject=f.subject))
    if f.evidence:
        tech.append(_evidence(f))
    out.append(f'<p class="tech">{esc(_("Technical details:"))} {esc(" · ".join(tech))}</p>')
    out.append("</div>")
    return out


def _resolved(p: Past) -> str:
    where = f"{esc(p.host)}: " if p.host else ""
    return f"<li>{where}{esc(p.message)}</li>"


def render(report: AuditReport) -> str:
    """Return the report as one standalone HTML document."""
    local = report.started.astimezone()
    groups = report.by_entity()
    titles = {entity: report.title(entity) for entity in groups}
    tallies = {entity: _tally(findings) for entity, findings in groups.items()}
    title = _("IT health check — {org}").format(org=report.organisation)
    when = _("Audit of {date} at {time}").format(date=local.strftime("%d/%m/%Y"), time=local.strftime("%H:%M"))
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{esc(page_language())}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="itref">',
        f"<title>{esc(title)} — {esc(local.strftime('%d/%m/%Y'))}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="when">{esc(when)}</p>',
        "</header>",
        '<section class="summary" id="summary">',
        f"<h2>{esc(_('At a glance'))}</h2>",
        f'<p class="overall">{esc(_overall(report))}</p>',
    ]
    if report.resolved:
        n = len(report.resolved)
        out.append("<p>" + esc(ngettext("{n} problem was solved since the previous audit.",
                                        "{n} problems were solved since the previous audit.", n).format(n=n))
                   + "</p>")
    for number, entity in enumerate(groups):
        n = tallies[entity]
        kind = _worst_kind(n)
        badges = f'<span class="badge {kind}">{esc(badge_text(n))}</span>'
        if n["waived"]:
            accepted = ngettext("{n} accepted for now", "{n} accepted for now", n["waived"]).format(n=n["waived"])
            badges += f'<span class="badge waived">{esc(accepted)}</span>'
        out += [f'<div class="card {kind}">', f'<h3><a href="#entity-{number}">{esc(titles[entity])}</a></h3>',
                f"<p>{badges}</p>", f"<p>{esc(_sentence(n))}</p>", "</div>"]
    if not groups:
        out.append(f"<p>{esc(_('No check was run.'))}</p>")
    out.append("</section>")
    for number, (entity, findings) in enumerate(groups.items()):
        out += [f'<section class="entity" id="entity-{number}">', f"<h2>{esc(titles[entity])}</h2>"]
        attention = [f for f in findings if _kind(f) != "ok"]
        fine = [f for f in findings if _kind(f) == "ok"]
        for f in attention:
            out += _finding(f)
        if fine:
            out.append(f"<h3>{esc(_('Checked and in order'))}</h3>")
            out.append('<ul class="fine">')
            out += [f"<li>{esc(f.host) + ': ' if f.host else ''}{esc(f.message)}</li>" for f in fine]
            out.append("</ul>")
        out.append("</section>")
    if report.resolved:
        out += ['<section class="resolved">', f"<h2>{esc(_('Resolved since the previous audit'))}</h2>", "<ul>"]
        out += [_resolved(p) for p in report.resolved]
        out += ["</ul>", "</section>"]
    made = _("Made by itref: audit {run}, {seconds} s.").format(run=report.run_id,
                                                           seconds=format_number(report.duration, 1))
    out += ["<footer>", f"<p>{esc(made)}</p>", "</footer>", "</body>", "</html>"]
    return "\n".join(out) + "\n"

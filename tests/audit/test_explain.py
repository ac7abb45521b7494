"""``itref audit explain ID`` answers for every id a finding can carry: the ids are read from the code that makes
findings (every ``Finding(...)`` call of the package), not from a list kept by hand."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import itref
from itref.audit.registry import all_checks, explain, topics
from itref.backup import kinds
from itref.core.status import ExitStatus

PACKAGE = Path(itref.__file__).parent


def _module_constants(tree: ast.Module) -> dict[str, str]:
    return {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)}


REPLAYS = {"migration.py"}


HOSTS_CHECK_MAKERS = {"problem", "_finding"}
"""How itref hosts check makes its findings (hostcheck/model.py ``problem``, hostcheck/directory.py ``_finding``)."""
"""Modules that make findings again from recorded ones (their ids are those the records hold), not new ones."""


def emitted_ids() -> tuple[set[str], list[str]]:
    """Return every id a ``Finding(...)`` call of the package can give, and the calls this reader cannot resolve."""
    found: set[str] = set()
    unresolved: list[str] = []
    check_ids = {c.id for c in all_checks()}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() in REPLAYS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _module_constants(tree)
        module_topics = None
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in HOSTS_CHECK_MAKERS \
                    and path.parent.name == "hostcheck" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)  # itref hosts check: problem("hosts.tcp", ...), _finding("directory.x")
                continue
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Finding"):
                continue
            where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
            first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "check"), None)
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
            elif isinstance(first, ast.Name) and first.id in constants:
                found.add(constants[first.id])
            elif isinstance(first, ast.Attribute) and first.attr == "id" and isinstance(first.value, ast.Name) \
                    and first.value.id in ("self", "check"):
                found |= check_ids  # a check's own id: any registered check
            elif isinstance(first, ast.Attribute) and first.attr == "id" and isinstance(first.value, ast.Name) \
                    and first.value.id == "topic":
                if module_topics is None:  # the module's own catalogue of the ids it gives its findings
                    import importlib

                    name = "itref." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
                    module_topics = {t.id for t in importlib.import_module(name).topics()}
                found |= module_topics
            elif isinstance(first, ast.Name) and first.id == "check" and path.name == "model.py" \
                    and path.parent.name == "hostcheck":  # problem(check, ...): the ids its callers give, below
                continue
            elif isinstance(first, ast.JoinedStr) and [type(v) for v in first.values] == [
                    ast.Constant, ast.FormattedValue] and first.values[0].value == "backup.":  # type: ignore[union-attr]
                found |= {f"backup.{k}" for k in kinds.names()}
            else:
                unresolved.append(where)
    return found, unresolved


def test_every_id_any_module_gives_a_finding_is_in_the_catalogue() -> None:
    found, unresolved = emitted_ids()
    assert not unresolved, f"Finding(...) calls whose id this test cannot read (teach it): {unresolved}"
    assert {"audit.host.reachable", "ad.stale-accounts", "ad.privileged-members", "ad.krbtgt-age",
            "backup.restic", "backup.files", "linux.disk.free"} <= found  # the reader sees the known emitters
    assert found - set(topics()) == set()


@pytest.mark.parametrize("finding_id", sorted(topics()))
def test_explain_says_why_how_what_to_do_and_the_commands(cli, finding_id: str) -> None:
    result = cli("audit", "explain", finding_id)
    assert result.rc == ExitStatus.SUCCESS, result.all
    for part in ("Why it matters: ", "How it is measured: ", "What to do: ", "Commands:"):
        assert part in result.out, result.out
    assert "See each finding" not in result.out
    topic = explain(finding_id)
    assert topic.why and topic.how and topic.fix and topic.commands
    for command in topic.commands:  # every command shown is one itref knows
        if command.startswith("itref "):
            words = []
            for word in command.split()[1:4]:  # the command's words, up to its first option or placeholder
                if word.startswith("-") or not word[0].islower() or "." in word:
                    break
                words.append(word)
            assert cli(*words, "--help").rc == 0, command


def test_the_hints_a_stand_in_met_now_answer() -> None:
    for finding_id, said in (("ad.stale-accounts", "lastLogonTimestamp"), ("backup.restic", "restic snapshots"),
                             ("ad.privileged-members", "Domain Admins"), ("audit.host.reachable", "one connection"),
                             ("backups", "itref backup check"), ("directory", "LDAP")):
        assert said in explain(finding_id).how


def test_an_unknown_id_is_a_usage_error_naming_close_ones(cli) -> None:
    result = cli("audit", "explain", "ad.stale-acounts")
    assert result.rc == ExitStatus.USAGE and "ad.stale-accounts" in result.err


def test_the_french_explanation_is_french(itref_bin) -> None:
    result = itref_bin("--lang", "fr", "audit", "explain", "backup.files")
    assert result.rc == 0 and "Pourquoi c'est important" in result.out and "How it is measured" not in result.out

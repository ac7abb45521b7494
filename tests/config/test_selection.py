"""--limit selects hosts by name, glob, entity and tag, and refuses expressions that match nothing."""

from __future__ import annotations

import pytest

from itref.config.project import HostSpec
from itref.config.selection import SelectionError, select

HOSTS = [
    HostSpec("dc01", "shared", "winrm", "dc01.example", ("windows", "dc"), None),
    HostSpec("nas01", "shared", "ssh", "nas01.example", ("linux", "backup"), None),
    HostSpec("srv-cpas-app", "cpas", "ssh", "app.example", ("linux", "app"), None),
    HostSpec("srv-cpas-files", "cpas", "winrm", "files.example", ("windows",), None),
    HostSpec("admin-pc", "asbl", "local", "admin-pc", ("linux",), None),
]


def names(expr: str | None) -> list[str]:
    return [h.name for h in select(HOSTS, expr)]


@pytest.mark.parametrize(("expr", "expected"), [
    (None, ["dc01", "nas01", "srv-cpas-app", "srv-cpas-files", "admin-pc"]),
    ("nas01", ["nas01"]),
    ("srv-cpas-*", ["srv-cpas-app", "srv-cpas-files"]),
    ("entity:cpas", ["srv-cpas-app", "srv-cpas-files"]),
    ("tag:linux", ["nas01", "srv-cpas-app", "admin-pc"]),
    ("tag:linux,tag:dc", ["dc01", "nas01", "srv-cpas-app", "admin-pc"]),
    ("tag:linux,!entity:cpas", ["nas01", "admin-pc"]),
    ("!tag:windows", ["nas01", "srv-cpas-app", "admin-pc"]),
    ("admin-pc, nas01", ["nas01", "admin-pc"]),
])
def test_selection_in_inventory_order(expr: str | None, expected: list[str]) -> None:
    assert names(expr) == expected


@pytest.mark.parametrize(("expr", "message"), [
    ("nas1", "'nas1' matches no host (did you mean 'nas01'?)"),
    ("entity:cpsa", "unknown entity 'cpsa' in --limit (did you mean 'cpas'?)"),
    ("tag:linx", "no host has the tag 'linx' (did you mean 'linux'?)"),
    ("web-*", "'web-*' matches no host"),
    ("tag:linux,!tag:linux", "selects no host"),
    ("nas01,!nsa01", "'nsa01' matches no host"),
])
def test_expressions_that_match_nothing_are_errors(expr: str, message: str) -> None:
    with pytest.raises(SelectionError) as exc:
        select(HOSTS, expr)
    assert message in exc.value.message

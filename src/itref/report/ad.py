"""Render directory plans (as a diff), accounts and findings. Formatting only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from itref.ad.client import Entry
from itref.ad.plan import Change, Plan
from itref.core.text import printable
from itref.i18n import _


def plan_text(plan: Plan, password_to: str | Path | None = None) -> Text:
    """Return the plan as diff lines: + create/add, - remove, ~ change, → move, ✗ delete, * password.

    ``password_to``: the file a new password will be written to (then it is not shown), None when it is shown once
    on the terminal. Names and values come from files and from the directory: control characters in them are
    shown escaped (:func:`~itref.core.text.printable`), never sent to the terminal.
    """
    out = Text(printable(plan.title) + "\n", style="bold")
    for note in plan.notes:
        out.append(f"  ({printable(note)})\n", style="dim")
    if plan.empty:
        out.append("  " + _("nothing to change: the directory is already as asked") + "\n", style="green")
    for c in plan.changes:
        dn, target = printable(c.dn), printable(c.target)
        if c.kind == "create":
            out.append(f"+ {_('create')} {dn}\n", style="green")
            for key, value in c.attributes.items():
                out.append(f"    + {printable(str(key))}: {printable(str(value))}\n", style="green")
        elif c.kind == "password":
            where = (_("password of {dn}: generated to meet the domain policy, written to {path} (readable only by "
                       "you), not shown").format(dn=dn, path=password_to) if password_to is not None else
                     _("password of {dn}: generated to meet the domain policy, shown once").format(dn=dn))
            out.append("* " + where + "\n", style="yellow")
            _changed_values(out, c)  # set in the same operation, right after the password
        elif c.kind == "modify":
            out.append(f"~ {dn}\n", style="yellow")
            _changed_values(out, c)
        elif c.kind == "add-member":
            out.append("+ " + _("{dn} joins {group}").format(dn=dn, group=target) + "\n", style="green")
        elif c.kind == "remove-member":
            out.append("- " + _("{dn} leaves {group}").format(dn=dn, group=target) + "\n", style="red")
        elif c.kind == "move":
            out.append("→ " + _("move {dn} to {ou}").format(dn=dn, ou=target) + "\n", style="cyan")
        elif c.kind == "delete":
            extra = ", ".join(f"{k} {v}" for k, v in c.before.items())
            out.append("✗ " + _("delete {dn}").format(dn=dn) + (f" ({printable(extra)})" if extra else "") + "\n",
                       style="bold red")
    return out


def _changed_values(out: Text, change: Change) -> None:
    for key, value in change.attributes.items():
        old = change.before.get(key)
        out.append(printable(f"    ~ {key}: {old if old not in (None, '') else '∅'} → "
                             f"{value if value not in (None, '') else '∅'}") + "\n", style="yellow")


def plan_dict(plan: Plan) -> dict[str, Any]:
    """Return the plan as JSON-ready data (never the password)."""
    return {"title": plan.title, "login": plan.login, "notes": plan.notes,
            "changes": [{"kind": c.kind, "dn": c.dn, "attributes": c.attributes, "before": c.before,
                         "target": c.target or None} for c in plan.changes]}


SHOWN = ("sAMAccountName", "userPrincipalName", "displayName", "givenName", "sn", "mail", "department", "company",
         "title", "physicalDeliveryOfficeName", "telephoneNumber", "employeeID", "description", "homeDirectory",
         "homeDrive", "profilePath")


def account_dict(entry: Entry) -> dict[str, Any]:
    """Return what people want to know about an account, with dates decoded."""
    from itref.ad.client import parent_dn
    from itref.ad.values import UAC_ACCOUNTDISABLE, UAC_DONT_EXPIRE_PASSWORD

    uac = entry.int("userAccountControl") or 0
    data: dict[str, Any] = {"dn": entry.dn, "ou": parent_dn(entry.dn)}
    data.update({k: entry.text(k) for k in SHOWN if entry.text(k) is not None})
    expires = entry.filetime("accountExpires")
    data.update({
        "enabled": not uac & UAC_ACCOUNTDISABLE, "password_never_expires": bool(uac & UAC_DONT_EXPIRE_PASSWORD),
        "locked": bool(entry.int("lockoutTime")), "groups": entry.texts("memberOf"),
        "password_last_set": _iso(entry.filetime("pwdLastSet")),
        "last_logon": _iso(entry.filetime("lastLogonTimestamp")),
        "created": _iso(entry.gentime("whenCreated")), "expires": _iso(expires)})
    return data


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def account_table(entries: list[Entry]) -> Table:
    """Return a table of accounts: login, name, OU, enabled, last logon."""
    table = Table()
    for title in (_("Login"), _("Name"), _("OU"), _("Enabled"), _("Last logon")):
        table.add_column(title, overflow="fold")
    for e in entries:
        d = account_dict(e)
        table.add_row(*(Text(str(x or "")) for x in (d.get("sAMAccountName"), d.get("displayName"), d["ou"],
                                                     _("yes") if d["enabled"] else _("no"), d["last_logon"])))
    return table


def account_detail(entry: Entry) -> Table:
    """Return a two-column table with every field of one account."""
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in account_dict(entry).items():
        shown = "\n".join(value) if isinstance(value, list) else ("" if value is None else str(value))
        table.add_row(Text(key), Text(shown))
    return table

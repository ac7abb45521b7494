"""``itref ad report``: the directory's hygiene as findings a non-specialist can act on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from itref.ad.client import DirectoryClient, Entry, escape_filter
from itref.ad.offboard import entity_of
from itref.ad.values import UAC_ACCOUNTDISABLE, UAC_DONT_EXPIRE_PASSWORD, UAC_PASSWD_NOTREQD
from itref.core.findings import Finding, Severity
from itref.i18n import _

if TYPE_CHECKING:
    from itref.config.project import Project

PRIVILEGED_GROUPS = ("Domain Admins", "Enterprise Admins", "Administrators", "Schema Admins")
IN_CHAIN = "1.2.840.113556.1.4.1941"
USER_FILTER = "(&(objectCategory=person)(objectClass=user))"
ATTRS = ["sAMAccountName", "userAccountControl", "lastLogonTimestamp", "whenCreated", "memberOf", "pwdLastSet",
         "msDS-User-Account-Control-Computed"]
UF_LOCKOUT = 0x10  # in msDS-User-Account-Control-Computed: locked out now (the DC applies the lockout duration)


@dataclass(frozen=True)
class Thresholds:
    """Limits of the directory checks (overridable by the caller)."""

    stale_days: int = 90
    new_account_grace_days: int = 14
    max_privileged: int = 3
    krbtgt_max_age_days: int = 180


def _enabled(user: Entry) -> bool:
    return not (user.int("userAccountControl") or 0) & UAC_ACCOUNTDISABLE


def directory_findings(client: DirectoryClient, project: Project, limits: Thresholds | None = None,
                       now: datetime | None = None) -> list[Finding]:
    """Return findings about stale, never-used, weakly protected, privileged and forgotten accounts.

    One finding per check and entity, listing the accounts concerned; an OK finding when a check
    finds nothing, so reports show what was verified.
    """
    limits = limits or Thresholds()
    now = now or datetime.now(UTC)
    users = client.search(USER_FILTER, ATTRS)
    by_entity: dict[str | None, list[Entry]] = defaultdict(list)
    for user in users:
        by_entity[entity_of(project, user.dn)].append(user)
    findings: list[Finding] = []
    checks: list[tuple[str, Severity, Callable[[Entry], bool], str, str, str]] = [
        ("ad.stale-accounts", Severity.WARNING,
         lambda u: _enabled(u) and (u.filetime("lastLogonTimestamp") or now) < now - timedelta(days=limits.stale_days),
         _("{n} active account(s) unused for more than {days} days: {names}"),
         _("An account nobody uses is a door nobody watches: if its password leaks, no one notices."),
         _("Ask the entity whether these people still work there; offboard the ones who left "
           "(itref ad user offboard LOGIN).")),
        ("ad.never-logged-on", Severity.INFO,
         lambda u: _enabled(u) and u.filetime("lastLogonTimestamp") is None
         and (u.gentime("whenCreated") or now) < now - timedelta(days=limits.new_account_grace_days),
         _("{n} active account(s) never used since their creation: {names}"),
         _("An account created but never used may have been made for nothing, or its first password is "
           "still the one handed out."),
         _("Check with the entity; disable accounts that are not needed (itref ad user disable LOGIN).")),
        ("ad.password-never-expires", Severity.WARNING,
         lambda u: _enabled(u) and bool((u.int("userAccountControl") or 0) & UAC_DONT_EXPIRE_PASSWORD),
         _("{n} active account(s) whose password never expires: {names}"),
         _("A password that never changes stays valid forever once it leaks."),
         _("Remove 'password never expires' for people; keep it only for service accounts that are "
           "documented, with long random passwords.")),
        ("ad.password-not-required", Severity.CRITICAL,
         lambda u: _enabled(u) and bool((u.int("userAccountControl") or 0) & UAC_PASSWD_NOTREQD),
         _("{n} active account(s) allowed to have an empty password: {names}"),
         _("Such an account can be opened with no password at all."),
         _("Clear the 'password not required' flag and set a password (itref ad user reset-password LOGIN).")),
        ("ad.locked-accounts", Severity.WARNING,
         lambda u: _enabled(u) and bool((u.int("msDS-User-Account-Control-Computed") or 0) & UF_LOCKOUT),
         _("{n} account(s) locked out after too many wrong passwords: {names}"),
         _("A locked-out person cannot work; many lockouts at once can mean someone is guessing passwords."),
         _("Call the person back on a known number, then unlock the account (itref ad user unlock LOGIN); if "
           "nobody was typing a wrong password, look for a device still using an old one.")),
        ("ad.disabled-in-groups", Severity.WARNING,
         lambda u: not _enabled(u) and bool(u.texts("memberOf")),
         _("{n} disabled account(s) still member of groups: {names}"),
         _("Re-enabling such an account by mistake would give back all its old access at once."),
         _("Offboard them properly (itref ad user offboard LOGIN), which removes their groups.")),
    ]
    for entity in sorted(by_entity, key=lambda e: e or ""):
        members = by_entity[entity]
        for check, severity, matches, text, why, fix in checks:
            hit = sorted(u.text("sAMAccountName") or u.dn for u in members
                         if u.text("sAMAccountName") != "krbtgt" and matches(u))
            if not hit:
                findings.append(Finding(check, Severity.OK, _("nothing to report"), entity=entity))
                continue
            names = ", ".join(hit[:20]) + (" …" if len(hit) > 20 else "")
            findings.append(Finding(check, severity, text.format(n=len(hit), names=names, days=limits.stale_days),
                                    why, fix, entity=entity, subject=",".join(hit), evidence={"accounts": hit}))
    findings += _privileged(client, limits)
    findings += _krbtgt(client, limits, now)
    return findings


def _privileged(client: DirectoryClient, limits: Thresholds) -> list[Finding]:
    members: dict[str, list[str]] = {}
    for name in PRIVILEGED_GROUPS:
        group = client.find_group(name)
        if group is None:
            continue
        found = client.search(f"(&{USER_FILTER}(memberOf:{IN_CHAIN}:={escape_filter(group.dn)}))", ["sAMAccountName"])
        members[name] = sorted(u.text("sAMAccountName") or u.dn for u in found)
    everyone = sorted({m for ms in members.values() for m in ms})
    severity = Severity.WARNING if len(everyone) > limits.max_privileged else Severity.INFO
    listing = "; ".join(f"{g}: {', '.join(ms) or '-'}" for g, ms in members.items())
    return [Finding("ad.privileged-members", severity,
                    _("{n} account(s) hold domain-wide admin rights ({listing})").format(n=len(everyone),
                                                                                         listing=listing),
                    _("Each admin account can change anything in the domain: the fewer, the safer."),
                    _("Keep one personal admin account per IT person plus the built-in Administrator, and "
                      "remove the others from these groups (itref ad group remove GROUP LOGIN)."),
                    subject=",".join(everyone), evidence={"groups": members, "limit": limits.max_privileged})]


def _krbtgt(client: DirectoryClient, limits: Thresholds, now: datetime) -> list[Finding]:
    entry = client.find_user("krbtgt", ["pwdLastSet"])
    if entry is None:
        return [Finding("ad.krbtgt-age", Severity.UNKNOWN, _("the krbtgt account could not be read"))]
    changed = entry.filetime("pwdLastSet")
    age = (now - changed).days if changed else None
    severity = Severity.WARNING if age is None or age > limits.krbtgt_max_age_days else Severity.OK
    return [Finding("ad.krbtgt-age", severity,
                    _("the krbtgt password is {days} days old (limit {limit})").format(
                        days=age if age is not None else "?", limit=limits.krbtgt_max_age_days),
                    _("krbtgt signs every Kerberos ticket; an old secret lets a past intruder forge tickets."),
                    _("Reset it twice, a day apart, with Microsoft's New-KrbtgtKeys.ps1 script."),
                    subject="krbtgt", evidence={"pwdLastSet": changed.isoformat() if changed else None})]

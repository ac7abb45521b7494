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
from itref.core.findings import Finding, Severity, Topic
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
    t = topics_by_id()
    checks: list[tuple[Topic, Severity, Callable[[Entry], bool], str]] = [
        (t["ad.stale-accounts"], Severity.WARNING,
         lambda u: _enabled(u) and (u.filetime("lastLogonTimestamp") or now) < now - timedelta(days=limits.stale_days),
         _("{n} active account(s) unused for more than {days} days: {names}")),
        (t["ad.never-logged-on"], Severity.INFO,
         lambda u: _enabled(u) and u.filetime("lastLogonTimestamp") is None
         and (u.gentime("whenCreated") or now) < now - timedelta(days=limits.new_account_grace_days),
         _("{n} active account(s) never used since their creation: {names}")),
        (t["ad.password-never-expires"], Severity.WARNING,
         lambda u: _enabled(u) and bool((u.int("userAccountControl") or 0) & UAC_DONT_EXPIRE_PASSWORD),
         _("{n} active account(s) whose password never expires: {names}")),
        (t["ad.password-not-required"], Severity.CRITICAL,
         lambda u: _enabled(u) and bool((u.int("userAccountControl") or 0) & UAC_PASSWD_NOTREQD),
         _("{n} active account(s) allowed to have an empty password: {names}")),
        (t["ad.locked-accounts"], Severity.WARNING,
         lambda u: _enabled(u) and bool((u.int("msDS-User-Account-Control-Computed") or 0) & UF_LOCKOUT),
         _("{n} account(s) locked out after too many wrong passwords: {names}")),
        (t["ad.disabled-in-groups"], Severity.WARNING,
         lambda u: not _enabled(u) and bool(u.texts("memberOf")),
         _("{n} disabled account(s) still member of groups: {names}")),
    ]
    for entity in sorted(by_entity, key=lambda e: e or ""):
        members = by_entity[entity]
        for topic, severity, matches, text in checks:
            hit = sorted(u.text("sAMAccountName") or u.dn for u in members
                         if u.text("sAMAccountName") != "krbtgt" and matches(u))
            if not hit:
                findings.append(Finding(topic.id, Severity.OK, _("nothing to report"), entity=entity))
                continue
            names = ", ".join(hit[:20]) + (" …" if len(hit) > 20 else "")
            findings.append(Finding(topic.id, severity, text.format(n=len(hit), names=names, days=limits.stale_days),
                                    topic.why, topic.fix, entity=entity, subject=",".join(hit),
                                    evidence={"accounts": hit}))
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
    topic = topics_by_id()["ad.privileged-members"]
    return [Finding(topic.id, severity,
                    _("{n} account(s) hold domain-wide admin rights ({listing})").format(n=len(everyone),
                                                                                         listing=listing),
                    topic.why, topic.fix,
                    subject=",".join(everyone), evidence={"groups": members, "limit": limits.max_privileged})]


def _krbtgt(client: DirectoryClient, limits: Thresholds, now: datetime) -> list[Finding]:
    topic = topics_by_id()["ad.krbtgt-age"]
    entry = client.find_user("krbtgt", ["pwdLastSet"])
    if entry is None:
        return [Finding(topic.id, Severity.UNKNOWN, _("the krbtgt account could not be read"))]
    changed = entry.filetime("pwdLastSet")
    age = (now - changed).days if changed else None
    severity = Severity.WARNING if age is None or age > limits.krbtgt_max_age_days else Severity.OK
    return [Finding(topic.id, severity,
                    _("the krbtgt password is {days} days old (limit {limit})").format(
                        days=age if age is not None else "?", limit=limits.krbtgt_max_age_days),
                    topic.why, topic.fix, subject="krbtgt",
                    evidence={"pwdLastSet": changed.isoformat() if changed else None})]


def topics() -> tuple[Topic, ...]:
    """Return the explanation of every id the directory's findings carry (``itref audit explain ad.…``)."""
    report = "itref ad report"
    return (
        Topic("ad.stale-accounts", _("Accounts nobody uses any more"),
              _("An account nobody uses is a door nobody watches: if its password leaks, no one notices."),
              _("Active accounts whose last logon (lastLogonTimestamp, replicated by every DC within about two "
                "weeks) is older than stale_days (90 days by default), counted per entity by the OU the account "
                "is in."),
              _("Ask the entity whether these people still work there; offboard the ones who left "
                "(itref ad user offboard LOGIN)."),
              (report, "itref ad user show LOGIN", "itref ad user offboard LOGIN --reason TEXT"), "directory"),
        Topic("ad.never-logged-on", _("Accounts never used"),
              _("An account created but never used may have been made for nothing, or its first password is "
                "still the one handed out."),
              _("Active accounts with no logon at all, created more than 14 days ago."),
              _("Check with the entity; disable accounts that are not needed (itref ad user disable LOGIN)."),
              (report, "itref ad user disable LOGIN"), "directory"),
        Topic("ad.password-never-expires", _("Passwords that never expire"),
              _("A password that never changes stays valid forever once it leaks."),
              _("Active accounts whose userAccountControl has the 'password never expires' flag."),
              _("Remove 'password never expires' for people; keep it only for service accounts that are "
                "documented, with long random passwords."),
              (report, "itref ad user set LOGIN --help"), "directory"),
        Topic("ad.password-not-required", _("Accounts allowed an empty password"),
              _("Such an account can be opened with no password at all."),
              _("Active accounts whose userAccountControl has the 'password not required' flag."),
              _("Clear the 'password not required' flag and set a password (itref ad user reset-password LOGIN)."),
              (report, "itref ad user reset-password LOGIN"), "directory"),
        Topic("ad.locked-accounts", _("Locked-out accounts"),
              _("A locked-out person cannot work; many lockouts at once can mean someone is guessing passwords."),
              _("Accounts the domain controller reports as locked out now (msDS-User-Account-Control-Computed), "
                "after too many wrong passwords."),
              _("Call the person back on a known number, then unlock the account (itref ad user unlock LOGIN); if "
                "nobody was typing a wrong password, look for a device still using an old one."),
              (report, "itref ad user unlock LOGIN"), "directory"),
        Topic("ad.disabled-in-groups", _("Disabled accounts still in groups"),
              _("Re-enabling such an account by mistake would give back all its old access at once."),
              _("Disabled accounts that are still members of at least one group (memberOf)."),
              _("Offboard them properly (itref ad user offboard LOGIN), which removes their groups."),
              (report, "itref ad user offboard LOGIN --reason TEXT"), "directory"),
        Topic("ad.privileged-members", _("Domain-wide administrators"),
              _("Each admin account can change anything in the domain: the fewer, the safer."),
              _("Accounts that are members, directly or through nested groups, of Domain Admins, Enterprise Admins, "
                "Administrators or Schema Admins; a warning above max_privileged (3 by default) for the whole "
                "domain."),
              _("Keep one personal admin account per IT person plus the built-in Administrator, and "
                "remove the others from these groups (itref ad group remove GROUP LOGIN)."),
              (report, "itref ad group remove GROUP LOGIN"), "directory"),
        Topic("ad.krbtgt-age", _("Age of the krbtgt password"),
              _("krbtgt signs every Kerberos ticket; an old secret lets a past intruder forge tickets."),
              _("The date the krbtgt account's password was last set (pwdLastSet), against krbtgt_max_age_days "
                "(180 days by default)."),
              _("Reset it twice, a day apart, with Microsoft's New-KrbtgtKeys.ps1 script."),
              (report,), "directory"),
    )


def topics_by_id() -> dict[str, Topic]:
    """Return :func:`topics` by id."""
    return {t.id: t for t in topics()}

"""The fictional commune the lab plays: its entities, directory (OUs, groups, people), hosts and backups.

Everything here is data plus :func:`seed_directory`, which writes the people into the lab's Samba DC.  Some of
it is wrong on purpose, so that a first audit of the lab finds something to practise on: stale accounts,
passwords that never expire, one admin account too many, a nearly full disk, a failed service, a stale backup.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from itref.lab.peers.samba import BASE_DN, DNS_DOMAIN, GLOBAL_SECURITY_GROUP

ENTITIES: dict[str, dict[str, Any]] = {
    "shared": {"title": "Service informatique commun (lab)"},
    "commune": {"title": "Administration communale de Lab-sur-Meuse", "ou": f"OU=Commune,{BASE_DN}"},
    "cpas": {"title": "CPAS de Lab-sur-Meuse", "ou": f"OU=CPAS,{BASE_DN}"},
    "asbl-sports": {"title": "ASBL Les Sports de Lab", "ou": f"OU=ASBL-Sports,{BASE_DN}"},
    "asbl-culture": {"title": "ASBL Centre culturel de Lab", "ou": f"OU=ASBL-Culture,{BASE_DN}"},
}
DEPARTED_OU = f"OU=Departed,{BASE_DN}"

# OUs and groups the lab adds to those of the test template (Commune, CPAS, Social,CPAS, ASBL-Sports, Departed;
# GG-Commune, GG-CPAS-Social, GG-Tous).
EXTRA_OUS = ("OU=Administration,OU=CPAS", "OU=ASBL-Culture", "OU=Admins")
EXTRA_GROUPS = {"GG-CPAS-Administration": "OU=Administration,OU=CPAS", "GG-ASBL-Sports": "OU=ASBL-Sports",
                "GG-ASBL-Culture": "OU=ASBL-Culture", "GG-Finances": "OU=Commune"}


@dataclass(frozen=True)
class Person:
    """One account of the lab's directory."""

    login: str
    first: str
    last: str
    ou: str  # relative to BASE_DN
    groups: tuple[str, ...]
    department: str = ""
    last_logon_days: int | None = 3  # None: never logged on
    never_expires: bool = False
    admin: bool = False


def _p(login: str, first: str, last: str, ou: str, groups: tuple[str, ...], department: str = "",
       **kw: Any) -> Person:
    return Person(login, first, last, ou, groups, department, **kw)


COMMUNE, SOCIAL, CPAS_ADM = "OU=Commune", "OU=Social,OU=CPAS", "OU=Administration,OU=CPAS"
SPORTS, CULTURE, ADMINS = "OU=ASBL-Sports", "OU=ASBL-Culture", "OU=Admins"
PEOPLE: tuple[Person, ...] = (
    _p("marie.dubois", "Marie", "Dubois", COMMUNE, ("GG-Commune", "GG-Tous"), "Population"),
    _p("luc.lambert", "Luc", "Lambert", COMMUNE, ("GG-Commune", "GG-Tous"), "Travaux"),
    _p("sophie.renard", "Sophie", "Renard", COMMUNE, ("GG-Commune", "GG-Finances", "GG-Tous"), "Finances"),
    _p("jean.martin", "Jean", "Martin", COMMUNE, ("GG-Commune", "GG-Tous"), "Urbanisme", last_logon_days=240),
    _p("anne.gilson", "Anne", "Gilson", COMMUNE, ("GG-Commune", "GG-Tous"), "Secrétariat"),
    _p("pierre.collard", "Pierre", "Collard", COMMUNE, ("GG-Commune", "GG-Tous"), "Travaux", last_logon_days=410),
    _p("nathalie.piron", "Nathalie", "Piron", COMMUNE, ("GG-Commune", "GG-Finances", "GG-Tous"), "Finances",
       never_expires=True),
    _p("thomas.leroy", "Thomas", "Leroy", COMMUNE, ("GG-Commune", "GG-Tous"), "Population"),
    _p("emilie.lefevre", "Émilie", "Lefèvre", COMMUNE, ("GG-Commune", "GG-Tous"), "Enseignement"),
    _p("francois.noel", "François", "Noël", COMMUNE, ("GG-Commune", "GG-Tous"), "Accueil"),
    _p("cgoffin", "Claire", "Goffin", SOCIAL, ("GG-CPAS-Social", "GG-Tous"), "Service social"),
    _p("mhenrard", "Marc", "Henrard", SOCIAL, ("GG-CPAS-Social", "GG-Tous"), "Service social"),
    _p("ijacobs", "Isabelle", "Jacobs", SOCIAL, ("GG-CPAS-Social", "GG-Tous"), "Service social",
       last_logon_days=200),
    _p("dwauters", "David", "Wauters", SOCIAL, ("GG-CPAS-Social", "GG-Tous"), "Service social"),
    _p("lmaes", "Laura", "Maes", SOCIAL, ("GG-CPAS-Social", "GG-Tous"), "Insertion"),
    _p("vdelvaux", "Véronique", "Delvaux", CPAS_ADM, ("GG-CPAS-Administration", "GG-Tous"), "Secrétariat"),
    _p("gthiry", "Georges", "Thiry", CPAS_ADM, ("GG-CPAS-Administration", "GG-Tous"), "Comptabilité",
       never_expires=True),
    _p("smarechal", "Sarah", "Maréchal", CPAS_ADM, ("GG-CPAS-Administration", "GG-Tous"), "Ressources humaines"),
    _p("kdeprez", "Kevin", "Deprez", SOCIAL, ("GG-CPAS-Social", "GG-Tous"), "Service social", last_logon_days=None),
    _p("sports.accueil", "Accueil", "Sports", SPORTS, ("GG-ASBL-Sports",), "Accueil", never_expires=True),
    _p("julie.hansen", "Julie", "Hansen", SPORTS, ("GG-ASBL-Sports",), "Animation"),
    _p("olivier.simon", "Olivier", "Simon", SPORTS, ("GG-ASBL-Sports",), "Direction", last_logon_days=365),
    _p("culture.billetterie", "Billetterie", "Culture", CULTURE, ("GG-ASBL-Culture",), "Billetterie"),
    _p("lea.dumont", "Léa", "Dumont", CULTURE, ("GG-ASBL-Culture",), "Programmation"),
    _p("hugo.bertrand", "Hugo", "Bertrand", CULTURE, ("GG-ASBL-Culture",), "Technique"),
    _p("adm.referent", "Référent", "Informatique", ADMINS, ("Domain Admins",), "Informatique", admin=True),
    _p("adm.prestataire", "Prestataire", "Externe", ADMINS, ("Domain Admins",), "Informatique", admin=True,
       never_expires=True),
    _p("adm.ancien", "Ancien", "Référent", ADMINS, ("Domain Admins", "Enterprise Admins"), "Informatique",
       admin=True, last_logon_days=520),
)
LOCKABLE = "luc.lambert"  # the account the `account-locked` scenario locks
LOCKOUT_THRESHOLD = 5


@dataclass(frozen=True)
class LabHost:
    """One Linux host of the lab: an sshd with its own hostname and its own small data disk at /srv/data."""

    name: str
    entity: str
    tags: tuple[str, ...]
    description: str
    disk_used_percent: int = 30  # how full /srv/data is when the lab starts
    failed_units: tuple[str, ...] = ()
    folders: tuple[str, ...] = field(default=("data",))


BASE_HOSTS: tuple[LabHost, ...] = (
    LabHost("nas01", "shared", ("linux", "nas"), "NAS partagé (dépôts de sauvegarde)", 35, (), ("partages",)),
    LabHost("srv-app", "cpas", ("linux", "server"), "Serveur d'application du CPAS (base sociale)", 45, (),
            ("dumps", "exports")),
    LabHost("srv-web", "commune", ("linux", "server"), "Intranet de la commune", 86, (), ("www", "logs")),
    LabHost("pc-accueil", "commune", ("linux", "workstation"), "Poste de l'accueil", 40, ("cups.service",),
            ("documents",)),
)
WINDOWS_HOST = "srv-fichiers"  # a French-language Windows file server reached over WinRM (HTTPS)
DISK_MB = 24  # each lab host's /srv/data


def lab_hosts(count: int) -> list[LabHost]:
    """Return ``count`` Linux hosts: the four with a role, then lent ASBL workstations. Raises ValueError."""
    if not 1 <= count <= 40:
        raise ValueError("--hosts takes 1 to 40")
    hosts = list(BASE_HOSTS[:count])
    for i in range(len(hosts), count):
        entity = "asbl-sports" if i % 2 == 0 else "asbl-culture"
        hosts.append(LabHost(f"pc-asbl-{i - len(BASE_HOSTS) + 1:02d}", entity, ("linux", "workstation"),
                             "Poste prêté à une ASBL", 25, (), ("documents",)))
    return hosts


@dataclass(frozen=True)
class LabRepo:
    """A backup repository on the NAS: its tool, the data it saves, and how old its snapshots are."""

    name: str
    kind: str  # restic | borg
    entity: str
    ages_hours: tuple[float, ...]  # one snapshot per age, oldest first


REPOS: tuple[LabRepo, ...] = (
    LabRepo("cpas-restic", "restic", "cpas", (74.0, 6.0)),  # a three-day-old and a fresh snapshot
    LabRepo("commune-borg", "borg", "commune", (30.0, 5.0)),
    LabRepo("asbl-restic", "restic", "asbl-sports", (125.0,)),  # stale: the ASBL's job stopped five days ago
)


def generate_password(length: int = 20) -> str:
    """Return a random password meeting AD complexity (upper, lower, digit, symbol)."""
    alphabet = string.ascii_letters + string.digits + "-_.+!"
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw)
                and any(c in "-_.+!" for c in pw)):
            return pw


def _filetime(when: datetime) -> str:
    return str(int((when - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000))


def seed_directory(conn: Any, now: datetime | None = None) -> int:
    """Add the lab's OUs, groups and people over ``conn`` (an admin ldap3 Connection); return the accounts added.

    Also turns account lockout on (5 wrong passwords), as in most communes.  Raises RuntimeError on the first
    refused write (the lab is then incomplete and ``itref lab up`` says so).
    """
    from ldap3 import MODIFY_ADD, MODIFY_REPLACE

    now = now or datetime.now(UTC)

    def ok(done: bool, what: str) -> None:
        if not done and conn.result.get("description") != "entryAlreadyExists":
            raise RuntimeError(f"{what}: {conn.result.get('message') or conn.result.get('description')}")

    for ou in EXTRA_OUS:
        ok(conn.add(f"{ou},{BASE_DN}", "organizationalUnit", {"description": "itref lab"}), ou)
    for name, parent in EXTRA_GROUPS.items():
        ok(conn.add(f"CN={name},{parent},{BASE_DN}", "group",
                    {"sAMAccountName": name, "groupType": GLOBAL_SECURITY_GROUP}), name)
    ok(conn.modify(BASE_DN, {"lockoutThreshold": [(MODIFY_REPLACE, [str(LOCKOUT_THRESHOLD)])],
                             "lockoutDuration": [(MODIFY_REPLACE, [-18000000000])],  # 30 minutes
                             "lockOutObservationWindow": [(MODIFY_REPLACE, [-18000000000])]}), "lockout policy")
    groups: dict[str, str] = {}
    conn.search(BASE_DN, "(objectClass=group)", attributes=["sAMAccountName"])
    for entry in conn.entries:
        groups[str(entry.sAMAccountName)] = entry.entry_dn
    added = 0
    for person in PEOPLE:
        dn = f"CN={person.first} {person.last},{person.ou},{BASE_DN}"
        uac = 0x200 | (0x10000 if person.never_expires else 0)
        attrs: dict[str, Any] = {
            "sAMAccountName": person.login, "givenName": person.first, "sn": person.last,
            "displayName": f"{person.first} {person.last}", "userPrincipalName": f"{person.login}@{DNS_DOMAIN}",
            "unicodePwd": f'"{generate_password()}"'.encode("utf-16-le"), "userAccountControl": str(uac)}
        if person.department:
            attrs["department"] = person.department
        if not conn.add(dn, ["top", "person", "organizationalPerson", "user"], attrs):
            ok(False, person.login)
            continue
        added += 1
        if person.last_logon_days is not None:
            ok(conn.modify(dn, {"lastLogonTimestamp": [
                (MODIFY_REPLACE, [_filetime(now - timedelta(days=person.last_logon_days))])]}), person.login)
        for group in person.groups:
            ok(conn.modify(groups[group], {"member": [(MODIFY_ADD, [dn])]}), f"{person.login} → {group}")
    return added

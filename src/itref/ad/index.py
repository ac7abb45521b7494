"""What a bulk import needs to know about the directory, read once with one paged search.

An import of N rows would otherwise ask the DC, per row, whether the person already has an account
(employee id, or names in the template's OU), whether each candidate login or UPN is taken, whether the
OU and the future DN exist and where the groups are. :class:`DirectoryIndex` reads every security
principal (users, groups, computers: everything with a sAMAccountName), every object with a UPN or an
employee id, and the templates' OUs, once; it answers those questions from memory and learns each
account the import creates. What it cannot see (an object created by someone else meanwhile, a contact
with the same name) makes the DC refuse the creation, and the importer then asks the DC directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from itref.ad.client import DirectoryClient, Entry, PasswordPolicy, escape_filter, split_dn
from itref.ad.errors import DirectoryError
from itref.i18n import _

INDEX_ATTRIBUTES = ("sAMAccountName", "userPrincipalName", "employeeID", "givenName", "sn", "cn", "objectClass",
                    "userAccountControl", "pwdLastSet", "memberOf", "msDS-KeyVersionNumber")


def norm_dn(dn: str) -> str:
    """Return ``dn`` in a form to compare DNs with: lowercase, no spaces around the RDN separators."""
    return ",".join(part.lower() for part in split_dn(dn))


def under(dn: str, container: str) -> bool:
    """Return True when ``dn`` is inside ``container`` (at any depth), DNs compared case-insensitively."""
    return norm_dn(dn).endswith("," + norm_dn(container))


@dataclass
class DirectoryIndex:
    """The directory objects an import asks about, by login, UPN, employee id, names, DN and group name.

    It is a :class:`~itref.ad.accounts.DirectoryView` (login taken, object exists, group DNs, policy).
    """

    policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    logins: dict[str, Entry] = field(default_factory=dict)
    upns: set[str] = field(default_factory=set)
    employees: dict[str, list[Entry]] = field(default_factory=dict)
    names: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
    dns: set[str] = field(default_factory=set)
    groups: dict[str, Entry] = field(default_factory=dict)

    @classmethod
    def load(cls, client: DirectoryClient, containers: Iterable[str] = ()) -> DirectoryIndex:
        """Read the index with one paged search of the whole domain (``containers``: OUs to know about)."""
        terms = ["(sAMAccountName=*)", "(userPrincipalName=*)", "(employeeID=*)"]
        terms += [f"(distinguishedName={escape_filter(dn)})" for dn in dict.fromkeys(containers)]
        index = cls(policy=client.password_policy())
        for entry in client.search(f"(|{''.join(terms)})", INDEX_ATTRIBUTES):
            index.add(entry)
        return index

    def add(self, entry: Entry) -> None:
        """Learn ``entry`` (read from the DC, or just created by the import)."""
        self.dns.add(norm_dn(entry.dn))
        classes = {c.lower() for c in entry.texts("objectClass")}
        login = entry.text("sAMAccountName")
        if login:
            self.logins[login.lower()] = entry
        upn = entry.text("userPrincipalName")
        if upn:
            self.upns.add(upn.lower())
        if "group" in classes:
            for name in (login, entry.text("cn")):
                if name:
                    self.groups.setdefault(name.lower(), entry)
        if "user" in classes:
            employee = entry.text("employeeID")
            if employee:
                self.employees.setdefault(employee.lower(), []).append(entry)
            first, last = entry.text("givenName"), entry.text("sn")
            if first and last:
                self.names.setdefault((first.lower(), last.lower()), []).append(entry)

    def replace(self, old: Entry, new: Entry) -> None:
        """Forget ``old`` wherever it is listed and learn ``new`` (the same account, read again)."""
        for table in (self.employees, self.names):
            for key, entries in list(table.items()):
                kept = [e for e in entries if e is not old]
                if len(kept) != len(entries):
                    table[key] = kept
        self.add(new)

    # ------------------------------------------------------------ DirectoryView

    def taken(self, login: str, upn: str | None) -> bool:
        """Return True when ``login`` is a sAMAccountName or ``upn`` a userPrincipalName already in use."""
        return login.lower() in self.logins or (upn is not None and upn.lower() in self.upns)

    def exists(self, dn: str) -> bool:
        """Return True when ``dn`` is a known principal or container (other objects are not indexed)."""
        return norm_dn(dn) in self.dns

    def group_dns(self, names: list[str]) -> dict[str, str]:
        """Return name → DN for each group. Raises DirectoryError listing every missing group."""
        missing = [n for n in names if n.lower() not in self.groups]
        if missing:
            raise DirectoryError(_("these groups do not exist in the directory: {groups}").format(
                groups=", ".join(missing)))
        return {n: self.groups[n.lower()].dn for n in names}

    def password_policy(self) -> PasswordPolicy:
        """Return the domain's password policy (read with the index)."""
        return self.policy

    # ------------------------------------------------------------ people

    def by_employee_id(self, employee_id: str) -> Entry | None:
        """Return the user whose employeeID is ``employee_id`` (case-insensitive), or None."""
        found = self.employees.get(employee_id.lower())
        return found[0] if found else None

    def by_names(self, first: str, last: str, container: str) -> Entry | None:
        """Return the user with this given name and surname inside ``container``, or None."""
        return next((e for e in self.names.get((first.lower(), last.lower()), []) if under(e.dn, container)), None)

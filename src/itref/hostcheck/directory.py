"""The directory: LDAPS reachable, its certificate valid (CA and name), the service account's bind, and that
account's EFFECTIVE rights for what the playbooks will ask, read without changing anything.

Rights come from the two constructed attributes Active Directory (and Samba) compute for the account that
asks: ``allowedChildClassesEffective`` on an OU (``user`` there: it may create accounts in it, or move accounts
into it) and ``allowedAttributesEffective`` on an object (``unicodePwd``: it may set passwords, so reset them;
``userAccountControl``: enable, disable, unlock; ``member`` on a group: add and remove members). Passwords and
account states are read on one existing account of the OU; an OU with no account yet cannot tell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from itref.core.errors import AuthenticationFailed, ItrefError, SecretError
from itref.core.findings import Finding, Severity
from itref.hostcheck.model import DIRECTORY, problem
from itref.hostcheck.network import certificate, reach
from itref.i18n import _

if TYPE_CHECKING:
    from itref.ad.client import DirectoryClient
    from itref.config.project import Project
    from itref.secrets import SecretResolver

CHILDREN = "allowedChildClassesEffective"
ATTRIBUTES = "allowedAttributesEffective"
USERS = "(&(objectCategory=person)(objectClass=user))"


def _finding(check: str, severity: Severity, message: str, fix: str, *, entity: str | None = None,
             subject: str | None = None) -> Finding:
    return problem(check, severity, message, fix, entity=entity, subject=subject or DIRECTORY)


def check_directory(project: Project, secrets: SecretResolver) -> list[Finding] | None:
    """Return the directory's problems (empty when all is well), or None when the inventory has no directory."""
    settings = project.inventory.directory
    if settings is None:
        return None
    parsed = urlparse(settings.url)
    host = parsed.hostname or ""
    secure = parsed.scheme == "ldaps"
    port = parsed.port or (636 if secure else 389)
    where = f"{host}:{port}"
    found = reach(host, port, settings.timeout)
    if found.problem == "dns":
        return [_finding("directory.dns", Severity.CRITICAL, _(
            "directory: the name {host} of the DC cannot be resolved (DNS: {detail})").format(
            host=host, detail=found.detail), _("Correct directory.url in the inventory, or fix the DNS of this "
                                               "machine (it must use the domain's DNS servers)."))]
    if found.problem is not None:
        return [_finding("directory.ldaps", Severity.CRITICAL, _(
            "directory: nothing answers on {where} ({detail})").format(where=where, detail=found.detail), _(
            "Check that the DC is on and that TCP {port} is open between here and the DC; LDAPS needs a certificate "
            "on the DC (AD Certificate Services gives one automatically).").format(port=port))]
    if secure:
        name = settings.tls_name or host
        cert = certificate(host, port, name, settings.ca_file, settings.timeout, strict=False)  # as the AD client
        if not cert.valid:
            if cert.names and name not in cert.names:
                fix = _("Set directory.tls_name to the name in the certificate ({names}), or use that name in "
                        "directory.url.").format(names=", ".join(cert.names))
            else:
                fix = _("Set directory.ca_file to the certificate of the CA that signed the DC's certificate (now: "
                        "{ca}).").format(ca=settings.ca_file or _("the system CAs"))
            return [_finding("directory.tls", Severity.CRITICAL, _(
                "directory: the certificate of {where} is not valid for {name} ({reason})").format(
                where=where, name=name, reason=cert.reason), fix)]
    from itref.ad.client import DirectoryClient

    client = DirectoryClient(settings, secrets, read_only=True)
    try:
        client.open()
    except AuthenticationFailed as exc:
        return [_finding("directory.bind", Severity.CRITICAL, _("directory: {error}").format(error=exc.message), _(
            "Check directory.bind_user and the password its secret holds; the account must be enabled and its "
            "password not expired."))]
    except SecretError as exc:
        return [_finding("directory.secret", Severity.CRITICAL, _("directory: {error}").format(error=exc.message), _(
            "Make the bind password available where the inventory says it is."))]
    except ItrefError as exc:
        return [_finding("directory.ldaps", Severity.CRITICAL, _("directory: {error}").format(error=exc.message), _(
            "Check directory.url, directory.ca_file and directory.tls_name in the inventory."))]
    try:
        return _rights(project, client)
    except ItrefError as exc:
        return [_finding("directory.rights", Severity.UNKNOWN, _(
            "directory: the rights of {user} could not be read: {error}").format(
            user=settings.bind_user, error=exc.message), _("Run again; if it persists, check the DC's logs."))]
    finally:
        client.close()


def _lower(values: list[str]) -> set[str]:
    return {v.lower() for v in values}


def _effective(client: DirectoryClient, dn: str) -> tuple[set[str], set[str]] | None:
    """Return (child classes, attributes) the bound account may create under / write on ``dn``; None if missing."""
    entry = client.get(dn, [CHILDREN, ATTRIBUTES])
    if entry is None:
        return None
    return _lower(entry.texts(CHILDREN)), _lower(entry.texts(ATTRIBUTES))


def _sample_account(client: DirectoryClient, ou: str) -> tuple[str, set[str]] | None:
    """Return (DN, writable attributes) of one account under ``ou``, or None when it holds none."""
    from ldap3 import SUBTREE

    conn: Any = client.connection
    conn.search(ou, USERS, search_scope=SUBTREE, attributes=[ATTRIBUTES], size_limit=1)
    for item in conn.response or []:
        if item.get("type") == "searchResEntry":
            raw = item.get("raw_attributes", {})
            values = next((v for k, v in raw.items() if k.lower() == ATTRIBUTES.lower()), [])
            return item["dn"], {bytes(v).decode("utf-8", "replace").lower() for v in values}
    return None


def _rights(project: Project, client: DirectoryClient) -> list[Finding]:
    """Return a finding for every right the playbooks need and the bind account lacks."""
    user = client.settings.bind_user
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()

    def once(kind: str, dn: str) -> bool:
        if (kind, dn.lower()) in seen:
            return False
        seen.add((kind, dn.lower()))
        return True

    def delegate(task: str, where: str) -> str:
        return _("In 'Active Directory Users and Computers', right-click {where} > Delegate Control > add {user} > "
                 "'{task}'.").format(where=where, user=user, task=task)

    for entity, book in project.playbooks.items():
        for tname, template in book.accounts.templates.items():
            label = f"{entity}/{tname}"
            ou = template.ou
            if once("create", ou):
                rights = _effective(client, ou)
                if rights is None:
                    out.append(_finding("directory.rights", Severity.CRITICAL, _(
                        "directory: the OU {ou} of template {template} does not exist").format(ou=ou, template=label),
                        _("Create that OU, or correct 'ou:' of the template in playbooks/{entity}.yaml.").format(
                            entity=entity), entity=entity, subject=ou))
                    continue
                if "user" not in rights[0]:
                    out.append(_finding("directory.rights", Severity.CRITICAL, _(
                        "directory: {user} may not create accounts in {ou} (template {template})").format(
                        user=user, ou=ou, template=label),
                        delegate(_("Create, delete, and manage user accounts"), ou), entity=entity, subject=ou))
                sample = _sample_account(client, ou)
                if sample is None:
                    out.append(_finding("directory.rights", Severity.INFO, _(
                        "directory: whether {user} may reset passwords and enable or disable accounts in {ou} can "
                        "only be read once it holds an account").format(user=user, ou=ou),
                        _("Run 'itref hosts check' again after the first account is created there."),
                        entity=entity, subject=ou))
                else:
                    dn, writable = sample
                    if "unicodepwd" not in writable:
                        out.append(_finding("directory.rights", Severity.CRITICAL, _(
                            "directory: {user} may not reset passwords in {ou} (read on {dn})").format(
                            user=user, ou=ou, dn=dn),
                            delegate(_("Reset user passwords and force password change at next logon"), ou),
                            entity=entity, subject=ou))
                    if "useraccountcontrol" not in writable:
                        out.append(_finding("directory.rights", Severity.CRITICAL, _(
                            "directory: {user} may not enable, disable or unlock accounts in {ou} "
                            "(userAccountControl, read on {dn})").format(user=user, ou=ou, dn=dn),
                            delegate(_("Create a custom task > User objects > Write userAccountControl"), ou),
                            entity=entity, subject=ou))
            for group in template.groups:
                found = client.find_group(group, fresh=False)
                if found is None:
                    if once("group", group):
                        out.append(_finding("directory.rights", Severity.CRITICAL, _(
                            "directory: the group {group} of template {template} does not exist").format(
                            group=group, template=label), _("Create the group, or correct 'groups:' of the template "
                                                            "in playbooks/{entity}.yaml.").format(entity=entity),
                            entity=entity, subject=group))
                    continue
                if not once("member", found.dn):
                    continue
                rights = _effective(client, found.dn)
                if rights is not None and "member" not in rights[1]:
                    out.append(_finding("directory.rights", Severity.CRITICAL, _(
                        "directory: {user} may not change the members of {group} (template {template})").format(
                        user=user, group=group, template=label),
                        _("Open the group's Properties > Security, add {user} and allow 'Write Members' (or "
                          "Delegate Control on its OU > 'Modify the membership of a group').").format(user=user),
                        entity=entity, subject=found.dn))
    for entity, spec in project.inventory.entities.items():
        departed = spec.departed_ou
        if not departed or not once("departed", departed):
            continue
        rights = _effective(client, departed)
        if rights is None:
            out.append(_finding("directory.rights", Severity.CRITICAL, _(
                "directory: the departed OU {ou} of {entity} does not exist").format(ou=departed, entity=entity),
                _("Create that OU, or correct departed_ou of {entity} in the inventory.").format(entity=entity),
                entity=entity, subject=departed))
        elif "user" not in rights[0]:
            out.append(_finding("directory.rights", Severity.CRITICAL, _(
                "directory: {user} may not move accounts into the departed OU {ou} (offboarding)").format(
                user=user, ou=departed), delegate(_("Create, delete, and manage user accounts"), departed),
                entity=entity, subject=departed))
    return out

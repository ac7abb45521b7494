"""The connection to Active Directory (ldap3): LDAPS or StartTLS, certificate checked, errors in words.

Every value placed in a search filter is escaped (RFC 4515) and every value placed in a DN is
escaped (RFC 4514) here, so callers pass plain strings. A dry run opens the connection read-only:
any write would raise before reaching the DC.
"""

from __future__ import annotations

import functools
import re
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from itref.ad.errors import DirectoryError, describe_result
from itref.ad.values import from_filetime, from_generalized_time
from itref.core.errors import AuthenticationFailed, ConnectionFailed, UsageError
from itref.i18n import _

if TYPE_CHECKING:
    from itref.config.schema import Directory
    from itref.secrets import Secret, SecretResolver


T = TypeVar("T")


def _guard(method: Callable[..., T]) -> Callable[..., T]:
    """Turn ldap3 network errors raised inside ``method`` into ConnectionFailed."""

    @functools.wraps(method)
    def wrapper(self: DirectoryClient, *args: Any, **kwargs: Any) -> T:
        from ldap3.core.exceptions import LDAPConnectionIsReadOnlyError, LDAPException, LDAPOperationResult

        try:
            return method(self, *args, **kwargs)
        except LDAPConnectionIsReadOnlyError:
            raise DirectoryError(_("refused: this connection is read-only (dry run)")) from None
        except LDAPOperationResult as exc:
            raise describe_result({"result": exc.result, "description": exc.description,
                                   "message": exc.message}, method.__name__) from None
        except LDAPException as exc:
            raise ConnectionFailed(_("{where}: the connection to the DC was lost ({reason})").format(
                where=f"{self.host}:{self.port}", reason=_short(str(exc)) or type(exc).__name__)) from None

    return wrapper


def escape_filter(value: str) -> str:
    """Return ``value`` escaped for use inside an LDAP filter (``*()\\`` and NUL become ``\\xx``)."""
    from ldap3.utils.conv import escape_filter_chars

    return str(escape_filter_chars(value))


def escape_rdn(value: str) -> str:
    """Return ``value`` escaped for use as an RDN value in a DN (``,+="<>#;\\`` and edge spaces)."""
    from ldap3.utils.dn import escape_rdn as _escape

    return str(_escape(value))


@dataclass(frozen=True)
class Entry:
    """One directory object: its DN and its raw attribute values (bytes), with typed readers."""

    dn: str
    raw: dict[str, list[bytes]]

    def _values(self, name: str) -> list[bytes]:
        for key, values in self.raw.items():
            if key.lower() == name.lower():
                return values
        return []

    def texts(self, name: str) -> list[str]:
        """Return every value of ``name`` as text."""
        return [v.decode("utf-8", errors="replace") for v in self._values(name)]

    def text(self, name: str) -> str | None:
        """Return the first value of ``name`` as text, or None."""
        values = self.texts(name)
        return values[0] if values else None

    def int(self, name: str) -> int | None:
        """Return the first value of ``name`` as an integer, or None."""
        value = self.text(name)
        return int(value) if value not in (None, "") else None

    def filetime(self, name: str) -> datetime | None:
        """Return a FILETIME attribute (pwdLastSet, lastLogonTimestamp...) as a datetime, or None."""
        value = self.text(name)
        return from_filetime(value) if value else None

    def gentime(self, name: str) -> datetime | None:
        """Return a GeneralizedTime attribute (whenCreated...) as a datetime, or None."""
        value = self.text(name)
        return from_generalized_time(value) if value else None

    def binary(self, name: str) -> bytes | None:
        """Return the first value of ``name`` as bytes, or None."""
        values = self._values(name)
        return values[0] if values else None


@dataclass(frozen=True)
class PasswordPolicy:
    """The domain's password policy, as read from the domain object."""

    min_length: int = 7
    complexity: bool = True
    history: int = 24
    lockout_threshold: int = 0


class DirectoryClient:
    """An open, bound connection to the directory named in the inventory."""

    def __init__(self, settings: Directory, secrets: SecretResolver, *, read_only: bool = False) -> None:
        self.settings = settings
        self.secrets = secrets
        self.read_only = read_only
        self._conn: Any = None
        self._policy: PasswordPolicy | None = None
        self._groups: dict[str, Entry | None] = {}
        parsed = urlparse(settings.url)
        self.secure = parsed.scheme == "ldaps"
        self.host = parsed.hostname or ""
        self.port = parsed.port or (636 if self.secure else 389)
        if not self.secure and not settings.start_tls:
            raise UsageError(_("the directory URL {url} is not encrypted: passwords would cross the network in "
                               "clear. Use ldaps:// or set start_tls: true").format(url=settings.url))

    @property
    def base_dn(self) -> str:
        """Return the domain's root DN."""
        return self.settings.base_dn

    @property
    def connection(self) -> Any:
        """Return the bound ldap3 Connection. Raises ConnectionFailed if not open."""
        if self._conn is None:
            raise ConnectionFailed(_("the directory connection is not open"))
        return self._conn

    def open(self) -> DirectoryClient:
        """Connect with TLS and bind as the service account; return self.

        Raises ConnectionFailed (DC unreachable, TLS failure), AuthenticationFailed (bad credentials)
        or SecretError (bind password reference).
        """
        from ldap3 import NONE, SIMPLE, Connection, Server, Tls
        from ldap3.core.exceptions import LDAPException

        password = self.secrets.resolve(self.settings.bind_password, _("AD bind password")).reveal()
        names = [self.settings.tls_name] if self.settings.tls_name else None
        # version=PROTOCOL_TLS_CLIENT makes ldap3 build a plain SSLContext (CA, validity and name are checked),
        # not ssl.create_default_context(): since Python 3.13 that one adds VERIFY_X509_STRICT, which refuses
        # Samba's autogenerated DC certificate (it has no Authority Key Identifier). Keep it (docs/active-directory.md).
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.settings.ca_file, valid_names=names,
                  version=ssl.PROTOCOL_TLS_CLIENT)
        server = Server(self.host, port=self.port, use_ssl=self.secure, tls=tls, get_info=NONE,
                        connect_timeout=self.settings.timeout)
        conn = Connection(server, user=self.settings.bind_user, password=password, authentication=SIMPLE,
                          read_only=self.read_only, receive_timeout=self.settings.timeout, raise_exceptions=False,
                          auto_referrals=False)
        try:
            conn.open()
            if not self.secure and not conn.start_tls():
                raise ConnectionFailed(_("{url}: StartTLS was refused by the DC").format(url=self.settings.url))
            bound = conn.bind()
        except LDAPException as exc:
            conn.unbind()
            raise self._connection_error(exc) from None
        if not bound:
            result = dict(conn.result)
            conn.unbind()
            raise self._bind_error(result)
        self._conn = conn
        return self

    def _connection_error(self, exc: Exception) -> ConnectionFailed:
        text = str(exc)
        where = f"{self.host}:{self.port}"
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return ConnectionFailed(_("{where}: the DC's certificate could not be verified with {ca} ({reason}); "
                                      "set directory.ca_file to the CA that signed it").format(
                where=where, ca=self.settings.ca_file or _("the system CAs"), reason=_short(text)))
        if "doesn't match" in text or "hostname mismatch" in text.lower():
            actual = certificate_names(self.host, self.port, self.settings.timeout) if self.secure else []
            expected = self.settings.tls_name or self.host
            return ConnectionFailed(_("{where}: the DC's certificate is for {actual}, not {expected}; set "
                                      "directory.tls_name to the name in the certificate").format(
                where=where, actual=", ".join(actual) or "?", expected=expected))
        if "timed out" in text.lower():
            return ConnectionFailed(_("{where}: the DC did not answer within {timeout:g} s").format(
                where=where, timeout=self.settings.timeout))
        return ConnectionFailed(_("{where}: the DC cannot be reached ({reason})").format(
            where=where, reason=_short(text)))

    def _bind_error(self, result: dict[str, Any]) -> Exception:
        message = str(result.get("message", ""))
        user = self.settings.bind_user
        if result.get("result") == 49:
            m = re.search(r"data ([0-9a-f]{3})", message)
            reasons = {"52e": _("wrong password"), "525": _("unknown account"), "530": _("not allowed at this time"),
                       "531": _("not allowed from this machine"), "532": _("password expired"),
                       "533": _("account disabled"), "701": _("account expired"), "773": _("must change password"),
                       "775": _("account locked out")}
            reason = reasons.get(m.group(1), "") if m else ""
            return AuthenticationFailed(_("AD refused the service account {user}: {reason}").format(
                user=user, reason=reason or _("wrong password, or the account is locked or disabled")))
        if result.get("result") == 8:
            return ConnectionFailed(_("the DC requires an encrypted connection (use ldaps:// or start_tls)"))
        return describe_result(result, _("bind as {user}").format(user=user))

    def close(self) -> None:
        """Unbind; safe to call twice."""
        if self._conn is not None:
            try:
                self._conn.unbind()
            finally:
                self._conn = None

    def __enter__(self) -> DirectoryClient:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reads

    @_guard
    def search(self, filter_: str, attributes: Sequence[str], base: str | None = None,
               scope: str = "SUBTREE") -> list[Entry]:
        """Return every entry matching ``filter_`` (already escaped) under ``base`` (paged search).

        Raises DirectoryError when the DC refuses the search.
        """
        from ldap3 import BASE, LEVEL, SUBTREE

        scopes = {"SUBTREE": SUBTREE, "BASE": BASE, "LEVEL": LEVEL}
        conn = self.connection
        entries: list[Entry] = []
        for item in conn.extend.standard.paged_search(base or self.base_dn, filter_, search_scope=scopes[scope],
                                                      attributes=list(attributes), paged_size=500,
                                                      generator=True):
            if item.get("type") == "searchResEntry":
                entries.append(Entry(item["dn"], {k: list(v) for k, v in item["raw_attributes"].items()}))
        if conn.result.get("result") not in (0, None) and not entries:
            if conn.result.get("result") == 32:  # noSuchObject: the base does not exist
                return []
            raise describe_result(conn.result, _("search {filter}").format(filter=filter_))
        return entries

    def get(self, dn: str, attributes: Sequence[str]) -> Entry | None:
        """Return the object at ``dn``, or None when it does not exist."""
        found = self.search("(objectClass=*)", attributes, base=dn, scope="BASE")
        return found[0] if found else None

    def find_user(self, login: str, attributes: Sequence[str] = ("*",)) -> Entry | None:
        """Return the user whose sAMAccountName is ``login`` (case-insensitive), or None."""
        found = self.search(f"(&(objectCategory=person)(objectClass=user)(sAMAccountName={escape_filter(login)}))",
                            attributes)
        return found[0] if found else None

    def find_group(self, name: str, *, fresh: bool = True) -> Entry | None:
        """Return the group named ``name`` (sAMAccountName or cn), or None. With ``fresh=False`` a group
        already looked up in this session is returned from memory (its DN, not its current members)."""
        if not fresh and name.lower() in self._groups:
            return self._groups[name.lower()]
        value = escape_filter(name)
        found = self.search(f"(&(objectClass=group)(|(sAMAccountName={value})(cn={value})))",
                            ["distinguishedName", "cn", "sAMAccountName", "member"])
        self._groups[name.lower()] = found[0] if found else None
        return self._groups[name.lower()]

    def exists(self, filter_: str, base: str | None = None) -> bool:
        """Return True if any object matches ``filter_`` under ``base``."""
        return bool(self.search(filter_, ["distinguishedName"], base=base))

    def password_policy(self) -> PasswordPolicy:
        """Return the domain password policy read from the domain root object (read once per session)."""
        if self._policy is None:
            self._policy = self._read_policy()
        return self._policy

    def _read_policy(self) -> PasswordPolicy:
        entry = self.get(self.base_dn, ["minPwdLength", "pwdProperties", "pwdHistoryLength", "lockoutThreshold"])
        if entry is None:
            return PasswordPolicy()
        return PasswordPolicy(min_length=entry.int("minPwdLength") or 0,
                              complexity=bool((entry.int("pwdProperties") or 0) & 1),
                              history=entry.int("pwdHistoryLength") or 0,
                              lockout_threshold=entry.int("lockoutThreshold") or 0)

    # ------------------------------------------------------------------ writes

    def _check(self, ok: bool, action: str) -> None:
        if not ok:
            raise describe_result(dict(self.connection.result), action)

    @_guard
    def add(self, dn: str, object_class: Sequence[str], attributes: dict[str, Any]) -> None:
        """Create the object ``dn``. Raises DirectoryError (e.g. it already exists)."""
        self._check(self.connection.add(dn, list(object_class), attributes), _("create {dn}").format(dn=dn))

    @_guard
    def replace(self, dn: str, attributes: dict[str, Any]) -> None:
        """Set each attribute of ``attributes`` on ``dn`` (None or [] clears it)."""
        self._check(self.connection.modify(dn, self._changes(attributes)), _("change {dn}").format(dn=dn))

    @staticmethod
    def _changes(attributes: dict[str, Any]) -> dict[str, list[tuple[Any, list[Any]]]]:
        from ldap3 import MODIFY_DELETE, MODIFY_REPLACE

        return {k: [(MODIFY_DELETE, [])] if v in (None, [], "") else
                [(MODIFY_REPLACE, v if isinstance(v, list) else [v])] for k, v in attributes.items()}

    @_guard
    def set_password(self, dn: str, password: Secret, then: dict[str, Any] | None = None) -> None:
        """Set (reset) the password of ``dn``, then set the attributes ``then`` (e.g. enable the account) in the
        same LDAP modify: the DC applies both or neither. Raises PasswordRejected with the policy's reason."""
        from ldap3 import MODIFY_REPLACE

        if not self.secure and not self.connection.tls_started:
            raise UsageError(_("refusing to send a password over an unencrypted connection"))
        encoded = f'"{password.reveal()}"'.encode("utf-16-le")  # what AD expects in unicodePwd
        changes: dict[str, Any] = {"unicodePwd": [(MODIFY_REPLACE, [encoded])]}
        changes.update(self._changes({k: v for k, v in (then or {}).items() if k.lower() != "unicodepwd"}))
        self._check(self.connection.modify(dn, changes), _("set the password of {dn}").format(dn=dn))

    @_guard
    def add_member(self, group_dn: str, member_dn: str) -> None:
        """Add ``member_dn`` to the group ``group_dn`` (no error if already a member)."""
        from ldap3 import MODIFY_ADD

        ok = self.connection.modify(group_dn, {"member": [(MODIFY_ADD, [member_dn])]})
        if not ok and self.connection.result.get("result") == 68:  # already a member
            return
        self._check(ok, _("add {member} to {group}").format(member=member_dn, group=group_dn))

    @_guard
    def add_members(self, group_dn: str, member_dns: Sequence[str]) -> None:
        """Add every one of ``member_dns`` to ``group_dn`` in one LDAP modify (the DC adds all or none).

        When the DC refuses because one of them is already a member, they are added one by one instead
        (members already there are skipped). Raises DirectoryError otherwise.
        """
        from ldap3 import MODIFY_ADD

        if not member_dns:
            return
        if len(member_dns) == 1:
            self.add_member(group_dn, member_dns[0])
            return
        ok = self.connection.modify(group_dn, {"member": [(MODIFY_ADD, list(member_dns))]})
        if not ok and self.connection.result.get("result") == 68:  # one of them already is a member
            for dn in member_dns:
                self.add_member(group_dn, dn)
            return
        self._check(ok, _("add {n} members to {group}").format(n=len(member_dns), group=group_dn))

    @_guard
    def remove_member(self, group_dn: str, member_dn: str) -> None:
        """Remove ``member_dn`` from ``group_dn`` (no error if it was not a member)."""
        from ldap3 import MODIFY_DELETE

        ok = self.connection.modify(group_dn, {"member": [(MODIFY_DELETE, [member_dn])]})
        if not ok and self.connection.result.get("result") in (16, 53):  # not a member
            return
        self._check(ok, _("remove {member} from {group}").format(member=member_dn, group=group_dn))

    @_guard
    def move(self, dn: str, new_parent: str) -> str:
        """Move ``dn`` under ``new_parent``; return its new DN."""
        rdn = split_dn(dn)[0]
        self._check(self.connection.modify_dn(dn, rdn, new_superior=new_parent),
                    _("move {dn} to {ou}").format(dn=dn, ou=new_parent))
        return f"{rdn},{new_parent}"

    @_guard
    def delete(self, dn: str) -> None:
        """Delete ``dn``."""
        self._check(self.connection.delete(dn), _("delete {dn}").format(dn=dn))


def split_dn(dn: str) -> list[str]:
    """Return the RDNs of ``dn`` (escaped commas respected), e.g. ['CN=A\\, B', 'OU=X', 'DC=y']."""
    parts, current, escaped = [], "", False
    for ch in dn:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            current += ch
            escaped = True
        elif ch == ",":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def parent_dn(dn: str) -> str:
    """Return the DN of the object's container."""
    return ",".join(split_dn(dn)[1:])


def certificate_names(host: str, port: int, timeout: float) -> list[str]:
    """Return the names (CN and DNS/IP SANs) in the certificate a TLS server presents, without verifying it."""
    import socket

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, \
                ctx.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except OSError:
        return []
    if not der:
        return []
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    names = [a.value for a in cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [str(n.value) for n in san if isinstance(n, x509.DNSName | x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    return [str(n) for n in dict.fromkeys(names)]


def _short(text: str) -> str:
    return text.split(" - ")[-1][:200]


def dns(entries: Iterable[Entry]) -> list[str]:
    """Return the DNs of ``entries``."""
    return [e.dn for e in entries]

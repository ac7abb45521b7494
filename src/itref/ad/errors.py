"""Turn LDAP result codes and AD's diagnostic texts into sentences for people."""

from __future__ import annotations

import re
from typing import Any

from itref.core.errors import ItrefError
from itref.core.status import ExitStatus
from itref.i18n import _


class DirectoryError(ItrefError):
    """The directory refused an operation (policy, rights, conflict...). ``code`` is the LDAP result code
    when the DC gave one (68: already exists, 19: constraint violation...), else None."""

    status = ExitStatus.FAILURE

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    @property
    def already_used(self) -> bool:
        """Return True when the DC refused because the name, login or UPN is already taken by another object."""
        text = self.message.lower()  # Samba: "... is already in use"; Windows: "... is not unique forest-wide"
        return self.code == 68 or (self.code == 19 and ("already in use" in text or "not unique" in text))


class PasswordRejected(DirectoryError):
    """The domain's password policy refused a password."""


def password_policy_sentence(message: str) -> str | None:
    """Return a sentence for an AD password-policy rejection (``0000052D``), or None if it is not one.

    Samba explains the reason (``check_password_restrictions: ...``); Windows only says ``0000052D``,
    so the sentence then lists what the policy checks.
    """
    if "0000052D" not in message.upper() and "check_password_restrictions" not in message:
        return None
    lowered = message.lower()
    if "too short" in lowered:
        m = re.search(r"longer than (\d+)", lowered)
        return _("the password is too short: the domain requires at least {n} characters").format(
            n=m.group(1) if m else "?")
    if "complexity" in lowered:
        return _("the password is not complex enough: the domain requires three kinds of characters among "
                 "capitals, small letters, digits and symbols, and no part of the account name")
    if "history" in lowered or "already been used" in lowered or "recently" in lowered:
        return _("the password was used before: the domain remembers previous passwords and refuses them")
    if "too young" in lowered:
        return _("the password was changed too recently: the domain imposes a minimum age between changes")
    return _("the domain's password policy refused this password (length, complexity, history or minimum age)")


def describe_result(result: dict[str, Any], action: str) -> DirectoryError:
    """Return the error for a failed LDAP ``result`` of ``action`` (e.g. "create CN=...")."""
    code = result.get("result")
    name = result.get("description", "")
    message = str(result.get("message", ""))
    policy = password_policy_sentence(message)
    if policy:
        return PasswordRejected(_("{action}: {reason}").format(action=action, reason=policy), code)
    reasons = {
        50: _("the service account is not allowed to do this (insufficient rights in AD)"),
        68: _("it already exists"),
        32: _("the object or its OU does not exist"),
        66: _("the OU is not empty"),
        19: _("a constraint of the directory refused it"),
        53: _("the directory refused to do it"),
        21: _("a value has the wrong form"),
        16: _("an attribute is missing or unknown"),
        17: _("an attribute is unknown to the directory's schema"),
        65: _("the object class does not allow it"),
    }
    reason = reasons.get(code if isinstance(code, int) else -1, name or _("error"))
    detail = message.strip()
    return DirectoryError(_("{action}: {reason} ({code} {detail})").format(
        action=action, reason=reason, code=name or code, detail=detail).replace(" )", ")"),
        code if isinstance(code, int) else None)

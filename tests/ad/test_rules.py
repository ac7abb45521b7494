"""Password generation and AD's error texts, including the Windows form Samba cannot produce."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from itref.ad.client import PasswordPolicy, escape_filter, escape_rdn, split_dn
from itref.ad.errors import PasswordRejected, describe_result, password_policy_sentence
from itref.ad.passwords import generate
from itref.ad.values import from_filetime, sid_to_str, to_filetime


def test_generated_passwords_meet_a_strict_policy_and_avoid_the_name() -> None:
    for _ in range(200):
        pw = generate(PasswordPolicy(min_length=20), forbidden=["elefevre", "Emilie"]).reveal()
        assert len(pw) == 20
        assert re.search("[A-Z]", pw) and re.search("[a-z]", pw) and re.search("[0-9]", pw)
        assert re.search(r"[-_.!@#%+=]", pw)
        assert "elefevre" not in pw.lower() and "emilie" not in pw.lower()


def test_generated_password_prints_as_stars() -> None:
    secret = generate(PasswordPolicy())
    assert str(secret) == "***" and len(secret.reveal()) == 16


@pytest.mark.parametrize(("message", "expected"), [
    ("0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be "
     "equal or longer than 7 characters!", "at least 7 characters"),
    ("0000052D: Constraint violation - check_password_restrictions: the password does not meet the complexity "
     "criteria!", "not complex enough"),
    ("0000052D: Constraint violation - check_password_restrictions: password is too young to change!",
     "changed too recently"),
    ("0000052D: Constraint violation - check_password_restrictions: the password was already used (in history)!",
     "used before"),
])
def test_samba_policy_texts_become_sentences(message: str, expected: str) -> None:
    assert expected in (password_policy_sentence(message) or "")


def test_windows_policy_rejection_without_details_is_still_explained() -> None:
    """Windows DCs answer unwillingToPerform with only the 0000052D code (Samba cannot produce this form)."""
    result = {"result": 53, "description": "unwillingToPerform",
              "message": "0000052D: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0\n"}
    error = describe_result(result, "set the password of CN=x")
    assert isinstance(error, PasswordRejected)
    assert "password policy refused" in error.message


def test_insufficient_rights_is_named() -> None:
    error = describe_result({"result": 50, "description": "insufficientAccessRights",
                             "message": "00002098: SecErr: DSID-03150F94, problem 4003"}, "create CN=x")
    assert "not allowed" in error.message and "create CN=x" in error.message


def test_filter_and_dn_escaping() -> None:
    assert escape_filter("*)(uid=*") == "\\2a\\29\\28uid=\\2a"
    assert escape_filter("a\\b") == "a\\5cb"
    assert escape_rdn('Dupont, Jean+"x"<y>#;=') == 'Dupont\\, Jean\\+\\"x\\"\\<y\\>#\\;\\='
    assert escape_rdn("#1 ") == "\\#1\\ "  # '#' first and a trailing space are escaped (RFC 4514)
    assert split_dn("CN=Dupont\\, Jean,OU=A,DC=x") == ["CN=Dupont\\, Jean", "OU=A", "DC=x"]


def test_filetime_round_trip_and_never() -> None:
    when = datetime(2026, 11, 28, 8, 49, 33, tzinfo=UTC)
    assert from_filetime(to_filetime(when)) == when
    assert from_filetime(0) is None and from_filetime(0x7FFFFFFFFFFFFFFF) is None


def test_sid_decoding() -> None:
    raw = bytes([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0]) + (1).to_bytes(4, "little") * 3 + (1103).to_bytes(4, "little")
    assert sid_to_str(raw) == "S-1-5-21-1-1-1-1103"

"""Decode raw AD attribute values (bytes) and build the ones AD expects."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime, timedelta

FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
NEVER = 0x7FFFFFFFFFFFFFFF

# userAccountControl flags
UAC_ACCOUNTDISABLE = 0x2
UAC_LOCKOUT = 0x10
UAC_PASSWD_NOTREQD = 0x20
UAC_NORMAL_ACCOUNT = 0x200
UAC_DONT_EXPIRE_PASSWORD = 0x10000


def from_filetime(value: int | str | bytes | None) -> datetime | None:
    """Return the datetime of an AD FILETIME (100 ns since 1601), or None for 0/never/absent."""
    if value is None:
        return None
    number = int(value.decode() if isinstance(value, bytes) else value)
    if number <= 0 or number >= NEVER:
        return None
    return FILETIME_EPOCH + timedelta(microseconds=number // 10)


def to_filetime(when: datetime) -> int:
    """Return ``when`` as an AD FILETIME integer."""
    delta = when.astimezone(UTC) - FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def from_generalized_time(value: bytes | str | None) -> datetime | None:
    """Return the datetime of an LDAP GeneralizedTime such as ``20261128084933.0Z``."""
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    return datetime.strptime(text.split(".")[0].rstrip("Z"), "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def sid_to_str(raw: bytes) -> str:
    """Return the ``S-1-5-21-...`` text of a binary objectSid."""
    revision, count = raw[0], raw[1]
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack("<" + "I" * count, raw[8:8 + 4 * count])
    return "S-" + "-".join(str(x) for x in (revision, authority, *subs))


def guid_to_str(raw: bytes) -> str:
    """Return the ``{xxxxxxxx-...}`` text of a binary objectGUID."""
    return "{" + str(uuid.UUID(bytes_le=raw)) + "}"

"""Initial passwords that meet the domain policy, generated with the ``secrets`` module."""

from __future__ import annotations

import secrets
import string

from itref.ad.client import PasswordPolicy
from itref.secrets import Secret

# No look-alikes (0/O, 1/l/I) and only symbols that survive a phone call, a CSV and a shell.
UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
LOWER = "abcdefghijkmnopqrstuvwxyz"
DIGITS = "23456789"
SYMBOLS = "-_.!@#%+="
DEFAULT_LENGTH = 16


def generate(policy: PasswordPolicy, *, forbidden: list[str] | tuple[str, ...] = ()) -> Secret:
    """Return a random password at least ``policy.min_length`` long (16 by default) with every kind of
    character, containing none of the ``forbidden`` words (login, name parts) of 3 letters or more."""
    length = max(DEFAULT_LENGTH, policy.min_length)
    alphabet = UPPER + LOWER + DIGITS + SYMBOLS
    words = [w.lower() for w in forbidden if len(w) >= 3]
    while True:
        chars = [secrets.choice(UPPER), secrets.choice(LOWER), secrets.choice(DIGITS), secrets.choice(SYMBOLS)]
        chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
        secrets.SystemRandom().shuffle(chars)
        value = "".join(chars)
        if not any(w in value.lower() for w in words) and value[0] not in string.punctuation:
            return Secret(value, "generated password")

"""Gift card codes: generation, normalising, keyed lookup hashes, encryption and masking.

A database dump alone reveals no usable code: the table holds an HMAC of the normalised code
(for lookups and uniqueness), the code encrypted with a key from settings (so the owning
business can still read it back), and its last four characters for display.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

# No 0/O, 1/I/L: nothing a customer can misread. 31 symbols, 20 of them: 99 bits.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
GENERATED_LENGTH = 20
GROUP = 4
MIN_LENGTH = 8
MAX_LENGTH = 40
MASK = "****"

_SEPARATORS = re.compile(r"[\s\-]+")
_ALLOWED = re.compile(r"^[A-Z0-9]+$")


class InvalidCode(ValueError):
    pass


def generate() -> str:
    """A new code such as `K7QM-X2PD-9RTA-WF3H-NB6C`."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(GENERATED_LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, GENERATED_LENGTH, GROUP))


def normalise(code: str) -> str:
    """What is compared: upper case, without spaces and dashes."""
    return _SEPARATORS.sub("", code).upper()


def validate(code: object) -> str:
    """Check a code a client chose; returns its normalised form or raises InvalidCode."""
    if not isinstance(code, str):
        raise InvalidCode("A code must be a string.")
    if len(code) > MAX_LENGTH:
        raise InvalidCode(f"A code has at most {MAX_LENGTH} characters.")
    normalised = normalise(code)
    if len(normalised) < MIN_LENGTH:
        raise InvalidCode(
            f"A code has at least {MIN_LENGTH} characters, not counting spaces and dashes."
        )
    if not _ALLOWED.match(normalised):
        raise InvalidCode("A code has only letters, digits, spaces and dashes.")
    return normalised


def _derive(purpose: str, key: str) -> bytes:
    """Separate keys for separate uses, all from the one configured secret."""
    return hashlib.sha256(f"{purpose}:{key}".encode()).digest()


@cache
def _fernet(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive("giftcards.code-encryption", key)))


def lookup_hash(code: str) -> str:
    """Keyed hash of the normalised code: equal codes give equal hashes, dumps give nothing."""
    key = _derive("giftcards.code-lookup", settings.GIFTCARD_CODE_KEY)
    return hmac.new(key, normalise(code).encode(), hashlib.sha256).hexdigest()


def encrypt(code: str) -> str:
    return _fernet(settings.GIFTCARD_CODE_KEY).encrypt(code.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(settings.GIFTCARD_CODE_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise InvalidCode("The code cannot be decrypted with the configured key.") from exc


def last4(code: str) -> str:
    return normalise(code)[-4:]


def mask(last_four: str) -> str:
    """How a code appears outside the APIs: `****NB6C`."""
    return f"{MASK}{last_four}"

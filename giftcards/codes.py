"""Gift card codes: generation, normalising, strength, keyed lookup hashes, encryption and
masking.

A database dump alone reveals no usable code: the table holds an HMAC of the normalised code
(for lookups and uniqueness), the code encrypted with the code key (so the owning business
can still read it back), and its last four characters for display.

Keys: `GIFTCARD_CODE_KEY` is the current key, which encrypts and hashes every new code;
`GIFTCARD_CODE_OLD_KEYS` are earlier keys, still tried for decryption and lookups, until
`manage.py rotate_code_key` has moved every stored value to the current key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import secrets
from functools import cache
from itertools import pairwise

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# No 0/O, 1/I/L: nothing a customer can misread. 31 symbols, 20 of them: 99 bits.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
GENERATED_LENGTH = 20
GROUP = 4
MIN_LENGTH = 8
MAX_LENGTH = 40
# Fewer different characters than this is guessable whatever the order ("AABBCCDD").
MIN_DISTINCT = 5
MASK = "****"

_SEPARATORS = re.compile(r"[\s\-]+")
_ALLOWED = re.compile(r"^[A-Z0-9]+$")
# The order in which "simple sequences" such as 12345678, ABCDEFGH or 6789ABCD run.
_SEQUENCE = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SYSTEM_RANDOM = secrets.SystemRandom()


class InvalidCode(ValueError):
    pass


# ---------------------------------------------------------------------------- the code itself


def generate(rng: random.Random = _SYSTEM_RANDOM) -> str:
    """A new code such as `K7QM-X2PD-9RTA-WF3H-NB6C`; always passes `validate`.

    A draw that the strength rules refuse (about one in 10**13) is drawn again.
    """
    while True:
        raw = "".join(rng.choice(ALPHABET) for _ in range(GENERATED_LENGTH))
        if weakness(raw) is None:
            return "-".join(raw[i : i + GROUP] for i in range(0, GENERATED_LENGTH, GROUP))


def normalise(code: str) -> str:
    """What is compared: upper case, without spaces and dashes."""
    return _SEPARATORS.sub("", code).upper()


def well_formed(code: object) -> str:
    """Check the shape of a typed code (length, characters); returns its normalised form or
    raises InvalidCode. Enough to look a code up; a new code must also pass `validate`."""
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


def weakness(normalised: str) -> str | None:
    """Why a well-formed, normalised code is too easy to guess, or None when it is not."""
    if len(set(normalised)) == 1:
        return "A code cannot be one character repeated."
    positions = [_SEQUENCE.index(char) for char in normalised]
    steps = {after - before for before, after in pairwise(positions)}
    if steps in ({1}, {-1}):
        return "A code cannot be a simple sequence such as 12345678, ABCDEFGH or 87654321."
    for period in range(2, len(normalised) // 2 + 1):
        if normalised[period:] == normalised[:-period]:
            return (
                "A code cannot be a short pattern repeated, such as ABABABAB or 12341234 "
                f"({normalised[:period]} repeated)."
            )
    if len(set(normalised)) < MIN_DISTINCT:
        return f"A code needs at least {MIN_DISTINCT} different characters."
    return None


def validate(code: object) -> str:
    """Check a code a client chose for a new card: well formed and not too easy to guess.
    Returns its normalised form or raises InvalidCode saying why."""
    normalised = well_formed(code)
    reason = weakness(normalised)
    if reason is not None:
        raise InvalidCode(reason)
    return normalised


def last4(code: str) -> str:
    return normalise(code)[-4:]


def mask(last_four: str) -> str:
    """How a code appears outside the APIs: `****NB6C`."""
    return f"{MASK}{last_four}"


# ---------------------------------------------------------------------------- keys


def keys() -> tuple[str, ...]:
    """The configured code keys, the current one first (settings GIFTCARD_CODE_KEY, then
    GIFTCARD_CODE_OLD_KEYS, a list or a comma-separated string)."""
    current = settings.GIFTCARD_CODE_KEY
    if not current:
        raise ImproperlyConfigured(
            "GIFTCARD_CODE_KEY is not set: gift card codes cannot be encrypted or looked up."
        )
    old = getattr(settings, "GIFTCARD_CODE_OLD_KEYS", ())
    if isinstance(old, str):
        old = old.split(",")
    return tuple(dict.fromkeys([current, *(key.strip() for key in old if key.strip())]))


def has_old_keys() -> bool:
    return len(keys()) > 1


def _derive(purpose: str, key: str) -> bytes:
    """Separate keys for separate uses, all from one configured secret."""
    return hashlib.sha256(f"{purpose}:{key}".encode()).digest()


@cache
def _fernet(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive("giftcards.code-encryption", key)))


@cache
def _lookup_key(key: str) -> bytes:
    return _derive("giftcards.code-lookup", key)


def _hash(code: str, key: str) -> str:
    return hmac.new(_lookup_key(key), normalise(code).encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------- hashes


def lookup_hash(code: str) -> str:
    """Keyed hash of the normalised code under the current key (what a new card stores):
    equal codes give equal hashes, dumps give nothing."""
    return _hash(code, keys()[0])


def lookup_hashes(code: str) -> list[str]:
    """The code's hash under every configured key, the current one first: a stored hash
    matches one of them whichever key wrote it (`code_hash__in=...`, one query)."""
    return [_hash(code, key) for key in keys()]


# ---------------------------------------------------------------------------- encryption


def encrypt(text: str) -> str:
    """Encrypt under the current key (a code, or anything else that may hold one)."""
    return _fernet(keys()[0]).encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt with whichever configured key encrypted `token` (the current key first, as
    MultiFernet does); raises InvalidCode when none can."""
    return decrypt_noting_key(token)[0]


def decrypt_noting_key(token: str) -> tuple[str, bool]:
    """Decrypt like `decrypt`; also tells whether the current key encrypted `token` (whether
    `rotate_code_key` still has to re-encrypt it)."""
    current, *old = keys()
    for key in (current, *old):
        try:
            return _fernet(key).decrypt(token.encode()).decode(), key == current
        except InvalidToken:
            continue
    raise InvalidCode("The code cannot be decrypted with the configured keys.")

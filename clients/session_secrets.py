"""Secrets a session keeps for a few minutes, until the page that shows them once: sealed
(Fernet, with a key derived from SECRET_KEY) so neither a session row nor a backup of it holds
them in clear, and given up once older than TTL_SECONDS."""

from __future__ import annotations

import base64
import time
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

TTL_SECONDS = 5 * 60


@cache
def _fernet(secret_key: str) -> Fernet:
    # A key of its own, so nothing else signed or encrypted with SECRET_KEY shares it.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"clients.session-secrets"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def now() -> int:
    return int(time.time())


def seal(secret: str) -> dict:
    """What the session stores: the sealed secret and when it was sealed."""
    created_at = now()
    token = _fernet(settings.SECRET_KEY).encrypt_at_time(secret.encode(), created_at)
    return {"sealed": token.decode(), "created_at": created_at}


def is_fresh(entry: object) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("created_at"), int):
        return False
    return 0 <= now() - entry["created_at"] <= TTL_SECONDS


def unseal(entry: object) -> str | None:
    """The secret, or None once it is older than TTL_SECONDS or cannot be opened (SECRET_KEY
    changed). The token's own, authenticated, time is checked too: editing `created_at`
    does not make an old secret readable."""
    if not is_fresh(entry):
        return None
    try:
        token = entry["sealed"].encode()
        return _fernet(settings.SECRET_KEY).decrypt_at_time(token, TTL_SECONDS, now()).decode()
    except (InvalidToken, AttributeError, KeyError, TypeError):
        return None


def fresh(entries: dict) -> dict:
    """The entries still within TTL_SECONDS; older ones are dropped, never kept."""
    return {name: entry for name, entry in entries.items() if is_fresh(entry)}

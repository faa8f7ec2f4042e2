"""Signatures of webhook calls, so a receiver knows a call came from us and is not a replay.

Each call carries two signatures of the exact body sent, both keyed by the webhook's
`shared_secret` (`whsec_` and 32 random bytes in base64, the Standard Webhooks form):

- Commerce Layer's: `X-CommerceLayer-Signature`, the base64 HMAC-SHA256 of the body keyed
  by the whole secret string as text (what Commerce Layer's receivers compute);
- Standard Webhooks': `webhook-id` (the event's id, the same on every retry),
  `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`
  (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` keyed by the secret's decoded
  bytes), which Standard Webhooks libraries verify given the secret as is, refusing
  timestamps more than five minutes away.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key_bytes(secret: str) -> bytes:
    """The Standard Webhooks key: the base64 after the prefix (any other string as text)."""
    if secret.startswith(PREFIX):
        try:
            return base64.b64decode(secret[len(PREFIX) :], validate=True)
        except ValueError:
            pass
    return secret.encode()


def commerce_layer_signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(*, secret: str, topic: str, message_id: str, timestamp: int, body: bytes) -> dict:
    """Every header of a call but Host and Content-Length."""
    return {
        "Content-Type": "application/vnd.api+json",
        "User-Agent": "giftcards-webhooks/1",
        "X-CommerceLayer-Topic": topic,
        "X-CommerceLayer-Signature": commerce_layer_signature(secret, body),
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, message_id, timestamp, body),
    }

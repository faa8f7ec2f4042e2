"""What the baseline views share: the API key in `Authorization: Bearer`, looked up by its prefix
in one query (with its business); the per-key rate limit in the shared cache; JSON responses."""

from __future__ import annotations

import hashlib
import json
import re
import time
import zoneinfo
from functools import cache

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from clients.models import ApiKey
from giftcards import ratelimit

KEY_SHAPE = re.compile(r"[A-Za-z0-9]{1,16}\.[A-Za-z0-9]{1,128}")
KEY_FIELDS = (
    "id",
    "name",
    "hashed_key",
    "expiry_date",
    "business_id",
    "mode",
    "business__locale",
    "business__timezone",
)


class Refused(Exception):
    """Ends a baseline request with a small JSON error."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def response(self) -> HttpResponse:
        return json_response({"detail": self.detail}, status=self.status)


@cache
def _rate() -> tuple[int, int]:
    num, period = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"].split("/")
    return int(num), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


@cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def json_response(data, content_type: str = "application/json", status: int = 200):
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(body.encode(), status=status, content_type=content_type)


def card_etag(card_id: str, updated_at) -> str:
    """The card's version, as the service's ETag computes it."""
    version = f"{card_id}:{updated_at.isoformat()}".encode()
    return f'"{hashlib.sha256(version).hexdigest()[:20]}"'


def _within_rate(key_id: str) -> bool:
    """The same counter as the service's per-key throttle, in the same cache."""
    limit, window = _rate()
    verdict = ratelimit.hit("throttle:api_key", key_id, limit=limit, window=window, now=time.time())
    return verdict.allowed


def api_key(request) -> dict:
    """The caller's key (with business_id, mode, locale and time zone), else Refused."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not KEY_SHAPE.fullmatch(key):
        raise Refused(401, "Authentication credentials were not provided.")
    row = (
        ApiKey.objects.filter(prefix=key.partition(".")[0], revoked=False)
        .values(*KEY_FIELDS)
        .first()
    )
    expected = "sha512$$" + hashlib.sha512(key.encode()).hexdigest()
    if row is None or not constant_time_compare(row["hashed_key"], expected):
        raise Refused(401, "Invalid or revoked API key.")
    if row["expiry_date"] is not None and row["expiry_date"] <= timezone.now():
        raise Refused(401, "This API key has expired.")
    if not _within_rate(row["id"]):
        raise Refused(429, "Request was throttled.")
    return row

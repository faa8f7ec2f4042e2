"""Fixed-window counters in the shared cache: the one counter behind every throttle (both
APIs' per-key throttles and the /balance page's per-address one).

Why this counter. Each (scope, identity, window) is one integer key, and a hit is Redis's
INCRBY (through Django's cache `incr`, creating the key with `add`), which is atomic: however
many processes race for the last unit, at most `limit` units are counted as allowed in a
window. A history of timestamps read, appended and written back (DRF's SimpleRateThrottle)
loses concurrent writes, so bursts pass the limit, and it pickles the whole list on every
request. A sliding log would be exact but needs a sorted set and a server-side script per
hit; a sliding-window estimate cannot give an exact Retry-After. The price of the fixed
window: windows are aligned on the clock, so a client may spend its limit at the end of one
window and again at the start of the next (up to twice the limit within `window` seconds,
never more than the limit per window, the limit on average).

A refused hit gives its units back: a request refused for a weight of three does not keep
the single lookups that still fit from passing.

The counts are only shared when the cache is (Redis: REDIS_URL). With the local memory cache
every server process counts alone, so the limits are per process (deploy check
giftcards.W001).

Errors of the cache client (Redis down, refusing, timing out) raise `CacheUnavailable`;
whether to fail open or closed is each caller's decision.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from dataclasses import dataclass

import redis
from django.core.cache import cache

from giftcards.outages import CacheUnavailable
from giftcards_project.observability import metrics

# Keys outlive their window by this much: servers whose clocks are a little apart still
# count into the same live key.
GRACE_SECONDS = 60
CACHE_ERRORS = (redis.RedisError, OSError)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int  # units counted in this window (this hit's included when allowed)
    retry_after: int  # seconds until this window ends


def hit(scope: str, ident: object, *, limit: int, window: int, now: float, weight: int = 1):
    """Count `weight` units for `ident` in the current `window`-second window of `scope`;
    refused (and not counted) when that would pass `limit`. Raises CacheUnavailable."""
    bucket = int(now // window)
    # Hashed: the identity may be a client's address, which the cache need not hold.
    key = scope + ":" + hashlib.sha256(f"{ident}:{bucket}".encode()).hexdigest()
    retry_after = max(1, math.ceil((bucket + 1) * window - now))
    try:
        count = _incr(key, weight, timeout=window + GRACE_SECONDS)
        if count > limit:
            _give_back(key, weight)
            metrics.throttled(scope)
            return Verdict(allowed=False, count=count - weight, retry_after=retry_after)
    except CACHE_ERRORS as exc:
        raise CacheUnavailable(f"the cache failed counting {scope}") from exc
    return Verdict(allowed=True, count=count, retry_after=retry_after)


def _incr(key: str, weight: int, *, timeout: int) -> int:
    try:
        return cache.incr(key, weight)
    except ValueError:  # the first hit of this window
        if cache.add(key, weight, timeout=timeout):
            return weight
        return cache.incr(key, weight)  # another process added it in between


def _give_back(key: str, weight: int) -> None:
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing left to give back to
        cache.decr(key, weight)

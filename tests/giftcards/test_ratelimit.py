"""The shared fixed-window counter: atomic across threads on a real Redis, weighted, windows
on the clock, keys that expire, and CacheUnavailable (quickly) when Redis is down or stuck."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import redis
from django.core.cache import cache

from giftcards import ratelimit
from giftcards.outages import CacheUnavailable
from tests import caches

NOW = 1_900_000_220.0  # 20 s into a 60 s window (and into a 600 s one)


@pytest.fixture(params=["locmem", "redis"])
def any_cache(request):
    """Each test on the local memory cache and on a real Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    else:
        cache.clear()
    return request.param


def hit(ident="key-1", weight=1, limit=30, window=60, now=NOW):
    return ratelimit.hit("test", ident, limit=limit, window=window, now=now, weight=weight)


def test_sixty_simultaneous_hits_on_redis_count_exactly_thirty(redis_cache):
    barrier = threading.Barrier(60)
    verdicts: list = [None] * 60

    def worker(i: int) -> None:
        barrier.wait(timeout=30)
        verdicts[i] = hit().allowed

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Counter(verdicts) == {True: 30, False: 30}
    assert hit(ident="key-2").allowed  # per identity


def test_a_weighted_hit_refused_gives_its_units_back(any_cache):
    assert hit(weight=28).count == 28

    refused = hit(weight=3)
    fits = hit(weight=2)

    assert not refused.allowed
    assert refused.count == 28
    assert fits.allowed
    assert fits.count == 30
    assert not hit().allowed


def test_windows_are_aligned_on_the_clock(any_cache):
    for _ in range(3):
        hit(limit=3)

    refused = hit(limit=3, now=NOW + 39.5)
    next_window = hit(limit=3, now=NOW + 40)

    assert not refused.allowed
    assert refused.retry_after == 1  # rounded up: retrying earlier would be refused again
    assert hit(limit=3).retry_after == 40
    assert next_window.allowed
    assert next_window.count == 1


def test_keys_expire_after_their_window(redis_cache, settings):
    hit(window=600)

    client = redis.Redis.from_url(caches.REDIS_URL)
    try:
        prefix = settings.CACHES["default"]["KEY_PREFIX"]
        (key,) = client.scan_iter(match=f"{prefix}:*")
        ttl = client.ttl(key)
    finally:
        client.close()
    assert 600 < ttl <= 600 + ratelimit.GRACE_SECONDS


def test_a_refused_redis_raises_cache_unavailable(redis_down):
    with pytest.raises(CacheUnavailable):
        hit()


def test_a_redis_that_never_answers_fails_within_the_socket_timeout(settings):
    with caches.silent_server() as port:
        settings.CACHES = caches.redis_caches(f"redis://127.0.0.1:{port}/0")
        started = time.monotonic()
        with pytest.raises(CacheUnavailable):
            hit()
        elapsed = time.monotonic() - started

    assert elapsed < 3 * settings.REDIS_CACHE_OPTIONS["socket_timeout"] + 1

"""Caches for tests: a real Redis (TEST_REDIS_URL; skipped when it does not answer, a failure
when CI is set), a Redis at a closed port, and one that accepts connections but never answers."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/12")


def require_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"needs Redis at {REDIS_URL} (TEST_REDIS_URL): {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()


def redis_caches(url: str, prefix: str | None = None) -> dict:
    """CACHES as production has them with REDIS_URL=url, under a key prefix of its own."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix or f"test-{uuid.uuid4().hex}",
            "OPTIONS": settings.REDIS_CACHE_OPTIONS,
        }
    }


def forget(prefix: str) -> None:
    """Delete the keys written under `prefix` (not FLUSHDB: the database may be shared)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def closed_port() -> int:
    """A local port nothing listens on (bound and released: refused from then on)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A local port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]

"""The real services the subprocess runs (`make chaos`, `make multiprocess`) need, as the
suite's PostgreSQL and Redis give them."""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest
import redis
from django.db import connection


def redis_url(variable: str, default: str, run: str) -> str:
    """Redis at $variable (else `default`), reachable: skipped without it, failed under CI."""
    url = os.environ.get(variable, default)
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"The {run} run needs Redis at {url} under CI: {exc}", pytrace=False)
        pytest.skip(f"needs Redis at {url}: {exc}")
    finally:
        client.close()
    return url


def admin_url() -> str:
    """The test server's maintenance database, from which a run makes its own."""
    server = connection.settings_dict
    user = quote(server["USER"] or "postgres")
    password = f":{quote(server['PASSWORD'])}" if server["PASSWORD"] else ""
    host = server["HOST"] or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{server['PORT'] or 5432}/postgres"

"""The probes: /healthz is liveness without I/O; /readyz checks every dependency and names the
ones that failed."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection


@pytest.fixture
def database_down():
    patch = pytest.MonkeyPatch()

    def cursor(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    patch.setattr(connection, "cursor", cursor)
    yield
    patch.undo()


def test_ready_when_database_and_cache_answer(client, db, redis_cache):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok"},
        "failed": [],
    }
    assert response["Cache-Control"] == "no-store"


def test_not_ready_without_the_cache(client, db, redis_down, caplog):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "unavailable"},
        "failed": ["cache"],
    }
    assert response["Retry-After"] == "30"
    (record,) = [r for r in caplog.records if r.levelno >= 30]
    assert record.getMessage().startswith("Readiness: cache unavailable (ConnectionError")
    assert "127.0.0.1" not in response.content.decode()  # details go to the log only


def test_not_ready_without_the_database(client, db, database_down):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "unavailable", "cache": "ok"}
    assert response.json()["failed"] == ["database"]


def test_alive_whatever_the_dependencies_say(
    client, db, redis_down, database_down, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}

"""Settings from the environment: production refuses to start without a secret; SQLite tuning."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

PROJECT_ROOT = Path(settings.BASE_DIR)


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process with a clean DJANGO_*/DATABASE_URL environment."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key not in {"DATABASE_URL", "GIFTCARD_CODE_KEY"}
    }
    clean["DJANGO_SETTINGS_MODULE"] = "giftcards_project.settings"
    clean["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_secret_key_refuses_to_start_with_one_line(tmp_path):
    result = manage(tmp_path, "check", DJANGO_DEBUG="0")

    assert result.returncode != 0
    message = result.stderr.strip()
    assert "DJANGO_SECRET_KEY" in message
    assert len(message.splitlines()) == 1, message
    assert "Traceback" not in result.stderr


def test_production_with_an_empty_secret_key_refuses_too(tmp_path):
    result = manage(tmp_path, "check", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_with_secret_key_and_hosts_passes_check(tmp_path):
    result = manage(
        tmp_path,
        "check",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_ALLOWED_HOSTS="example.com",
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_embedded_default_passes_check_without_any_secret(tmp_path):
    result = manage(tmp_path, "check")

    assert result.returncode == 0, result.stderr


def test_production_settings_are_what_the_environment_says(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.ALLOWED_HOSTS, s.SECRET_KEY == 'k' * 50, s.SESSION_COOKIE_SECURE)"
    )
    result = manage(
        tmp_path,
        "shell",
        "-c",
        code,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="k" * 50,
        DJANGO_ALLOWED_HOSTS="example.com, api.example.com",
    )

    assert result.returncode == 0, result.stderr
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line == "False ['example.com', 'api.example.com'] True True"


@pytest.mark.django_db
def test_sqlite_connection_uses_wal_and_waits_for_the_write_lock():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite tuning only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        (journal_mode,) = cursor.fetchone()
        cursor.execute("PRAGMA busy_timeout")
        (busy_timeout,) = cursor.fetchone()

    assert journal_mode.lower() == "wal"
    assert busy_timeout > 0
    assert connection.transaction_mode == "IMMEDIATE"


def test_deploy_check_warns_when_throttles_are_per_process(tmp_path):
    production = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 60}

    per_process = manage(tmp_path, "check", "--deploy", REDIS_URL="", **production)
    shared = manage(
        tmp_path, "check", "--deploy", REDIS_URL="redis://127.0.0.1:6379/0", **production
    )

    assert "giftcards.W001" in per_process.stderr + per_process.stdout
    assert "giftcards.W001" not in shared.stderr + shared.stdout


def _get(path: str, secret: str) -> int:
    """A request through Django's WSGI handler, with the request signals that manage
    persistent connections (the test client turns them off)."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_AUTHORIZATION": f"Bearer {secret}",
        "HTTP_ACCEPT": "application/json",
    }
    setup_testing_defaults(environ)
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"] = int(status.split()[0])
        return lambda data: None

    result = WSGIHandler()(environ, start_response)
    b"".join(result)
    result.close()
    return started["status"]


@pytest.mark.postgres_only
def test_a_pooled_connection_lost_between_requests_is_replaced_not_a_500(transactional_db, api_key):
    """With DATABASE_CONN_MAX_AGE > 0 each thread keeps its connection between requests; one
    whose server process went away meanwhile (a restart, a failover, an idle timeout) is
    checked and replaced at the next request's first query."""
    secret = api_key[1]
    max_age = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 60
    try:
        connection.close()
        assert _get("/clients", secret) == 200
        pooled = connection.connection.info.backend_pid
        server = connection.settings_dict
        with psycopg.connect(
            host=server["HOST"] or None,
            port=server["PORT"] or None,
            user=server["USER"] or None,
            password=server["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pooled])
            for _ in range(50):
                gone = admin.execute(
                    "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", [pooled]
                ).fetchone()[0]
                if gone:
                    break
                time.sleep(0.1)

        assert _get("/clients", secret) == 200
        assert connection.connection.info.backend_pid != pooled
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = max_age
        connection.close()

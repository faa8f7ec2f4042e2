"""Settings from the environment: production refuses to start without a secret; SQLite tuning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

PROJECT_ROOT = Path(settings.BASE_DIR)
# Production's secrets: long and varied enough (giftcards_project/production_checks.py).
SECRET = "a-production-secret-key-" + "Vb8n" * 8
CODE_KEY = "a-code-key-of-its-own-" + "K3w9" * 7


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process with a clean DJANGO_*/DATABASE_URL environment."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_")
        and key not in {"DATABASE_URL", "GIFTCARD_CODE_KEY", "GIFTCARD_CODE_OLD_KEYS"}
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

    assert result.returncode == 78  # EX_CONFIG: systemd's units do not restart on it
    message = result.stderr.strip()
    assert "DJANGO_SECRET_KEY" in message
    assert len(message.splitlines()) == 1, message
    assert "Traceback" not in result.stderr


def test_production_with_an_empty_secret_key_refuses_too(tmp_path):
    result = manage(tmp_path, "check", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="")

    assert result.returncode == 78
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_with_secret_key_and_hosts_passes_check(tmp_path):
    result = manage(
        tmp_path,
        "check",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=SECRET,
        GIFTCARD_CODE_KEY=CODE_KEY,
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
        f"print(s.DEBUG, s.ALLOWED_HOSTS, s.SECRET_KEY == {SECRET!r}, s.SESSION_COOKIE_SECURE)"
    )
    result = manage(
        tmp_path,
        "shell",
        "-c",
        code,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=SECRET,
        GIFTCARD_CODE_KEY=CODE_KEY,
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
    production = {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": SECRET,
        "GIFTCARD_CODE_KEY": CODE_KEY,
        "DJANGO_ALLOWED_HOSTS": "example.com",
    }

    per_process = manage(tmp_path, "check", "--deploy", REDIS_URL="", **production)
    shared = manage(
        tmp_path, "check", "--deploy", REDIS_URL="redis://127.0.0.1:6379/0", **production
    )

    assert "giftcards.W001" in per_process.stderr + per_process.stdout
    assert "giftcards.W001" not in shared.stderr + shared.stdout


def test_pooled_connections_are_health_checked_and_connects_time_out(tmp_path):
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], d['OPTIONS']['connect_timeout'])"
    )
    result = manage(
        tmp_path,
        "shell",
        "-c",
        code,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/never_connected",
        DATABASE_CONN_MAX_AGE="60",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "60 True 5"


def test_redis_calls_time_out_in_well_under_a_second(tmp_path):
    code = "from django.conf import settings as s; print(s.CACHES['default']['OPTIONS'])"
    result = manage(tmp_path, "shell", "-c", code, REDIS_URL="redis://127.0.0.1:6379/0")

    assert result.returncode == 0, result.stderr
    options = result.stdout.strip().splitlines()[-1]
    assert options == "{'socket_connect_timeout': 0.5, 'socket_timeout': 0.5}"


def wsgi_get(handler, path: str, **headers) -> int:
    """A request through Django's WSGI handler as a server makes it: request_started and
    request_finished run close_old_connections (the test client disconnects it)."""
    from django.test import RequestFactory

    environ = RequestFactory().get(path, headers=headers).environ
    statuses = []
    response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        b"".join(response)
    finally:
        response.close()
    return int(statuses[0].split()[0])


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_pooled_connection_the_server_dropped_costs_no_request(api_key, monkeypatch):
    """CONN_MAX_AGE > 0 keeps the connection between requests; when PostgreSQL has dropped it
    (restart, failover, idle timeout), the health check replaces it before the next request
    uses it, instead of that request failing."""
    import psycopg
    from django.core.handlers.wsgi import WSGIHandler

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 600)
    connection.close()  # the next connection is opened with CONN_MAX_AGE and health checks
    handler = WSGIHandler()
    auth = {"Authorization": f"Bearer {api_key[1]}"}
    try:
        assert wsgi_get(handler, "/api/gift_cards", **auth) == 200
        assert connection.connection is not None  # kept for the next request
        pid = connection.connection.info.backend_pid
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        with psycopg.connect(**params, autocommit=True) as admin:
            (terminated,) = admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()
        assert terminated

        status = wsgi_get(handler, "/api/gift_cards", **auth)

        assert status == 200
        assert connection.connection.info.backend_pid != pid
    finally:
        connection.close()


PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "8vJq-3nW_xR2pLk9TzYb7mHc4dFs6gAe1uQo0iVtNyXrBjKwZa5",
    "DJANGO_ALLOWED_HOSTS": "giftcards.example.com",
    "GIFTCARD_CODE_KEY": "Mq7rT2vX9kLp4sWz8nBc3hJd6fGy1aQe5uRo0iVtNyXjKbZw",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
    "SITE_URL": "https://giftcards.example.com",
}


def test_deploy_check_of_production_settings_reports_nothing(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout, result.stdout + result.stderr


def test_https_redirect_and_hsts_are_on_in_production_and_set_from_the_environment(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD)"
    )
    probes = (
        "import re; from django.conf import settings as s; "
        "print([any(re.search(p, path) for p in s.SECURE_REDIRECT_EXEMPT) "
        "for path in ('healthz', 'readyz', 'api/gift_cards', 'admin/')])"
    )
    exempt = manage(tmp_path, "shell", "-c", probes, **PRODUCTION)
    default = manage(tmp_path, "shell", "-c", code, **PRODUCTION)
    chosen = manage(
        tmp_path,
        "shell",
        "-c",
        code,
        **PRODUCTION,
        DJANGO_SSL_REDIRECT="0",
        DJANGO_HSTS_SECONDS="3600",
        DJANGO_HSTS_INCLUDE_SUBDOMAINS="0",
        DJANGO_HSTS_PRELOAD="0",
    )

    assert default.stdout.splitlines()[-1] == "True 31536000 True True", default.stderr
    assert chosen.stdout.splitlines()[-1] == "False 3600 False False", chosen.stderr
    # Load balancer probes speak plain HTTP to the health checks; nothing else is exempt.
    assert exempt.stdout.splitlines()[-1] == "[True, True, False, False]", exempt.stderr


def test_deploy_check_refuses_loopback_webhooks_in_production(tmp_path):
    refused = manage(tmp_path, "check", "--deploy", WEBHOOK_ALLOW_LOOPBACK_HTTP="1", **PRODUCTION)
    default = manage(tmp_path, "shell", "-c", LOOPBACK, **PRODUCTION)
    development = manage(tmp_path, "shell", "-c", LOOPBACK, DJANGO_DEBUG="1")

    assert refused.returncode != 0
    assert "giftcards.E003" in refused.stderr
    assert default.stdout.split()[-1] == "False", default.stderr
    assert development.stdout.split()[-1] == "True", development.stderr


LOOPBACK = "from django.conf import settings as s; print(s.WEBHOOK_ALLOW_LOOPBACK_HTTP)"


def test_deploy_check_warns_of_a_local_broker_and_a_loopback_site_url(tmp_path):
    production = {**PRODUCTION, "CELERY_BROKER_URL": "", "SITE_URL": ""}
    result = manage(tmp_path, "check", "--deploy", **production)

    assert "giftcards.W003" in result.stderr + result.stdout
    assert "giftcards.W004" in result.stderr + result.stdout


def test_a_work_lease_shorter_than_a_call_is_refused(tmp_path):
    short = manage(tmp_path, "check", EVENTS_WORK_LEASE_SECONDS="10", WEBHOOK_TIMEOUT="10")
    mail = manage(tmp_path, "check", EVENTS_WORK_LEASE_SECONDS="30", EMAIL_TIMEOUT="10")
    default = manage(tmp_path, "check")

    assert short.returncode != 0
    assert "giftcards.E004" in short.stderr
    assert "giftcards.W005" in mail.stderr + mail.stdout
    assert default.returncode == 0
    assert "giftcards.E004" not in default.stderr and "W005" not in default.stderr


def test_collectstatic_runs_at_build_time_without_production_secrets(tmp_path):
    """An image is built before its secrets exist: collectstatic serves nothing and reads no
    secret, so DJANGO_DEBUG=0 alone lets it run; any other command still refuses."""
    # --dry-run: the files are listed, not copied into the checkout's staticfiles/.
    collected = manage(tmp_path, "collectstatic", "--noinput", "--dry-run", DJANGO_DEBUG="0")
    refused = manage(tmp_path, "migrate", "--check", DJANGO_DEBUG="0")

    assert collected.returncode == 0, collected.stderr
    assert "Refusing to start" not in collected.stderr
    assert refused.returncode == 78
    assert "DJANGO_SECRET_KEY is not set" in refused.stderr

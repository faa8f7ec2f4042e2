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

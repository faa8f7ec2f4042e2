"""Production refuses to start on missing or weak settings, in one line and at once: in
settings.py (manage.py, Celery) and in gunicorn's master, before it binds its port."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import stack
from giftcards_project import production_checks
from giftcards_project.production_checks import problems

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Zq7" + secrets.token_urlsafe(48)
CODE_KEY = "Kc9" + secrets.token_urlsafe(40)
GOOD = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": SECRET,
    "GIFTCARD_CODE_KEY": CODE_KEY,
    "DJANGO_ALLOWED_HOSTS": "giftcards.example.com",
}


def test_complete_production_settings_have_no_problem():
    assert problems(GOOD) == []


@pytest.mark.parametrize("debug", [None, "", "1", "true", "on"])
def test_debug_mode_needs_nothing(debug):
    environ = {} if debug is None else {"DJANGO_DEBUG": debug}
    assert problems(environ) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY is not set"),
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is not set"),
        ({"DJANGO_SECRET_KEY": SECRET[:49]}, "DJANGO_SECRET_KEY is shorter than 50 characters"),
        ({"DJANGO_SECRET_KEY": "x" * 60}, "DJANGO_SECRET_KEY is a placeholder"),
        ({"DJANGO_SECRET_KEY": "django-insecure-" + SECRET}, "DJANGO_SECRET_KEY is a placeholder"),
        ({"DJANGO_SECRET_KEY": "changeme-" + SECRET}, "DJANGO_SECRET_KEY is a placeholder"),
        ({"GIFTCARD_CODE_KEY": None}, "GIFTCARD_CODE_KEY is not set"),
        ({"GIFTCARD_CODE_KEY": "short-key"}, "GIFTCARD_CODE_KEY is shorter than 32 characters"),
        (
            {"GIFTCARD_CODE_KEY": production_checks.DEVELOPMENT_KEY},
            "GIFTCARD_CODE_KEY is a placeholder",
        ),
        ({"GIFTCARD_CODE_KEY": SECRET}, "GIFTCARD_CODE_KEY must differ from DJANGO_SECRET_KEY"),
        ({"DJANGO_ALLOWED_HOSTS": None}, "DJANGO_ALLOWED_HOSTS is empty"),
        ({"DJANGO_ALLOWED_HOSTS": " , "}, "DJANGO_ALLOWED_HOSTS is empty"),
    ],
)
def test_each_missing_or_weak_setting_is_named(changes, expected):
    environ = {**GOOD, **changes}
    environ = {name: value for name, value in environ.items() if value is not None}
    found = problems(environ)
    assert len(found) == 1, found
    assert found[0].startswith(expected)


def test_every_problem_is_told_in_one_line():
    found = problems({"DJANGO_DEBUG": "0"})
    line = production_checks.message(found)
    assert len(found) == 3
    assert "\n" not in line
    for name in ("DJANGO_SECRET_KEY", "GIFTCARD_CODE_KEY", "DJANGO_ALLOWED_HOSTS"):
        assert name in line


def _gunicorn(env: dict[str, str], seconds: float) -> tuple[int | None, str, float]:
    """Start gunicorn as production does; (exit status or None if still running, output,
    seconds taken)."""
    port = stack.free_port()
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "GUNICORN_", "GIFTCARD_")) and name != "DATABASE_URL"
    }
    clean.update(
        {
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "2",
            "DJANGO_SETTINGS_MODULE": "giftcards_project.settings",
            **env,
        }
    )
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket"]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        stack.stop(process, grace=5, sweep=True)
        output, _ = process.communicate()
        return None, output, time.monotonic() - started
    return process.returncode, output, time.monotonic() - started


def _reasons(output: str) -> list[str]:
    return [line for line in output.splitlines() if "Refusing to start" in line]


def test_gunicorn_without_a_secret_key_stops_at_once_with_one_line(tmp_path):
    env = {**GOOD, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    del env["DJANGO_SECRET_KEY"]

    status, output, took = _gunicorn(env, seconds=10)

    assert status is not None, f"gunicorn still running after 10 s:\n{output}"
    assert status == production_checks.EX_CONFIG
    assert took < 10
    assert "Traceback" not in output
    reasons = _reasons(output)
    assert len(reasons) == 1, output
    assert "DJANGO_SECRET_KEY is not set" in reasons[0]
    assert "Booting worker" not in output  # stopped in the master, before any fork


def test_any_setting_settings_py_refuses_stops_the_master_before_it_serves(tmp_path):
    """settings.py refuses an unknown export storage: the master reads the settings (in a
    child) before it binds the port, and stops with that one line."""
    env = {
        **GOOD,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "EXPORTS_STORAGE": "floppy",
    }

    status, output, took = _gunicorn(env, seconds=10)

    assert status is not None, f"gunicorn still running after 10 s:\n{output}"
    assert status == production_checks.EX_CONFIG
    assert took < 10
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "EXPORTS_STORAGE" in line]
    assert lines == ["EXPORTS_STORAGE must be filesystem or s3, not 'floppy'."], output
    assert "Booting worker" not in output and "Listening at" not in output


def test_settings_that_never_finish_loading_stop_the_master_after_the_timeout():
    """The master waits GUNICORN_SETTINGS_CHECK_TIMEOUT seconds for the settings, kills the
    reading child and stops with one line (status 1: a hang may pass, so systemd retries)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings_that_hang",
        "GUNICORN_SETTINGS_CHECK_TIMEOUT": "1",
    }

    status, output, took = _gunicorn(env, seconds=15)

    assert status == 1, output
    assert took < 10
    assert "Traceback" not in output
    reasons = _reasons(output)
    assert len(reasons) == 1, output
    assert "took more than 1 s" in reasons[0]
    assert "Booting worker" not in output and "Listening at" not in output


def test_refusing_prints_one_line_and_exits_with_ex_config(capsys):
    with pytest.raises(SystemExit) as stopped:
        production_checks.enforce({"DJANGO_DEBUG": "0"}, argv=["manage.py", "migrate"])

    assert stopped.value.code == 78
    err = capsys.readouterr().err
    assert err.splitlines() == [production_checks.message(problems({"DJANGO_DEBUG": "0"}))]


@pytest.mark.parametrize(
    ("argv", "collecting"),
    [
        (["manage.py", "collectstatic", "--noinput"], True),
        (["/opt/giftcards/manage.py", "collectstatic"], True),
        (["/opt/giftcards/.venv/bin/django-admin", "collectstatic"], True),
        (["/usr/lib/python3/site-packages/django/__main__.py", "collectstatic"], True),
        (["manage.py", "migrate"], False),
        (["manage.py", "runserver", "collectstatic"], False),
        (["manage.py"], False),
        (["/opt/giftcards/.venv/bin/gunicorn", "collectstatic"], False),
        (["/opt/giftcards/.venv/bin/celery", "collectstatic"], False),
    ],
)
def test_only_collectstatic_runs_without_production_secrets(argv, collecting):
    """It serves nothing and reads no secret: an image build runs it with DJANGO_DEBUG=0."""
    assert production_checks.collecting_static(argv) is collecting
    if collecting:
        production_checks.enforce({"DJANGO_DEBUG": "0"}, argv=argv)
    else:
        with pytest.raises(SystemExit):
            production_checks.enforce({"DJANGO_DEBUG": "0"}, argv=argv)

"""requirements.txt is what production runs and all it needs: a fresh virtualenv of that file
alone has no test tooling, and gunicorn serves the app from it (DEBUG off, SQLite)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from benchmarks import stack

# One worker builds the venv once for every test here (`make test` runs pytest-xdist).
pytestmark = pytest.mark.xdist_group("runtime_venv")

ROOT = Path(__file__).resolve().parent.parent
# Filled by `make install` (Makefile: RUNTIME_WHEELS): the same pins, without the network.
WHEELS = ROOT / ".venv" / "wheels" / "runtime"
DEV_ONLY = ["pytest", "pytest_django", "xdist", "hypothesis", "schemathesis", "ruff", "playwright"]
RUNTIME = ["django", "rest_framework", "gunicorn", "celery", "psycopg", "redis", "whitenoise"]


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


def _requirement_lines(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dev_requirements_are_runtime_plus_tooling_only():
    runtime = _requirement_lines("requirements.txt")
    dev = _requirement_lines("requirements-dev.txt")
    assert dev[0] == "-r requirements.txt"
    names = {line.split("==")[0].split("[")[0].lower() for line in runtime}
    assert not names & {"pytest", "hypothesis", "ruff", "playwright", "schemathesis"}
    assert not names & {line.split("==")[0].lower() for line in dev[1:]}
    assert all("==" in line for line in runtime + dev[1:])  # pinned


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory) -> Path:
    """A virtualenv of requirements.txt only: from the wheels `make install` kept when they
    are all there, else from the package index."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    # This venv's pip installs into the new one: no pip of its own to set up first.
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    requirements = ["-r", str(ROOT / "requirements.txt")]
    installed = None
    if WHEELS.is_dir():
        installed = _run(
            [*pip, "--no-index", "--find-links", str(WHEELS), *requirements], timeout=300
        )
    if installed is None or installed.returncode != 0:  # no wheels yet, or a pin added since
        installed = _run([*pip, *requirements], timeout=600)
    assert installed.returncode == 0, installed.stderr[-4000:]
    return python


def test_the_runtime_venv_has_no_test_tooling(runtime_venv):
    code = (
        "import importlib.util as u, sys; "
        "print(' '.join(n for n in sys.argv[1:] if u.find_spec(n) is not None))"
    )
    dev = _run([str(runtime_venv), "-c", code, *DEV_ONLY], timeout=60)
    runtime = _run([str(runtime_venv), "-c", code, *RUNTIME], timeout=60)

    assert dev.returncode == 0, dev.stderr
    assert dev.stdout.split() == []
    assert runtime.stdout.split() == RUNTIME


def _get(port: int, path: str) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_gunicorn_serves_the_app_from_the_runtime_venv(runtime_venv, tmp_path):
    bin_dir = runtime_venv.parent
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "giftcards_project.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "GIFTCARD_CODE_KEY": secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SSL_REDIRECT": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_FOLDER": str(tmp_path / "broker"),
        "EXPORTS_ROOT": str(tmp_path / "exports"),
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
    }
    migrated = _run(
        [str(runtime_venv), "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, timeout=180
    )
    assert migrated.returncode == 0, migrated.stderr[-4000:]

    port = stack.free_port()
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    command = [str(bin_dir / "gunicorn"), "-c", "gunicorn.conf.py", "--no-control-socket"]
    started = time.monotonic()
    with stack.gunicorn(command, port=port, env=env, log_path=tmp_path / "server.log", cwd=ROOT):
        healthz = _get(port, "/healthz")
        readyz = _get(port, "/readyz")
    log = (tmp_path / "server.log").read_text()

    assert healthz == (200, '{"status": "ok"}'), log
    assert readyz[0] == 200, (readyz, log)
    assert time.monotonic() - started < 60
    assert "Traceback" not in log

"""gunicorn.conf.py: sizing, binding, timeouts and proxy trust come from the environment, and
gunicorn itself accepts the file."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "gunicorn.conf.py"
VARIABLES = [
    "GUNICORN_WORKERS",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_BIND",
    "PORT",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_ACCESS_LOG",
    "FORWARDED_ALLOW_IPS",
]


@pytest.fixture
def load(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def load(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(CONFIG))

    return load


def test_defaults_suit_one_machine(load, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    settings = load()
    assert settings["workers"] == 5  # 2 x 2 CPUs + 1
    assert settings["threads"] == 4
    assert settings["worker_class"] == "gthread"
    assert settings["bind"] == ["127.0.0.1:8000"]
    assert (settings["timeout"], settings["graceful_timeout"]) == (30, 30)
    assert settings["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert settings["wsgi_app"] == "giftcards_project.wsgi:application"
    assert settings["logger_class"] == "giftcards_project.gunicorn_logging.RedactingLogger"
    assert settings["accesslog"] == "-"


def test_workers_are_capped_on_a_big_machine(load, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert load()["workers"] == 12


def test_everything_comes_from_the_environment(load):
    settings = load(
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="8",
        GUNICORN_BIND="127.0.0.1:9000, unix:/run/giftcards.sock",
        GUNICORN_TIMEOUT="60",
        GUNICORN_GRACEFUL_TIMEOUT="20",
        GUNICORN_KEEPALIVE="2",
        GUNICORN_ACCESS_LOG="/var/log/giftcards/access.log",
        FORWARDED_ALLOW_IPS="10.0.0.7,10.0.0.8",
    )
    assert (settings["workers"], settings["threads"]) == (3, 8)
    assert settings["bind"] == ["127.0.0.1:9000", "unix:/run/giftcards.sock"]
    assert (settings["timeout"], settings["graceful_timeout"], settings["keepalive"]) == (60, 20, 2)
    assert settings["accesslog"] == "/var/log/giftcards/access.log"
    assert settings["forwarded_allow_ips"] == "10.0.0.7,10.0.0.8"


def test_platform_conventions_are_honoured(load):
    """WEB_CONCURRENCY and PORT, as platforms set them, when ours are not set."""
    settings = load(WEB_CONCURRENCY="2", PORT="5000")
    assert settings["workers"] == 2
    assert settings["bind"] == ["0.0.0.0:5000"]
    assert load(GUNICORN_WORKERS="7")["workers"] == 7


def test_an_empty_access_log_setting_turns_the_access_log_off(load):
    assert load(GUNICORN_ACCESS_LOG="")["accesslog"] is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GUNICORN_WORKERS", "many", "GUNICORN_WORKERS must be an integer, not 'many'."),
        ("GUNICORN_WORKERS", "0", "GUNICORN_WORKERS must be at least 1, not 0."),
        ("GUNICORN_THREADS", "0", "GUNICORN_THREADS must be at least 1, not 0."),
    ],
)
def test_a_bad_number_stops_gunicorn_with_a_reason(load, capsys, name, value, message):
    with pytest.raises(SystemExit) as stopped:
        load(**{name: value})
    assert stopped.value.code == 78  # EX_CONFIG: systemd does not restart on it
    assert capsys.readouterr().err.splitlines() == [message]


def test_gunicorn_accepts_the_file():
    env = {name: value for name, value in os.environ.items() if name not in VARIABLES}
    checked = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "--config", str(CONFIG)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr


def test_starting_empties_the_metrics_folder_of_a_previous_run(load, monkeypatch, tmp_path):
    """prometheus_client's files left by the last run would add their counts to this one's."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_4242.db").write_bytes(b"stale")
    (folder / "histogram_4243.db").write_bytes(b"stale")
    (folder / "README").write_text("not prometheus_client's")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    monkeypatch.delenv("DJANGO_DEBUG", raising=False)

    load()["on_starting"](None)

    assert sorted(path.name for path in folder.iterdir()) == ["README"]


def test_starting_creates_a_missing_metrics_folder(load, monkeypatch, tmp_path):
    folder = tmp_path / "run" / "prometheus"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    monkeypatch.delenv("DJANGO_DEBUG", raising=False)

    load()["on_starting"](None)

    assert folder.is_dir() and not any(folder.iterdir())

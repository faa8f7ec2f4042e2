"""The production-like stack the HTTP benchmarks run: settings, a fresh database, and
gunicorn on a free port of 127.0.0.1, in a process group of its own, always stopped."""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
PROJECT_SETTINGS = "giftcards_project.settings"


def environment(
    admin_url: str,
    database: str,
    *,
    settings_module: str = PROJECT_SETTINGS,
    conn_max_age: int | None = None,
    redis_url: str | None = None,
    cache_key_prefix: str = "",
    log_level: str = "WARNING",
    **extra: str,
) -> dict[str, str]:
    """Settings for this process and the server, set in os.environ and returned.

    Without `redis_url` each worker has its own cache (REDIS_URL is removed); without
    `conn_max_age` DATABASE_CONN_MAX_AGE is left as it was. `extra`: more variables (rates).
    """
    admin = admin_url.rsplit("/", 1)[0]
    os.environ.update(
        DATABASE_URL=f"{admin}/{database}",
        DJANGO_SETTINGS_MODULE=settings_module,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(40),
        GIFTCARD_CODE_KEY=secrets.token_urlsafe(40),
        # Plain HTTP on the loopback: in production TLS ends in front of the server.
        DJANGO_SSL_REDIRECT="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL=log_level,
        **extra,
    )
    if conn_max_age is not None:
        os.environ["DATABASE_CONN_MAX_AGE"] = str(conn_max_age)
    # The kick after a money move's commit goes where production sends it, a Redis broker,
    # on a queue no worker serves (a benchmark measures the web side; `redis_check` empties
    # it); without Redis, nowhere (each process's memory).
    os.environ["CELERY_QUEUE"] = f"stack-{database}"
    if redis_url is None:
        os.environ.pop("REDIS_URL", None)
        os.environ["CELERY_BROKER_URL"] = "memory://"
    else:
        os.environ.update(
            REDIS_URL=redis_url, CACHE_KEY_PREFIX=cache_key_prefix, CELERY_BROKER_URL=redis_url
        )
    return dict(os.environ)


def database_recreate(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def redis_check(url: str) -> None:
    """The throttles need the cache: fail here, not as a 500 on every request. Empties the
    stack's task queue, which a previous run left with the kicks nobody served."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
        queue = os.environ.get("CELERY_QUEUE", "")
        if queue.startswith("stack-"):
            client.delete(queue)
    finally:
        client.close()


def source_version() -> str:
    """The commit measured, and whether the working tree had changes on top of it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    changed = len(dirty.stdout.splitlines())
    return head.stdout.strip() + (f" + {changed} files changed or new" if changed else "")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        healthy = connection.getresponse().status == 200
        connection.close()
    except OSError:
        return False
    return healthy


def wait_ready(
    port: int,
    process: subprocess.Popen,
    seconds: float,
    ready: Callable[[subprocess.Popen], bool] | None = None,
) -> None:
    """Until /healthz answers (and `ready` holds, when given) while gunicorn lives."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before it was ready")
        if _healthy(port) and (ready is None or ready(process)):
            return
        time.sleep(0.2)
    if ready is None:
        raise RuntimeError(f"gunicorn did not answer /healthz within {seconds:.0f} s")
    raise RuntimeError(f"gunicorn was not ready within {seconds:.0f} s")


def stop(process: subprocess.Popen, *, grace: float = 20, sweep: bool = False) -> None:
    """SIGTERM (the master stops its workers gracefully), then SIGKILL to the group.

    `sweep`: SIGKILL the group in any case, for workers left behind by a killed master.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this process leads: its workers
            process.wait(timeout=10)
    if sweep:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def gunicorn(
    command: list[str],
    *,
    port: int,
    env: dict[str, str],
    log_path: Path,
    seconds: float = 60,
    ready: Callable[[subprocess.Popen], bool] | None = None,
    cwd: Path | None = None,
    grace: float = 20,
    sweep: bool = False,
) -> Iterator[subprocess.Popen]:
    """Run `command` (serving on `port`) for the block, once ready; its output to `log_path`."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_ready(port, process, seconds, ready)
            yield process
        finally:
            stop(process, grace=grace, sweep=sweep)

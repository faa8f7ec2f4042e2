"""The server under test: gunicorn serving the project's WSGI application (timed, with the
baselines' routes) with sync workers on 127.0.0.1, always stopped."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from benchmarks import stack


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int, log_path: Path) -> Iterator[int]:
    """Serve on a free port for the duration of the block; yields the port."""
    port = stack.free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "benchmarks.http_bench.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=sync",
        "--timeout=120",
        "--graceful-timeout=10",
        "--log-level=warning",
        f"--chdir={stack.ROOT}",
    ]
    with stack.gunicorn(command, port=port, env=env, log_path=log_path):
        yield port

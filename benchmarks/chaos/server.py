"""The server under fire: gunicorn with the repository's gunicorn.conf.py on a free port of
127.0.0.1, in a process group of its own, always stopped."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.chaos.faults import children
from benchmarks.http_bench.server import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "gunicorn.conf.py"


@dataclass(frozen=True)
class Server:
    port: int
    master_pid: int


def _wait_ready(port: int, process: subprocess.Popen, workers: int, seconds: float) -> None:
    """Until /healthz answers and every worker has booted."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before it was ready")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            healthy = connection.getresponse().status == 200
            connection.close()
        except OSError:
            healthy = False
        if healthy and len(children(process.pid)) >= workers:
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn was not ready within {seconds:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the master stops its workers gracefully
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a worker left behind, of this group only


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], *, workers: int, threads: int, access_log: Path, server_log: Path
) -> Iterator[Server]:
    """Serve for the duration of the block with the repository's gunicorn.conf.py."""
    port = free_port()
    env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_ACCESS_LOG": str(access_log),
        "GUNICORN_ERROR_LOG": "-",
        "GUNICORN_GRACEFUL_TIMEOUT": "10",
    }
    command = [sys.executable, "-m", "gunicorn", "--config", str(CONFIG)]
    with server_log.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_ready(port, process, workers, seconds=90)
            yield Server(port=port, master_pid=process.pid)
        finally:
            _stop(process)

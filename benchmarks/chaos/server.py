"""The server under fire: gunicorn with the repository's gunicorn.conf.py on a free port of
127.0.0.1, in a process group of its own, always stopped."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks import stack
from benchmarks.chaos.faults import children

ROOT = stack.ROOT
CONFIG = ROOT / "gunicorn.conf.py"


@dataclass(frozen=True)
class Server:
    port: int
    master_pid: int


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], *, workers: int, threads: int, access_log: Path, server_log: Path
) -> Iterator[Server]:
    """Serve for the duration of the block with the repository's gunicorn.conf.py."""
    port = stack.free_port()
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

    def workers_booted(process: subprocess.Popen) -> bool:
        return len(children(process.pid)) >= workers

    with stack.gunicorn(
        command,
        port=port,
        env=env,
        log_path=server_log,
        seconds=90,
        ready=workers_booted,
        cwd=ROOT,
        grace=30,
        sweep=True,  # a worker left behind, of this group only
    ) as process:
        yield Server(port=port, master_pid=process.pid)

"""Celery workers and beat as the worker test and the events benchmark run them: on the
caller's broker under keys of their own, each in a process group of its own, always stopped.

Every process is started through `tests/celery_guarded.py`: it stays on this machine, and
puts every broker key it writes under the run's prefix (CELERY_KEY_PREFIX), so that runs
sharing a Redis database never take each other's messages and each deletes its own keys.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis

from benchmarks import stack

KEY_PREFIX = "CELERY_KEY_PREFIX"  # read by tests/celery_guarded.py
READY = {"worker": re.compile(r" ready\.$", re.M), "beat": re.compile(r"beat: Starting\.\.\.")}


def run_names(label: str) -> tuple[str, str]:
    """(queue, broker key prefix), both unique to this run."""
    tag = f"{label}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return f"giftcards-{tag}", f"giftcards-{tag}:"


def isolate_keys(prefix: str) -> None:
    """This process's Celery app writes its broker keys under `prefix` too (before it first
    connects)."""
    from django.conf import settings

    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "global_keyprefix": prefix,
    }


def forget_keys(redis_url: str, prefix: str) -> int:
    """Delete the keys under `prefix` (not FLUSHDB: other runs share the database)."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


class Process:
    """One celery process (a worker and its pool, or beat), its output in `log_path`."""

    def __init__(self, name: str, kind: str, command: list[str], env: dict, log_path: Path):
        self.name = name
        self.kind = kind
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                command,
                cwd=stack.ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own: its pool goes with it
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ready(self) -> bool:
        return bool(READY[self.kind].search(self.log()))

    def group(self) -> list[int]:
        """The live (not zombie) processes of its group: itself and its pool (Linux)."""
        members = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if int(group) == self.popen.pid and state != "Z":
                members.append(int(stat.parent.name))
        return members

    def kill(self) -> int:
        """`kill -9` of the whole group, the process and its prefork children at once; returns
        how many died, once none is left."""
        members = self.group()
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.group():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {self.group()} outlived kill -9 of the group")
            time.sleep(0.05)
        return len(members)

    def stop(self) -> None:
        stack.stop(self.popen, grace=10, sweep=True)


class Cluster:
    """Workers and beat sharing `env` (broker, queue, key prefix, database, ...)."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env = env
        self.logs = logs
        self.processes: list[Process] = []

    def _start(self, name: str, kind: str, *arguments: str) -> Process:
        command = [sys.executable, "-m", "tests.celery_guarded", "-A", "giftcards_project"]
        process = Process(name, kind, [*command, *arguments], self.env, self.logs / f"{name}.log")
        self.processes.append(process)
        return process

    def worker(self, name: str, concurrency: int = 2, pool: str = "prefork") -> Process:
        return self._start(
            name,
            "worker",
            "worker",
            f"--hostname={name}-{uuid.uuid4().hex[:6]}@%h",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            # Workers of other runs on the same broker are no business of these.
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        )

    def beat(self, name: str = "beat") -> Process:
        schedule = self.logs / f"{name}-schedule"
        return self._start(name, "beat", "beat", "--loglevel=INFO", f"--schedule={schedule}")

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        waiting = list(self.processes)
        while waiting:
            for process in waiting:
                if process.popen.poll() is not None:
                    raise RuntimeError(
                        f"{process.name} exited with {process.popen.returncode} before it was "
                        f"ready\n{self.tails()}"
                    )
            waiting = [process for process in waiting if not process.ready()]
            if waiting and time.monotonic() > deadline:
                names = ", ".join(process.name for process in waiting)
                raise RuntimeError(f"not ready within {seconds:.0f} s: {names}\n{self.tails()}")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in reversed(self.processes):  # beat first: no new sweeps for the workers
            process.stop()

    def tails(self, lines: int = 60) -> str:
        shown = []
        for process in self.processes:
            tail = process.log().splitlines()[-lines:]
            shown.append(f"----- {process.name} ({process.log_path}), last {lines} lines")
            shown.extend(tail)
        return "\n".join(shown)


def environment(
    *,
    database_url: str,
    broker_url: str,
    queue: str,
    prefix: str,
    base: dict[str, str] | None = None,
    **extra: str,
) -> dict[str, str]:
    """The workers' environment: `base` (os.environ by default) with the run's broker, queue,
    key prefix and database, and `extra` (leases, timeouts, keys)."""
    env = dict(os.environ if base is None else base)
    env.update(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        CELERY_QUEUE=queue,
        **{KEY_PREFIX: prefix},
        **extra,
    )
    return env

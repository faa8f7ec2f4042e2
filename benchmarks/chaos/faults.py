"""The faults: `kill -9` of a gunicorn worker of the master this run started (never any
other process), and `pg_terminate_backend` of the backends connected to this run's own
database (never another database's; all of them, or only the idle ones), taking turns at
jittered intervals."""

from __future__ import annotations

import os
import random
import signal
import threading
from pathlib import Path

import psycopg


def children(parent: int) -> list[int]:
    """The live processes whose parent is `parent` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


class Faults(threading.Thread):
    """Injects faults every `every` seconds on average until stopped; counts them."""

    TERMINATE = (
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()"
    )
    # Only backends waiting for their next statement: resting in a thread's pool between
    # requests, or between two statements of one request (not in a query or a transaction).
    TERMINATE_IDLE = TERMINATE + " AND state = 'idle'"

    def __init__(
        self,
        *,
        master_pid: int,
        admin_url: str,
        database: str,
        every: float,
        seed,
        idle_only: bool = False,
    ):
        super().__init__(daemon=True)
        self.master_pid = master_pid
        self.admin_url = admin_url
        self.database = database
        self.terminate = self.TERMINATE_IDLE if idle_only else self.TERMINATE
        self.every = every
        self.random = random.Random(f"{seed}-faults")
        self.stopping = threading.Event()
        self.kills: list[int] = []  # pids killed
        self.termination_rounds = 0
        self.backends_terminated = 0
        self.errors: list[str] = []

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)

    def run(self) -> None:
        turn = 0
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as admin:
            while not self.stopping.wait(self.every * (0.5 + self.random.random())):
                try:
                    if turn % 2 == 0:
                        self.kill_a_worker()
                    else:
                        self.terminate_backends(admin)
                except (OSError, psycopg.Error) as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                turn += 1

    def kill_a_worker(self) -> None:
        workers = children(self.master_pid)
        if not workers:
            return  # all being replaced: the next turn finds new ones
        victim = self.random.choice(workers)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.kills.append(victim)

    def terminate_backends(self, admin: psycopg.Connection) -> None:
        (count,) = admin.execute(self.terminate, [self.database]).fetchone()
        self.termination_rounds += 1
        self.backends_terminated += count

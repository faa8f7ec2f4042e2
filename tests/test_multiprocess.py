"""`make multiprocess`: two app servers and a Celery worker on one PostgreSQL and one Redis
keep nothing per process (throttles, idempotency, sessions, events); the short run passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import live_services

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.postgres_only
def test_two_servers_and_a_worker_behave_as_one(tmp_path):
    redis_url = live_services.redis_url(
        "MULTIPROC_REDIS_URL", "redis://127.0.0.1:6379/9", "multiprocess"
    )
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.multiprocess",
            "--short",
            f"--admin-url={live_services.admin_url()}",
            f"--database=giftcards_multiproc_test_{os.getpid()}",
            f"--redis-url={redis_url}",
            f"--logs={tmp_path}",
            "--drop",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "all checks passed" in run.stdout
    for part in ("same key to A and B", "code lookups", "admin: sign in here", "webhook calls"):
        (line,) = [line for line in run.stdout.splitlines() if line.startswith(part)]
        assert line.rstrip().endswith("PASS"), line

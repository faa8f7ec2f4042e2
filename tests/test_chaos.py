"""`make chaos`: the short run (money moves through both APIs under gunicorn while its
workers are killed and its database connections terminated) passes every check, and the
checks catch what they are for."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.chaos import verdict
from benchmarks.chaos.storm import PLAIN_DEBIT, Attempt, Operation
from benchmarks.chaos.verdict import operation_problems
from tests import live_services

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.postgres_only
def test_a_short_storm_with_faults_passes_every_check(tmp_path):
    redis_url = live_services.redis_url("CHAOS_REDIS_URL", "redis://127.0.0.1:6379/14", "chaos")
    database = f"giftcards_chaos_test_{os.getpid()}"
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.chaos",
            "--short",
            f"--admin-url={live_services.admin_url()}",
            f"--database={database}",
            f"--redis-url={redis_url}",
            f"--logs={tmp_path}",
            "--drop",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "all checks passed" in run.stdout
    for check in ("no 5xx after a committed move", "every card reconciles", "faults were injected"):
        assert f"PASS  {check}" in run.stdout
    access_log = (tmp_path / "access.log").read_text()
    assert re.search(r"GET /api/gift_cards\?filter[^ =]*code[^ =]*=\[redacted\]", access_log)


# ---------------------------------------------------------------------------- the verdict


def _operation(*attempts: Attempt, key: str | None = "k-1") -> Operation:
    operation = Operation(1, PLAIN_DEBIT, "card-1", 500, "P-run-1", key)
    operation.attempts.extend(attempts)
    return operation


def _row(at: float, row_id: int = 7, **fields) -> dict:
    row = {
        "id": row_id,
        "kind": "debit",
        "card_id": "card-1",
        "amount_cents": -500,
        "note": "P-run-1",
        "order_reference": "",
        "refund_of_id": None,
        "idempotency_key": "plain:1:abc",
        "created_at": dt.datetime.fromtimestamp(at, dt.UTC),
    }
    return {**row, **fields}


def _created(payment_id: int = 7, **fields) -> Attempt:
    return Attempt(body=json.dumps({"paymentId": payment_id}).encode(), **fields)


def test_a_500_over_a_committed_move_is_caught_even_when_a_retry_succeeds():
    failed = Attempt(sent=100.0, done=101.0, status=500)
    retried = _created(sent=102.0, done=103.0, status=201)
    problems = operation_problems(_operation(failed, retried), [_row(100.5)])
    assert list(problems) == ["no 5xx after a committed move"]
    assert verdict.committer(_operation(failed, retried), _row(100.5)) is failed


def test_a_dropped_request_whose_move_committed_is_allowed():
    dropped = Attempt(sent=100.0, done=100.2, status=None, error="RemoteDisconnected")
    retried = _created(sent=101.0, done=101.5, status=201, replayed=False)
    assert operation_problems(_operation(dropped, retried), [_row(100.1)]) == {}


def test_a_timed_out_request_still_running_is_the_one_that_committed():
    """No answer is an open window: the server may commit after the client gave up."""
    timed_out = Attempt(sent=100.0, done=120.0, status=None, error="TimeoutError")
    in_use = Attempt(sent=120.5, done=120.6, status=409, body=b'{"code":"idempotency_key_in_use"}')
    operation = _operation(timed_out, in_use)
    assert verdict.committer(operation, _row(120.55)) is timed_out
    assert operation_problems(operation, [_row(120.55)]) == {}


def test_a_2xx_without_its_ledger_row_is_reported():
    problems = operation_problems(_operation(_created(sent=1.0, done=2.0, status=201)), [])
    assert list(problems) == ["every 2xx has its ledger row"]


def test_a_keyed_retry_that_moved_the_money_again_is_reported():
    first = _created(sent=1.0, done=2.0, status=201)
    again = _created(payment_id=8, sent=3.0, done=4.0, status=201)
    rows = [_row(1.5), _row(3.5, row_id=8)]
    problems = operation_problems(_operation(first, again), rows)
    assert "moved at most once" in problems
    assert "every 2xx has its ledger row" in problems


def test_a_refusal_over_a_committed_move_is_reported():
    refused = Attempt(sent=1.0, done=2.0, status=422)
    problems = operation_problems(_operation(refused, key=None), [_row(1.5)])
    assert list(problems) == ["no refusal after a committed move"]


def test_server_500s_are_told_apart_by_where_the_database_failed():
    log = (
        "x ERROR django.request Internal Server Error: /payments\nTraceback\n"
        '  File "clients/auth.py", line 67, in authenticate\n'
        "django.db.utils.OperationalError: server closed the connection unexpectedly\n"
        "x ERROR django.request Internal Server Error: /payments\nTraceback\n"
        '  File "giftcards/idempotency.py", line 110, in _claim\n'
        "django.db.utils.OperationalError: terminating connection due to administrator command\n"
    )
    assert verdict.server_errors(log) == {
        "database failed while authenticating": 1,
        "database failed later in the request": 1,
    }

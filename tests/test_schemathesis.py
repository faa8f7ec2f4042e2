"""A short schemathesis run against each API's OpenAPI document, served by a live server:
every phase and check of `make fuzz` (benchmarks/fuzz/schemathesis_cli.py), a few examples
per operation. Any 5xx, undocumented status, content type or header, or body that does not
match its documented shape fails it. `make fuzz` runs the same against gunicorn and
PostgreSQL for at least 10,000 requests per document."""

from __future__ import annotations

import json

import pytest

from benchmarks.fuzz.schemathesis_cli import Run, verdict
from giftcards.models import Status

SHORT = {"plain": (8, 45), "jsonapi": (1, 60)}  # examples per operation and phase, seconds


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["plain", "jsonapi"])
def test_schemathesis_finds_nothing_in_a_short_run(
    name, live_server, api_key, make_card, tmp_path, settings
):
    for balance in (1_000, 2_500):
        make_card(balance_cents=balance, status=Status.ACTIVE)
    examples, seconds = SHORT[name]
    run = Run(name, live_server.url, api_key[1], examples, seconds, seed=7)
    process = run.start(tmp_path)
    process.wait(timeout=seconds + 120)
    found = verdict(run.report_path(tmp_path))
    log = run.log_path(tmp_path).read_text(errors="replace")
    assert found.test_cases > 50, log[-3000:]
    assert found.clean, (
        found.summary() + "\n" + json.dumps(found.failures, indent=1)[:3000] + log[-4000:]
    )

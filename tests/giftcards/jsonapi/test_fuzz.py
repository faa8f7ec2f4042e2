"""A short run of the JSON:API fuzzer (benchmarks/fuzz/jsonapi.py) in-process, on both
engines: a few hundred requests drawn from the resources, valid and broken alike, and not
one answer of 500 or more. `make fuzz` runs it, with schemathesis on the plain API, against a
real server for tens of thousands of requests."""

from __future__ import annotations

import pytest

from benchmarks.fuzz import jsonapi
from benchmarks.fuzz.transports import DjangoTransport
from clients.services import api_key_create
from clients.tenancy import Mode

EXAMPLES = 400


@pytest.fixture
def test_mode_secret(business):
    return api_key_create(business=business, name="fuzz-test", mode=Mode.TEST)[1]


@pytest.fixture
def loopback_receivers(settings):
    """Webhooks the fuzzer draws to 127.0.0.1 and localhost are accepted (as in development),
    so updates, triggers and deletes reach real webhooks; nothing is delivered in-process."""
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True


@pytest.mark.parametrize("seed", [1, 2])
def test_no_request_the_fuzzer_draws_is_a_server_error(
    api_key, test_mode_secret, loopback_receivers, seed
):
    result = jsonapi.run(
        DjangoTransport(),
        secret=api_key[1],
        other_secret=test_mode_secret,
        examples=EXAMPLES,
        seed=seed,
    )

    assert result.requests == EXAMPLES
    assert result.findings == []
    assert result.server_errors == 0
    # The run reached the handlers, not only the refusals in front of them.
    assert result.statuses[200] > 10
    assert sum(result.statuses[status] for status in (400, 404, 409, 415, 422)) > 50

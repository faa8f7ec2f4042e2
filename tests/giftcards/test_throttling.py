"""The per-key throttles over HTTP: code lookups hold their limit under a simultaneous burst on
a real Redis; with Redis down money keeps moving (the per-key throttle fails open, with a
warning) while code lookups fail closed with a 503 in the API's format."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from giftcards.models import GiftCard
from giftcards.throttling import ApiKeyRateThrottle, CodeLookupThrottle
from tests import caches
from tests.giftcards.jsonapi.conftest import JsonApiClient, resource
from tests.giftcards.jsonapi.helpers import error, patch_card
from tests.giftcards.plain_api.helpers import api_client

RATES = {"code_lookup": "30/min", "api_key": "6000/min"}


@pytest.fixture
def mid_window(monkeypatch):
    """The throttles' clock stays 30 s into the current minute: a burst cannot straddle two
    windows (which a fixed window would count apart; see giftcards.ratelimit)."""
    now = time.time() // 60 * 60 + 30
    monkeypatch.setattr(ApiKeyRateThrottle, "timer", staticmethod(lambda: now))


@pytest.fixture
def lookup_rates(monkeypatch):
    monkeypatch.setattr(CodeLookupThrottle, "THROTTLE_RATES", RATES)


@pytest.mark.django_db(transaction=True)
def test_sixty_simultaneous_code_lookups_on_redis_let_thirty_pass(
    redis_cache, api_key, mid_window, lookup_rates
):
    secret = api_key[1]
    assert JsonApiClient(secret).get("/api/gift_cards").status_code == 200  # not a lookup
    barrier = threading.Barrier(60)
    results: list = [None] * 60

    def worker(i: int) -> None:
        try:
            api = JsonApiClient(secret)
            barrier.wait(timeout=30)
            response = api.get("/api/gift_cards", {"filter[code]": f"GUESS-{i:04}-CODE"})
            results[i] = (response.status_code, response.get("Retry-After"))
        except Exception as exc:  # reported by the assertion below
            results[i] = (None, repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(status for status, _ in results) == {200: 30, 429: 30}, results
    assert {retry for status, retry in results if status == 429} == {"30"}


def test_a_lookup_action_spends_one_code_lookup(api_key, monkeypatch):
    """The contract of a code-lookup endpoint: its action is `lookup`."""
    monkeypatch.setattr(CodeLookupThrottle, "THROTTLE_RATES", {"code_lookup": "2/min"})

    class LookupView:
        action = "lookup"

    def allowed() -> bool:
        raw = APIRequestFactory().post("/lookup", {"code": "ABCD-EFGH-JKLM"}, format="json")
        request = Request(raw, parsers=[JSONParser()])
        request.auth = api_key[0]
        return CodeLookupThrottle().allow_request(request, LookupView())

    assert [allowed(), allowed(), allowed()] == [True, True, False]


def test_with_redis_down_money_still_moves_with_a_warning(redis_down, api_key, make_card, caplog):
    jsonapi, plain = JsonApiClient(api_key[1]), api_client(api_key[1])
    card = make_card(balance_cents=5_000)
    caplog.set_level(logging.WARNING)

    debit = patch_card(jsonapi, card.pk, {"_balance_change_cents": -1_000})
    payment = plain.post("/payments", {"giftCardUUId": card.pk, "amount": "5.00"}, format="json")

    assert debit.status_code == 200, debit.doc
    assert payment.status_code == 201, payment.content
    assert GiftCard.objects.get(pk=card.pk).balance_cents == 3_500
    warnings = [r for r in caplog.records if r.name == "giftcards.outages"]
    assert len(warnings) == 2
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in warnings)
    assert "Cache unavailable" in warnings[0].getMessage()


def test_with_redis_down_code_lookups_fail_closed_with_a_503(redis_down, api_key, make_card):
    jsonapi = JsonApiClient(api_key[1])
    make_card(code="K7QM-X2PD-9RTA")

    lookup = jsonapi.get("/api/gift_cards", {"filter[code]": "K7QM-X2PD-9RTA"})
    create = jsonapi.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1, "code": "GUESS-0001-XYZ"})
    )
    listing = jsonapi.get("/api/gift_cards")

    for refused in (lookup, create):
        problem = error(refused, 503)
        assert problem["code"] == "SERVICE_UNAVAILABLE"
        assert "Code lookups are unavailable" in problem["detail"]
        assert refused["Retry-After"] == "30"
    assert not GiftCard.objects.filter(code_last4="1XYZ").exists()
    assert listing.status_code == 200  # no code looked up: the per-key throttle fails open


def test_with_a_redis_that_never_answers_a_debit_still_answers_quickly(
    settings, api_key, make_card
):
    jsonapi = JsonApiClient(api_key[1])
    card = make_card(balance_cents=5_000)

    with caches.silent_server() as port:
        settings.CACHES = caches.redis_caches(f"redis://127.0.0.1:{port}/0")
        started = time.monotonic()
        debit = patch_card(jsonapi, card.pk, {"_balance_change_cents": -1_000})
        elapsed = time.monotonic() - started

    assert debit.status_code == 200, debit.doc
    assert elapsed < 3 * settings.REDIS_CACHE_OPTIONS["socket_timeout"] + 2


def test_a_request_the_per_key_throttle_refuses_spends_no_code_lookup(
    api_key, mid_window, monkeypatch
):
    api = JsonApiClient(api_key[1])

    def look(code: str):
        return api.get("/api/gift_cards", {"filter[code]": code})

    monkeypatch.setattr(
        ApiKeyRateThrottle, "THROTTLE_RATES", {"code_lookup": "3/min", "api_key": "2/min"}
    )
    assert [look("K7QM-X2PD-9RTA").status_code for _ in range(3)] == [200, 200, 429]

    # More requests per key now: the refused request above must not have spent a lookup.
    monkeypatch.setattr(
        ApiKeyRateThrottle, "THROTTLE_RATES", {"code_lookup": "3/min", "api_key": "100/min"}
    )
    assert look("K7QM-X2PD-9RTA").status_code == 200
    assert look("K7QM-X2PD-9RTA").status_code == 429

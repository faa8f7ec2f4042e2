"""Two PATCHes racing for the same last dollar through the JSON:API: exactly one wins."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from giftcards.models import BalanceLog, GiftCard
from tests.giftcards.jsonapi.conftest import JsonApiClient
from tests.giftcards.jsonapi.helpers import patch_card


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_debits_of_the_last_dollar_one_wins(api_key, make_card):
    card = make_card(balance_cents=100)
    barrier = threading.Barrier(2)
    statuses = []

    def debit():
        client = JsonApiClient(api_key[1])
        barrier.wait()
        try:
            response = patch_card(client, card.pk, {"_balance_change_cents": -100})
            statuses.append((response.status_code, response.doc))
        finally:
            connection.close()

    threads = [threading.Thread(target=debit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(status for status, _ in statuses) == [200, 422]
    refused = next(doc for status, doc in statuses if status == 422)
    assert refused["errors"][0]["code"] == "VALIDATION_ERROR"
    assert refused["errors"][0]["meta"]["error"] in {"insufficient_balance", "card_not_active"}
    stored = GiftCard.objects.get(pk=card.pk)
    assert (stored.balance_cents, stored.status) == (0, "redeemed")
    assert BalanceLog.objects.filter(card=card, kind="debit").count() == 1

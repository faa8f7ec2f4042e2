"""A committed JSON:API write is never answered with an error: the database may vanish right
after the commit (a terminated backend, a failover) and the response is still the success
the client must not retry. And what the response needs that can fail (the code's
decryption, the included tags) is done before the commit: if it fails, nothing moved."""

from __future__ import annotations

import pytest
from django.db import connection

from giftcards import codes
from giftcards.models import BalanceLog, GiftCard
from tests.giftcards.jsonapi.conftest import resource

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def card(make_card):
    return make_card(rechargeable=True)


@pytest.mark.parametrize("key", [None, "shop-order-1"])
@pytest.mark.parametrize(
    "params", [None, {"include": "tags"}, {"fields[gift_cards]": "balance_cents,code"}]
)
def test_a_debit_is_answered_after_the_database_went_away(
    api, card, database_gone_after_commit, key, params
):
    body = resource("gift_cards", {"_balance_change_cents": -2_500}, id_=card.pk)
    headers = {"Idempotency-Key": key} if key else {}
    with connection.execute_wrapper(database_gone_after_commit):
        response = api.patch(f"/api/gift_cards/{card.pk}", body, params, **headers)

    assert database_gone_after_commit.gone
    assert response.status_code == 200, response.doc
    assert response.doc["data"]["attributes"]["balance_cents"] == 7_500
    assert GiftCard.objects.get(pk=card.pk).balance_cents == 7_500


def test_tags_added_and_included_are_answered_after_the_database_went_away(
    api, card, database_gone_after_commit
):
    body = resource("gift_cards", {"_add_tags": "vip,summer"}, id_=card.pk)
    with connection.execute_wrapper(database_gone_after_commit):
        response = api.patch(f"/api/gift_cards/{card.pk}", body, {"include": "tags"})

    assert database_gone_after_commit.gone
    assert response.status_code == 200, response.doc
    included = sorted(item["attributes"]["name"] for item in response.doc["included"])
    assert included == ["summer", "vip"]


@pytest.mark.parametrize("key", [None, "shop-issue-1"])
def test_an_issue_is_answered_after_the_database_went_away(api, database_gone_after_commit, key):
    body = resource("gift_cards", {"balance_cents": 5_000, "currency_code": "USD"})
    headers = {"Idempotency-Key": key} if key else {}
    with connection.execute_wrapper(database_gone_after_commit):
        response = api.post("/api/gift_cards", body, **headers)

    assert database_gone_after_commit.gone
    assert response.status_code == 201, response.doc
    assert GiftCard.objects.filter(pk=response.doc["data"]["id"]).exists()


def test_a_debit_whose_response_cannot_show_the_code_moves_nothing(api, card, settings):
    """A code the configured key cannot decrypt would make the response fail after the
    commit: the debit is refused first, and the money stays."""
    settings.GIFTCARD_CODE_KEY = "a key that did not encrypt this card's code"
    body = resource("gift_cards", {"_balance_change_cents": -2_500}, id_=card.pk)

    with pytest.raises(codes.InvalidCode):
        api.patch(f"/api/gift_cards/{card.pk}", body)

    assert GiftCard.objects.get(pk=card.pk).balance_cents == 10_000
    assert BalanceLog.objects.filter(card_id=card.pk).count() == 1

    # A response that does not show the code does not need the key.
    sparse = api.patch(f"/api/gift_cards/{card.pk}", body, {"fields[gift_cards]": "balance_cents"})
    assert sparse.status_code == 200
    assert GiftCard.objects.get(pk=card.pk).balance_cents == 7_500

"""Small helpers shared by the JSON:API tests."""

from __future__ import annotations

from giftcards.models import BalanceLog, GiftCard
from tests.giftcards.jsonapi.conftest import resource


def card_url(card_id: str) -> str:
    return f"/api/gift_cards/{card_id}"


def patch_card(api, card_id: str, attributes=None, relationships=None, **headers):
    body = resource("gift_cards", attributes or {}, relationships, id_=card_id)
    return api.patch(card_url(card_id), body, **headers)


def attributes(api, card_id: str) -> dict:
    response = api.get(card_url(card_id))
    assert response.status_code == 200, response.doc
    return response.doc["data"]["attributes"]


def error(response, status: int) -> dict:
    """The response's only error, after checking the status."""
    assert response.status_code == status, response.doc
    errors = response.doc["errors"]
    assert len(errors) == 1, errors
    assert errors[0]["status"] == str(status)
    return errors[0]


def pointers(response) -> set[str]:
    return {e.get("source", {}).get("pointer") for e in response.doc["errors"]}


def snapshot(api, card_id: str) -> dict:
    """Everything a refused request must leave as it was."""
    return {
        "document": api.get(card_url(card_id)).doc["data"],
        "ledger": list(BalanceLog.objects.filter(card_id=card_id).values_list("id", flat=True)),
        "versions": GiftCard.history.filter(id=card_id).count(),
    }

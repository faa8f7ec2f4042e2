"""Helpers for the plain API tests: request bodies and what the database holds."""

from __future__ import annotations

from rest_framework.test import APIClient

from clients.models import Client
from giftcards.models import BalanceLog, GiftCard


def api_client(secret: str | None) -> APIClient:
    client = APIClient()
    if secret is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def card_body(client: Client, **overrides) -> dict:
    """The seed's minimum request body for POST /giftcards, with real ids."""
    body = {
        "active": True,
        "amount": "25",
        "balanceAmount": "25",
        "businessId": client.business_id,
        "clientId": client.pk,
        "purchaseDate": 1681963200000,
        "status": "Active",
    }
    body.update(overrides)
    return body


def ledger(card_id: str) -> list[tuple[str, int]]:
    """(kind, amount_cents) of every ledger row of the card, oldest first."""
    return list(
        BalanceLog.objects.filter(card_id=card_id)
        .order_by("created_at", "id")
        .values_list("kind", "amount_cents")
    )


def balance(card_id: str) -> int:
    return GiftCard.objects.values_list("balance_cents", flat=True).get(pk=card_id)


def snapshot() -> dict:
    """Everything a refused call must leave as it was."""
    return {
        "cards": GiftCard.objects.count(),
        "ledger": BalanceLog.objects.count(),
        "clients": Client.objects.count(),
        "balances": dict(GiftCard.objects.values_list("pk", "balance_cents")),
        "card_rows": list(GiftCard.objects.order_by("pk").values()),
        "client_rows": list(Client.objects.order_by("pk").values()),
    }

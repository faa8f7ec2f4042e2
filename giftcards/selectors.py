"""Reads shared by the APIs, the admin and the commands."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet, Sum

from clients.tenancy import Tenant
from giftcards import codes
from giftcards.models import BalanceLog, GiftCard


def card_get_by_code(*, tenant: Tenant, code: str) -> GiftCard | None:
    """Codes match case-insensitively, ignoring spaces and dashes (through the lookup hash)."""
    if not isinstance(code, str) or not codes.normalise(code):
        return None
    return GiftCard.objects.for_tenant(tenant).by_code(code).first()


def cards_out_of_balance() -> QuerySet[GiftCard]:
    """Cards whose cached balance differs from the sum of their ledger rows."""
    return (
        GiftCard.objects.annotate(ledger_sum=Sum("ledger__amount_cents"))
        .filter(Q(ledger_sum__isnull=True) | ~Q(balance_cents=F("ledger_sum")))
        .order_by("business_id", "created_at", "id")
    )


def card_ledger(card: GiftCard) -> QuerySet[BalanceLog]:
    return card.ledger.order_by("created_at", "id")

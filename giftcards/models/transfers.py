"""Balance transfers: money moved from one card to another of the same business, mode and
currency, as two ledger rows (`transfer_out` on the source, `transfer_in` on the target)
written in one transaction by `services.card_transfer`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from clients.tenancy import TenantModel
from giftcards.models.cards import PUBLIC_ID_PATTERN, GiftCard, new_public_id


class BalanceTransfer(TenantModel):
    """One transfer. Written once, never changed: its ledger rows carry the money."""

    id = models.CharField(primary_key=True, max_length=22, default=new_public_id, editable=False)
    source = models.ForeignKey(
        GiftCard, on_delete=models.PROTECT, related_name="transfers_out", editable=False
    )
    target = models.ForeignKey(
        GiftCard, on_delete=models.PROTECT, related_name="transfers_in", editable=False
    )
    amount_cents = models.BigIntegerField(editable=False)
    currency_code = models.CharField(max_length=3, editable=False)
    reference = models.CharField(max_length=255, blank=True)
    reference_origin = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    # NULL, not "", for "no key": unique per business and mode among the rows that have one.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    actor_name = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    api_key = models.ForeignKey(
        "clients.ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=["business", "mode", "created_at"])]
        constraints = [
            TenantModel.mode_constraint("giftcards_balancetransfer_mode_valid"),
            models.CheckConstraint(
                condition=Q(id__regex=PUBLIC_ID_PATTERN), name="giftcards_balancetransfer_id_format"
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gt=0), name="giftcards_balancetransfer_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(source=F("target")), name="giftcards_balancetransfer_two_cards"
            ),
            models.CheckConstraint(
                condition=Q(currency_code__regex=r"^[A-Z]{3}$"),
                name="giftcards_balancetransfer_currency_code_format",
            ),
            models.UniqueConstraint(
                fields=["business", "mode", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="giftcards_balancetransfer_idempotency_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Transfer of {self.amount_cents} cents {self.source_id} -> {self.target_id}"

    @property
    def updated_at(self):
        """Transfers never change (Commerce Layer's resources all show `updated_at`)."""
        return self.created_at

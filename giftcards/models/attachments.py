"""Attachments: a named link (a receipt, a design proof, terms) on a card, a recipient or a
market, as Commerce Layer's polymorphic `attachable`."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from clients.tenancy import TenantModel


class AttachableType(models.TextChoices):
    GIFT_CARDS = "gift_cards", "Gift card"
    GIFT_CARD_RECIPIENTS = "gift_card_recipients", "Gift card recipient"
    MARKETS = "markets", "Market"


class Attachment(TenantModel):
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    url = models.CharField(max_length=2000, blank=True)
    # The attached-to row, by its JSON:API type and id (cards have string ids, the others
    # integers); `giftcards.attachments` checks it belongs to the same tenant.
    attachable_type = models.CharField(max_length=32, choices=AttachableType.choices)
    attachable_id = models.CharField(max_length=32)
    reference = models.CharField(max_length=255, blank=True)
    reference_origin = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(
                fields=["business", "mode", "attachable_type", "attachable_id"],
                name="giftcards_attachment_owner",
            ),
        ]
        constraints = [
            TenantModel.mode_constraint("giftcards_attachment_mode_valid"),
            models.CheckConstraint(
                condition=Q(attachable_type__in=AttachableType.values),
                name="giftcards_attachment_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

"""Writes of the `gift_cards` resource: the validated document becomes service calls.

All of a request's calls run in one transaction, in a fixed order (attributes, status
triggers, balance, tags), so a refusal at any step leaves the card, its ledger and its
history as they were.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import transaction

from giftcards import exceptions, services
from giftcards.models import GiftCard, GiftCardRecipient, Status

# Attributes card_update changes (no money, no status).
UPDATABLE = (
    "balance_max_cents",
    "single_use",
    "rechargeable",
    "distribute_discount",
    "image_url",
    "expires_at",
    "reference",
    "reference_origin",
    "metadata",
)
BLANK_WHEN_NULL = frozenset({"image_url", "reference", "reference_origin"})


class GiftCardWriteMixin:
    """Context: tenant, actor and, for a request with an Idempotency-Key, `idempotency_key`
    (also recorded on the ledger row)."""

    def _recipient(self, attrs) -> GiftCardRecipient | None:
        email = attrs.get("recipient_email")
        if email:
            return services.recipient_find_or_create(tenant=self.tenant, email=email)
        return attrs.get("recipient")

    def create(self, validated_data) -> GiftCard:
        data = validated_data
        with transaction.atomic():
            return services.card_issue(
                tenant=self.tenant,
                actor=self.actor,
                balance_cents=data["balance_cents"],
                currency_code=data.get("currency_code"),
                code=data.get("code"),
                status=data.get("status", Status.DRAFT),
                balance_max_cents=data.get("balance_max_cents"),
                single_use=data.get("single_use", False),
                rechargeable=data.get("rechargeable", True),
                distribute_discount=data.get("distribute_discount", True),
                image_url=data.get("image_url") or "",
                expires_at=data.get("expires_at"),
                reference=data.get("reference") or "",
                reference_origin=data.get("reference_origin") or "",
                metadata=data.get("metadata"),
                recipient=self._recipient(data),
                market=data.get("market"),
            )

    def update(self, card: GiftCard, validated_data) -> GiftCard:
        data = validated_data
        actor = self.actor
        key = self.context.get("idempotency_key")
        with transaction.atomic():
            changes = {name: data[name] for name in UPDATABLE if name in data}
            for name in BLANK_WHEN_NULL & set(changes):
                changes[name] = changes[name] or ""
            if "market" in data:
                changes["market"] = data["market"]
            if "recipient" in data or "recipient_email" in data:
                changes["recipient"] = self._recipient(data)
            if changes:
                services.card_update(card=card, actor=actor, **changes)
            for trigger, transition in TRIGGERS:
                if data.get(trigger):
                    with refusal_points_at(trigger):
                        transition(card=card, actor=actor)
            if "balance_cents" in data:
                with refusal_points_at("balance_cents"):
                    services.card_adjust(
                        card=card,
                        new_balance_cents=data["balance_cents"],
                        actor=actor,
                        note="balance_cents written through the JSON:API.",
                        idempotency_key=key,
                    )
            change = data.get("_balance_change_cents")
            if change:
                with refusal_points_at("_balance_change_cents"):
                    self._change_balance(card, change, data.get("_order_reference", ""), key)
            if data.get("_add_tags") or data.get("_remove_tags"):
                with refusal_points_at("_add_tags" if data.get("_add_tags") else "_remove_tags"):
                    services.card_set_tags(
                        card=card,
                        actor=actor,
                        add=data.get("_add_tags", ()),
                        remove=data.get("_remove_tags", ()),
                    )
        return card

    def _change_balance(self, card: GiftCard, change: int, order: str, key: str | None):
        if change < 0:
            services.card_debit(
                card=card,
                amount_cents=-change,
                actor=self.actor,
                order_reference=order,
                idempotency_key=key,
            )
        else:
            services.card_recharge(
                card=card,
                amount_cents=change,
                actor=self.actor,
                order_reference=order,
                idempotency_key=key,
            )


TRIGGERS = (
    ("_purchase", services.card_purchase),
    ("_activate", services.card_activate),
    ("_deactivate", services.card_deactivate),
)


@contextmanager
def refusal_points_at(attribute: str):
    """A service's refusal points at the member of the request that asked for the operation
    (JSON:API 1.0: `source.pointer` refers into the request document); the message says
    which state of the card refused it (its status, expiry, maximum...)."""
    try:
        yield
    except exceptions.GiftCardError as exc:
        exc.jsonapi_pointer = f"/data/attributes/{attribute}"
        raise

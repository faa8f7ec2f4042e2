"""A debit by hand, with the service's guarantees: the card locked within the key's business and
mode, status, expiry and funds checked on the locked row, one ledger row carrying the balance
after it, its events in the outbox (the balance change, and the redemption when it uses the
card up: one INSERT), the card's balance and status saved (which also records its history
version, as the service's save does), all in one transaction."""

from __future__ import annotations

import json

from django.db import transaction
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from benchmarks.http_bench.baselines.common import Refused, api_key, json_response
from giftcards.models import BalanceLog, GiftCard, OutboxEvent, Status

UPDATED = ["balance_cents", "status", "updated_at", "modified_by"]


def _amount(request) -> tuple[str, int]:
    try:
        body = json.loads(request.body)
    except ValueError as exc:
        raise Refused(400, "The body must be JSON.") from exc
    if not isinstance(body, dict):
        raise Refused(400, "The body must be a JSON object.")
    card_id, amount = body.get("card"), body.get("amount_cents")
    if not isinstance(card_id, str) or len(card_id) != 22:
        raise Refused(400, "card must be a gift card id.")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount < 2**62:
        raise Refused(400, "amount_cents must be a whole number above 0.")
    return card_id, amount


@csrf_exempt
@require_POST
def debit(request):
    """POST /bench/debit {"card": id, "amount_cents": n}"""
    try:
        key = api_key(request)
        card_id, amount = _amount(request)
        with transaction.atomic():
            card = (
                GiftCard.objects.select_for_update()
                .filter(pk=card_id, business_id=key["business_id"], mode=key["mode"])
                .first()
            )
            if card is None:
                raise Refused(404, "No such gift card.")
            now = timezone.now()
            if card.deleted_at is not None:
                raise Refused(422, "The card is deleted.")
            if card.status != Status.ACTIVE:
                raise Refused(422, f"Only an active card can be debited; it is {card.status}.")
            if card.expires_at is not None and card.expires_at <= now:
                raise Refused(422, "The card has expired.")
            if amount > card.balance_cents:
                raise Refused(422, "Insufficient balance.")
            card.balance_cents -= amount
            if card.balance_cents == 0 or card.single_use:
                card.status = Status.REDEEMED
            card.updated_at, card.modified_by = now, key["name"]
            entry = BalanceLog.objects.create(
                card=card,
                kind=BalanceLog.Kind.DEBIT,
                amount_cents=-amount,
                balance_after_cents=card.balance_cents,
                actor_name=key["name"],
                api_key_id=key["id"],
                created_at=now,
            )
            facts = {"status": card.status, "balance_cents": card.balance_cents}
            entry_facts = {"id": entry.pk, "kind": "debit", "amount_cents": -amount}
            happened = [("gift_cards.balance_change", {**facts, "ledger_entry": entry_facts})]
            if card.status == Status.REDEEMED:
                happened.append(("gift_cards.redeem", facts))
            OutboxEvent.objects.bulk_create(
                OutboxEvent(
                    business_id=card.business_id,
                    mode=card.mode,
                    name=name,
                    resource_type="gift_cards",
                    resource_id=card.pk,
                    data=data,
                    created_at=now,
                )
                for name, data in happened
            )
            card.save(update_fields=UPDATED)
    except Refused as refused:
        return refused.response()
    data = {"id": card.pk, "balance_cents": card.balance_cents, "status": card.status}
    return json_response({**data, "ledger_id": entry.pk}, status=201)

"""Fanning the outbox out: each recorded event becomes a delivery per enabled webhook of its
tenant subscribed to its topic, and an activation of a card with a recipient becomes a card
e-mail.

Dispatchers claim undispatched events with `SELECT ... FOR UPDATE SKIP LOCKED` (any number
may run at once: each takes other rows), create the deliveries and e-mails already leased
for queuing (giftcards.events.leases) and mark the events dispatched, all in one
transaction: an event is fanned out exactly once, and a dispatcher that dies takes its whole
batch back with it. A webhook whose circuit is open still gets its deliveries; they wait for
the reset. A disabled webhook gets none.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from giftcards.events import leases, topics
from giftcards.models import CardEmail, Delivery, GiftCard, OutboxEvent, Webhook, new_public_id

BATCH_SIZE = 200


@dataclass
class Batch:
    """What one transaction fanned out: leased under `token`, to be queued."""

    token: str
    events: int = 0
    deliveries: list[int] = field(default_factory=list)
    emails: list[int] = field(default_factory=list)


def _subscribed(events: list[OutboxEvent]) -> dict[tuple, list[int]]:
    """(business, mode, topic) -> ids of the enabled webhooks subscribed, in one query."""
    found = (
        Webhook.objects.filter(
            disabled_at__isnull=True,
            business_id__in={event.business_id for event in events},
            topic__in={event.name for event in events},
        )
        .order_by("id")
        .values_list("business_id", "mode", "topic", "id")
    )
    hooks: dict[tuple, list[int]] = defaultdict(list)
    for business_id, mode, topic, pk in found:
        hooks[(business_id, mode, topic)].append(pk)
    return hooks


def _recipient_emails(events: list[OutboxEvent]) -> dict[str, str]:
    """card id -> its recipient's email, for the activated cards that have one."""
    activated = {e.resource_id for e in events if e.name == topics.CARD_ACTIVATE}
    if not activated:
        return {}
    return dict(
        GiftCard.objects.filter(pk__in=activated, recipient__isnull=False).values_list(
            "pk", "recipient__email"
        )
    )


def dispatch_batch(limit: int = BATCH_SIZE) -> Batch | None:
    """Fan out up to `limit` undispatched events, oldest first; None when none was free."""
    now = timezone.now()
    batch = Batch(token=new_public_id())
    lease = {"lease_token": batch.token, "leased_until": now + leases.queue_lease()}
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.filter(dispatched_at__isnull=True)
            .order_by("id")
            .select_for_update(skip_locked=True)[:limit]
        )
        if not events:
            return None
        hooks = _subscribed(events)
        deliveries = [
            Delivery(event=event, webhook_id=hook, next_attempt_at=now, created_at=now, **lease)
            for event in events
            for hook in hooks.get((event.business_id, event.mode, event.name), ())
        ]
        Delivery.objects.bulk_create(deliveries)
        recipients = _recipient_emails(events)
        emails = [
            CardEmail(
                card_id=event.resource_id,
                event=event,
                email=recipients[event.resource_id],
                requested_by="activation",
                next_attempt_at=now,
                created_at=now,
                **lease,
            )
            for event in events
            if event.name == topics.CARD_ACTIVATE and event.resource_id in recipients
        ]
        CardEmail.objects.bulk_create(emails)
        OutboxEvent.objects.filter(pk__in=[event.pk for event in events]).update(dispatched_at=now)
    batch.events = len(events)
    batch.deliveries = [delivery.pk for delivery in deliveries]
    batch.emails = [email.pk for email in emails]
    return batch

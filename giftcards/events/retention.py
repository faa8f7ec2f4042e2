"""Forgetting old events: the outbox grows by a row per money move, and every webhook call
leaves a callback. `purge` deletes, in batches, what is older than the retention and settled:
the calls of deliveries delivered or given up, those deliveries, and the dispatched events
left with neither (a pending delivery keeps its event and its calls). Card e-mails stay on
their cards. The ledger, which is the record of the money, is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from giftcards.models import Delivery, EventCallback, OutboxEvent

BATCH_SIZE = 1000
MINIMUM = timedelta(days=2)  # a settled delivery's calls stay at least this long


@dataclass
class Purged:
    callbacks: int = 0
    deliveries: int = 0
    events: int = 0


def _in_batches(queryset, batch_size: int) -> int:
    """Delete the rows of `queryset` a batch at a time, each batch its own transaction; the
    delete checks the conditions again (a delivery redelivered meanwhile is pending again)."""
    deleted = 0
    while True:
        with transaction.atomic():
            pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not pks:
                return deleted
            done = queryset.filter(pk__in=pks).delete()[1].get(queryset.model._meta.label, 0)
        deleted += done
        if not done:
            return deleted


def purge(older_than: timedelta, batch_size: int = BATCH_SIZE) -> Purged:
    """Delete settled deliveries, their calls and finished events older than `older_than`
    (at least MINIMUM). Raises ValueError for a shorter retention."""
    if older_than < MINIMUM:
        raise ValueError(f"Events are kept at least {MINIMUM.days} days (deliveries retry).")
    cutoff = timezone.now() - older_than
    done = [Delivery.State.DELIVERED, Delivery.State.FAILED]
    purged = Purged()
    # A pending delivery's calls are its history until it is settled: they stay.
    callbacks = EventCallback.objects.filter(created_at__lt=cutoff).filter(
        Q(delivery__isnull=True) | Q(delivery__state__in=done)
    )
    purged.callbacks = _in_batches(callbacks, batch_size)
    settled = Delivery.objects.filter(event__created_at__lt=cutoff, state__in=done)
    purged.deliveries = _in_batches(settled, batch_size)
    finished = OutboxEvent.objects.filter(
        created_at__lt=cutoff, dispatched_at__isnull=False
    ).exclude(
        Exists(Delivery.objects.filter(event=OuterRef("pk")))
        | Exists(EventCallback.objects.filter(event=OuterRef("pk")))
    )
    purged.events = _in_batches(finished, batch_size)
    return purged

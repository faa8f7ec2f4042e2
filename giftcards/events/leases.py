"""Leases on deliveries and card e-mails: who may work on one, until when.

A pending row is due at `next_attempt_at`. Whoever queues it (the dispatch that created it,
or the sweep) first takes a lease for the whole batch it queues: a fresh token and an expiry
(EVENTS_QUEUE_LEASE_SECONDS), written under `SELECT ... FOR UPDATE SKIP LOCKED`, so two
sweeps never queue the same row. The task carries the token; before its call it swaps it for
a token of its own with a lease of EVENTS_WORK_LEASE_SECONDS (longer than a call can last),
only if the token is still the row's: of two tasks with the same message, one calls. A task
whose message was lost, or whose worker died, leaves a lease that runs out: the next sweep
takes a new one and queues the row again, and the stale task, should it run after all, finds
another token and does nothing. At most one worker works on a row at any moment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q

from giftcards.models import new_public_id

PENDING = "pending"


def queue_lease() -> timedelta:
    return timedelta(seconds=settings.EVENTS_QUEUE_LEASE_SECONDS)


def work_lease() -> timedelta:
    return timedelta(seconds=settings.EVENTS_WORK_LEASE_SECONDS)


def free(now: datetime) -> Q:
    return Q(leased_until__isnull=True) | Q(leased_until__lt=now)


def claim_due(
    model: type[models.Model], *, now: datetime, limit: int, where: Q | None = None
) -> tuple[str, list[int]]:
    """Lease up to `limit` due, unleased rows (oldest due first) for queuing: (token, ids)."""
    token = new_public_id()
    with transaction.atomic():
        rows = (
            model.objects.filter(state=PENDING, next_attempt_at__lte=now)
            .filter(free(now))
            .filter(where or Q())
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .only("pk")[:limit]
        )
        ids = [row.pk for row in rows]
        if ids:
            model.objects.filter(pk__in=ids).update(
                lease_token=token, leased_until=now + queue_lease()
            )
    return token, ids


def take(model: type[models.Model], pk: int, token: str, now: datetime) -> str | None:
    """Take the lease from the queue for a call, counting the attempt, if `token` still
    holds it; returns the call's own new token (None: someone else has it). The token
    changes hands, so a second task carrying the same message (a broker may deliver one
    twice) finds it gone."""
    taken = new_public_id()
    changed = model.objects.filter(pk=pk, lease_token=token, state=PENDING).update(
        lease_token=taken, leased_until=now + work_lease(), attempts=F("attempts") + 1
    )
    return taken if changed else None


def release(model: type[models.Model], pk: int, token: str, **fields) -> bool:
    """Give the lease up, writing `fields` (the outcome), if `token` still holds it."""
    return bool(
        model.objects.filter(pk=pk, lease_token=token).update(
            lease_token="", leased_until=None, **fields
        )
    )

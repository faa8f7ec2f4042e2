"""Leases on deliveries and card e-mails: who may work on one, until when.

A pending row is due at `next_attempt_at`. Whoever queues it (the dispatch that created it,
or the sweep) first takes a lease for the whole batch it queues: a fresh token and an expiry
(EVENTS_QUEUE_LEASE_SECONDS), written under `SELECT ... FOR UPDATE SKIP LOCKED`, so two
sweeps never queue the same row. The task carries the token; before its call it swaps it for
a token of its own with a lease of EVENTS_WORK_LEASE_SECONDS (longer than a call can last),
only if the token is still the row's: of two tasks with the same message, one calls. A task
whose message was lost, or whose worker died, leaves a lease that runs out: the next sweep
leases the row again and queues it again, with the token the row holds. A message that ran
out of lease may only be late (a queue longer than the lease), not lost: it stays as good as
the new one, and whichever comes first swaps the token and calls; the other finds it gone
and does nothing. At most one worker works on a row at any moment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, F, Q, Value, When

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
) -> dict[str, list[int]]:
    """Lease up to `limit` due, unleased rows (oldest due first) for queuing: {token: ids}.

    A row whose lease ran out keeps its token (its earlier message may still come: a fresh
    token would void it, and in a queue longer than the lease every message would come too
    late, forever); a row without one gets a fresh one."""
    fresh = new_public_id()
    with transaction.atomic():
        rows = (
            model.objects.filter(state=PENDING, next_attempt_at__lte=now)
            .filter(free(now))
            .filter(where or Q())
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", "lease_token")[:limit]
        )
        claimed: dict[str, list[int]] = {}
        for pk, token in rows:
            claimed.setdefault(token or fresh, []).append(pk)
        if claimed:
            model.objects.filter(pk__in=[pk for ids in claimed.values() for pk in ids]).update(
                lease_token=Case(When(lease_token="", then=Value(fresh)), default=F("lease_token")),
                leased_until=now + queue_lease(),
            )
    return claimed


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

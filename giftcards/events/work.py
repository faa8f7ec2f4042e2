"""Who does the work, and when: the outbox fanned out, deliveries and e-mails queued.

`fan_out` dispatches until the outbox is empty and queues what each batch created; `sweep`
(Celery beat, every EVENTS_SWEEP_SECONDS) does that too, then leases and queues every
delivery and e-mail that is due and that nobody holds: retries whose time has come, and what
a lost message or a dead worker left. A queue is where leased rows go: Celery tasks in
production (`tasks.celery_queue`), or calls made at once (`in_process`: the tests, through
`drain`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db.models import Q
from django.utils import timezone

from giftcards.events import delivery, dispatch, leases, mail
from giftcards.models import CardEmail, CircuitState, Delivery

SWEEP_BATCH = 500
# Deliveries per task: their payloads are made together and one message carries them. The
# rows behind keep their queue lease while the calls ahead go, so TASK_BATCH times the
# longest call (WEBHOOK_TIMEOUT and the connect and DNS timeouts) stays well within
# EVENTS_QUEUE_LEASE_SECONDS (10 x 15 s against 300 s by default).
TASK_BATCH = 10
logger = logging.getLogger(__name__)

#: (kind, ids, token) -> None, kind being "delivery" or "email".
Queue = Callable[[str, Iterable[int], str], None]

# A delivery is queued only while its webhook would be called.
CALLABLE = Q(webhook__disabled_at__isnull=True, webhook__circuit_state=CircuitState.CLOSED)


def in_process(kind: str, ids: Iterable[int], token: str) -> None:
    """Work the rows off now, in this process."""
    if kind == "delivery":
        for batch in batches(ids):
            delivery.attempt_batch(batch, token)
    else:
        for pk in ids:
            mail.send(pk, token)


def batches(ids: Iterable[int], size: int = TASK_BATCH) -> list[list[int]]:
    ids = list(ids)
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def default_queue() -> Queue:
    from giftcards.events import tasks

    return tasks.celery_queue


def fan_out(queue: Queue | None = None) -> int:
    """Dispatch the outbox until it is empty (as far as other dispatchers leave it); returns
    the events fanned out."""
    queue = queue or default_queue()
    total = 0
    while (batch := dispatch.dispatch_batch()) is not None:
        total += batch.events
        queue("delivery", batch.deliveries, batch.token)
        queue("email", batch.emails, batch.token)
    return total


def queue_due(queue: Queue | None = None, *, limit: int = SWEEP_BATCH) -> int:
    """Lease and queue what is due and free; returns how many rows were queued."""
    queue = queue or default_queue()
    now = timezone.now()
    queued = 0
    for kind, model, where in (("delivery", Delivery, CALLABLE), ("email", CardEmail, None)):
        while True:
            claimed = leases.claim_due(model, now=now, limit=limit, where=where)
            for token, ids in claimed.items():
                queue(kind, ids, token)
            count = sum(len(ids) for ids in claimed.values())
            queued += count
            if count < limit:
                break
    return queued


def sweep(queue: Queue | None = None) -> tuple[int, int]:
    """(events fanned out, rows queued)."""
    queue = queue or default_queue()
    return fan_out(queue), queue_due(queue)


def drain(rounds: int = 10) -> tuple[int, int]:
    """Everything due, worked off in this process until nothing is left (or `rounds` sweeps
    have run: a receiver that keeps failing is retried later, not now)."""
    events = calls = 0
    for _ in range(rounds):
        fanned, queued = sweep(in_process)
        events += fanned
        calls += queued
        if not fanned and not queued:
            break
    return events, calls

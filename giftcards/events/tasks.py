"""Celery tasks: thin wrappers over giftcards.events.work, delivery and mail.

Every task starts from rows in the database and is safe to run twice or late: a stale lease
token makes a delivery or e-mail task do nothing, and dispatch and sweep only take rows no
one else holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from giftcards.events import delivery, mail, retention, work


@shared_task(name="giftcards.events.tasks.dispatch")
def dispatch() -> int:
    """Fan out the outbox (queued by a commit's kick)."""
    return work.fan_out()


@shared_task(name="giftcards.events.tasks.deliver")
def deliver(delivery_ids: list[int], token: str) -> dict[int, str]:
    """Call the webhooks of a batch of deliveries (work.TASK_BATCH at most)."""
    return delivery.attempt_batch(delivery_ids, token)


@shared_task(name="giftcards.events.tasks.send_card_email")
def send_card_email(email_id: int, token: str) -> str:
    return mail.send(email_id, token)


@shared_task(name="giftcards.events.tasks.sweep")
def sweep() -> tuple[int, int]:
    return work.sweep()


@shared_task(name="giftcards.events.tasks.purge")
def purge() -> tuple[int, int, int]:
    """Forget settled work older than EVENTS_RETENTION_DAYS (daily, by beat)."""
    purged = retention.purge(timedelta(days=settings.EVENTS_RETENTION_DAYS))
    return purged.callbacks, purged.deliveries, purged.events


def celery_queue(kind: str, ids: Iterable[int], token: str) -> None:
    """Queue a task per batch of deliveries, per card e-mail. A row whose message is lost
    waits for its lease to run out and the sweep to queue it again."""
    if kind == "delivery":
        for batch in work.batches(ids):
            deliver.apply_async((batch, token))
    else:
        for pk in ids:
            send_card_email.apply_async((pk, token))

"""Leases when the queue is longer than the lease: a sweep that queues a row again does not
void the message already queued for it, and of all the messages for one row one calls."""

from __future__ import annotations

from collections import deque
from datetime import timedelta

from django.utils import timezone

from giftcards.events import delivery, leases, work
from giftcards.models import Delivery


class Broker:
    """A queue of (delivery id, token) messages, worked off from its head."""

    def __init__(self):
        self.messages: deque[tuple[int, str]] = deque()

    def __call__(self, kind, ids, token):
        if kind == "delivery":
            self.messages.extend((pk, token) for pk in ids)

    def work_one(self) -> str:
        return delivery.attempt(*self.messages.popleft())


def leases_run_out():
    Delivery.objects.update(leased_until=timezone.now() - timedelta(seconds=1))


def test_a_message_reached_after_its_lease_ran_out_still_calls_once(
    make_webhook, make_card, receiver
):
    """Each time the message at the head comes up, its lease has run out and a sweep has
    queued the row again behind it (a backlog longer than EVENTS_QUEUE_LEASE_SECONDS). Were
    each sweep to void the messages before it, no message would ever call: the queue would
    only grow."""
    make_webhook("gift_cards.create")
    make_card()
    broker = Broker()
    work.fan_out(broker)
    outcomes = []
    while broker.messages and len(outcomes) < 10:
        leases_run_out()
        work.queue_due(broker)
        outcomes.append(broker.work_one())
    assert outcomes == ["delivered", "stale"]
    assert len(receiver.received) == 1


def test_a_row_whose_worker_died_is_queued_again_and_called_by_the_next_task(
    make_webhook, make_card, receiver
):
    make_webhook("gift_cards.create")
    make_card()
    broker = Broker()
    work.fan_out(broker)
    pk, token = broker.messages.popleft()
    assert leases.take(Delivery, pk, token, timezone.now())  # and then the worker died
    work.queue_due(broker)
    assert not broker.messages  # its work lease still holds
    leases_run_out()
    work.queue_due(broker)
    assert broker.work_one() == "delivered"
    assert len(receiver.received) == 1
    assert delivery.attempt(pk, token) == "stale"  # the dead worker's message, were it back

"""Fan-out and leases under concurrency: every event is fanned out exactly once however many
dispatchers run, and no delivery is ever called by two workers at once (PostgreSQL: SKIP
LOCKED and conditional updates under real concurrency)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.utils import timezone

from giftcards import services
from giftcards.events import delivery, dispatch, leases, work
from giftcards.models import Delivery, OutboxEvent
from tests.giftcards.test_concurrency import run_together


def test_a_duplicated_task_message_calls_only_once(make_webhook, make_card, receiver):
    """A broker may hand the same message out twice (Redis after its visibility timeout):
    the second task finds the lease already taken for the call."""
    make_webhook("gift_cards.create")
    make_card()
    work.fan_out(lambda kind, ids, token: None)
    pending = Delivery.objects.get()
    token = pending.lease_token
    taken = leases.take(Delivery, pending.pk, token, timezone.now())
    assert taken and taken != token
    assert leases.take(Delivery, pending.pk, token, timezone.now()) is None
    assert delivery.attempt(pending.pk, token) == "stale"
    assert receiver.received == []


def test_dispatch_creates_one_delivery_per_subscribed_webhook(make_webhook, make_card, actor):
    make_webhook("gift_cards.balance_change")
    make_webhook("gift_cards.balance_change")
    card = make_card()
    services.card_debit(card=card, amount_cents=5, actor=actor)
    batch = dispatch.dispatch_batch()
    # create, the change, purchase, activate, the debit's change
    assert batch.events == OutboxEvent.objects.count() == 5
    assert len(batch.deliveries) == Delivery.objects.count() == 4
    assert dispatch.dispatch_batch() is None
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_fan_each_event_out_once(make_webhook, make_card, actor):
    make_webhook("gift_cards.balance_change")
    make_webhook("gift_cards.balance_change")
    card = make_card(balance_cents=100_000)
    for _ in range(150):
        services.card_debit(card=card, amount_cents=1, actor=actor)
    events = OutboxEvent.objects.count()

    def dispatcher():
        fanned = 0
        while (batch := dispatch.dispatch_batch(limit=7)) is not None:
            fanned += batch.events
        return fanned

    results = run_together([dispatcher] * 4)
    assert all(isinstance(result, int) for result in results), results
    assert sum(results) == events
    assert sum(1 for result in results if result) > 1  # they really shared the work
    changes = OutboxEvent.objects.filter(name="gift_cards.balance_change").count()
    assert Delivery.objects.count() == 2 * changes
    per_event = Counter(Delivery.objects.values_list("event_id", "webhook_id"))
    assert set(per_event.values()) == {1}


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_never_lease_one_delivery_twice(make_webhook, make_card, actor):
    make_webhook("gift_cards.balance_change")
    card = make_card(balance_cents=100_000)
    for _ in range(100):
        services.card_debit(card=card, amount_cents=1, actor=actor)
    work.fan_out(lambda kind, ids, token: None)
    Delivery.objects.update(lease_token="", leased_until=None)  # the queue was lost
    claimed = []

    def sweeper():
        return work.queue_due(lambda kind, ids, token: claimed.extend(ids), limit=9)

    results = run_together([sweeper] * 4)
    assert all(isinstance(result, int) for result in results), results
    assert sorted(claimed) == sorted(Delivery.objects.values_list("pk", flat=True))


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_with_one_message_make_one_call(make_webhook, make_card, receiver):
    make_webhook("gift_cards.create")
    make_card()
    work.fan_out(lambda kind, ids, token: None)
    pending = Delivery.objects.get()
    outcomes = run_together([lambda: delivery.attempt(pending.pk, pending.lease_token)] * 6)
    assert sorted(outcomes) == ["delivered", *["stale"] * 5]
    assert len(receiver.received) == 1

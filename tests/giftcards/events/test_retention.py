"""Old events, settled deliveries and callbacks are purged; what is still owed stays."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from giftcards.events import work
from giftcards.models import BalanceLog, CardEmail, Delivery, EventCallback, OutboxEvent, Status


def age(days: int) -> None:
    """Everything recorded so far happened `days` ago."""
    then = timezone.now() - timedelta(days=days)
    OutboxEvent.objects.update(created_at=then)
    EventCallback.objects.update(created_at=then)


def test_old_settled_work_is_purged_and_what_is_owed_stays(make_webhook, make_card, receiver):
    make_webhook("gift_cards.create")
    failing = make_webhook("gift_cards.purchase", callback_url="http://127.0.0.1:9/refused")
    make_card(status=Status.ACTIVE, recipient_email="ann@example.com")
    work.drain()
    assert Delivery.objects.filter(state="delivered").count() == 1
    assert Delivery.objects.get(webhook=failing).state == "pending"
    ledger = BalanceLog.objects.count()
    age(40)

    out = io.StringIO()
    call_command("purge_events", "--older-than-days", "30", stdout=out)
    # create (delivered, with its call), balance_change, activate and the recipient's create go.
    assert "Deleted 1 callbacks, 1 deliveries and 4 events" in out.getvalue()
    # The pending delivery, its call and its event stay; the e-mail stays on the card,
    # without its event.
    assert list(Delivery.objects.values_list("webhook", flat=True)) == [failing.pk]
    assert list(EventCallback.objects.values_list("webhook", flat=True)) == [failing.pk]
    assert list(OutboxEvent.objects.values_list("name", flat=True)) == ["gift_cards.purchase"]
    email = CardEmail.objects.get()
    assert (email.state, email.event) == ("sent", None)
    assert BalanceLog.objects.count() == ledger


def test_recent_work_is_kept(make_webhook, make_card, receiver):
    make_webhook("gift_cards.create")
    make_card()
    work.drain()
    age(10)
    call_command("purge_events", "--older-than-days", "30", stdout=io.StringIO())
    assert EventCallback.objects.count() == 1 and Delivery.objects.count() == 1


def test_a_retention_shorter_than_the_retries_is_refused():
    with pytest.raises(CommandError, match="at least 2 days"):
        call_command("purge_events", "--older-than-days", "1", stdout=io.StringIO())

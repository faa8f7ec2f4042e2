"""Event callbacks and deliveries in the admin: read-only lists for managers of their own
business; a delivery is sent again through the service, and a busy one says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from giftcards import services
from giftcards.events import work
from giftcards.models import Delivery, EventCallback


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.fixture
def b_manager(make_staff, other_business):
    return make_staff("manager", business=other_business, username="b-manager")


@pytest.fixture
def hook(make_webhook):
    return make_webhook("gift_cards.balance_change", name="Till sync")


@pytest.fixture
def calls(hook, make_card, actor, receiver):
    """A card issued and debited: two balance changes, the first call answered 200, the
    second 503."""
    receiver.plan.statuses = [200, 503]
    card = make_card(balance_cents=5_000)
    services.card_debit(card=card, amount_cents=1_000, actor=actor)
    work.drain()
    return card


@pytest.fixture
def b_calls(make_webhook, other_tenant, other_card, actor, receiver):
    """Business B's webhook, called for a recharge of B's card."""
    hook = make_webhook("gift_cards.balance_change", name="Other shop", tenant=other_tenant)
    receiver.plan.statuses = [200]
    services.card_recharge(card=other_card, amount_cents=100, actor=actor)
    work.drain()
    return hook


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:giftcards_{model}_{view}", args=args)


def listed(response) -> list:
    return list(response.context["cl"].result_list)


def texts(response, level: str) -> list[str]:
    return [str(m) for m in response.context["messages"] if m.level_tag == level]


# ---------------------------------------------------------------------------- who


@pytest.mark.parametrize("role", [None, "viewer", "cashier"])
def test_only_managers_read_callbacks_and_deliveries(role, make_staff, login, calls):
    client = login(make_staff(role))
    callback, delivery = EventCallback.objects.first(), Delivery.objects.first()

    for target in (
        url("eventcallback", "changelist"),
        url("eventcallback", "change", callback.pk),
        url("delivery", "changelist"),
        url("delivery", "change", delivery.pk),
    ):
        assert client.get(target).status_code == 403, target
    response = client.post(
        url("delivery", "changelist"), {"action": "redeliver", "_selected_action": [delivery.pk]}
    )
    assert response.status_code == 403
    assert not LogEntry.objects.exists()


def test_nobody_adds_changes_or_deletes_a_callback_or_a_delivery(manager, superuser, login, calls):
    callback, delivery = EventCallback.objects.first(), Delivery.objects.first()
    for user in (manager, superuser):
        client = login(user)
        for model, row in (("eventcallback", callback), ("delivery", delivery)):
            assert client.get(url(model, "add")).status_code == 403
            assert client.get(url(model, "delete", row.pk)).status_code == 403
            assert client.post(url(model, "change", row.pk), {}).status_code == 403
    assert EventCallback.objects.count() == 2 and Delivery.objects.count() == 2


# ---------------------------------------------------------------------------- callbacks


def test_the_callback_list_shows_each_call(manager, login, calls, hook):
    response = login(manager).get(url("eventcallback", "changelist"))

    html = response.content.decode()
    assert len(listed(response)) == 2
    assert "Till sync" in html and "gift_cards.balance_change" in html
    assert ">200<" in html and ">503<" in html
    assert calls.code not in html


@pytest.mark.parametrize(("response_class", "codes"), [("2xx", ["200"]), ("failed", ["503"])])
def test_callbacks_filter_by_response_class(response_class, codes, manager, login, calls):
    response = login(manager).get(url("eventcallback", "changelist"), {"response": response_class})

    assert [callback.response_code for callback in listed(response)] == codes


def test_a_call_that_got_no_response_counts_as_failed(manager, login, calls):
    EventCallback.objects.filter(response_code="503").update(response_code="")

    response = login(manager).get(url("eventcallback", "changelist"), {"response": "failed"})

    assert len(listed(response)) == 1
    assert "no response" in response.content.decode()


def test_callbacks_filter_by_webhook(manager, login, calls, hook, make_webhook):
    quiet = make_webhook("gift_cards.redeem", name="Quiet")
    client = login(manager)

    ours = client.get(url("eventcallback", "changelist"), {"webhook": hook.pk})
    none = client.get(url("eventcallback", "changelist"), {"webhook": quiet.pk})

    assert len(listed(ours)) == 2
    assert listed(none) == []


def test_a_callbacks_page_shows_the_call_but_never_its_payload(manager, login, calls):
    callback = EventCallback.objects.get(response_code="200")

    html = login(manager).get(url("eventcallback", "change", callback.pk)).content.decode()

    assert callback.callback_url in html and "gift_cards.balance_change" in html
    assert calls.code not in html
    assert callback.payload_encrypted not in html


def test_the_callback_list_reads_the_same_number_of_queries_for_more_calls(
    manager, login, hook, make_card, actor
):
    card = make_card(balance_cents=5_000)
    work.drain()
    client = login(manager)
    client.get(url("eventcallback", "changelist"))
    with CaptureQueriesContext(connection) as one:
        client.get(url("eventcallback", "changelist"))
    for _ in range(4):
        services.card_debit(card=card, amount_cents=100, actor=actor)
    work.drain()
    with CaptureQueriesContext(connection) as five:
        response = client.get(url("eventcallback", "changelist"))

    assert len(listed(response)) == 5
    assert len(five) == len(one)


# ---------------------------------------------------------------------------- deliveries


def test_the_delivery_list_shows_what_each_webhook_is_owed(manager, login, calls, business):
    client = login(manager)

    response = client.get(url("delivery", "changelist"))

    rows = listed(response)
    html = response.content.decode()
    assert sorted(delivery.state for delivery in rows) == ["delivered", "pending"]
    assert calls.pk in html and "Till sync" in html and "gift_cards.balance_change" in html
    assert business.timezone == "UTC" and " UTC" in html  # next attempt and delivered at
    page = client.get(url("delivery", "change", rows[0].pk))
    assert page.status_code == 200 and calls.code not in page.content.decode()


def test_deliveries_filter_by_state_and_find_a_card(manager, login, calls):
    client = login(manager)

    pending = client.get(url("delivery", "changelist"), {"state__exact": "pending"})
    found = client.get(url("delivery", "changelist"), {"q": calls.pk})

    assert [delivery.state for delivery in listed(pending)] == ["pending"]
    assert len(listed(found)) == 2


def test_redeliver_sends_a_delivered_event_again(manager, login, calls, receiver):
    delivered = Delivery.objects.get(state="delivered")

    response = login(manager).post(
        url("delivery", "changelist"),
        {"action": "redeliver", "_selected_action": [delivered.pk]},
        follow=True,
    )

    assert texts(response, "success") == ["Queued 1 delivery to be sent again now."]
    delivered.refresh_from_db()
    assert (delivered.state, delivered.delivered_at) == ("pending", None)
    assert delivered.next_attempt_at <= timezone.now()
    receiver.plan.statuses = [200]
    calls_before = len(receiver.received)
    work.drain()
    assert len(receiver.received) == calls_before + 1
    delivered.refresh_from_db()
    assert delivered.state == "delivered"
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.change_message) == (str(delivered.pk), "Redelivered.")


def test_a_delivery_a_worker_holds_is_not_sent_again_and_says_why(manager, login, calls):
    busy = Delivery.objects.get(state="pending")
    Delivery.objects.filter(pk=busy.pk).update(
        lease_token="worker-token", leased_until=timezone.now() + timedelta(minutes=5)
    )
    before = Delivery.objects.values().get(pk=busy.pk)

    response = login(manager).post(
        url("delivery", "changelist"),
        {"action": "redeliver", "_selected_action": [busy.pk]},
        follow=True,
    )

    assert texts(response, "error") == [
        f"Delivery {busy.pk} not sent again: This delivery is being sent right now; "
        "look again in a minute."
    ]
    assert texts(response, "success") == []
    assert Delivery.objects.values().get(pk=busy.pk) == before
    assert not LogEntry.objects.exists()


# ---------------------------------------------------------------------------- scoping


def test_another_business_cannot_reach_callbacks_or_deliveries(b_manager, login, calls):
    client = login(b_manager)

    assert listed(client.get(url("eventcallback", "changelist"))) == []
    assert listed(client.get(url("delivery", "changelist"))) == []
    assert listed(client.get(url("delivery", "changelist"), {"q": calls.pk})) == []
    for callback in EventCallback.objects.all():
        assert client.get(url("eventcallback", "change", callback.pk)).status_code == 404
    for delivery in Delivery.objects.all():
        assert client.get(url("delivery", "change", delivery.pk)).status_code == 404


def test_another_business_cannot_redeliver(b_manager, login, calls, b_calls):
    ours = Delivery.objects.get(webhook__business=calls.business, state="delivered")
    before = Delivery.objects.values().get(pk=ours.pk)

    login(b_manager).post(
        url("delivery", "changelist"), {"action": "redeliver", "_selected_action": [ours.pk]}
    )

    assert Delivery.objects.values().get(pk=ours.pk) == before


def test_each_business_lists_only_its_own_calls(manager, b_manager, login, calls, b_calls, hook):
    ours = listed(login(manager).get(url("eventcallback", "changelist")))
    theirs = listed(login(b_manager).get(url("eventcallback", "changelist")))

    assert {callback.webhook_id for callback in ours} == {hook.pk}
    assert {callback.webhook_id for callback in theirs} == {b_calls.pk}


def test_the_webhook_filter_offers_only_the_business_webhooks(manager, login, calls, b_calls, hook):
    response = login(manager).get(url("delivery", "changelist"))

    html = response.content.decode()
    assert f'href="?webhook={hook.pk}"' in html
    assert f"webhook={b_calls.pk}" not in html
    assert "Other shop" not in html

"""/metrics: money moves, refusals, throttles, webhook calls and request latency are counted,
the outbox's lag is read at scrape time, and only allowed networks holding the token may
read any of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client as HttpClient
from django.utils import timezone

from giftcards import exceptions, services
from giftcards.events import work
from giftcards.models import Delivery, OutboxEvent
from tests.giftcards.plain_api.helpers import card_body
from tests.observability.conftest import parse, value

MOVES = "giftcards_money_moves_total"
REFUSALS = "giftcards_refusals_total"
LATENCY = "giftcards_http_request_duration_seconds_count"


def delta(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_money_moves_through_the_api_are_counted_by_kind_and_outcome(
    api, customer, scrape, django_capture_on_commit_callbacks
):
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/giftcards", card_body(customer, amount="25"), format="json")
        card_id = created.json()["giftCardUUId"]
        paid = api.post("/payments", {"giftCardUUId": card_id, "amount": "10"}, format="json")
        over = api.post("/payments", {"giftCardUUId": card_id, "amount": "90"}, format="json")
    after = scrape()

    assert (created.status_code, paid.status_code, over.status_code) == (201, 201, 422)
    assert delta(before, after, MOVES, kind="issue", outcome="ok") == 1
    assert delta(before, after, MOVES, kind="debit", outcome="ok") == 1
    assert delta(before, after, MOVES, kind="debit", outcome="refused") == 1
    assert delta(before, after, REFUSALS, code="insufficient_balance") == 1
    # Latency per route name and status class; the card's id is never a label.
    payments = {"route": "plain-payments", "method": "POST"}
    assert delta(before, after, LATENCY, status="2xx", **payments) == 1
    assert delta(before, after, LATENCY, status="4xx", **payments) == 1
    assert delta(before, after, LATENCY, route="plain-giftcard-save", method="POST", status="2xx")
    assert not [key for key in after if card_id in repr(key)]


def test_a_transfer_is_one_move_and_a_refund_another(
    tenant, actor, make_card, scrape, django_capture_on_commit_callbacks
):
    source = make_card(balance_cents=5_000)
    target = make_card(balance_cents=0)
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        services.card_transfer(
            source=source, target=target, amount_cents=1_000, actor=actor, tenant=tenant
        )
        debit = services.card_debit(card=source, amount_cents=500, actor=actor)
        services.card_refund(payment=debit.entry, amount_cents=500, actor=actor)
    after = scrape()

    assert delta(before, after, MOVES, kind="transfer", outcome="ok") == 1
    assert delta(before, after, MOVES, kind="refund", outcome="ok") == 1
    assert ("transfer_in" not in repr(after)) and ("transfer_out" not in repr(after))


def test_an_order_refund_over_several_debits_is_one_move(
    tenant, actor, make_card, scrape, django_capture_on_commit_callbacks
):
    card = make_card(balance_cents=5_000)
    for cents in (1_000, 2_000):
        services.card_debit(card=card, amount_cents=cents, actor=actor, order_reference="A-1")
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        services.card_change(
            card=card,
            actor=actor,
            changes=services.CardChanges(balance_change_cents=2_500, order_reference="A-1"),
        )
    after = scrape()

    assert card.ledger.filter(kind="refund").count() == 2
    assert delta(before, after, MOVES, kind="refund", outcome="ok") == 1


def test_a_rolled_back_move_is_not_counted(
    tenant, actor, make_card, scrape, django_capture_on_commit_callbacks
):
    card = make_card(balance_cents=1_000)
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.card_debit(card=card, amount_cents=100, actor=actor)
        transaction.set_rollback(True)

    assert delta(before, scrape(), MOVES, kind="debit", outcome="ok") == 0


def test_a_refused_change_set_counts_its_money_move_and_its_code(tenant, actor, make_card, scrape):
    card = make_card(balance_cents=1_000)
    before = scrape()
    with pytest.raises(exceptions.InsufficientBalance):
        services.card_change(
            card=card,
            actor=actor,
            changes=services.CardChanges(balance_change_cents=-5_000),
        )
    after = scrape()

    assert delta(before, after, MOVES, kind="debit", outcome="refused") == 1
    assert delta(before, after, REFUSALS, code="insufficient_balance") == 1


def test_throttle_refusals_are_counted_by_scope(db, settings, scrape):
    settings.BALANCE_CHECK_ATTEMPTS = 1
    before = scrape()
    browser = HttpClient()
    statuses = [browser.post("/balance", {"code": "K7QM-X2PD"}).status_code for _ in range(3)]

    assert statuses == [200, 429, 429]
    assert delta(before, scrape(), "giftcards_throttle_refusals_total", scope="balance_check") == 2


def test_webhook_calls_and_the_outbox_lag(make_webhook, make_card, receiver, scrape):
    make_webhook("gift_cards.balance_change")
    make_card(balance_cents=1_000)
    waiting = scrape()
    work.drain()
    receiver.wait_for(1)
    done = scrape()

    assert value(waiting, "giftcards_outbox_lag_seconds", stage="dispatch") >= 0
    assert ("giftcards_outbox_lag_seconds", (("stage", "dispatch"),)) in waiting
    assert delta(waiting, done, "giftcards_webhook_deliveries_total", outcome="delivered") == 1
    assert value(done, "giftcards_webhook_deliveries_pending") == 0
    assert value(done, "giftcards_outbox_lag_seconds", stage="dispatch") == 0
    assert value(done, "giftcards_outbox_lag_seconds", stage="delivery") == 0


def test_webhook_deliveries_are_read_from_the_database(make_webhook, make_card, receiver, scrape):
    """Celery workers may run on other machines: what they settled is read from the
    database at scrape time, whichever process counted the calls."""
    make_webhook("gift_cards.balance_change")
    make_card(balance_cents=1_000)
    work.drain()
    receiver.wait_for(1)
    delivered = scrape()
    # What a worker elsewhere wrote: a delivery given up after five calls.
    Delivery.objects.update(state=Delivery.State.FAILED, attempts=5)
    failed = scrape()

    assert value(delivered, "giftcards_webhook_deliveries", state="delivered") == 1
    assert value(delivered, "giftcards_webhook_delivery_calls", state="delivered") == 1
    assert ("giftcards_webhook_deliveries", (("state", "failed"),)) in delivered
    assert value(failed, "giftcards_webhook_deliveries", state="delivered") == 0
    assert value(failed, "giftcards_webhook_deliveries", state="failed") == 1
    assert value(failed, "giftcards_webhook_delivery_calls", state="failed") == 5
    assert value(failed, "giftcards_webhook_deliveries_pending") == 0


def test_the_outbox_lag_is_the_age_of_the_oldest_waiting_event(make_webhook, make_card, scrape):
    make_webhook("gift_cards.balance_change")
    make_card(balance_cents=1_000)
    OutboxEvent.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    lag = value(scrape(), "giftcards_outbox_lag_seconds", stage="dispatch")
    assert 300 <= lag < 360


# ---------------------------------------------------------------------------- who may read


def test_metrics_need_the_token_when_one_is_set(db, settings):
    settings.METRICS_TOKEN = "scrape-secret-1"
    client = HttpClient()

    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic scrape-secret-1").status_code == 403
    answer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-1")
    assert answer.status_code == 200
    assert b"giftcards_money_moves_total" in answer.content


@pytest.mark.parametrize(
    "origin",
    [
        {"REMOTE_ADDR": "203.0.113.7"},
        # A proxy on this machine relaying an outside client does not make it local.
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_REAL_IP": "203.0.113.7"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": 'for="203.0.113.7:4711";proto=https'},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "unknown"},
    ],
)
def test_metrics_are_not_found_from_other_networks(db, origin):
    response = HttpClient().get("/metrics", **origin)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}  # as any unknown path


def test_allowed_networks_come_from_the_settings(db, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24", "2001:db8::/32"]
    client = HttpClient()

    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::5").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:203.0.113.9").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 404


def test_without_a_token_metrics_need_networks_named_explicitly(db, settings):
    """A proxy on this machine adding no forwarding header makes every client loopback:
    with DEBUG off, loopback alone is trusted only when the operator named the networks."""
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_NETWORKS_EXPLICIT = False
    client = HttpClient()

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics").json() == {"detail": "Not found."}
    settings.METRICS_NETWORKS_EXPLICIT = True
    assert client.get("/metrics").status_code == 200
    settings.METRICS_NETWORKS_EXPLICIT = False
    settings.METRICS_TOKEN = "scrape-secret-1"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-1").status_code == 200
    settings.METRICS_TOKEN = ""
    settings.DEBUG = True
    assert client.get("/metrics").status_code == 200


def test_other_methods_from_other_networks_are_not_found_either(db):
    client = HttpClient()

    assert client.post("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 404
    assert client.delete("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 404
    assert client.post("/metrics").status_code == 405
    assert client.head("/metrics").status_code == 200


def test_a_peer_without_an_address_needs_the_token(db, settings):
    """A unix socket bind gives no REMOTE_ADDR: no network, so only the token lets it in."""
    client = HttpClient()

    assert client.get("/metrics", REMOTE_ADDR="").status_code == 404
    settings.METRICS_TOKEN = "scrape-secret-1"
    assert client.get("/metrics", REMOTE_ADDR="").status_code == 404
    assert (
        client.get("/metrics", REMOTE_ADDR="", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    )
    token = {"HTTP_AUTHORIZATION": "Bearer scrape-secret-1"}
    assert client.get("/metrics", REMOTE_ADDR="", **token).status_code == 200
    # What a proxy in front of the socket says about the client is still checked.
    outside = {"HTTP_X_FORWARDED_FOR": "203.0.113.7", **token}
    assert client.get("/metrics", REMOTE_ADDR="", **outside).status_code == 404


def test_the_metrics_page_is_never_cached(db, scrape):
    response = HttpClient().get("/metrics")

    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert parse(response.content.decode())

"""Webhook calls against a real receiver on 127.0.0.1: signed payloads, every attempt recorded,
retries with backoff, the circuit breaker, deadlines, no redirects."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
import standardwebhooks
from django.db import connection
from django.utils import timezone

from clients.tenancy import Mode, Tenant
from giftcards import codes, services
from giftcards.events import delivery, webhooks, work
from giftcards.models import (
    CircuitState,
    Delivery,
    EventCallback,
    GiftCard,
    Market,
    OutboxEvent,
    Status,
    Webhook,
)


def time_passes():
    """Every pending delivery's next attempt is due (the clock moved past its backoff)."""
    Delivery.objects.filter(state="pending").update(next_attempt_at=timezone.now())


def test_a_call_carries_the_resource_and_both_signatures_of_its_exact_body(
    make_webhook, make_card, actor, receiver
):
    hook = make_webhook("gift_cards.balance_change")
    card = make_card(balance_cents=5_000)
    services.card_debit(card=card, amount_cents=1_250, actor=actor, order_reference="ORD-7")
    work.drain()

    calls = receiver.wait_for(2)
    assert len(calls) == 2  # the issue, then the debit
    call = calls[1]
    secret = hook.shared_secret
    assert secret.startswith("whsec_")
    expected = base64.b64encode(hmac.new(secret.encode(), call.body, hashlib.sha256).digest())
    assert call.headers["X-CommerceLayer-Signature"] == expected.decode()
    assert call.headers["X-CommerceLayer-Topic"] == "gift_cards.balance_change"
    # An implementation other than ours verifies the Standard Webhooks signature.
    payload = standardwebhooks.Webhook(secret).verify(call.body, call.headers)

    event = OutboxEvent.objects.filter(name="gift_cards.balance_change").last()
    assert call.headers["webhook-id"] == event.public_id
    assert abs(int(call.headers["webhook-timestamp"]) - time.time()) < 60
    assert payload["data"]["type"] == "gift_cards"
    assert payload["data"]["id"] == card.pk
    assert payload["data"]["attributes"]["balance_cents"] == 3_750
    assert payload["data"]["attributes"]["code"] == card.code
    assert payload["data"]["links"]["self"].endswith(f"/api/gift_cards/{card.pk}")
    meta = payload["meta"]["event"]
    assert (meta["id"], meta["name"]) == (event.public_id, "gift_cards.balance_change")
    assert meta["data"]["ledger_entry"]["amount_cents"] == -1_250
    assert meta["data"]["ledger_entry"]["order_reference"] == "ORD-7"


def test_a_signature_of_another_body_or_another_secret_does_not_verify(
    make_webhook, make_card, receiver
):
    hook = make_webhook("gift_cards.create")
    make_card()
    work.drain()
    call = receiver.wait_for(1)[0]
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(hook.shared_secret).verify(call.body + b" ", call.headers)
    other = webhooks.signing.new_secret()
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(other).verify(call.body, call.headers)


def test_every_attempt_is_recorded_as_an_event_callback(make_webhook, make_card, receiver):
    hook = make_webhook("gift_cards.create")
    card = make_card()
    work.drain()
    callback = EventCallback.objects.get()
    assert callback.webhook == hook
    assert (callback.response_code, callback.response_message) == ("200", "ok")
    assert callback.callback_url == receiver.url
    assert (callback.business_id, callback.mode) == (hook.business_id, hook.mode)
    sent = receiver.received[0].body
    # Kept encrypted: a payload holds the card's code.
    assert card.code.encode() not in callback.payload_encrypted.encode()
    assert codes.decrypt(callback.payload_encrypted).encode() == sent
    assert Delivery.objects.get().state == Delivery.State.DELIVERED


def test_include_resources_are_included(make_webhook, make_card, tenant, actor, receiver):
    make_webhook("gift_cards.create", include_resources=["market", "tags"])
    market = Market.objects.create(
        business=tenant.business, mode=tenant.mode, name="US", currency_code="USD"
    )
    card = make_card(market=market)
    work.drain()
    body = json.loads(receiver.wait_for(1)[0].body)
    assert body["data"]["relationships"]["market"]["data"] == {
        "type": "markets",
        "id": str(market.pk),
    }
    assert [(item["type"], item["id"]) for item in body["included"]] == [
        ("markets", str(market.pk))
    ]
    assert card.pk == body["data"]["id"]


def test_only_the_tenants_webhooks_on_the_topic_are_called(
    make_webhook, make_card, business, other_business, receiver
):
    make_webhook("gift_cards.create")
    make_webhook("gift_cards.create", tenant=Tenant(business=business, mode=Mode.TEST))
    make_webhook("gift_cards.create", tenant=Tenant(business=other_business, mode=Mode.LIVE))
    make_webhook("gift_cards.redeem")
    make_card()
    work.drain()
    assert len(receiver.received) == 1
    assert Delivery.objects.count() == 1


def test_a_failed_call_is_retried_later_and_then_delivered(make_webhook, make_card, receiver):
    receiver.plan.statuses = [503, 200]
    make_webhook("gift_cards.create")
    make_card()
    work.drain()
    pending = Delivery.objects.get()
    assert (pending.state, pending.attempts) == ("pending", 1)
    wait = pending.next_attempt_at - timezone.now()
    assert timedelta(seconds=10) < wait <= timedelta(seconds=30)
    work.drain()  # not due yet: no call
    assert len(receiver.received) == 1

    time_passes()
    work.drain()
    done = Delivery.objects.get()
    assert (done.state, done.attempts) == ("delivered", 2)
    assert [c.response_code for c in EventCallback.objects.order_by("id")] == ["503", "200"]
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # the same event


def test_backoff_doubles_from_the_base_up_to_the_cap_with_jitter(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.WEBHOOK_RETRY_CAP_SECONDS = 3600
    lows = [delivery.retry_delay(n, jitter=lambda a, b: a).total_seconds() for n in range(1, 10)]
    highs = [delivery.retry_delay(n, jitter=lambda a, b: b).total_seconds() for n in range(1, 10)]
    assert highs == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert lows == [high / 2 for high in highs]
    assert 15 <= delivery.retry_delay(1).total_seconds() <= 30


def test_a_delivery_is_retried_for_a_day_then_given_up(make_webhook, make_card, receiver):
    receiver.plan.statuses = [500]
    make_webhook("gift_cards.create")
    make_card()
    work.drain()
    Delivery.objects.update(first_failed_at=timezone.now() - timedelta(hours=24))
    time_passes()
    work.drain()
    assert Delivery.objects.get().state == "pending"  # 24 hours are not enough to give up

    Delivery.objects.update(first_failed_at=timezone.now() - timedelta(hours=25, seconds=1))
    time_passes()
    work.drain()
    given_up = Delivery.objects.get()
    assert (given_up.state, given_up.attempts) == ("failed", 3)
    time_passes()
    work.drain()
    assert len(receiver.received) == 3


def test_thirty_failures_open_the_circuit_and_a_reset_delivers_what_waited(
    make_webhook, make_card, actor, receiver
):
    receiver.plan.statuses = [500]
    hook = make_webhook("gift_cards.balance_change")
    card = make_card(balance_cents=10_000)
    for attempt in range(30):
        work.drain()
        time_passes()
        hook.refresh_from_db()
        expected = CircuitState.OPEN if attempt == 29 else CircuitState.CLOSED
        assert (hook.circuit_state, hook.circuit_failure_count) == (expected, attempt + 1)
    assert len(receiver.received) == 30

    # Open: no call at all, and the events in between are kept.
    services.card_debit(card=card, amount_cents=100, actor=actor)
    services.card_debit(card=card, amount_cents=200, actor=actor)
    time_passes()
    work.drain()
    assert len(receiver.received) == 30
    assert Delivery.objects.filter(state="pending").count() == 3

    receiver.plan.statuses = [200]
    webhooks.webhook_reset_circuit(webhook=hook, actor=actor)
    work.drain()
    hook.refresh_from_db()
    assert (hook.circuit_state, hook.circuit_failure_count) == ("closed", 0)
    assert Delivery.objects.filter(state="delivered").count() == 3
    amounts = sorted(
        json.loads(call.body)["meta"]["event"]["data"]["ledger_entry"]["amount_cents"]
        for call in receiver.received[30:]
    )
    assert amounts == [-200, -100, 10_000]


def test_a_success_clears_the_failure_count(make_webhook, make_card, receiver):
    receiver.plan.statuses = [500, 500, 200]
    hook = make_webhook("gift_cards.create")
    make_card()
    for _ in range(3):
        work.drain()
        time_passes()
    hook.refresh_from_db()
    assert hook.circuit_failure_count == 0


def test_a_slow_receiver_is_cut_off_at_the_deadline(make_webhook, make_card, receiver, settings):
    settings.WEBHOOK_TIMEOUT = 0.5
    receiver.plan.delay = 3
    make_webhook("gift_cards.create")
    make_card()
    started = time.monotonic()
    work.drain()
    assert time.monotonic() - started < 2
    callback = EventCallback.objects.get()
    assert callback.response_code == ""
    assert callback.response_message == "No complete answer within 0.5 s."
    assert Delivery.objects.get().state == "pending"


def test_a_receiver_that_trickles_its_answer_is_cut_off_too(
    make_webhook, make_card, receiver, settings
):
    settings.WEBHOOK_TIMEOUT = 0.5

    def trickle(handler):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(40):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.05)

    receiver.plan.respond = trickle
    make_webhook("gift_cards.create")
    make_card()
    started = time.monotonic()
    work.drain()
    assert time.monotonic() - started < 1.5
    assert EventCallback.objects.get().response_code == ""


def test_redirects_are_not_followed(make_webhook, make_card, receiver):
    receiver.plan.statuses = [302]
    receiver.plan.headers = {"Location": f"http://127.0.0.1:{receiver.port}/elsewhere"}
    make_webhook("gift_cards.create")
    make_card()
    work.drain()
    assert [call.path for call in receiver.received] == ["/hooks"]
    callback = EventCallback.objects.get()
    assert callback.response_code == "302"
    assert Delivery.objects.get().state == "pending"


def test_garbage_for_an_answer_is_a_failed_call(make_webhook, make_card, receiver):
    def garbage(handler):
        handler.wfile.write(b"\x00\xffnot http at all\r\n\r\n")

    receiver.plan.respond = garbage
    make_webhook("gift_cards.create")
    make_card()
    work.drain()
    callback = EventCallback.objects.get()
    assert callback.response_code == ""
    assert callback.response_message.startswith(("BadStatusLine", "RemoteDisconnected"))


def test_a_long_or_unstorable_answer_is_kept_short_and_storable(make_webhook, make_card, receiver):
    receiver.plan.statuses = [400]
    receiver.plan.body = b"\x00bad" + b"y" * 100_000
    make_webhook("gift_cards.create")
    make_card()
    work.drain()
    message = EventCallback.objects.get().response_message
    assert len(message) == delivery.MAX_MESSAGE_LENGTH
    assert message.startswith("\ufffdbad")


@pytest.mark.parametrize(
    "quoted",
    [
        lambda body, code: body,  # the payload itself, echoed
        lambda body, code: b"bad request: " + code.lower().encode(),
        lambda body, code: f"invalid code {' '.join(code.replace('-', ''))}".encode(),
        lambda body, code: b"x" * 990 + code.encode(),  # straddling the kept length
    ],
)
def test_a_card_code_in_the_answer_is_not_kept(make_webhook, make_card, receiver, quoted):
    """A receiver that quotes what it got (a debugging endpoint, an error page) would put the
    card's code, in clear, into the callback's response_message: it is masked, in any case
    and with any spaces or dashes."""
    code = "ECHO-7QXW-K2MP-94RT"

    def answer(handler):
        said = quoted(handler.request_body, code)
        handler.send_response(400)
        handler.send_header("Content-Length", str(len(said)))
        handler.end_headers()
        handler.wfile.write(said)

    receiver.plan.respond = answer
    make_webhook("gift_cards.create")
    make_card(code=code)
    work.drain()
    message = EventCallback.objects.get().response_message
    squeezed = "".join(char for char in message.upper() if char.isalnum())
    assert codes.normalise(code)[:8] not in squeezed
    assert "7QXWK2MP" not in squeezed and "K2MP94RT" not in squeezed
    if not message.startswith("x"):
        assert codes.mask("94RT") in message


def test_a_disabled_webhook_gets_nothing_and_resumes_with_new_events(
    make_webhook, make_card, actor, receiver
):
    hook = make_webhook("gift_cards.create")
    webhooks.webhook_disable(webhook=hook, actor=actor)
    make_card()
    work.drain()
    assert Delivery.objects.count() == 0
    webhooks.webhook_enable(webhook=hook, actor=actor)
    make_card()
    work.drain()
    assert len(receiver.received) == 1


def test_a_delivery_held_by_a_disabled_webhook_waits_for_it(
    make_webhook, make_card, actor, receiver
):
    receiver.plan.statuses = [500, 200]
    hook = make_webhook("gift_cards.create")
    make_card()
    work.drain()
    webhooks.webhook_disable(webhook=hook, actor=actor)
    time_passes()
    work.drain()
    assert len(receiver.received) == 1
    webhooks.webhook_enable(webhook=hook, actor=actor)
    work.drain()
    assert len(receiver.received) == 2
    assert Delivery.objects.get().state == "delivered"


def test_redeliver_sends_a_delivered_event_again(make_webhook, make_card, actor, receiver):
    make_webhook("gift_cards.create")
    make_card()
    work.drain()
    done = Delivery.objects.get()
    webhooks.delivery_redeliver(delivery=done, actor=actor)
    work.drain()
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert Delivery.objects.get().attempts == 2


def test_a_stale_task_does_nothing(make_webhook, make_card, receiver):
    make_webhook("gift_cards.create")
    make_card()
    work.fan_out(lambda kind, ids, token: None)  # queued, but the message is lost
    pending = Delivery.objects.get()
    assert delivery.attempt(pending.pk, "not-the-token") == "stale"
    assert delivery.attempt(pending.pk, pending.lease_token) == "delivered"
    assert delivery.attempt(pending.pk, pending.lease_token) == "stale"
    assert len(receiver.received) == 1


def test_a_lost_message_is_queued_again_once_its_lease_runs_out(make_webhook, make_card, receiver):
    make_webhook("gift_cards.create")
    make_card()
    work.fan_out(lambda kind, ids, token: None)  # queued, but the message is lost
    work.drain()
    assert receiver.received == []  # still leased for its queued task
    Delivery.objects.update(leased_until=timezone.now() - timedelta(seconds=1))
    work.drain()
    assert len(receiver.received) == 1


def test_a_card_made_active_through_the_api_calls_the_activate_webhook(
    make_webhook, api_key, receiver, client
):
    make_webhook("gift_cards.activate")
    document = {"data": {"type": "gift_cards", "attributes": {"balance_cents": 500}}}
    created = client.post(
        "/api/gift_cards",
        document,
        content_type="application/vnd.api+json",
        headers={"Authorization": f"Bearer {api_key[1]}"},
    )
    card_id = created.json()["data"]["id"]
    activate = {"data": {"type": "gift_cards", "id": card_id, "attributes": {"_activate": True}}}
    client.patch(
        f"/api/gift_cards/{card_id}",
        activate,
        content_type="application/vnd.api+json",
        headers={"Authorization": f"Bearer {api_key[1]}"},
    )
    work.drain()
    call = receiver.wait_for(1)[0]
    assert json.loads(call.body)["data"]["attributes"]["status"] == Status.ACTIVE


def test_a_circuit_that_opens_mid_batch_holds_the_rest_of_the_batch(
    make_webhook, make_card, actor, receiver, settings
):
    settings.WEBHOOK_CIRCUIT_THRESHOLD = 3
    receiver.plan.statuses = [500]
    hook = make_webhook("gift_cards.balance_change")
    card = make_card(balance_cents=10_000)
    for _ in range(7):
        services.card_debit(card=card, amount_cents=1, actor=actor)
    work.drain()  # one batch of 8 deliveries (work.TASK_BATCH is 10)
    assert len(receiver.received) == 3
    hook.refresh_from_db()
    assert (hook.circuit_state, hook.circuit_failure_count) == ("open", 3)
    assert Delivery.objects.filter(attempts=0, state="pending").count() == 5


def test_a_success_after_a_failure_in_one_batch_clears_the_count(
    make_webhook, make_card, actor, receiver
):
    receiver.plan.statuses = [500, 200]
    hook = make_webhook("gift_cards.balance_change")
    card = make_card()
    services.card_debit(card=card, amount_cents=1, actor=actor)
    work.drain()
    hook.refresh_from_db()
    assert hook.circuit_failure_count == 0
    assert [c.response_code for c in EventCallback.objects.order_by("id")] == ["500", "200"]


def test_a_payload_that_cannot_be_made_is_recorded_and_does_not_hold_the_others(
    make_webhook, make_card, receiver
):
    hook = make_webhook("gift_cards.create")
    broken = make_card()
    fine = make_card()
    GiftCard.objects.filter(pk=broken.pk).update(code_encrypted="not a token any key opens")
    work.drain()
    assert [json.loads(call.body)["data"]["id"] for call in receiver.received] == [fine.pk]
    stuck = Delivery.objects.get(event__resource_id=broken.pk)
    assert (stuck.state, stuck.attempts) == ("pending", 1)
    assert stuck.first_failed_at is not None
    callback = EventCallback.objects.get(delivery=stuck)
    assert callback.response_code == ""
    assert callback.response_message == "Not sent: the payload could not be made (InvalidCode)."
    hook.refresh_from_db()
    assert hook.circuit_failure_count == 0  # not the receiver's failure

    Delivery.objects.filter(pk=stuck.pk).update(
        first_failed_at=timezone.now() - timedelta(hours=26)
    )
    time_passes()
    work.drain()
    assert Delivery.objects.get(pk=stuck.pk).state == "failed"


@pytest.mark.django_db(transaction=True)
def test_a_webhook_disabled_during_a_batch_gets_no_more_calls(
    make_webhook, make_card, actor, receiver
):
    hook = make_webhook("gift_cards.balance_change")
    card = make_card()
    for _ in range(4):
        services.card_debit(card=card, amount_cents=1, actor=actor)

    def disable_then_answer(handler):
        Webhook.objects.filter(pk=hook.pk).update(disabled_at=timezone.now())
        connection.close()  # this thread's own connection
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    receiver.plan.respond = disable_then_answer
    work.drain()  # one batch of five deliveries
    assert len(receiver.received) == 1
    assert Delivery.objects.filter(state="pending").count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_success_clears_failures_counted_by_another_worker_meanwhile(
    make_webhook, make_card, receiver
):
    hook = make_webhook("gift_cards.create")
    make_card()

    def others_fail_meanwhile(handler):
        Webhook.objects.filter(pk=hook.pk).update(circuit_failure_count=5)
        connection.close()
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    receiver.plan.respond = others_fail_meanwhile
    work.drain()
    hook.refresh_from_db()
    assert hook.circuit_failure_count == 0

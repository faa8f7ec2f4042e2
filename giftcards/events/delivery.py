"""One call of a webhook for a delivery, and what follows from its answer.

Outside any transaction: read the delivery (and stop if the task is stale or the webhook is
disabled or its circuit open), renew its lease, render and sign the payload, call. Then, in
one short transaction: count the webhook's consecutive failures (opening its circuit at
`WEBHOOK_CIRCUIT_THRESHOLD`, clearing them on a success), settle the delivery (delivered; or
due again after an exponential, jittered delay; or given up once the first failure is
`WEBHOOK_RETRY_FOR_HOURS` old) and record the call as an event callback.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from giftcards import codes, text
from giftcards.events import egress, leases, payloads, signing
from giftcards.models import CircuitState, Delivery, EventCallback, Webhook

MAX_MESSAGE_LENGTH = 1000
logger = logging.getLogger(__name__)

State = Delivery.State


def retry_delay(attempts: int, jitter=random.uniform) -> timedelta:
    """After the `attempts`-th failed call: base x 2^(attempts-1), capped, times 0.5 to 1
    (so that many deliveries failed together do not come back together)."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 30)
    return timedelta(seconds=min(base, settings.WEBHOOK_RETRY_CAP_SECONDS) * jitter(0.5, 1))


def message(answer: egress.Answer) -> str:
    """`response_message`: the start of the answer's body (else its reason), or why there
    was no answer; as text any database stores."""
    if answer.status is None:
        said = answer.error
    else:
        said = answer.body[: MAX_MESSAGE_LENGTH * 4].decode("utf-8", "replace").strip()
        said = said or answer.reason
    return text.storable(said)[:MAX_MESSAGE_LENGTH]


def attempt(delivery_id: int, token: str) -> str:
    """Call the webhook for one delivery leased under `token`. Returns what happened:
    `stale` (another lease holds it, or it is settled), `held` (webhook disabled or circuit
    open: it waits), `delivered`, `retry`, `failed` (gave up), `error` (the payload could
    not be made; retried later, not the receiver's failure)."""
    delivery = (
        Delivery.objects.select_related("webhook", "event", "event__business")
        .filter(pk=delivery_id, lease_token=token, state=State.PENDING)
        .first()
    )
    if delivery is None:
        return "stale"
    webhook = delivery.webhook
    if webhook.is_disabled or webhook.circuit_state == CircuitState.OPEN:
        leases.release(Delivery, delivery.pk, token)
        return "held"
    now = timezone.now()
    token = leases.take(Delivery, delivery.pk, token, now)
    if token is None:
        return "stale"
    attempts = delivery.attempts + 1
    try:
        body = payloads.body(delivery.event, webhook.include_resources)
        secret = webhook.shared_secret
    except Exception:
        logger.exception("Could not make the payload of delivery %s; retrying later.", delivery.pk)
        leases.release(Delivery, delivery.pk, token, next_attempt_at=now + retry_delay(attempts))
        return "error"
    headers = signing.headers(
        secret=secret,
        topic=delivery.event.name,
        message_id=delivery.event.public_id,
        timestamp=int(time.time()),
        body=body,
    )
    answer = egress.post(webhook.callback_url, body, headers)
    return settle(delivery, token, attempts, body, answer)


def settle(
    delivery: Delivery, token: str, attempts: int, body: bytes, answer: egress.Answer
) -> str:
    webhook = delivery.webhook
    now = timezone.now()
    with transaction.atomic():
        # The webhook row first, then the delivery: the order `webhook_reset_circuit` locks in.
        if answer.ok:
            Webhook.objects.filter(pk=webhook.pk, circuit_failure_count__gt=0).update(
                circuit_failure_count=0
            )
            outcome = "delivered"
            fields = {"state": State.DELIVERED, "delivered_at": now}
        else:
            threshold = settings.WEBHOOK_CIRCUIT_THRESHOLD
            Webhook.objects.filter(pk=webhook.pk).update(
                circuit_failure_count=F("circuit_failure_count") + 1,
                circuit_state=Case(
                    When(circuit_failure_count__gte=threshold - 1, then=Value(CircuitState.OPEN)),
                    default=F("circuit_state"),
                ),
            )
            first_failed = delivery.first_failed_at or now
            if _given_up(first_failed, now):
                outcome = "failed"
                fields = {"state": State.FAILED, "first_failed_at": first_failed}
            else:
                outcome = "retry"
                fields = {
                    "first_failed_at": first_failed,
                    "next_attempt_at": now + retry_delay(attempts),
                }
        leases.release(Delivery, delivery.pk, token, **fields)
        EventCallback.objects.create(
            business_id=webhook.business_id,
            mode=webhook.mode,
            webhook=webhook,
            delivery=delivery,
            event_id=delivery.event_id,
            callback_url=webhook.callback_url,
            payload_encrypted=codes.encrypt(body.decode()),
            response_code=str(answer.status) if answer.status is not None else "",
            response_message=message(answer),
            duration_ms=answer.duration_ms,
            created_at=now,
            updated_at=now,
        )
    return outcome


def _given_up(first_failed: datetime, now: datetime) -> bool:
    return now - first_failed >= timedelta(hours=settings.WEBHOOK_RETRY_FOR_HOURS)

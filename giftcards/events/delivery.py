"""One call of a webhook for a delivery, and what follows from its answer.

A task carries a batch of deliveries: their payloads are made together, then, one by one and
outside any transaction, each call reads its webhook as it is now (stopping if it is disabled
or its circuit open), takes its lease (stopping if the task is stale), signs and posts. Then,
in one short transaction: count the webhook's consecutive failures (opening its circuit at
`WEBHOOK_CIRCUIT_THRESHOLD`, clearing them on a success), settle the delivery (delivered; or
due again after an exponential, jittered delay; or given up once the first failure is
`WEBHOOK_RETRY_FOR_HOURS` old) and record the call as an event callback. A payload that
could not be made is recorded and retried the same way, without counting against the
receiver's circuit.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from giftcards import codes, text
from giftcards.events import egress, leases, payloads, signing
from giftcards.models import CircuitState, Delivery, EventCallback, Webhook
from giftcards_project.observability import metrics

MAX_MESSAGE_LENGTH = 1000
logger = logging.getLogger(__name__)

State = Delivery.State


def retry_delay(attempts: int, jitter=random.uniform) -> timedelta:
    """After the `attempts`-th failed call: base x 2^(attempts-1), capped, times 0.5 to 1
    (so that many deliveries failed together do not come back together)."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 30)
    return timedelta(seconds=min(base, settings.WEBHOOK_RETRY_CAP_SECONDS) * jitter(0.5, 1))


def message(answer: egress.Answer, hidden: Iterable[str] = ()) -> str:
    """`response_message`: the start of the answer's body (else its reason), or why there
    was no answer; as text any database stores, with the card codes `hidden` masked.

    A receiver may quote what it got (a debugging endpoint, an error page): the payload's
    codes would then be stored in clear. They are masked in any case and with any spaces and
    dashes (how codes compare), before the message is cut to length, so no part of one is
    left at the cut."""
    if answer.status is None:
        said = answer.error
    else:
        said = answer.body.decode("utf-8", "replace").strip() or answer.reason
    said = text.storable(said)
    for code in hidden:
        said = _mask_code(said, code)
    return said[:MAX_MESSAGE_LENGTH]


def _mask_code(said: str, code: str) -> str:
    normalised = codes.normalise(code)
    if not normalised:
        return said
    pattern = r"[\s\-]*".join(re.escape(char) for char in normalised)
    return re.sub(pattern, codes.mask(normalised[-4:]), said, flags=re.IGNORECASE)


def payload_codes(body: bytes) -> list[str]:
    """The card codes a payload carries (the `code` of its gift_cards resources)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(document, dict):
        return []
    found = []
    for resource in [document.get("data"), *(document.get("included") or ())]:
        if isinstance(resource, dict) and resource.get("type") == "gift_cards":
            code = (resource.get("attributes") or {}).get("code")
            if isinstance(code, str):
                found.append(code)
    return found


def attempt_batch(delivery_ids: list[int], token: str) -> dict[int, str]:
    """Call the webhooks of the deliveries leased under `token` (one task's message), one
    after another. Returns each one's outcome: `stale` (another lease holds it, or it is
    settled), `held` (webhook disabled or circuit open: it waits), `delivered`, `retry`,
    `failed` (gave up), `error` (its payload or signature could not be made: recorded and
    retried like a failed call, but not counted against the receiver).

    The batch's payloads are made together (one read of each kind of row); each call reads
    its webhook again and takes its own lease just before it goes, so a webhook disabled, a
    circuit opened or a URL changed meanwhile is heeded, and the rows behind a slow call keep
    their queue lease."""
    outcomes = {pk: "stale" for pk in delivery_ids}
    rows = list(
        Delivery.objects.select_related("webhook", "event", "event__business")
        .filter(pk__in=delivery_ids, lease_token=token, state=State.PENDING)
        .order_by("id")
    )
    made = payloads.bodies([(row.event, row.webhook.include_resources) for row in rows])
    for row, body in zip(rows, made, strict=True):
        outcomes[row.pk] = _call(row, token, body)
    for outcome in outcomes.values():
        metrics.webhook_delivered(outcome)
    return outcomes


def attempt(delivery_id: int, token: str) -> str:
    """`attempt_batch` of one delivery."""
    return attempt_batch([delivery_id], token)[delivery_id]


def _call(delivery: Delivery, token: str, body: bytes | Exception) -> str:
    """One call: read the webhook as it is now, take the lease, sign, post, settle."""
    webhook = Webhook.objects.filter(pk=delivery.webhook_id).first()
    if webhook is None or webhook.is_disabled or webhook.circuit_state == CircuitState.OPEN:
        leases.release(Delivery, delivery.pk, token)
        return "held" if webhook is not None else "stale"
    delivery.webhook = webhook
    now = timezone.now()
    token = leases.take(Delivery, delivery.pk, token, now)
    if token is None:
        return "stale"
    attempts = delivery.attempts + 1
    try:
        if isinstance(body, Exception):
            raise body
        secret = webhook.shared_secret
    except Exception as exc:
        logger.exception("Could not make the call of delivery %s.", delivery.pk)
        return settle(delivery, token, attempts, None, _not_made(exc))
    headers = signing.headers(
        secret=secret,
        topic=delivery.event.name,
        message_id=delivery.event.public_id,
        timestamp=int(time.time()),
        body=body,
    )
    answer = egress.post(webhook.callback_url, body, headers)
    return settle(delivery, token, attempts, body, answer)


def _not_made(exc: Exception) -> egress.Answer:
    """The answer recorded for a call that could not be made (our fault, not the
    receiver's): the kind of error only, which names no code or secret."""
    return egress.Answer(
        status=None, error=f"Not sent: the payload could not be made ({type(exc).__name__})."
    )


def settle(
    delivery: Delivery,
    token: str,
    attempts: int,
    body: bytes | None,
    answer: egress.Answer,
) -> str:
    """Record a call (or one that could not be made: `body` None) and what follows from its
    answer, in one transaction."""
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
            if body is not None:  # a receiver's failure counts against its circuit
                threshold = settings.WEBHOOK_CIRCUIT_THRESHOLD
                Webhook.objects.filter(pk=webhook.pk).update(
                    circuit_failure_count=F("circuit_failure_count") + 1,
                    circuit_state=Case(
                        When(
                            circuit_failure_count__gte=threshold - 1,
                            then=Value(CircuitState.OPEN),
                        ),
                        default=F("circuit_state"),
                    ),
                )
            first_failed = delivery.first_failed_at or now
            if _given_up(first_failed, now):
                outcome = "failed"
                fields = {"state": State.FAILED, "first_failed_at": first_failed}
            else:
                outcome = "retry" if body is not None else "error"
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
            payload_encrypted=codes.encrypt(body.decode() if body is not None else "null"),
            response_code=str(answer.status) if answer.status is not None else "",
            response_message=message(answer, hidden=payload_codes(body or b"")),
            duration_ms=answer.duration_ms,
            created_at=now,
            updated_at=now,
        )
    return outcome


def _given_up(first_failed: datetime, now: datetime) -> bool:
    return now - first_failed >= timedelta(hours=settings.WEBHOOK_RETRY_FOR_HOURS)

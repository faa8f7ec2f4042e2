"""Webhooks: the one place their rules live (the JSON:API and the admin only call these).

A webhook subscribes a callback URL to one topic of its tenant. Its URL is checked here when
it is saved (giftcards.events.egress: https, public addresses only) and again at every call.
Its `shared_secret` is generated, kept encrypted with the code key, and never changes.
`_disable`/`_enable` stop and resume calls (no deliveries are made for events while it is
disabled); `_reset_circuit` closes an open circuit and makes everything that waited due at
once.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from clients.tenancy import Actor, Tenant
from giftcards import attributes, codes, exceptions
from giftcards.events import egress, engine, leases, payloads, signing, topics
from giftcards.models import CircuitState, Delivery, Webhook

FIELDS = frozenset(
    {
        "name",
        "topic",
        "callback_url",
        "include_resources",
        "reference",
        "reference_origin",
        "metadata",
    }
)
TEXT_LIMITS = {"name": 255, "reference": 255, "reference_origin": 255}


def webhook_validate(*, tenant: Tenant, webhook: Webhook | None = None, **fields: Any) -> dict:
    """`fields` checked and normalised, for a new webhook of `tenant` or a change to
    `webhook`. Writes nothing.

    Raises UnknownTopic, InvalidCallbackUrl (not https, or resolving to an address callbacks
    may not reach), InvalidValue (include_resources the topic's resource cannot include,
    text too long, metadata that is not an object), GiftCardError (an unknown field).
    """
    attributes.refuse_unknown(fields, FIELDS)
    clean: dict[str, Any] = {}
    for name in ("name", "reference", "reference_origin"):
        if name in fields:
            clean[name] = attributes.clean_text(name, fields[name], TEXT_LIMITS[name])
    topic = fields.get("topic", webhook.topic if webhook is not None else None)
    if "topic" in fields:
        if topic not in topics.TOPICS:
            raise exceptions.UnknownTopic(
                f"{topic!r} is not a topic; topics: {', '.join(topics.TOPICS)}."
            )
        clean["topic"] = topic
    if "callback_url" in fields:
        url = fields["callback_url"]
        if not isinstance(url, str):
            raise exceptions.InvalidCallbackUrl("callback_url must be text.")
        try:
            egress.check(url.strip())
        except egress.Refused as exc:
            raise exceptions.InvalidCallbackUrl(str(exc)) from None
        clean["callback_url"] = url.strip()
    if "include_resources" in fields or "topic" in fields:
        include = fields.get(
            "include_resources", webhook.include_resources if webhook is not None else []
        )
        if include is None:
            include = []
        if not isinstance(include, list) or not all(isinstance(item, str) for item in include):
            raise exceptions.InvalidValue(
                "include_resources must be a list of relationship names.",
                field="include_resources",
            )
        allowed = payloads.includable(topic or "")
        wrong = sorted(set(include) - allowed)
        if wrong:
            offer = ", ".join(sorted(allowed)) or "nothing"
            raise exceptions.InvalidValue(
                f"{topic} payloads cannot include {wrong[0]!r}; includable: {offer}.",
                field="include_resources",
            )
        clean["include_resources"] = list(dict.fromkeys(include))
    if "metadata" in fields:
        clean["metadata"] = attributes.clean_metadata(fields["metadata"])
    return clean


def webhook_create(
    *,
    tenant: Tenant,
    actor: Actor,
    topic: str,
    callback_url: str,
    name: str = "",
    include_resources: list[str] | None = None,
    reference: str = "",
    reference_origin: str = "",
    metadata: dict | None = None,
    disabled: bool = False,
) -> Webhook:
    """A new webhook, enabled unless `disabled` (Commerce Layer's `_disable` on create).
    Raises what `webhook_validate` raises."""
    clean = webhook_validate(
        tenant=tenant,
        name=name,
        topic=topic,
        callback_url=callback_url,
        include_resources=include_resources or [],
        reference=reference,
        reference_origin=reference_origin,
        metadata=metadata or {},
    )
    return Webhook.objects.create(
        business=tenant.business,
        mode=tenant.mode,
        shared_secret_encrypted=codes.encrypt(signing.new_secret()),
        disabled_at=timezone.now() if disabled else None,
        **clean,
    )


def _locked(webhook: Webhook) -> Webhook:
    # NO KEY: deliveries and callbacks being inserted hold KEY SHARE locks on the webhook;
    # the business comes along (a change is validated within its tenant).
    return (
        Webhook.objects.select_related("business")
        .select_for_update(no_key=True, of=("self",))
        .get(pk=webhook.pk)
    )


# ---------------------------------------------------------------------------- steps
# Each takes the locked webhook and changes it in the caller's transaction.


def _update(locked: Webhook, changes: dict[str, Any]) -> None:
    tenant = Tenant(business=locked.business, mode=locked.mode)
    attributes.save_changed(locked, webhook_validate(tenant=tenant, webhook=locked, **changes))


def _disable(locked: Webhook) -> None:
    if locked.disabled_at is None:
        locked.disabled_at = timezone.now()
        locked.save(update_fields=["disabled_at", "updated_at"])


def _enable(locked: Webhook) -> None:
    if locked.disabled_at is not None:
        locked.disabled_at = None
        locked.save(update_fields=["disabled_at", "updated_at"])
        transaction.on_commit(engine.kick_sweep, robust=True)


def _reset_circuit(locked: Webhook) -> None:
    locked.circuit_state = CircuitState.CLOSED
    locked.circuit_failure_count = 0
    locked.save(update_fields=["circuit_state", "circuit_failure_count", "updated_at"])
    Delivery.objects.filter(webhook=locked, state=Delivery.State.PENDING).update(
        next_attempt_at=timezone.now()
    )
    transaction.on_commit(engine.kick_sweep, robust=True)


def _one_step(webhook: Webhook, step, *args) -> Webhook:
    with transaction.atomic():
        locked = _locked(webhook)
        step(locked, *args)
    return locked


# ---------------------------------------------------------------------------- operations


def webhook_update(*, webhook: Webhook, actor: Actor, **changes: Any) -> Webhook:
    """Change any of FIELDS; returns the saved row. Raises what `webhook_validate` raises."""
    return _one_step(webhook, _update, changes)


def webhook_disable(*, webhook: Webhook, actor: Actor) -> Webhook:
    """Stop calling: pending deliveries wait (a call already under way finishes), new events
    make none. Disabling twice is a no-op."""
    return _one_step(webhook, _disable)


def webhook_enable(*, webhook: Webhook, actor: Actor) -> Webhook:
    """Resume calling: what waited is queued at once."""
    return _one_step(webhook, _enable)


def webhook_reset_circuit(*, webhook: Webhook, actor: Actor) -> Webhook:
    """Close the circuit and clear the failure count; every delivery that waited (also those
    waiting for a retry) is due at once and queued."""
    return _one_step(webhook, _reset_circuit)


def webhook_change(
    *,
    webhook: Webhook,
    actor: Actor,
    disable: bool = False,
    enable: bool = False,
    reset_circuit: bool = False,
    **changes: Any,
) -> Webhook:
    """One update as an API sends it: any of FIELDS and the triggers, all or nothing, under
    one lock. Returns the saved row. Raises what `webhook_validate` raises, and InvalidValue
    for `disable` with `enable` (which one would win is anyone's guess)."""
    if disable and enable:
        raise exceptions.InvalidValue("Disable or enable, not both at once.", field="_enable")
    with transaction.atomic():
        locked = _locked(webhook)
        if changes:
            _update(locked, changes)
        if disable:
            _disable(locked)
        if enable:
            _enable(locked)
        if reset_circuit:
            _reset_circuit(locked)
    return locked


def webhook_delete(*, webhook: Webhook, actor: Actor) -> None:
    """Delete the webhook with its pending deliveries and its callbacks."""
    with transaction.atomic():
        _locked(webhook).delete()


def delivery_redeliver(*, delivery: Delivery, actor: Actor) -> Delivery:
    """Send a delivery's event to its webhook again, whatever became of it (a receiver that
    lost it, a delivery given up): it is pending and due now, its retry clock restarted.
    Raises DeliveryBusy while a worker is calling for it (it is never sent twice at once)."""
    now = timezone.now()
    with transaction.atomic():
        reset = (
            Delivery.objects.filter(pk=delivery.pk)
            .filter(leases.free(now))
            .update(
                state=Delivery.State.PENDING,
                next_attempt_at=now,
                first_failed_at=None,
                delivered_at=None,
                lease_token="",
                leased_until=None,
            )
        )
        if not reset:
            raise exceptions.DeliveryBusy(
                "This delivery is being sent right now; look again in a minute."
            )
        transaction.on_commit(engine.kick_sweep, robust=True)
    delivery.refresh_from_db()
    return delivery

"""What happened, and who hears of it: the transactional outbox, webhooks, their deliveries
and callbacks, and the card e-mails sent to recipients.

An `OutboxEvent` is written by the services in the transaction of the change it records, so
a committed change always has its event and a rolled-back one never does. Workers fan each
event out (`giftcards.events.dispatch`) into a `Delivery` per subscribed webhook and a
`CardEmail` per activation of a card with a recipient, then work those off outside any
transaction; every attempt at a webhook leaves an `EventCallback`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clients.tenancy import TenantModel
from giftcards.models.cards import GiftCard, new_public_id


class OutboxEvent(TenantModel):
    """One thing that happened to a card or a recipient (a topic such as
    `gift_cards.redeem`), with the facts known at that moment (`data`)."""

    id = models.BigAutoField(primary_key=True)
    # The event's stable id: `webhook-id` of every delivery, the same on every retry.
    public_id = models.CharField(max_length=22, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=64)
    resource_type = models.CharField(max_length=32)
    resource_id = models.CharField(max_length=32)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Set when the event has been fanned out into deliveries and e-mails.
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)
        indexes = [
            # What the dispatchers claim: small, since rows leave it within moments.
            models.Index(
                fields=["id"],
                condition=Q(dispatched_at__isnull=True),
                name="giftcards_outbox_undispatched",
            ),
            models.Index(
                fields=["business", "mode", "resource_type", "resource_id", "id"],
                name="giftcards_outbox_resource",
            ),
        ]
        constraints = [TenantModel.mode_constraint("giftcards_outboxevent_mode_valid")]

    def __str__(self) -> str:
        return f"{self.name} {self.resource_type}/{self.resource_id}"


class CircuitState(models.TextChoices):
    CLOSED = "closed", "Closed"
    OPEN = "open", "Open"


class Webhook(TenantModel):
    """A subscription of a callback URL to one topic (Commerce Layer's webhooks)."""

    name = models.CharField(max_length=255, blank=True)
    topic = models.CharField(max_length=64)
    callback_url = models.CharField(max_length=2000)
    include_resources = models.JSONField(default=list, blank=True)
    # codes.encrypt(the secret): a database dump must not let anyone sign as us.
    shared_secret_encrypted = models.TextField(editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True)
    circuit_state = models.CharField(
        max_length=6, choices=CircuitState.choices, default=CircuitState.CLOSED
    )
    circuit_failure_count = models.PositiveIntegerField(default=0)
    reference = models.CharField(max_length=255, blank=True)
    reference_origin = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        indexes = [models.Index(fields=["business", "mode", "topic"])]
        constraints = [
            TenantModel.mode_constraint("giftcards_webhook_mode_valid"),
            models.CheckConstraint(
                condition=Q(circuit_state__in=CircuitState.values),
                name="giftcards_webhook_circuit_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.topic} -> {self.callback_url}"

    @property
    def shared_secret(self) -> str:
        from giftcards import codes

        return codes.decrypt(self.shared_secret_encrypted)

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None


class Delivery(models.Model):
    """One event owed to one webhook, until it is delivered or given up.

    Whoever queues it or calls the webhook holds a lease on it first (`lease_token`,
    `leased_until`; giftcards.events.leases), so no two workers call for the same delivery at
    once, and a lease that runs out (a worker that died) lets the sweep queue it again.
    `attempts` counts the calls made."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    event = models.ForeignKey(OutboxEvent, on_delete=models.PROTECT, related_name="deliveries")
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=9, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Who may work on it, until when: see giftcards.events.leases.
    lease_token = models.CharField(max_length=22, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    first_failed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("id",)
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="giftcards_delivery_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "webhook"], name="giftcards_delivery_once_per_webhook"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "delivered", "failed"]),
                name="giftcards_delivery_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook} ({self.state})"


class EventCallback(TenantModel):
    """One call of a webhook: what was sent and what came back (Commerce Layer's
    event_callbacks). The payload may hold a card's code, so it is kept encrypted."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="callbacks")
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="callbacks"
    )
    event = models.ForeignKey(OutboxEvent, on_delete=models.PROTECT, related_name="callbacks")
    callback_url = models.CharField(max_length=2000)
    payload_encrypted = models.TextField(editable=False)
    # The HTTP status as text ("200"), empty when no response came (refused, timed out).
    response_code = models.CharField(max_length=3, blank=True)
    response_message = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="giftcards_callback_latest"),
            models.Index(fields=["business", "mode", "-created_at"]),
        ]
        constraints = [TenantModel.mode_constraint("giftcards_eventcallback_mode_valid")]

    def __str__(self) -> str:
        return f"{self.callback_url} {self.response_code or 'no response'}"

    @property
    def succeeded(self) -> bool:
        return self.response_code.startswith("2")


class CardEmail(models.Model):
    """The card sent to its recipient by e-mail: once per activation (`event`), or again when
    a manager asks (`event` empty). The address is the one it was sent to."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="emails")
    # The activation that asked for it (kept when old events are purged: SET_NULL).
    event = models.OneToOneField(
        OutboxEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="card_email"
    )
    email = models.EmailField()
    state = models.CharField(max_length=7, choices=State.choices, default=State.PENDING)
    requested_by = models.CharField(max_length=150, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_token = models.CharField(max_length=22, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    first_failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="giftcards_cardemail_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["pending", "sent", "failed"]),
                name="giftcards_cardemail_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Card {self.card_id} to {self.email} ({self.state})"

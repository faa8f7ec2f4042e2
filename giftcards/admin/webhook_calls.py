"""Webhook calls in the admin (managers), read-only: every call made (event callbacks, never
their payload, which may hold a card's code) and what each webhook is owed (deliveries),
which a manager can send again."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from clients.admin import BusinessScopedAdmin
from clients.tenancy import Actor
from giftcards.admin.filters import ResponseFilter, WebhookFilter
from giftcards.admin.ledger import ReadOnlyMixin, when
from giftcards.events import webhooks
from giftcards.exceptions import GiftCardError
from giftcards.models import Delivery, EventCallback


def webhook_link(webhook) -> str:
    url = reverse("admin:giftcards_webhook_change", args=[quote(webhook.pk)])
    return format_html('<a href="{}">{}</a>', url, webhook)


class ReadOnlyAdmin(ReadOnlyMixin, BusinessScopedAdmin):
    """Rows the workers write; staff only read them."""


@admin.register(EventCallback)
class EventCallbackAdmin(ReadOnlyAdmin):
    list_display = (
        "time",
        "webhook_column",
        "topic",
        "response",
        "message",
        "duration",
        "business",
        "mode",
    )
    list_filter = (ResponseFilter, WebhookFilter, "mode", "business")
    list_select_related = ("webhook", "event", "business")
    ordering = ("-created_at", "-id")
    fields = (
        "time",
        "webhook_column",
        "topic",
        "resource",
        "callback_url",
        "response",
        "response_message",
        "duration",
        "delivery",
    )
    readonly_fields = fields

    @admin.display(description="time", ordering="created_at")
    def time(self, callback):
        return when(callback.created_at)

    @admin.display(description="webhook", ordering="webhook")
    def webhook_column(self, callback):
        return webhook_link(callback.webhook)

    @admin.display(description="event topic", ordering="event__name")
    def topic(self, callback):
        return callback.event.name

    @admin.display(description="resource")
    def resource(self, callback):
        return f"{callback.event.resource_type} {callback.event.resource_id}"

    @admin.display(description="response code", ordering="response_code")
    def response(self, callback):
        return callback.response_code or "no response"

    @admin.display(description="message")
    def message(self, callback):
        return Truncator(callback.response_message).chars(120) or "—"

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, callback):
        return f"{callback.duration_ms} ms"


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    business_path = "webhook__business"
    list_display = (
        "id",
        "topic",
        "resource_id",
        "webhook_column",
        "state",
        "attempts",
        "next_attempt",
        "delivered",
        "business",
    )
    list_filter = ("state", WebhookFilter)
    list_select_related = ("event", "webhook", "webhook__business")
    ordering = ("-id",)
    search_fields = ("=event__resource_id",)
    search_help_text = "The id of the card or recipient the event is about."
    actions = ["redeliver"]
    fields = (
        "topic",
        "resource_id",
        "webhook_column",
        "state",
        "attempts",
        "next_attempt",
        "first_failed",
        "delivered",
        "created",
    )
    readonly_fields = fields

    @admin.display(description="event topic", ordering="event__name")
    def topic(self, delivery):
        return delivery.event.name

    @admin.display(description="resource id")
    def resource_id(self, delivery):
        return delivery.event.resource_id

    @admin.display(description="webhook", ordering="webhook")
    def webhook_column(self, delivery):
        return webhook_link(delivery.webhook)

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, delivery):
        return when(delivery.next_attempt_at) if delivery.state == Delivery.State.PENDING else "—"

    @admin.display(description="delivered at", ordering="delivered_at")
    def delivered(self, delivery):
        return when(delivery.delivered_at)

    @admin.display(description="first failed at")
    def first_failed(self, delivery):
        return when(delivery.first_failed_at)

    @admin.display(description="created")
    def created(self, delivery):
        return when(delivery.created_at)

    @admin.display(description="business")
    def business(self, delivery):
        return delivery.webhook.business

    def has_redeliver_permission(self, request):
        return request.user.has_perm("giftcards.redeliver_delivery")

    @admin.action(permissions=["redeliver"], description="Redeliver selected deliveries")
    def redeliver(self, request, queryset):
        actor = Actor.for_user(request.user)
        count = 0
        for delivery in self.scope(request, queryset).select_related("event", "webhook"):
            try:
                webhooks.delivery_redeliver(delivery=delivery, actor=actor)
            except GiftCardError as exc:
                self.message_user(
                    request, f"Delivery {delivery.pk} not sent again: {exc.message}", messages.ERROR
                )
            else:
                self.log_change(request, delivery, "Redelivered.")
                count += 1
        if count:
            noun = "delivery" if count == 1 else "deliveries"
            self.message_user(
                request, f"Queued {count} {noun} to be sent again now.", messages.SUCCESS
            )

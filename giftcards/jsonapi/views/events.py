"""`/api/events`, `/api/webhooks` and `/api/event_callbacks` (Commerce Layer's shapes).

Events are the topics (giftcards.events.topics), the same for every tenant, so they have no
table: an event's id is its topic name, and its webhooks and callbacks are the key's. Webhooks
are written through giftcards.events.webhooks only; callbacks are what the workers recorded,
read-only, newest first under a webhook or an event.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.exceptions import NotFound

from giftcards.events import topics, webhooks
from giftcards.filters import EventCallbackFilterSet, EventFilterSet, WebhookFilterSet
from giftcards.jsonapi.serializers.events import (
    EventCallbackSerializer,
    EventSerializer,
    WebhookSerializer,
)
from giftcards.jsonapi.views.base import Relation, ResourceViewSet
from giftcards.models import EventCallback, Webhook

NEWEST_FIRST = ("-created_at", "-id")
TRIGGERS = {"_disable": "disable", "_enable": "enable", "_reset_circuit": "reset_circuit"}


@dataclass(frozen=True)
class Topic:
    """A topic as an `events` resource, shown in the key's mode."""

    name: str
    mode: str

    @property
    def pk(self) -> str:
        return self.name


def topic_rows(mode: str, names=None) -> list[Topic]:
    """The topics (all, or `names`), in the order topics.TOPICS lists them."""
    return [Topic(name, mode) for name in (topics.TOPICS if names is None else names)]


class EventViewSet(ResourceViewSet):
    """GET /api/events and /api/events/{topic}; their webhooks and last callbacks."""

    resource_name = "events"
    serializer_class = EventSerializer
    build = "event"
    filterset_class = EventFilterSet
    default_sort = ()
    sort_fields = {"id": "name", "name": "name"}
    relations = {
        "webhooks": Relation("webhooks"),
        "last_event_callbacks": Relation("event_callbacks"),
    }

    def get_queryset(self):
        return topic_rows(self.tenant.mode)

    def get_object(self, queryset=None):
        name = self.kwargs["pk"]
        if name not in topics.TOPICS:
            raise NotFound(f"No events resource with id {name!r}.")
        return Topic(name, self.tenant.mode)

    def related_rows(self, topic, name):
        if name == "webhooks":
            return Webhook.objects.for_tenant(self.tenant).filter(topic=topic.name)
        return (
            EventCallback.objects.for_tenant(self.tenant)
            .filter(event__name=topic.name)
            .order_by(*NEWEST_FIRST)
        )


class WebhookViewSet(ResourceViewSet):
    model = Webhook
    resource_name = "webhooks"
    serializer_class = WebhookSerializer
    build = "webhook"
    filterset_class = WebhookFilterSet
    sort_fields = {
        name: name
        for name in (
            "id",
            "name",
            "topic",
            "disabled_at",
            "circuit_state",
            "circuit_failure_count",
            "created_at",
            "updated_at",
        )
    }
    relations = {"last_event_callbacks": Relation("event_callbacks")}

    def create_resource(self, attributes):
        disabled = attributes.pop("_disable", False)
        attributes.pop("_enable", None)  # a new webhook is enabled unless disabled
        return webhooks.webhook_create(
            tenant=self.tenant, actor=self.actor, disabled=disabled, **attributes
        )

    def update_resource(self, webhook, attributes):
        triggers = {TRIGGERS[name]: attributes.pop(name) for name in TRIGGERS if name in attributes}
        return webhooks.webhook_change(webhook=webhook, actor=self.actor, **triggers, **attributes)

    def perform_destroy(self, webhook):
        webhooks.webhook_delete(webhook=webhook, actor=self.actor)

    def related_rows(self, webhook, name):
        return EventCallback.objects.filter(webhook=webhook).order_by(*NEWEST_FIRST)


class EventCallbackViewSet(ResourceViewSet):
    """Read-only: oldest first, as Commerce Layer lists them (`sort=-created_at` for the
    latest)."""

    model = EventCallback
    resource_name = "event_callbacks"
    serializer_class = EventCallbackSerializer
    build = "event_callback"
    filterset_class = EventCallbackFilterSet
    default_sort = ("created_at", "id")
    sort_fields = {
        name: name
        for name in ("id", "response_code", "response_message", "created_at", "updated_at")
    }
    includable = {"webhook": "webhooks"}
    relations = {"webhook": Relation("webhooks", many=False)}

    def get_queryset(self):
        queryset = super().get_queryset()
        if "webhook" in self.documents().include:
            return queryset.select_related("webhook")
        return queryset

    def related_row(self, callback, name):
        return callback.webhook

    def related_linkage(self, callback, name):
        return {"type": "webhooks", "id": str(callback.webhook_id)}

"""`webhooks` (written), `events` and `event_callbacks` (read-only): what a webhook document
may carry. The views call giftcards.events.webhooks with it, which holds the rules (topics,
callback URLs, includes); its domain errors become JSON:API errors in the one handler."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from giftcards.fields import JsonObjectField, StrictBooleanField, StrictCharField
from giftcards.jsonapi.fields import CallbackUrlField
from giftcards.jsonapi.serializers.base import ResourceSerializer

MAX_INCLUDES = 20


class WebhookSerializer(ResourceSerializer):
    name = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    topic = StrictCharField(max_length=64)
    callback_url = CallbackUrlField(max_length=2000)
    include_resources = serializers.ListField(
        child=StrictCharField(max_length=64),
        required=False,
        allow_null=True,
        max_length=MAX_INCLUDES,
    )
    reference = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    reference_origin = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=255
    )
    metadata = JsonObjectField(required=False, allow_null=True)

    # Triggers, never rendered. Commerce Layer takes `_disable`/`_enable` on create too.
    _disable = StrictBooleanField(write_only=True, required=False)
    _enable = StrictBooleanField(write_only=True, required=False)
    _reset_circuit = StrictBooleanField(write_only=True, required=False)

    class Meta:
        resource_name = "webhooks"

    def validate(self, attrs):
        errors = {}
        if "current" not in self.context and "_reset_circuit" in attrs:
            errors["_reset_circuit"] = [
                ErrorDetail("_reset_circuit is only accepted on update (PATCH).", code="invalid")
            ]
        if attrs.get("_disable") and attrs.get("_enable"):
            errors["_enable"] = [ErrorDetail("Send _disable or _enable, not both.", "invalid")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class EventSerializer(ResourceSerializer):
    """Events are the topics, read-only; the class names the type for the views."""

    class Meta:
        resource_name = "events"


class EventCallbackSerializer(ResourceSerializer):
    """Callbacks are recorded by the workers, read-only."""

    class Meta:
        resource_name = "event_callbacks"

"""Strict serializer fields both APIs share: JSON values taken as typed, never coerced (`"10"`
is not an integer, `1` is not a boolean), and JSON objects of a bounded size."""

from __future__ import annotations

import json

from rest_framework import serializers

from giftcards import dates

MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 32


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean; DRF's BooleanField would also take "yes", 1 and "on"."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class _StrictString:
    """A JSON string; DRF's CharField would also take 123 and store "123"."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictCharField(_StrictString, serializers.CharField):
    pass


class StrictEmailField(_StrictString, serializers.EmailField):
    pass


class StrictURLField(_StrictString, serializers.URLField):
    pass


class StrictDateTimeField(_StrictString, serializers.DateTimeField):
    """Only moments the service accepts (giftcards/dates.py), which every zone can show."""

    default_error_messages = {"overflow": dates.MESSAGE, "out_of_range": dates.MESSAGE}

    def to_internal_value(self, data):
        moment = super().to_internal_value(data)
        if not dates.in_range(moment):
            self.fail("out_of_range")
        return moment


class JsonObjectField(serializers.JSONField):
    default_error_messages = {
        "not_object": "Must be a JSON object.",
        "too_large": f"Must be at most {MAX_METADATA_BYTES} bytes of JSON.",
        "too_deep": f"Must be nested at most {MAX_METADATA_DEPTH} levels deep.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        if _depth(data) > MAX_METADATA_DEPTH:
            self.fail("too_deep")
        if len(json.dumps(data)) > MAX_METADATA_BYTES:
            self.fail("too_large")
        return data


def _depth(value) -> int:
    """How deeply objects and arrays nest, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest

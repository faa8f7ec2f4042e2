"""What imports and exports share: Commerce Layer's free members, and `_interrupt`, the one
change a running job takes."""

from __future__ import annotations

from rest_framework import serializers

from giftcards.fields import JsonObjectField, StrictBooleanField, StrictCharField
from giftcards.jsonapi.serializers.base import ResourceSerializer


class JobSerializer(ResourceSerializer):
    reference = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    reference_origin = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=255
    )
    metadata = JsonObjectField(required=False, allow_null=True)
    _interrupt = StrictBooleanField(write_only=True, required=False)

    # "An import", "An export": how messages name the job.
    noun = "A job"
    # What an update may send (the OpenAPI document's update request shows these only).
    updatable = frozenset({"_interrupt"})

    def validate(self, attrs):
        if self.partial:
            extra = sorted(set(attrs) - self.updatable)
            if extra or not attrs.get("_interrupt"):
                name = extra[0] if extra else "_interrupt"
                raise serializers.ValidationError(
                    {name: [f"{self.noun} is changed only by `_interrupt: true`."]}
                )
            return attrs
        if "_interrupt" in attrs:
            noun = self.noun.split()[-1]
            raise serializers.ValidationError({"_interrupt": [f"Only an existing {noun} stops."]})
        return self.validate_new(attrs)

    def validate_new(self, attrs):
        """A new job's own checks."""
        return attrs

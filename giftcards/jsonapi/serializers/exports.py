"""`exports`: what an export document may carry. Its `filters` are checked against the
resource's predicates by giftcards.exports (the same FilterSets as the list routes); here only
their shape. An export is never changed, only stopped (`_interrupt: true`)."""

from __future__ import annotations

from rest_framework import serializers

from giftcards.fields import JsonObjectField, StrictBooleanField, StrictCharField
from giftcards.jsonapi.serializers.base import ResourceSerializer
from giftcards.models import Export


class ExportSerializer(ResourceSerializer):
    resource_type = serializers.ChoiceField(choices=Export.ResourceType.values)
    format = serializers.ChoiceField(choices=Export.Format.values, required=False)
    filters = JsonObjectField(required=False, allow_null=True)
    include_codes = StrictBooleanField(required=False)
    reference = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    reference_origin = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=255
    )
    metadata = JsonObjectField(required=False, allow_null=True)
    _interrupt = StrictBooleanField(write_only=True, required=False)

    class Meta:
        resource_name = "exports"

    def validate(self, attrs):
        if self.partial:
            extra = sorted(set(attrs) - {"_interrupt"})
            if extra or not attrs.get("_interrupt"):
                name = extra[0] if extra else "_interrupt"
                raise serializers.ValidationError(
                    {name: ["An export is changed only by `_interrupt: true`."]}
                )
            return attrs
        if "_interrupt" in attrs:
            raise serializers.ValidationError({"_interrupt": ["Only an existing export stops."]})
        return attrs

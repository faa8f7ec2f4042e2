"""`exports`: what an export document may carry. Its `filters` are checked against the
resource's predicates by giftcards.exports (the same FilterSets as the list routes); here only
their shape. An export is never changed, only stopped (`_interrupt: true`)."""

from __future__ import annotations

from rest_framework import serializers

from giftcards.fields import JsonObjectField, StrictBooleanField
from giftcards.jsonapi.serializers.jobs import JobSerializer
from giftcards.models import Export


class ExportSerializer(JobSerializer):
    resource_type = serializers.ChoiceField(choices=Export.ResourceType.values)
    format = serializers.ChoiceField(choices=Export.Format.values, required=False)
    filters = JsonObjectField(required=False, allow_null=True)
    include_codes = StrictBooleanField(required=False)

    noun = "An export"

    class Meta:
        resource_name = "exports"

"""`imports`: what an import document may carry. Its rows are checked one by one when the
import runs (giftcards/imports/rows.py), each refusal logged with its index; here only the
import itself: its resource type, its format and the shape of `inputs`."""

from __future__ import annotations

from rest_framework import serializers

from giftcards.fields import JsonObjectField, StrictBooleanField, StrictCharField
from giftcards.imports.rows import csv_records
from giftcards.jsonapi.serializers.base import ResourceSerializer
from giftcards.models import Import

# Commerce Layer's limit on the inputs of one import.
MAX_INPUTS = 10_000


class ImportSerializer(ResourceSerializer):
    resource_type = serializers.ChoiceField(choices=Import.ResourceType.values)
    format = serializers.ChoiceField(choices=Import.Format.values, required=False)
    inputs = serializers.JSONField()
    dry_run = StrictBooleanField(required=False)
    reference = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    reference_origin = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=255
    )
    metadata = JsonObjectField(required=False, allow_null=True)
    _interrupt = StrictBooleanField(write_only=True, required=False)

    class Meta:
        resource_name = "imports"

    def validate(self, attrs):
        if self.partial:
            extra = sorted(set(attrs) - {"_interrupt"})
            if extra or not attrs.get("_interrupt"):
                raise serializers.ValidationError(
                    {
                        (extra[0] if extra else "_interrupt"): [
                            "An import is changed only by `_interrupt: true`."
                        ]
                    }
                )
            return attrs
        if "_interrupt" in attrs:
            raise serializers.ValidationError({"_interrupt": ["Only an existing import stops."]})
        inputs, kind = attrs["inputs"], attrs.get("format", Import.Format.JSON)
        if kind == Import.Format.JSON and not isinstance(inputs, list):
            raise serializers.ValidationError({"inputs": ["Must be an array of objects."]})
        if kind == Import.Format.CSV and not isinstance(inputs, str):
            raise serializers.ValidationError(
                {"inputs": ["Must be the text of a CSV, its first line the column names."]}
            )
        size = len(inputs) if isinstance(inputs, list) else sum(1 for _ in csv_records(inputs))
        if size > MAX_INPUTS:
            raise serializers.ValidationError(
                {"inputs": [f"At most {MAX_INPUTS} rows per import ({size} sent): split them."]}
            )
        return attrs

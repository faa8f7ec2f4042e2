"""`imports`: what an import document may carry. Its rows are checked one by one when the
import runs (giftcards/imports/rows.py), each refusal logged with its index; here only the
import itself: its resource type, its format and the shape of `inputs`."""

from __future__ import annotations

import csv

from rest_framework import serializers

from giftcards.fields import StrictBooleanField
from giftcards.imports.rows import csv_records
from giftcards.jsonapi.serializers.jobs import JobSerializer
from giftcards.models import Import

# Commerce Layer's limit on the inputs of one import.
MAX_INPUTS = 10_000


class ImportSerializer(JobSerializer):
    resource_type = serializers.ChoiceField(choices=Import.ResourceType.values)
    format = serializers.ChoiceField(choices=Import.Format.values, required=False)
    inputs = serializers.JSONField()
    dry_run = StrictBooleanField(required=False)

    noun = "An import"

    class Meta:
        resource_name = "imports"

    def validate_new(self, attrs):
        inputs, kind = attrs["inputs"], attrs.get("format", Import.Format.JSON)
        if kind == Import.Format.JSON and not isinstance(inputs, list):
            raise serializers.ValidationError({"inputs": ["Must be an array of objects."]})
        if kind == Import.Format.CSV and not isinstance(inputs, str):
            raise serializers.ValidationError(
                {"inputs": ["Must be the text of a CSV, its first line the column names."]}
            )
        try:
            size = len(inputs) if isinstance(inputs, list) else sum(1 for _ in csv_records(inputs))
        except csv.Error as exc:
            raise serializers.ValidationError({"inputs": [f"Not a readable CSV: {exc}."]}) from exc
        if size > MAX_INPUTS:
            raise serializers.ValidationError(
                {"inputs": [f"At most {MAX_INPUTS} rows per import ({size} sent): split them."]}
            )
        return attrs

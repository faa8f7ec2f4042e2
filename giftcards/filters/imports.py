"""The filterable attributes of imports."""

from __future__ import annotations

from giftcards.filters.predicates import Attribute, PredicateFilterSet
from giftcards.models import Import, JobStatus


class ImportFilterSet(PredicateFilterSet):
    attributes = tuple(
        Attribute(*spec)
        for spec in (
            ("id", "id"),
            ("resource_type", "choice", "", tuple(Import.ResourceType.values)),
            ("format", "choice", "", tuple(Import.Format.values)),
            ("status", "choice", "", tuple(JobStatus.values)),
            ("errors_count", "integer"),
            ("created_at", "datetime"),
            ("updated_at", "datetime"),
            ("completed_at", "datetime"),
            ("reference", "string"),
            ("reference_origin", "string"),
            ("metadata", "json"),
        )
    )

    class Meta:
        model = Import
        fields: list[str] = []

"""`versions`: a card's change history from django-simple-history, read-only.

Each version says what happened (`created`/`updated`), which attributes changed from what to
what (against the version before it), who changed it (a staff user, else the API key's or
command's name) and when.
"""

from __future__ import annotations

import functools

from django.db.models import Q, QuerySet
from rest_framework import serializers
from rest_framework.relations import HyperlinkedIdentityField

from giftcards.jsonapi.fields import TypedRelatedField
from giftcards.jsonapi.serializers.base import ResourceSerializer, datetime_string
from giftcards.models import GiftCard

HistoricalGiftCard = GiftCard.history.model
EVENTS = {"+": "created", "~": "updated", "-": "deleted"}
# Bookkeeping that changes with everything, or never; `modified_by` is `changed_by`.
UNTRACKED = frozenset(
    {"id", "business", "mode", "created_at", "updated_at", "created_by", "modified_by"}
)
API_NAMES = {"recipient": "gift_card_recipient"}


@functools.cache
def tracked_fields() -> tuple:
    historical = {field.name for field in HistoricalGiftCard._meta.fields}
    return tuple(
        field
        for field in GiftCard._meta.concrete_fields
        if field.name not in UNTRACKED and field.name in historical
    )


def _value(record, field):
    value = getattr(record, field.attname)
    if value is None:
        return None
    if field.is_relation:
        return str(value)
    if hasattr(value, "isoformat"):
        return datetime_string(value)
    return value


def version_changes(record, previous) -> dict[str, list]:
    changes = {}
    for field in tracked_fields():
        new = _value(record, field)
        old = _value(previous, field) if previous is not None else None
        if previous is None and new in (None, "", {}):
            continue
        if previous is None or old != new:
            changes[API_NAMES.get(field.name, field.name)] = [old, new]
    return changes


def ordered_versions(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("history_user").order_by("history_date", "history_id")


def previous_version(record):
    """The version just before `record` of the same card, in the API's order."""
    earlier = Q(history_date__lt=record.history_date) | Q(
        history_date=record.history_date, history_id__lt=record.history_id
    )
    return (
        HistoricalGiftCard.objects.filter(earlier, id=record.id)
        .order_by("-history_date", "-history_id")
        .first()
    )


class VersionSerializer(ResourceSerializer):
    """Context: `previous_versions` ({history_id: previous record or None}) saves a query per
    version in lists."""

    url = HyperlinkedIdentityField(
        view_name="jsonapi-version-detail", lookup_field="history_id", lookup_url_kwarg="pk"
    )
    event = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()
    changed_by = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="history_date", read_only=True)
    gift_card = TypedRelatedField(
        resource_type="gift_cards",
        model=GiftCard,
        source="history_relation",
        read_only=True,
    )

    class Meta(ResourceSerializer.Meta):
        model = HistoricalGiftCard
        resource_name = "versions"
        fields = ["url", "event", "changes", "changed_by", "created_at", "gift_card"]

    def get_event(self, record) -> str:
        return EVENTS.get(record.history_type, record.history_type)

    def get_changes(self, record) -> dict[str, list]:
        known = self.context.get("previous_versions", {})
        previous = (
            known[record.history_id] if record.history_id in known else previous_version(record)
        )
        return version_changes(record, previous)

    def get_changed_by(self, record) -> str | None:
        if record.history_user_id is not None:
            return record.history_user.get_username()
        return record.modified_by or None

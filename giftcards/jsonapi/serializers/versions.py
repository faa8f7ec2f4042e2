"""`versions`: a card's change history from django-simple-history, read-only.

Each version says what happened (`created`/`updated`), which attributes changed from what to
what (against the version before it), who changed it (a staff user, else the API key's or
command's name) and when.
"""

from __future__ import annotations

import functools

from django.db.models import Q, QuerySet

from giftcards.jsonapi.documents import iso
from giftcards.jsonapi.serializers.base import ResourceSerializer
from giftcards.models import GiftCard

HistoricalGiftCard = GiftCard.history.model
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
        return iso(value)
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


def page_changes(page: list, first_of_all: bool = False) -> list[dict]:
    """Each version's changes against the one before it: the previous one on the page, else
    (for the page's first) read, unless it is the card's first version."""
    previous = [None if first_of_all else previous_version(page[0])] if page else []
    befores = [*previous, *page[:-1]]
    return [version_changes(record, before) for record, before in zip(page, befores, strict=True)]


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
    """Versions are read-only; the class names the type for the views and query checks."""

    class Meta:
        resource_name = "versions"

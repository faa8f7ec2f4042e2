"""A card's history page (django-simple-history) in staff terms: amounts in the card's
currency ("$40.00 → $35.00"), moments with their time zone, who made each change (a staff
user's name, an API key's name, or the operator command's) and why, from the ledger rows the
change wrote."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from django.db import models
from simple_history.template_utils import HistoricalRecordContextHelper

from clients.models import ApiKey
from giftcards import money
from giftcards.dates import moment
from giftcards.models import BalanceLog, Status

MONEY_FIELDS = {
    "balance_cents": "Balance",
    "initial_balance_cents": "Initial balance",
    "balance_max_cents": "Maximum balance",
}
# Every write stamps these; the row's own date and "changed by" columns show them.
NOT_SHOWN = {"updated_at", "modified_by"}
EMPTY = "—"


class CardHistoryHelper(HistoricalRecordContextHelper):
    """Formats one historical record's changes against the record before it."""

    def context_for_delta_changes(self, delta):
        shown = dataclasses.replace(
            delta, changes=[c for c in delta.changes if c.field not in NOT_SHOWN]
        )
        return super().context_for_delta_changes(shown)

    def format_delta_change(self, change):
        formatted = super().format_delta_change(change)
        if change.field in MONEY_FIELDS:
            formatted = dataclasses.replace(formatted, field=MONEY_FIELDS[change.field])
        return formatted

    def prepare_delta_change_value(self, change, value):
        if change.field in MONEY_FIELDS:
            return money.format_cents(value, self.record.currency_code) or EMPTY
        field = self.model._meta.get_field(change.field)
        if isinstance(field, models.DateTimeField):
            return moment(value)
        if change.field == "status" and value in Status.values:
            return Status(value).label
        if value in (None, ""):
            return EMPTY
        return super().prepare_delta_change_value(change, value)


def actor_text(record, api_key_names: set[str]) -> str:
    """Who made the change: the staff user (full name and username), else the name the
    services stamped on the card (an API key's or an operator command's)."""
    user = record.history_user
    if user is not None:
        full = user.get_full_name()
        return f"{full} ({user.get_username()})" if full else user.get_username()
    name = record.modified_by
    if not name:
        return EMPTY
    return f"API key “{name}”" if name in api_key_names else name


def ledger_text(entry: BalanceLog, currency_code: str) -> str:
    amount = money.format_cents(abs(entry.amount_cents), currency_code)
    sign = "-" if entry.amount_cents < 0 else "+"
    parts = [f"{entry.get_kind_display()} {sign}{amount}"]
    if entry.order_reference:
        parts.append(f"order {entry.order_reference}")
    text = ", ".join(parts)
    return f"{text}: {entry.note}" if entry.note else text


def annotate(card, records) -> None:
    """Give each record of the page `actor_text` and `reasons` (the change reason recorded
    with it, and the ledger rows its write made: a ledger row is stamped with the moment the
    card's `updated_at` got in the same write)."""
    records = list(records)
    if not records:
        return
    stamps = {record.updated_at for record in records}
    entries = defaultdict(list)
    for entry in BalanceLog.objects.filter(card_id=card.pk, created_at__in=stamps).order_by("id"):
        entries[entry.created_at].append(entry)
    names = {record.modified_by for record in records if record.history_user_id is None}
    api_key_names = set(
        ApiKey.objects.filter(
            business_id=card.business_id, mode=card.mode, name__in=names - {""}
        ).values_list("name", flat=True)
    )
    for record in records:
        record.actor_text = actor_text(record, api_key_names)
        reasons = [ledger_text(entry, card.currency_code) for entry in entries[record.updated_at]]
        if record.history_change_reason:
            reasons.insert(0, record.history_change_reason)
        record.reasons = reasons

"""Which rows an export reads: the tenant's cards (not deleted, as the JSON:API lists them),
recipients, or ledger rows (of every card, deleted ones too: the ledger is the record of the
money), narrowed by the predicates the list routes take, in a stable order.

An export's `filters` is a JSON object of those predicates (`{"status_eq": "active",
"created_at_gt": "2025-01-01"}`; `in` predicates take an array or a comma list, `jcont` an
object, booleans and integers their JSON types). They are checked by the resource's FilterSet
when the export is made, so the worker applies exactly what was accepted. Code predicates
are refused: the filters are stored and shown in the clear, and a code is a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from django.db.models import QuerySet

from clients.tenancy import Tenant
from giftcards.exceptions import InvalidValue
from giftcards.filters import (
    BalanceLogFilterSet,
    GiftCardFilterSet,
    GiftCardRecipientFilterSet,
    PredicateFilterSet,
)
from giftcards.models import BalanceLog, Export, GiftCard, GiftCardRecipient

FILTERSETS: dict[str, type[PredicateFilterSet]] = {
    Export.ResourceType.GIFT_CARDS: GiftCardFilterSet,
    Export.ResourceType.GIFT_CARD_RECIPIENTS: GiftCardRecipientFilterSet,
    Export.ResourceType.BALANCE_LOGS: BalanceLogFilterSet,
}
# The list routes' default orders; the primary key breaks ties, so a file is reproducible.
ORDER = {
    Export.ResourceType.GIFT_CARDS: ("created_at", "id"),
    Export.ResourceType.GIFT_CARD_RECIPIENTS: ("id",),
    Export.ResourceType.BALANCE_LOGS: ("created_at", "id"),
}


class InvalidExportFilter(InvalidValue):
    """An export's filters name a predicate its resource does not take, or give a value it
    cannot take; the message names the filter."""

    code = "invalid_filter"
    subject = "filters"


def _as_text(value) -> str | None:
    """A filter's JSON value as the list routes' query string would carry it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list):
        items = [_as_text(item) for item in value]
        if not items or any(item is None or "," in item or item == "" for item in items):
            return None
        return ",".join(items)
    if isinstance(value, dict):
        return json.dumps(value)
    return None


def filter_data(resource_type: str, filters: Mapping) -> dict[str, str]:
    """The export's `filters` as its FilterSet's data, checked. Raises InvalidExportFilter
    naming every filter at fault."""
    filterset = FILTERSETS[resource_type]
    data: dict[str, str] = {}
    origin: dict[str, str] = {}
    problems: list[str] = []
    for name, value in filters.items():
        key = name if name in filterset.base_filters else filterset.short_form(name)
        if key is None or key not in filterset.base_filters:
            problems.append(f"{name}: {filterset.explain_unknown(name)}")
            continue
        if filterset.base_filters[key].attribute.kind == "code":
            problems.append(
                f"{name}: exports do not filter by code (their filters are kept in the clear); "
                "filter by id."
            )
            continue
        text = _as_text(value)
        if text is None or text == "":
            problems.append(
                f"{name}: needs a value (a string, a number, a boolean, an array of them "
                "without commas, or an object for jcont)."
            )
        elif key in data:
            problems.append(f"{name}: the same filter as {origin[key]}.")
        else:
            data[key], origin[key] = text, name
    if not problems and data:
        form = filterset(data=data, queryset=filterset._meta.model.objects.none()).form
        if not form.is_valid():
            for key, errors in form.errors.items():
                problems.extend(f"{origin.get(key, key)}: {error}" for error in errors)
    if problems:
        raise InvalidExportFilter(" ".join(problems))
    return data


def base_rows(resource_type: str, tenant: Tenant) -> QuerySet:
    """Every row of the resource an export of the tenant may hold."""
    if resource_type == Export.ResourceType.GIFT_CARDS:
        return GiftCard.objects.for_tenant(tenant).not_deleted()
    if resource_type == Export.ResourceType.GIFT_CARD_RECIPIENTS:
        return GiftCardRecipient.objects.for_tenant(tenant)
    return BalanceLog.objects.filter(card__business=tenant.business, card__mode=tenant.mode)


def rows(resource_type: str, tenant: Tenant, filters: Mapping) -> QuerySet:
    """The rows an export with these filters holds, in its order. Raises
    InvalidExportFilter."""
    data = filter_data(resource_type, filters)
    queryset = base_rows(resource_type, tenant)
    if data:
        queryset = FILTERSETS[resource_type](data=data, queryset=queryset).qs
    return queryset.order_by(*ORDER[resource_type])

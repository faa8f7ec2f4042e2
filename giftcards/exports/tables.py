"""What an export's rows hold: each resource's columns, in a stable order (README "Exports"),
and its rows as tuples of JSON values, read `CHUNK_SIZE` at a time (a server-side cursor on
PostgreSQL) so memory stays flat however many rows there are.

Columns are the JSON:API's attribute names, amounts in cents beside their currency, moments in
ISO 8601 UTC (formatted by the database, as the JSON:API's ledger is). A card's code is masked
(`****1234`) unless the export includes codes; a ledger row's always is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from giftcards import codes
from giftcards.models import Export
from giftcards.selectors import IsoUtc

CHUNK_SIZE = 2000  # rows per round trip


@dataclass(frozen=True)
class Column:
    """`path` is what the database reads; `kind` tells writers how to write the value:
    `text` is free text from clients (a spreadsheet must not run it as a formula), `json` an
    object, `boolean` true/false, `time` a moment the database formatted, `value` the rest."""

    name: str
    path: str
    kind: str = "value"


def _columns(*specs: tuple) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


CARD_COLUMNS = _columns(
    ("id", "id"),
    ("code", "code_last4"),  # code_encrypted when codes are included
    ("status", "status"),
    ("currency_code", "currency_code"),
    ("initial_balance_cents", "initial_balance_cents"),
    ("balance_cents", "balance_cents"),
    ("balance_max_cents", "balance_max_cents"),
    ("single_use", "single_use", "boolean"),
    ("rechargeable", "rechargeable", "boolean"),
    ("distribute_discount", "distribute_discount", "boolean"),
    ("image_url", "image_url", "text"),
    ("expires_at", "expires_at", "time"),
    ("recipient_email", "recipient__email", "text"),
    ("reference", "reference", "text"),
    ("reference_origin", "reference_origin", "text"),
    ("metadata", "metadata", "json"),
    ("created_at", "created_at", "time"),
    ("updated_at", "updated_at", "time"),
)
RECIPIENT_COLUMNS = _columns(
    ("id", "id"),
    ("email", "email", "text"),
    ("first_name", "first_name", "text"),
    ("last_name", "last_name", "text"),
    ("reference", "reference", "text"),
    ("reference_origin", "reference_origin", "text"),
    ("metadata", "metadata", "json"),
    ("created_at", "created_at", "time"),
    ("updated_at", "updated_at", "time"),
)
LEDGER_COLUMNS = _columns(
    ("id", "id"),
    ("card_id", "card_id"),
    ("code", "card__code_last4"),
    ("kind", "kind"),
    ("amount_cents", "amount_cents"),
    ("balance_after_cents", "balance_after_cents"),
    ("currency_code", "card__currency_code"),
    ("order_reference", "order_reference", "text"),
    ("refund_of_id", "refund_of_id"),
    ("transfer_id", "transfer_id"),
    ("actor_name", "actor_name", "text"),
    ("note", "note", "text"),
    ("created_at", "created_at", "time"),
)
COLUMNS = {
    Export.ResourceType.GIFT_CARDS: CARD_COLUMNS,
    Export.ResourceType.GIFT_CARD_RECIPIENTS: RECIPIENT_COLUMNS,
    Export.ResourceType.BALANCE_LOGS: LEDGER_COLUMNS,
}


@dataclass(frozen=True)
class Table:
    """An export's columns and its rows (an iterator: read once)."""

    columns: tuple[Column, ...]
    rows: Iterator[tuple]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


def _values(queryset: QuerySet, columns: tuple[Column, ...], paths: dict[str, str]):
    """The columns' values, moments formatted by the database."""
    annotations, selected = {}, []
    for column in columns:
        path = paths.get(column.name, column.path)
        if column.kind == "time":
            alias = f"_export_{column.name}"
            annotations[alias] = IsoUtc(path)
            selected.append(alias)
        else:
            selected.append(path)
    return queryset.annotate(**annotations).values_list(*selected).iterator(chunk_size=CHUNK_SIZE)


def _with_code(values, index: int, show: Callable[[str], str]) -> Iterator[tuple]:
    for row in values:
        yield (*row[:index], show(row[index]), *row[index + 1 :])


def table(resource_type: str, queryset: QuerySet, *, include_codes: bool = False) -> Table:
    """The rows of `queryset` (selection.rows) as the export of `resource_type` writes them;
    full card codes when `include_codes` (decrypted one row at a time)."""
    columns = COLUMNS[resource_type]
    if resource_type == Export.ResourceType.GIFT_CARD_RECIPIENTS:
        return Table(columns, _values(queryset, columns, {}))
    code_at = [column.name for column in columns].index("code")
    if resource_type == Export.ResourceType.GIFT_CARDS and include_codes:
        values = _values(queryset, columns, {"code": "code_encrypted"})
        return Table(columns, _with_code(values, code_at, codes.decrypt))
    return Table(columns, _with_code(_values(queryset, columns, {}), code_at, codes.mask))

"""CSV exports of the admin's lists (the gift cards, the ledger), streamed row by row so
100,000 rows cost no more memory than 1,000 (see tests/admin/bench_csv_export.py). The
ledger's rows are those of `/api/exports` (giftcards.exports), written by the same code."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from giftcards import codes, money
from giftcards.exports import tables, writers

CHUNK_SIZE = 2000  # rows fetched per round trip (a server-side cursor on PostgreSQL)
HEADER = [
    "id",
    "code",
    "status",
    "deleted",
    "expired",
    "mode",
    "currency",
    "initial_balance",
    "balance",
    "balance_max",
    "expires_at",
    "purchase_date",
    "client",
    "recipient_email",
    "reference",
    "market",
    "business",
    "created_at",
]
# Only what a row needs: no encrypted code, no metadata, no full model instances.
COLUMNS = [
    "id",
    "code_last4",
    "status",
    "deleted_at",
    "mode",
    "currency_code",
    "initial_balance_cents",
    "balance_cents",
    "balance_max_cents",
    "expires_at",
    "purchase_date",
    "client__first_name",
    "client__last_name",
    "recipient__email",
    "reference",
    "market__name",
    "business__name",
    "created_at",
]
FORMULA_PREFIXES = writers.FORMULA_PREFIXES


class _Echo:
    """A file-like object whose write() hands the line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


# Free text comes from API clients; a spreadsheet would run "=HYPERLINK(...)" as a formula.
_text = writers.safe_text


def _when(value) -> str:
    return value.isoformat() if value is not None else ""


def _amount(cents: int | None, currency_code: str) -> str:
    return "" if cents is None else str(money.to_major(cents, currency_code))


def card_rows(queryset: QuerySet) -> Iterator[list[str]]:
    now = timezone.now()
    rows = queryset.values_list(*COLUMNS).iterator(chunk_size=CHUNK_SIZE)
    for (
        public_id,
        last4,
        status,
        deleted_at,
        mode,
        currency,
        initial,
        balance,
        balance_max,
        expires_at,
        purchase_date,
        first_name,
        last_name,
        recipient_email,
        reference,
        market,
        business,
        created_at,
    ) in rows:
        yield [
            public_id,
            codes.mask(last4),
            status,
            "yes" if deleted_at else "no",
            "yes" if expires_at is not None and expires_at <= now else "no",
            mode,
            currency,
            _amount(initial, currency),
            _amount(balance, currency),
            _amount(balance_max, currency),
            _when(expires_at),
            _when(purchase_date),
            _text(f"{first_name or ''} {last_name or ''}".strip()),
            _text(recipient_email),
            _text(reference),
            _text(market),
            _text(business),
            _when(created_at),
        ]


def csv_lines(
    rows: Iterable[list[str]], batch: int = 500, header: list[str] = HEADER
) -> Iterator[str]:
    """CSV text in pieces of `batch` lines: one write per line would be 100,000 writes."""
    writer = csv.writer(_Echo())
    lines = [writer.writerow(header)]
    for row in rows:
        lines.append(writer.writerow(row))
        if len(lines) >= batch:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def streamed_csv(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def csv_response(queryset: QuerySet, filename: str) -> StreamingHttpResponse:
    return streamed_csv(csv_lines(card_rows(queryset)), filename)


def ledger_csv_response(queryset: QuerySet, filename: str) -> StreamingHttpResponse:
    """The ledger rows of `queryset` in its order, with the columns of a `balance_logs`
    export (masked codes, cents and currency, ISO 8601 UTC)."""
    table = tables.table("balance_logs", queryset)
    cells = writers.csv_cells(table.columns)
    rows = (cells(row) for row in table.rows)
    return streamed_csv(csv_lines(rows, header=table.names), filename)

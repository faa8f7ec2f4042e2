"""Writing an export's rows as CSV or as a JSON array, one row at a time to a text stream: the
worker's file, a command's output, the admin's streamed response.

CSV: a header row of the column names, then one line per row; empty cells for nulls,
`true`/`false`, objects as compact JSON, and free text that a spreadsheet would run as a
formula (`=`, `+`, `-`, `@`, tab, carriage return first) prefixed with `'`, as the admin's
card export does. JSON: an array of objects keyed by the column names, with the values as
stored (numbers, booleans, null, objects), one object per line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from typing import TextIO

import orjson

from giftcards.exports.tables import Column, Table

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def safe_text(value: str | None) -> str:
    """Free text for a CSV cell: never a formula."""
    value = value or ""
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def _boolean(value) -> str:
    return "" if value is None else ("true" if value else "false")


def _json_text(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


CSV_CELLS: dict[str, Callable] = {"text": safe_text, "boolean": _boolean, "json": _json_text}


def csv_cells(columns: tuple[Column, ...]) -> Callable[[tuple], list]:
    """A function from a row to its CSV cells (the csv module writes None as an empty cell
    and numbers as digits: only text, booleans and objects need turning)."""
    turned = [
        (index, CSV_CELLS[column.kind])
        for index, column in enumerate(columns)
        if column.kind in CSV_CELLS
    ]

    def cells(row: tuple) -> list:
        values = list(row)
        for index, cell in turned:
            values[index] = cell(values[index])
        return values

    return cells


def write_csv(table: Table, out: TextIO) -> int:
    """The header and the rows; `out` is opened with newline="". Returns the rows written."""
    writer = csv.writer(out)
    writer.writerow(table.names)
    cells = csv_cells(table.columns)
    count = 0
    for row in table.rows:
        writer.writerow(cells(row))
        count += 1
    return count


def write_json(table: Table, out: TextIO) -> int:
    """`[`, one object per line, `]`, written as the rows come. Returns the rows written."""
    names = table.names
    count = 0
    out.write("[")
    for row in table.rows:
        out.write(",\n" if count else "\n")
        out.write(orjson.dumps(dict(zip(names, row, strict=True))).decode())
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


WRITERS: dict[str, Callable[[Table, TextIO], int]] = {"csv": write_csv, "json": write_json}


def write(file_format: str, table: Table, out: TextIO) -> int:
    return WRITERS[file_format](table, out)


def counted(rows: Iterable[tuple], every: int, tick: Callable[[int], None]) -> Iterable[tuple]:
    """The rows, calling `tick(n)` after each `every` of them and with the rest at the end
    (a progress bar's update, a worker renewing its lease)."""
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if pending == every:
            tick(pending)
            pending = 0
    if pending:
        tick(pending)

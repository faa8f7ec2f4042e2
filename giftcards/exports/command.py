"""What the export commands share (`export_giftcards`, `export_ledger`): their common
arguments, and writing an export to a file or stdout through the worker's own selection and
writers, so a command and `/api/exports` with the same filters write the same rows. A
progress bar and a one-line summary go to stderr; the rows stream, so memory stays flat."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from clients.models import Business
from clients.tenancy import Mode, Tenant
from giftcards.exports import selection, tables, writers
from giftcards.exports.services import audit
from giftcards.models import Export

PROGRESS_EVERY = 500  # rows per progress bar update


class ExportCommand(BaseCommand):
    """Subclasses name their `resource_type`, add their filters' arguments and turn them into
    an export's filters (`filters`)."""

    resource_type = ""
    noun = "rows"

    def add_arguments(self, parser):
        parser.add_argument("--business", type=int, required=True, help="the business's id")
        parser.add_argument("--mode", choices=Mode.values, default=Mode.LIVE)
        parser.add_argument("--format", choices=Export.Format.values, default=Export.Format.CSV)
        parser.add_argument("--output", help="write to this file (default: stdout)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def filters(self, tenant: Tenant, options: dict) -> dict:
        return {}

    def include_codes(self, options: dict) -> bool:
        return False

    def handle(self, *args, **options):
        business = Business.objects.filter(pk=options["business"]).first()
        if business is None:
            raise CommandError(f"No business with id {options['business']}.")
        tenant = Tenant(business=business, mode=options["mode"])
        filters = self.filters(tenant, options)
        include_codes = self.include_codes(options)
        try:
            queryset = selection.rows(self.resource_type, tenant, filters)
        except selection.InvalidExportFilter as exc:
            raise CommandError(str(exc)) from None
        started = time.monotonic()
        output = options["output"]
        progress = tqdm(
            total=queryset.count(),
            unit="row",
            # The raw stream: OutputWrapper ends every write with a newline, so each redraw
            # would scroll a new bar instead of updating the line in place.
            file=self.stderr._out,
            disable=options["no_progress"],
        )
        with progress:
            table = tables.table(self.resource_type, queryset, include_codes=include_codes)
            rows = writers.counted(table.rows, PROGRESS_EVERY, progress.update)
            table = tables.Table(table.columns, rows)
            if output:
                count = write_file(Path(output), options["format"], table, private=include_codes)
            else:
                count = writers.write(options["format"], table, self.stdout._out)
                self.stdout._out.flush()
        where = output or "stdout"
        if include_codes:
            audit.warning(
                "%s wrote %s full gift card codes to %s (business %s, %s mode).",
                self.__module__.rsplit(".", 1)[-1],
                count,
                where,
                business.pk,
                tenant.mode,
            )
        self.stderr.write(
            f"Exported {count} {self.noun} of business {business.pk} ({tenant.mode} mode) as "
            f"{options['format'].upper()} to {where} in {time.monotonic() - started:.1f} s."
        )


def write_file(path: Path, file_format: str, table: tables.Table, *, private: bool) -> int:
    """Write beside `path` and move it into place once complete: a failed export leaves no
    half-written file. `private` files (full codes) are readable by their owner only."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CommandError(f"No folder {folder} for the output.")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".partial")
    try:
        if not private:
            os.chmod(temporary, 0o644)  # mkstemp makes it 0o600
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            count = writers.write(file_format, table, out)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return count

"""Import gift cards (or recipients) from a file into one business, as /api/imports does:
the same rows, the same chunks, the same report, recorded as an import."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import ijson
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from clients.models import Business
from clients.tenancy import Mode
from giftcards.imports import jobs
from giftcards.imports.rows import csv_records
from giftcards.models import Import, JobStatus

FORMATS = ("json", "csv", "timetap")
SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = (
        "Import gift cards from FILE into a business: a JSON array of objects (this "
        "service's JSON:API attributes, or seed 000 / TimeTap gift card objects), or a CSV "
        "whose header names JSON:API attributes. Rows whose code (or reference and "
        "reference_origin) the business has are skipped, so a second run adds nothing; a "
        "row with bad values is reported and the others imported. Memory stays flat."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the file to import ('-' for standard input)")
        parser.add_argument("--business", type=int, required=True, help="the business's id")
        parser.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.LIVE)
        parser.add_argument(
            "--format",
            choices=FORMATS,
            help="json, csv, or timetap (a JSON array of seed 000 objects); by the file's "
            "extension when not given",
        )
        parser.add_argument(
            "--resource",
            choices=Import.ResourceType.values,
            default=Import.ResourceType.GIFT_CARDS,
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would happen; write nothing"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        path, kind = options["file"], options["format"]
        if kind is None:
            kind = "csv" if path.lower().endswith(".csv") else "json"
        if path != "-" and not Path(path).is_file():
            raise CommandError(f"No such file: {path}")
        business = Business.objects.filter(pk=options["business"]).first()
        if business is None:
            raise CommandError(f"No business with id {options['business']}.")
        if path == "-":
            # Read twice (a count, then the rows): standard input is kept in a temporary file.
            path = _spool_stdin()
        total = self._count(path, kind)
        job = Import.objects.create(
            business=business,
            mode=options["mode"],
            resource_type=options["resource"],
            format=Import.Format.CSV if kind == "csv" else Import.Format.JSON,
            source_name=f"file:{Path(options['file']).name}"[:255],
            inputs_size=total,
            dry_run=options["dry_run"],
            metadata={"shape": "timetap"} if kind == "timetap" else {},
            actor_name="import_giftcards",
        )
        bar = tqdm(
            total=total,
            unit="row",
            file=self.stderr._out,
            disable=options["no_progress"] or total == 0,
        )
        with open(path, "rb") as stream:
            done = jobs.run(job.pk, rows=_rows(stream, kind), progress=bar.update)
        bar.close()
        if done is None:
            raise CommandError(f"Import {job.pk} is being run elsewhere.")
        self._report(done)

    @staticmethod
    def _count(path: str, kind: str) -> int:
        try:
            with open(path, "rb") as stream:
                return sum(1 for _ in _rows(stream, kind))
        except (ijson.JSONError, csv.Error, UnicodeDecodeError) as exc:
            raise CommandError(f"{path} is not readable as {kind}: {exc}") from exc

    def _report(self, job: Import) -> None:
        dry = " (dry run: nothing was written)" if job.dry_run else ""
        verb = "would be created" if job.dry_run else "created"
        self.stdout.write(
            f"Import {job.pk}: {job.processed_count} of {job.inputs_size} rows processed, "
            f"{job.created_count} {verb}, {job.skipped_count} skipped, {job.errors_count} "
            f"refused, {job.warnings_count} with warnings{dry}."
        )
        for index, messages in list(job.errors_log.items())[:SHOWN_ERRORS]:
            self.stdout.write(f"  row {index}: {'; '.join(messages)}")
        if job.errors_count > SHOWN_ERRORS:
            self.stdout.write(
                f"  ... {job.errors_count - SHOWN_ERRORS} more (GET /api/imports/{job.pk})."
            )
        if job.status != JobStatus.COMPLETED:
            raise CommandError(f"Import {job.pk} ended {job.status}.")


def _rows(stream, kind: str):
    """The file's rows, one at a time (bytes in: ijson reads bytes fastest)."""
    if kind == "csv":
        text = (line.decode("utf-8-sig") for line in stream)
        return csv_records(text)
    return ijson.items(stream, "item", use_float=True)


def _spool_stdin() -> str:
    import tempfile

    spooled = tempfile.NamedTemporaryFile(prefix="import-", delete=False)  # noqa: SIM115
    with spooled:
        for chunk in iter(lambda: sys.stdin.buffer.read(1 << 20), b""):
            spooled.write(chunk)
    return spooled.name

"""Helpers of the export tests: a private exports storage per test, running an export's
worker in this process, and reading its file back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from giftcards.exports import storage, work
from giftcards.models import Export


def use_storage(settings, folder: Path) -> Path:
    """The exports storage is `folder` (a test's tmp_path) for this test."""
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder)},
        },
    }
    return folder


def stored_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def run_export(export_id: str) -> Export:
    """Run the export's worker with the token its queued message carries; the export after."""
    export = Export.objects.get(pk=export_id)
    assert work.run(export.pk, export.lease_token) == "completed"
    export.refresh_from_db()
    return export


def parse(file_format: str, text: str) -> list[dict]:
    """A file's rows: CSV as dicts of text, JSON as written."""
    if file_format == "csv":
        return list(csv.DictReader(io.StringIO(text, newline="")))
    return json.loads(text)


def file_text(export: Export) -> str:
    with storage.open_file(export.file_name) as handle:
        return handle.read().decode()


def file_rows(export: Export) -> list[dict]:
    return parse(export.format, file_text(export))

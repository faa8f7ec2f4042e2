"""Where export files live: the `exports` storage (settings STORAGES, a private folder or an
S3 bucket). Each export has a folder of its own, `<business id>/<export id>/`, and each run
writes its own file in it (`<run token>.<format>`): a run that lost its lease can neither
overwrite nor remove the file of the run that took over, and removing the folder removes
whatever a run that died left behind."""

from __future__ import annotations

import contextlib
import os
from typing import IO

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages


def storage() -> Storage:
    return storages["exports"]


def folder(business_id: int, export_id: str) -> str:
    return f"{business_id}/{export_id}"


def run_file_name(export, token: str) -> str:
    return f"{folder(export.business_id, export.pk)}/{token}.{export.format}"


def put(name: str, content: IO[bytes]) -> str:
    """Store `content` (read from its start) as `name`; returns the name it was stored as."""
    return storage().save(name, File(content, name=os.path.basename(name)))


def open_file(name: str) -> IO[bytes]:
    """Raises FileNotFoundError (or the storage's own error) when it is gone."""
    return storage().open(name, "rb")


def remove(name: str) -> None:
    if name:
        storage().delete(name)


def remove_folder(business_id: int, export_id: str) -> int:
    """Remove every file of an export; returns how many there were."""
    store, path = storage(), folder(business_id, export_id)
    try:
        _, files = store.listdir(path)
    except FileNotFoundError:
        return 0
    for name in files:
        store.delete(f"{path}/{name}")
    if isinstance(store, FileSystemStorage):
        with contextlib.suppress(OSError):  # another run may be writing into it right now
            os.rmdir(store.path(path))
    return len(files)

"""Writing exports, and the sweeps that keep them moving.

A run holds the export's lease (`lease_token`, `leased_until`), as a webhook delivery's call
does: it takes it only with the token its message carries, writes the rows to a temporary
file, renewing the lease every CHUNK_SIZE rows, stores the file and marks the export completed
in one UPDATE that holds only while the lease is still its own. So an export is completed
once, by one run, with its file, its count and its size together, or not at all. A run that
finds its lease gone (the export was interrupted, or a sweep gave it to another run after
this one stalled) stops and removes what it wrote. A run that dies leaves a lease that runs
out; `queue_due` (the sweep, every EXPORTS_SWEEP_SECONDS) then queues the export again, and
it starts over. `purge` removes files whose link has expired.

A queue is where leased exports go: Celery tasks in production (`tasks.celery_queue`), or
runs made at once (`in_process`: tests and commands, through `drain`).
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from clients.tenancy import Tenant
from giftcards.exports import selection, storage, tables, writers
from giftcards.exports.services import audit, queue_lease
from giftcards.models import Export, JobStatus, new_public_id
from giftcards.models.bulk import worn_out

logger = logging.getLogger(__name__)
RUNNABLE = (JobStatus.PENDING, JobStatus.IN_PROGRESS)
SWEEP_BATCH = 100
PURGE_BATCH = 500

#: (export id, token) -> None
Queue = Callable[[str, str], None]


class LeaseLost(Exception):
    """The export is no longer this run's: interrupted, or taken over by another run."""


def work_lease() -> timedelta:
    return timedelta(seconds=settings.EXPORTS_WORK_LEASE_SECONDS)


def run(export_id: str, token: str) -> str:
    """Write the export if `token` still holds it; returns what happened (`completed`,
    `not_held`: someone else has it or it is finished, `lost`: it was taken away meanwhile,
    `refused`: its filters no longer apply)."""
    now = timezone.now()
    mine = new_public_id()
    taken = (
        Export.objects.filter(pk=export_id, lease_token=token, status__in=RUNNABLE)
        .filter(attempts__lt=settings.BULK_JOB_MAX_ATTEMPTS)
        .update(
            status=JobStatus.IN_PROGRESS,
            started_at=now,
            lease_token=mine,
            leased_until=now + work_lease(),
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    if not taken:
        return "not_held"
    export = Export.objects.select_related("business").get(pk=export_id)
    held = Export.objects.filter(pk=export_id, lease_token=mine, status=JobStatus.IN_PROGRESS)

    def renew(_rows: int) -> None:
        if not held.update(leased_until=timezone.now() + work_lease()):
            raise LeaseLost

    try:
        name, count, size = _write(export, mine, renew)
    except LeaseLost:
        return "lost"
    except selection.InvalidExportFilter as exc:
        held.update(
            status=JobStatus.INTERRUPTED,
            interrupted_at=timezone.now(),
            lease_token="",
            leased_until=None,
            updated_at=timezone.now(),
        )
        logger.warning("Export %s interrupted: its filters no longer apply (%s).", export_id, exc)
        return "refused"
    completed_at = timezone.now()
    done = held.update(
        status=JobStatus.COMPLETED,
        completed_at=completed_at,
        # Whole seconds: the link carries its end in seconds (signing), and ends with it.
        expires_at=(completed_at + timedelta(seconds=settings.EXPORTS_LINK_TTL)).replace(
            microsecond=0
        ),
        records_count=count,
        file_name=name,
        file_size=size,
        lease_token="",
        leased_until=None,
        updated_at=completed_at,
    )
    if not done:
        storage.remove(name)
        return "lost"
    if export.include_codes:
        audit.warning(
            "Export %s wrote %s full gift card codes (business %s, %s mode) for %s.",
            export_id,
            count,
            export.business_id,
            export.mode,
            export.actor_name,
        )
    return "completed"


def _write(export: Export, token: str, renew: Callable[[int], None]) -> tuple[str, int, int]:
    """Write the rows to a temporary file and store it: (stored name, rows, bytes)."""
    tenant = Tenant(business=export.business, mode=export.mode)
    queryset = selection.rows(export.resource_type, tenant, export.filters)
    table = tables.table(export.resource_type, queryset, include_codes=export.include_codes)
    rows = writers.counted(table.rows, tables.CHUNK_SIZE, renew)
    with tempfile.TemporaryFile() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        count = writers.write(export.format, tables.Table(table.columns, rows), text)
        text.flush()
        text.detach()  # the file stays open for storing
        size = raw.tell()
        renew(0)  # before storing: an interrupted export keeps no file
        raw.seek(0)
        name = storage.put(storage.run_file_name(export, token), raw)
    return name, count, size


# ---------------------------------------------------------------------------- queuing


def in_process(export_id: str, token: str) -> None:
    run(export_id, token)


def default_queue() -> Queue:
    from giftcards.exports import tasks

    return tasks.celery_queue


def free(now) -> Q:
    return Q(leased_until__isnull=True) | Q(leased_until__lt=now)


def queue_due(queue: Queue | None = None, *, limit: int = SWEEP_BATCH) -> int:
    """Lease and queue pending or running exports whose lease ran out (a lost message, a
    dead worker); returns how many. A row keeps its token (its message may still come late:
    whichever run comes first takes it, the other finds it gone), or gets a fresh one."""
    queue = queue or default_queue()
    now = timezone.now()
    give_up(now)
    fresh = new_public_id()
    with transaction.atomic():
        claimed = list(
            Export.objects.filter(status__in=RUNNABLE)
            .filter(free(now))
            .filter(attempts__lt=settings.BULK_JOB_MAX_ATTEMPTS)
            .order_by("created_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("pk", "lease_token")[:limit]
        )
        if claimed:
            Export.objects.filter(pk__in=[pk for pk, _ in claimed]).update(
                lease_token=Case(When(lease_token="", then=Value(fresh)), default=F("lease_token")),
                leased_until=now + queue_lease(),
            )
    for pk, token in claimed:
        queue(pk, token or fresh)
    return len(claimed)


def give_up(now) -> int:
    """Interrupt the exports whose runs kept dying (`worn_out`); the purge removes what their
    runs left."""
    stopped = list(Export.objects.filter(worn_out(now)).values_list("pk", "attempts"))
    for pk, attempts in stopped:
        logger.warning("Export %s given up after %s runs that did not finish.", pk, attempts)
    return (
        Export.objects.filter(pk__in=[pk for pk, _ in stopped])
        .filter(worn_out(now))
        .update(status=JobStatus.INTERRUPTED, interrupted_at=now, lease_token="", updated_at=now)
    )


def drain(rounds: int = 10) -> int:
    """Run, in this process, every export whose lease is free, until none is left."""
    total = 0
    for _ in range(rounds):
        queued = queue_due(in_process)
        total += queued
        if not queued:
            break
    return total


def purge() -> int:
    """Remove the files of exports whose link has expired, and whatever runs of interrupted
    exports left; marks them `purged_at`. Returns how many exports were purged."""
    now = timezone.now()
    due = Export.objects.filter(purged_at__isnull=True).filter(
        Q(status=JobStatus.COMPLETED, expires_at__lte=now) | Q(status=JobStatus.INTERRUPTED)
    )
    purged = 0
    while batch := list(due.order_by("pk").values_list("pk", "business_id")[:PURGE_BATCH]):
        for pk, business_id in batch:
            storage.remove_folder(business_id, pk)
        purged += Export.objects.filter(pk__in=[pk for pk, _ in batch]).update(
            purged_at=now, updated_at=now
        )
    return purged

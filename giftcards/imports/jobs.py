"""Running an import: its rows read in order and handed to the import services a chunk at a
time, each chunk committed together with the import's counts and its `cursor`.

Whoever runs an import holds its lease (`lease_token`, `leased_until`): a run takes it only
when it is free, renews it with every chunk, and stops when it finds the token is no longer
its own. A worker that dies mid-chunk leaves nothing of that chunk (it was one transaction)
and a lease that runs out; the sweep then queues the import again, and the next run resumes
at the cursor. An import asked to stop (`_interrupt`) stops before its next chunk, its counts
exact. Rows come from the import's `inputs`, or from a file a command streams
(`run_rows`), read one at a time: memory stays flat whatever the size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import reset_queries, transaction
from django.db.models import F, Q
from django.utils import timezone

from clients.tenancy import Actor, Tenant
from giftcards.events import engine
from giftcards.imports.rows import CardReader, RecipientReader, Refused, csv_records
from giftcards.models import Import, JobStatus, new_public_id
from giftcards.models.bulk import worn_out
from giftcards.services import imports as service

logger = logging.getLogger(__name__)
# Rows per transaction: large enough for the bulk INSERTs to pay, small enough that a chunk
# holds its locks briefly and a dead worker loses little.
CHUNK = 250
# Messages kept per log (Commerce Layer's errors_log): the counts stay exact beyond it.
LOG_LIMIT = 1000


def lease() -> timedelta:
    return timedelta(seconds=settings.IMPORTS_LEASE_SECONDS)


def inputs_of(job: Import) -> Iterator[Any]:
    """The rows of an import made through the API, in order."""
    if job.format == Import.Format.CSV:
        return csv_records(job.inputs if isinstance(job.inputs, str) else "")
    return iter(job.inputs if isinstance(job.inputs, list) else [])


def claim(job_id: str) -> str | None:
    """Take the import's lease if it is free and the import is not finished: its token."""
    token = new_public_id()
    now = timezone.now()
    taken = (
        Import.objects.filter(pk=job_id, status__in=[JobStatus.PENDING, JobStatus.IN_PROGRESS])
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .filter(attempts__lt=settings.BULK_JOB_MAX_ATTEMPTS)
        .update(
            lease_token=token,
            leased_until=now + lease(),
            status=JobStatus.IN_PROGRESS,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    if not taken:
        return None
    Import.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    return token


def run(job_id: str, *, rows: Iterable[Any] | None = None, progress: Callable | None = None):
    """Run (or resume) an import: its `inputs`, or `rows` (a command's file, read lazily).
    Returns the import as it ended, or None when another run holds it."""
    token = claim(job_id)
    if token is None:
        return None
    job = Import.objects.get(pk=job_id)
    tenant = Tenant(business=job.business, mode=job.mode)
    actor = _actor(job)
    source = iter(rows) if rows is not None else inputs_of(job)
    source = islice(source, job.cursor, None)  # resume after the committed chunks
    reader, importer = _reader_and_importer(job, tenant)
    # The keys of earlier chunks: a real run finds them in the database; a dry run's chunks
    # were rolled back, so it remembers them (memory grows with the rows of a dry run only).
    seen: dict | None = {} if job.dry_run else None
    index = job.cursor
    while True:
        chunk = list(islice(source, CHUNK))
        if not chunk:
            break
        outcome = _run_chunk(job_id, token, tenant, actor, reader, importer, index, chunk, seen)
        if outcome is None:  # interrupted, or no longer ours
            return Import.objects.get(pk=job_id)
        index += len(chunk)
        # With DEBUG on (development), Django keeps every query's SQL for the request: a long
        # command would hold thousands of them.
        reset_queries()
        if progress is not None:
            progress(len(chunk))
    now = timezone.now()
    Import.objects.filter(pk=job_id, lease_token=token).update(
        status=JobStatus.COMPLETED,
        completed_at=now,
        updated_at=now,
        lease_token="",
        leased_until=None,
    )
    return Import.objects.get(pk=job_id)


def _actor(job: Import) -> Actor:
    return Actor(name=job.actor_name or "import", user=job.user, api_key=job.api_key)


def _reader_and_importer(job: Import, tenant: Tenant):
    note = f"Imported (import {job.pk}{', ' + job.source_name if job.source_name else ''})."
    if job.resource_type == Import.ResourceType.GIFT_CARD_RECIPIENTS:
        return RecipientReader(job.business), service.import_recipients
    shape = "seed000" if job.metadata.get("shape") == "timetap" else "auto"

    def cards(**kwargs):
        return service.import_cards(note=note, **kwargs)

    return CardReader(job.business, shape=shape), cards


def _run_chunk(job_id, token, tenant, actor, reader, importer, start, chunk, seen) -> bool | None:
    """Import one chunk and record it, in one transaction; None when the import is no
    longer this run's to work on (interrupted, or its lease taken over)."""
    with transaction.atomic():
        job = Import.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.IN_PROGRESS or job.lease_token != token:
            return None
        read = [_read(reader, start + offset, raw) for offset, raw in enumerate(chunk)]
        rows = [row for row in read if not isinstance(row, Refused)]
        outcomes = importer(tenant=tenant, actor=actor, rows=rows, dry_run=job.dry_run, seen=seen)
        refused = [row for row in read if isinstance(row, Refused)]
        for row in refused:
            _log(job.errors_log, row.index, row.messages)
        for outcome in outcomes:
            if outcome.errors:
                _log(job.errors_log, outcome.index, outcome.errors)
            if outcome.warnings:
                _log(job.warnings_log, outcome.index, outcome.warnings)
        results = [outcome.result for outcome in outcomes]
        job.created_count += results.count(service.CREATED)
        job.skipped_count += results.count(service.SKIPPED)
        job.errors_count += len(refused) + results.count(service.REFUSED)
        job.warnings_count += sum(1 for outcome in outcomes if outcome.warnings)
        job.processed_count += len(chunk)
        job.cursor = start + len(chunk)
        now = timezone.now()
        job.leased_until = now + lease()
        job.updated_at = now
        job.save(
            update_fields=[
                "errors_log",
                "warnings_log",
                "created_count",
                "skipped_count",
                "errors_count",
                "warnings_count",
                "processed_count",
                "cursor",
                "leased_until",
                "updated_at",
            ]
        )
    return True


def _read(reader, index: int, raw) -> Any:
    """A row read, or refused. A row the readers did not foresee is refused (and logged with
    its traceback), never allowed to stop the import: the rows after it go on."""
    try:
        return reader.read(index, raw)
    except Exception:
        logger.exception("Import row %s could not be read.", index)
        return Refused(index, ["The row could not be read (the error is in the service's log)."])


def _log(log: dict, index: int, messages: list[str]) -> None:
    if len(log) < LOG_LIMIT:
        log[str(index)] = messages


# ---------------------------------------------------------------------------- control


def start(
    *,
    tenant: Tenant,
    actor: Actor,
    resource_type: str,
    inputs: Any,
    format: str = Import.Format.JSON,
    dry_run: bool = False,
    reference: str = "",
    reference_origin: str = "",
    metadata: dict | None = None,
) -> Import:
    """Record an import of `inputs` (rows, or the text of a CSV); a worker runs it once the
    transaction commits (`engine.kick_imports`)."""
    size = len(inputs) if isinstance(inputs, list) else sum(1 for _ in csv_records(inputs))
    job = Import.objects.create(
        business=tenant.business,
        mode=tenant.mode,
        resource_type=resource_type,
        format=format,
        inputs=inputs,
        inputs_size=size,
        dry_run=dry_run,
        reference=reference or "",
        reference_origin=reference_origin or "",
        metadata=metadata or {},
        actor_name=actor.name,
        user=actor.user,
        api_key=actor.api_key,
    )
    transaction.on_commit(engine.kick_imports, robust=True)
    return job


def interrupt(job: Import) -> Import:
    """Stop an import before its next chunk (what is committed stays, counted)."""
    now = timezone.now()
    Import.objects.filter(pk=job.pk, status__in=[JobStatus.PENDING, JobStatus.IN_PROGRESS]).update(
        status=JobStatus.INTERRUPTED, interrupted_at=now, updated_at=now
    )
    return Import.objects.get(pk=job.pk)


def give_up(now=None) -> int:
    """Interrupt the imports whose runs kept dying (`worn_out`), saying so in their log."""
    now = now or timezone.now()
    stopped = 0
    for job in Import.objects.filter(worn_out(now)).only("pk", "attempts", "errors_log"):
        message = (
            f"Stopped after {job.attempts} runs that did not finish (a worker died or an error "
            "stopped each one): the rows before `processed_count` are imported; run the rest "
            "in a new import."
        )
        stopped += (
            Import.objects.filter(pk=job.pk)
            .filter(worn_out(now))
            .update(
                status=JobStatus.INTERRUPTED,
                interrupted_at=now,
                updated_at=now,
                errors_log={**job.errors_log, "import": [message]},
                errors_count=F("errors_count") + 1,
            )
        )
        logger.warning(
            "Import %s given up after %s runs that did not finish.", job.pk, job.attempts
        )
    return stopped


def forget_inputs(now=None) -> int:
    """Drop the inputs of imports finished more than IMPORTS_KEEP_INPUTS_DAYS ago: they hold
    codes, and the cards they made are the record."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.IMPORTS_KEEP_INPUTS_DAYS)
    return (
        Import.objects.filter(status__in=[JobStatus.COMPLETED, JobStatus.INTERRUPTED])
        .filter(updated_at__lt=cutoff)
        .exclude(inputs_encrypted="")
        .update(inputs_encrypted="")
    )


def due(now=None) -> list[str]:
    """Imports to run: pending or in progress, with no live lease (a dead worker's too)."""
    now = now or timezone.now()
    return list(
        Import.objects.filter(status__in=[JobStatus.PENDING, JobStatus.IN_PROGRESS])
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .filter(attempts__lt=settings.BULK_JOB_MAX_ATTEMPTS)
        .exclude(source_name__startswith="file:")  # a command's file is not here to resume
        .order_by("created_at")
        .values_list("pk", flat=True)[:100]
    )


def drain() -> int:
    """Run every due import now, in this process (tests; `make run` without a worker)."""
    ran = 0
    for job_id in due():
        if run(job_id) is not None:
            ran += 1
    return ran

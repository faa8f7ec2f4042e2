"""The import tasks: run one import, and the sweep that queues what is due (new imports, and
those a dead worker left) every IMPORTS_SWEEP_SECONDS."""

from __future__ import annotations

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from giftcards.imports import jobs
from giftcards.models import Import, JobStatus


@shared_task(name="giftcards.imports.tasks.run_import")
def run_import(job_id: str) -> str | None:
    job = jobs.run(job_id)
    return None if job is None else job.status


@shared_task(name="giftcards.imports.tasks.sweep")
def sweep() -> int:
    """Queue the due imports; an import a command was running whose lease ran out (the
    command stopped) is marked interrupted: running the command again skips what it did.
    Imports whose runs kept dying are given up, and old finished imports drop their inputs."""
    now = timezone.now()
    Import.objects.filter(
        status__in=[JobStatus.PENDING, JobStatus.IN_PROGRESS], source_name__startswith="file:"
    ).filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now)).update(
        status=JobStatus.INTERRUPTED, interrupted_at=now, updated_at=now
    )
    jobs.give_up(now)
    jobs.forget_inputs(now)
    due = jobs.due(now)
    for job_id in due:
        run_import.delay(job_id)
    return len(due)

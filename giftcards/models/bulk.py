"""Bulk work: imports (rows in, processed in chunks by a worker) and exports (a file out,
written by a worker, downloaded through an expiring link), in Commerce Layer's shapes.

Both are worked on by whoever holds their lease (`lease_token`, `leased_until`, as a
webhook delivery is): a worker that dies leaves a lease that runs out, and the sweep queues
the job again, which resumes where its last committed chunk ended (`cursor`).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clients.tenancy import TenantModel
from giftcards import codes
from giftcards.models.cards import PUBLIC_ID_PATTERN, new_public_id


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    INTERRUPTED = "interrupted", "Interrupted"
    COMPLETED = "completed", "Completed"


class BulkJob(TenantModel):
    """What imports and exports share: identity, status and its moments, the lease, who asked,
    and Commerce Layer's free members."""

    id = models.CharField(primary_key=True, max_length=22, default=new_public_id, editable=False)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    interrupted_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=22, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    # Runs started: a job whose runs keep dying is given up after BULK_JOB_MAX_ATTEMPTS
    # (interrupted, said in the log), never retried forever.
    attempts = models.PositiveSmallIntegerField(default=0)
    reference = models.CharField(max_length=255, blank=True)
    reference_origin = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    api_key = models.ForeignKey(
        "clients.ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ("created_at", "id")

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.COMPLETED, JobStatus.INTERRUPTED)


def worn_out(now) -> Q:
    """Running jobs whose runs kept dying: no live lease, and no attempts left."""
    return Q(
        status__in=[JobStatus.PENDING, JobStatus.IN_PROGRESS],
        attempts__gte=settings.BULK_JOB_MAX_ATTEMPTS,
    ) & (Q(leased_until__isnull=True) | Q(leased_until__lt=now))


def _job_constraints(table: str) -> list:
    return [
        TenantModel.mode_constraint(f"{table}_mode_valid"),
        models.CheckConstraint(condition=Q(id__regex=PUBLIC_ID_PATTERN), name=f"{table}_id_format"),
        models.CheckConstraint(
            condition=Q(status__in=JobStatus.values), name=f"{table}_status_valid"
        ),
    ]


class Import(BulkJob):
    """Rows to create (cards or recipients), processed in chunks. `inputs` are the rows of an
    import made through the API or the admin (a list of objects, or the text of a CSV),
    stored encrypted with the code key since they hold codes; a command streams its file
    instead and records only what happened (`source_name`)."""

    class ResourceType(models.TextChoices):
        GIFT_CARDS = "gift_cards", "Gift cards"
        GIFT_CARD_RECIPIENTS = "gift_card_recipients", "Gift card recipients"

    class Format(models.TextChoices):
        JSON = "json", "JSON"
        CSV = "csv", "CSV"

    resource_type = models.CharField(max_length=32, choices=ResourceType.choices)
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.JSON)
    inputs_encrypted = models.TextField(blank=True)
    source_name = models.CharField(max_length=255, blank=True)
    dry_run = models.BooleanField(default=False)
    inputs_size = models.PositiveIntegerField(default=0)
    # The next row to process: rows before it are done (committed with it, chunk by chunk).
    cursor = models.PositiveIntegerField(default=0)
    processed_count = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    errors_count = models.PositiveIntegerField(default=0)
    warnings_count = models.PositiveIntegerField(default=0)
    # Row index (as a string, JSON keys are) -> its messages.
    errors_log = models.JSONField(default=dict, blank=True)
    warnings_log = models.JSONField(default=dict, blank=True)

    class Meta(BulkJob.Meta):
        indexes = [models.Index(fields=["business", "mode", "created_at"])]
        constraints = [
            *_job_constraints("giftcards_import"),
            models.CheckConstraint(
                condition=Q(resource_type__in=["gift_cards", "gift_card_recipients"]),
                name="giftcards_import_resource_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(format__in=["json", "csv"]), name="giftcards_import_format_valid"
            ),
            models.CheckConstraint(
                condition=Q(cursor__lte=models.F("inputs_size")),
                name="giftcards_import_cursor_within_inputs",
            ),
        ]

    def __str__(self) -> str:
        return f"Import {self.pk} of {self.resource_type}"

    @property
    def inputs(self) -> list | str:
        """The rows, decrypted (empty when there are none, or no configured key reads them)."""
        if not self.inputs_encrypted:
            return "" if self.format == self.Format.CSV else []
        try:
            return json.loads(codes.decrypt(self.inputs_encrypted))
        except ValueError:
            return "" if self.format == self.Format.CSV else []

    @inputs.setter
    def inputs(self, rows: list | str) -> None:
        self.inputs_encrypted = codes.encrypt(json.dumps(rows)) if rows else ""


class Export(BulkJob):
    """A file of the tenant's cards, recipients or ledger rows, filtered as the list routes
    filter, written by a worker to storage (`file_name`) and downloaded until `expires_at`."""

    class ResourceType(models.TextChoices):
        GIFT_CARDS = "gift_cards", "Gift cards"
        GIFT_CARD_RECIPIENTS = "gift_card_recipients", "Gift card recipients"
        BALANCE_LOGS = "balance_logs", "Balance logs"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"

    resource_type = models.CharField(max_length=32, choices=ResourceType.choices)
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.CSV)
    filters = models.JSONField(default=dict, blank=True)
    # Full codes in the file: asked for, and allowed to the caller; recorded like a reveal.
    include_codes = models.BooleanField(default=False)
    records_count = models.PositiveIntegerField(null=True, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    # The download link works until then; the file is removed after it.
    expires_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta(BulkJob.Meta):
        indexes = [models.Index(fields=["business", "mode", "created_at"])]
        constraints = [
            *_job_constraints("giftcards_export"),
            models.CheckConstraint(
                condition=Q(
                    resource_type__in=["gift_cards", "gift_card_recipients", "balance_logs"]
                ),
                name="giftcards_export_resource_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(format__in=["csv", "json"]), name="giftcards_export_format_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} of {self.resource_type}"

"""Delete stored Idempotency-Key responses once retries can no longer need them (cron)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from clients.models import IdempotencyRecord

MINIMUM_HOURS = 24  # SPEC: a key's first response is kept for at least 24 hours


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than --older-than-hours (at least 24)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-hours", type=int, default=72)

    def handle(self, *args, older_than_hours, **options):
        if older_than_hours < MINIMUM_HOURS:
            raise CommandError(
                f"Records are kept at least {MINIMUM_HOURS} hours, so that a client's retry "
                "still replays; use a larger --older-than-hours."
            )
        cutoff = timezone.now() - timedelta(hours=older_than_hours)
        deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
        self.stdout.write(
            f"Deleted {deleted} idempotency records created before {cutoff:%Y-%m-%d %H:%M} UTC."
        )

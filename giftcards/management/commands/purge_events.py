"""Delete old events, settled webhook deliveries and their callbacks (cron, or Celery beat)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from giftcards.events import retention


class Command(BaseCommand):
    help = (
        "Delete webhook callbacks, settled deliveries and dispatched events older than "
        "--older-than-days (at least 2). Pending deliveries and card e-mails stay."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, default=30)

    def handle(self, *args, older_than_days, **options):
        try:
            purged = retention.purge(timedelta(days=older_than_days))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Deleted {purged.callbacks} callbacks, {purged.deliveries} deliveries and "
            f"{purged.events} events older than {older_than_days} days."
        )

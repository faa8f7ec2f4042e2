"""Export a business's gift cards as CSV or JSON, as `/api/exports` writes them."""

from django.core.management.base import CommandError

from giftcards.exports.command import ExportCommand
from giftcards.models import Export, Status


class Command(ExportCommand):
    help = (
        "Write a business's gift cards (not deleted) as CSV or JSON to --output or stdout, "
        "with the columns of /api/exports; codes masked unless --include-codes."
    )
    resource_type = Export.ResourceType.GIFT_CARDS
    noun = "gift cards"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--status", help=f"only cards in these statuses (comma-separated: {', '.join(Status)})"
        )
        parser.add_argument(
            "--include-codes",
            action="store_true",
            help="full codes instead of masked ones (logged as a reveal; the file is private)",
        )

    def filters(self, tenant, options):
        if not options["status"]:
            return {}
        statuses = [part.strip() for part in options["status"].split(",")]
        unknown = [status for status in statuses if status not in Status.values]
        if unknown:
            raise CommandError(f"Unknown status {unknown[0]!r}; statuses: {', '.join(Status)}.")
        return {"status_in": statuses}

    def include_codes(self, options):
        return options["include_codes"]

"""Export a business's ledger rows as CSV or JSON, as `/api/exports` writes them."""

import datetime as dt

from django.core.management.base import CommandError

from giftcards import selectors
from giftcards.exports.command import ExportCommand
from giftcards.models import Export

DATES = (
    "YYYY-MM-DD (a day in the business's time zone) or an ISO 8601 moment (2025-01-31T12:00:00Z)"
)


class Command(ExportCommand):
    help = (
        "Write a business's ledger rows (of every card, deleted ones too), oldest first, as "
        "CSV or JSON to --output or stdout, with the columns of /api/exports."
    )
    resource_type = Export.ResourceType.BALANCE_LOGS
    noun = "ledger rows"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--since", help=f"rows from then on: {DATES}")
        parser.add_argument("--until", help=f"rows up to then: {DATES}; a day is included")

    def filters(self, tenant, options):
        filters = {}
        if options["since"]:
            filters["created_at_gteq"] = self.moment(options["since"], tenant, "--since")
        if options["until"]:
            filters["created_at_lt"] = self.moment(options["until"], tenant, "--until")
        return filters

    @staticmethod
    def moment(text: str, tenant, option: str) -> str:
        """A day's start (the day after's for --until, so the day is included), or the moment
        given, as an ISO 8601 UTC filter value."""
        text = text.strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                if option == "--until":
                    day += dt.timedelta(days=1)
                moment = dt.datetime.combine(day, dt.time.min, tzinfo=tenant.business.tzinfo)
            else:
                moment = dt.datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.UTC)
        except (ValueError, OverflowError) as exc:
            raise CommandError(f"{option} must be {DATES}, not {text!r}.") from exc
        return selectors.iso_utc(moment)

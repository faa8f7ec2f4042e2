"""Create a business (tenant); prints its id alone on the last line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from clients.services import business_create


class Command(BaseCommand):
    help = "Create a business. Prints the new business id alone on its last line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--currency", default="USD", help="ISO 4217 code (default USD)")
        parser.add_argument("--locale", default="en_US", help="e.g. en_US, de_DE (default en_US)")
        parser.add_argument("--timezone", default="UTC", help="IANA zone (default UTC)")

    def handle(self, *args, name, currency, locale, timezone, **options):
        if not name.strip():
            raise CommandError("The business name cannot be empty.")
        try:
            business = business_create(
                name=name.strip(), currency_code=currency.upper(), locale=locale, timezone=timezone
            )
        except ValidationError as exc:
            problems = "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())
            raise CommandError(problems) from exc
        self.stderr.write(f"Created business {business.name!r} ({business.currency_code}).")
        self.stdout.write(str(business.pk))

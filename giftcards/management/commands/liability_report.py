"""What every business (or one) owed its customers at the end of a day, per currency and
market, replayed from the ledger, as CSV (giftcards/reports.py)."""

import csv
import io

from django.core.management.base import BaseCommand, CommandError

from clients.models import Business
from giftcards import reports


class Command(BaseCommand):
    help = (
        "Outstanding liability at the end of --as-of (YYYY-MM-DD, in each business's time "
        "zone) per business, currency and market, from the ledger; CSV on stdout or --output."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", required=True, help="the day, YYYY-MM-DD")
        parser.add_argument("--business", type=int, help="only this business (its id)")
        parser.add_argument("--output", help="write the CSV to this file instead of stdout")

    def handle(self, *args, as_of, business=None, output=None, **options):
        try:
            day = reports.parse_day(as_of, name="--as-of date")
        except reports.ReportError as exc:
            raise CommandError(str(exc)) from exc
        businesses = Business.objects.order_by("id")
        if business is not None:
            businesses = businesses.filter(pk=business)
            if not businesses.exists():
                raise CommandError(f"There is no business with id {business}.")
        # Everything is computed before anything is written: a refusal leaves no half file.
        rows = [reports.LIABILITY_HEADER]
        left_out: list[str] = []
        for each in businesses:
            try:
                found = reports.liability_as_of(business=each, as_of=day)
            except reports.DayNotBegun as exc:
                if business is not None:
                    raise CommandError(f"{each.name} (id {each.pk}): {exc}") from exc
                # Every business's report: one whose zone is still on the day before is left
                # out, said on stderr, rather than failing the others' (run it again later).
                left_out.append(f"{each.name} (id {each.pk}): {exc}")
                continue
            except reports.ReportError as exc:
                raise CommandError(f"{each.name} (id {each.pk}): {exc}") from exc
            rows.extend(reports.liability_csv(each, day, found))
        if left_out and len(rows) == 1 and len(left_out) == businesses.count():
            raise CommandError(left_out[0])  # no business has reached that day yet
        for note in left_out:
            self.stderr.write(f"Left out {note}")
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        if not output:
            self.stdout.write(text.getvalue(), ending="")
            return
        try:
            with open(output, "w", newline="", encoding="utf-8") as file:
                file.write(text.getvalue())
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from exc

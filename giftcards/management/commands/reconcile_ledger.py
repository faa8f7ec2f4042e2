"""Check every card's cached balance against its ledger, and every balance transfer for its
two ledger rows; exit 1 and list what differs."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q, Sum
from tqdm import tqdm

from giftcards.models import BalanceLog, BalanceTransfer, GiftCard


class Command(BaseCommand):
    help = (
        "Compare every card's balance with the sum of its ledger rows (issue row = initial "
        "balance). Prints a summary; exits non-zero and lists the cards when any differs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--business", type=int, help="only this business")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, business=None, no_progress=False, **options):
        cards = GiftCard.objects.all()
        if business is not None:
            cards = cards.filter(business_id=business)
        issue = Q(ledger__kind=BalanceLog.Kind.ISSUE)
        rows = (
            cards.order_by()
            .annotate(
                ledger_sum=Sum("ledger__amount_cents"),
                issued=Sum("ledger__amount_cents", filter=issue),
                issue_rows=Count("ledger", filter=issue),
            )
            .values_list(
                "id",
                "code_last4",
                "business_id",
                "balance_cents",
                "initial_balance_cents",
                "ledger_sum",
                "issued",
                "issue_rows",
            )
        )
        total = cards.count()
        problems = []
        progress = tqdm(
            rows.iterator(chunk_size=2000),
            total=total,
            unit="card",
            # The raw stream: OutputWrapper ends every write with a newline, so each redraw
            # would scroll a new bar instead of updating the line in place.
            file=self.stderr._out,
            disable=no_progress or total == 0,
        )
        for (
            card_id,
            last4,
            business_id,
            balance,
            initial,
            ledger_sum,
            issued,
            issue_rows,
        ) in progress:
            if issue_rows != 1:
                problems.append((card_id, last4, business_id, f"{issue_rows} issue rows"))
            elif issued != initial:
                problems.append(
                    (card_id, last4, business_id, f"issued {issued} but initial {initial}")
                )
            elif balance != ledger_sum:
                problems.append(
                    (card_id, last4, business_id, f"balance {balance} but ledger sum {ledger_sum}")
                )

        self.stdout.write(
            f"Checked {total} cards: {total - len(problems)} reconcile, {len(problems)} differ."
        )
        for card_id, last4, business_id, reason in problems:
            self.stdout.write(f"  card {card_id} (****{last4}, business {business_id}): {reason}")
        broken = self.broken_transfers(business)
        for transfer_id, rows in broken:
            self.stdout.write(f"  transfer {transfer_id}: {rows} ledger row(s), not 2")
        failures = []
        if problems:
            failures.append(f"{len(problems)} card(s) do not reconcile with the ledger")
        if broken:
            failures.append(f"{len(broken)} transfer(s) do not have their two ledger rows")
        if failures:
            raise CommandError("; ".join(failures) + ".")

    @staticmethod
    def broken_transfers(business: int | None) -> list[tuple[str, int]]:
        """Transfers without their one `transfer_out` and one `transfer_in` row (the database
        checks each row against its transfer as it is written; this finds one missing)."""
        transfers = BalanceTransfer.objects.order_by()
        if business is not None:
            transfers = transfers.filter(business_id=business)
        return list(
            transfers.annotate(rows=Count("entries"), moved=Sum("entries__amount_cents"))
            .exclude(rows=2, moved=0)
            .values_list("id", "rows")
        )

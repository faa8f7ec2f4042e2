"""Re-encrypt and re-hash every stored code (and idempotency record, webhook secret,
callback payload and import inputs) with the current code key, so that the old keys can be
dropped from GIFTCARD_CODE_OLD_KEYS."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from giftcards import code_keys, codes


class Command(BaseCommand):
    help = (
        "Move every gift card code, idempotency record, webhook secret, callback payload and "
        "import's inputs still under an old code key "
        "(GIFTCARD_CODE_OLD_KEYS) to the current one (GIFTCARD_CODE_KEY). Safe to stop and "
        "run again: finished batches are committed, rows under the current key are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be rewritten; write nothing"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=code_keys.BATCH_SIZE,
            help=f"rows per transaction (default {code_keys.BATCH_SIZE})",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, dry_run=False, batch_size, no_progress=False, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if not codes.has_old_keys():
            raise CommandError(
                "No old code keys are configured: set GIFTCARD_CODE_OLD_KEYS to the keys the "
                "stored codes were written with, and GIFTCARD_CODE_KEY to the new key."
            )

        def progress(total: int, label: str):
            # The raw stream: OutputWrapper ends every write with a newline, so each redraw
            # would scroll a new bar instead of updating the line in place.
            return tqdm(
                total=total,
                desc=label,
                unit="row",
                file=self.stderr._out,
                disable=no_progress or total == 0,
            )

        try:
            if dry_run:
                tables = code_keys.survey(progress)
                code_keys.refuse_unreadable(*tables)
                self.stdout.write("Dry run: nothing was written.")
                for table in tables:
                    self.stdout.write(
                        f"{table.label}: {table.total} checked, {table.old} to re-encrypt, "
                        f"{table.current} already under the current key."
                    )
                return
            rotation = code_keys.code_key_rotate(progress, batch_size=batch_size)
        except code_keys.RotationRefused as exc:
            self._refuse(str(exc), exc.problems)

        for table, rewritten in zip(rotation.tables, rotation.rewritten, strict=True):
            self.stdout.write(
                f"{table.label}: {table.total} checked, {rewritten} re-encrypted, "
                f"{table.current} already under the current key."
            )
        # Rows written under an old key while the run went on (a server still deployed with
        # the old key as its current one) would be left behind: count again before saying so.
        left = sum(table.old for table in code_keys.survey())
        if left:
            self.stderr.write(
                f"{left} rows were written under an old key during the run (is every server "
                "deployed with the new GIFTCARD_CODE_KEY?): run the command again before "
                "removing the old keys."
            )
            raise CommandError("Old keys are still in use.")
        self.stdout.write(
            "Everything is under the current key: GIFTCARD_CODE_OLD_KEYS can be emptied."
        )

    def _refuse(self, message: str, problems: list[str]):
        for problem in problems[:50]:
            self.stderr.write(f"  {problem}")
        if len(problems) > 50:
            self.stderr.write(f"  ... and {len(problems) - 50} more")
        raise CommandError(message)

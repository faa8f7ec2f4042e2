"""Import throughput: cards a second through an import (rows read and checked, natural keys
looked up, cards, ledger rows, history and events written in chunks, the import's counts
kept) beside a bulk insert of the same cards and ledger rows done directly in the database
(executemany of prepared INSERTs in chunks of the same size, codes hashed and encrypted as
any stored card needs). Rounds alternate A and B, each on a fresh business; medians.

    make bench-import                                  # PostgreSQL, re-creates its database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftcards_bench_import \\
        .venv/bin/python benchmarks/import_throughput.py --rows 10000 --rounds 3
    ... --memory                # also: peak memory of import_giftcards at 10,000 and 100,000

It migrates the database it is given and writes its own businesses there. Figures, not
assertions; do not point it at a database whose data you care about.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftcards_project.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from clients.services import business_create  # noqa: E402
from clients.tenancy import Actor, Mode, Tenant  # noqa: E402
from giftcards import codes  # noqa: E402
from giftcards.imports import jobs  # noqa: E402
from giftcards.models import new_public_id  # noqa: E402

CHUNK = jobs.CHUNK


def rows(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "code": codes.generate(rng),
            "initial_balance_cents": 5_000,
            "balance_cents": 5_000 - n % 9 * 250,
            "expires_at": "2031-01-31T00:00:00Z",
            "created_at": "2024-03-01T09:00:00Z",
            "reference": f"old-{n}",
            "reference_origin": "legacy",
        }
        for n in range(count)
    ]


def through_an_import(business, inputs: list[dict]) -> int:
    tenant = Tenant(business=business, mode=Mode.LIVE)
    job = jobs.start(
        tenant=tenant, actor=Actor.system("bench"), resource_type="gift_cards", inputs=inputs
    )
    done = jobs.run(job.pk)
    assert done.created_count == len(inputs), (done.created_count, done.errors_log)
    return done.created_count


CARD_COLUMNS = """
    id business_id mode code_hash code_encrypted code_last4 status currency_code
    initial_balance_cents balance_cents single_use rechargeable distribute_discount image_url
    expires_at reference reference_origin metadata created_at updated_at created_by modified_by
""".split()  # noqa: SIM905
LEDGER_COLUMNS = """
    card_id kind amount_cents balance_after_cents order_reference actor_name note created_at
""".split()  # noqa: SIM905


def bulk_insert(business, inputs: list[dict]) -> int:
    """The same cards and their ledger rows, INSERTed directly."""
    card_sql = (
        f"INSERT INTO giftcards_giftcard ({', '.join(CARD_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(CARD_COLUMNS))})"
    )
    ledger_sql = (
        f"INSERT INTO giftcards_balancelog ({', '.join(LEDGER_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(LEDGER_COLUMNS))})"
    )
    now = timezone.now()
    for start in range(0, len(inputs), CHUNK):
        cards, ledger = [], []
        for row in inputs[start : start + CHUNK]:
            pk, code = new_public_id(), row["code"]
            initial, balance = row["initial_balance_cents"], row["balance_cents"]
            cards.append(
                (
                    pk, business.pk, "live", codes.lookup_hash(code), codes.encrypt(code),
                    codes.last4(code), "active", "USD", initial, balance, False, True, True,
                    "", row["expires_at"], row["reference"], row["reference_origin"], "{}",
                    row["created_at"], now, "bench", "bench",
                )
            )  # fmt: skip
            ledger.append((pk, "issue", initial, initial, "", "bench", "", now))
            if balance != initial:
                ledger.append((pk, "pre_import", balance - initial, balance, "", "bench", "", now))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(card_sql, cards)
            cursor.executemany(ledger_sql, ledger)
    return len(inputs)


def timed(work, *args) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    count = work(*args)
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def memory(count: int) -> int:
    """Peak Python memory of `import_giftcards` on a file of `count` rows."""
    business = business_create(name=f"Memory {count} {new_public_id()}", currency_code="USD")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write("[")
        for n, row in enumerate(rows(count, seed=count)):
            handle.write(("," if n else "") + json.dumps(row))
        handle.write("]")
    tracemalloc.start()
    call_command(
        "import_giftcards",
        handle.name,
        "--business",
        str(business.pk),
        "--no-progress",
        stdout=io.StringIO(),
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    os.unlink(handle.name)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(f"{connection.vendor}: {args.rows} cards a round, {args.rounds} rounds, A then B")
    results = {"import": [], "bulk insert": []}
    for round_ in range(args.rounds):
        for label, work in (("import", through_an_import), ("bulk insert", bulk_insert)):
            business = business_create(name=f"{label} {round_}", currency_code="USD")
            inputs = rows(args.rows, seed=round_ * 2 + (label == "import"))
            wall, cpu = timed(work, business, inputs)
            results[label].append((wall, cpu))
            print(f"  round {round_ + 1} {label:>11}: {wall:8.0f} cards/s wall, {cpu:8.0f} /s CPU")
    medians = {
        label: [statistics.median(x) for x in zip(*runs, strict=True)]
        for label, runs in results.items()
    }
    (a_wall, a_cpu), (b_wall, b_cpu) = medians["import"], medians["bulk insert"]
    print(f"median import:      {a_wall:8.0f} cards/s wall, {a_cpu:8.0f} cards/s of CPU")
    print(f"median bulk insert: {b_wall:8.0f} cards/s wall, {b_cpu:8.0f} cards/s of CPU")
    print(f"ratio (import / bulk insert): {a_wall / b_wall:.2f}x wall, {a_cpu / b_cpu:.2f}x CPU")
    if args.memory:
        for count in (10_000, 100_000):
            print(f"import_giftcards peak memory, {count:>7} rows: {memory(count) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()

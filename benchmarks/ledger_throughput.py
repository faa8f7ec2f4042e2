"""Ledger throughput: debits per second through the services, spread and on one hot card.

    .venv/bin/python benchmarks/ledger_throughput.py                    # a scratch SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftcards_bench \\
        .venv/bin/python benchmarks/ledger_throughput.py --threads 8      # PostgreSQL

It migrates the database it is given, writes its own business and cards there, prints
figures, and checks that every card still reconciles with its ledger. Do not point it at a
database whose data you care about.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/giftcards-bench.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftcards_project.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from clients.services import business_create  # noqa: E402
from clients.tenancy import Actor, Mode, Tenant  # noqa: E402
from giftcards import exceptions, selectors, services  # noqa: E402
from giftcards.models import Status  # noqa: E402


def run(label: str, cards: list, debits: int, threads: int, actor: Actor) -> None:
    latencies: list[float] = []
    refused = 0
    lock = threading.Lock()

    def worker(offset: int) -> None:
        nonlocal refused
        mine: list[float] = []
        failed = 0
        for i in range(offset, debits, threads):
            started = time.perf_counter()
            try:
                services.card_debit(card=cards[i % len(cards)], amount_cents=1, actor=actor)
            except exceptions.GiftCardError:
                failed += 1
            mine.append(time.perf_counter() - started)
        connection.close()  # one connection per thread, closed when it is done
        with lock:
            latencies.extend(mine)
            refused += failed

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(worker, range(threads)))
    wall = time.perf_counter() - started
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
    print(
        f"{label:<26} {debits / wall:7.0f} debits/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms"
        f"  refused {refused}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--debits", type=int, default=2000)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    business = business_create(name=f"bench {time.time():.0f}")
    tenant = Tenant(business=business, mode=Mode.LIVE)
    actor = Actor.system("bench")
    issue = dict(tenant=tenant, actor=actor, balance_cents=10**9, status=Status.ACTIVE)
    spread = [services.card_issue(**issue) for _ in range(64)]
    hot = [services.card_issue(**issue)]

    print(f"engine {connection.vendor}, {args.threads} threads, {args.debits} debits per run")
    run("spread over 64 cards", spread, args.debits, args.threads, actor)
    run("one hot card (row lock)", hot, args.debits, args.threads, actor)

    differ = selectors.cards_out_of_balance().filter(business=business).count()
    print(f"cards out of balance afterwards: {differ}")
    if differ:
        sys.exit(1)


if __name__ == "__main__":
    main()

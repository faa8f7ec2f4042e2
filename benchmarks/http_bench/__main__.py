"""The service over real HTTP, against hand-written baselines served by the same gunicorn.

    make bench-http        # or: .venv/bin/python -m benchmarks.http_bench [--help]

In one run: a fresh PostgreSQL database (`giftcards_bench_http`, dropped and re-created) is
migrated and seeded through the services; gunicorn (sync workers, DEBUG off, Redis for the
throttles, rates raised) serves the project's WSGI app with the baselines under /bench/
(benchmarks.http_bench.settings and urls), each response carrying its worker's CPU time
(benchmarks.http_bench.wsgi); gunicorn is always stopped at the end.

Measured, A and B interleaved, medians reported:
- reads, server CPU per request (one request at a time) and requests/s (concurrent rounds):
  JSON:API list (25 cards with recipients, markets, tags) and detail, plain client list
  (20 cards) and detail, each against a hand-written Django view over `.values()` that serves
  the same document (both documents are fetched and compared first);
- debits/s, all requests of a run on one hot card (a hot card per variant) and spread over
  1,000 cards: plain `POST /payments` and JSON:API `PATCH _balance_change_cents` (full
  response and `fields[gift_cards]=balance_cents`), against a hand-written Django debit with
  the service's guarantees and against two SQL statements through psycopg;
- a JSON:API debit's latency on a card with 1 ledger row against one with 10,000;
then every debit acknowledged must be one ledger row and every card must reconcile (exit 1
otherwise). Figures only: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import stack
from benchmarks.http_bench import server

RATE = "1000000/s"  # never reached; a 1 s window keeps the throttle's history short


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="giftcards_bench_http")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--conn-max-age", type=int, default=60, help="DATABASE_CONN_MAX_AGE")
    parser.add_argument("--debits", type=int, default=500, help="per variant and scenario")
    parser.add_argument("--cpu-repeats", type=int, default=150, help="requests per read and side")
    parser.add_argument("--latency-repeats", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="small counts, to try it out")
    return parser.parse_args()


def environment(args: argparse.Namespace) -> dict[str, str]:
    """Settings for this process (seeding) and the server: the same database and keys."""
    return stack.environment(
        args.admin_url,
        args.database,
        settings_module="benchmarks.http_bench.settings",
        conn_max_age=args.conn_max_age,
        redis_url=args.redis_url,
        cache_key_prefix=f"bench-http-{os.getpid()}-{time.time_ns()}",
        API_RATE=RATE,
        CODE_LOOKUP_RATE=RATE,
    )


def say(text: str = "") -> None:
    print(text, flush=True)


def measure(args: argparse.Namespace, env: dict[str, str], seeded, log: Path) -> dict:
    """Everything that needs the server, which is stopped however this ends."""
    from benchmarks.http_bench import scenarios
    from benchmarks.http_bench.client import Api
    from benchmarks.http_bench.measure import Load
    from benchmarks.http_bench.raw_sql import RawSqlDebits

    started = time.monotonic()
    rounds = 5
    per_round = max(args.debits // rounds, args.threads)
    raw = RawSqlDebits(os.environ["DATABASE_URL"])
    load = Load(args.threads)
    results: dict = {"comparisons": [], "reads": []}
    try:
        with server.gunicorn(env, args.workers, log) as port:
            say(
                f"gunicorn on 127.0.0.1:{port}: {args.workers} sync workers, DEBUG off, "
                f"CONN_MAX_AGE {args.conn_max_age}, Redis {args.redis_url}; "
                f"{args.threads} client threads"
            )
            api = Api(port, seeded.secret)
            for read in scenarios.reads(seeded):
                results["comparisons"].append((read.name, scenarios.compare_bodies(api, read)))
            for read in scenarios.reads(seeded):
                cpu = scenarios.read_cpu(api, read, args.cpu_repeats, warmup=3 * args.workers)
                per = max(args.cpu_repeats // 2, 2 * args.threads)
                rates = scenarios.read_rates(load, api, read, per_round=per, rounds=3)
                results["reads"].append((read, cpu, rates))
                say(f"  measured {read.name} ({time.monotonic() - started:.0f} s)")
            results["hot"], results["spread"], results["warmup"] = scenarios.debit_rates(
                load, api, raw, seeded, per_round, rounds
            )
            say(f"  measured debits ({time.monotonic() - started:.0f} s)")
            results["latency"] = scenarios.ledger_size_latency(api, seeded, args.latency_repeats)
            results["log_cpu"] = scenarios.log_rendering_cpu(seeded.big_card_id, repeats=15)
            say(f"  measured ledger size latency ({time.monotonic() - started:.0f} s)")
    except Exception:
        if log.exists():
            say(f"gunicorn's log ({log}), last lines:")
            say("\n".join(log.read_text(errors="replace").splitlines()[-30:]))
        raise
    finally:
        load.close()
        raw.close()
    return results


def print_report(args: argparse.Namespace, results: dict) -> None:
    from benchmarks.http_bench import report

    say()
    say("Documents, service against baseline (parsed JSON):")
    for name, found in results["comparisons"]:
        say(f"  {name:<28} {'same' if not found else f'{len(found)} differences:'}")
        for line in found[:15]:
            say(f"      {line}")
    for table in (
        report.reads_table(results["reads"]),
        report.debits_table(results["hot"], results["spread"], args.threads),
        report.latency_table(results["latency"], results["log_cpu"]),
    ):
        say()
        say("\n".join(table))
    say()


def check_ledger(seeded, results: dict, debit_rows_before: int) -> bool:
    """Every debit acknowledged is one ledger row, and every card reconciles."""
    from django.core.management import call_command

    from giftcards.models import BalanceLog

    every = [
        *results["hot"].values(),
        *results["spread"].values(),
        *results["warmup"],
        *results["latency"].values(),
    ]
    acknowledged = sum(samples.done - samples.failed for samples in every)
    written = BalanceLog.objects.filter(kind="debit").count() - debit_rows_before
    say(f"Debits acknowledged {acknowledged}, debit rows written {written}")
    rows = {
        name: BalanceLog.objects.filter(card_id=card).count()
        for name, card in seeded.hot_ids.items()
    }
    big = BalanceLog.objects.filter(card_id=seeded.big_card_id).count()
    say(
        f"Ledger rows at the end: the 10k card {big}; hot cards: "
        + ", ".join(f"{name} {count}" for name, count in rows.items())
    )
    out = io.StringIO()
    try:
        call_command("reconcile_ledger", business=seeded.business_id, no_progress=True, stdout=out)
        reconciled = True
    except Exception as exc:  # CommandError: the command lists the cards that differ
        out.write(f"{exc}\n")
        reconciled = False
    say(f"reconcile_ledger: {out.getvalue().strip()}")
    return reconciled and acknowledged == written


def main() -> int:
    args = parse_args()
    if args.quick:
        args.debits, args.cpu_repeats, args.latency_repeats = 80, 16, 6
    env = environment(args)
    # `kill` (as from a CI timeout) unwinds like Ctrl-C, so gunicorn is still stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    stack.redis_check(args.redis_url)
    stack.database_recreate(args.admin_url, args.database)

    import django

    django.setup()
    # Models can only be imported once Django is set up.
    from django.core.management import call_command

    from benchmarks.http_bench import scenarios, seed
    from giftcards.models import BalanceLog

    call_command("migrate", verbosity=0)
    seeded = seed.seed(
        spread=1_000,
        one_row_cards=2 * args.latency_repeats,
        big_rows=10_000,
        hot_variants=list(scenarios.DEBIT_VARIANTS),
    )
    say(f"source {stack.source_version()}")
    say(
        f"database {args.database}: seeded in {sum(seeded.timings.values()):.1f} s "
        f"({', '.join(f'{name} {took:.1f} s' for name, took in seeded.timings.items())}); "
        f"10k card: {seeded.big_card_check}"
    )
    debit_rows_before = BalanceLog.objects.filter(kind="debit").count()
    log = Path(tempfile.gettempdir()) / f"bench-http-gunicorn-{os.getpid()}.log"
    results = measure(args, env, seeded, log)
    print_report(args, results)
    sound = check_ledger(seeded, results, debit_rows_before)
    say(f"Done in {time.monotonic() - started:.0f} s; gunicorn's log: {log}")
    return 0 if sound else 1


if __name__ == "__main__":
    sys.exit(main())

"""A storm of money moves through both APIs while workers and database connections die.

    make chaos             # or: .venv/bin/python -m benchmarks.chaos [--short] [--help]

In one run: a fresh PostgreSQL database (`giftcards_chaos` unless told, dropped and
re-created) is migrated and seeded through the services; gunicorn, with the repository's
gunicorn.conf.py (gthread workers x threads, DEBUG off, pooled connections:
DATABASE_CONN_MAX_AGE > 0, Redis for the throttles), serves it on 127.0.0.1 while client
threads send a bounded, seeded mix of plain API payments (POST /payments) and refunds
(DELETE /payments/{id}), JSON:API debits and recharges (PATCH /api/gift_cards/{id} with
`_balance_change_cents`), and code lookups (`filter[code_eq]`), some with an
`Idempotency-Key` (retried with the same key when no final answer came back), some without.
Meanwhile gunicorn workers of this run are killed with SIGKILL, and the backends of this run's
database are terminated (`pg_terminate_backend`), by turns.

Then it prints what was sent and seen, and checks: every card reconciles; every 2xx has its
ledger row; no 5xx (nor refusal) followed a committed move; every operation, keyed retries
included, moved money at most once; no ledger row comes from outside the storm; the access
log holds no gift card code. A dropped connection is "no answer", allowed whether or not its
move committed (the run says which). Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from benchmarks import stack

RATE = "1000000/s"  # never reached: the storm is about faults, not throttling


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="giftcards_chaos", help="re-created by the run")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--conn-max-age", type=int, default=60, help="DATABASE_CONN_MAX_AGE")
    parser.add_argument("--operations", type=int, default=3_000, help="operations at most")
    parser.add_argument("--seconds", type=float, default=90, help="no new operation after")
    parser.add_argument("--fault-every", type=float, default=1.0, help="seconds between faults")
    parser.add_argument("--cards", type=int, default=24)
    parser.add_argument("--retries", type=int, default=3, help="same-key retries at most")
    parser.add_argument(
        "--terminate",
        choices=["all", "idle"],
        default="all",
        help="which backends a termination round ends: all, or only those between statements",
    )
    parser.add_argument("--seed", default=None, help="the plan's random seed")
    parser.add_argument("--logs", type=Path, default=None, help="directory for the server logs")
    parser.add_argument(
        "--short", action="store_true", help="a small budget (the test suite's run)"
    )
    args = parser.parse_args(argv)
    if args.short:
        args.operations, args.seconds, args.fault_every = 300, 10, 0.6
    if args.conn_max_age <= 0:
        parser.error("--conn-max-age must be > 0: the storm is about pooled connections")
    args.seed = args.seed or secrets.token_hex(4)
    return args


def environment(args: argparse.Namespace, run: str) -> dict[str, str]:
    """Settings for this process (seeding, checking) and the server: one database."""
    return stack.environment(
        args.admin_url,
        args.database,
        conn_max_age=args.conn_max_age,
        redis_url=args.redis_url,
        cache_key_prefix=f"chaos-{run}",
        API_RATE=RATE,
        CODE_LOOKUP_RATE=RATE,
    )


def say(text: str = "") -> None:
    print(text, flush=True)


def run_storm(args, env, seeded, run: str, access_log: Path, server_log: Path):
    from benchmarks.chaos import server, storm
    from benchmarks.chaos.faults import Faults

    with server.gunicorn(
        env,
        workers=args.workers,
        threads=args.threads,
        access_log=access_log,
        server_log=server_log,
    ) as served:
        say(
            f"gunicorn on 127.0.0.1:{served.port} (master {served.master_pid}): "
            f"{args.workers} workers x {args.threads} threads, CONN_MAX_AGE "
            f"{args.conn_max_age}, Redis {args.redis_url}; {args.clients} client threads, "
            f"up to {args.operations} operations in {args.seconds:g} s, a fault every "
            f"~{args.fault_every:g} s (terminating {args.terminate} backends)"
        )
        faults = Faults(
            master_pid=served.master_pid,
            admin_url=args.admin_url,
            database=args.database,
            every=args.fault_every,
            seed=args.seed,
            idle_only=args.terminate == "idle",
        )
        planner = storm.Planner(
            seeded.cards,
            run=run,
            operations=args.operations,
            seconds=args.seconds,
            seed=args.seed,
        )
        client = storm.Client(served.port, seeded.secret)
        started = time.monotonic()
        faults.start()
        try:
            operations = storm.storm(
                planner, client, threads=args.clients, retries=args.retries, seed=args.seed
            )
        finally:
            faults.stop()
        say(f"storm over in {time.monotonic() - started:.1f} s")
    return operations, faults


def print_report(verdict, faults, access_log: Path, server_log: Path) -> None:
    say()
    say("Figures:")
    for name, value in verdict.figures.items():
        say(f"  {name:<42} {value}")
    say("Status histogram (every request sent):")
    say("  " + ", ".join(f"{status}: {n}" for status, n in sorted(verdict.histogram.items())))
    say("Operations by outcome:")
    for outcome, n in sorted(verdict.outcomes.items()):
        say(f"  {outcome:<60} {n}")
    if faults.errors:
        say(f"Fault injection errors: {len(faults.errors)} (first: {faults.errors[0]})")
    say("Checks:")
    for check in verdict.checks:
        say(f"  {'PASS' if check.passed else 'FAIL'}  {check.name}")
        for problem in check.problems[:10]:
            say(f"        {problem}")
        if len(check.problems) > 10:
            say(f"        ... and {len(check.problems) - 10} more")
    say(f"Logs: access {access_log}, server {server_log}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = f"{int(time.time())}-{args.seed}"
    env = environment(args, run)
    # `kill` (a CI timeout) unwinds like Ctrl-C, so gunicorn is still stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    logs = args.logs or Path(tempfile.mkdtemp(prefix="giftcards-chaos-"))
    logs.mkdir(parents=True, exist_ok=True)
    access_log, server_log = logs / "access.log", logs / "server.log"
    stack.redis_check(args.redis_url)
    stack.database_recreate(args.admin_url, args.database)

    import django

    django.setup()
    # Models can only be imported once Django is set up.
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from benchmarks.chaos import seed, verdict

    call_command("migrate", verbosity=0)
    seeded = seed.seed(cards=args.cards, run=run)
    say(f"source {stack.source_version()}; seed {args.seed}")
    health_checks = settings.DATABASES["default"].get("CONN_HEALTH_CHECKS", False)
    say(
        f"database {args.database}: migrated, {len(seeded.cards)} cards seeded "
        f"(CONN_HEALTH_CHECKS {health_checks})"
    )
    connections.close_all()  # its backend would be terminated with the server's
    try:
        operations, faults = run_storm(args, env, seeded, run, access_log, server_log)
        found = verdict.judge(
            operations=operations,
            business_id=seeded.business_id,
            cards=seeded.cards,
            faults=faults,
            access_log=access_log,
            server_log=server_log,
        )
        print_report(found, faults, access_log, server_log)
    finally:
        connections.close_all()
        if args.drop:
            with psycopg.connect(args.admin_url, autocommit=True, connect_timeout=5) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    verdict_line = "all checks passed" if found.passed else "SOME CHECKS FAILED"
    say(f"Done in {time.monotonic() - started:.0f} s: {verdict_line}")
    return 0 if found.passed else 1


if __name__ == "__main__":
    sys.exit(main())

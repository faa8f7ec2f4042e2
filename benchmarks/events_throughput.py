"""Webhook delivery throughput: events a second that real Celery workers deliver, against a
plain loop posting the same signed bodies straight to the same receiver.

    .venv/bin/python -m benchmarks.events_throughput --admin-url \\
        postgres://postgres@127.0.0.1:5432/postgres          # [--help]

A fresh PostgreSQL database (`giftcards_bench_events`, dropped and re-created; left for
inspection, or dropped with --drop) is migrated and given one business, its cards and one
webhook (gift_cards.balance_change) calling a receiver on 127.0.0.1 in this process. K
workers (prefork, --concurrency processes each; DEBUG off) and beat serve a queue of the
run's own on Redis, under broker keys of its own that the run deletes at the end.

Each round makes N debits through the services from a few threads of this process (each
commit kicks the workers, as a server's does), on cards of the round's own (so payloads are
alike from round to round), and waits for the N calls: events a second from the first
event's creation to the last call's receipt (bounded by how fast the debits are made beside
the workers), and each event's latency from its creation to its receipt (behind the round's
queue). Then a backlog: N more debits while the webhook's circuit is open (their deliveries
wait), and the events a second from `_reset_circuit` to the last receipt: what the workers
deliver when nothing else runs, the figure set against the baseline. Interleaved with
them, the baseline posts the round's bodies again, signed as the workers sign them, from as
many processes as the workers have, each a plain loop with one connection per call (as the
workers make them). Last, the latency
of an event alone: --lone debits made one at a time, each awaited. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import celery_stack, stack  # noqa: E402

CARDS_PER_ROUND = 100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="giftcards_bench_events", help="re-created")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--events", type=int, default=2000, help="events per round")
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork processes each")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--movers", type=int, default=4, help="threads making the debits")
    parser.add_argument("--lone", type=int, default=20, help="events made one at a time")
    parser.add_argument("--conn-max-age", type=int, default=60, help="DATABASE_CONN_MAX_AGE")
    parser.add_argument("--logs", type=Path, default=None, help="directory for worker logs")
    return parser.parse_args()


# ---------------------------------------------------------------------------- the baseline


def post_signed(port: int, secret: str, calls: list[tuple[str, str, bytes]]) -> list[float]:
    """A plain loop (in a process of its own): each body signed now and POSTed on a new
    connection, as the workers do. Returns each call's seconds."""
    from giftcards.events import signing

    seconds = []
    for message_id, topic, body in calls:
        started = time.perf_counter()
        headers = signing.headers(
            secret=secret, topic=topic, message_id=message_id, timestamp=int(time.time()), body=body
        )
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("POST", "/baseline", body, headers)
            response = connection.getresponse()
            response.read()
            if not 200 <= response.status < 300:
                raise RuntimeError(f"the receiver answered {response.status}")
        finally:
            connection.close()
        seconds.append(time.perf_counter() - started)
    return seconds


def baseline(pool, senders: int, port: int, secret: str, calls: list) -> tuple[float, list]:
    """(posts a second, each call's seconds) over `senders` processes."""
    shares = [calls[n::senders] for n in range(senders)]
    started = time.perf_counter()
    results = list(pool.map(post_signed, [port] * senders, [secret] * senders, shares))
    wall = time.perf_counter() - started
    return len(calls) / wall, [second for share in results for second in share]


# ---------------------------------------------------------------------------- the workers


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def debit_all(cards: list, count: int, movers: int, actor) -> float:
    """`count` debits of one cent spread over `cards`, from `movers` threads; their seconds."""
    from django.db import connection

    from giftcards import services

    def mover(offset: int) -> None:
        try:
            for n in range(offset, count, movers):
                services.card_debit(card=cards[n % len(cards)], amount_cents=1, actor=actor)
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(movers) as pool:
        list(pool.map(mover, range(movers)))
    return time.perf_counter() - started


def delivered_round(receiver, cards: list, count: int, movers: int, actor, seconds: float):
    """One round through the workers: (events a second, latencies in s, moves' seconds,
    the calls received as (id, topic, body))."""
    from django.db.models import Max

    from giftcards.models import OutboxEvent

    before = OutboxEvent.objects.aggregate(last=Max("id"))["last"] or 0
    receiver.received.clear()  # the workers are idle between rounds
    moving = debit_all(cards, count, movers, actor)
    created = {
        public_id: at.timestamp()
        for public_id, at in OutboxEvent.objects.filter(pk__gt=before).values_list(
            "public_id", "created_at"
        )
    }
    deadline = time.monotonic() + seconds
    while True:
        first: dict[str, object] = {}
        for call in receiver.calls():
            first.setdefault(call.headers["webhook-id"], call)
        if len(first.keys() & created.keys()) == count:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(first)} of {count} events delivered in {seconds:.0f} s")
        time.sleep(0.05)
    latencies = [first[public_id].at - at for public_id, at in created.items()]
    span = max(call.at for call in first.values()) - min(created.values())
    calls = [
        (public_id, call.headers["X-CommerceLayer-Topic"], call.body)
        for public_id, call in first.items()
    ]
    return count / span, latencies, moving, calls


def backlog_round(receiver, cards: list, count: int, movers: int, actor, hook, seconds: float):
    """A backlog drained: the webhook's circuit is open (its receiver was failing) while
    `count` debits are made, so their deliveries wait; then the circuit is reset and every
    one is due at once. Returns (events a second from the reset to the last receipt, the
    calls received as (id, topic, body))."""
    from giftcards.events import webhooks
    from giftcards.models import CircuitState, Delivery, OutboxEvent, Webhook

    Webhook.objects.filter(pk=hook.pk).update(circuit_state=CircuitState.OPEN)
    before = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    receiver.received.clear()
    debit_all(cards, count, movers, actor)
    made = set(OutboxEvent.objects.filter(pk__gt=before).values_list("public_id", flat=True))
    deadline = time.monotonic() + seconds
    while Delivery.objects.filter(event__pk__gt=before).count() < count:  # fanned out, held
        if time.monotonic() > deadline:
            raise RuntimeError("the backlog's events were not fanned out")
        time.sleep(0.05)
    started = time.time()
    webhooks.webhook_reset_circuit(webhook=hook, actor=actor)
    while True:
        first: dict[str, object] = {}
        for call in receiver.calls():
            first.setdefault(call.headers["webhook-id"], call)
        if len(first.keys() & made) == count:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(first)} of {count} waiting events delivered")
        time.sleep(0.05)
    span = max(call.at for call in first.values()) - started
    calls = [
        (public_id, call.headers["X-CommerceLayer-Topic"], call.body)
        for public_id, call in first.items()
    ]
    return count / span, calls


def lone_latencies(receiver, cards: list, count: int, actor) -> list[float]:
    """Events made one at a time, each awaited: creation to receipt with no queue ahead."""
    from giftcards import services
    from giftcards.models import OutboxEvent

    latencies = []
    for n in range(count):
        services.card_debit(card=cards[n % len(cards)], amount_cents=1, actor=actor)
        event = OutboxEvent.objects.order_by("-id").values_list("public_id", "created_at")[0]
        deadline = time.monotonic() + 30
        while not (got := [c for c in receiver.calls() if c.headers["webhook-id"] == event[0]]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"event {event[0]} not delivered in 30 s")
            time.sleep(0.005)
        latencies.append(got[0].at - event[1].timestamp())
    return latencies


def setup(args: argparse.Namespace, receiver_url: str):
    """Migrate; one business, its cards (issued before the webhook: their events go to no
    one), the webhook. Returns (actor, (live, backlog) cards per round, warm-up cards, the
    webhook)."""
    import django

    django.setup()
    from django.core.management import call_command

    from clients.services import business_create
    from clients.tenancy import Actor, Mode, Tenant
    from giftcards import services
    from giftcards.events import topics, webhooks, work
    from giftcards.models import Status

    call_command("migrate", verbosity=0)
    business = business_create(name="Webhook Books", currency_code="USD")
    tenant = Tenant(business=business, mode=Mode.LIVE)
    actor = Actor.system("bench")
    issue = dict(tenant=tenant, actor=actor, balance_cents=10**8, status=Status.ACTIVE)
    rounds = [
        tuple([services.card_issue(**issue) for _ in range(CARDS_PER_ROUND)] for _ in range(2))
        for _ in range(args.rounds)
    ]
    warm_up = [services.card_issue(**issue) for _ in range(10)]
    work.fan_out(lambda kind, ids, token: None)  # no webhook yet: nothing to deliver
    hook = webhooks.webhook_create(
        tenant=tenant, actor=actor, topic=topics.CARD_BALANCE_CHANGE, callback_url=receiver_url
    )
    return actor, rounds, warm_up, hook


def main() -> int:
    args = parse_args()
    stack.redis_check(args.redis_url)
    stack.database_recreate(args.admin_url, args.database)
    queue, prefix = celery_stack.run_names("bench-events")
    env = stack.environment(
        args.admin_url,
        args.database,
        conn_max_age=args.conn_max_age,
        log_level="WARNING",
        WEBHOOK_ALLOW_LOOPBACK_HTTP="1",
    )
    env = celery_stack.environment(
        database_url=env["DATABASE_URL"],
        broker_url=args.redis_url,
        queue=queue,
        prefix=prefix,
        base=env,
        LOG_LEVEL="INFO",  # the workers' "ready." line (production logs at INFO too)
    )
    os.environ.update(CELERY_BROKER_URL=args.redis_url, CELERY_QUEUE=queue)
    from tests.giftcards.events.receiver import Receiver

    receiver = Receiver().start()
    logs = args.logs or Path(tempfile.mkdtemp(prefix="bench-events-"))
    logs.mkdir(parents=True, exist_ok=True)
    senders = args.workers * args.concurrency
    cluster = celery_stack.Cluster(env, logs)
    spawn = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(senders, mp_context=spawn)
    try:
        celery_stack.isolate_keys(prefix)  # this process's kicks: under the run's keys too
        actor, rounds, warm_up, hook = setup(args, receiver.url)
        secret = hook.shared_secret
        for n in range(args.workers):
            cluster.worker(f"worker-{n + 1}", concurrency=args.concurrency)
        cluster.beat()
        cluster.wait_ready(seconds=60)
        list(pool.map(int, range(senders)))  # the senders started before any timing
        print(
            f"{args.workers} workers x {args.concurrency} prefork processes, beat; PostgreSQL "
            f"{args.database} (DATABASE_CONN_MAX_AGE={args.conn_max_age}), Redis "
            f"{args.redis_url} queue {queue}; {args.events} events a round to one webhook "
            f"on 127.0.0.1; baseline: {senders} processes posting the same bodies; "
            f"source {stack.source_version()}; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs",
            flush=True,
        )
        delivered_round(receiver, warm_up, 100, args.movers, actor, seconds=120)
        rates, drains, baselines, latencies = [], [], [], []
        for n, (cards, backlog_cards) in enumerate(rounds, start=1):
            rate, waited, moving, calls = delivered_round(
                receiver, cards, args.events, args.movers, actor, seconds=600
            )
            raw, call_seconds = baseline(pool, senders, receiver.port, secret, calls)
            drain, _calls = backlog_round(
                receiver, backlog_cards, args.events, args.movers, actor, hook, seconds=600
            )
            rates.append(rate)
            drains.append(drain)
            baselines.append(raw)
            latencies.extend(waited)
            print(
                f"round {n}: live {rate:6.0f} events/s (debits made in {moving:.1f} s), "
                f"latency p50 {statistics.median(waited) * 1000:6.0f} ms, "
                f"p95 {percentile(waited, 0.95) * 1000:6.0f} ms | backlog drained at "
                f"{drain:6.0f} events/s | plain loop {raw:6.0f} posts/s, a call p50 "
                f"{statistics.median(call_seconds) * 1000:.1f} ms",
                flush=True,
            )
        lone = lone_latencies(receiver, warm_up, args.lone, actor)
        rate, drain = statistics.median(rates), statistics.median(drains)
        raw = statistics.median(baselines)
        print(
            f"median of {args.rounds} rounds: the workers drain a backlog at {drain:.0f} "
            f"events/s against {raw:.0f} signed posts/s by a plain loop: {drain / raw:.2f}x "
            f"raw HTTP; while the events are made (4 threads debiting beside them), "
            f"{rate:.0f} events/s, latency from an event's creation to its receipt p50 "
            f"{statistics.median(latencies) * 1000:.0f} ms, p95 "
            f"{percentile(latencies, 0.95) * 1000:.0f} ms (behind the round's queue); an event "
            f"alone p50 {statistics.median(lone) * 1000:.0f} ms, p95 "
            f"{percentile(lone, 0.95) * 1000:.0f} ms; load average "
            f"{os.getloadavg()[0]:.1f} (worker logs: {logs})"
        )
    finally:
        cluster.stop()
        pool.shutdown()
        receiver.stop()
        celery_stack.forget_keys(args.redis_url, prefix)
        if args.drop:
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect(args.admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())

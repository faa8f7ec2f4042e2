"""Events with real workers (issue 11): on PostgreSQL and Redis, two Celery worker processes and
beat deliver the balance changes of 1,000 money moves to a receiver on 127.0.0.1, each at
least once and none lost, although one worker is killed with `kill -9` half-way; a move
that is rolled back sends nothing. An import (issue 13) run by a worker that is killed
mid-run is resumed by another at its last committed chunk: every row imported once.

The test process makes the moves through the services, from several threads, and its
commits kick the workers on the run's own queue as a server's would. Beat sweeps every half
second and the leases last seconds, so what the killed worker held (messages it had taken,
a call it was making) is queued again by a sweep and delivered by the survivor.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote

import kombu
import pytest
import redis
import standardwebhooks
from django.db import connection, transaction
from django.db.models import Max

from benchmarks import celery_stack
from clients.tenancy import Actor
from giftcards import codes, selectors, services
from giftcards.events import tasks, topics, webhooks
from giftcards.imports import jobs as import_jobs
from giftcards.models import (
    BalanceLog,
    Delivery,
    GiftCard,
    Import,
    JobStatus,
    OutboxEvent,
    Status,
)
from tests.giftcards.events.receiver import Receiver

REDIS_URL = os.environ.get("WORKERS_REDIS_URL", "redis://127.0.0.1:6379/11")
MOVES = 1_000
CARDS = 10
MOVERS = 4  # threads of the test process making the moves
MOVE_RATE = 100  # moves a second at most: worker A is killed half-way through them
WORKER_SETTINGS = {
    "EVENTS_SWEEP_SECONDS": "0.5",
    "EVENTS_QUEUE_LEASE_SECONDS": "5",
    "EVENTS_WORK_LEASE_SECONDS": "4",  # longer than a call can last
    "DATABASE_CONN_MAX_AGE": "60",
    "WEBHOOK_TIMEOUT": "2",
    "WEBHOOK_CONNECT_TIMEOUT": "1",
    "WEBHOOK_ALLOW_LOOPBACK_HTTP": "1",
    # Imports: swept every half second, a dead run's lease gone after 3 s.
    "IMPORTS_SWEEP_SECONDS": "0.5",
    "IMPORTS_LEASE_SECONDS": "3",
}
IMPORT_ROWS = 3_000
ROLLED_BACK = "ROLLED-BACK-MOVE"

DELIVER = r"Task giftcards\.events\.tasks\.deliver\[([\w-]+)\]"
RECEIVED = re.compile(DELIVER + " received")
FINISHED = re.compile(DELIVER + " (?:succeeded|raised|failed)")


@dataclass(frozen=True)
class Broker:
    url: str
    queue: str
    prefix: str


@pytest.fixture
def broker() -> Iterator[Broker]:
    """The run's queue and keys on Redis (skipped without it, a failure when CI is set)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"the worker test needs Redis at {REDIS_URL} (WORKERS_REDIS_URL): {exc}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    finally:
        client.close()
    queue, prefix = celery_stack.run_names("workers-test")
    yield Broker(REDIS_URL, queue, prefix)
    celery_stack.forget_keys(REDIS_URL, prefix)


def _database_url() -> str:
    """The test database, as the workers reach it."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    return (
        f"postgres://{quote(db['USER'] or 'postgres')}{password}@{host}:{db['PORT'] or 5432}"
        f"/{quote(db['NAME'])}"
    )


@pytest.fixture
def cluster(broker, transactional_db, settings, tmp_path) -> Iterator[celery_stack.Cluster]:
    """Workers and beat on the test database and the run's queue, stopped at the end whatever
    happened (before the database is flushed). Production refuses debug mode's public code
    key: this test's codes are written under a random one, which the workers share."""
    settings.GIFTCARD_CODE_KEY = secrets.token_urlsafe(40)
    env = celery_stack.environment(
        database_url=_database_url(),
        broker_url=broker.url,
        queue=broker.queue,
        prefix=broker.prefix,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(40),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        GIFTCARD_CODE_KEY=settings.GIFTCARD_CODE_KEY,
        GIFTCARD_CODE_OLD_KEYS=",".join(settings.GIFTCARD_CODE_OLD_KEYS),
        LOG_LEVEL="INFO",
        **WORKER_SETTINGS,
    )
    running = celery_stack.Cluster(env, tmp_path)
    yield running
    running.stop()


@pytest.fixture
def kicks_reach_the_workers(monkeypatch, broker):
    """Commits in this process kick the workers on the run's queue, as a server's do (the
    suite's own broker is in memory)."""
    send = tasks.dispatch.apply_async
    options = {"global_keyprefix": broker.prefix}

    def apply_async(**kwargs):
        with kombu.Connection(broker.url, transport_options=options) as to_workers:
            return send(connection=to_workers, queue=broker.queue, **kwargs)

    monkeypatch.setattr(tasks.dispatch, "apply_async", apply_async)
    yield


@contextlib.contextmanager
def logs_on_failure(cluster: celery_stack.Cluster) -> Iterator[None]:
    try:
        yield
    except BaseException:
        print(f"\n{cluster.tails(120)}", flush=True)
        raise


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Not within {seconds:.0f} s: {what}")
        time.sleep(0.05)


def complete_calls(receiver: Receiver) -> list:
    """The calls whose whole body arrived (a worker killed while sending leaves less)."""
    return [
        call for call in receiver.calls() if len(call.body) == int(call.headers["Content-Length"])
    ]


def unfinished_deliveries(log: str) -> set[str]:
    """Delivery tasks a worker had taken and not finished, by its log."""
    return set(RECEIVED.findall(log)) - set(FINISHED.findall(log))


class Boom(Exception):
    pass


def make_moves(cards: list[GiftCard], numbers: range, actor: Actor, done: list[int]) -> None:
    """Debits and recharges of a few dollars, on one database connection of this thread's,
    MOVE_RATE a second between all threads at most."""
    started, every = time.monotonic(), MOVERS / MOVE_RATE
    try:
        for k, n in enumerate(numbers):
            time.sleep(max(0.0, started + k * every - time.monotonic()))
            card, cents = cards[n % len(cards)], 100 + n % 97
            if n % 2:
                services.card_recharge(card=card, amount_cents=cents, actor=actor)
            else:
                services.card_debit(card=card, amount_cents=cents, actor=actor)
            done.append(n)
    finally:
        connection.close()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_every_move_is_delivered_while_a_worker_is_killed_and_none_rolled_back(
    cluster, receiver, kicks_reach_the_workers, tenant, actor, settings
):
    started = time.monotonic()
    worker_a = cluster.worker("worker-a", concurrency=2)
    worker_b = cluster.worker("worker-b", concurrency=2)
    beat = cluster.beat()
    with logs_on_failure(cluster):
        cluster.wait_ready(seconds=60)
        issue = dict(tenant=tenant, actor=actor, balance_cents=1_000_000, status=Status.ACTIVE)
        cards = [services.card_issue(**issue) for _ in range(CARDS)]
        # Their issues are balance changes too: fanned out before the webhook exists, to none.
        wait_until(
            lambda: not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists(),
            30,
            "the cards' events fanned out by the workers",
        )
        before = OutboxEvent.objects.aggregate(last=Max("id"))["last"]
        settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
        hook = webhooks.webhook_create(
            tenant=tenant, actor=actor, topic=topics.CARD_BALANCE_CHANGE, callback_url=receiver.url
        )

        done: list[int] = []
        with ThreadPoolExecutor(MOVERS) as pool:
            movers = [
                pool.submit(make_moves, cards, range(n, MOVES, MOVERS), actor, done)
                for n in range(MOVERS)
            ]
            with pytest.raises(Boom), transaction.atomic():
                services.card_debit(
                    card=cards[0], amount_cents=500, actor=actor, order_reference=ROLLED_BACK
                )
                raise Boom
            # Half-way through the moves, with deliveries in hand, worker A dies.
            wait_until(
                lambda: len(done) >= MOVES // 2 and unfinished_deliveries(worker_a.log()),
                60,
                "half the moves made, worker A working",
            )
            received_at_kill = len(
                {call.headers["webhook-id"] for call in complete_calls(receiver)}
            )
            in_hand = len(unfinished_deliveries(worker_a.log()))
            moves_at_kill = len(done)
            killed = worker_a.kill()
            killed_at = time.monotonic()
            for mover in movers:
                mover.result()

        deliveries = Delivery.objects.filter(webhook=hook)
        wait_until(
            lambda: (
                deliveries.count() == MOVES
                and not deliveries.exclude(state=Delivery.State.DELIVERED).exists()
            ),
            180,
            f"{MOVES} deliveries delivered",
        )
        seconds = time.monotonic() - started
        recovered = time.monotonic() - killed_at

        moved = OutboxEvent.objects.filter(pk__gt=before)
        expected = set(moved.values_list("public_id", flat=True))
        calls = complete_calls(receiver)
        received = {call.headers["webhook-id"] for call in calls}
        secret = hook.shared_secret
        verified = 0
        for call in calls:
            payload = standardwebhooks.Webhook(secret).verify(call.body, call.headers)
            verified += payload["meta"]["event"]["id"] == call.headers["webhook-id"]
        figures = (
            f"{MOVES} moves, {deliveries.count()} deliveries, {len(received)} unique event ids "
            f"received, {len(calls) - len(received)} duplicates, "
            f"{len(receiver.received) - len(calls)} calls cut off; worker A ({killed} "
            f"processes) killed after {moves_at_kill} moves and {received_at_kill} events "
            f"received, with {in_hand} deliveries in hand; everything delivered "
            f"{recovered:.1f} s later; {seconds:.1f} s in all"
        )
        print(f"\n{figures}", flush=True)

        assert set(moved.values_list("name", flat=True)) == {topics.CARD_BALANCE_CHANGE}, figures
        assert len(expected) == MOVES, figures  # and not one more: the rolled-back move
        assert received == expected, f"lost {len(expected - received)}: {figures}"
        assert verified == len(calls), figures
        assert set(deliveries.values_list("event__public_id", flat=True)) == expected
        assert Delivery.objects.count() == MOVES
        assert killed == 3  # the worker and its two pool processes
        assert worker_b.popen.poll() is None
        assert beat.popen.poll() is None

        assert not BalanceLog.objects.filter(order_reference=ROLLED_BACK).exists()
        assert not any(ROLLED_BACK.encode() in call.body for call in receiver.received)
        assert not selectors.cards_out_of_balance().exists()
        for process in (worker_b, beat):
            log = process.log()
            assert "Traceback" not in log and " ERROR " not in log, process.name
            assert "tests stay on loopback" not in log and "stub resolver" not in log


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_import_whose_worker_is_killed_is_finished_by_another_once(cluster, tenant, actor):
    rng = random.Random(13)
    rows = [
        {"code": codes.generate(rng), "initial_balance_cents": 1_500, "balance_cents": 1_000}
        for _ in range(IMPORT_ROWS)
    ]
    worker_a = cluster.worker("worker-a", concurrency=1)
    cluster.beat()
    with logs_on_failure(cluster):
        cluster.wait_ready(seconds=60)
        job = import_jobs.start(tenant=tenant, actor=actor, resource_type="gift_cards", inputs=rows)

        def progress() -> int:
            return Import.objects.get(pk=job.pk).processed_count

        # A chunk or two committed, then worker A dies, most likely inside the next one.
        wait_until(lambda: progress() >= 2 * import_jobs.CHUNK, 60, "worker A importing")
        killed = worker_a.kill()
        at_kill = progress()
        worker_b = cluster.worker("worker-b", concurrency=1)
        wait_until(worker_b.ready, 60, "worker B ready")
        wait_until(
            lambda: Import.objects.get(pk=job.pk).status == JobStatus.COMPLETED,
            120,
            "the import completed by worker B",
        )

    job.refresh_from_db()
    print(
        f"\n{IMPORT_ROWS} rows; worker A ({killed} processes) killed after {at_kill} rows; "
        f"{job.attempts} runs in all",
        flush=True,
    )
    assert at_kill < IMPORT_ROWS, "worker A finished before it was killed: nothing was shown"
    assert (job.processed_count, job.created_count, job.errors_count) == (IMPORT_ROWS,) * 2 + (0,)
    assert job.attempts >= 2
    imported = GiftCard.objects.filter(business=tenant.business)
    assert imported.count() == IMPORT_ROWS
    assert len(set(imported.values_list("code_hash", flat=True))) == IMPORT_ROWS
    assert BalanceLog.objects.filter(card__in=imported).count() == 2 * IMPORT_ROWS
    assert not selectors.cards_out_of_balance().exists()

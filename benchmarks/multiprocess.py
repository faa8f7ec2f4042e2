"""Two app servers and a Celery worker on one PostgreSQL and one Redis behave as one server:
nothing that matters is kept per process.

    make multiprocess          # or: .venv/bin/python -m benchmarks.multiprocess [--short] [--help]

A fresh PostgreSQL database (`giftcards_multiproc`, dropped and re-created) is migrated and
seeded through the services: a business, two API keys, cards, a staff superuser, and a webhook
(gift_cards.balance_change) calling a receiver on 127.0.0.1 in this process. Two gunicorns
(gunicorn.conf.py, DEBUG off, pooled connections, Redis as cache and broker under a database
number and queue of the run's own), A and B on two ports, serve it; one Celery worker and beat
work off the events. Then a bounded load, every part spread over both servers:

- debits through both APIs (plain POST /payments, JSON:API PATCH), alternating servers, and
  lookups by id: every 2xx has its ledger row, every card reconciles;
- idempotency: the same Idempotency-Key sent to A and B at the same moment: one money move,
  the other answer a replay or a 409 (in progress); then a retry on the other server replays;
- the code-lookup throttle: a fresh key's lookups alternate between A and B: exactly the
  limit passes (the count lives in Redis, not in each process);
- admin sessions: signed in on A, the session cookie works on B; signed out on B, A refuses it;
- events: every balance change's webhook call arrives once, whichever server made it.

Prints a table of figures and exits 1 on any violation. --short: the test suite's size.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import re
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import celery_stack, stack  # noqa: E402

JSONAPI = "application/vnd.api+json"
STAFF_PASSWORD = "multi-" + secrets.token_urlsafe(12)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="giftcards_multiproc", help="re-created by the run")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9", help="cache, broker")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--clients", type=int, default=6, help="concurrent client threads")
    parser.add_argument("--debits", type=int, default=400)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--races", type=int, default=40, help="keys sent to A and B at once")
    parser.add_argument("--limit", type=int, default=30, help="code lookups an hour per key")
    parser.add_argument("--sessions", type=int, default=4, help="admin sign-ins")
    parser.add_argument("--cards", type=int, default=20)
    parser.add_argument("--events-seconds", type=float, default=60, help="wait for deliveries")
    parser.add_argument("--logs", type=Path, default=None, help="directory for the server logs")
    parser.add_argument("--short", action="store_true", help="a small load (the suite's run)")
    parser.add_argument(
        "--per-process-cache",
        action="store_true",
        help="the servers without REDIS_URL (a cache per process): shows the throttle check fail",
    )
    args = parser.parse_args(argv)
    if args.short:
        args.debits, args.lookups, args.races, args.limit, args.sessions = 60, 40, 10, 10, 2
        args.cards, args.clients, args.events_seconds = 8, 4, 45
    return args


def say(text: str = "") -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------- HTTP


@dataclass
class Answer:
    status: int | None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def json(self):
        return json.loads(self.body)


def call(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
) -> Answer:
    """One request on a connection of its own to 127.0.0.1:`port`."""
    headers = dict(headers or {})
    headers.setdefault("Host", "127.0.0.1")
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        answer = Answer(response.status, response.read(), dict(response.getheaders()))
        jar = SimpleCookie()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                jar.load(value)
        answer.cookies = {name: morsel.value for name, morsel in jar.items()}
        return answer
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, error=type(exc).__name__)
    finally:
        connection.close()


class Api:
    """Both APIs with one API key."""

    def __init__(self, secret: str):
        self.secret = secret

    def _headers(self, media_type: str, key: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.secret}", "Accept": media_type}
        headers["Content-Type"] = media_type
        if key:
            headers["Idempotency-Key"] = key
        return headers

    def plain_debit(self, port, card_id: str, cents: int, tag: str, key: str | None = None):
        body = {"giftCardUUId": card_id, "amount": f"{cents // 100}.{cents % 100:02d}"}
        body["comment"] = tag
        headers = self._headers("application/json", key)
        return call(port, "POST", "/payments", body=json.dumps(body).encode(), headers=headers)

    def jsonapi_debit(self, port, card_id: str, cents: int, tag: str, key: str | None = None):
        attributes = {"_balance_change_cents": -cents, "_order_reference": tag}
        document = {"data": {"type": "gift_cards", "id": card_id, "attributes": attributes}}
        return call(
            port,
            "PATCH",
            f"/api/gift_cards/{card_id}",
            body=json.dumps(document).encode(),
            headers=self._headers(JSONAPI, key),
        )

    def plain_lookup(self, port, card_id: str) -> Answer:
        return call(
            port, "GET", f"/giftcards/{card_id}", headers=self._headers("application/json", None)
        )

    def jsonapi_lookup(self, port, card_id: str) -> Answer:
        return call(port, "GET", f"/api/gift_cards/{card_id}", headers=self._headers(JSONAPI, None))

    def code_lookup(self, port, code: str) -> Answer:
        path = f"/api/gift_cards?filter[code]={code}"
        return call(port, "GET", path, headers=self._headers(JSONAPI, None))


# ---------------------------------------------------------------------------- the stack


@dataclass
class Seeded:
    business_id: int
    secret: str
    throttle_secret: str
    cards: list[tuple[str, str]]  # (id, code)
    staff: str
    webhook_id: int


def environment(args: argparse.Namespace, run: str) -> dict[str, str]:
    """Settings for this process (seeding, checking), the servers and the worker."""
    env = stack.environment(
        args.admin_url,
        args.database,
        conn_max_age=60,
        redis_url=args.redis_url,
        cache_key_prefix=f"multiproc-{run}",
        API_RATE="1000000/min",
        CODE_LOOKUP_RATE=f"{args.limit}/hour",
        # The webhook's receiver is this process, on the loopback.
        WEBHOOK_ALLOW_LOOPBACK_HTTP="1",
        EVENTS_SWEEP_SECONDS="1",
        EVENTS_QUEUE_LEASE_SECONDS="10",
        EVENTS_WORK_LEASE_SECONDS="20",
        WEBHOOK_TIMEOUT="5",
        WEBHOOK_RETRY_BASE_SECONDS="1",
        # Kicks from both servers reach the run's worker on a queue of the run's own.
        CELERY_QUEUE=f"giftcards-multiproc-{run}",
        DJANGO_SECURE_COOKIES="0",
    )
    return env


def seed(args: argparse.Namespace, run: str, receiver_url: str) -> Seeded:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from clients.services import api_key_create, business_create
    from clients.tenancy import Actor, Mode, Tenant
    from giftcards import services
    from giftcards.events import topics, webhooks
    from giftcards.models import Status

    call_command("migrate", verbosity=0)
    # As a deploy does: the admin's pages name their static files from the manifest.
    call_command("collectstatic", "--noinput", verbosity=0)
    actor = Actor.system("multiproc-seed")
    business = business_create(name=f"Multi {run}", currency_code="USD", locale="en_US")
    tenant = Tenant(business=business, mode=Mode.LIVE)
    _key, secret = api_key_create(business=business, name=f"multi-{run}", mode=Mode.LIVE)
    _key, throttle_secret = api_key_create(business=business, name="lookups", mode=Mode.LIVE)
    cards = []
    for i in range(args.cards):
        card = services.card_issue(
            tenant=tenant,
            actor=actor,
            balance_cents=1_000_000,
            status=Status.ACTIVE,
            reference=f"multi-{i}",
        )
        cards.append((card.pk, card.code))
    staff = f"staff-{run}"
    get_user_model().objects.create_superuser(
        username=staff, email=f"{staff}@example.com", password=STAFF_PASSWORD
    )
    hook = webhooks.webhook_create(
        tenant=tenant, actor=actor, topic=topics.CARD_BALANCE_CHANGE, callback_url=receiver_url
    )
    return Seeded(business.pk, secret, throttle_secret, cards, staff, hook.pk)


@contextlib.contextmanager
def servers(env: dict[str, str], args: argparse.Namespace, logs: Path):
    """Gunicorn A and B, each with gunicorn.conf.py on a port of its own, for the block."""
    command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
    # Two masters on one machine: no shared control socket.
    command.append("--no-control-socket")
    with contextlib.ExitStack() as running:
        ports = []
        for name in ("a", "b"):
            port = stack.free_port()
            served = {
                **env,
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "GUNICORN_WORKERS": str(args.workers),
                "GUNICORN_THREADS": str(args.threads),
                "GUNICORN_ACCESS_LOG": str(logs / f"access-{name}.log"),
                "GUNICORN_GRACEFUL_TIMEOUT": "10",
            }
            if args.per_process_cache:
                del served["REDIS_URL"]
            log = logs / f"server-{name}.log"
            running.enter_context(
                stack.gunicorn(command, port=port, env=served, log_path=log, cwd=ROOT, sweep=True)
            )
            ports.append(port)
        yield ports


@contextlib.contextmanager
def worker(env: dict[str, str], logs: Path):
    """One Celery worker and beat on the run's queue."""
    cluster = celery_stack.Cluster(dict(env), logs)
    try:
        cluster.worker("worker", concurrency=2)
        cluster.beat()
        cluster.wait_ready(90)
        yield cluster
    finally:
        cluster.stop()


# ---------------------------------------------------------------------------- the checks


@dataclass
class Row:
    part: str
    sent: int
    via_a: int
    via_b: int
    outcome: str
    problems: list[str] = field(default_factory=list)


def _statuses(answers: list[Answer]) -> str:
    counted = Counter(str(answer.status or answer.error) for answer in answers)
    return " ".join(f"{status}x{n}" for status, n in sorted(counted.items()))


def debits_and_lookups(args, seeded: Seeded, ports: list[int], run: str) -> Row:
    """Debits through both APIs and lookups by id, alternating servers; every 2xx debit has
    its ledger row and nothing else moved."""
    from django.db.models import Q

    from giftcards.models import BalanceLog

    api = Api(seeded.secret)
    cards = [card_id for card_id, _code in seeded.cards]

    def debit(n: int) -> tuple[int, Answer]:
        port, card_id, tag = ports[n % 2], cards[n % len(cards)], f"load-{run}-{n}"
        key = f"load-{run}-{n}"
        if (n // 2) % 2:
            return port, api.jsonapi_debit(port, card_id, 100 + n, tag, key)
        return port, api.plain_debit(port, card_id, 100 + n, tag, key)

    def lookup(n: int) -> tuple[int, Answer]:
        port, card_id = ports[n % 2], cards[n % len(cards)]
        if (n // 2) % 2:
            return port, api.jsonapi_lookup(port, card_id)
        return port, api.plain_lookup(port, card_id)

    with ThreadPoolExecutor(args.clients) as pool:
        moved = list(pool.map(debit, range(args.debits)))
        looked = list(pool.map(lookup, range(args.lookups)))
    answers = [answer for _port, answer in moved + looked]
    problems = []
    ok = [n for n, (_port, answer) in enumerate(moved) if answer.status in (200, 201)]
    if len(ok) != args.debits:
        problems.append(f"debits answered {_statuses([a for _p, a in moved])}")
    if any(answer.status != 200 for _port, answer in looked):
        problems.append(f"lookups answered {_statuses([a for _p, a in looked])}")
    prefix = f"load-{run}-"
    rows = BalanceLog.objects.filter(
        Q(note__startswith=prefix) | Q(order_reference__startswith=prefix), kind="debit"
    )
    made = Counter(rows.values_list("amount_cents", flat=True))
    wanted = Counter(-(100 + n) for n in ok)
    if made != wanted:
        problems.append(f"{sum(made.values())} ledger rows for {len(ok)} 2xx debits")
    via_a = sum(1 for port, _answer in moved + looked if port == ports[0])
    return Row(
        "debits + lookups",
        len(answers),
        via_a,
        len(answers) - via_a,
        f"{len(ok)} moves, {rows.count()} ledger rows; {_statuses(answers)}",
        problems,
    )


def idempotency_races(args, seeded: Seeded, ports: list[int], run: str) -> Row:
    """Each key sent to A and B at the same moment, then once more to the other server."""
    from django.db.models import Q

    from giftcards.models import BalanceLog

    api = Api(seeded.secret)
    cards = [card_id for card_id, _code in seeded.cards]
    problems = []
    outcomes: Counter = Counter()
    sent = 0

    def race(n: int) -> list[Answer]:
        key, tag, card_id = f"race-{run}-{n}", f"race-{run}-{n}", cards[n % len(cards)]
        send = api.jsonapi_debit if n % 2 else api.plain_debit
        start = threading.Barrier(2)

        def one(port: int) -> Answer:
            start.wait()
            return send(port, card_id, 7, tag, key)

        with ThreadPoolExecutor(2) as pair:
            first = list(pair.map(one, ports))
        retry = send(ports[n % 2], card_id, 7, tag, key)
        return [*first, retry]

    with ThreadPoolExecutor(max(1, args.clients // 2)) as pool:
        results = list(pool.map(race, range(args.races)))
    for n, (at_a, at_b, retry) in enumerate(results):
        sent += 3
        pair = sorted(
            "replay" if answer.headers.get("Idempotent-Replayed") == "true" else str(answer.status)
            for answer in (at_a, at_b)
        )
        outcomes[" + ".join(pair)] += 1
        moved = [
            a
            for a in (at_a, at_b)
            if a.status in (200, 201) and a.headers.get("Idempotent-Replayed") != "true"
        ]
        others = [a for a in (at_a, at_b) if a not in moved]
        if len(moved) != 1 or any(a.status not in (200, 201, 409) for a in others):
            problems.append(f"race {n}: A {at_a.status}, B {at_b.status}")
        if retry.status not in (200, 201) or retry.headers.get("Idempotent-Replayed") != "true":
            problems.append(f"race {n}: the retry answered {retry.status} without a replay")
        tag = f"race-{run}-{n}"
        rows = BalanceLog.objects.filter(Q(note=tag) | Q(order_reference=tag)).count()
        if rows != 1:
            problems.append(f"race {n}: {rows} ledger rows")
    outcome = ", ".join(f"{pair}: {n}" for pair, n in sorted(outcomes.items()))
    return Row("same key to A and B", sent, sent // 2, sent - sent // 2, outcome, problems[:5])


def throttle(args, seeded: Seeded, ports: list[int]) -> Row:
    """A fresh key's code lookups, alternating servers: exactly the hour's limit passes."""
    seconds_into_hour = time.time() % 3600
    if seconds_into_hour > 3600 - 20:  # the whole burst in one window
        time.sleep(3600 - seconds_into_hour + 1)
    api = Api(seeded.throttle_secret)
    code = seeded.cards[0][1]
    total = 2 * args.limit
    with ThreadPoolExecutor(args.clients) as pool:
        answers = list(pool.map(lambda n: api.code_lookup(ports[n % 2], code), range(total)))
    passed = sum(1 for answer in answers if answer.status == 200)
    refused = sum(1 for answer in answers if answer.status == 429)
    problems = []
    if passed != args.limit or refused != total - args.limit:
        problems.append(f"{passed} passed (limit {args.limit}); {_statuses(answers)}")
    return Row(
        f"code lookups ({args.limit}/hour)",
        total,
        total // 2,
        total - total // 2,
        f"{passed} passed, {refused} refused (429)",
        problems,
    )


CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def admin_sessions(args, seeded: Seeded, ports: list[int]) -> Row:
    """Sign in on one server, use the session on the other, sign out there."""
    problems = []
    sent = via_a = 0
    for n in range(args.sessions):
        here, there = (ports[0], ports[1]) if n % 2 == 0 else (ports[1], ports[0])
        form = call(here, "GET", "/admin/login/?next=/admin/")
        token = CSRF_FIELD.search(form.body.decode())
        cookies = dict(form.cookies)
        if token is None or "csrftoken" not in cookies:
            problems.append(f"session {n}: no login form ({form.status})")
            continue
        body = urlencode(
            {
                "csrfmiddlewaretoken": token.group(1),
                "username": seeded.staff,
                "password": STAFF_PASSWORD,
                "next": "/admin/",
            }
        ).encode()
        signed_in = call(
            here,
            "POST",
            "/admin/login/?next=/admin/",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            cookies=cookies,
        )
        cookies.update(signed_in.cookies)
        if signed_in.status != 302 or "sessionid" not in cookies:
            problems.append(f"session {n}: sign-in answered {signed_in.status}")
            continue
        pages = [
            call(there, "GET", path, cookies=cookies)
            for path in ("/admin/", "/admin/giftcards/giftcard/", "/admin/giftcards/balancelog/")
        ]
        if any(page.status != 200 or b"Log out" not in page.body for page in pages):
            problems.append(f"session {n}: the other server answered {_statuses(pages)}")
        out_form = CSRF_FIELD.search(pages[0].body.decode())
        signed_out = call(
            there,
            "POST",
            "/admin/logout/",
            body=urlencode({"csrfmiddlewaretoken": out_form.group(1) if out_form else ""}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            cookies=cookies,
        )
        after = call(here, "GET", "/admin/", cookies=cookies)
        if signed_out.status != 200 or after.status != 302:
            problems.append(
                f"session {n}: signed out on one ({signed_out.status}), the other "
                f"answered {after.status}"
            )
        sent += 7
        via_a += 3 if here == ports[0] else 4
    return Row(
        "admin: sign in here, work there",
        sent,
        via_a,
        sent - via_a,
        f"{args.sessions - len(problems)} of {args.sessions} sessions shared",
        problems,
    )


def events(args, seeded: Seeded, receiver) -> Row:
    """Every balance change's call arrives, once, whichever server made the change."""
    from giftcards.models import Delivery, OutboxEvent

    deadline = time.monotonic() + args.events_seconds
    wanted = set(
        OutboxEvent.objects.filter(
            business_id=seeded.business_id, name="gift_cards.balance_change"
        ).values_list("public_id", flat=True)
    )
    while True:
        received = Counter(call.headers.get("webhook-id") for call in receiver.calls())
        if wanted <= set(received) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(2)  # a second call of any event would come in now
    received = Counter(call.headers.get("webhook-id") for call in receiver.calls())
    twice = [public_id for public_id, n in received.items() if n > 1]
    missing = wanted - set(received)
    delivered = Delivery.objects.filter(webhook_id=seeded.webhook_id, state="delivered").count()
    problems = []
    if missing:
        problems.append(f"{len(missing)} of {len(wanted)} events never called")
    if twice:
        problems.append(f"{len(twice)} events called more than once")
    if set(received) - wanted:
        problems.append(f"{len(set(received) - wanted)} calls for unknown events")
    return Row(
        "webhook calls (1 worker)",
        len(wanted),
        0,
        0,
        f"{len(wanted)} events, {sum(received.values())} calls, {delivered} delivered rows",
        problems,
    )


def cards_reconcile(seeded: Seeded) -> Row:
    from django.db.models import Sum

    from giftcards.models import BalanceLog, GiftCard

    problems = []
    for card_id, _code in seeded.cards:
        card = GiftCard.objects.get(pk=card_id)
        total = BalanceLog.objects.filter(card=card).aggregate(total=Sum("amount_cents"))["total"]
        if card.balance_cents != total:
            problems.append(f"card {card_id}: balance {card.balance_cents}, ledger {total}")
    return Row(
        "cards reconcile",
        len(seeded.cards),
        0,
        0,
        f"{len(seeded.cards) - len(problems)} of {len(seeded.cards)}",
        problems,
    )


def table(rows: list[Row]) -> str:
    header = ("part", "count", "via A", "via B", "outcome", "check")
    lines = [
        (
            r.part,
            str(r.sent),
            str(r.via_a) if r.via_a or r.via_b else "-",
            str(r.via_b) if r.via_a or r.via_b else "-",
            r.outcome,
            "FAIL" if r.problems else "PASS",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    out = []
    for line in [header, *lines]:
        out.append(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tests.giftcards.events.receiver import Receiver

    run = uuid.uuid4().hex[:8]
    logs = args.logs or Path(tempfile.mkdtemp(prefix="giftcards-multiproc-"))
    logs.mkdir(parents=True, exist_ok=True)
    env = environment(args, run)
    stack.database_recreate(args.admin_url, args.database)
    stack.redis_check(args.redis_url)
    receiver = Receiver().start()
    rows: list[Row] = []
    try:
        seeded = seed(args, run, receiver.url)
        say(f"multiprocess run {run} on {stack.source_version()}; logs in {logs}")
        with servers(env, args, logs) as ports, worker(env, logs):
            say(
                f"gunicorn A :{ports[0]} and B :{ports[1]} ({args.workers} workers x "
                f"{args.threads} threads each), 1 Celery worker + beat; PostgreSQL "
                f"{args.database}, Redis {args.redis_url}"
            )
            started = time.monotonic()
            rows.append(debits_and_lookups(args, seeded, ports, run))
            rows.append(idempotency_races(args, seeded, ports, run))
            rows.append(throttle(args, seeded, ports))
            rows.append(admin_sessions(args, seeded, ports))
            rows.append(events(args, seeded, receiver))
            rows.append(cards_reconcile(seeded))
            took = time.monotonic() - started
    finally:
        receiver.stop()
        from django.db import connections

        connections.close_all()
        with contextlib.suppress(Exception):
            celery_stack.forget_keys(args.redis_url, f"multiproc-{run}")
            celery_stack.forget_keys(args.redis_url, env["CELERY_QUEUE"])
        if args.drop:
            import psycopg

            with psycopg.connect(args.admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    say()
    say(table(rows))
    say(f"\n{sum(r.sent for r in rows)} requests in {took:.1f} s")
    failed = [row for row in rows if row.problems]
    for row in failed:
        for problem in row.problems:
            say(f"FAIL  {row.part}: {problem}")
    if failed:
        say(f"{len(failed)} checks failed; server logs in {logs}")
        return 1
    say("all checks passed: nothing per process")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The code-lookup throttle under simultaneous bursts, over real HTTP: gunicorn (4 workers x 4
threads), PostgreSQL and Redis.

    make bench-throttle        # or: .venv/bin/python -m benchmarks.throttle_burst [--help]

A fresh PostgreSQL database (`giftcards_bench_throttle`, dropped and re-created) is migrated
and given one business with an API key per round; gunicorn (gthread workers, DEBUG off,
Redis as the cache, CODE_LOOKUP_RATE) serves the project; then each round sends `--burst`
code lookups (`filter[code]=...`, one lookup each) at once, from as many client threads
with a connection each, all with the round's key, and counts the answers. gunicorn is always
stopped at the end. Exits 1 when a round lets more lookups pass than the limit, or answers
anything but 200 and 429.

Windows are aligned on the clock (giftcards.ratelimit): the rounds start early enough in a
minute for all of them to fit in one window, so each round's key gets exactly `--limit`.

Then, in this process and on the same Redis, the per-key throttle's cost per request against
its baseline, DRF's SimpleRateThrottle (a list of timestamps read and written back), for a
key whose last minute holds 6,000 requests (API_RATE's default). Figures, not assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import stack  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="giftcards_bench_throttle")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--limit", type=int, default=30, help="code lookups per minute")
    parser.add_argument("--burst", type=int, default=60, help="simultaneous lookups per round")
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


def environment(args: argparse.Namespace) -> dict[str, str]:
    """Settings for this process (seeding) and the server: the same database and cache."""
    return stack.environment(
        args.admin_url,
        args.database,
        conn_max_age=60,
        redis_url=args.redis_url,
        cache_key_prefix=f"bench-throttle-{os.getpid()}-{time.time_ns()}",
        CODE_LOOKUP_RATE=f"{args.limit}/min",
    )


def seed(rounds: int) -> list[str]:
    """Migrate; one business, and a fresh API key per round (a count of its own)."""
    import django

    django.setup()
    from django.core.management import call_command

    from clients.services import api_key_create, business_create
    from clients.tenancy import Mode

    call_command("migrate", verbosity=0)
    business = business_create(name="Burst Books", currency_code="USD")
    return [
        api_key_create(business=business, name=f"burst-{n}", mode=Mode.LIVE)[1]
        for n in range(rounds)
    ]


@contextlib.contextmanager
def serve(args: argparse.Namespace, env: dict[str, str], log_path: Path) -> Iterator[int]:
    """gthread workers on a free port for the block; yields the port."""
    port = stack.free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "giftcards_project.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={args.workers}",
        f"--threads={args.threads}",
        "--worker-class=gthread",
        "--backlog=256",
        "--log-level=warning",
        f"--chdir={ROOT}",
    ]
    with stack.gunicorn(command, port=port, env=env, log_path=log_path):
        yield port


def burst(port: int, secret: str, size: int) -> tuple[Counter, list[float], float]:
    """`size` lookups released together; (statuses, latencies in ms, wall time in s)."""
    barrier = threading.Barrier(size + 1)
    results: list = [None] * size

    def worker(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {secret}", "Accept": "application/vnd.api+json"}
        try:
            connection.connect()
            barrier.wait(timeout=30)
            started = time.perf_counter()
            connection.request(
                "GET", f"/api/gift_cards?filter[code]=GUESS-{i:04}-CODE", None, headers
            )
            response = connection.getresponse()
            response.read()
            results[i] = (response.status, (time.perf_counter() - started) * 1000)
        except Exception as exc:  # counted as a failure below
            results[i] = (repr(exc), 0.0)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(size)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=30)
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=120)
    wall = time.perf_counter() - started
    return Counter(status for status, _ in results), [ms for _, ms in results], wall


def per_key_cost(calls: int, history: int = 6000) -> tuple[float, float]:
    """Median microseconds per allow_request: (DRF's history list, the shared counter)."""
    from types import SimpleNamespace

    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    from giftcards.throttling import ApiKeyRateThrottle

    rate = "1000000/min"  # never reached: both always take the allowing path

    class HistoryThrottle(SimpleRateThrottle):
        scope = "api_key"

        def get_cache_key(self, request, view):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}

    baseline, counter = HistoryThrottle(), ApiKeyRateThrottle()
    baseline.rate = counter.rate = rate
    baseline.num_requests = counter.num_requests = 1_000_000
    baseline.duration = counter.duration = 60
    request = SimpleNamespace(auth=SimpleNamespace(pk=f"cost-{time.time_ns()}"))
    cache.set(baseline.get_cache_key(request, None), [time.time()] * history, 60)
    runs: dict[str, list[float]] = {"baseline": [], "counter": []}
    for _ in range(3):  # interleaved
        for name, throttle in (("baseline", baseline), ("counter", counter)):
            started = time.perf_counter()
            for _ in range(calls):
                assert throttle.allow_request(request, None)
            runs[name].append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(runs["baseline"]), statistics.median(runs["counter"])


def fit_in_one_window(seconds_needed: float) -> None:
    into = time.time() % 60
    if into + seconds_needed > 58:
        wait = 60 - into + 0.5
        print(f"waiting {wait:.0f} s for the next window, so the rounds fit in one", flush=True)
        time.sleep(wait)


def main() -> int:
    args = parse_args()
    stack.redis_check(args.redis_url)
    stack.database_recreate(args.admin_url, args.database)
    env = environment(args)
    secrets_by_round = seed(args.rounds)
    print(
        f"gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL "
        f"{args.database}, Redis {args.redis_url}; limit {args.limit} code lookups/min",
        flush=True,
    )
    log_path = ROOT / "test-artifacts" / "throttle_burst.gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    failures = 0
    with serve(args, env, log_path) as port:
        fit_in_one_window(5 + 3 * args.rounds)
        for n, secret in enumerate(secrets_by_round, start=1):
            statuses, latencies, wall = burst(port, secret, args.burst)
            passed, refused = statuses.get(200, 0), statuses.get(429, 0)
            other = {
                status: count for status, count in statuses.items() if status not in (200, 429)
            }
            print(
                f"round {n}: {args.burst} simultaneous lookups -> {passed} passed, "
                f"{refused} refused (429), other {other or 'none'}; "
                f"{wall:.2f} s, latency median {statistics.median(latencies):.0f} ms, "
                f"max {max(latencies):.0f} ms",
                flush=True,
            )
            if passed > args.limit or other:
                failures += 1
    print(
        f"the limit held in {args.rounds - failures} of {args.rounds} rounds "
        f"(gunicorn log: {log_path.relative_to(ROOT)})"
    )
    history, counter = per_key_cost(calls=500)
    print(
        f"per-key throttle, one request with 6000 in the key's last minute: DRF "
        f"SimpleRateThrottle {history:.0f} us, shared counter {counter:.0f} us "
        f"({history / counter:.1f}x)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

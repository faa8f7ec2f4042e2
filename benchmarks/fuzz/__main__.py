"""Fuzz both APIs over real HTTP and count what the server answered.

    make fuzz              # or: .venv/bin/python -m benchmarks.fuzz [--quick] [--help]

In one run: a fresh PostgreSQL database (`giftcards_fuzz_http`, dropped and re-created) is
migrated and filled by `load_demo`, whose demo API keys the fuzzers use; gunicorn (sync
workers, DEBUG off, rates raised so the throttles do not hide the handlers) serves the project
on 127.0.0.1 and writes every request's status and user agent to an access log. Then, at the
same time: schemathesis against the plain API's OpenAPI schema (/api/schema; the JSON:API has
none), and the Hypothesis fuzzer of benchmarks/fuzz/jsonapi.py against the JSON:API. gunicorn
is always stopped at the end.

Printed: requests per tool and their status histograms (from the access log), the 5xx count,
the tracebacks in the server log, schemathesis's summary, and each 5xx request the JSON:API
fuzzer kept. Exits 1 when the server answered any 5xx or logged any traceback. Bounded: a
fixed number of examples per tool, and a time budget for schemathesis.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from benchmarks import stack

ROOT = stack.ROOT
RATE = "1000000/s"
SCHEMATHESIS = "schemathesis"
JSONAPI = "jsonapi-fuzz"
KEY_LINE = re.compile(r"^\s*(live|test): (\S+)$", re.MULTILINE)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="giftcards_fuzz_http")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--jsonapi-examples", type=int, default=15_000)
    parser.add_argument(
        "--schemathesis-examples", type=int, default=400, help="per operation and phase"
    )
    parser.add_argument("--schemathesis-seconds", type=int, default=900, help="its time budget")
    parser.add_argument("--seed", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "fuzz")
    parser.add_argument("--quick", action="store_true", help="a few hundred requests each")
    return parser.parse_args()


def say(text: str = "") -> None:
    print(text, flush=True)


def environment(args: argparse.Namespace) -> dict[str, str]:
    # No redis_url: each worker's own cache, as the throttles are raised anyway.
    return stack.environment(
        args.admin_url,
        args.database,
        API_RATE=RATE,
        CODE_LOOKUP_RATE=RATE,
        log_level="ERROR",  # 4xx warnings would bury the errors this run looks for
    )


def manage(env: dict[str, str], *command: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int, out: Path) -> Iterator[int]:
    """Serve on a free port for the block; the access log holds status and user agent."""
    port = stack.free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "giftcards_project.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=sync",
        "--timeout=120",
        "--graceful-timeout=10",
        f"--access-logfile={out / 'access.log'}",
        "--access-logformat=%(s)s %(m)s %(a)s",
        f"--chdir={ROOT}",
    ]
    with stack.gunicorn(command, port=port, env=env, log_path=out / "server.log"):
        yield port


def schemathesis(args: argparse.Namespace, port: int, secret: str, out: Path) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"http://127.0.0.1:{port}/api/schema",
        "--header",
        f"Authorization: Bearer {secret}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(args.schemathesis_examples),
        "--max-time",
        str(args.schemathesis_seconds),
        "--seed",
        str(args.seed),
        # One worker: on Python 3.11 its threads can trip over each other in `ast` (an
        # "AST constructor recursion depth mismatch" inside schemathesis, not the server).
        "--workers",
        "1",
        "--no-color",
    ]
    log = (out / "schemathesis.log").open("wb")
    # In the output folder: schemathesis keeps a cache folder where it runs.
    return subprocess.Popen(command, cwd=out, stdout=log, stderr=subprocess.STDOUT)


def histograms(access_log: Path) -> dict[str, Counter]:
    """Statuses per tool, from the access log's `status method user-agent` lines."""
    found = {SCHEMATHESIS: Counter(), JSONAPI: Counter(), "other": Counter()}
    for line in access_log.read_text(errors="replace").splitlines():
        status, _, rest = line.partition(" ")
        if not status.isdigit():
            continue
        agent = rest.partition(" ")[2]
        if agent.startswith("schemathesis"):
            tool = SCHEMATHESIS
        elif agent.startswith("giftcards-jsonapi-fuzz"):
            tool = JSONAPI
        else:
            tool = "other"
        found[tool][int(status)] += 1
    return found


def main() -> int:
    args = parse_args()
    if args.quick:
        args.jsonapi_examples, args.schemathesis_examples, args.schemathesis_seconds = 300, 10, 60
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name in ("access.log", "server.log", "schemathesis.log"):
        (out / name).unlink(missing_ok=True)  # gunicorn appends to its access log
    env = environment(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: gunicorn is stopped
    started = time.monotonic()
    stack.database_recreate(args.admin_url, args.database)
    manage(env, "migrate", "--noinput", "-v0")
    keys = dict(KEY_LINE.findall(manage(env, "load_demo", "--force")))
    say(f"Database {args.database} migrated, demo data loaded ({time.monotonic() - started:.0f} s)")

    import django

    django.setup()
    from benchmarks.fuzz import jsonapi
    from benchmarks.fuzz.transports import HttpTransport

    schemathesis_exit = None
    with gunicorn(env, args.workers, out) as port:
        say(f"gunicorn on 127.0.0.1:{port}, {args.workers} sync workers, DEBUG off")
        tool = schemathesis(args, port, keys["live"], out)
        try:

            def progress(result):
                elapsed = time.monotonic() - started
                say(f"  jsonapi fuzzer: {result.requests} requests ({elapsed:.0f} s)")

            result = jsonapi.run(
                HttpTransport("127.0.0.1", port),
                secret=keys["live"],
                other_secret=keys["test"],
                examples=args.jsonapi_examples,
                seed=args.seed,
                on_progress=progress,
            )
            schemathesis_exit = tool.wait(timeout=args.schemathesis_seconds + 120)
        finally:
            if tool.poll() is None:
                tool.terminate()
                tool.wait(timeout=20)

    counts = histograms(out / "access.log")
    server_log = (out / "server.log").read_text(errors="replace")
    tracebacks = server_log.count("Traceback (most recent call last)")
    server_errors = sum(n for c in counts.values() for status, n in c.items() if status >= 500)
    total = sum(sum(c.values()) for c in counts.values())
    say()
    say(f"Requests: {total} in {time.monotonic() - started:.0f} s")
    for name, counter in counts.items():
        if counter:
            histogram = ", ".join(f"{status}: {n}" for status, n in sorted(counter.items()))
            say(f"  {name:<14} {sum(counter.values()):>6}  {histogram}")
    say(f"5xx responses: {server_errors}")
    say(f"Tracebacks in the server log: {tracebacks}")
    summary = [
        line.strip()
        for line in (out / "schemathesis.log").read_text(errors="replace").splitlines()
        if re.search(r"generated|passed|failed|errors?\b", line) and len(line) < 120
    ]
    say(f"schemathesis exit code: {schemathesis_exit} ({out / 'schemathesis.log'}): ")
    for line in summary[-4:]:
        say(f"  {line}")
    for status, described, body in result.findings[:20]:
        say(f"  {status} {described}\n      -> {body!r}")
    # The server's own record decides: schemathesis also exits 1 on its internal errors.
    return 1 if server_errors or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())

"""Fuzz both APIs over real HTTP and count what the server answered.

    make fuzz              # or: .venv/bin/python -m benchmarks.fuzz [--quick] [--help]

In one run: a fresh PostgreSQL database (`giftcards_fuzz_http`, dropped and re-created) is
migrated and filled by `load_demo`, whose demo API keys the fuzzers use; gunicorn (sync
workers, DEBUG off, rates raised so the throttles do not hide the handlers) serves the project
on 127.0.0.1 and writes every request's status and user agent to an access log. Then, at the
same time: schemathesis against each API's OpenAPI document (/api/schema/plain and
/api/schema/jsonapi; every phase and check, see schemathesis_cli.py), and the Hypothesis fuzzer
of benchmarks/fuzz/jsonapi.py against the JSON:API. gunicorn is always stopped at the end.

Printed: requests per tool and their status histograms (from the access log), the 5xx count,
the tracebacks in the server log, each schemathesis run's test cases and failures (its full
output and JSON report are in the output folder), and each 5xx request the JSON:API fuzzer
kept. Exits 1 when the server answered any 5xx or logged any traceback, when a schemathesis
run found a failure (a response that does not match its document), or, unless --quick, when a
schemathesis run sent fewer than --min-requests requests. Bounded: a fixed number of examples
per tool, and a time budget for schemathesis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from benchmarks import stack
from benchmarks.fuzz.schemathesis_cli import Run, verdict

ROOT = stack.ROOT
RATE = "1000000/s"
ST_PLAIN = "schemathesis-plain"
ST_JSONAPI = "schemathesis-jsonapi"
JSONAPI = "jsonapi-fuzz"
KEY_LINE = re.compile(r"^\s*(live|test): (\S+)$", re.MULTILINE)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="giftcards_fuzz_http")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--jsonapi-examples", type=int, default=15_000)
    parser.add_argument(
        "--plain-examples", type=int, default=1_000, help="schemathesis: per operation and phase"
    )
    parser.add_argument(
        "--jsonapi-st-examples", type=int, default=120, help="schemathesis: per operation and phase"
    )
    parser.add_argument(
        "--schemathesis-seconds", type=int, default=1_800, help="each run's time budget"
    )
    parser.add_argument(
        "--min-requests", type=int, default=10_000, help="each schemathesis run sends at least"
    )
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
        # No request-line limit: schemathesis's negative cases (lists past maxItems, strings
        # past maxLength) make URLs longer than gunicorn's 4094 bytes, and its checks of
        # refused input expect the application's 4xx (they do not count gunicorn's 414, which
        # the documents name). The application, not the front door, is what this run judges.
        "--limit-request-line=0",
        f"--access-logfile={out / 'access.log'}",
        "--access-logformat=%(s)s %(m)s %(a)s",
        f"--chdir={ROOT}",
    ]
    with stack.gunicorn(command, port=port, env=env, log_path=out / "server.log"):
        yield port


def schemathesis_runs(args: argparse.Namespace, port: int, secret: str) -> list[Run]:
    base = f"http://127.0.0.1:{port}"
    return [
        Run("plain", base, secret, args.plain_examples, args.schemathesis_seconds, args.seed),
        Run(
            "jsonapi", base, secret, args.jsonapi_st_examples, args.schemathesis_seconds, args.seed
        ),
    ]


def histograms(access_log: Path) -> dict[str, Counter]:
    """Statuses per tool, from the access log's `status method user-agent` lines."""
    found = {ST_PLAIN: Counter(), ST_JSONAPI: Counter(), JSONAPI: Counter(), "other": Counter()}
    for line in access_log.read_text(errors="replace").splitlines():
        status, _, rest = line.partition(" ")
        if not status.isdigit():
            continue
        agent = rest.partition(" ")[2]
        if agent.startswith(ST_PLAIN):
            tool = ST_PLAIN
        elif agent.startswith(ST_JSONAPI):
            tool = ST_JSONAPI
        elif agent.startswith("giftcards-jsonapi-fuzz"):
            tool = JSONAPI
        else:
            tool = "other"
        found[tool][int(status)] += 1
    return found


def main() -> int:
    args = parse_args()
    if args.quick:
        args.jsonapi_examples, args.schemathesis_seconds = 300, 60
        args.plain_examples, args.jsonapi_st_examples = 10, 2
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name in ("access.log", "server.log"):
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

    with gunicorn(env, args.workers, out) as port:
        say(f"gunicorn on 127.0.0.1:{port}, {args.workers} sync workers, DEBUG off")
        runs = schemathesis_runs(args, port, keys["live"])
        tools = [run.start(out) for run in runs]
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
            for tool in tools:
                tool.wait(timeout=args.schemathesis_seconds + 300)
        finally:
            for tool in tools:
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
    failed = bool(server_errors or tracebacks)
    for run in runs:
        found = verdict(run.report_path(out))
        sent = sum(counts[run.agent].values())
        enough = args.quick or sent >= args.min_requests
        say(f"{run.agent}: {sent} requests, {found.summary()} ({run.log_path(out)})")
        for failure in found.failures[:10]:
            say(f"  {json.dumps(failure)[:300]}")
        if not enough:
            option = "--plain-examples" if run.name == "plain" else "--jsonapi-st-examples"
            say(f"  fewer than {args.min_requests} requests: raise {option} or the time budget")
        failed = failed or not found.clean or not enough
    for status, described, body in result.findings[:20]:
        say(f"  {status} {described}\n      -> {body!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

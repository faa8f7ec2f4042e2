"""Gunicorn's settings for the service, all from the environment.

`gunicorn` run from the repository root reads this file by itself and serves
`giftcards_project.wsgi` (or name the file: `gunicorn -c gunicorn.conf.py`). The access log
never carries a gift card code (giftcards_project/gunicorn_logging.py).
"""

import glob
import os
import signal
import sys
import time

# More processes than this only add database connections and memory on one machine.
MAX_WORKERS = 12
# sysexits.h's EX_CONFIG, as giftcards_project/production_checks.py exits: systemd's units do
# not restart on it (this file is read before the project is importable).
EX_CONFIG = 78


def _refuse(line: str):
    print(line, file=sys.stderr, flush=True)
    raise SystemExit(EX_CONFIG)


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        _refuse(f"{name} must be an integer, not {raw!r}.")
    if value < minimum:
        _refuse(f"{name} must be at least {minimum}, not {value}.")
    return value


def _default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(2 * (cpus or 1) + 1, MAX_WORKERS)


def _bind() -> list[str]:
    listed = [item.strip() for item in os.environ.get("GUNICORN_BIND", "").split(",")]
    if any(listed):
        return [item for item in listed if item]
    port = os.environ.get("PORT", "").strip()
    return [f"0.0.0.0:{port}"] if port else ["127.0.0.1:8000"]


wsgi_app = "giftcards_project.wsgi:application"
bind = _bind()

# Each worker process runs `threads` requests at once; each thread keeps its own database
# connection when DATABASE_CONN_MAX_AGE > 0 (workers x threads connections in all).
workers = _int("GUNICORN_WORKERS", 0, minimum=1) or _int("WEB_CONCURRENCY", _default_workers(), 1)
threads = _int("GUNICORN_THREADS", 4, minimum=1)
worker_class = "gthread"
# A worker silent for `timeout` seconds is killed and replaced; on a restart or a stop,
# workers get `graceful_timeout` seconds to finish the requests in hand.
timeout = _int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30, minimum=1)
keepalive = _int("GUNICORN_KEEPALIVE", 5, minimum=0)
# Recycling workers after a number of requests (with jitter) bounds any slow leak; 0: never.
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 0)
# The heartbeat files on tmpfs: a disk-backed /tmp can stall them and get workers killed.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (
    "/dev/shm" if os.path.isdir("/dev/shm") else None
)

# Addresses of the proxies whose X-Forwarded-* headers are believed (comma-separated, `*`
# for any: only when nothing else can reach the port).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

logger_class = "giftcards_project.gunicorn_logging.RedactingLogger"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Gunicorn's combined format plus the time taken, in milliseconds, and the request's id (the
# X-Request-ID the application answered with: giftcards_project/observability/requestid.py).
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms %({x-request-id}o)s'
)


def child_exit(server, worker):
    """Prometheus' multiprocess mode (PROMETHEUS_MULTIPROC_DIR): a dead worker's live gauges
    are dropped; its counters and histograms stay in the totals."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_starting(server):
    """Production settings that are missing or weak, or that settings.py refuses, stop the
    master here, in one line and exit status 78 (EX_CONFIG), before it binds the port or forks
    a worker (giftcards_project/production_checks.py). Then a fresh metrics folder."""
    from giftcards_project import production_checks

    production_checks.enforce(os.environ)
    _load_settings_or_exit()
    _empty_multiprocess_dir()


# Seconds the master waits for the settings to load (in a child) before it gives up.
SETTINGS_CHECK_TIMEOUT = _int("GUNICORN_SETTINGS_CHECK_TIMEOUT", 30, minimum=1)


def _load_settings_or_exit():
    """settings.py read once in a child of the master, which exits with its reason if it
    refuses them. The master never imports them itself, so a reload (SIGHUP) reads them anew."""
    child = os.fork()
    if child == 0:
        status = 0
        try:
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftcards_project.settings")
            from django.conf import settings

            settings.INSTALLED_APPS  # noqa: B018 (reads settings.py)
        except SystemExit as stopped:
            # production_checks has printed its line already; sys.exit("...") has not.
            if isinstance(stopped.code, str):
                print(stopped.code, file=sys.stderr, flush=True)
            status = EX_CONFIG
        except Exception as exc:  # anything else settings.py raises: its one-line reason
            print(f"Refusing to start: the settings failed to load: {exc}", file=sys.stderr)
            status = EX_CONFIG
        sys.stderr.flush()
        os._exit(status)
    deadline = time.monotonic() + SETTINGS_CHECK_TIMEOUT
    while True:
        done, waited = os.waitpid(child, os.WNOHANG)
        if done:
            break
        if time.monotonic() >= deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            # A hang is not known to be a setting's fault: status 1, which systemd retries.
            print(
                f"Refusing to start: the settings took more than {SETTINGS_CHECK_TIMEOUT} s to"
                " load (GUNICORN_SETTINGS_CHECK_TIMEOUT).",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(1)
        time.sleep(0.05)
    status = os.waitstatus_to_exitcode(waited)
    if status < 0:
        _refuse(f"Refusing to start: reading the settings was killed by signal {-status}.")
    if status != 0:
        raise SystemExit(EX_CONFIG)


def _empty_multiprocess_dir():
    """prometheus_client's files from a previous run would add their counts to this one's:
    the folder is created if missing and its *.db files removed, before any worker writes."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    for path in glob.glob(os.path.join(folder, "*.db")):
        os.remove(path)


def post_fork(server, worker):
    """A worker whose settings refuse to load (settings.py changed, then a reload) leaves with
    gunicorn's boot-error status, so the master stops too (status 3, which the systemd unit
    does not restart on, like 78) instead of forking replacements that fail the same way for
    ever. A worker's own exit status never reaches systemd: the master's does."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftcards_project.settings")
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 (reads settings.py)
    except SystemExit as stopped:
        if isinstance(stopped.code, str):
            print(stopped.code, file=sys.stderr, flush=True)
        sys.exit(server.WORKER_BOOT_ERROR)

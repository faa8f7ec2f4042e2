"""The service's Prometheus metrics and the hooks that count them.

Counters and histograms live in this process; with several processes (gunicorn workers,
Celery workers on the same machine) set PROMETHEUS_MULTIPROC_DIR to an empty folder shared
by all of them, and /metrics adds every process's values up (prometheus_client's
multiprocess mode). The outbox gauges are read from the database when /metrics is scraped,
so they are the same whichever process answers.

Labels are bounded: a route is the URL pattern's name (never the path, which holds ids and
codes), a kind is a ledger entry kind, a code is a domain error's code.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable

from django.db import transaction
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from giftcards.exceptions import GiftCardError

logger = logging.getLogger(__name__)

REQUEST_DURATION = Histogram(
    "giftcards_http_request_duration_seconds",
    "Time from the first middleware to the response, by route (URL pattern name), method "
    "and status class.",
    ["route", "method", "status"],
)
MONEY_MOVES = Counter(
    "giftcards_money_moves_total",
    "Balance operations by kind (issue, debit, recharge, adjustment, refund, transfer, "
    "pre_import) and outcome: ok (its ledger rows committed) or refused (a domain error).",
    ["kind", "outcome"],
)
REFUSALS = Counter(
    "giftcards_refusals_total",
    "Operations on cards refused by the services, by error code (insufficient_balance, "
    "card_expired, ...).",
    ["code"],
)
WEBHOOK_DELIVERIES = Counter(
    "giftcards_webhook_deliveries_total",
    "Webhook calls by outcome: delivered, retry, failed (given up), error (not sent), held "
    "(webhook disabled or circuit open), stale (another worker had it); counted in the "
    "workers, so only this machine's with PROMETHEUS_MULTIPROC_DIR (giftcards_webhook_"
    "deliveries is read from the database).",
    ["outcome"],
)
THROTTLED = Counter(
    "giftcards_throttle_refusals_total",
    "Requests refused by a throttle (429), by scope: api_key, code_lookup, balance_check.",
    ["scope"],
)

# The kind a ledger row counts as: a transfer writes two rows and is one move.
MOVE_OF_ENTRY = {
    "issue": "issue",
    "debit": "debit",
    "recharge": "recharge",
    "adjustment": "adjustment",
    "refund": "refund",
    "transfer_out": "transfer",
    "transfer_in": None,
    "pre_import": "pre_import",
}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# ---------------------------------------------------------------------------- hooks


def money_moved(entry_kinds: Iterable[str]) -> None:
    """Ledger rows of these kinds were written: counted as ok once the transaction commits
    (a rolled-back move, a dry run, is never counted). Called where ledger rows are
    written."""
    moves = Tally(MOVE_OF_ENTRY.get(kind, kind) for kind in entry_kinds)
    moves.pop(None, None)
    if moves:
        transaction.on_commit(functools.partial(_count_moves, moves), robust=True)


def _count_moves(moves: Tally) -> None:
    for kind, count in moves.items():
        MONEY_MOVES.labels(kind, "ok").inc(count)


def refused(kind: str | None, exc: GiftCardError) -> None:
    """Count a refusal once, however many counted functions it passes through; `kind` is
    the money move refused (None: the operation moved no money)."""
    if getattr(exc, "_refusal_counted", False):
        return
    exc._refusal_counted = True
    REFUSALS.labels(exc.code).inc()
    if kind:
        MONEY_MOVES.labels(kind, "refused").inc()


def counts_refusals(kind: str | Callable[[dict], str | None] | None):
    """Decorates a service entry point: a domain error it raises is counted (`refused`).
    `kind` may be a function of the call's keyword arguments."""

    def decorate(func):
        @functools.wraps(func)
        def counted(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except GiftCardError as exc:
                refused(kind(kwargs) if callable(kind) else kind, exc)
                raise

        return counted

    return decorate


def throttled(scope: str) -> None:
    THROTTLED.labels(scope.removeprefix("throttle:").replace("-", "_")).inc()


def webhook_delivered(outcome: str) -> None:
    WEBHOOK_DELIVERIES.labels(outcome).inc()


# ---------------------------------------------------------------------------- requests


def route_of(request) -> str:
    """The URL pattern's name (`plain-payments`, `admin:index`, ...), or the view's dotted
    path for an unnamed pattern; `unresolved` when no pattern was matched (a middleware
    answered first)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unresolved"
    return match.view_name or match.route or "unresolved"


class MetricsMiddleware:
    """Times every request (second in MIDDLEWARE, after the request id)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        status = f"{response.status_code // 100}xx"
        REQUEST_DURATION.labels(route_of(request), method, status).observe(
            time.perf_counter() - started
        )
        return response


# ---------------------------------------------------------------------------- scraping


class OutboxCollector:
    """Read at each scrape: how far the outbox is behind.

    `giftcards_outbox_lag_seconds{stage="dispatch"}`: age of the oldest event not yet fanned
    out to its deliveries; `{stage="delivery"}`: age of the oldest event still waiting for a
    call to a webhook that is enabled and whose circuit is closed (a receiver turned off or
    failing alone does not hold the whole service's lag up). 0 when nothing waits.
    `giftcards_webhook_deliveries_pending`: deliveries not yet delivered nor given up.
    `giftcards_webhook_deliveries{state}` and `giftcards_webhook_delivery_calls{state}`: the
    deliveries and the calls made for them, by state (pending, delivered, failed), from the
    database, so they hold the calls of every worker on every machine (one aggregate query);
    settled rows purged by the retention leave them."""

    def collect(self):
        from django.db.models import Count, Min, Sum
        from django.utils import timezone

        try:
            from giftcards.models import CircuitState, Delivery, OutboxEvent

            now = timezone.now()
            oldest_event = (
                OutboxEvent.objects.filter(dispatched_at__isnull=True)
                .order_by("id")
                .values_list("created_at", flat=True)
                .first()
            )
            pending = Delivery.objects.filter(state=Delivery.State.PENDING)
            oldest_delivery = pending.filter(
                webhook__disabled_at__isnull=True, webhook__circuit_state=CircuitState.CLOSED
            ).aggregate(oldest=Min("event__created_at"))["oldest"]
            by_state = {
                row["state"]: (row["rows"], row["calls"] or 0)
                for row in Delivery.objects.order_by()
                .values("state")
                .annotate(rows=Count("id"), calls=Sum("attempts"))
            }
        except Exception as exc:  # a scrape must not fail for the database: its gauges are left out
            logger.warning("Metrics: the outbox could not be read (%s)", type(exc).__name__)
            return
        lag = GaugeMetricFamily(
            "giftcards_outbox_lag_seconds",
            "Age of the oldest event waiting to be dispatched, or delivered to a webhook that "
            "is enabled with its circuit closed (0: none waits).",
            labels=["stage"],
        )
        for stage, moment in (("dispatch", oldest_event), ("delivery", oldest_delivery)):
            lag.add_metric([stage], max(0.0, (now - moment).total_seconds()) if moment else 0.0)
        yield lag
        yield GaugeMetricFamily(
            "giftcards_webhook_deliveries_pending",
            "Webhook deliveries neither delivered nor given up.",
            value=by_state.get(Delivery.State.PENDING, (0, 0))[0],
        )
        rows = GaugeMetricFamily(
            "giftcards_webhook_deliveries",
            "Webhook deliveries in the database by state: pending, delivered, failed (given "
            "up); from the database, all processes (purged rows leave it).",
            labels=["state"],
        )
        calls = GaugeMetricFamily(
            "giftcards_webhook_delivery_calls",
            "Webhook calls made (or attempted) for the deliveries in the database, by the "
            "delivery's state; from the database, all processes (purged rows leave it).",
            labels=["state"],
        )
        for state in Delivery.State.values:
            count, made = by_state.get(state, (0, 0))
            rows.add_metric([state], count)
            calls.add_metric([state], made)
        yield rows
        yield calls


class _ThisProcess:
    """The default registry's metrics (this process's counters, the process collectors)."""

    def collect(self):
        return REGISTRY.collect()


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def scrape_registry() -> CollectorRegistry:
    """What /metrics exposes: every process's counters (multiprocess mode) or this one's,
    and the outbox gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess():
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(OutboxCollector())
    return registry

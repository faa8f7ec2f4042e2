"""Probes for the load balancer and the orchestrator.

`/healthz` (liveness): the process answers; no I/O, so a database or cache outage never gets
healthy processes restarted. `/readyz` (readiness): every dependency in CHECKS answers; 200,
or 503 naming which failed, so traffic goes elsewhere until they are back.
"""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse

from giftcards import outages

logger = logging.getLogger("giftcards.outages")


def database() -> None:
    for connection in connections.all(initialized_only=False):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()


def shared_cache() -> None:
    """A write and a read: the throttles need both."""
    key, value = "readyz", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise outages.CacheUnavailable("the cache did not return what was just written")


# Name -> a function that raises when the dependency does not answer. The task broker's
# check goes here too, when there is one.
CHECKS = {
    "database": database,
    "cache": shared_cache,
}


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means not ready; the cause goes to the log
            logger.warning("Readiness: %s unavailable (%s)", name, outages.reason(exc))
            results[name] = "unavailable"
        else:
            results[name] = "ok"
    failed = [name for name, result in results.items() if result != "ok"]
    body = {"status": "unavailable" if failed else "ok", "checks": results, "failed": failed}
    response = JsonResponse(body, status=503 if failed else 200)
    response["Cache-Control"] = "no-store"
    if failed:
        response["Retry-After"] = str(outages.RETRY_AFTER)
    return outages.mark_logged(response)

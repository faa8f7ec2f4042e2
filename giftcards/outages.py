"""Outages of the database or the shared cache: recognised, logged on one line, answered 503.

A dependency that does not answer is not a bug in the request: every entry point (the two
APIs' exception handlers, the project's middleware and error handlers) asks `dependency_of`
what failed and answers 503 with `Retry-After: RETRY_AFTER` in its own format. What counts:
- the database: Django's `OperationalError` (refused or dropped connections, timeouts, a
  server shutting down; also a deadlock or lock timeout, after which a retry is as right)
  and `InterfaceError` (a connection already closed);
- the cache: `CacheUnavailable`, raised by `giftcards.ratelimit` for any error of the cache
  client, and the Redis client's own errors.

Nothing here imports models: settings load the log filter before the apps are ready.
"""

from __future__ import annotations

import logging

import redis
from django import db
from rest_framework import exceptions, status

logger = logging.getLogger("giftcards.outages")

# Seconds a client should wait before retrying: a restarting or failing-over database or
# cache is usually back within that.
RETRY_AFTER = 30
DETAIL = f"The service is temporarily unavailable. Try again in {RETRY_AFTER} seconds."
DATABASE, CACHE = "database", "cache"


class CacheUnavailable(Exception):
    """The shared cache did not answer (refused, timed out, or failed the command)."""


class ServiceUnavailable(exceptions.APIException):
    """503 of an API request that needs a dependency that is down; names the dependency."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = DETAIL
    default_code = "service_unavailable"

    def __init__(self, detail: str | None = None, *, dependency: str) -> None:
        super().__init__(detail)
        self.dependency = dependency
        self.wait = RETRY_AFTER


def dependency_of(exc: BaseException | None) -> str | None:
    """Which dependency `exc` says is down (DATABASE or CACHE), or None for any other error."""
    if isinstance(exc, ServiceUnavailable):
        return exc.dependency
    if isinstance(exc, db.OperationalError | db.InterfaceError):
        return DATABASE
    if isinstance(exc, CacheUnavailable | redis.RedisError):
        return CACHE
    return None


def reason(exc: BaseException) -> str:
    """The cause in one line: the class and first line of the innermost error."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def log(dependency: str, exc: BaseException, request=None) -> None:
    """One line, no traceback: an outage fails every request alike, and a traceback for each
    would bury everything else in the log."""
    where = f" on {request.method} {request.path}" if request is not None else ""
    logger.warning("%s unavailable%s (%s)", dependency.capitalize(), where, reason(exc))


def mark_logged(response):
    """Tell Django's request logger that this response's failure has already been logged
    (else it adds an error line of its own for every 5xx)."""
    response._has_been_logged = True
    return response


class OneLineOutages(logging.Filter):
    """For records of `django.request` about an outage (an error Django caught outside any
    view, answered by the project's handlers as a 503), one line naming the dependency and
    the cause instead of the whole traceback. Other records pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else None
        dependency = dependency_of(exc)
        if dependency is not None:
            path = getattr(getattr(record, "request", None), "path", "?")
            record.msg = "%s unavailable on %s (%s)"
            record.args = (dependency.capitalize(), path, reason(exc))
            record.exc_info = record.exc_text = None
        return True

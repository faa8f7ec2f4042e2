"""Every request gets an id: the caller's `X-Request-ID` when it is sane, else a new one. It
is echoed in the response's `X-Request-ID` and carried by every log line written while the
request is handled (`logs.request_id`).

Why not django-guid: it does the same with a middleware and a filter too, but its ids are
validated as UUIDs only (a load balancer's or tracing system's ids are refused), and its
integrations (Celery, Sentry) would add a second way to configure what `logs` and `sentry`
already do. The whole mechanism is a context variable, this middleware and a log filter.
"""

from __future__ import annotations

import re
import uuid

from django.core.signals import request_finished, request_started

from giftcards_project.observability.logs import request_id

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
MAX_LENGTH = 200
# What an id from outside may be: printable, no spaces, nothing a log or header parser could
# take for structure (quotes, commas, semicolons, equals signs).
SANE = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_LENGTH}}}")


def accepted(value: str | None) -> str | None:
    """The caller's id when it is sane, else None."""
    if value and SANE.fullmatch(value):
        return value
    return None


def new_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE, so answers of the middleware after it (redirects, 400s, 503s)
    carry the id too. The id stays set until the response is finished: Django logs 4xx and
    5xx answers after the middleware has returned (`django.request`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        ident = accepted(request.META.get(META_KEY)) or new_id()
        request.request_id = ident
        request_id.set(ident)
        response = self.get_response(request)
        response[HEADER] = ident
        return response


def _forget(**kwargs) -> None:
    """A thread serves one request after another: no id outlives its request."""
    request_id.set(None)


request_started.connect(_forget, dispatch_uid="observability-request-id-start")
request_finished.connect(_forget, dispatch_uid="observability-request-id-finish")

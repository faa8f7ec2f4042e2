"""The staff admin in the business's time zone; refused requests logged on one line, and
request lines without codes.

Nothing here imports models: settings load the log filter before the apps are ready.
"""

from __future__ import annotations

import logging
from functools import cache

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from giftcards_project.gunicorn_logging import redact_text


@cache
def _admin_prefix(urlconf: str) -> str | None:
    """Where the admin is mounted in `urlconf`, or None when it has no admin (a test's)."""
    try:
        return reverse("admin:index", urlconf=urlconf)
    except NoReverseMatch:
        return None


class BusinessTimezoneMiddleware:
    """Admin pages show and read datetimes in the staff user's business's zone (a card that
    expires at the end of 31 January in Tokyo reads 2031-01-31 23:59 there, not 14:59 UTC).
    Users without a business, superusers included, stay in UTC. Goes after the
    authentication middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = self.zone_for(request)
        if zone is None:
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)

    @staticmethod
    def zone_for(request):
        prefix = _admin_prefix(getattr(request, "urlconf", None) or settings.ROOT_URLCONF)
        if prefix is None or not request.path.startswith(prefix):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_staff:
            return None
        if getattr(user, "business_id", None) is None:
            return None
        return user.business.tzinfo  # loaded once per request; the header shows it too


class OneLineClientErrors(logging.Filter):
    """Django logs a refused request (403 PermissionDenied, 400 ...) with the exception's
    whole traceback, which buries real errors, and a suspicious one (a Host header not in
    ALLOWED_HOSTS, too many fields, ...) as an ERROR. For 4xx answers keep a one-line warning
    that names the exception; 5xx records keep their traceback. Attached to `django.request`
    and to each `django.security.*` logger (giftcards_project/client_errors.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500 and record.levelno > logging.WARNING:
            # The client's mistake (or probe), not the service's: nobody needs paging for it.
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        if record.exc_info and isinstance(status, int) and 400 <= status < 500:
            exc = record.exc_info[1]
            message = record.getMessage()
            if exc is not None:
                reason = str(exc).replace("\n", " ").strip()
                message = f"{message} [{type(exc).__name__}{': ' + reason if reason else ''}]"
            record.msg, record.args = message, None
            record.exc_info = record.exc_text = None
        return True


class RedactCodes(logging.Filter):
    """The development server logs each request line with its query string: code filter
    values (and the admin's `?q=`) are written as `[redacted]`, as gunicorn's access log does
    (giftcards_project/gunicorn_logging.py). Attached to `django.server`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True

"""Answers for requests no view answered (unknown paths, crashes, outages), each in the format
of the part of the site asked: JSON:API error documents under /api/, the plain API's JSON
(`{"detail": ...}`) elsewhere, HTML pages for the admin (in its own look: templates/admin/404.html
and 500.html) and /balance.

A database or cache outage (`giftcards.outages`) is a 503 with Retry-After, never a traceback
page, whatever DEBUG says: `OutageMiddleware` answers it when a view raised it, and also when
it came from another middleware (the admin's session and user are loaded there), which
Django turns into a 500 before any middleware can see the exception. Unexpected errors are
500s (in DEBUG, Django's debug page).
"""

from __future__ import annotations

import sys

from django.core.signals import got_request_exception
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views.defaults import page_not_found, server_error

from giftcards import outages
from giftcards.jsonapi.errors import error_object
from giftcards.jsonapi.negotiation import MEDIA_TYPE as JSONAPI_MEDIA_TYPE

JSONAPI, PLAIN, HTML = "jsonapi", "plain", "html"
SERVER_ERROR = "Internal server error."
# Set on a request whose failure Django caught outside any view and that was an outage.
OUTAGE_ATTRIBUTE = "_giftcards_outage"


def error_format(request) -> str:
    path = request.path
    if path.startswith("/admin/") or path.startswith("/balance"):
        return HTML
    if path.startswith("/api/") and not path.startswith("/api/schema"):
        return JSONAPI
    return PLAIN


def _jsonapi_error(status_code: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse(
        {"errors": [error_object(status_code, detail, code)]},
        status=status_code,
        content_type=JSONAPI_MEDIA_TYPE,
    )


def _admin(request) -> bool:
    """The staff site, whose error pages wear the admin's header (templates/admin/)."""
    return request.path.startswith("/admin/")


def not_found(request, exception=None):
    if error_format(request) == HTML:
        if _admin(request):
            return page_not_found(request, exception, template_name="admin/404.html")
        return page_not_found(request, exception)
    return JsonResponse({"detail": "Not found."}, status=404)


def server_failure(request):
    """handler500. Django calls it inside its `except`: the error is sys.exc_info()'s."""
    dependency = outages.dependency_of(sys.exc_info()[1])
    if dependency is not None:
        return outage_response(request, dependency)  # Django logs it (one line: OneLineOutages)
    kind = error_format(request)
    if kind == HTML:
        if _admin(request):
            return server_error(request, template_name="admin/500.html")
        return server_error(request)
    if kind == JSONAPI:
        return _jsonapi_error(500, SERVER_ERROR, "server_error")
    return JsonResponse({"detail": SERVER_ERROR}, status=500)


def outage_response(request, dependency: str) -> HttpResponse:
    """503 with Retry-After in the request's format; touches neither database nor cache."""
    kind = error_format(request)
    if kind == JSONAPI:
        response = _jsonapi_error(503, outages.DETAIL, "service_unavailable")
    elif kind == PLAIN:
        response = JsonResponse({"detail": outages.DETAIL}, status=503)
    else:
        # No request context: its processors would load the session's user from the database.
        html = loader.render_to_string("503.html", {"retry_after": outages.RETRY_AFTER})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(outages.RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def _note_outage(sender, request=None, **kwargs):
    """got_request_exception: Django caught an error outside any view's reach; remember on
    the request when it was an outage, for OutageMiddleware to answer."""
    dependency = outages.dependency_of(sys.exc_info()[1])
    if dependency is not None and request is not None:
        setattr(request, OUTAGE_ATTRIBUTE, dependency)


class OutageMiddleware:
    """Database and cache outages -> 503 in the request's format (see the module docstring).

    Goes near the top of MIDDLEWARE so that it wraps the middleware that may hit the
    database; the exceptions of views reach `process_exception` wherever it is."""

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_note_outage, dispatch_uid="giftcards-outage")

    def __call__(self, request):
        response = self.get_response(request)
        dependency = getattr(request, OUTAGE_ATTRIBUTE, None)
        if dependency is not None and response.status_code == 500:
            # Django has logged it already (one line, through OneLineOutages).
            response = outages.mark_logged(outage_response(request, dependency))
        return response

    def process_exception(self, request, exception):
        dependency = outages.dependency_of(exception)
        if dependency is None:
            return None
        outages.log(dependency, exception, request)
        return outages.mark_logged(outage_response(request, dependency))

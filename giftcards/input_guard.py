"""A query string, or a form post to /balance, holding text no store can hold
(giftcards/text.py) is a 400 before any view runs, in the format of the part of the site that
was asked. JSON bodies are checked by the APIs' parsers, which point into the document. The
staff admin is left to itself: its searches, filters and autocompletes drop NUL characters
(clients/admin.py, a scanned code may carry one) and its forms refuse them field by field.
"""

from __future__ import annotations

import json

from django.http import HttpResponse, JsonResponse
from django.views.defaults import bad_request

from giftcards import text
from giftcards.jsonapi.errors import error_object

JSONAPI_MEDIA_TYPE = "application/vnd.api+json"
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _admin(path: str) -> bool:
    return path.startswith("/admin/")


def _html_site(path: str) -> bool:
    return path.startswith("/balance")


def _jsonapi(path: str) -> bool:
    return path.startswith("/api/") and not path.startswith("/api/schema")


class InputGuardMiddleware:
    """Goes early: nothing before it reads parameters. Costs one regular expression search per
    parameter name and value; a request without a query string or form body costs nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        found = self.find(request)
        if found is not None:
            return self.refuse(request, *found)
        return self.get_response(request)

    @staticmethod
    def find(request) -> tuple[str, str, str] | None:
        """(where, parameter name, why) of the first bad parameter, else None."""
        sources = []
        if _admin(request.path):
            return None
        if request.META.get("QUERY_STRING"):
            sources.append(("query", request.GET))
        if (
            request.method == "POST"
            and _html_site(request.path)
            and request.content_type in FORM_MEDIA_TYPES
        ):
            sources.append(("form", request.POST))
        for where, data in sources:
            for name, values in data.lists():
                reason = text.problem(name, "A parameter name")
                if reason is not None:
                    return where, name, reason
                for value in values:
                    reason = text.problem(value)
                    if reason is not None:
                        return where, name, reason
        return None

    @staticmethod
    def refuse(request, where: str, name: str, reason: str) -> HttpResponse:
        label = "query parameter" if where == "query" else "field"
        detail = f"The {label} {name!r}: {reason}"
        if _html_site(request.path):
            return bad_request(request, exception=None)
        if _jsonapi(request.path):
            error = error_object(400, detail, text.CODE, parameter=name)
            # ASCII JSON: a parameter name is echoed, and must never fail to encode.
            return HttpResponse(
                json.dumps({"errors": [error]}),
                status=400,
                content_type=JSONAPI_MEDIA_TYPE,
            )
        return JsonResponse(
            {"detail": detail}, status=400, json_dumps_params={"ensure_ascii": True}
        )

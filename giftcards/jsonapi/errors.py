"""Every failure of the JSON:API as JSON:API error objects, from one handler.

Statuses: 400 for input that cannot be accepted as sent (malformed documents, wrong types,
missing or unknown members, bad query parameters: DRF's convention, kept for every attribute
error); 409 for a `type`/`id` that is not the endpoint's and for uniqueness conflicts; 422
for a well-formed request the card's state refuses (illegal trigger, insufficient balance,
expired, ...), whose detail names the current status; 404 for what the key cannot see; 503
with Retry-After when the database or the shared cache is down (`giftcards.outages`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from giftcards import exceptions as domain
from giftcards import outages
from giftcards.idempotency import HEADER as IDEMPOTENCY_HEADER
from giftcards.idempotency import InvalidIdempotencyKey, RequestInProgress

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable entity",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
DOMAIN_STATUS = {
    domain.InvalidAmount: status.HTTP_400_BAD_REQUEST,
    domain.InvalidCurrency: status.HTTP_400_BAD_REQUEST,
    domain.InvalidCode: status.HTTP_400_BAD_REQUEST,
    InvalidIdempotencyKey: status.HTTP_400_BAD_REQUEST,
    RequestInProgress: status.HTTP_409_CONFLICT,
    domain.DuplicateCode: status.HTTP_409_CONFLICT,
    domain.AlreadyRefunded: status.HTTP_409_CONFLICT,
    domain.InvalidValue: status.HTTP_400_BAD_REQUEST,
    domain.Duplicate: status.HTTP_409_CONFLICT,
    domain.InUse: status.HTTP_409_CONFLICT,
    # Deleted cards are invisible here; only a race with a DELETE can get this far.
    domain.CardDeleted: status.HTTP_404_NOT_FOUND,
    domain.CardNotFound: status.HTTP_404_NOT_FOUND,
    # An attachment for a row the key cannot see, as RelatedNotFound for typed relationships.
    domain.AttachableNotFound: status.HTTP_404_NOT_FOUND,
    domain.PreconditionFailed: status.HTTP_412_PRECONDITION_FAILED,
}
# Subjects that are request headers, not members of the document.
HEADER_SUBJECTS = {"idempotency_key": IDEMPOTENCY_HEADER, "version": "If-Match"}


# ---------------------------------------------------------------------------- exceptions


class DocumentError(exceptions.ParseError):
    """A request document that is not shaped as JSON:API requires."""

    def __init__(self, detail: str, pointer: str, code: str = "invalid_document") -> None:
        super().__init__(detail, code=code)
        self.pointer = pointer


class _Pointing:
    """An API error that points at the member of the request document it is about."""

    def __init__(self, detail=None, code=None, *, pointer: str | None = None) -> None:
        super().__init__(detail, code)
        self.pointer = pointer


class Conflict(_Pointing, exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"


class Forbidden(_Pointing, exceptions.PermissionDenied):
    pass


class RelatedNotFound(_Pointing, exceptions.NotFound):
    """A relationship in a request names a resource this key cannot see (JSON:API: 404)."""

    default_code = "related_not_found"


class InvalidQueryParameter(exceptions.ValidationError):
    """400 naming the query parameter(s) at fault in `source.parameter`."""

    def __init__(
        self, problems: list[tuple[str, str]] | str, detail: str = "", code="invalid_parameter"
    ):
        if isinstance(problems, str):
            problems = [(problems, detail)]
        self.problems = [(parameter, message, code) for parameter, message in problems]
        super().__init__([message for _, message in problems], code=code)


# ---------------------------------------------------------------------------- rendering


def escape_pointer_token(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def error_object(
    status_code: int,
    detail: str,
    code: str | None = None,
    *,
    title: str | None = None,
    pointer: str | None = None,
    parameter: str | None = None,
    header: str | None = None,
) -> dict:
    error = {
        "status": str(status_code),
        "code": str(code or "error"),
        "title": title or TITLES.get(status_code, "Error"),
        "detail": str(detail),
    }
    source = {}
    if pointer is not None:
        source["pointer"] = pointer
    if parameter is not None:
        source["parameter"] = parameter
    if header is not None:
        source["header"] = header  # JSON:API 1.1's member; 1.0 leaves `source` open
    if source:
        error["source"] = source
    return error


def _flatten(detail, pointer: str) -> Iterator[tuple[str, object]]:
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _flatten(value, f"{pointer}/{escape_pointer_token(key)}")
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                yield from _flatten(item, f"{pointer}/{index}")
            else:
                yield pointer, item
    else:
        yield pointer, detail


def member_pointer(view, request, name: str) -> str:
    """Where a serializer field's error points: the section the client sent it in, else the
    section the field belongs to."""
    if name in ("non_field_errors", "detail"):
        return "/data"
    data = getattr(request, "_full_data", None) if request is not None else None
    if name in getattr(data, "relationship_names", ()):
        return f"/data/relationships/{escape_pointer_token(name)}"
    if name in getattr(data, "attribute_names", ()):
        return f"/data/attributes/{escape_pointer_token(name)}"
    relationships = getattr(view, "relationship_names", lambda: ())()
    section = "relationships" if name in relationships else "attributes"
    return f"/data/{section}/{escape_pointer_token(name)}"


def domain_error(exc: domain.GiftCardError, view, request) -> tuple[int, dict]:
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    for cls in type(exc).__mro__:
        if cls in DOMAIN_STATUS:
            status_code = DOMAIN_STATUS[cls]
            break
    title = exc.code.replace("_", " ").capitalize()
    subject = exc.subject
    if subject in HEADER_SUBJECTS or isinstance(exc, InvalidIdempotencyKey):
        header = HEADER_SUBJECTS.get(subject, IDEMPOTENCY_HEADER)
        return status_code, error_object(
            status_code, exc.message, exc.code, title=title, header=header
        )
    pointer = getattr(exc, "jsonapi_pointer", None)
    if pointer is None and subject and subject not in ("deleted_at", "card"):
        name = getattr(view, "domain_fields", {}).get(subject, subject)
        pointer = member_pointer(view, request, name)
    if pointer is None and status_code != status.HTTP_404_NOT_FOUND and request.method != "DELETE":
        pointer = "/data"  # a DELETE has no document to point into
    return status_code, error_object(
        status_code, exc.message, exc.code, title=title, pointer=pointer
    )


def _api_errors(exc: exceptions.APIException, view, request) -> list[dict]:
    status_code = exc.status_code
    if isinstance(exc, InvalidQueryParameter):
        return [
            error_object(status_code, message, code, parameter=parameter)
            for parameter, message, code in exc.problems
        ]
    pointer = getattr(exc, "pointer", None)
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError) and isinstance(detail, dict):
        errors = []
        for name, value in detail.items():
            base = member_pointer(view, request, name)
            for at, message in _flatten(value, base):
                errors.append(
                    error_object(status_code, message, getattr(message, "code", None), pointer=at)
                )
        return errors
    messages = list(_flatten(detail, pointer or ""))
    return [
        error_object(
            status_code,
            message,
            getattr(message, "code", None) or exc.default_code,
            pointer=pointer,
        )
        for _, message in messages
    ]


def _unique(errors: list[dict]) -> list[dict]:
    return list({json.dumps(error, sort_keys=True): error for error in errors}.values())


def jsonapi_exception_handler(exc, context):
    """DRF exception handler of the JSON:API views: a list of error objects, which the
    JSON:API renderer wraps in `{"errors": [...]}`."""
    view = context.get("view")
    request = context.get("request")
    headers = {}
    dependency = outages.dependency_of(exc)
    if dependency is not None:
        return outage_response(exc, dependency, view, request)
    if isinstance(exc, RequestDataTooBig):
        status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        errors = [error_object(status_code, "The request body is too large.", "too_large")]
    elif isinstance(exc, domain.GiftCardError):
        status_code, error = domain_error(exc, view, request)
        errors = [error]
    else:
        if isinstance(exc, Http404):
            exc = exceptions.NotFound(*(exc.args or ("Not found.",)))
        elif isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied(*exc.args)
        if not isinstance(exc, exceptions.APIException):
            return None
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = f"{int(exc.wait)}"
        status_code = exc.status_code
        errors = _api_errors(exc, view, request)
    set_rollback()
    if view is not None:
        view.resource_name = "errors"
    return Response(_unique(errors), status=status_code, headers=headers)


def outage_response(exc, dependency: str, view, request) -> Response:
    """503 with Retry-After for a database or cache outage, logged on one line."""
    outages.log(dependency, exc, request)
    set_rollback()
    if view is not None:
        view.resource_name = "errors"
    detail = exc.detail if isinstance(exc, outages.ServiceUnavailable) else outages.DETAIL
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    response = Response(
        [error_object(status_code, detail, "service_unavailable")],
        status=status_code,
        headers={"Retry-After": str(outages.RETRY_AFTER)},
    )
    return outages.mark_logged(response)

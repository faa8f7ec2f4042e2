"""Every failure of the JSON:API as JSON:API error objects, from one handler, with Commerce
Layer's statuses and codes (docs/errors.md lists them all).

Each error object has `status`, an upper-case Commerce Layer `code`, `title`, `detail`,
`source` (`pointer`, `parameter` or `header`) when one thing is at fault, and `meta.error`:
our precise lower-case reason (`required`, `max_value`, `insufficient_balance`, ...).

- A well-formed request that fails validation (a member's value, or a refusal by the card's
  state: illegal trigger, insufficient balance, expired, ...) is a 422 `VALIDATION_ERROR`
  whose `detail` reads `"<attribute> - <message>"` and whose `title` is the message, as
  Commerce Layer's are.
- A malformed request stays a 400 with Commerce Layer's code for what is wrong: the document
  (`BAD_REQUEST`, `PARAM_MISSING`, `INVALID_DATA_FORMAT`), a member the client may not send
  (`PARAM_NOT_ALLOWED`), or a query parameter (`INVALID_FILTER_VALUE`, `INVALID_SORT_CRITERIA`,
  `INVALID_INCLUDE`, `INVALID_PAGE_VALUE`, ...).
- 409 for a `type`/`id` that is not the endpoint's and for uniqueness and state conflicts;
  404 for what the key cannot see; 503 with Retry-After when the database or the shared cache
  is down (`giftcards.outages`).

The statuses and codes are decided here, from our exceptions and reasons, in the tables
below: the places that raise errors only say what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from giftcards import exceptions as domain
from giftcards import outages
from giftcards import text as text_rules
from giftcards.idempotency import HEADER as IDEMPOTENCY_HEADER
from giftcards.idempotency import InvalidIdempotencyKey, RequestInProgress

VALIDATION_ERROR = "VALIDATION_ERROR"
# Commerce Layer's code of each status, where no finer rule below applies. Statuses it gives
# no code (405, 409, 410, 412, 413, 429, 503) have the status's name in the same style.
STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "RECORD_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    410: "GONE",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: VALIDATION_ERROR,
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
# Titles of the codes (a VALIDATION_ERROR's title is its message).
TITLES = {
    "BAD_REQUEST": "Bad request",
    "PARAM_MISSING": "Missing parameter",
    "PARAM_NOT_ALLOWED": "Param not allowed",
    "INVALID_DATA_FORMAT": "Invalid data format",
    "KEY_ORDER_MISMATCH": "A key is required",
    "FILTER_NOT_ALLOWED": "Filter not allowed",
    "INVALID_FILTERS_SYNTAX": "Invalid filters syntax",
    "INVALID_FILTER_VALUE": "Invalid filter value",
    "INVALID_SORT_CRITERIA": "Invalid sort criteria",
    "INVALID_INCLUDE": "Invalid include",
    "INVALID_FIELD": "Invalid field",
    "INVALID_FIELD_FORMAT": "Invalid field format",
    "INVALID_RESOURCE": "Invalid resource",
    "INVALID_PAGE_OBJECT": "Invalid page object",
    "INVALID_PAGE_VALUE": "Invalid page value",
    "UNAUTHORIZED": "Unauthorized",
    "INVALID_TOKEN": "Invalid token",
    "FORBIDDEN": "Forbidden",
    "RECORD_NOT_FOUND": "Record not found",
    "METHOD_NOT_ALLOWED": "Method not allowed",
    "NOT_ACCEPTABLE": "Not acceptable",
    "CONFLICT": "Conflict",
    "RECORD_NOT_UNIQUE": "Record not unique",
    "TYPE_MISMATCH": "Type mismatch",
    "KEY_NOT_INCLUDED_IN_URL": "Key is not included in URL",
    "GONE": "Gone",
    "PRECONDITION_FAILED": "Precondition failed",
    "PAYLOAD_TOO_LARGE": "Request body too large",
    "UNSUPPORTED_MEDIA_TYPE": "Unsupported media type",
    "TOO_MANY_REQUESTS": "Too many requests",
    "INTERNAL_SERVER_ERROR": "Internal server error",
    "SERVICE_UNAVAILABLE": "Service unavailable",
}
# Domain errors that are not a 422 VALIDATION_ERROR (the most specific class listed wins).
DOMAIN_ERRORS = {
    InvalidIdempotencyKey: (status.HTTP_400_BAD_REQUEST, "BAD_REQUEST"),
    RequestInProgress: (status.HTTP_409_CONFLICT, "CONFLICT"),
    domain.DuplicateCode: (status.HTTP_409_CONFLICT, "RECORD_NOT_UNIQUE"),
    domain.Duplicate: (status.HTTP_409_CONFLICT, "RECORD_NOT_UNIQUE"),
    domain.AlreadyRefunded: (status.HTTP_409_CONFLICT, "CONFLICT"),
    domain.InUse: (status.HTTP_409_CONFLICT, "CONFLICT"),
    # Deleted cards are invisible here; only a race with a DELETE can get this far.
    domain.CardDeleted: (status.HTTP_404_NOT_FOUND, "RECORD_NOT_FOUND"),
    domain.CardNotFound: (status.HTTP_404_NOT_FOUND, "RECORD_NOT_FOUND"),
    # An attachment for a row the key cannot see, as RelatedNotFound for typed relationships.
    domain.AttachableNotFound: (status.HTTP_404_NOT_FOUND, "RECORD_NOT_FOUND"),
    domain.PreconditionFailed: (status.HTTP_412_PRECONDITION_FAILED, "PRECONDITION_FAILED"),
}
# Members of a document a client may not send (unknown ones, read-only ones that change a
# value): Commerce Layer refuses them before validating, as a 400.
NOT_ALLOWED_MEMBERS = frozenset({"unknown", "read_only"})
# 401s: no credentials, or credentials that are not a valid key.
AUTHENTICATION_CODES = {
    "not_authenticated": "UNAUTHORIZED",
    "authentication_failed": "INVALID_TOKEN",
}
# Query parameters: the shape of each family's names, and the code of a bad value.
PARAMETER_SHAPES = {
    "filter": re.compile(r"^filter(\[q\])?\[\w+\]$"),
    "sort": re.compile(r"^sort$"),
    "include": re.compile(r"^include$"),
    "fields": re.compile(r"^fields\[[\w\-]+\]$"),
    "page": re.compile(r"^page\[(number|size)\]$"),
}
PARAMETER_CODES = {
    "filter": "INVALID_FILTER_VALUE",
    "sort": "INVALID_SORT_CRITERIA",
    "include": "INVALID_INCLUDE",
    "fields": "INVALID_FIELD",
    "page": "INVALID_PAGE_VALUE",
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
    """An API error that points at the member of the request document it is about; `reason`
    is the code it was raised with (DRF keeps the code of a detail that already has one)."""

    def __init__(self, detail=None, code=None, *, pointer: str | None = None) -> None:
        super().__init__(detail, code)
        self.pointer = pointer
        self.reason = code or self.default_code


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


# ---------------------------------------------------------------------------- codes


def document_code(reason: str, pointer: str | None) -> str:
    """A request document refused before validation (always a 400)."""
    if reason in ("parse_error", text_rules.CODE):
        return "BAD_REQUEST"
    if pointer == "/data/id" and reason == "required":
        return "KEY_ORDER_MISMATCH"  # jsonapi-resources' name for an update without its id
    if reason == "required" or not pointer:
        return "PARAM_MISSING"
    return "INVALID_DATA_FORMAT"


def member_status_code(reason: str) -> tuple[int, str]:
    """A member of a well-formed document that validation refused."""
    if reason in NOT_ALLOWED_MEMBERS:
        return status.HTTP_400_BAD_REQUEST, "PARAM_NOT_ALLOWED"
    return status.HTTP_422_UNPROCESSABLE_ENTITY, VALIDATION_ERROR


def parameter_code(parameter: str, view=None, request=None) -> str:
    """The code of a refused query parameter: by its family (`filter`, `sort`, `include`,
    `fields`, `page`), whether the endpoint takes that family, and, for filters, whether the
    endpoint has that filter (FILTER_NOT_ALLOWED) or not its value (INVALID_FILTER_VALUE)."""
    family = parameter.split("[", 1)[0]
    shape = PARAMETER_SHAPES.get(family)
    if shape is None:
        return "PARAM_NOT_ALLOWED"
    if not shape.match(parameter):
        if family == "filter":
            return "INVALID_FILTERS_SYNTAX"
        if parameter == "page":
            return "INVALID_PAGE_OBJECT"
        if family == "fields" and not parameter.startswith("fields["):
            return "INVALID_FIELD_FORMAT"
        return "PARAM_NOT_ALLOWED"
    if request is not None and len(request.query_params.getlist(parameter)) > 1:
        return "BAD_REQUEST"
    families = getattr(view, "query_families", None)
    if families is not None:
        try:
            allowed = families()
        except exceptions.APIException:
            allowed = frozenset()
        if family not in allowed:
            return "FILTER_NOT_ALLOWED" if family == "filter" else "PARAM_NOT_ALLOWED"
    if family == "filter" and _names_no_filter(view, request, parameter):
        return "FILTER_NOT_ALLOWED"
    if family == "fields":
        from giftcards.jsonapi import documents  # documents' fields, loaded with the views

        if parameter[len("fields[") : -1] not in documents.FIELDS:
            return "INVALID_RESOURCE"
    return PARAMETER_CODES[family]


def _names_no_filter(view, request, parameter: str) -> bool:
    """Whether `parameter` (with a value) names a filter the view's filter set does not have;
    a known filter's problem is its value."""
    if request is None or not request.query_params.get(parameter):
        return False
    filterset = getattr(view, "filterset_class", None)
    if filterset is None:
        return True
    name = parameter.removeprefix("filter[q][").removeprefix("filter[").removesuffix("]")
    if not parameter.startswith("filter[q]["):
        name = filterset.short_form(name)
        if name is None:
            return True
    resolve = getattr(filterset, "resolve", None)
    return resolve(name) is None if resolve is not None else name not in filterset.base_filters


def other_code(exc: exceptions.APIException, reason: str, pointer: str | None, view) -> str:
    """The code of an API error that is neither a document's nor a member's nor a query
    parameter's."""
    status_code = exc.status_code
    if status_code == status.HTTP_401_UNAUTHORIZED:
        return AUTHENTICATION_CODES.get(reason, "UNAUTHORIZED")
    if status_code == status.HTTP_404_NOT_FOUND and _is_route(exc, view):
        return "INVALID_RESOURCE"
    if status_code == status.HTTP_409_CONFLICT:
        if pointer == "/data/id":
            return "KEY_NOT_INCLUDED_IN_URL"
        if reason == "type_mismatch" or (pointer or "").endswith("/type"):
            return "TYPE_MISMATCH"
    return STATUS_CODES.get(status_code, "BAD_REQUEST" if status_code < 500 else "ERROR")


def _is_route(exc, view) -> bool:
    """A 404 for a path that names no resource type or relationship (not a missing record)."""
    if isinstance(exc, RelatedNotFound) or view is None:
        return False
    from giftcards.jsonapi.views.base import NotFoundView  # the views import this module

    if isinstance(view, NotFoundView):
        return True
    name = (getattr(view, "kwargs", None) or {}).get("related_field")
    if name is None:
        return False
    # A viewset's relationships: `relations`, and the gift cards' `related_resources` (their
    # `linkage` at /relationships/).
    linkage = getattr(view, "action", None) in ("relationship", "relationship_write")
    known = ("relations", "linkage" if linkage else "related_resources")
    return not any(name in getattr(view, names, {}) for names in known)


def response_status(errors: list[dict]) -> int:
    """One status for the response: the errors', or 400 when they differ (JSON:API: the most
    generally applicable)."""
    statuses = {int(error["status"]) for error in errors}
    return statuses.pop() if len(statuses) == 1 else status.HTTP_400_BAD_REQUEST


# ---------------------------------------------------------------------------- rendering


def escape_pointer_token(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape_pointer_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def attribute_of(pointer: str | None, header: str | None = None) -> str:
    """The name a VALIDATION_ERROR's detail starts with: the member the pointer is in (an
    attribute or a relationship), the header, else `base` (the resource as a whole)."""
    if header is not None:
        return header
    tokens = (pointer or "").split("/")
    if len(tokens) >= 4 and tokens[2] in ("attributes", "relationships"):
        return unescape_pointer_token(tokens[3])
    return "base"


def error_object(
    status_code: int,
    detail: str,
    reason: str | None = None,
    *,
    code: str | None = None,
    title: str | None = None,
    pointer: str | None = None,
    parameter: str | None = None,
    header: str | None = None,
) -> dict:
    """One JSON:API error object. `reason` is our lower-case reason (`meta.error`); `code`
    the Commerce Layer code, else the status's (a query parameter's by its family)."""
    message = str(detail)
    if code is None:
        if parameter is not None and status_code == status.HTTP_400_BAD_REQUEST:
            code = parameter_code(parameter)
        else:
            code = STATUS_CODES.get(status_code, "ERROR")
    if code == VALIDATION_ERROR:
        title = title or message
        message = f"{attribute_of(pointer, header)} - {message}"
    error = {
        "status": str(status_code),
        "code": code,
        "title": title or TITLES.get(code, "Error"),
        "detail": message,
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
    error["meta"] = {"error": str(reason or code.lower())}
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


def domain_error(exc: domain.GiftCardError, view, request) -> dict:
    status_code, code = status.HTTP_422_UNPROCESSABLE_ENTITY, VALIDATION_ERROR
    for cls in type(exc).__mro__:
        if cls in DOMAIN_ERRORS:
            status_code, code = DOMAIN_ERRORS[cls]
            break
    subject = exc.subject
    if subject in HEADER_SUBJECTS or isinstance(exc, InvalidIdempotencyKey):
        header = HEADER_SUBJECTS.get(subject, IDEMPOTENCY_HEADER)
        return error_object(status_code, exc.message, exc.code, code=code, header=header)
    pointer = getattr(exc, "jsonapi_pointer", None)
    if pointer is None and subject and subject not in ("deleted_at", "card"):
        name = getattr(view, "domain_fields", {}).get(subject, subject)
        pointer = member_pointer(view, request, name)
    if pointer is None and status_code != status.HTTP_404_NOT_FOUND and request.method != "DELETE":
        pointer = "/data"  # a DELETE has no document to point into
    return error_object(status_code, exc.message, exc.code, code=code, pointer=pointer)


def _api_errors(exc: exceptions.APIException, view, request) -> list[dict]:
    if isinstance(exc, InvalidQueryParameter):
        return [
            error_object(
                exc.status_code,
                message,
                reason,
                code=parameter_code(parameter, view, request),
                parameter=parameter,
            )
            for parameter, message, reason in exc.problems
        ]
    pointer = getattr(exc, "pointer", None)
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        if not isinstance(detail, dict):
            detail = {"non_field_errors": detail}
        errors = []
        for name, value in detail.items():
            base = member_pointer(view, request, name)
            for at, message in _flatten(value, base):
                reason = _reason(message, exc)
                status_code, code = member_status_code(reason)
                errors.append(error_object(status_code, message, reason, code=code, pointer=at))
        return errors
    errors = []
    for _, message in _flatten(detail, pointer or ""):
        reason = getattr(exc, "reason", None) or _reason(message, exc)
        if isinstance(exc, exceptions.ParseError):  # DocumentError too: the document's shape
            code = document_code(reason, pointer)
        else:
            code = other_code(exc, reason, pointer, view)
        errors.append(error_object(exc.status_code, message, reason, code=code, pointer=pointer))
    return errors


def _reason(message, exc: exceptions.APIException) -> str:
    return getattr(message, "code", None) or exc.default_code


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
        too_large = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        errors = [error_object(too_large, "The request body is too large.", "too_large")]
    elif isinstance(exc, domain.GiftCardError):
        errors = [domain_error(exc, view, request)]
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
        errors = _api_errors(exc, view, request)
    set_rollback()
    if view is not None:
        view.resource_name = "errors"
    errors = _unique(errors)
    return Response(errors, status=response_status(errors), headers=headers)


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

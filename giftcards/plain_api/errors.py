"""Domain errors -> the plain API's error bodies (DRF's usual shape, the field named); a
database or cache outage -> 503 with Retry-After (`giftcards.outages`).

Every error body keeps DRF's shape (`{"amount": ["..."]}`, `{"detail": "..."}`) and adds
`errors`, one object per message with a stable machine-readable `code`:

    {"amount": ["Must be greater than zero."],
     "errors": [{"field": "amount", "code": "zero", "message": "Must be greater than zero."}]}

`field` is the body's key for that message (a field, a header such as `Idempotency-Key`, a
query parameter), or null for a message about the whole request (`detail`,
`non_field_errors`). The codes are listed, with when each happens, in
docs/plain-api-errors.md; a code not in `CODES` is never sent (it is replaced by its status's
generic code), so clients only ever see documented codes.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from giftcards import exceptions, outages
from giftcards.idempotency import InvalidIdempotencyKey, RequestInProgress

# Input the client can fix -> 400; a conflict with the resource's state -> 409; a business rule
# that refuses the operation -> 422.
STATUS_BY_ERROR = {
    exceptions.InvalidAmount: status.HTTP_400_BAD_REQUEST,
    exceptions.InvalidCurrency: status.HTTP_400_BAD_REQUEST,
    exceptions.InvalidCode: status.HTTP_400_BAD_REQUEST,
    InvalidIdempotencyKey: status.HTTP_400_BAD_REQUEST,
    exceptions.DuplicateCode: status.HTTP_409_CONFLICT,
    exceptions.AlreadyRefunded: status.HTTP_409_CONFLICT,
    RequestInProgress: status.HTTP_409_CONFLICT,
    exceptions.CardNotFound: status.HTTP_404_NOT_FOUND,
    exceptions.PreconditionFailed: status.HTTP_412_PRECONDITION_FAILED,
}
# Domain subjects -> this API's field names (a view may override some: `error_fields`).
DEFAULT_FIELDS = {
    "amount_cents": "amount",
    "balance_cents": "balanceAmount",
    "balance_max_cents": "balanceAmount",
    "currency_code": "amount",
    "expires_at": "expireDate",
    "deleted_at": "active",
    "status": "status",
    "client": "clientId",
    "card": None,
    "version": None,
    "idempotency_key": "Idempotency-Key",
}


# The card statuses the plain API has no word for (it shows such cards "Active"), in its words.
NOT_ACTIVE = {
    "draft": "This card has not been activated yet, so it cannot take payments.",
    "inactive": "This card has been deactivated, so it cannot take payments.",
    "redeemed": "This card is used up (its balance is {balance}), so it cannot take payments.",
}


def plain_message(exc: exceptions.GiftCardError) -> str:
    """The refusal in this API's words: statuses it does not show are described."""
    if not isinstance(exc, exceptions.CardNotActive) or exc.status not in NOT_ACTIVE:
        return exc.message
    if exc.status == "redeemed" and exc.balance is None:
        return "This single-use card has been used, so it cannot take more payments."
    return NOT_ACTIVE[exc.status].format(balance=exc.balance)


def status_for(exc: exceptions.GiftCardError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return status.HTTP_422_UNPROCESSABLE_ENTITY


# Every code the plain API sends in `errors` (docs/plain-api-errors.md documents each).
FIELD_CODES = frozenset(
    {
        # Input fields and query parameters (DRF's and this API's fields).
        "required",
        "null",
        "blank",
        "invalid",
        "invalid_choice",
        "not_a_string",
        "max_length",
        "min_value",
        "max_value",
        "negative",
        "zero",
        "too_large",
        "out_of_range",
        "implausible",
        "invalid_character",
        "unknown_field",
        "not_an_object",
        "invalid_id",
        "does_not_exist",
        "wrong_business",
        "client_required",
        "client_deleted",
        "exceeds_amount",
        "immutable",
        "refund_takes_no_body",
    }
)
DOMAIN_CODES = frozenset(
    {
        "giftcard_error",
        "not_found",
        "precondition_failed",
        "invalid_amount",
        "invalid_currency",
        "currency_mismatch",
        "insufficient_balance",
        "balance_max_exceeded",
        "card_not_active",
        "card_expired",
        "card_deleted",
        "not_rechargeable",
        "illegal_transition",
        "invalid_code",
        "duplicate_code",
        "already_refunded",
        "refund_exceeds_payment",
        "not_refundable",
        "idempotency_conflict",
        "invalid_idempotency_key",
        "idempotency_key_in_use",
    }
)
HTTP_CODES = frozenset(
    {
        "parse_error",
        "not_authenticated",
        "authentication_failed",
        "permission_denied",
        "method_not_allowed",
        "not_acceptable",
        "unsupported_media_type",
        "request_too_large",
        "throttled",
        "service_unavailable",
    }
)
# What a code outside CODES becomes, by status; the last resort is `error`.
GENERIC_CODES = {400: "invalid", 404: "not_found", 409: "conflict", 422: "refused"}
CODES = FIELD_CODES | DOMAIN_CODES | HTTP_CODES | {*GENERIC_CODES.values(), "error"}
# Body keys that are not fields: their messages are about the whole request.
WHOLE_REQUEST = frozenset({"detail", "non_field_errors"})


def error(field: str | None, code: str, message: str) -> dict:
    return {"field": None if field in WHOLE_REQUEST else field, "code": code, "message": message}


def _details(field: str | None, details) -> list[dict]:
    """`get_full_details()` of a DRF exception as `errors` entries."""
    if isinstance(details, dict) and set(details) == {"message", "code"}:
        return [error(field, str(details["code"]), str(details["message"]))]
    if isinstance(details, dict):
        return [entry for name, inner in details.items() for entry in _details(str(name), inner)]
    if isinstance(details, list):
        return [entry for inner in details for entry in _details(field, inner)]
    return [error(field, "invalid", str(details))]


def error_list(exc, response: Response) -> list[dict]:
    """The `errors` of a response built for `exc`, every code one of CODES."""
    data = response.data
    if isinstance(exc, exceptions.GiftCardError):
        (field, messages), *_ = data.items()
        found = [error(field, exc.code, messages[0] if isinstance(messages, list) else messages)]
    elif isinstance(exc, drf_exceptions.APIException):
        found = _details(None, exc.get_full_details())
    else:
        code = {
            Http404: "not_found",
            PermissionDenied: "permission_denied",
            RequestDataTooBig: "request_too_large",
        }.get(type(exc), "error")
        found = [error(None, code, str(data.get("detail", "")))]
    if response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        found = [error(None, "service_unavailable", str(data.get("detail", "")))]
    generic = GENERIC_CODES.get(response.status_code, "error")
    return [entry if entry["code"] in CODES else {**entry, "code": generic} for entry in found]


def plain_exception_handler(exc, context):
    response = _error_response(exc, context)
    if response is not None and isinstance(response.data, dict):
        response.data["errors"] = error_list(exc, response)
    return response


def _error_response(exc, context):
    dependency = outages.dependency_of(exc)
    if dependency is not None:
        outages.log(dependency, exc, context.get("request"))
        set_rollback()
        detail = exc.detail if isinstance(exc, outages.ServiceUnavailable) else outages.DETAIL
        response = Response(
            {"detail": detail},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(outages.RETRY_AFTER)},
        )
        return outages.mark_logged(response)
    if isinstance(exc, exceptions.GiftCardError):
        view = context.get("view")
        fields = {**DEFAULT_FIELDS, **getattr(view, "error_fields", {})}
        field = fields.get(exc.subject, exc.subject) if exc.subject else None
        message = plain_message(exc)
        body = {field: [message]} if field else {"detail": message}
        statuses = getattr(view, "error_statuses", {})
        return Response(body, status=statuses.get(type(exc)) or status_for(exc))
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "The request body is too large."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return exception_handler(exc, context)

"""Domain errors -> the plain API's error bodies (DRF's usual shape, the field named); a
database or cache outage -> 503 with Retry-After (`giftcards.outages`)."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
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


def plain_exception_handler(exc, context):
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

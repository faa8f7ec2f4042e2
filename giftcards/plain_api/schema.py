"""The plain API in OpenAPI (served at /api/schema): its response shapes, the headers it
reads, and a hook that keeps the schema to this API.

The JSON:API (/api/...) is left out: its documents are described by seed 003 and by
JSON:API 1.0 itself, and an OpenAPI rendering of flattened attributes would mislead client
generators. Responses here are built by the `*_data` functions of `serializers.py`; the
serializers below only describe them (a test checks the two agree).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from giftcards.plain_api.errors import CODES

MAJOR_UNITS = "Major units of the card's currency: an integer when whole, else a decimal."
EPOCH_MS = "Milliseconds since 1970-01-01T00:00:00Z."


class GiftCardShape(serializers.Serializer):
    active = serializers.BooleanField(help_text="False once the card is soft-deleted.")
    amount = serializers.FloatField(help_text=f"The initial balance. {MAJOR_UNITS}")
    balanceAmount = serializers.FloatField(help_text=MAJOR_UNITS)
    businessId = serializers.IntegerField()
    clientId = serializers.IntegerField(allow_null=True)
    createdDate = serializers.IntegerField(help_text=EPOCH_MS)
    createdUser = serializers.CharField()
    expireDate = serializers.DateField(
        allow_null=True, help_text="Last valid day, in the business's time zone."
    )
    giftCardUUId = serializers.CharField(min_length=22, max_length=22)
    modifiedDate = serializers.IntegerField(help_text=EPOCH_MS)
    modifiedUser = serializers.CharField()
    purchaseDate = serializers.IntegerField(allow_null=True, help_text=EPOCH_MS)
    status = serializers.ChoiceField(choices=["Active", "Deleted", "Expired"])


class ClientShape(serializers.Serializer):
    clientId = serializers.IntegerField()
    businessId = serializers.IntegerField()
    firstName = serializers.CharField()
    lastName = serializers.CharField()
    fullName = serializers.CharField()
    emailAddress = serializers.EmailField(allow_null=True)
    cellPhone = serializers.CharField(allow_null=True)
    active = serializers.BooleanField()
    createdDate = serializers.IntegerField(help_text=EPOCH_MS)
    createdUser = serializers.CharField()
    modifiedDate = serializers.IntegerField(help_text=EPOCH_MS)
    modifiedUser = serializers.CharField()


class RefundShape(serializers.Serializer):
    refundId = serializers.IntegerField()
    paymentId = serializers.IntegerField(help_text="The payment it gives back (part of).")
    giftCardUUId = serializers.CharField(min_length=22, max_length=22)
    amount = serializers.FloatField(help_text=MAJOR_UNITS)
    balanceAmount = serializers.FloatField(help_text=f"The balance after it. {MAJOR_UNITS}")
    refundDate = serializers.IntegerField(help_text=EPOCH_MS)
    comment = serializers.CharField(allow_null=True)
    createdUser = serializers.CharField()


class PaymentShape(serializers.Serializer):
    paymentId = serializers.IntegerField()
    giftCardUUId = serializers.CharField(min_length=22, max_length=22)
    amount = serializers.FloatField(help_text=MAJOR_UNITS)
    balanceAmount = serializers.FloatField(help_text=f"The balance after it. {MAJOR_UNITS}")
    invoiceId = serializers.CharField(allow_null=True)
    paymentDate = serializers.IntegerField(help_text=EPOCH_MS)
    comment = serializers.CharField(allow_null=True)
    refunded = serializers.BooleanField(help_text="True once refunds give all of it back.")
    refundedDate = serializers.IntegerField(
        allow_null=True, help_text=f"When it was last refunded. {EPOCH_MS}"
    )
    refundedAmount = serializers.FloatField(help_text=f"What its refunds gave back. {MAJOR_UNITS}")
    refunds = RefundShape(many=True, help_text="Its refunds, oldest first.")
    createdDate = serializers.IntegerField(help_text=EPOCH_MS)
    createdUser = serializers.CharField()


class ErrorItemShape(serializers.Serializer):
    field = serializers.CharField(
        allow_null=True,
        help_text=(
            "The body key the message is under (a field, a header such as Idempotency-Key, a "
            "query parameter); null when it is about the whole request."
        ),
    )
    code = serializers.ChoiceField(
        choices=sorted(CODES),
        help_text="Stable and machine-readable; each is described in docs/plain-api-errors.md.",
    )
    message = serializers.CharField(help_text="For people; may change.")


class ErrorShape(serializers.Serializer):
    detail = serializers.CharField(
        required=False,
        help_text="A message; field errors come instead as {field: [messages]}.",
    )
    errors = ErrorItemShape(
        many=True, help_text="Every message of the body, each with its field and code."
    )


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=(
        "Up to 255 printable characters. A retry with the same key and body gets the first "
        "response again (header `Idempotent-Replayed: true`) and moves nothing; the same key "
        "with another body is a 422."
    ),
)

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description=(
        "On an update: the ETag of the card as you read it. If the card changed since (a "
        "payment, say), the update is refused with 412 and nothing is written."
    ),
)

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description=(
        "ETags of representations you hold (or `*`). When one is the current one's, the "
        "answer is 304 with no body. Compared weakly: a `W/` prefix is ignored."
    ),
)
ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 304],
    description=(
        "Strong validator of this representation: send it back in If-None-Match. A card's "
        "also names the card's version, so it serves as If-Match on POST /giftcards."
    ),
)
NOT_MODIFIED = OpenApiResponse(
    None, "Not Modified: If-None-Match names the current ETag. No body; the ETag is sent."
)
CLIENT_PAGE_PARAMETERS = [
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1, "maximum": 10**9, "default": 1},
        OpenApiParameter.QUERY,
        description="The page, from 1. A page past the last is an empty array.",
    ),
    OpenApiParameter(
        "pageSize",
        {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
        OpenApiParameter.QUERY,
        description="Clients per page, 1 to 500 (default 100).",
    ),
]
# A bare JSON integer (GET /clients/count).
COUNT = OpenApiTypes.INT

# Path parameters as the API reads them (the routes match any segment, then check it).
PATH_PARAMETERS = {
    "card_id": OpenApiParameter(
        "card_id", {"type": "string", "pattern": "^[A-Za-z0-9_-]{22}$"}, OpenApiParameter.PATH
    ),
    "client_id": OpenApiParameter(
        "client_id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH
    ),
    "payment_id": OpenApiParameter(
        "payment_id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH
    ),
}

ERRORS = {
    400: OpenApiResponse(
        ErrorShape, "Bad input; each offending field (or query parameter) is named."
    ),
    401: OpenApiResponse(ErrorShape, "No valid API key."),
    404: OpenApiResponse(ErrorShape, "Not found for this key's business and mode."),
    409: OpenApiResponse(ErrorShape, "Conflicts with the current state (e.g. refunded in full)."),
    422: OpenApiResponse(ErrorShape, "Refused by a business rule (balance, status, expiry)."),
    429: OpenApiResponse(
        ErrorShape, "Too many requests for this key; `Retry-After` says when to retry."
    ),
    503: OpenApiResponse(
        ErrorShape, "The database or the cache is unavailable; `Retry-After` says when to retry."
    ),
}
BODY_ERRORS = {
    413: OpenApiResponse(ErrorShape, "The body is larger than 256 KiB."),
    415: OpenApiResponse(ErrorShape, "The body is not application/json."),
}


def document(
    *,
    request=None,
    ok=200,
    shape=None,
    many=False,
    path=(),
    updates=False,
    idempotent=False,
    if_match=False,
    not_modified=False,
    parameters=(),
    **kwargs,
):
    """extend_schema for one plain API method: its body, its path and query parameters, its
    success shape (also 200 when a create-or-update `updates`), the errors, and for a read of
    one resource (`not_modified`) its ETag, If-None-Match and 304."""
    body = shape(many=True) if many and not isinstance(shape, OpenApiTypes) else shape
    responses = {ok: body, **ERRORS}
    if updates:
        responses[200] = OpenApiResponse(body, "Updated.")
    if request is not None:
        responses.update(BODY_ERRORS)
    parameters = [PATH_PARAMETERS[name] for name in path] + list(parameters)
    if not_modified:
        parameters += [IF_NONE_MATCH, ETAG]
        responses[304] = NOT_MODIFIED
    if idempotent:
        parameters.append(IDEMPOTENCY_KEY)
    if if_match:
        parameters.append(IF_MATCH)
        responses[412] = OpenApiResponse(ErrorShape, "The card changed since it was read.")
    return extend_schema(request=request, responses=responses, parameters=parameters, **kwargs)


# URL keyword arguments -> the seed's names for them.
SEED_PATH_NAMES = {"card_id": "giftCardUUId", "client_id": "clientId", "payment_id": "paymentId"}


def plain_api_only(endpoints):
    """drf-spectacular preprocessing hook: the plain API's routes, once each.

    Routes accept an optional trailing slash; the schema names each path without it."""
    kept = {}
    for path, path_regex, method, callback in endpoints:
        if path.startswith("/api/"):
            continue
        path = path.rstrip("/") or "/"
        kept.setdefault((path, method), (path, path_regex, method, callback))
    return list(kept.values())


def seed_path_names(result, generator, request, public):
    """drf-spectacular postprocessing hook: path parameters named as seed 000 names them."""
    paths = {}
    for path, operations in result.get("paths", {}).items():
        for ours, seeds in SEED_PATH_NAMES.items():
            path = path.replace(f"{{{ours}}}", f"{{{seeds}}}")
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path":
                    parameter["name"] = SEED_PATH_NAMES.get(parameter["name"], parameter["name"])
        paths[path] = operations
    result["paths"] = paths
    return result

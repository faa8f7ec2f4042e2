"""The plain API's client list (`GET /giftcards/client/{clientId}`) and card
(`GET /giftcards/{id}`), built by hand from `.values()` rows."""

from __future__ import annotations

import datetime as dt
import re

from django.http import HttpResponse
from django.utils import timezone

from benchmarks.http_bench.baselines.common import (
    Refused,
    api_key,
    card_etag,
    json_response,
    zone,
)
from clients.models import Client
from giftcards import money
from giftcards.models import GiftCard

CARD_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
CLIENT_ID = re.compile(r"^[0-9]{1,18}$")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MILLISECOND = dt.timedelta(milliseconds=1)
FIELDS = (
    "id",
    "deleted_at",
    "expires_at",
    "initial_balance_cents",
    "balance_cents",
    "currency_code",
    "business_id",
    "client_id",
    "created_at",
    "created_by",
    "updated_at",
    "modified_by",
    "purchase_date",
)


def _ms(moment: dt.datetime | None) -> int | None:
    return None if moment is None else (moment - EPOCH) // MILLISECOND


def _card(row: dict, tz, now: dt.datetime) -> dict:
    currency = row["currency_code"]
    expires = row["expires_at"]
    if row["deleted_at"] is not None:
        status = "Deleted"
    elif expires is not None and expires <= now:
        status = "Expired"
    else:
        status = "Active"
    # The last valid day: the stored moment is the next midnight in the business's zone.
    day = None if expires is None else (expires - dt.timedelta(microseconds=1)).astimezone(tz)
    return {
        "active": row["deleted_at"] is None,
        "amount": money.major_number(row["initial_balance_cents"], currency),
        "balanceAmount": money.major_number(row["balance_cents"], currency),
        "businessId": row["business_id"],
        "clientId": row["client_id"],
        "createdDate": _ms(row["created_at"]),
        "createdUser": row["created_by"],
        "expireDate": None if day is None else day.date().isoformat(),
        "giftCardUUId": row["id"],
        "modifiedDate": _ms(row["updated_at"]),
        "modifiedUser": row["modified_by"],
        "purchaseDate": _ms(row["purchase_date"]),
        "status": status,
    }


def client_cards(request, client_id: str) -> HttpResponse:
    """GET /bench/plain/giftcards/client/{clientId}: the client's cards, oldest first."""
    try:
        key = api_key(request)
        if not CLIENT_ID.match(client_id):
            raise Refused(400, "clientId must be a whole number from 1.")
    except Refused as refused:
        return refused.response()
    tenant = {"business_id": key["business_id"], "mode": key["mode"]}
    if not Client.objects.filter(pk=int(client_id), **tenant).exists():
        return Refused(404, "No client with this clientId.").response()
    rows = (
        GiftCard.objects.filter(client_id=int(client_id), deleted_at__isnull=True, **tenant)
        .order_by("created_at", "id")
        .values(*FIELDS)
    )
    tz, now = zone(key["business__timezone"]), timezone.now()
    return json_response([_card(row, tz, now) for row in rows])


def card_detail(request, card_id: str) -> HttpResponse:
    """GET /bench/plain/giftcards/{id}: one card, soft-deleted ones too."""
    try:
        key = api_key(request)
        if not CARD_ID.match(card_id):
            raise Refused(400, "Not a gift card id (22 characters of URL-safe base64).")
    except Refused as refused:
        return refused.response()
    row = (
        GiftCard.objects.filter(pk=card_id, business_id=key["business_id"], mode=key["mode"])
        .values(*FIELDS)
        .first()
    )
    if row is None:
        return Refused(404, "No gift card with this giftCardUUId.").response()
    response = json_response(_card(row, zone(key["business__timezone"]), timezone.now()))
    response["ETag"] = card_etag(row["id"], row["updated_at"])
    return response

"""The JSON:API list (`include=gift_card_recipient,market,tags`) and detail documents of
`gift_cards`, built by hand from `.values()` rows: cards, ledger rows, recipients, markets, and
tags through the M2M table."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import parse_qs, urlencode

from django.http import HttpResponse

from benchmarks.http_bench.baselines.common import Refused, api_key, card_etag, json_response
from giftcards import codes, money
from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Market, Tag

MEDIA_TYPE = "application/vnd.api+json"
INCLUDABLE = ("gift_card_recipient", "market", "tags")
LIST_PARAMS = frozenset({"include", "page[number]", "page[size]"})
MAX_PAGE_SIZE = 25
CARD_FIELDS = (
    "id",
    "mode",
    "status",
    "code_encrypted",
    "currency_code",
    "initial_balance_cents",
    "balance_cents",
    "balance_max_cents",
    "single_use",
    "rechargeable",
    "distribute_discount",
    "image_url",
    "expires_at",
    "recipient__email",
    "created_at",
    "updated_at",
    "reference",
    "reference_origin",
    "metadata",
    "market_id",
    "recipient_id",
)
LEDGER_FIELDS = (
    "card_id",
    "created_at",
    "amount_cents",
    "kind",
    "balance_after_cents",
    "order_reference",
)
RECIPIENT_FIELDS = (
    "id",
    "mode",
    "email",
    "first_name",
    "last_name",
    "reference",
    "reference_origin",
    "metadata",
    "created_at",
    "updated_at",
)
MARKET_FIELDS = ("id", "mode", "name", "currency_code", "created_at", "updated_at")
USAGE_ACTIONS = {
    "debit": "use",
    "refund": "refund",
    "recharge": "recharge",
    "adjustment": "adjustment",
}
Tags = Tag.gift_cards.through


def iso(moment) -> str | None:
    """ISO 8601 in UTC with a `Z`, as the API writes datetimes (the database speaks UTC)."""
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _ledger(card_ids: list[str]) -> dict[str, list[dict]]:
    rows = defaultdict(list)
    entries = BalanceLog.objects.filter(card_id__in=card_ids).order_by("created_at", "id")
    for entry in entries.values_list(*LEDGER_FIELDS):
        rows[entry[0]].append(entry)
    return rows


def _tag_rows(card_ids: list[str]) -> list[tuple]:
    """(card id, tag id, name, mode, created_at, updated_at), in the tags' order (name, id)."""
    return list(
        Tags.objects.filter(giftcard_id__in=card_ids)
        .order_by("tag__name", "tag__id")
        .values_list(
            "giftcard_id", "tag_id", "tag__name", "tag__mode", "tag__created_at", "tag__updated_at"
        )
    )


def _logs(entries: list[tuple]) -> tuple[list[dict], dict[str, list[dict]]]:
    balance_log, usage_log = [], {}
    for _card, created_at, amount, kind, after, order in entries:
        when = iso(created_at)
        balance_log.append(
            {
                "datetime": when,
                "balance_change_cents": amount,
                "kind": kind,
                "balance_after_cents": after,
                "order_reference": order or None,
            }
        )
        if order and kind in USAGE_ACTIONS:
            usage_log.setdefault(order, []).append(
                {
                    "action": USAGE_ACTIONS[kind],
                    "amount_cents": amount,
                    "balance_cents": after,
                    "order_number": order,
                    "datetime": when,
                }
            )
    return balance_log, usage_log


def _to_one(url: str, name: str, kind: str, pk) -> dict:
    return {
        "links": {"self": f"{url}/relationships/{name}", "related": f"{url}/{name}"},
        "data": None if pk is None else {"type": kind, "id": str(pk)},
    }


def card_resource(card: dict, entries: list, tag_ids: list, base: str, locale: str) -> dict:
    currency = card["currency_code"]
    url = f"{base}/api/gift_cards/{card['id']}"
    balance_log, usage_log = _logs(entries)
    initial, balance, most = (
        card["initial_balance_cents"],
        card["balance_cents"],
        card["balance_max_cents"],
    )
    return {
        "type": "gift_cards",
        "id": card["id"],
        "attributes": {
            "status": card["status"],
            "code": codes.decrypt(card["code_encrypted"]),
            "currency_code": currency,
            "initial_balance_cents": initial,
            "initial_balance_float": money.to_float(initial, currency),
            "formatted_initial_balance": money.format_cents(initial, currency, locale),
            "balance_cents": balance,
            "balance_float": money.to_float(balance, currency),
            "formatted_balance": money.format_cents(balance, currency, locale),
            "balance_max_cents": most,
            "balance_max_float": money.to_float(most, currency),
            "formatted_balance_max": money.format_cents(most, currency, locale),
            "balance_log": balance_log,
            "usage_log": usage_log,
            "single_use": card["single_use"],
            "rechargeable": card["rechargeable"],
            "distribute_discount": card["distribute_discount"],
            "image_url": card["image_url"],
            "expires_at": iso(card["expires_at"]),
            "recipient_email": card["recipient__email"],
            "created_at": iso(card["created_at"]),
            "updated_at": iso(card["updated_at"]),
            "reference": card["reference"],
            "reference_origin": card["reference_origin"],
            "metadata": card["metadata"],
        },
        "relationships": {
            "market": _to_one(url, "market", "markets", card["market_id"]),
            "gift_card_recipient": _to_one(
                url, "gift_card_recipient", "gift_card_recipients", card["recipient_id"]
            ),
            "tags": {
                "meta": {"count": len(tag_ids)},
                "data": [{"type": "tags", "id": str(pk)} for pk in tag_ids],
                "links": {
                    "self": f"{url}/relationships/tags",
                    "related": f"{url}/tags",
                },
            },
            "versions": {"links": {"related": f"{url}/versions"}},
            "attachments": _links(url, "attachments"),
            "events": _links(url, "events"),
        },
        "links": {"self": url},
        "meta": {"mode": card["mode"]},
    }


def _links(url: str, name: str) -> dict:
    """A relationship rendered as its links only (attachments, events)."""
    return {"links": {"self": f"{url}/relationships/{name}", "related": f"{url}/{name}"}}


def _resource(kind: str, row: dict, base: str) -> dict:
    """A recipient, market or tag: its `.values()` row minus id and mode are the attributes;
    recipients and markets have their attachments' links."""
    attributes = {name: value for name, value in row.items() if name not in ("id", "mode")}
    attributes["created_at"] = iso(attributes["created_at"])
    attributes["updated_at"] = iso(attributes["updated_at"])
    url = f"{base}/api/{kind}/{row['id']}"
    resource = {"type": kind, "id": str(row["id"]), "attributes": attributes}
    if kind != "tags":
        resource["relationships"] = {"attachments": _links(url, "attachments")}
    resource["links"] = {"self": url}
    resource["meta"] = {"mode": row["mode"]}
    return resource


def _included(cards: list[dict], tag_rows: list[tuple], include: set[str], base: str) -> list:
    """The related resources, in the renderer's order (by type, then by id as a string)."""
    resources = []
    if "gift_card_recipient" in include:
        ids = {card["recipient_id"] for card in cards} - {None}
        rows = GiftCardRecipient.objects.filter(pk__in=ids).values(*RECIPIENT_FIELDS)
        resources += [_resource("gift_card_recipients", row, base) for row in rows]
    if "market" in include:
        ids = {card["market_id"] for card in cards} - {None}
        rows = Market.objects.filter(pk__in=ids).values(*MARKET_FIELDS)
        resources += [_resource("markets", row, base) for row in rows]
    if "tags" in include:
        tags = {
            pk: {"id": pk, "mode": mode, "name": name, "created_at": made, "updated_at": changed}
            for _card, pk, name, mode, made, changed in tag_rows
        }
        resources += [_resource("tags", row, base) for row in tags.values()]
    return sorted(resources, key=lambda resource: (resource["type"], resource["id"]))


def _page_link(base: str, query: dict[str, list[str]], number: int) -> str:
    query = {**query, "page[number]": [str(number)]}
    return f"{base}/api/gift_cards?{urlencode(sorted(query.items()), doseq=True)}"


def _positive(query: dict, name: str, default: int) -> int:
    raw = query.get(name, [str(default)])[-1]
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise Refused(400, f"{name} must be a whole number from 1.")
    return int(raw)


def gift_card_list(request) -> HttpResponse:
    """GET /bench/jsonapi/gift_cards?page[size]=..&page[number]=..&include=..."""
    try:
        key = api_key(request)
        query = parse_qs(request.META.get("QUERY_STRING", ""), keep_blank_values=True)
        unknown = set(query) - LIST_PARAMS
        if unknown:
            raise Refused(400, f"Unknown query parameter {sorted(unknown)[0]}.")
        include = set(",".join(query.get("include", [])).split(",")) - {""}
        if include - set(INCLUDABLE):
            raise Refused(400, "Unknown include.")
        size = _positive(query, "page[size]", 10)
        number = _positive(query, "page[number]", 1)
        if size > MAX_PAGE_SIZE:
            raise Refused(400, f"page[size] is at most {MAX_PAGE_SIZE}.")
    except Refused as refused:
        return refused.response()

    scope = GiftCard.objects.filter(
        business_id=key["business_id"], mode=key["mode"], deleted_at__isnull=True
    )
    count = scope.count()
    offset = (number - 1) * size
    cards = []
    if offset < count:
        cards = list(
            scope.order_by("created_at", "id").values(*CARD_FIELDS)[offset : offset + size]
        )
    ids = [card["id"] for card in cards]
    ledger = _ledger(ids) if ids else {}
    tag_rows = _tag_rows(ids) if ids else []
    tags_of = defaultdict(list)
    for card_id, tag_id, *_rest in tag_rows:
        tags_of[card_id].append(tag_id)

    base = f"{request.scheme}://{request.get_host()}"
    locale = key["business__locale"]
    pages = -(-count // size)
    links = {"first": _page_link(base, query, 1), "last": _page_link(base, query, max(pages, 1))}
    if number > 1 and pages:
        links["prev"] = _page_link(base, query, min(number - 1, pages))
    if number < pages:
        links["next"] = _page_link(base, query, number + 1)
    document = {
        "links": links,
        "data": [
            card_resource(card, ledger.get(card["id"], []), tags_of[card["id"]], base, locale)
            for card in cards
        ],
    }
    if include and cards:
        document["included"] = _included(cards, tag_rows, include, base)
    document["meta"] = {"record_count": count, "page_count": pages}
    return json_response(document, MEDIA_TYPE)


def gift_card_detail(request, card_id: str) -> HttpResponse:
    """GET /bench/jsonapi/gift_cards/{id}"""
    try:
        key = api_key(request)
        if request.META.get("QUERY_STRING"):
            raise Refused(400, "This baseline takes no query parameters.")
    except Refused as refused:
        return refused.response()
    card = (
        GiftCard.objects.filter(
            pk=card_id, business_id=key["business_id"], mode=key["mode"], deleted_at__isnull=True
        )
        .values(*CARD_FIELDS)
        .first()
    )
    if card is None:
        return Refused(404, f"No gift_cards resource with id {card_id!r}.").response()
    entries = _ledger([card_id]).get(card_id, [])
    tag_ids = [row[1] for row in _tag_rows([card_id])]
    base = f"{request.scheme}://{request.get_host()}"
    resource = card_resource(card, entries, tag_ids, base, key["business__locale"])
    response = json_response({"data": resource}, MEDIA_TYPE)
    response["ETag"] = card_etag(card_id, card["updated_at"])
    return response

"""A Hypothesis-driven fuzzer for the JSON:API, which has no OpenAPI schema to fuzz from.

Requests are drawn from seed 003's resources as the API's own tables describe them (each
resource's writable attributes and their types, relationships, filters and their predicates,
sort fields, includes, sparse fieldsets) and from what a careless or hostile client sends
(triggers on the wrong card, odd content types and Accept headers, Idempotency-Key and
If-Match headers, malformed JSON, invalid UTF-8, huge numbers, unicode, NUL, lone
surrogates, percent-escapes in paths and queries). Ids come from a pool that starts with what
the API lists and learns from every response, so updates, deletes and triggers reach real
rows. A transport sends each request: a real server over HTTP, or Django's test client
in-process. A response of 500 or more is a finding, kept with the request that caused it.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from benchmarks.fuzz.transports import Call, Transport

MEDIA_TYPE = "application/vnd.api+json"
USER_AGENT = "giftcards-jsonapi-fuzz"  # how the server's access log tells its requests apart
TYPES = (
    "gift_cards",
    "gift_card_recipients",
    "markets",
    "tags",
    "attachments",
    "webhooks",
    "events",
    "event_callbacks",
)
# Seed 003's gift card triggers and relationships; the serializers add `_order_reference`,
# `_add_tags` and `_remove_tags`.
TRIGGERS = ("_purchase", "_activate", "_deactivate")
WEBHOOK_TRIGGERS = ("_disable", "_enable", "_reset_circuit")
RELATED = ("market", "gift_card_recipient", "tags", "versions", "attachments", "events")
# Callback URLs that never make the server connect off this machine, whatever its settings:
# loopback (refused unless WEBHOOK_ALLOW_LOOPBACK_HTTP, and then to a closed port) and
# literals the egress check refuses before any call. A name is resolved when a webhook is
# saved, so no other name may appear (`_safe_callback` defuses drawn text that looks like one).
CALLBACK_URLS = (
    "http://127.0.0.1:9/fuzz",
    "https://127.0.0.1:9/fuzz?x=1",
    "http://localhost:9/fuzz",
    "https://[::1]:9/fuzz",
)
REFUSED_CALLBACK_URLS = (
    "https://10.0.0.1/x",
    "https://192.0.2.1/x",
    "https://169.254.169.254/latest/meta-data",
    "https://[::ffff:10.0.0.1]/x",
    "https://[64:ff9b::a00:1]/x",
    "http://0.0.0.0:9/x",
    "https://224.0.0.1/x",
    "ftp://127.0.0.1/x",
    "https://user:pw@127.0.0.1/x",
    "https://127.0.0.1/#frag",
    "https://127.0.0.1:99999/x",
    "https://127.0.0.1/" + "x" * 2000,
    "http://[::1",
    "",
)
INCLUDE_NAMES = ("market", "gift_card_recipient", "tags", "attachments", "versions", "nope")
NASTY_CHARS = ("\x00", "\ud800", "\udfff", "\ud83d", "\ufeff", "\u202e", "\u0301", "\n", "\\")
NASTY_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udc00y",
    "💳",
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "\u00b2",
    "\uff11\uff12\uff13",  # full-width digits
    "null",
    "true",
    "0",
    "-0",
    "1e999999",
    "NaN",
    "Infinity",
    "9" * 40,
    "x" * 300,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "%00",
    "%ff",
    "{}",
    "[]",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:00:00Z",
    "2030-02-30",
    "2030-01-01T25:00:00Z",
)
BIG_INTS = (0, 1, -1, 2**31, 2**53 + 1, 10**13, 10**13 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30)
MOMENTS = (
    "2031-01-31T23:59:59Z",
    "2031-01-31T23:59:59+09:00",
    "2031-01-31",
    "0001-01-02T00:00:00Z",
    "9999-12-31T00:00:00Z",
    "9999-12-31T00:00:00+14:00",
    "9999-12-31T00:00:00-12:00",
    "0001-01-01T23:59:59Z",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59.999999Z",
)
ACCEPTS = (*[MEDIA_TYPE] * 40, "*/*", None, f"{MEDIA_TYPE}; ext=x", "application/json", "")
CONTENT_TYPES = (
    MEDIA_TYPE,
    f"{MEDIA_TYPE}; charset=utf-8",
    f"{MEDIA_TYPE}; charset=latin-1",
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "",
)
METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "TRACE", "GETX")
# What a request does, weighted; one in ten is sent with a method drawn from METHODS instead.
OPERATIONS = (
    *["list"] * 20,
    *["read"] * 12,
    *["create"] * 22,
    *["update"] * 28,
    *["delete"] * 5,
    *["related"] * 6,
    *["version"] * 3,
    *["junk"] * 4,
)
OPERATION_METHODS = {
    "list": "GET",
    "read": "GET",
    "create": "POST",
    "update": "PATCH",
    "delete": "DELETE",
    "related": "GET",
    "version": "GET",
    "junk": "GET",
}
# Reused so that one key meets different requests (replays and conflicts), and new ones.
IDEMPOTENCY_KEYS = ("fuzz-key-1", "fuzz-key-2", "fuzz-key-3", "x" * 300, "", " ", "é")


# ---------------------------------------------------------------------------- the API's shape


@dataclass(frozen=True)
class Resource:
    """What a resource type takes: writable attributes (name -> kind), relationships (name ->
    type), filterable attributes (name -> kind, with their predicates), sort fields and
    includable relationships."""

    type: str
    attributes: dict[str, tuple]
    relationships: dict[str, tuple[str, ...]]  # name -> the types it may link to
    filters: dict[str, tuple[str, ...]]
    sorts: tuple[str, ...]
    includes: tuple[str, ...]
    shown: tuple[str, ...]
    related: tuple[str, ...] = ()  # relationships with routes of their own


def _kind(field) -> tuple:
    from rest_framework import serializers

    from giftcards import fields as shared
    from giftcards.jsonapi import fields as jsonapi_fields

    if isinstance(field, jsonapi_fields.NameListField):
        return ("tags",)
    if isinstance(field, jsonapi_fields.CallbackUrlField):
        return ("callback_url",)
    if isinstance(field, serializers.ListField):
        return ("names",)
    if isinstance(field, shared.StrictBooleanField):
        return ("bool",)
    if isinstance(field, serializers.IntegerField):
        return ("int", field.min_value, field.max_value)
    if isinstance(field, shared.StrictDateTimeField):
        return ("datetime",)
    if isinstance(field, shared.JsonObjectField):
        return ("object",)
    if isinstance(field, serializers.EmailField):
        return ("email",)
    if isinstance(field, serializers.URLField):
        return ("url",)
    if isinstance(field, serializers.ChoiceField):
        return ("choice", tuple(field.choices))
    return ("text", getattr(field, "max_length", None))


def resources() -> dict[str, Resource]:
    """The resource types of TYPES, read from the views and serializers (Django must be set
    up); events and event callbacks take no writes (405s)."""
    from giftcards.filters import KIND_PREDICATES
    from giftcards.jsonapi import documents
    from giftcards.jsonapi.fields import AttachableField, TypedRelatedField
    from giftcards.jsonapi.views.attachments import AttachmentViewSet
    from giftcards.jsonapi.views.events import (
        EventCallbackViewSet,
        EventViewSet,
        WebhookViewSet,
    )
    from giftcards.jsonapi.views.gift_cards import GiftCardViewSet
    from giftcards.jsonapi.views.resources import (
        GiftCardRecipientViewSet,
        MarketViewSet,
        TagViewSet,
    )
    from giftcards.models import AttachableType

    found = {}
    for view in (
        GiftCardViewSet,
        GiftCardRecipientViewSet,
        MarketViewSet,
        TagViewSet,
        AttachmentViewSet,
        WebhookViewSet,
        EventViewSet,
        EventCallbackViewSet,
    ):
        declared = view.serializer_class._declared_fields
        attributes, relationships = {}, {}
        for name, serializer_field in declared.items():
            if isinstance(serializer_field, TypedRelatedField):
                relationships[name] = (serializer_field.resource_type,)
            elif isinstance(serializer_field, AttachableField):
                relationships[name] = tuple(AttachableType.values)
            else:
                attributes[name] = _kind(serializer_field)
        filterset = view.filterset_class
        found[view.resource_name] = Resource(
            type=view.resource_name,
            attributes=attributes,
            relationships=relationships,
            filters={a.name: KIND_PREDICATES[a.kind] for a in filterset.attributes},
            sorts=tuple(view.sort_fields) + tuple(view.computed_sort_fields),
            includes=tuple(view.includable),
            shown=documents.FIELDS[view.resource_name],
            related=RELATED if view is GiftCardViewSet else tuple(view.relations),
        )
    return found


# ---------------------------------------------------------------------------- requests


@dataclass
class Pool:
    """Ids and ETags seen so far, per type; what requests aim at."""

    ids: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in (*TYPES, "versions")})
    etags: list[str] = field(default_factory=list)

    def learn(self, status: int, headers: dict[str, str], body: bytes) -> None:
        if headers.get("etag") and headers["etag"] not in self.etags:
            self.etags.append(headers["etag"])
            del self.etags[:-50]
        if not body or status >= 300:
            return
        try:
            document = json.loads(body)
        except ValueError:
            return
        data = document.get("data") if isinstance(document, dict) else None
        items = data if isinstance(data, list) else [data]
        for item in [*items, *(document.get("included") or [])]:
            if isinstance(item, dict) and item.get("type") in self.ids and item.get("id"):
                known = self.ids[item["type"]]
                if item["id"] not in known:
                    known.append(item["id"])
                    del known[:-200]


def _percent(text: str) -> str:
    """Any text as a percent-encoded URL part; lone surrogates become invalid UTF-8 escapes."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


# What no store can hold: a NUL, lone surrogates (of either half, alone or within text).
poison = st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff", "\ud83d", "\udc00\ud800"])
nasty_text = st.one_of(
    st.sampled_from(NASTY_TEXT),
    poison,
    st.text(st.characters() | st.sampled_from(NASTY_CHARS), max_size=40),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(BIG_INTS),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(nasty_text, children, max_size=4)
    ),
    max_leaves=12,
)


@dataclass(frozen=True)
class Palette:
    """The values one request may use, drawn by Hypothesis (which leans to edge cases: empty,
    huge, odd unicode). Drawn the same way for every request, whatever the request becomes, so
    Hypothesis sees one shape of test case while a seeded Random composes the request."""

    texts: list[str]
    objects: list[dict]
    values: list
    integers: list[int]
    moments: list[str]
    binary: bytes

    def text(self, rnd) -> str:
        return rnd.choice(self.texts)

    def value(self, rnd):
        return rnd.choice(self.values)


palettes = st.builds(
    Palette,
    texts=st.lists(nasty_text, min_size=8, max_size=8),
    objects=st.lists(st.dictionaries(nasty_text, json_values, max_size=4), min_size=2, max_size=2),
    values=st.lists(json_values, min_size=4, max_size=4),
    integers=st.lists(st.integers() | st.sampled_from(BIG_INTS), min_size=4, max_size=4),
    moments=st.lists(
        st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
        min_size=2,
        max_size=2,
    ),
    binary=st.binary(max_size=64),
)


def _value(kind: tuple, rnd, palette: Palette, *, wild: bool):
    """A value for an attribute of `kind`: plausible, or (wild) one in four anything at all."""
    if wild and rnd.random() < 0.25:
        return palette.value(rnd)
    name, unique = kind[0], rnd.randrange(10**9)
    if name == "int":
        low = max(kind[1] if kind[1] is not None else -(10**6), -(10**6))
        if wild and rnd.random() < 0.5:
            return rnd.choice([*palette.integers, *BIG_INTS, kind[1], kind[2]])
        return rnd.randint(low, 10**6)
    if name == "bool":
        return rnd.random() < 0.5
    if name == "datetime":
        choices = [*MOMENTS, *palette.moments] if wild else [*MOMENTS[:3], None]
        return rnd.choice(choices)
    if name == "object":
        if wild:
            return rnd.choice(palette.objects)
        return {rnd.choice(["tier", "crm", "0", "a.b"]): rnd.choice([1, "gold", None, [1, 2]])}
    if name == "email":
        return rnd.choice([f"fuzz-{unique}@example.com", "ann@example.com", "", None])
    if name == "url":
        wild_urls = ["ftp://x", "javascript:x", "http://[::1"] if wild else []
        return rnd.choice(["https://example.com/a.png", "", None, *wild_urls])
    if name == "callback_url":
        return rnd.choice([*CALLBACK_URLS, *(REFUSED_CALLBACK_URLS if wild else [None])])
    if name == "names":
        if wild and rnd.random() < 0.5:
            return rnd.choice([palette.text(rnd), [palette.text(rnd)], [1], {}])
        return _some(rnd, list(INCLUDE_NAMES), 0, 3)
    if name == "choice":
        return rnd.choice(kind[1])
    if name == "tags":
        names = ["vip", "summer", "x" * 101, " ", "é", *([palette.text(rnd)] if wild else [])]
        return ", ".join(_some(rnd, names, 0, 3))
    if kind[1] == 3:  # currency codes
        return rnd.choice(["USD", "USD", "USD", "EUR", "JPY", *(["usd", "XXX"] if wild else [])])
    if kind[1] == 64:  # webhook topics
        topics = ["gift_cards.activate", "gift_cards.balance_change", "gift_card_recipients.create"]
        return rnd.choice([*topics, *(["orders.place", ""] if wild else [])])
    if kind[1] == 40:  # codes
        return f"FUZZ-{unique:010d}"
    return f"fuzz {unique}" if not wild or rnd.random() < 0.5 else palette.text(rnd)


# Members each type needs on create (seed 003 and the serializers).
REQUIRED = {
    "gift_cards": ("balance_cents",),
    "gift_card_recipients": ("email",),
    "markets": ("name", "currency_code"),
    "tags": ("name",),
    "attachments": ("name",),
    "webhooks": ("topic", "callback_url"),
    "events": (),
    "event_callbacks": (),
}
REQUIRED_RELATIONSHIPS = {"attachments": ("attachable",)}


def _safe_callback(value):
    """Drawn text that could pass for an http(s) URL naming a host, made into one the egress
    check refuses before resolving anything (its scheme)."""
    if not isinstance(value, str) or value in CALLBACK_URLS or value in REFUSED_CALLBACK_URLS:
        return value
    if value.strip().lower().startswith(("http:", "https:")):
        return f"fuzz-{value.strip()}"
    return value


def _defused(document):
    """`document` with any callback URL in it made safe (see `_safe_callback`)."""
    data = document.get("data") if isinstance(document, dict) else None
    for item in data if isinstance(data, list) else [data]:
        attributes = item.get("attributes") if isinstance(item, dict) else None
        if isinstance(attributes, dict) and "callback_url" in attributes:
            attributes["callback_url"] = _safe_callback(attributes["callback_url"])
    return document


def _document(rnd, palette: Palette, resource: Resource, pool: Pool, resource_id, creating: bool):
    """A request document for `resource`: plausible (two in three; half of those with one bad
    value), or wild."""
    wild = rnd.random() < 1 / 3
    choices = sorted(resource.attributes)
    names = set(_some(rnd, choices, 0, 4))
    if creating and not wild:
        names = {name for name in names if not name.startswith("_")}
        names |= set(REQUIRED[resource.type])
    attributes = {
        name: _value(resource.attributes[name], rnd, palette, wild=wild) for name in sorted(names)
    }
    if attributes and not wild and rnd.random() < 0.5:
        # One bad value in an otherwise plausible document: the likeliest to get far. Free-form
        # members (metadata, tag lists) are where bad text has the fewest checks in its way.
        free_form = [n for n, k in resource.attributes.items() if k[0] in ("object", "tags")]
        if free_form and rnd.random() < 0.5:
            name = rnd.choice(free_form)
        else:
            name = rnd.choice(sorted(attributes))
        bad = palette.text(rnd)
        if resource.attributes[name][0] == "object":
            attributes[name] = rnd.choice([{"k": bad}, {bad: 1}, {"k": [{"j": bad}]}])
        else:
            attributes[name] = bad
    if wild and rnd.random() < 0.2:
        attributes[rnd.choice([*resource.shown, palette.text(rnd)])] = palette.value(rnd)
    relationships = {}
    needed = REQUIRED_RELATIONSHIPS.get(resource.type, ()) if creating and not wild else ()
    for name, targets in resource.relationships.items():
        if name in needed or rnd.random() < 0.25:
            target = rnd.choice(targets)
            linkage = {"type": target, "id": _pick(rnd, pool.ids.get(target, []), "1")}
            if wild:
                linkage = rnd.choice(
                    [
                        linkage,
                        None,
                        {"type": "tags", "id": "1"},
                        {"type": target},
                        {"type": target, "id": palette.text(rnd)},
                        [],
                    ]
                )
            relationships[name] = {"data": linkage}
    data: dict = {"type": resource.type}
    if resource_id is not None:
        data["id"] = resource_id
    if attributes or rnd.random() < 0.5:
        data["attributes"] = attributes
    if relationships:
        data["relationships"] = relationships
    mangle = rnd.randrange(40) if wild else None
    if mangle == 0:
        data["type"] = rnd.choice([*TYPES, "", None, 1])
    elif mangle == 1:
        data.pop("id", None) if resource_id else data.update(id=palette.text(rnd))
    elif mangle == 2:
        data["attributes"] = palette.value(rnd)
    elif mangle == 3:
        return _defused({"data": [data]})
    elif mangle == 4:
        return _defused(palette.value(rnd))
    return _defused({"data": data})


MALFORMED = (
    b"{",
    b'{"data":',
    b"",
    b"null",
    b"[]",
    b'"data"',
    b'{"data": NaN}',
    b'{"data": {"type": "gift_cards", "attributes": {"balance_cents": 1e999999}}}',
    b'{"data": {"type": "gift_cards", "attributes": {"balance_cents": ' + b"9" * 5000 + b"}}}",
    b"\xef\xbb\xbf" + b'{"data": {"type": "gift_cards"}}',
    b'{"data": {"type": "gift_cards", "attributes": {"reference": "\xff\xfe"}}}',
    b'{"data": {"type": "gift_cards", "attributes": {"reference": "\xed\xa0\x80"}}}',
    b"[" * 20_000 + b"]" * 20_000,
    b'{"data": {"type": "gift_cards", "attributes": {"metadata": '
    + b'{"a":' * 5000
    + b"1"
    + b"}" * 5000
    + b"}}}",
    b'{"data": {"type": "gift_cards", "attributes": {}, "attributes": {"balance_cents": 1}}}',
)


def _pick(rnd, items: list, fallback):
    return rnd.choice(items) if items else fallback


def _some(rnd, items: list, fewest: int, most: int) -> list:
    return rnd.sample(items, rnd.randint(fewest, min(most, len(items))))


def _encode(document, ascii_only: bool) -> bytes:
    text = json.dumps(document, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")  # not ASCII: a lone surrogate is invalid UTF-8


def compose(
    rnd, palette: Palette, shapes: dict[str, Resource], pool: Pool, secret: str, other_secret: str
) -> Call:
    """One request to the JSON:API, its shape drawn by `rnd` and its odd values from `palette`."""
    resource = shapes[rnd.choice(TYPES)]
    operation = rnd.choice(OPERATIONS)
    method = OPERATION_METHODS[operation] if rnd.random() < 0.9 else rnd.choice(METHODS)
    known = _pick(rnd, pool.ids[resource.type], None)
    junk = _percent(palette.text(rnd))
    resource_id = known if known is not None and rnd.random() < 0.85 else junk
    base = f"/api/{resource.type}"
    if operation in ("list", "create"):
        path = base + rnd.choice(["", "", "", "/"])
    elif operation in ("read", "update", "delete"):
        path = f"{base}/{resource_id}"
    elif operation == "related":
        owner = resource if resource.related else shapes["gift_cards"]
        owner_id = _pick(rnd, pool.ids[owner.type], "x")
        related = rnd.choice([*owner.related, junk])
        path = f"/api/{owner.type}/{owner_id}/{rnd.choice(['relationships/', ''])}{related}"
    elif operation == "version":
        path = f"/api/versions/{rnd.choice([_pick(rnd, pool.ids['versions'], '1'), junk])}"
    else:
        path = "/api/" + rnd.choice(["nope", "gift_cards/a/b/c", "..", "%00", "%ff", junk])

    query = []
    listing = operation == "list"
    # Lists take every family; documents only include and fields, and mostly nothing.
    count = rnd.randint(0, 4) if listing else max(0, rnd.randint(-6, 2))
    for _ in range(count):
        family = rnd.randrange(10) if listing else rnd.choice([5, 6, 6, 8])
        attribute = rnd.choice(sorted(resource.filters))
        if family <= 2:
            predicate = rnd.choice([*resource.filters[attribute], "nope"])
            name = f"filter[q][{attribute}_{predicate}]"
        elif family == 3:
            name = f"filter[{attribute}]"
        elif family == 4:
            name = "sort"
        elif family == 5:
            name = "include"
        elif family == 6:
            name = f"fields[{rnd.choice(TYPES)}]"
        elif family == 7:
            name = rnd.choice(["page[number]", "page[size]"])
        else:
            name = palette.text(rnd)
        if name == "sort":
            terms = [*resource.sorts, palette.text(rnd)]
            value = ",".join(
                rnd.choice(["", "-"]) + rnd.choice(terms) for _ in range(rnd.randint(1, 3))
            )
        elif name == "include":
            value = ",".join(_some(rnd, [*resource.includes, "nope"], 1, 2))
        elif name.startswith("fields["):
            value = ",".join(_some(rnd, [*resource.shown, "nope"], 0, 3))
        elif name.startswith("page["):
            value = rnd.choice(["1", "2", "25", "26", "0", "-1", "9" * 30, "1.5"])
        elif attribute == "metadata" and name.startswith("filter"):
            value = json.dumps(rnd.choice([*palette.objects, {"tier": "gold"}]))
        else:
            value = rnd.choice(
                [*MOMENTS, *palette.moments, palette.text(rnd), str(rnd.choice(palette.integers))]
            )
        query.append(f"{_percent(name)}={_percent(value)}")
        if rnd.random() < 1 / 30:
            query.append(rnd.choice(["%00=1", "a=%ff", "=x", "&", "b"]))

    headers = {"User-Agent": USER_AGENT}
    auth = rnd.randrange(40)
    if auth < 37:
        headers["Authorization"] = f"Bearer {secret}"
    elif auth == 37:
        headers["Authorization"] = f"Bearer {other_secret}"
    elif auth == 38:
        headers["Authorization"] = rnd.choice(["Bearer ", "Basic eDp5", "Bearer x.y"])
    accept = rnd.choice(ACCEPTS)
    if accept is not None:
        headers["Accept"] = accept
    if rnd.random() < 1 / 3:
        fresh = f"fuzz-{rnd.getrandbits(64):x}"
        headers["Idempotency-Key"] = rnd.choice([*IDEMPOTENCY_KEYS, fresh])
    if method in ("PATCH", "DELETE") and rnd.random() < 0.25:
        etag = _pick(rnd, pool.etags, '"none"')
        headers["If-Match"] = rnd.choice([etag, etag, "*", "x", 'W/"1"'])

    body = None
    if method in ("POST", "PATCH", "PUT") or rnd.random() < 0.1:
        headers["Content-Type"] = rnd.choice(CONTENT_TYPES[:1] * 60 + CONTENT_TYPES)
        kind = rnd.randrange(10)
        if kind < 8:
            document = _document(
                rnd,
                palette,
                resource,
                pool,
                resource_id if method == "PATCH" else None,
                creating=method == "POST",
            )
            data = document.get("data") if isinstance(document, dict) else None
            attributes = data.get("attributes") if isinstance(data, dict) else None
            patching_card = resource.type == "gift_cards" and method == "PATCH"
            # Half the card updates carry a trigger, seed 003's or ours.
            if patching_card and isinstance(attributes, dict) and rnd.random() < 0.5:
                trigger = rnd.choice([*TRIGGERS, "_balance_change_cents", "_add_tags"])
                values = [True, -100, 100, -(10**13), 0, "1", "vip", palette.text(rnd)]
                attributes[trigger] = rnd.choice(values)
            # The triggers are attributes of the webhook serializer: drawn with the rest, and
            # more often here (several at once too).
            writing_webhook = resource.type == "webhooks" and method in ("PATCH", "POST")
            if writing_webhook and isinstance(attributes, dict) and rnd.random() < 0.5:
                for trigger in _some(rnd, list(WEBHOOK_TRIGGERS), 1, 2):
                    attributes[trigger] = rnd.choice([True, True, False, None, 1])
            body = _encode(document, ascii_only=rnd.random() < 0.8)
        elif kind == 8:
            body = rnd.choice(MALFORMED)
        else:
            body = palette.binary
    return Call(method, path, "&".join(query), headers, body)


# ---------------------------------------------------------------------------- running


@dataclass
class Result:
    statuses: Counter = field(default_factory=Counter)
    findings: list[tuple[int, str, bytes]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


def prime(transport: Transport, pool: Pool, secret: str) -> None:
    """Fill the pool from what the key can list, and a few resources made for the purpose."""
    headers = {"Authorization": f"Bearer {secret}", "Accept": MEDIA_TYPE, "User-Agent": USER_AGENT}
    write = {**headers, "Content-Type": MEDIA_TYPE}
    seeds = {
        "gift_card_recipients": {"email": f"fuzz-{uuid.uuid4().hex[:8]}@example.com"},
        "markets": {"name": "Fuzz market", "currency_code": "USD"},
        "tags": {"name": f"fuzz-{uuid.uuid4().hex[:8]}"},
        "gift_cards": {"balance_cents": 100_000, "status": "active"},
        # Refused (a 400) where loopback receivers are not allowed.
        "webhooks": {"topic": "gift_cards.activate", "callback_url": CALLBACK_URLS[0]},
    }
    for resource_type, attributes in seeds.items():
        for _ in range(3 if resource_type == "gift_cards" else 1):
            body = json.dumps({"data": {"type": resource_type, "attributes": attributes}})
            call = Call("POST", f"/api/{resource_type}", "", write, body.encode())
            pool.learn(*transport.send(call))
    for resource_type in ("gift_cards", "markets"):
        for owner in pool.ids[resource_type][:1]:
            document = {
                "data": {
                    "type": "attachments",
                    "attributes": {"name": "Fuzz terms", "url": "https://example.com/t.pdf"},
                    "relationships": {"attachable": {"data": {"type": resource_type, "id": owner}}},
                }
            }
            call = Call("POST", "/api/attachments", "", write, json.dumps(document).encode())
            pool.learn(*transport.send(call))
    for resource_type in TYPES:
        call = Call("GET", f"/api/{resource_type}", "page%5Bsize%5D=25", headers, None)
        pool.learn(*transport.send(call))
    for card_id in list(pool.ids["gift_cards"])[:5]:
        status, found, body = transport.send(
            Call("GET", f"/api/gift_cards/{card_id}/versions", "", headers, None)
        )
        pool.learn(status, found, body)
        pool.learn(*transport.send(Call("GET", f"/api/gift_cards/{card_id}", "", headers, None)))


def run(
    transport: Transport,
    *,
    secret: str,
    other_secret: str,
    examples: int,
    seed: int = 0,
    on_progress=None,
) -> Result:
    """Send `examples` drawn requests (after the priming ones, which are not counted)."""
    shapes = resources()
    pool = Pool()
    prime(transport, pool, secret)
    result = Result()
    sent = itertools.count()

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    @given(palettes)
    def fuzz(palette):
        rnd = random.Random(f"{seed}:{next(sent)}")
        call = compose(rnd, palette, shapes, pool, secret, other_secret)
        status, headers, body = transport.send(call)
        result.statuses[status] += 1
        if status >= 500:
            result.findings.append((status, call.describe(), body[:300]))
        pool.learn(status, headers, body)
        if on_progress is not None and result.requests % 1000 == 0:
            on_progress(result)

    fuzz()
    return result

"""JSON:API 1.0 media type rules (415, 406) and a strict parser for request documents."""

from __future__ import annotations

import orjson
from rest_framework.exceptions import NotAcceptable, ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework_json_api import parsers

from giftcards import text as text_rules
from giftcards.jsonapi.errors import Conflict, DocumentError, Forbidden, escape_pointer_token

MEDIA_TYPE = "application/vnd.api+json"
WILDCARDS = {"*/*", "application/*"}


def _split_media_type(value: str) -> tuple[str, dict[str, str]]:
    main, *raw_params = value.split(";")
    params = {}
    for raw in raw_params:
        name, _, param_value = raw.partition("=")
        if name.strip():
            params[name.strip().lower()] = param_value.strip()
    return main.strip().lower(), params


def content_type_is_jsonapi(content_type: str | None) -> bool:
    """The exact JSON:API media type: JSON:API 1.0 answers 415 to any media type parameter."""
    if not content_type:
        return False
    main, params = _split_media_type(content_type)
    return main == MEDIA_TYPE and not params


def accept_allows_jsonapi(accept: str | None) -> bool:
    """A missing Accept header, a wildcard, or the JSON:API type without parameters.

    JSON:API 1.0: 406 when the header names the JSON:API type only with parameters; and a
    header that names neither it nor a wildcard excludes it.
    """
    if accept is None or not accept.strip():
        return True
    for entry in accept.split(","):
        main, params = _split_media_type(entry)
        quality = params.pop("q", "1")
        try:
            if float(quality) <= 0:
                continue
        except ValueError:
            continue
        if main in WILDCARDS or (main == MEDIA_TYPE and not params):
            return True
    return False


class JsonApiRenderer(JSONRenderer):
    """Documents as the views built them (documents.py), error objects as `{"errors": [...]}`,
    by orjson (ten times the json module on a long balance_log); what it cannot encode, such
    as integers beyond 64 bits in metadata, by DRF's encoder."""

    media_type = MEDIA_TYPE
    format = "vnd.api+json"
    charset = None
    # The fallback writes \u escapes: a lone surrogate (stored before input refused them)
    # must not fail to encode a whole response.
    ensure_ascii = True

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if isinstance(data, list):
            data = {"errors": data}
        try:
            return orjson.dumps(data)
        except (TypeError, orjson.JSONEncodeError):
            return super().render(data, accepted_media_type, renderer_context)


class JsonApiContentNegotiation(DefaultContentNegotiation):
    """Only the JSON:API media type, both ways; no `?format=` override."""

    def select_parser(self, request, parsers):
        if not content_type_is_jsonapi(request.content_type):
            return None  # DRF answers 415
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        if accept_allows_jsonapi(request.headers.get("Accept")):
            return renderer, renderer.media_type
        raise NotAcceptable(
            f"This API only speaks {MEDIA_TYPE} (without media type parameters); "
            "send an Accept header that allows it."
        )


class JsonApiDocument(dict):
    """Parsed primary data, flattened for DRF serializers, remembering where each member came
    from so errors can point at `/data/attributes/x` or `/data/relationships/x`."""

    attribute_names: frozenset[str] = frozenset()
    relationship_names: frozenset[str] = frozenset()


class JsonApiParser(parsers.JSONParser):
    """Checks the document's shape before any serializer sees it.

    Missing or malformed members are 400s pointing at them; a `type` that is not the
    endpoint's, or an `id` that is not the URL's, is a 409; a client-generated id on create
    is a 403 (JSON:API 1.0: servers that do not support them must say so). Text no store can
    hold (a NUL, a lone surrogate: giftcards/text.py), or a number too large to be finite,
    anywhere in the document, is a 400 pointing at it.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type=media_type, parser_context=parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc

    def parse_data(self, result, parser_context):
        parser_context = parser_context or {}
        view = parser_context.get("view")
        request = parser_context.get("request")
        method = request.method if request is not None else None
        found = text_rules.find_in_json(result)
        if found is not None:
            path, reason = found
            pointer = "".join(f"/{escape_pointer_token(token)}" for token in path)
            raise DocumentError(reason, pointer, code=text_rules.CODE)
        infinite = text_rules.find_infinite(result)
        if infinite is not None:
            pointer = "".join(f"/{escape_pointer_token(token)}" for token in infinite)
            raise DocumentError(text_rules.INFINITE, pointer, code="invalid")
        if not isinstance(result, dict) or "data" not in result:
            raise DocumentError("The request document must be an object with `data`.", "")
        data = result["data"]
        if not isinstance(data, dict):
            raise DocumentError("`data` must be a single resource object.", "/data")

        resource_type = data.get("type")
        if not isinstance(resource_type, str) or not resource_type:
            raise DocumentError("`type` is required.", "/data/type", code="required")
        expected = getattr(view, "request_resource_type", None) or getattr(
            view, "resource_name", None
        )
        if isinstance(expected, str) and resource_type != expected:
            raise Conflict(
                f"The resource type {resource_type!r} is not this endpoint's ({expected!r}).",
                pointer="/data/type",
            )

        lookup = (getattr(view, "kwargs", None) or {}).get("pk")
        if method == "POST" and "id" in data:
            raise Forbidden("Client-generated ids are not supported.", pointer="/data/id")
        if method == "PATCH":
            if not isinstance(data.get("id"), str) or not data["id"]:
                raise DocumentError("`id` is required (a string).", "/data/id", code="required")
            if lookup is not None and data["id"] != str(lookup):
                raise Conflict(
                    f"The resource id {data['id']!r} does not match the URL's ({lookup!r}).",
                    pointer="/data/id",
                )

        attributes = data.get("attributes", {})
        if not isinstance(attributes, dict):
            raise DocumentError("`attributes` must be an object.", "/data/attributes")
        relationships = data.get("relationships", {})
        if not isinstance(relationships, dict):
            raise DocumentError("`relationships` must be an object.", "/data/relationships")
        for name, value in relationships.items():
            if not isinstance(value, dict) or "data" not in value:
                raise DocumentError(
                    "A relationship must be an object with `data`.",
                    f"/data/relationships/{name}",
                )
        both = set(attributes) & set(relationships)
        if both:
            name = sorted(both)[0]
            raise DocumentError(
                "A member cannot be both an attribute and a relationship.",
                f"/data/relationships/{name}",
            )

        document = JsonApiDocument(attributes)
        document.update({name: value["data"] for name, value in relationships.items()})
        document.attribute_names = frozenset(attributes)
        document.relationship_names = frozenset(relationships)
        return document

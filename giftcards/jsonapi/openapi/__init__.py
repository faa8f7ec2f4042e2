"""The JSON:API (seed 003) in OpenAPI 3, generated from its routes and what their viewsets
declare, added to drf-spectacular's document by a postprocessing hook.

drf-spectacular describes serializers as flat request and response bodies; JSON:API documents
wrap attributes in `data`, resource objects, relationships, `included`, `links` and `meta`,
and take query parameter families (`filter[q][...]`, `sort`, `include`, `fields[...]`,
`page[...]`) that no DRF filter backend declares. So the JSON:API's part is built here, while
drf-spectacular still maps each serializer field to its OpenAPI type and serves the document.
"""

from __future__ import annotations

import re

from giftcards.jsonapi.openapi.document import HEADERS, PARAMETERS, TAG, JsonApiOpenApi
from giftcards.jsonapi.openapi.lookup import download_path, lookup_path

ROUTE_GROUPS = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def route_path(pattern, prefix: str) -> str:
    """`^gift_cards/(?P<pk>[^/]+)/?$` -> `/api/gift_cards/{id}` (`{related_field}` kept)."""
    regex = str(pattern.pattern).lstrip("^").removesuffix("$").removesuffix("/?")
    regex = ROUTE_GROUPS.sub(lambda m: "{id}" if m[1] == "pk" else f"{{{m[1]}}}", regex)
    return f"{prefix}/{regex}"


def build(registry, prefix: str = "/api") -> JsonApiOpenApi:
    from giftcards.jsonapi.urls import urlpatterns

    api = JsonApiOpenApi(registry, prefix)
    routes = []
    for pattern in urlpatterns:
        viewset = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None) or {}
        if actions and getattr(viewset, "resource_name", None):
            api.spec(viewset)
            routes.append((pattern, viewset, set(actions)))
    for pattern, viewset, methods in routes:
        path = route_path(pattern, prefix)
        kind = pattern.name.rsplit("-", 1)[-1]
        if pattern.name == "jsonapi-gift-card-lookup":
            api.paths[path] = lookup_path(api, viewset)
        elif kind == "list":
            api.add_collection(viewset, methods, path)
        elif kind == "detail":
            api.add_member(viewset, methods, path)
        elif kind == "related":
            api.add_related(viewset, lambda name, path=path: path.replace("{related_field}", name))
        elif kind == "relationships":
            api.add_linkage(
                viewset,
                lambda name, linkage=True, path=path: path.replace("{related_field}", name),
            )
    api.paths[f"{prefix}/exports/{{id}}/download"] = download_path()
    api.finish()
    return api


def add_jsonapi(result, generator, request, public):
    """drf-spectacular postprocessing hook: the JSON:API's paths and components."""
    api = build(generator.registry)
    result.setdefault("paths", {}).update(dict(sorted(api.paths.items())))
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(api.schemas)
    components.setdefault("parameters", {}).update(PARAMETERS)
    components.setdefault("headers", {}).update(HEADERS)
    components.setdefault("securitySchemes", {}).setdefault(
        "ApiKey",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <key>`. A key belongs to one business and "
            "one mode (live or test); it decides what every call sees and changes.",
        },
    )
    tags = result.setdefault("tags", [])
    tags.extend(
        {"name": f"{TAG}: {type_}", "description": f"The `{type_}` resource (JSON:API)."}
        for type_ in sorted(api.specs)
    )
    return result


def no_endpoints(endpoints):
    """drf-spectacular preprocessing hook of the JSON:API's own document: nothing from the
    plain API (add_jsonapi adds the JSON:API)."""
    return []

"""The JSON:API's paths and components, generated from its routes (`giftcards.jsonapi.urls`):
each route's viewset says which methods, query parameter families, filters, sorts, includes
and relationships it serves."""

from __future__ import annotations

from giftcards.filters.predicates import BOOLEAN_VALUE, NOT_TEXT, TEXT
from giftcards.filters.values import MAX_JCONT_LEAVES, MAX_LIST_ITEMS
from giftcards.jsonapi import documents
from giftcards.jsonapi.openapi.members import REQUEST_EXAMPLES
from giftcards.jsonapi.openapi.resources import (
    MEDIA_TYPE,
    ResourceComponents,
    ResourceSpec,
    ref,
    relationships_of,
)
from giftcards.jsonapi.pagination import JsonApiPagination

TAG = "JSON:API"
ERRORS = {
    400: "Malformed: a bad query parameter, document or header (`source` names it).",
    401: "No API key, or an unknown or revoked one.",
    403: "Not allowed (a relationship changed through its link, a forged download link).",
    404: "No such resource for this key's business and mode (`RECORD_NOT_FOUND`).",
    405: "Not a method this URL takes: a card id of `lookup` names the lookup route "
    "(`POST /api/gift_cards/lookup`), not a card (`METHOD_NOT_ALLOWED`).",
    406: "`Accept` names only media types other than JSON:API's.",
    409: "A conflict: a `type` or `id` that is not the endpoint's (`TYPE_MISMATCH`), a "
    "duplicate (`RECORD_NOT_UNIQUE`), a request with the same `Idempotency-Key` still running, "
    "a row still in use (`CONFLICT`).",
    412: "`If-Match` names a version the card no longer has.",
    413: "The request body is too large.",
    415: "The request's `Content-Type` is not JSON:API's (or has media type parameters).",
    422: "A well-formed request the rules refuse (`VALIDATION_ERROR`; `meta.error` says why), "
    "or an `Idempotency-Key` reused with another request.",
    414: "The URL is longer than the server takes (gunicorn: 4094 bytes of request line; "
    "a proxy may differ). Not a JSON:API document.",
    429: "Too many requests for this key; `Retry-After` says when to retry.",
    503: "The database or the cache is unavailable; `Retry-After` says when to retry.",
}
READ_ERRORS = (400, 401, 404, 406, 414, 429, 503)
BODILESS = frozenset({414})
WRITE_ERRORS = (*READ_ERRORS, 403, 409, 413, 415, 422)
CARD_WRITE_ERRORS = (*WRITE_ERRORS, 412)


def generic_components() -> dict:
    identifier = {
        "type": "object",
        "required": ["type", "id"],
        "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
    }
    url = {"type": "string", "format": "uri"}
    # To-one linkage (an identifier or null) or to-many (an array).
    linkage = {"oneOf": [{**identifier, "nullable": True}, {"type": "array", "items": identifier}]}
    return {
        "ResourceIdentifier": identifier,
        "ResourceLinks": {
            "type": "object",
            "properties": {"self": url},
            "additionalProperties": {"type": "string", "nullable": True},
        },
        "ResourceMeta": {
            "type": "object",
            "properties": {"mode": {"type": "string", "enum": ["test", "live"]}},
            "additionalProperties": True,
        },
        "RelationshipLinks": {
            "type": "object",
            "properties": {"self": url, "related": url},
            "additionalProperties": False,
        },
        "Relationship": {
            "type": "object",
            "description": "Links, and `data` (linkage) where the document carries it.",
            "properties": {
                "links": ref("RelationshipLinks"),
                "data": linkage,
                "meta": {"type": "object", "additionalProperties": True},
            },
            "additionalProperties": False,
        },
        "PageLinks": {
            "type": "object",
            "properties": {name: url for name in ("first", "prev", "next", "last", "self")},
            "additionalProperties": False,
        },
        "PageMeta": {
            "type": "object",
            "required": ["record_count", "page_count"],
            "properties": {
                "record_count": {"type": "integer", "minimum": 0},
                "page_count": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": True,
        },
        "LinkageDocument": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": linkage,
                "links": {"type": "object", "additionalProperties": {"type": "string"}},
                "meta": {"type": "object", "additionalProperties": True},
            },
        },
        "Error": {
            "type": "object",
            "required": ["status", "code", "title", "detail"],
            "properties": {
                "status": {"type": "string", "description": "The HTTP status, as a string."},
                "code": {
                    "type": "string",
                    "description": "Commerce Layer's code: VALIDATION_ERROR, RECORD_NOT_FOUND, "
                    "INVALID_FILTER, ... (docs/errors.md lists them).",
                },
                "title": {"type": "string"},
                "detail": {"type": "string"},
                "source": {
                    "type": "object",
                    "properties": {
                        "pointer": {"type": "string", "description": "JSON pointer."},
                        "parameter": {"type": "string", "description": "Query parameter."},
                        "header": {"type": "string", "description": "Request header."},
                    },
                    "additionalProperties": False,
                },
                "meta": {"type": "object", "additionalProperties": True},
            },
        },
        "ErrorDocument": {
            "type": "object",
            "required": ["errors"],
            "properties": {"errors": {"type": "array", "minItems": 1, "items": ref("Error")}},
        },
    }


def json_body(schema: dict, description: str = "OK.") -> dict:
    """A response (or, with its `description` dropped, a request body) in JSON:API."""
    return {"description": description, "content": {MEDIA_TYPE: {"schema": schema}}}


def request_body(schema: dict, examples: dict | None = None) -> dict:
    media = {"schema": schema}
    if examples:
        media["examples"] = examples
    return {"required": True, "content": {MEDIA_TYPE: media}}


def error_responses(statuses) -> dict:
    return {
        str(code): {"description": ERRORS[code]}
        if code in BODILESS
        else json_body(ref("ErrorDocument"), ERRORS[code])
        for code in sorted(set(statuses))
    }


def comma_list(name: str, values, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "style": "form",
        "explode": False,
        "schema": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": list(values)},
        },
    }


def sparse_fieldset(type_: str) -> dict:
    """`fields[type]`: the members to show; empty (`fields[type]=`) shows none, as JSON:API
    says, so the empty name is one of the values."""
    return comma_list(
        f"fields[{type_}]",
        [*documents.FIELDS[type_], ""],
        f"Sparse fieldset: only these members of {type_}; empty for none (id and type only).",
    )


def query(name: str, schema: dict, description: str = "") -> dict:
    parameter = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


ITEM_SCHEMAS = {
    "integer": {"type": "integer", "format": "int64"},
    "datetime": {"type": "string", "format": "date-time"},
    "boolean": {"type": "boolean"},
}


# A filter's text: not empty (an empty filter is refused), at most 255 characters.
TEXT_VALUE = {"type": "string", "minLength": 1, "maxLength": 255}
LISTS = frozenset({"in", "not_in"})


def predicate_schema(attribute, predicate: str) -> dict:
    """The value of `filter[q][<attribute>_<predicate>]`."""
    if predicate in BOOLEAN_VALUE:
        return {"type": "boolean"}
    if predicate in TEXT or predicate in NOT_TEXT:
        return TEXT_VALUE
    item = dict(ITEM_SCHEMAS.get(attribute.kind, TEXT_VALUE))
    if attribute.kind == "choice":
        item["enum"] = list(attribute.choices)
    if predicate in LISTS:
        if item["type"] == "string" and "enum" not in item and "format" not in item:
            item["pattern"] = "^[^,]+$"  # the list is comma-separated
        return {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_LIST_ITEMS}
    return item


def jcont_parameter(name: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": 'The JSON object the attribute contains, e.g. {"channel":"web"}; nested '
        f"objects match recursively. At most {MAX_JCONT_LEAVES} values in all; keys without "
        "double quotes or backslashes.",
        "content": {
            "application/json": {
                # What the filter takes (giftcards.filters.values.JsonObjectField): any
                # non-empty object, its values any JSON.
                "schema": {"type": "object", "minProperties": 1, "additionalProperties": {}}
            }
        },
    }


def filter_parameters(filterset) -> list[dict]:
    """One parameter per attribute and predicate (`filter[q][status_eq]`); the `_or_`, `_any`
    and `_all` forms are described in docs/filtering.md."""
    parameters = []
    for attribute in getattr(filterset, "attributes", ()):
        for predicate in attribute.predicates:
            name = f"filter[q][{attribute.name}_{predicate}]"
            if predicate == "jcont":
                parameters.append(jcont_parameter(name))
                continue
            parameter = query(name, predicate_schema(attribute, predicate))
            if parameter["schema"].get("type") == "array":
                parameter.update(style="form", explode=False)
            parameters.append(parameter)
    return parameters


class JsonApiOpenApi:
    """Builds the JSON:API's part of the OpenAPI document."""

    def __init__(self, registry, prefix: str = "/api") -> None:
        self.prefix = prefix
        self.schemas = generic_components()
        self.components = ResourceComponents(self.schemas, registry)
        self.specs: dict[str, ResourceSpec] = {}
        self.paths: dict[str, dict] = {}

    # ------------------------------------------------------------------------ resources

    def spec(self, viewset) -> ResourceSpec:
        type_ = viewset.resource_name
        if type_ not in self.specs:
            spec = ResourceSpec(type_, viewset, relationships_of(type_, viewset))
            self.specs[type_] = spec
            self.components.add(spec)
            name = spec.name
            resource = ref(f"{name}Resource")
            self.schemas[f"{name}Document"] = {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": resource,
                    "included": ref("Included"),
                    "links": {"type": "object", "additionalProperties": {"type": "string"}},
                    "meta": {"type": "object", "additionalProperties": True},
                },
            }
            self.schemas[f"{name}RelatedDocument"] = {
                "type": "object",
                "required": ["data"],
                "description": "A to-one relationship's resource, or null.",
                "properties": {
                    "data": {
                        "oneOf": [resource, {"type": "object", "nullable": True, "enum": [None]}]
                    },
                    "included": ref("Included"),
                    "links": {"type": "object", "additionalProperties": {"type": "string"}},
                    "meta": {"type": "object", "additionalProperties": True},
                },
            }
            self.schemas[f"{name}ListDocument"] = {
                "type": "object",
                "required": ["data", "meta", "links"],
                "properties": {
                    "data": {"type": "array", "items": resource},
                    "included": ref("Included"),
                    "links": ref("PageLinks"),
                    "meta": ref("PageMeta"),
                },
            }
        return self.specs[type_]

    def finish(self) -> None:
        """`Included`, once every type is known; links only to operations that exist."""
        operations = {
            operation["operationId"] for path in self.paths.values() for operation in path.values()
        }
        for path in self.paths.values():
            for operation in path.values():
                for response in operation["responses"].values():
                    if "links" in response:
                        response["links"] = {
                            name: link
                            for name, link in response["links"].items()
                            if link["operationId"] in operations
                        }
        self.schemas["Included"] = {
            "type": "array",
            "description": "The included resources, sorted by type, then id.",
            "items": {"anyOf": [ref(f"{spec.name}Resource") for spec in self.specs.values()]},
        }

    # ------------------------------------------------------------------------ parameters

    def document_parameters(self, viewset, spec: ResourceSpec) -> list[dict]:
        includable = list(getattr(viewset, "includable", {}))
        parameters = []
        if includable:
            parameters.append(
                comma_list("include", includable, "Related resources to add to `included`.")
            )
        types = {spec.type, *(documents.INCLUDABLE.get(name) for name in includable)}
        types |= {t for r in spec.relationships.values() if r.name in includable for t in r.types}
        for type_ in sorted(t for t in types if t in documents.FIELDS):
            parameters.append(sparse_fieldset(type_))
        return parameters

    @staticmethod
    def page_parameters() -> list[dict]:
        size = {"type": "integer", "minimum": 1, "maximum": JsonApiPagination.max_page_size}
        return [
            query("page[number]", {"type": "integer", "minimum": 1}, "The page, from 1."),
            query("page[size]", size, f"Resources a page (default {JsonApiPagination.page_size})."),
        ]

    def list_parameters(self, viewset, spec: ResourceSpec) -> list[dict]:
        sortable = [
            *getattr(viewset, "sort_fields", {}),
            *getattr(viewset, "computed_sort_fields", {}),
        ]
        parameters = self.document_parameters(viewset, spec) + self.page_parameters()
        if sortable:
            terms = [term for name in sortable for term in (name, f"-{name}")]
            parameters.append(
                comma_list("sort", terms, "Sort fields, `-` for descending, comma-separated.")
            )
        return parameters + filter_parameters(getattr(viewset, "filterset_class", None))

    # ------------------------------------------------------------------------ operations

    def operation(self, spec, action: str, summary: str, responses: dict, **extra) -> dict:
        operation = {
            "operationId": f"{spec.type}_{action}",
            "summary": summary,
            "tags": [f"{TAG}: {spec.type}"],
            "security": [{"ApiKey": []}],
            "responses": responses,
        }
        operation.update(extra)
        return operation

    def add_collection(self, viewset, methods: set[str], path: str) -> None:
        spec = self.spec(viewset)
        name, operations = spec.name, {}
        if "get" in methods:
            operations["get"] = self.operation(
                spec,
                "list",
                f"List {spec.type}",
                {"200": json_body(ref(f"{name}ListDocument")), **error_responses(READ_ERRORS)},
                parameters=self.list_parameters(viewset, spec),
            )
        if "post" in methods:
            idempotent = getattr(viewset.create, "idempotent", False)
            operations["post"] = self.operation(
                spec,
                "create",
                f"Create a {spec.type[:-1]}",
                {
                    "201": {
                        **json_body(ref(f"{name}Document"), "Created."),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                        "links": self.member_links(spec),
                    },
                    **error_responses(WRITE_ERRORS),
                },
                parameters=self.document_parameters(viewset, spec)
                + ([ref_parameter("IdempotencyKey")] if idempotent else []),
                requestBody=request_body(
                    ref(f"{name}CreateRequest"), REQUEST_EXAMPLES.get((spec.type, "create"))
                ),
            )
        self.paths[path] = operations

    @staticmethod
    def member_links(spec) -> dict:
        """OpenAPI links from a created resource to what can be done with it (clients and
        stateful fuzzers follow them)."""
        member = {"id": "$response.body#/data/id"}
        return {
            f"{action.capitalize()}{spec.name}": {
                "operationId": f"{spec.type}_{action}",
                "parameters": member,
            }
            for action in ("retrieve", "update", "destroy")
        }

    def add_member(self, viewset, methods: set[str], path: str) -> None:
        spec = self.spec(viewset)
        name, operations = spec.name, {}
        card = spec.type == "gift_cards"
        # /api/gift_cards/lookup matches the card's URL too: other methods there are 405s.
        lookup = (405,) if card else ()
        parameters = [ref_parameter("Id")]
        if "get" in methods:
            operations["get"] = self.operation(
                spec,
                "retrieve",
                f"Retrieve a {spec.type[:-1]}",
                {
                    "200": {
                        **json_body(ref(f"{name}Document")),
                        "headers": {"ETag": ref_header("ETag")},
                    },
                    "304": {"description": "Not modified: `If-None-Match` names the ETag."},
                    **error_responses((*READ_ERRORS, *lookup)),
                },
                parameters=[*self.document_parameters(viewset, spec), ref_parameter("IfNoneMatch")],
            )
        if "patch" in methods:
            operations["patch"] = self.operation(
                spec,
                "update",
                f"Update a {spec.type[:-1]}",
                {
                    "200": json_body(ref(f"{name}Document")),
                    **error_responses((*CARD_WRITE_ERRORS, *lookup) if card else WRITE_ERRORS),
                },
                parameters=self.document_parameters(viewset, spec)
                + ([ref_parameter("IfMatch")] if card else [])
                + (
                    [ref_parameter("IdempotencyKey")]
                    if getattr(viewset.partial_update, "idempotent", False)
                    else []
                ),
                requestBody=request_body(
                    ref(f"{name}UpdateRequest"), REQUEST_EXAMPLES.get((spec.type, "update"))
                ),
            )
        if "delete" in methods:
            operations["delete"] = self.operation(
                spec,
                "destroy",
                f"Delete a {spec.type[:-1]}",
                {
                    "204": {"description": "Deleted."},
                    **error_responses((*READ_ERRORS, 409, *((412, *lookup) if card else ()))),
                },
                parameters=[ref_parameter("IfMatch")] if card else [],
            )
        self.paths[path] = with_parameters(parameters, operations)

    def add_related(self, viewset, path_of) -> None:
        spec = self.spec(viewset)
        for relationship in spec.relationships.values():
            if not relationship.routes:
                continue
            target = relationship.types[0] if len(relationship.types) == 1 else None
            if target is not None and target in self.specs:
                target_name = self.specs[target].name
                document = ref(
                    f"{target_name}ListDocument"
                    if relationship.many
                    else f"{target_name}RelatedDocument"
                )
            else:
                document = {"type": "object", "required": ["data"]}
            parameters = [ref_parameter("Id")]
            if target is not None and target in documents.FIELDS:
                parameters.append(sparse_fieldset(target))
            if relationship.many:
                parameters += self.page_parameters()
            get = self.operation(
                spec,
                f"{relationship.name}_related",
                f"The {relationship.name} of a {spec.type[:-1]}",
                {"200": json_body(document), **error_responses(READ_ERRORS)},
            )
            self.paths[path_of(relationship.name)] = with_parameters(parameters, {"get": get})

    def add_linkage(self, viewset, path_of) -> None:
        spec = self.spec(viewset)
        for relationship in spec.relationships.values():
            if not relationship.linkage_route:
                continue
            parameters = [ref_parameter("Id")]
            operations = {
                "get": self.operation(
                    spec,
                    f"{relationship.name}_linkage",
                    f"Linkage of the {relationship.name} of a {spec.type[:-1]}",
                    {"200": json_body(ref("LinkageDocument")), **error_responses(READ_ERRORS)},
                    parameters=self.page_parameters() if relationship.paginated else [],
                )
            }
            for method in ("patch", "post", "delete"):
                operations[method] = self.operation(
                    spec,
                    f"{relationship.name}_linkage_{method}",
                    "Not supported: change relationships by updating the resource.",
                    error_responses((403, *READ_ERRORS, 409, 413, 415)),
                    requestBody=request_body(ref("LinkageDocument")),
                )
            self.paths[path_of(relationship.name, linkage=True)] = with_parameters(
                parameters, operations
            )


def with_parameters(parameters: list[dict], operations: dict) -> dict:
    """Path-level parameters, repeated in each operation (drf-spectacular's document has no
    path-level members)."""
    for operation in operations.values():
        operation["parameters"] = [*parameters, *operation.get("parameters", [])]
    return operations


def ref_parameter(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def ref_header(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}


PARAMETERS = {
    "Id": {
        "name": "id",
        "in": "path",
        "required": True,
        # `lookup` is a route of its own (POST /api/gift_cards/lookup), never an id.
        "schema": {"type": "string", "maxLength": 64, "pattern": "^(?!lookup$)"},
        "description": "The resource's id (never `lookup`: that is another route).",
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": "Makes a retried write happen once: the same key and body replay the "
        "first answer (with `Idempotent-Replayed: true`); the same key with another body is a "
        "409.",
    },
    "IfMatch": {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "The card's `ETag` as read: the write happens only if the card has not "
        "changed since (else 412).",
    },
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "An `ETag` read before: 304 with no body while it is still current.",
    },
}
HEADERS = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "The representation's validator, for `If-None-Match` (and, on cards, "
        "`If-Match`).",
    }
}

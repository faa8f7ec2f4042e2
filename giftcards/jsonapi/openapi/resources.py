"""OpenAPI components of each JSON:API resource type, from what the code declares: the
attributes documents render (`documents.FIELDS`), the serializer fields that validate writes
(mapped to OpenAPI by drf-spectacular), read-only members (`members.READ_ONLY`) and the
relationships the viewsets serve."""

from __future__ import annotations

from dataclasses import dataclass, field

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from giftcards.jsonapi import documents
from giftcards.jsonapi.openapi import members
from giftcards.models import AttachableType

MEDIA_TYPE = "application/vnd.api+json"
# Polymorphic relationships: name -> the types its linkage may name.
POLYMORPHIC = {"attachable": tuple(AttachableType.values)}
# Relationships no viewset route serves (shown by documents with links only).
FIXED_TARGETS = {
    ("versions", "gift_card"): ("gift_cards", False),
    ("events", "webhooks"): ("webhooks", True),
    ("events", "last_event_callbacks"): ("event_callbacks", True),
    ("webhooks", "last_event_callbacks"): ("event_callbacks", True),
    ("event_callbacks", "webhook"): ("webhooks", False),
}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def component_name(type_: str) -> str:
    """`gift_card_recipients` -> `GiftCardRecipient`."""
    singular = type_[:-1] if type_.endswith("s") else type_
    return "".join(part.capitalize() for part in singular.split("_"))


@dataclass
class Relationship:
    name: str
    types: tuple[str, ...]
    many: bool
    writable: bool = False
    routes: bool = False  # served at /{type}/{id}/{name}
    linkage_route: bool = False  # served at /{type}/{id}/relationships/{name}
    paginated: bool = False  # its linkage route takes page[...]


@dataclass
class ResourceSpec:
    """What the schema needs of one resource type, read from its viewset."""

    type: str
    viewset: type
    relationships: dict[str, Relationship] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return component_name(self.type)

    @property
    def serializer(self) -> type[serializers.Serializer] | None:
        return getattr(self.viewset, "serializer_class", None)

    @property
    def attribute_names(self) -> list[str]:
        return [name for name in documents.FIELDS[self.type] if name not in self.relationships]

    def writable(self) -> dict[str, serializers.Field]:
        declared = getattr(self.serializer, "_declared_fields", {}) if self.serializer else {}
        return {
            name: found
            for name, found in declared.items()
            if name not in self.relationships and not found.read_only
        }


def relationships_of(type_: str, viewset) -> dict[str, Relationship]:
    declared = getattr(getattr(viewset, "serializer_class", None), "_declared_fields", {})
    related = getattr(viewset, "related_resources", None)
    linkage = set(getattr(viewset, "linkage", ()))
    relations = getattr(viewset, "relations", {})
    found = {}
    for name in documents.RELATIONSHIPS.get(type_, ()):
        routes = name in relations or (related is not None and name in related)
        if related is not None and name in related:
            serializer, many = related[name]
            types = (serializer.Meta.resource_name,)
        elif name in relations:
            relation = relations[name]
            types = (relation.type,) if relation.type else POLYMORPHIC[name]
            many = relation.many
        else:
            target, many = FIXED_TARGETS[(type_, name)]
            types = (target,)
        found[name] = Relationship(
            name,
            types,
            many,
            writable=name in declared,
            routes=routes,
            linkage_route=routes and (related is None or name in linkage),
            paginated=name in relations and many,
        )
    return found


class ResourceComponents:
    """Adds a resource type's schemas to `schemas` (the document's components)."""

    def __init__(self, schemas: dict, registry) -> None:
        self.schemas = schemas
        self.auto = AutoSchema()
        self.auto.registry = registry
        self.auto.method = "GET"
        self.auto.path = "/api/"
        self.auto.view = None

    def field_schema(self, found: serializers.Field, direction: str) -> dict:
        if type(found).__name__ == "JsonObjectField":
            schema = dict(members.OBJECT)
        else:
            schema = dict(self.auto._map_serializer_field(found, direction))
        if found.allow_null:
            schema["nullable"] = True
        if getattr(found, "allow_blank", False):
            schema.pop("format", None)  # "" is no URL, e-mail address or date
        for attribute, key in (("min_value", "minimum"), ("max_value", "maximum")):
            value = getattr(found, attribute, None)
            if value is not None and schema.get("type") == "integer":
                schema[key] = value
        schema.pop("readOnly", None)
        return schema

    def add(self, spec: ResourceSpec) -> None:
        name, type_ = spec.name, spec.type
        writable = spec.writable()
        attributes = {}
        for attribute in spec.attribute_names:
            if attribute in writable and not writable[attribute].write_only:
                schema = self.field_schema(writable[attribute], "response")
                if members.DESCRIPTIONS.get(attribute):
                    schema["description"] = members.DESCRIPTIONS[attribute]
            elif type_ == "attachments" and attribute == "url":
                schema = {"type": "string"}
            else:
                schema = members.read_only_schema(type_, attribute)
            attributes[attribute] = schema
        self.schemas[f"{name}Attributes"] = {
            "type": "object",
            "description": "Every attribute, unless `fields[...]` asks for fewer.",
            "properties": attributes,
            "additionalProperties": False,
        }
        self.schemas[f"{name}Relationships"] = {
            "type": "object",
            "properties": {
                relationship: ref("Relationship") for relationship in spec.relationships
            },
            "additionalProperties": False,
        }
        self.schemas[f"{name}Resource"] = {
            "type": "object",
            "required": ["type", "id"],
            "properties": {
                "type": {"type": "string", "enum": [type_]},
                "id": {"type": "string"},
                "attributes": ref(f"{name}Attributes"),
                "relationships": ref(f"{name}Relationships"),
                "links": ref("ResourceLinks"),
                "meta": ref("ResourceMeta"),
            },
            "additionalProperties": False,
        }
        self.add_requests(spec, writable)

    def add_requests(self, spec: ResourceSpec, writable: dict) -> None:
        if not writable and not any(r.writable for r in spec.relationships.values()):
            return
        name = spec.name
        updatable = getattr(spec.serializer, "updatable", None)
        for action in ("Create", "Update"):
            properties, required = {}, []
            for attribute, found in writable.items():
                trigger = attribute.startswith("_")
                if trigger and action == "Create":
                    continue  # triggers act on what exists
                if action == "Update" and updatable is not None and attribute not in updatable:
                    continue
                schema = self.field_schema(found, "request")
                if trigger or found.write_only:
                    schema["writeOnly"] = True
                if members.DESCRIPTIONS.get(attribute):
                    schema["description"] = members.DESCRIPTIONS[attribute]
                properties[attribute] = schema
                if action == "Create" and found.required:
                    required.append(attribute)
            attributes = {"type": "object", "properties": properties}
            if required:
                attributes["required"] = required
            self.schemas[f"{name}{action}Attributes"] = attributes
            relationships = {
                relationship.name: self.linkage_request(relationship)
                for relationship in spec.relationships.values()
                if relationship.writable
            }
            data = {
                "type": "object",
                "required": ["type", *(["id"] if action == "Update" else [])],
                "properties": {
                    "type": {"type": "string", "enum": [spec.type]},
                    **({"id": {"type": "string"}} if action == "Update" else {}),
                    "attributes": ref(f"{name}{action}Attributes"),
                    **(
                        {"relationships": {"type": "object", "properties": relationships}}
                        if relationships
                        else {}
                    ),
                },
            }
            if action == "Create" and required:
                data["required"].append("attributes")
            self.schemas[f"{name}{action}Request"] = {
                "type": "object",
                "required": ["data"],
                "properties": {"data": data},
            }

    @staticmethod
    def linkage_request(relationship: Relationship) -> dict:
        identifier = {
            "type": "object",
            "required": ["type", "id"],
            "properties": {
                "type": {"type": "string", "enum": list(relationship.types)},
                "id": {"type": "string"},
            },
        }
        if relationship.many:
            data = {"type": "array", "items": identifier}
        else:
            data = {**identifier, "nullable": True}
        return {"type": "object", "required": ["data"], "properties": {"data": data}}

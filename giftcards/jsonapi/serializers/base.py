"""What every JSON:API resource serializer shares: `links.self`, `meta.mode`, sparse fieldsets
that keep both, and refusal of unknown or read-only members."""

from __future__ import annotations

import json
from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.encoders import JSONEncoder
from rest_framework_json_api import serializers as jsonapi
from rest_framework_json_api.utils import is_relationship_field

# Not attributes: the resource's link and its meta, always rendered.
ALWAYS_RENDERED = frozenset({"url", "mode"})


def sparse_field_names(serializer_class) -> list[str]:
    """What `fields[<type>]` may name: readable attributes and relationships."""
    return [
        name
        for name, field in serializer_class._declared_fields.items()
        if not field.write_only and name not in ALWAYS_RENDERED
    ]


def datetime_string(value) -> str | None:
    """The API's one datetime format: ISO 8601 in UTC with a `Z`."""
    return serializers.DateTimeField().to_representation(value) if value is not None else None


class ResourceSerializer(jsonapi.ModelSerializer):
    mode = serializers.CharField(read_only=True)

    class Meta:
        meta_fields = ["mode"]

    @classmethod
    def resource_type(cls) -> str:
        return cls.Meta.resource_name

    @classmethod
    def relationship_names(cls) -> frozenset[str]:
        return frozenset(
            name for name, field in cls._declared_fields.items() if is_relationship_field(field)
        )

    @property
    def _readable_fields(self):
        fields = [field for field in self.fields.values() if not field.write_only]
        request = self.context.get("request")
        wanted = request.query_params.get(f"fields[{self.resource_type()}]") if request else None
        if wanted is None:
            return fields
        names = set(wanted.split(",")) | ALWAYS_RENDERED
        return [field for field in fields if field.field_name in names]

    def member_errors(self, data: Mapping) -> dict:
        """Unknown members, read-only members, and members sent in the wrong section."""
        errors = {}
        relationships = self.relationship_names()
        sent_as_relationship = getattr(data, "relationship_names", frozenset())
        sent_as_attribute = getattr(data, "attribute_names", frozenset(data))
        for name in data:
            field = self.fields.get(name)
            if field is None or name in ALWAYS_RENDERED:
                kind = "relationship" if name in sent_as_relationship else "attribute"
                errors[name] = [ErrorDetail(f"Unknown {kind} {name!r}.", code="unknown")]
            elif field.read_only:
                if not self._echoes_current_value(name, data[name]):
                    errors[name] = [ErrorDetail(f"{name} is read-only.", code="read_only")]
            elif name in relationships and name in sent_as_attribute:
                errors[name] = [
                    ErrorDetail(f"{name} is a relationship: send it in relationships.", "invalid")
                ]
            elif name not in relationships and name in sent_as_relationship:
                errors[name] = [
                    ErrorDetail(f"{name} is an attribute: send it in attributes.", "invalid")
                ]
        return errors

    def _echoes_current_value(self, name: str, sent) -> bool:
        """On an update, a read-only attribute sent back exactly as the resource shows it
        (clients that send the whole resource do) changes nothing and is accepted."""
        if self.instance is None:
            return False
        if not hasattr(self, "_current"):
            self._current = json.loads(
                json.dumps(self.to_representation(self.instance), cls=JSONEncoder)
            )
        return name in self._current and self._current[name] == sent

    def to_internal_value(self, data):
        errors = self.member_errors(data) if isinstance(data, Mapping) else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **errors}) from exc
            raise
        if errors:
            raise serializers.ValidationError(errors)
        return value

    @property
    def tenant(self):
        return self.context["tenant"]

    @property
    def actor(self):
        return self.context["actor"]

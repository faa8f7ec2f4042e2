"""What every JSON:API resource serializer shares: refusal of unknown members, of read-only
members that change a value, and of members sent in the wrong section. Serializers validate;
documents.py renders."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.encoders import JSONEncoder

from giftcards.jsonapi import documents

# Not attributes (the resource's link and its meta), unless a resource declares one as its
# own (an attachment's `url`).
ALWAYS_RENDERED = frozenset({"url", "mode"})


class ResourceSerializer(serializers.Serializer):
    """Context: tenant, actor, and on an update `current`, a function returning the
    resource's attributes as a client last read them (for read-only members sent back).

    Only the members a document sends (and, on create, the required ones) get a field: DRF
    deep-copies every declared field for each serializer, most of a small write's cost."""

    class Meta:
        resource_name = ""

    def get_fields(self):
        declared = self._declared_fields
        data = getattr(self, "initial_data", None)
        if not isinstance(data, Mapping):
            return copy.deepcopy(declared)
        return {
            name: copy.deepcopy(field)
            for name, field in declared.items()
            if name in data or (field.required and not self.partial)
        }

    @classmethod
    def resource_type(cls) -> str:
        return cls.Meta.resource_name

    @classmethod
    def relationship_names(cls) -> frozenset[str]:
        return frozenset(documents.RELATIONSHIPS.get(cls.Meta.resource_name, ()))

    @classmethod
    def read_only_names(cls) -> frozenset[str]:
        """What documents show and a client cannot write."""
        return frozenset(documents.FIELDS[cls.Meta.resource_name]) - set(cls._declared_fields)

    def member_errors(self, data: Mapping) -> dict:
        """Unknown members, read-only members, and members sent in the wrong section."""
        errors = {}
        relationships = self.relationship_names()
        sent_as_relationship = getattr(data, "relationship_names", frozenset())
        sent_as_attribute = getattr(data, "attribute_names", frozenset(data))
        read_only = self.read_only_names()
        for name in data:
            if name in read_only:
                if not self._echoes_current_value(name, data[name]):
                    errors[name] = [ErrorDetail(f"{name} is read-only.", code="read_only")]
            elif name not in self.fields or (
                name in ALWAYS_RENDERED and name not in self._declared_fields
            ):
                kind = "relationship" if name in sent_as_relationship else "attribute"
                errors[name] = [ErrorDetail(f"Unknown {kind} {name!r}.", code="unknown")]
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
        current = self.current_attributes()
        return current is not None and name in current and current[name] == sent

    def current_attributes(self) -> dict | None:
        if "current" not in self.context:
            return None
        if not hasattr(self, "_current"):
            self._current = json.loads(json.dumps(self.context["current"](), cls=JSONEncoder))
        return self._current

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

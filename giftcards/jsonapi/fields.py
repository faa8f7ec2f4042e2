"""The JSON:API's own fields (the strict ones both APIs use are in giftcards/fields.py):
typed integers, tag name lists, relationships that resolve only within the key's business and
mode, the polymorphic `attachable`, card linkage checked by the services, and callback
URLs."""

from __future__ import annotations

import re

from rest_framework import serializers
from rest_framework_json_api import exceptions as jsonapi_exceptions
from rest_framework_json_api.relations import ResourceRelatedField

from giftcards.fields import StrictCharField, StrictEmailField
from giftcards.jsonapi.errors import Conflict, RelatedNotFound
from giftcards.models import PUBLIC_ID_PATTERN, AttachableType

MAX_CENTS = 10**13  # far above any real card, far below a 64-bit overflow


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class NameListField(StrictCharField):
    """`"vip, summer"` -> ["vip", "summer"]: the comma-separated tag names of `_add_tags`."""

    default_error_messages = {
        "empty_list": "Give at least one tag name.",
        "name_too_long": "A tag name has at most 100 characters.",
    }

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names:
            self.fail("empty_list")
        if any(len(name) > 100 for name in names):
            self.fail("name_too_long")
        return names


class TypedRelatedField(ResourceRelatedField):
    """A relationship with a fixed resource type, resolved within the request's tenant.

    A resource the key cannot see is a 404 (JSON:API: a request referencing a related
    resource that does not exist), pointing at the relationship.
    """

    def __init__(self, *, resource_type: str, **kwargs):
        self.resource_type = resource_type
        super().__init__(**kwargs)

    def get_resource_type_from_included_serializer(self):
        return self.resource_type

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.for_tenant(self.context["tenant"])

    def to_internal_value(self, data):
        name = self.field_name or self.parent.field_name
        try:
            return super().to_internal_value(data)
        except jsonapi_exceptions.Conflict as exc:
            to_one = self.parent is None or not isinstance(
                self.parent, serializers.ManyRelatedField
            )
            pointer = f"/data/relationships/{name}" + ("/data/type" if to_one else "")
            raise Conflict(exc.detail, code="type_mismatch", pointer=pointer) from exc
        except serializers.ValidationError as exc:
            codes = exc.get_codes()
            if "does_not_exist" in (codes if isinstance(codes, list) else [codes]):
                raise RelatedNotFound(
                    f"No {self.resource_type} resource with id {data.get('id')!r}.",
                    pointer=f"/data/relationships/{name}",
                ) from exc
            raise


class RecipientEmailField(StrictEmailField):
    """Writing finds or creates the recipient by email (services.card_issue, card_change)."""


class CallbackUrlField(StrictCharField):
    """A webhook's callback URL: text here; where it may lead is the service's rule
    (giftcards.events.egress, which resolves its host)."""


class AttachableField(serializers.Field):
    """The polymorphic `attachable` relationship: linkage to a card, a recipient or a market,
    validated as `attachable_type` and `attachable_id` (whether the key can see that row is
    giftcards.attachments' rule: a 404 when it cannot). Another type is a 409, as a typed
    relationship's is."""

    default_error_messages = {
        "invalid": 'Must be resource linkage: {{"type": ..., "id": "..."}}.',
        "id": "The id must be a non-empty string.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict) or not isinstance(data.get("type"), str) or "id" not in data:
            self.fail("invalid")
        if data["type"] not in AttachableType.values:
            raise Conflict(
                f"Incorrect relation type {data['type']!r}: attachments are for "
                f"{', '.join(AttachableType.values)}.",
                code="type_mismatch",
                pointer="/data/relationships/attachable/data/type",
            )
        if not isinstance(data["id"], str) or not data["id"]:
            self.fail("id")
        return {"attachable_type": data["type"], "attachable_id": data["id"]}

    def to_representation(self, value):  # documents.py renders; never called
        raise NotImplementedError


class CardLinkageField(serializers.Field):
    """A to-one relationship to a gift card, validated as the card's id: the service that
    uses it looks the card up through the key's tenant (under its lock) and refuses one the
    key cannot see (a 404 pointing here). Another type is a 409, as a typed relationship's
    is; an id that no card can have is a 404 at once."""

    default_error_messages = {
        "invalid": 'Must be resource linkage: {{"type": "gift_cards", "id": "..."}}.',
        "id": "The id must be a string.",
    }
    ID = re.compile(PUBLIC_ID_PATTERN)

    def to_internal_value(self, data):
        if not isinstance(data, dict) or not isinstance(data.get("type"), str) or "id" not in data:
            self.fail("invalid")
        pointer = f"/data/relationships/{self.field_name}"
        if data["type"] != "gift_cards":
            raise Conflict(
                f"Incorrect relation type {data['type']!r}: {self.field_name} is a gift_cards.",
                code="type_mismatch",
                pointer=f"{pointer}/data/type",
            )
        if not isinstance(data["id"], str):
            self.fail("id")
        if not self.ID.match(data["id"]):
            missing = f"No gift_cards resource with id {data['id']!r}."
            raise RelatedNotFound(missing, pointer=pointer)
        return data["id"]

    def to_representation(self, value):  # documents.py renders; never called
        raise NotImplementedError

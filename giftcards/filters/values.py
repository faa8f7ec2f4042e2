"""What a filter's value may be (strict booleans, ISO 8601 moments, comma lists, JSON
objects), and JSON containment that behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform

from giftcards import dates, text

MAX_LIST_ITEMS = 100
MAX_JCONT_LEAVES = 20


# ---------------------------------------------------------------------------- form fields


class StrictBooleanField(forms.Field):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_python(self, value):
        if value in (None, ""):
            return None
        lowered = str(value).strip().lower()
        if lowered in {"true", "1"}:
            return True
        if lowered in {"false", "0"}:
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class IsoDateTimeField(forms.Field):
    """ISO 8601: `2025-01-31T12:00:00Z`, with an offset, or a date (midnight UTC); a time
    without an offset is UTC. Only moments the service accepts (giftcards/dates.py): no
    stored value lies outside them."""

    default_error_messages = {
        "invalid": "Must be an ISO 8601 date-time such as 2025-01-31T12:00:00Z.",
        "out_of_range": dates.MESSAGE,
    }

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip()
        try:
            if len(text) == 10:
                moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time.min)
            else:
                moment = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc
        utc = dates.to_utc(moment)
        if utc is None:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return utc


class CommaListField(forms.Field):
    """`a,b,c`, each item validated by `item`; at most `max_items` (MAX_LIST_ITEMS)."""

    def __init__(self, *, item: forms.Field, max_items: int = MAX_LIST_ITEMS, **kwargs):
        self.item = item
        self.max_items = max_items
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in (None, ""):
            return None
        items = [part.strip() for part in str(value).split(",")]
        if any(part == "" for part in items):
            raise forms.ValidationError("Empty item in the comma-separated list.", code="invalid")
        if len(items) > self.max_items:
            raise forms.ValidationError(f"At most {self.max_items} items.", code="max_length")
        return [self.item.clean(part) for part in items]


class JsonObjectField(forms.Field):
    default_error_messages = {"invalid": 'Must be a JSON object, such as {"tier":"gold"}.'}

    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from exc
        if not isinstance(parsed, dict) or not parsed:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        found = text.find_in_json(parsed)
        if found is not None:
            raise forms.ValidationError(found[1], code=text.CODE)
        leaves = list(_leaves(parsed, ()))
        if len(leaves) > MAX_JCONT_LEAVES:
            raise forms.ValidationError(f"At most {MAX_JCONT_LEAVES} values.", code="invalid")
        for path, _ in leaves:
            if any('"' in key or "\\" in key for key in path):
                # SQLite's JSON paths cannot quote these; refuse rather than mis-match.
                raise forms.ValidationError(
                    "Keys cannot contain double quotes or backslashes.", code="invalid"
                )
        return parsed


# ---------------------------------------------------------------------------- JSON containment


class ObjectKey(KeyTransform):
    """A JSON object member by name, also when the name looks like a number (Django's
    KeyTransform reads `"0"` as an array index)."""

    def as_postgresql(self, compiler, connection):
        lhs, params, keys = self.preprocess_lhs(compiler, connection)
        return f"({lhs} #> %s)", (*params, keys)

    def as_sqlite(self, compiler, connection):
        lhs, params, keys = self.preprocess_lhs(compiler, connection)
        path = "$" + "".join("." + json.dumps(key) for key in keys)
        types = ",".join(repr(name) for name in connection.ops.jsonfield_datatype_values)
        sql = (
            f"(CASE WHEN JSON_TYPE({lhs}, %s) IN ({types}) "
            f"THEN JSON_TYPE({lhs}, %s) ELSE JSON_EXTRACT({lhs}, %s) END)"
        )
        return sql, (*params, path) * 3


def _leaves(value: dict, path: tuple[str, ...]):
    for key, item in value.items():
        if isinstance(item, dict) and item:
            yield from _leaves(item, (*path, key))
        else:
            yield (*path, key), item


def json_contains(queryset: QuerySet, field: str, wanted: dict) -> QuerySet:
    """Rows whose JSON object `field` contains `wanted` (see the module docstring)."""
    aliases, conditions = {}, {}
    for index, (path, value) in enumerate(_leaves(wanted, ())):
        expression = field
        for key in path:
            expression = ObjectKey(key, expression)
        name = f"_jcont_{field}_{index}"
        aliases[name] = expression
        conditions[name] = value
    return queryset.alias(**aliases).filter(**conditions)

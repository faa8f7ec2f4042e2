"""django-filter FilterSets with ransack-style predicates: `status_eq`, `created_at_gt`, ...

Each filterable attribute gets one filter per predicate its kind supports, named
`<attribute>_<predicate>`; the JSON:API turns `filter[q][status_in]` and `filter[status]`
into those names. Predicates:

- `eq`, `not_eq` (`not_eq` keeps rows where the attribute is null), `in`, `not_in` (comma
  lists), `gt`, `gteq`, `lt`, `lteq`;
- `cont`, `start`, `end`: case-insensitive substring, prefix and suffix;
- `null`, `present`, `blank` with `true`/`false` (present: neither null nor empty);
- `true`, `false` on booleans: `single_use_true=true` is `single_use = true`;
- `jcont` on JSON objects: the metadata contains the given object. Nested objects match
  recursively; other values (strings, numbers, booleans, null, arrays) must be equal. It is
  translated into one JSON path equality per leaf, so it behaves the same on SQLite (which has
  no JSON containment) and PostgreSQL.

Codes are stored encrypted, so `code` only supports `eq` and `in`, through the lookup hash
(case-insensitive, spaces and dashes ignored). The topics (`events`) have no table: a
`ValueFilterSet` applies the same predicates to rows held in memory.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import django_filters
from django import forms
from django.db.models import Q

from giftcards import codes
from giftcards.filters.values import (
    CommaListField,
    IsoDateTimeField,
    JsonObjectField,
    StrictBooleanField,
    json_contains,
)

EQUALITY = ("eq", "not_eq", "in", "not_in")
ORDER = ("gt", "gteq", "lt", "lteq")
EMPTINESS = ("null", "present", "blank")
TEXT = ("cont", "start", "end")
BOOLEAN_VALUE = frozenset({"null", "present", "blank", "true", "false"})

KIND_PREDICATES = {
    "string": EQUALITY + TEXT + EMPTINESS,
    "email": EQUALITY + TEXT + EMPTINESS,
    "choice": EQUALITY,
    "id": EQUALITY,
    "integer": EQUALITY + ORDER + EMPTINESS,
    "datetime": EQUALITY + ORDER + EMPTINESS,
    "boolean": ("eq", "not_eq", "true", "false"),
    "json": ("jcont", *EMPTINESS),
    "code": ("eq", "in"),
}
# Longest first, so `balance_cents_not_eq` is (balance_cents, not_eq), not (..._not, eq).
PREDICATES = sorted({p for ps in KIND_PREDICATES.values() for p in ps}, key=len, reverse=True)


# ---------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: str
    path: str = ""
    choices: tuple[str, ...] = ()

    @property
    def lookup(self) -> str:
        return self.path or self.name

    def value_field(self, predicate: str) -> forms.Field:
        if predicate in BOOLEAN_VALUE:
            return StrictBooleanField(required=False)
        if predicate == "jcont":
            return JsonObjectField(required=False)
        if predicate in TEXT:
            return forms.CharField(required=False, max_length=255, strip=False)
        item = self._item_field()
        if predicate in ("in", "not_in"):
            return CommaListField(item=item, required=False)
        item.required = False
        return item

    def _item_field(self) -> forms.Field:
        if self.kind == "integer":
            return forms.IntegerField(min_value=-(2**63), max_value=2**63 - 1)
        if self.kind == "datetime":
            return IsoDateTimeField()
        if self.kind == "boolean":
            return StrictBooleanField()
        if self.kind == "choice":
            return forms.ChoiceField(choices=[(value, value) for value in self.choices])
        if self.kind == "code":
            return forms.CharField(max_length=100)
        return forms.CharField(max_length=255, strip=False)


class PredicateFilter(django_filters.Filter):
    def __init__(self, attribute: Attribute, predicate: str):
        self.attribute = attribute
        self.predicate = predicate
        super().__init__(field_name=attribute.lookup)

    @property
    def field(self):
        if not hasattr(self, "_field"):
            self._field = self.attribute.value_field(self.predicate)
        return self._field

    def filter(self, qs, value):
        if value is None or value == "":  # not given (empty values are refused upstream)
            return qs
        if self.predicate == "jcont":
            return json_contains(qs, self.attribute.lookup, value)
        return qs.filter(self.condition(value))

    def condition(self, value) -> Q:
        path, kind, predicate = self.attribute.lookup, self.attribute.kind, self.predicate
        if kind == "code":
            values = value if isinstance(value, list) else [value]
            return Q(code_hash__in=[h for item in values for h in codes.lookup_hashes(item)])
        exact = "iexact" if kind == "email" else "exact"
        if predicate in ("eq", "not_eq"):
            q = Q(**{f"{path}__{exact}": value})
            return ~q if predicate == "not_eq" else q
        if predicate in ("in", "not_in"):
            if kind == "email":
                q = Q()
                for item in value:
                    q |= Q(**{f"{path}__iexact": item})
            else:
                q = Q(**{f"{path}__in": value})
            return ~q if predicate == "not_in" else q
        if predicate in ORDER:
            return Q(**{f"{path}__{predicate.replace('eq', 'e')}": value})
        if predicate in TEXT:
            lookup = {"cont": "icontains", "start": "istartswith", "end": "iendswith"}
            return Q(**{f"{path}__{lookup[predicate]}": value})
        if predicate in ("true", "false"):
            q = Q(**{path: predicate == "true"})
            return q if value else ~q
        if predicate == "null":
            return Q(**{f"{path}__isnull": value})
        blank = Q(**{f"{path}__isnull": True})
        if kind in ("string", "email"):
            blank |= Q(**{path: ""})
        elif kind == "json":
            blank |= Q(**{path: {}})
        wants_blank = value if predicate == "blank" else not value
        return blank if wants_blank else ~blank

    def matches(self, row, value) -> bool:
        """`condition` for one row held in memory; text and id attributes only (the topics').
        Case is ignored where `condition` ignores it."""
        if value is None or value == "":
            return True
        actual, predicate = getattr(row, self.attribute.lookup), self.predicate
        if self.attribute.kind not in ("string", "choice", "id"):
            raise NotImplementedError(f"{self.attribute.kind} attributes of rows in memory")
        if predicate in ("eq", "not_eq"):
            return (actual == value) == (predicate == "eq")
        if predicate in ("in", "not_in"):
            return (actual in value) == (predicate == "in")
        if predicate in TEXT:
            if actual is None:
                return False
            folded, wanted = actual.lower(), value.lower()
            if predicate == "cont":
                return wanted in folded
            return folded.startswith(wanted) if predicate == "start" else folded.endswith(wanted)
        if predicate == "null":
            return (actual is None) == value
        blank = actual is None or actual == ""
        return blank == (value if predicate == "blank" else not value)


class PredicateFilterSet(django_filters.FilterSet):
    """A FilterSet whose filters are generated from `attributes`."""

    attributes: tuple[Attribute, ...] = ()

    @classmethod
    def get_filters(cls):
        filters = super().get_filters()
        for attribute in cls.attributes:
            for predicate in KIND_PREDICATES[attribute.kind]:
                filters[f"{attribute.name}_{predicate}"] = PredicateFilter(attribute, predicate)
        return filters

    @classmethod
    def attribute_names(cls) -> list[str]:
        return [attribute.name for attribute in cls.attributes]

    @classmethod
    def short_form(cls, name: str) -> str | None:
        """`filter[<attribute>]`: equality, or containment for JSON objects."""
        for attribute in cls.attributes:
            if attribute.name == name:
                return f"{name}_jcont" if attribute.kind == "json" else f"{name}_eq"
        return None

    @classmethod
    def explain_unknown(cls, name: str) -> str:
        known = {attribute.name: attribute for attribute in cls.attributes}
        for predicate in PREDICATES:
            if name.endswith(f"_{predicate}"):
                attribute = known.get(name[: -len(predicate) - 1])
                if attribute is None:
                    return (
                        f"{name[: -len(predicate) - 1]!r} cannot be filtered; filterable: "
                        f"{', '.join(known)}."
                    )
                return (
                    f"The predicate {predicate!r} is not available for {attribute.name!r} "
                    f"(available: {', '.join(KIND_PREDICATES[attribute.kind])})."
                )
        return (
            f"{name!r} is not <attribute>_<predicate>; predicates: {', '.join(sorted(PREDICATES))}."
        )


class ValueFilterSet(PredicateFilterSet):
    """A PredicateFilterSet over rows held in memory (a list, not a queryset), for resources
    without a table: the same parameters, values and refusals, the predicates applied by
    `PredicateFilter.matches`."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        self.is_bound = data is not None
        self.data = data or {}
        self.queryset = list(queryset or ())
        self.request = request
        self.form_prefix = prefix
        self.filters = copy.deepcopy(self.base_filters)
        for filter_ in self.filters.values():
            filter_.parent = self

    def filter_queryset(self, rows: list) -> list:
        for name, value in self.form.cleaned_data.items():
            rows = [row for row in rows if self.filters[name].matches(row, value)]
        return rows

    @property
    def qs(self) -> list:
        if not hasattr(self, "_qs"):
            rows = list(self.queryset)
            self._qs = self.filter_queryset(rows) if self.is_bound and self.is_valid() else rows
        return self._qs

"""django-filter FilterSets with ransack-style predicates: `status_eq`, `created_at_gt`, ...

Each filterable attribute takes the predicates of its kind; the JSON:API turns
`filter[q][status_in]` and `filter[status]` into those names. Predicates:

- `eq`, `not_eq` (`not_eq` keeps rows where the attribute is null), `in`, `not_in` (comma
  lists), `gt`, `gteq`, `lt`, `lteq`;
- `cont`, `start`, `end`: case-insensitive substring, prefix and suffix, and their negations
  `not_cont`, `not_start`, `not_end` (which keep rows where the attribute is null);
- `null`, `present`, `blank` with `true`/`false` (present: neither null nor empty);
- `true`, `false` on booleans: `single_use_true=true` is `single_use = true`;
- `jcont` on JSON objects: the metadata contains the given object. Nested objects match
  recursively; other values (strings, numbers, booleans, null, arrays) must be equal. It is
  translated into one JSON path equality per leaf, so it behaves the same on SQLite (which has
  no JSON containment) and PostgreSQL.

As in Commerce Layer (ransack):

- attributes of a relationship are named `<relationship>_<attribute>` (`market_name_eq`);
  those of a to-many relationship (`tags_name_in`) ask whether some related row matches (their
  `not_` forms: whether none does; `null=true`: no related row at all), in a subquery, so a
  row is listed once however many related rows match;
- attributes taking the same kind of value can be joined with `_or_`
  (`reference_or_reference_origin_cont=abc`): a row matches when one of them does;
- `eq`, `not_eq`, the orderings and the text predicates have `_any` and `_all` forms taking a
  comma list (`reference_cont_any=a,b`, `status_not_eq_all=draft,inactive`): one value, or
  every value, matches. On a to-many attribute each value is matched on its own
  (`tags_name_eq_all=vip,summer`: cards with both tags).

Codes are stored encrypted, so `code` only supports `eq` and `in`, through the lookup hash
(case-insensitive, spaces and dashes ignored). The topics (`events`) have no table: a
`ValueFilterSet` applies the same predicates to rows held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q

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
NOT_TEXT = ("not_cont", "not_start", "not_end")
BOOLEAN_VALUE = frozenset({"null", "present", "blank", "true", "false"})

KIND_PREDICATES = {
    "string": EQUALITY + TEXT + NOT_TEXT + EMPTINESS,
    "email": EQUALITY + TEXT + NOT_TEXT + EMPTINESS,
    "choice": EQUALITY,
    "id": EQUALITY,
    "integer": EQUALITY + ORDER + EMPTINESS,
    "datetime": EQUALITY + ORDER + EMPTINESS,
    "boolean": ("eq", "not_eq", "true", "false"),
    "json": ("jcont", *EMPTINESS),
    "code": ("eq", "in"),
}
# What a to-many relationship's attribute (a card's tags) takes: whether some related row
# matches (`not_` forms: whether none does), and `null` (no related row at all).
MANY_PREDICATES = frozenset({*EQUALITY, *TEXT, *NOT_TEXT, "null"})
# Longest first, so `balance_cents_not_eq` is (balance_cents, not_eq), not (..._not, eq).
PREDICATES = sorted({p for ps in KIND_PREDICATES.values() for p in ps}, key=len, reverse=True)
# The predicates with `_any` / `_all` forms, which take a comma list.
QUANTIFIABLE = ("eq", "not_eq", *ORDER, *TEXT, *NOT_TEXT)
QUANTIFIERS = ("any", "all")
# Attributes of one family can be joined with `_or_`: their values are read the same way.
FAMILIES = {"string": "text", "email": "text", "id": "text"}
NOT_JOINABLE = frozenset({"json", "code"})
MAX_OR_ATTRIBUTES = 5
MAX_QUANTIFIED_ITEMS = 20
OR = "_or_"


def _family(kind: str) -> str:
    return FAMILIES.get(kind, kind)


def _negated(predicate: str) -> tuple[str, bool]:
    """`not_cont` -> (`cont`, True); `cont` -> (`cont`, False)."""
    if predicate.startswith("not_"):
        return predicate[4:], True
    return predicate, False


# ---------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Attribute:
    """A filterable attribute: its `kind`, the ORM `path` when it is not its name (a
    relationship's attribute: `market__name`), its `choices`, and `many` for an attribute of
    a to-many relationship (a card's `tags__name`), matched through a subquery so that a row
    with several matching related rows is listed once."""

    name: str
    kind: str
    path: str = ""
    choices: tuple[str, ...] = ()
    many: bool = False

    @property
    def lookup(self) -> str:
        return self.path or self.name

    @property
    def predicates(self) -> tuple[str, ...]:
        kind_predicates = KIND_PREDICATES[self.kind]
        if self.many:
            return tuple(p for p in kind_predicates if p in MANY_PREDICATES)
        return kind_predicates

    def value_field(self, predicate: str, quantifier: str = "") -> forms.Field:
        if quantifier:
            item = self.value_field(predicate)
            item.required = True
            return CommaListField(item=item, required=False, max_items=MAX_QUANTIFIED_ITEMS)
        if predicate in BOOLEAN_VALUE:
            return StrictBooleanField(required=False)
        if predicate == "jcont":
            return JsonObjectField(required=False)
        if _negated(predicate)[0] in TEXT:
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
    """One `filter[q]` parameter: a predicate on one attribute, or on several joined with
    `_or_` (a row matches when one of them does), optionally with `_any` (one of the comma
    list's values matches) or `_all` (every value does)."""

    def __init__(self, attribute: Attribute | tuple[Attribute, ...], predicate: str, quantifier=""):
        self.attributes = (attribute,) if isinstance(attribute, Attribute) else tuple(attribute)
        self.attribute = self.attributes[0]
        self.predicate = predicate
        self.quantifier = quantifier
        super().__init__(field_name=self.attribute.lookup)

    @property
    def field(self):
        if not hasattr(self, "_field"):
            self._field = self._value_field()
        return self._field

    def _value_field(self) -> forms.Field:
        choices = {c for attribute in self.attributes for c in attribute.choices}
        if len(self.attributes) > 1 and self.attribute.kind == "choice":
            # Joined choice attributes: a value any of them can take.
            merged = Attribute(self.attribute.name, "choice", choices=tuple(sorted(choices)))
            return merged.value_field(self.predicate, self.quantifier)
        return self.attribute.value_field(self.predicate, self.quantifier)

    def filter(self, qs, value):
        if value is None or value == "":  # not given (empty values are refused upstream)
            return qs
        if self.predicate == "jcont":
            return json_contains(qs, self.attribute.lookup, value)
        return qs.filter(self.condition(value, qs.model))

    def condition(self, value, model=None) -> Q:
        """The rows that match: one of the attributes matches (`_or_`), for one value or, with
        a quantifier, for any or all of the list's values."""
        model = model or getattr(self, "model", None)
        q = Q()
        for attribute in self.attributes:
            q |= self._quantified(attribute, value, model)
        return q

    def _quantified(self, attribute: Attribute, value, model) -> Q:
        if not self.quantifier:
            return self._attribute_condition(attribute, self.predicate, value, model)
        q = Q()
        for item in value:
            term = self._attribute_condition(attribute, self.predicate, item, model)
            q = (q | term) if self.quantifier == "any" else (q & term)
        return q

    @staticmethod
    def _attribute_condition(attribute: Attribute, predicate: str, value, model) -> Q:
        if not attribute.many:
            return _condition(attribute, predicate, value)
        # Some related row matches; `not_` forms and `null=true`: none does.
        if predicate == "null":
            base, negated = "null", bool(value)
            inner = Q(**{f"{attribute.lookup}__isnull": False})
        else:
            base, negated = _negated(predicate)
            inner = _condition(attribute, base, value)
        related = Exists(model._default_manager.filter(inner, pk=OuterRef("pk")))
        return ~Q(related) if negated else Q(related)

    def matches(self, row, value) -> bool:
        """`condition` for one row held in memory; text and id attributes only (the topics').
        Case is ignored where `condition` ignores it."""
        if value is None or value == "":
            return True
        for attribute in self.attributes:
            if self.quantifier == "any" and any(
                _matches(attribute, self.predicate, row, v) for v in value
            ):
                return True
            if self.quantifier == "all" and all(
                _matches(attribute, self.predicate, row, v) for v in value
            ):
                return True
            if not self.quantifier and _matches(attribute, self.predicate, row, value):
                return True
        return False


def _condition(attribute: Attribute, predicate: str, value) -> Q:
    """The predicate on one attribute of the row itself (or of a to-one relationship)."""
    path, kind = attribute.lookup, attribute.kind
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
    base, negated = _negated(predicate)
    if base in TEXT:
        lookup = {"cont": "icontains", "start": "istartswith", "end": "iendswith"}
        q = Q(**{f"{path}__{lookup[base]}": value})
        return ~q if negated else q
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


def _matches(attribute: Attribute, predicate: str, row, value) -> bool:
    """`_condition` for one row held in memory."""
    actual = getattr(row, attribute.lookup)
    if attribute.kind not in ("string", "choice", "id"):
        raise NotImplementedError(f"{attribute.kind} attributes of rows in memory")
    if predicate in ("eq", "not_eq"):
        return (actual == value) == (predicate == "eq")
    if predicate in ("in", "not_in"):
        return (actual in value) == (predicate == "in")
    base, negated = _negated(predicate)
    if base in TEXT:
        if actual is None:
            return negated
        folded, wanted = actual.lower(), value.lower()
        if base == "cont":
            found = wanted in folded
        else:
            found = folded.startswith(wanted) if base == "start" else folded.endswith(wanted)
        return found != negated
    if predicate == "null":
        return (actual is None) == value
    blank = actual is None or actual == ""
    return blank == (value if predicate == "blank" else not value)


# ---------------------------------------------------------------------------- names


class UnknownFilter(Exception):
    """A `filter[q]` name that is not `<attributes>_<predicate>[_any|_all]`; the message says
    why."""


def parse(attributes: tuple[Attribute, ...], name: str) -> PredicateFilter:
    """The filter a name asks for: `<attribute>[_or_<attribute>...]_<predicate>[_any|_all]`.
    Raises UnknownFilter."""
    known = {attribute.name: attribute for attribute in attributes}
    quantifier, stem = "", name
    for candidate in QUANTIFIERS:
        if name.endswith(f"_{candidate}"):
            quantifier, stem = candidate, name[: -len(candidate) - 1]
    found = None
    for predicate in PREDICATES:
        if not stem.endswith(f"_{predicate}"):
            continue
        joined = _split_attributes(stem[: -len(predicate) - 1], known)
        if joined is not None:
            found = (joined, predicate)
            break
    if found is None:
        raise UnknownFilter(_explain_unparsed(stem, quantifier, known))
    joined, predicate = found
    full = f"{predicate}_{quantifier}" if quantifier else predicate
    if quantifier and predicate not in QUANTIFIABLE:
        raise UnknownFilter(
            f"The predicate {full!r} does not exist; _any and _all go with: "
            f"{', '.join(QUANTIFIABLE)}."
        )
    for attribute in joined:
        if predicate not in attribute.predicates:
            raise UnknownFilter(
                f"The predicate {full!r} is not available for {attribute.name!r} "
                f"(available: {', '.join(attribute.predicates)})."
            )
    if len(joined) > 1:
        _check_joinable(joined)
    return PredicateFilter(joined, predicate, quantifier)


def _split_attributes(text: str, known: dict[str, Attribute]) -> tuple[Attribute, ...] | None:
    """`reference_or_reference_origin` -> (reference, reference_origin); None if it is not
    known attributes joined with `_or_`."""
    if text in known:
        return (known[text],)
    for name in sorted(known, key=len, reverse=True):
        if text.startswith(name + OR):
            rest = _split_attributes(text[len(name) + len(OR) :], known)
            if rest is not None:
                return (known[name], *rest)
    return None


def _check_joinable(joined: tuple[Attribute, ...]) -> None:
    names = [attribute.name for attribute in joined]
    if len(set(names)) != len(names):
        raise UnknownFilter(f"{' or '.join(names)}: an attribute is named twice.")
    if len(joined) > MAX_OR_ATTRIBUTES:
        raise UnknownFilter(f"At most {MAX_OR_ATTRIBUTES} attributes can be joined with _or_.")
    for attribute in joined:
        if attribute.kind in NOT_JOINABLE:
            raise UnknownFilter(f"{attribute.name!r} cannot be joined with others with _or_.")
    families = {_family(attribute.kind) for attribute in joined}
    if len(families) > 1:
        kinds = ", ".join(f"{attribute.name} ({attribute.kind})" for attribute in joined)
        raise UnknownFilter(
            f"Attributes joined with _or_ take the same kind of value; these do not: {kinds}."
        )


def _explain_unparsed(stem: str, quantifier: str, known: dict[str, Attribute]) -> str:
    name = f"{stem}_{quantifier}" if quantifier else stem
    for predicate in PREDICATES:
        if stem.endswith(f"_{predicate}"):
            parts = stem[: -len(predicate) - 1].split(OR)
            unknown = next((part for part in parts if part not in known), stem)
            return f"{unknown!r} cannot be filtered; filterable: {', '.join(known)}."
    return (
        f"{name!r} is not <attribute>_<predicate>; predicates: {', '.join(sorted(PREDICATES))}; "
        f"{', '.join(QUANTIFIABLE)} also take _any and _all."
    )


class PredicateFilterSet(django_filters.FilterSet):
    """A FilterSet whose filters come from `attributes`. `base_filters` holds every
    `<attribute>_<predicate>`; an instance gets only the filters its data names, parsed
    (so `_or_`, `_any` and `_all` names too)."""

    attributes: tuple[Attribute, ...] = ()

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or {}
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {}
        for name in self.data:
            filter_ = self.resolve(name)
            if filter_ is not None:
                filter_.model = getattr(queryset, "model", None)
                filter_.parent = self
                self.filters[name] = filter_

    @classmethod
    def get_filters(cls):
        filters = super().get_filters()
        for attribute in cls.attributes:
            for predicate in attribute.predicates:
                filters[f"{attribute.name}_{predicate}"] = PredicateFilter(attribute, predicate)
        return filters

    @classmethod
    def resolve(cls, name: str) -> PredicateFilter | None:
        """The filter `name` asks for, or None (`explain_unknown` says why)."""
        try:
            return parse(cls.attributes, name)
        except UnknownFilter:
            return None

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
        try:
            parse(cls.attributes, name)
        except UnknownFilter as exc:
            return str(exc)
        return f"{name!r} is a filter."  # not unknown


class ValueFilterSet(PredicateFilterSet):
    """A PredicateFilterSet over rows held in memory (a list, not a queryset), for resources
    without a table: the same parameters, values and refusals, the predicates applied by
    `PredicateFilter.matches`."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, list(queryset or ()), request=request, prefix=prefix)

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

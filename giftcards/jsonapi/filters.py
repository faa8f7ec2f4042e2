"""Query parameters of the JSON:API: strict validation, `filter[...]` in two forms, `sort`.

Every parameter the endpoint does not understand is a 400 naming it in `source.parameter`:
unknown names, repeated names, families the endpoint does not support (`filter` on a single
resource, say), unknown includes, sparse-fieldset types or fields, filters, predicates and
sort fields.
"""

from __future__ import annotations

import re

from django.db.models import F
from rest_framework.filters import BaseFilterBackend
from rest_framework_json_api import filters as jsonapi_filters
from rest_framework_json_api.django_filters import DjangoFilterBackend

from giftcards import text
from giftcards.jsonapi import documents
from giftcards.jsonapi.errors import InvalidQueryParameter

Q_FORM = re.compile(r"^filter\[q\]\[(?P<name>\w+)\]$")
SHORT_FORM = re.compile(r"^filter\[(?P<name>\w+)\]$")
FIELDS = re.compile(r"^fields\[(?P<type>[\w\-]+)\]$")
LIST_FAMILIES = frozenset({"include", "fields", "sort", "page", "filter"})
DOCUMENT_FAMILIES = frozenset({"include", "fields"})


class QueryParameterValidationFilter(jsonapi_filters.QueryParameterValidationFilter):
    """DJA's validation, extended with `filter[q][<attribute>_<predicate>]` and made to
    report `source.parameter`; which families an endpoint takes is the view's
    `query_families()`."""

    query_regex = re.compile(
        r"^(sort|include)$|^page\[(number|size)\]$|^fields\[[\w\-]+\]$"
        r"|^(?P<type>filter)(\[q\])?\[\w+\]$"
    )

    def validate_query_params(self, request, view=None):
        allowed = view.query_families() if view is not None else LIST_FAMILIES
        problems = []
        for name in request.query_params:
            family = name.split("[", 1)[0]
            if not self.query_regex.match(name):
                problems.append((name, f"Unknown query parameter {name!r}."))
            elif family not in allowed:
                problems.append((name, f"{family!r} is not supported on this endpoint."))
            elif len(request.query_params.getlist(name)) > 1:
                problems.append((name, f"{name!r} is given more than once."))
        if problems:
            raise InvalidQueryParameter(problems)
        if view is not None:
            self.validate_include(request, view)
            self.validate_fields(request, view)

    @staticmethod
    def validate_include(request, view):
        raw = request.query_params.get("include")
        if raw is None:
            return
        available = list(getattr(view, "includable", {}) if view.action != "related" else {})
        for path in raw.split(","):
            if path not in available:
                offer = ", ".join(available) if available else "nothing"
                raise InvalidQueryParameter(
                    "include", f"Cannot include {path!r} here; includable: {offer}."
                )

    @staticmethod
    def validate_fields(request, view):
        for name, value in request.query_params.items():
            match = FIELDS.match(name)
            if not match:
                continue
            known = documents.FIELDS.get(match["type"])
            if known is None:
                raise InvalidQueryParameter(
                    name, f"Unknown resource type; types: {', '.join(documents.FIELDS)}."
                )
            unknown = [field for field in value.split(",") if field and field not in known]
            if unknown:
                raise InvalidQueryParameter(
                    name, f"Unknown field {unknown[0]!r}; fields: {', '.join(known)}."
                )


class JsonApiFilterBackend(DjangoFilterBackend):
    """`filter[q][<attribute>_<predicate>]` and `filter[<attribute>]` onto the view's
    `filterset_class` (see giftcards/filters/); bad names and values are 400s."""

    def _filter_data(self, request, filterset_class) -> tuple[dict, dict]:
        data, origin, problems = {}, {}, []
        for parameter, values in request.query_params.lists():
            if not parameter.startswith("filter"):
                continue
            q_form, short = Q_FORM.match(parameter), SHORT_FORM.match(parameter)
            if filterset_class is None:
                problems.append((parameter, "This endpoint has no filters."))
                continue
            if q_form:
                name = q_form["name"]
                if filterset_class.resolve(name) is None:
                    problems.append((parameter, filterset_class.explain_unknown(name)))
                    continue
            elif short:
                name = filterset_class.short_form(short["name"])
                if name is None or filterset_class.resolve(name) is None:
                    filterable = ", ".join(filterset_class.attribute_names())
                    problems.append(
                        (parameter, f"Unknown filter {short['name']!r}; filterable: {filterable}.")
                    )
                    continue
            else:
                problems.append((parameter, f"Unknown query parameter {parameter!r}."))
                continue
            if values[-1] == "":
                problems.append((parameter, "A filter needs a value."))
            elif name in data:
                problems.append((parameter, f"Same filter as {origin[name]!r}."))
            else:
                data[name] = values[-1]
                origin[name] = parameter
        if problems:
            raise InvalidQueryParameter(problems)
        return data, origin

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        data, origin = self._filter_data(request, filterset_class)
        if not data:
            return queryset
        filterset = filterset_class(data=data, queryset=queryset, request=request)
        if not filterset.is_valid():
            problems = []
            for name, errors in filterset.form.errors.as_data().items():
                parameter = origin.get(name, f"filter[q][{name}]")
                for error in errors:
                    code = text.CODE if error.code == text.CODE else "invalid_parameter"
                    problems.extend((parameter, message, code) for message in error.messages)
            exc = InvalidQueryParameter(
                [(parameter, message) for parameter, message, _ in problems]
            )
            exc.problems = problems  # each with its own code
            raise exc
        return filterset.qs


class SortFilter(BaseFilterBackend):
    """`sort=-created_at,balance_cents`: the view's `sort_fields` (name -> ORM path), nulls
    last ascending and first descending on every engine, the primary key as tie-breaker so
    pages are stable.

    A view's `computed_sort_fields` (name -> (stored field, function)) are values the database
    cannot order by, such as encrypted codes: a sort using one is left to the view's list,
    which orders the matching rows in Python (see `sorted_pks`). Rows held in memory (a list:
    the topics) are sorted here, the same way; an empty `default_sort` keeps their order."""

    def filter_queryset(self, request, queryset, view):
        sortable = getattr(view, "sort_fields", {})
        computed = getattr(view, "computed_sort_fields", {})
        raw = request.query_params.get("sort")
        if raw is None:
            if isinstance(queryset, list):
                return sorted_rows(queryset, [(name, False) for name in view.default_sort], view)
            return queryset.order_by(*view.default_sort)
        terms = []
        for term in raw.split(","):
            descending = term.startswith("-")
            name = term[1:] if descending else term
            if name not in sortable and name not in computed:
                offer = ", ".join([*sortable, *computed]) or "nothing"
                raise InvalidQueryParameter("sort", f"Cannot sort by {term!r}; sortable: {offer}.")
            terms.append((name, descending))
        if isinstance(queryset, list):
            return sorted_rows(queryset, terms, view)
        if any(name in computed for name, _ in terms):
            view.computed_sort = terms
            return queryset.order_by()
        ordering = []
        for name, descending in terms:
            expression = F(sortable[name])
            ordering.append(
                expression.desc(nulls_first=True) if descending else expression.asc(nulls_last=True)
            )
        return queryset.order_by(*ordering, "pk")


# Ordering in Python reads every matching row: beyond this many, narrow the list first.
COMPUTED_SORT_LIMIT = 10_000


def _null_aware(value):
    # Nulls after every value ascending (and so before them descending), as in SQL above.
    return (1,) if value is None else (0, value)


def sorted_rows(rows: list, terms: list[tuple[str, bool]], view) -> list:
    """Rows held in memory in the order of `terms` ((name, descending)), pk tie-breaker; in
    their own order when there are no terms."""
    if not terms:
        return list(rows)
    sortable = getattr(view, "sort_fields", {})
    ordered = sorted(rows, key=lambda row: row.pk)
    for name, descending in reversed(terms):  # stable: last key first
        path = sortable[name]
        ordered.sort(key=lambda row, path=path: _null_aware(getattr(row, path)), reverse=descending)
    return ordered


def sorted_pks(queryset, view) -> list:
    """The primary keys of `queryset` in the order of `view.computed_sort`, pk tie-breaker."""
    sortable = getattr(view, "sort_fields", {})
    computed = getattr(view, "computed_sort_fields", {})
    paths = {name: sortable[name] for name, _ in view.computed_sort if name in sortable}
    stored = {name: computed[name] for name, _ in view.computed_sort if name in computed}
    columns = {*paths.values(), *(field for field, _ in stored.values())}
    rows = list(queryset.values("pk", *columns)[: COMPUTED_SORT_LIMIT + 1])
    if len(rows) > COMPUTED_SORT_LIMIT:
        names = ", ".join(stored)
        raise InvalidQueryParameter(
            "sort",
            f"Sorting by {names} reads every matching record; narrow the list to at most "
            f"{COMPUTED_SORT_LIMIT} with filters first.",
        )
    for row in rows:
        for name, path in paths.items():
            row[name] = row[path]
        for name, (field, compute) in stored.items():
            row[name] = compute(row[field])
    rows.sort(key=lambda row: row["pk"])
    for name, descending in reversed(view.computed_sort):  # stable: last key first
        rows.sort(key=lambda row, name=name: _null_aware(row[name]), reverse=descending)
    return [row["pk"] for row in rows]

"""`page[number]`/`page[size]` pagination with `meta.record_count`, `meta.page_count` and links.

Choices where JSON:API is silent: a size above the maximum is a 400, never clamped; a page
beyond the end is a 200 with empty `data` (its `prev` link points at the last page that has
records); an empty collection has `page_count` 0 and `first`/`last` both at page 1; `prev` and
`next` are left out when there is no such page.
"""

from __future__ import annotations

import re

from rest_framework.pagination import BasePagination
from rest_framework.utils.urls import replace_query_param

from giftcards.jsonapi.errors import InvalidQueryParameter

NUMBER_PARAM = "page[number]"
SIZE_PARAM = "page[size]"
_DIGITS = re.compile(r"^[0-9]{1,9}$")


class JsonApiPagination(BasePagination):
    page_size = 10
    max_page_size = 25

    def _param(self, request, name: str, default: int, maximum: int | None = None) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        if not _DIGITS.match(raw) or int(raw) < 1:
            raise InvalidQueryParameter(name, f"{name} must be a whole number from 1.")
        value = int(raw)
        if maximum is not None and value > maximum:
            raise InvalidQueryParameter(name, f"{name} is at most {maximum}.", code="max_value")
        return value

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.size = self._param(request, SIZE_PARAM, self.page_size, self.max_page_size)
        self.number = self._param(request, NUMBER_PARAM, 1)
        self.count = len(queryset) if isinstance(queryset, list) else queryset.count()
        self.page_count = -(-self.count // self.size)
        self.offset = (self.number - 1) * self.size
        if self.offset >= self.count:
            return []
        return list(queryset[self.offset : self.offset + self.size])

    def _link(self, number: int) -> str:
        return replace_query_param(self.request.build_absolute_uri(), NUMBER_PARAM, number)

    def get_links(self) -> dict[str, str]:
        last = max(self.page_count, 1)
        links = {"first": self._link(1), "last": self._link(last)}
        if self.number > 1 and self.page_count:
            links["prev"] = self._link(min(self.number - 1, self.page_count))
        if self.number < self.page_count:
            links["next"] = self._link(self.number + 1)
        return links

    def get_meta(self) -> dict[str, int]:
        return {"record_count": self.count, "page_count": self.page_count}

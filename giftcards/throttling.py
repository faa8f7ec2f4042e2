"""Per-API-key throttles, shared by both APIs: every request, and code lookups (so guessing
codes is impractical)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from rest_framework.throttling import SimpleRateThrottle

from giftcards.jsonapi.errors import InvalidQueryParameter

CODE_FILTER = re.compile(r"^filter\[(q\]\[)?code(_\w+)?\]$")


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Per API key, shared across processes through the configured cache."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


def code_lookups(request, view) -> list[tuple[str, int]]:
    """Where the request looks codes up, and how many: each value of a code filter counts, and
    so does a create that chooses its code (a 409 would tell that the code is taken)."""
    lookups = []
    for name, values in request.query_params.lists():
        if CODE_FILTER.match(name):
            lookups.append((name, sum(max(1, len(value.split(","))) for value in values)))
    if getattr(view, "action", None) == "lookup":
        lookups.append(("code", 1))
    if getattr(view, "action", None) == "create":
        data = request.data
        if isinstance(data, Mapping) and "code" in data:
            lookups.append(("code", 1))
    return lookups


class CodeLookupThrottle(ApiKeyRateThrottle):
    """Scope `code_lookup`, weighted: `filter[q][code_in]=a,b,c` spends three lookups."""

    scope = "code_lookup"

    def allow_request(self, request, view):
        lookups = code_lookups(request, view)
        weight = sum(count for _, count in lookups)
        if weight == 0 or self.rate is None:
            return True
        if weight > self.num_requests:
            # Waiting would never help: say so instead of a 429 with a Retry-After.
            parameter = max(lookups, key=lambda lookup: lookup[1])[0]
            raise InvalidQueryParameter(
                parameter,
                f"At most {self.num_requests} codes can be looked up per request "
                f"(this one has {weight}).",
            )
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) + weight > self.num_requests:
            return self.throttle_failure()
        self.history[:0] = [self.now] * weight
        self.cache.set(self.key, self.history, self.duration)
        return True

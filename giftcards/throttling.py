"""Per-API-key throttles, shared by both APIs: every request, and code lookups (so guessing
codes is impractical)."""

from __future__ import annotations

import re

from rest_framework.throttling import SimpleRateThrottle

CODE_FILTER = re.compile(r"^filter\[(q\]\[)?code(_\w+)?\]$")


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Per API key, shared across processes through the configured cache."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


def code_lookups(request) -> int:
    """How many codes the request looks up: each value of a code filter counts."""
    count = 0
    for name, values in request.query_params.lists():
        if CODE_FILTER.match(name):
            count += sum(max(1, len(value.split(","))) for value in values)
    return count


class CodeLookupThrottle(ApiKeyRateThrottle):
    """Scope `code_lookup`, weighted: `filter[q][code_in]=a,b,c` spends three lookups."""

    scope = "code_lookup"

    def allow_request(self, request, view):
        weight = code_lookups(request)
        if weight == 0 or self.rate is None:
            return True
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

"""Per-API-key throttles, shared by both APIs: every request, and code lookups (so guessing
codes is impractical).

Both count in `giftcards.ratelimit`'s fixed windows (atomic in Redis; see there why), keyed
by the API key, at the rates of REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]. When the shared
cache is down they part ways on purpose:
- `ApiKeyRateThrottle` fails open (a warning is logged): money keeps moving, and the per-key
  rate only guards capacity;
- `CodeLookupThrottle` fails closed: without a count, guessing codes would be unlimited, so
  the request is a 503 with Retry-After in the API's own error format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rest_framework.throttling import SimpleRateThrottle

from giftcards import outages, ratelimit
from giftcards.jsonapi.errors import InvalidQueryParameter

CODE_FILTER = re.compile(r"^filter\[(q\]\[)?code(_\w+)?\]$")
UNAVAILABLE = (
    "Code lookups are unavailable right now (their throttle cannot count). "
    f"Try again in {outages.RETRY_AFTER} seconds."
)


class StopAtFirstRefusal:
    """For API views: throttles are asked in order and the first refusal answers. DRF asks
    every throttle even after one refused, so a request the per-key throttle refused still
    spent code lookups it never made."""

    def check_throttles(self, request):
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Per API key, shared across processes through the configured cache; fails open."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        return None if request.auth is None else request.auth.pk

    def allow_request(self, request, view):
        ident = self.get_cache_key(request, view)
        if self.rate is None or ident is None:
            return True
        try:
            return self.count(ident, 1).allowed
        except outages.CacheUnavailable as exc:
            outages.log(outages.CACHE, exc, request)
            return True

    def count(self, ident, weight: int) -> ratelimit.Verdict:
        self.verdict = ratelimit.hit(
            f"throttle:{self.scope}",
            ident,
            limit=self.num_requests,
            window=self.duration,
            weight=weight,
            now=self.timer(),
        )
        return self.verdict

    def wait(self):
        return self.verdict.retry_after


def code_lookups(request, view) -> list[tuple[str, int]]:
    """Where the request looks codes up, and how many: each value of a code filter counts, and
    so does a create that chooses its code (a 409 would tell that the code is taken) and a
    `lookup` action (one code per request)."""
    lookups = []
    for name, values in request.query_params.lists():
        if CODE_FILTER.match(name):
            lookups.append((name, sum(max(1, len(value.split(","))) for value in values)))
    action = getattr(view, "action", None)
    if action == "create":
        data = request.data
        if isinstance(data, Mapping) and "code" in data:
            lookups.append(("code", 1))
    elif action == "lookup":
        lookups.append(("code", 1))
    return lookups


class CodeLookupThrottle(ApiKeyRateThrottle):
    """Scope `code_lookup`, weighted: `filter[q][code_in]=a,b,c` spends three lookups; fails
    closed."""

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
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        try:
            return self.count(ident, weight).allowed
        except outages.CacheUnavailable as exc:
            raise outages.ServiceUnavailable(UNAVAILABLE, dependency=outages.CACHE) from exc

"""The measured requests: each read against its baseline, debits through each entry point, and a
JSON:API debit on a card with 1 ledger row against one with 10,000."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.http_bench.client import JSONAPI, Api, Reply
from benchmarks.http_bench.compare import differences
from benchmarks.http_bench.measure import Call, Load, Samples, sequential
from benchmarks.http_bench.raw_sql import RawSqlDebits

if TYPE_CHECKING:
    from benchmarks.http_bench.seed import Seeded

INCLUDE = "page[size]=25&include=gift_card_recipient,market,tags"
SPARSE = "?fields[gift_cards]=balance_cents"


@dataclass(frozen=True)
class Read:
    name: str
    service: str
    baseline: str
    media_type: str
    goal: float  # baseline CPU / service CPU the service aims at


def reads(seeded: Seeded) -> list[Read]:
    card, client = seeded.list_card_ids[0], seeded.client_id
    return [
        Read(
            "JSON:API list (25, includes)",
            f"/api/gift_cards?{INCLUDE}",
            f"/bench/jsonapi/gift_cards?{INCLUDE}",
            JSONAPI,
            0.8,
        ),
        Read(
            "JSON:API detail",
            f"/api/gift_cards/{card}",
            f"/bench/jsonapi/gift_cards/{card}",
            JSONAPI,
            0.8,
        ),
        Read(
            "plain client list (20)",
            f"/giftcards/client/{client}",
            f"/bench/plain/giftcards/client/{client}",
            "application/json",
            0.9,
        ),
        Read(
            "plain detail",
            f"/giftcards/{card}",
            f"/bench/plain/giftcards/{card}",
            "application/json",
            0.9,
        ),
    ]


def compare_bodies(api: Api, read: Read) -> list[str]:
    """What differs between the service's document and the baseline's (empty: the same)."""
    service = api.get(read.service, read.media_type)
    baseline = api.get(read.baseline, read.media_type)
    if service.status != 200 or baseline.status != 200:
        return [f"status: service {service.status}, baseline {baseline.status}"]
    try:
        found = differences(service.json(), baseline.json())
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    for header in ("content-type", "etag"):
        if (header in service.headers) != (header in baseline.headers):
            found.append(f"header {header}: only one of them sends it")
        elif header == "content-type" and service.headers[header] != baseline.headers[header]:
            found.append(f"header {header}: {service.headers[header]}, {baseline.headers[header]}")
    return found


def read_calls(api: Api, read: Read) -> dict[str, Call]:
    return {
        "service": lambda _i: api.get(read.service, read.media_type),
        "baseline": lambda _i: api.get(read.baseline, read.media_type),
    }


def read_cpu(api: Api, read: Read, repeats: int, warmup: int) -> dict[str, Samples]:
    sequential(read_calls(api, read), warmup, cap_seconds=10)
    return sequential(read_calls(api, read), repeats, cap_seconds=30)


def read_rates(load: Load, api: Api, read: Read, per_round: int, rounds: int) -> dict[str, Samples]:
    return load.rounds(read_calls(api, read), per_round, rounds, cap_seconds=30)


# ---------------------------------------------------------------------------- debits

DEBIT_VARIANTS = (
    "plain POST /payments",
    "JSON:API PATCH, full",
    "JSON:API PATCH, sparse",
    "hand-written Django",
    "raw SQL (psycopg)",
)


def jsonapi_debit(api: Api, card: str, query: str) -> Reply:
    """`PATCH /api/gift_cards/{id}` with `_balance_change_cents: -1`."""
    attributes = {"_balance_change_cents": -1}
    document = {"data": {"type": "gift_cards", "id": card, "attributes": attributes}}
    return api.call("PATCH", f"/api/gift_cards/{card}{query}", document, JSONAPI)


def debit_call(api: Api, raw: RawSqlDebits, variant: str, card_of) -> Call:
    """One 1-cent debit of `card_of(i)` through `variant`."""
    if variant == "plain POST /payments":
        return lambda i: api.call(
            "POST", "/payments", {"giftCardUUId": card_of(i), "amount": "0.01"}
        )
    if variant.startswith("JSON:API PATCH"):
        query = SPARSE if variant.endswith("sparse") else ""
        return lambda i: jsonapi_debit(api, card_of(i), query)
    if variant == "hand-written Django":
        return lambda i: api.call("POST", "/bench/debit", {"card": card_of(i), "amount_cents": 1})
    return lambda i: raw.debit(card_of(i), 1)


def spread_cards(seeded: Seeded, offset: int):
    cards = seeded.spread_ids
    return lambda i: cards[(offset + i) % len(cards)]


def debit_rates(
    load: Load, api: Api, raw: RawSqlDebits, seeded: Seeded, per_round: int, rounds: int
) -> tuple[dict[str, Samples], dict[str, Samples], list[Samples]]:
    """(hot card, spread, warm-up samples): each variant on its own hot card, and over the
    1,000 spread cards (each variant starting at its own offset)."""
    stride = per_round * rounds
    warm = {
        variant: debit_call(api, raw, variant, spread_cards(seeded, 999 - 7 * n))
        for n, variant in enumerate(DEBIT_VARIANTS)
    }
    warmup = load.rounds(warm, per_round=2 * load.threads, rounds=1, cap_seconds=30)
    hot = {
        variant: debit_call(api, raw, variant, lambda _i, card=seeded.hot_ids[variant]: card)
        for variant in DEBIT_VARIANTS
    }
    hot_samples = load.rounds(hot, per_round, rounds, cap_seconds=90)
    spread = {
        variant: debit_call(api, raw, variant, spread_cards(seeded, n * stride))
        for n, variant in enumerate(DEBIT_VARIANTS)
    }
    spread_samples = load.rounds(spread, per_round, rounds, cap_seconds=90)
    return hot_samples, spread_samples, list(warmup.values())


def ledger_size_latency(api: Api, seeded: Seeded, repeats: int) -> dict[str, Samples]:
    """JSON:API debits one at a time: each 1-row debit on a fresh card (so it still has one
    row), the 10k ones on the same card (10,000 rows, plus the few these add)."""
    one_row, fresh, big = seeded.one_row_ids, itertools.count(), seeded.big_card_id
    calls = {
        "1 row, sparse": lambda _i: jsonapi_debit(api, one_row[next(fresh)], SPARSE),
        "10k rows, sparse": lambda _i: jsonapi_debit(api, big, SPARSE),
        "1 row, full": lambda _i: jsonapi_debit(api, one_row[next(fresh)], ""),
        "10k rows, full": lambda _i: jsonapi_debit(api, big, ""),
    }
    return sequential(calls, min(repeats, len(one_row) // 2), cap_seconds=60)


def log_rendering_cpu(card_id: str, repeats: int) -> float:
    """Median CPU ms, in this process, of rendering the big card's balance_log and usage_log
    alone: the rows read as the service reads them, the two logs built, JSON encoded. What
    the full document may cost over a sparse one, at most."""
    import time
    from statistics import median

    import orjson

    from giftcards import selectors
    from giftcards.jsonapi import documents

    taken = []
    for _ in range(repeats):
        started = time.process_time()
        rows = selectors.card_ledger_rows([card_id])[card_id]
        logs = {"balance_log": documents.balance_log(rows), "usage_log": documents.usage_log(rows)}
        orjson.dumps(logs)
        taken.append((time.process_time() - started) * 1000)
    return median(taken)

"""What `sort=code` costs on the JSON:API list: codes are encrypted, so the matching rows
are read and decrypted in Python (at most 10,000; more is a 400).

    .venv/bin/python benchmarks/jsonapi_sort_by_code.py              # a scratch SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftcards_bench \\
        .venv/bin/python benchmarks/jsonapi_sort_by_code.py

Prints the median time of a page of 25 for each sort, for 1,000 and 10,000 cards. Do not
point it at a database whose data you care about.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/giftcards-bench-sort.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftcards_project.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from clients.services import api_key_create, business_create  # noqa: E402
from clients.tenancy import Actor, Mode, Tenant  # noqa: E402
from giftcards import services  # noqa: E402
from giftcards.models import GiftCard  # noqa: E402

MEDIA_TYPE = "application/vnd.api+json"


def page_ms(client: Client, secret: str, sort: str, rounds: int = 7) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(
            "/api/gift_cards",
            {"sort": sort, "page[size]": 25},
            HTTP_AUTHORIZATION=f"Bearer {secret}",
            HTTP_ACCEPT=MEDIA_TYPE,
        )
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:300]
    return statistics.median(timings) * 1000


def main() -> None:
    call_command("migrate", verbosity=0)
    business = business_create(name=f"Sort bench {time.time_ns()}", currency_code="USD")
    tenant = Tenant(business=business, mode=Mode.LIVE)
    secret = api_key_create(business=business, name="bench")[1]
    actor = Actor.system()
    client = Client()
    engine = django.db.connection.vendor
    made = 0
    for size in (1_000, 10_000):
        while made < size:
            services.card_issue(tenant=tenant, actor=actor, balance_cents=1_000)
            made += 1
        assert GiftCard.objects.filter(business=business).count() == size
        for sort in ("-created_at", "-created_at,code", "code"):
            took = page_ms(client, secret, sort)
            print(f"{engine:10} {size:>6} cards  sort={sort:18} {took:8.1f} ms/page")


if __name__ == "__main__":
    main()

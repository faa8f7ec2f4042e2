"""Peak memory of the admin's CSV export for 10,000 and 100,000 cards (tracemalloc).

    .venv/bin/python tests/admin/bench_csv_export.py [ROWS ...]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftcards \
        .venv/bin/python tests/admin/bench_csv_export.py

Runs in a throwaway test database (created and dropped like pytest-django does), through the
real admin view with a logged-in superuser, and consumes the streamed response line by line.
Flat memory means the peak barely moves when the rows grow tenfold. No timing is asserted.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_cards(business, count: int, batch: int = 5_000) -> None:
    """Bulk rows for volume: straight inserts, not the services (speed; data only)."""
    from django.utils import timezone

    from giftcards.models import GiftCard, new_public_id

    now = timezone.now()
    salt = new_public_id()  # unique hashes across calls
    made = 0
    while made < count:
        size = min(batch, count - made)
        GiftCard.objects.bulk_create(
            GiftCard(
                id=new_public_id(),
                business=business,
                mode="live",
                code_hash=f"bench-{salt}-{made + i}",
                code_encrypted="-",
                code_last4=f"{(made + i) % 10_000:04d}",
                status="active",
                currency_code="USD",
                initial_balance_cents=10_000,
                balance_cents=(made + i) % 10_001,
                reference=f"bench-{made + i}",
                created_at=now,
                updated_at=now,
            )
            for i in range(size)
        )
        made += size


def measure_export(client, query: str = "") -> tuple[int, int, int]:
    """(peak bytes, CSV lines, bytes streamed) of one export through the admin."""
    from django.urls import reverse

    tracemalloc.start()
    try:
        response = client.get(reverse("admin:giftcards_giftcard_export") + query)
        assert response.status_code == 200, response.status_code
        assert response.streaming, "the export must stream"
        lines = size = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, lines, size


def main(sizes: list[int]) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftcards_project.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from clients.models import User
    from clients.services import business_create

    setup_test_environment()
    settings.DEBUG = False  # no query log
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        root = User.objects.create_superuser("bench", "bench@example.com", "bench-password")
        client = Client()
        client.force_login(root)
        # Warm up (imports, templates, caches) so the first measured size is not charged for it.
        warm = business_create(name="Warm-up")
        make_cards(warm, 100)
        measure_export(client, f"?business__id__exact={warm.pk}")
        print(f"engine: {connection.vendor}")
        print(f"{'rows':>8} {'peak KiB':>10} {'CSV MiB':>9} {'seconds':>8}")
        for count in sizes:
            business = business_create(name=f"Bench {count}")
            make_cards(business, count)
            started = time.monotonic()
            peak, lines, size = measure_export(client, f"?business__id__exact={business.pk}")
            elapsed = time.monotonic() - started
            assert lines == count + 1, (lines, count)
            print(f"{count:>8} {peak / 1024:>10.0f} {size / 2**20:>9.1f} {elapsed:>8.1f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [10_000, 100_000])

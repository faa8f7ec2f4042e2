"""Memory (and time) of an export of 10,000 and 100,000 gift cards through the export worker,
beside a baseline: a raw `cursor.execute` of the same columns streamed with `fetchmany` into
`csv.writer`, the least a Python export can do.

    .venv/bin/python benchmarks/export_memory.py [ROWS ...]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/giftcards_bench \\
        .venv/bin/python benchmarks/export_memory.py

Runs in a throwaway test database (created and dropped as pytest-django does; SQLite in a
temporary file), filled with straight INSERTs. Each measurement runs in a fresh process, so
its figures are its own: after a warm-up export of 100 other cards, seconds and the growth of
the process's peak resident size (which also counts the database driver's C buffers), then,
in a second pass under tracemalloc, the peak of Python's heap. The worker's figure is the whole run
(`giftcards.exports.work.run`: the rows, the CSV in a temporary file, storing it); the
baseline writes its CSV to a temporary file too. Flat memory means the peak barely moves when
the rows grow tenfold. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQLITE_FILE = Path(tempfile.gettempdir()) / "giftcards-bench-export.sqlite3"
HEADER = [
    "id",
    "code",
    "status",
    "currency_code",
    "initial_balance_cents",
    "balance_cents",
    "balance_max_cents",
    "single_use",
    "rechargeable",
    "distribute_discount",
    "image_url",
    "expires_at",
    "recipient_email",
    "reference",
    "reference_origin",
    "metadata",
    "created_at",
    "updated_at",
]
BASELINE_SQL = """
    SELECT c.id, c.code_last4, c.status, c.currency_code, c.initial_balance_cents,
           c.balance_cents, c.balance_max_cents, c.single_use, c.rechargeable,
           c.distribute_discount, c.image_url, c.expires_at, r.email, c.reference,
           c.reference_origin, c.metadata, c.created_at, c.updated_at
    FROM giftcards_giftcard c
    LEFT JOIN giftcards_giftcardrecipient r ON r.id = c.recipient_id
    WHERE c.business_id = %s AND c.mode = 'live' AND c.deleted_at IS NULL
    ORDER BY c.created_at, c.id
"""


def setup_django(database_name: str | None = None) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftcards_project.settings")
    import django
    from django.conf import settings

    if database_name:
        settings.DATABASES["default"]["NAME"] = database_name
    django.setup()
    settings.DEBUG = False  # no query log


def make_cards(business, count: int, batch: int = 5_000) -> None:
    """Bulk rows for volume: straight inserts, not the services (speed; data only)."""
    from django.utils import timezone

    from giftcards.models import GiftCard, new_public_id

    now = timezone.now()
    made = 0
    while made < count:
        size = min(batch, count - made)
        GiftCard.objects.bulk_create(
            GiftCard(
                id=new_public_id(),
                business=business,
                mode="live",
                code_hash=f"bench-{business.pk}-{made + i}",
                code_encrypted="-",
                code_last4=f"{(made + i) % 10_000:04d}",
                status="active",
                currency_code="USD",
                initial_balance_cents=10_000,
                balance_cents=(made + i) % 10_001,
                reference=f"bench-{made + i}",
                metadata={"batch": made // batch, "n": made + i},
                created_at=now,
                updated_at=now,
            )
            for i in range(size)
        )
        made += size


# ---------------------------------------------------------------------------- one measurement


def export_with_worker(business_id: int, folder: str) -> int:
    from django.test.utils import override_settings

    from clients.models import Business
    from clients.tenancy import Actor, Tenant
    from giftcards.exports import services, work

    storages = {
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": folder},
        }
    }
    from django.conf import settings

    with override_settings(STORAGES={**settings.STORAGES, **storages}):
        tenant = Tenant(business=Business.objects.get(pk=business_id), mode="live")
        export = services.export_create(
            tenant=tenant, actor=Actor.system("bench"), resource_type="gift_cards"
        )
        assert work.run(export.pk, export.lease_token) == "completed"
        export.refresh_from_db()
        return export.records_count


def export_with_baseline(business_id: int, folder: str) -> int:
    from django.db import connection

    count = 0
    with (
        open(Path(folder) / "baseline.csv", "w", encoding="utf-8", newline="") as out,
        connection.cursor() as cursor,
    ):
        writer = csv.writer(out)
        writer.writerow(HEADER)
        cursor.execute(BASELINE_SQL, [business_id])
        while rows := cursor.fetchmany(2000):
            for row in rows:
                writer.writerow((row[0], f"****{row[1]}", *row[2:]))
                count += 1
    return count


def measure(kind: str, business_id: int, warm_up_id: int, database_name: str) -> dict:
    setup_django(database_name)
    run = {"worker": export_with_worker, "baseline": export_with_baseline}[kind]
    with tempfile.TemporaryDirectory() as folder:
        run(warm_up_id, folder)  # imports, the connection, caches: not the export's cost
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        rows = run(business_id, folder)
        seconds = time.perf_counter() - started
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        tracemalloc.start()
        run(business_id, folder)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {"rows": rows, "peak": peak, "rss_kib": rss_growth, "seconds": seconds}


# ---------------------------------------------------------------------------- the run


def child(kind: str, business_id: int, warm_up_id: int, database_name: str) -> dict:
    arguments = [kind, str(business_id), str(warm_up_id), database_name]
    output = subprocess.run(
        [sys.executable, __file__, "--measure", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(sizes: list[int]) -> None:
    setup_django()
    from django.db import connection

    from clients.services import business_create

    if connection.vendor == "sqlite":
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(SQLITE_FILE)
    old_name = connection.settings_dict["NAME"]
    test_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        warm_up = business_create(name="Warm-up")
        make_cards(warm_up, 100)
        print(f"engine: {connection.vendor}")
        print(
            f"{'rows':>8} {'export':>9} {'peak KiB':>9} {'RSS +KiB':>9} {'seconds':>8}"
            f" {'peak x':>7} {'time x':>7}"
        )
        for count in sizes:
            business = business_create(name=f"Bench {count}")
            make_cards(business, count)
            connection.close()  # the children write and read with their own connections
            figures = {
                kind: child(kind, business.pk, warm_up.pk, test_name)
                for kind in ("baseline", "worker")
            }
            base = figures["baseline"]
            for kind, found in figures.items():
                assert found["rows"] == count, (kind, found["rows"], count)
                print(
                    f"{count:>8} {kind:>9} {found['peak'] / 1024:>9.0f} {found['rss_kib']:>9}"
                    f" {found['seconds']:>8.2f} {found['peak'] / base['peak']:>7.2f}"
                    f" {found['seconds'] / base['seconds']:>7.2f}"
                )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument(
        "--measure", nargs=4, metavar=("KIND", "BUSINESS", "WARM_UP_BUSINESS", "DATABASE")
    )
    arguments = parser.parse_args()
    if arguments.measure:
        kind, business_id, warm_up_id, database_name = arguments.measure
        print(json.dumps(measure(kind, int(business_id), int(warm_up_id), database_name)))
    else:
        main(arguments.rows)

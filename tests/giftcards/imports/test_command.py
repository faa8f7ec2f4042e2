"""`manage.py import_giftcards`, and what a dead worker leaves: an import resumes at its last
committed chunk, with exact counts and nothing half-written."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from giftcards.imports import jobs, tasks
from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Import, JobStatus
from giftcards.services import imports as service
from tests.giftcards.imports.test_api import SEED_CREATE, SEED_LISTED, jsonapi_rows, seed_rows


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_giftcards", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def reconciles() -> None:
    out = io.StringIO()
    call_command("reconcile_ledger", "--no-progress", stdout=out, stderr=io.StringIO())
    assert " 0 differ." in out.getvalue()


@pytest.fixture
def write(tmp_path):
    def write(name: str, content) -> str:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    return write


def test_a_thousand_seed_000_rows_from_a_file_twice(write, business, tenant):
    path = write("cards.json", [SEED_CREATE, SEED_LISTED, *seed_rows(998)])

    first = run(path, "--business", str(business.pk), "--format", "timetap")
    second = run(path, "--business", str(business.pk), "--format", "timetap")

    assert "1000 of 1000 rows processed, 1000 created, 0 skipped, 0 refused" in first, first
    assert "0 created, 1000 skipped" in second, second
    assert GiftCard.objects.for_tenant(tenant).count() == 1_000
    assert GiftCard.objects.get(pk="rSnVGKkHSGCYfalfOuae1g").balance_cents == 4_000
    reconciles()
    job = Import.objects.order_by("created_at").first()
    assert (job.status, job.source_name) == (JobStatus.COMPLETED, "file:cards.json")


def csv_text(rows: list[dict]) -> str:
    columns = [
        "code",
        "initial_balance_cents",
        "balance_cents",
        "expires_at",
        "created_at",
        "reference",
        "reference_origin",
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("shape", ["json", "csv"])
def test_a_thousand_cards_from_a_file_keep_codes_balances_and_dates(write, business, shape):
    rows = jsonapi_rows(1_000)
    path = write(f"cards.{shape}", csv_text(rows) if shape == "csv" else rows)

    first = run(path, "--business", str(business.pk))
    second = run(path, "--business", str(business.pk))

    assert "1000 created, 0 skipped, 0 refused" in first, first
    assert "0 created, 1000 skipped" in second, second
    card = GiftCard.objects.get(reference="old-3", reference_origin="legacy")
    assert card.code == rows[3]["code"]
    assert (card.initial_balance_cents, card.balance_cents) == (5_000, 4_700)
    assert card.expires_at.isoformat() == "2031-01-31T00:00:00+00:00"
    assert card.created_at.isoformat() == "2024-03-01T09:00:00+00:00"
    reconciles()


def test_recipients_from_a_file(write, business, tenant):
    path = write("people.json", [{"email": f"p{n}@example.com"} for n in range(40)])

    output = run(path, "--business", str(business.pk), "--resource", "gift_card_recipients")

    assert "40 created" in output, output
    assert GiftCardRecipient.objects.for_tenant(tenant).count() == 40


def test_a_csv_file_with_a_bad_row(write, business, tenant):
    lines = ["code,balance_cents,reference,reference_origin"]
    lines += [
        f"{row['code']},{row['balance_cents']},r-{n},csv" for n, row in enumerate(jsonapi_rows(20))
    ]
    lines[5] = "SHORT,100,r-bad,csv"
    path = write("cards.csv", "\n".join(lines) + "\n")

    output = run(path, "--business", str(business.pk))

    assert "19 created, 0 skipped, 1 refused" in output, output
    assert "row 4: code:" in output
    assert GiftCard.objects.for_tenant(tenant).count() == 19


def test_a_dry_run_from_a_file_writes_nothing(write, business):
    path = write("cards.json", jsonapi_rows(30))

    output = run(path, "--business", str(business.pk), "--dry-run")

    assert "30 would be created" in output and "dry run" in output, output
    assert not GiftCard.objects.exists() and not BalanceLog.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--business", "999999"], "No business"),
        (["--business", "{b}", "--format", "json", "--mode", "live"], "not readable"),
    ],
)
def test_bad_arguments_and_files_are_clear_errors(write, business, args, message):
    path = write("broken.json", '[{"code": ')
    args = [arg.replace("{b}", str(business.pk)) for arg in args]

    with pytest.raises(CommandError, match=message):
        run(path, *args)


def test_a_missing_file_is_a_clear_error(business):
    with pytest.raises(CommandError, match="No such file"):
        run("/nonexistent/cards.json", "--business", str(business.pk))


# ---------------------------------------------------------------------------- crashes


def test_a_worker_that_dies_mid_chunk_leaves_nothing_half_written_and_resumes(api, monkeypatch):
    from tests.giftcards.imports.test_api import start

    job_id = start(api, jsonapi_rows(600))["id"]  # three chunks of 250, 250, 100
    real = service.import_cards
    calls = {"n": 0}

    def dies_in_the_second_chunk(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            real(**kwargs)  # the chunk's rows are written...
            raise SystemExit("worker killed")  # ...and the process dies before the commit
        return real(**kwargs)

    monkeypatch.setattr(service, "import_cards", dies_in_the_second_chunk)
    with pytest.raises(SystemExit):
        jobs.run(job_id)
    monkeypatch.setattr(service, "import_cards", real)

    job = Import.objects.get(pk=job_id)
    assert (job.status, job.cursor, job.processed_count, job.created_count) == (
        JobStatus.IN_PROGRESS,
        250,
        250,
        250,
    )
    assert GiftCard.objects.count() == 250  # the dead chunk left nothing
    assert jobs.run(job_id) is None  # its lease still holds: nobody else runs it yet
    Import.objects.filter(pk=job_id).update(leased_until=timezone.now() - timedelta(seconds=1))
    assert tasks.sweep.run() == 1  # the sweep queues it again (in process here)
    jobs.drain()

    job = Import.objects.get(pk=job_id)
    assert job.status == JobStatus.COMPLETED
    assert (job.processed_count, job.created_count, job.errors_count) == (600, 600, 0)
    assert GiftCard.objects.count() == 600
    reconciles()


def test_an_import_interrupted_between_chunks_keeps_an_exact_count(api, monkeypatch):
    from tests.giftcards.imports.test_api import start

    job_id = start(api, jsonapi_rows(600))["id"]
    real = service.import_cards

    def interrupted_after_the_first_chunk(**kwargs):
        done = real(**kwargs)
        Import.objects.filter(pk=job_id).update(status=JobStatus.INTERRUPTED)
        return done

    monkeypatch.setattr(service, "import_cards", interrupted_after_the_first_chunk)
    jobs.run(job_id)

    job = Import.objects.get(pk=job_id)
    # The interruption came inside the chunk's transaction, under its lock: the chunk that
    # saw it was still this run's and is counted; the next one stops.
    assert job.status == JobStatus.INTERRUPTED
    assert job.processed_count == job.created_count == GiftCard.objects.count()
    assert job.processed_count in (250, 500)
    reconciles()


def test_a_command_that_stopped_is_marked_interrupted_by_the_sweep(business):
    job = Import.objects.create(
        business=business,
        mode="live",
        resource_type="gift_cards",
        source_name="file:cards.json",
        status=JobStatus.IN_PROGRESS,
        inputs_size=10,
        leased_until=timezone.now() - timedelta(seconds=1),
    )

    tasks.sweep.run()

    job.refresh_from_db()
    assert job.status == JobStatus.INTERRUPTED and job.interrupted_at is not None


def test_an_imported_card_has_its_history_and_reads_back_whole(write, business):
    rows = jsonapi_rows(3)
    rows[1].update(metadata={"tier": "gold"}, single_use=True, image_url="https://x.test/c.png")
    run(write("cards.json", rows), "--business", str(business.pk))

    card = GiftCard.objects.get(reference="old-1")

    assert (card.metadata, card.single_use, card.image_url) == (
        {"tier": "gold"},
        True,
        "https://x.test/c.png",
    )
    versions = list(card.versions.all())
    assert [(v.history_type, v.balance_cents, v.status) for v in versions] == [
        ("+", card.balance_cents, card.status)
    ]
    assert versions[0].history_change_reason.startswith("Imported")
    assert list(card.ledger.values_list("kind", flat=True)) == ["issue", "pre_import"]


def test_an_import_whose_runs_keep_dying_is_given_up_not_retried_forever(
    api, monkeypatch, settings
):
    from tests.giftcards.imports.test_api import start

    settings.BULK_JOB_MAX_ATTEMPTS = 3
    job_id = start(api, jsonapi_rows(10))["id"]

    def dies(**kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(service, "import_cards", dies)
    for _ in range(3):
        with pytest.raises(SystemExit):
            jobs.run(job_id)
        Import.objects.filter(pk=job_id).update(leased_until=timezone.now() - timedelta(seconds=1))
    assert jobs.run(job_id) is None  # no attempt left
    assert tasks.sweep.run() == 0  # nothing queued: it is given up instead

    job = Import.objects.get(pk=job_id)
    assert (job.status, job.attempts, job.processed_count) == (JobStatus.INTERRUPTED, 3, 0)
    assert "Stopped after 3 runs" in job.errors_log["import"][0]
    assert GiftCard.objects.count() == 0


def test_a_finished_import_forgets_its_inputs_after_the_days_set(api, settings):
    from tests.giftcards.imports.test_api import start

    settings.IMPORTS_KEEP_INPUTS_DAYS = 30
    old, recent = (start(api, jsonapi_rows(2))["id"] for _ in range(2))
    jobs.drain()
    Import.objects.filter(pk=old).update(updated_at=timezone.now() - timedelta(days=31))

    tasks.sweep.run()

    assert Import.objects.get(pk=old).inputs == []
    assert Import.objects.get(pk=old).created_count == 2  # its counts stay
    assert len(Import.objects.get(pk=recent).inputs) == 2


def test_a_drawn_code_that_a_card_has_is_drawn_again_not_taken_for_a_match(
    api, monkeypatch, make_card
):
    """A row without a code gets one drawn; should the draw hit a card's code, that is no
    sign the row was imported before."""
    from giftcards import codes
    from tests.giftcards.imports.test_api import start

    existing = make_card(code="DRAW-NCOD-E7KQ-P2XW")
    draws = iter(["DRAW-NCOD-E7KQ-P2XW", "FRES-HCOD-E9RT-W3ZM"])
    monkeypatch.setattr(codes, "generate", lambda *args: next(draws))

    attrs = start(api, [{"balance_cents": 500, "reference": "n-1", "reference_origin": "x"}])
    jobs.drain()

    job = Import.objects.get(pk=attrs["id"])
    assert (job.created_count, job.skipped_count) == (1, 0), job.warnings_log
    made = GiftCard.objects.get(reference="n-1")
    assert made.code == "FRES-HCOD-E9RT-W3ZM" and made.pk != existing.pk

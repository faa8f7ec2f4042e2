"""`export_giftcards` and `export_ledger`: the rows `/api/exports` writes for the same filters,
to stdout or a file, with a progress bar and a summary on stderr, in flat memory."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import stat
import tracemalloc
from datetime import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.exports import services as export_services
from giftcards.exports import writers
from giftcards.models import GiftCard
from tests.admin.bench_csv_export import make_cards
from tests.giftcards.export_helpers import file_text, parse, run_export, use_storage


@pytest.fixture(autouse=True)
def folder(settings, tmp_path):
    return use_storage(settings, tmp_path / "exports")


def run(name: str, *args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def api_file(tenant, **attributes) -> str:
    """What the worker writes for an export made with these attributes."""
    export = export_services.export_create(tenant=tenant, actor=Actor.system("api"), **attributes)
    return file_text(run_export(export.pk))


@pytest.fixture
def cards(make_card, tenant, actor):
    made = [make_card(reference=f"=ref-{i}", metadata={"n": i}) for i in range(4)]
    made.append(make_card(status="inactive"))
    services.card_debit(card=made[0], amount_cents=10_000, actor=actor)  # redeemed
    services.card_soft_delete(card=made[1], actor=actor)
    return made


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_export_giftcards_writes_what_the_api_writes(business, tenant, cards, file_format):
    printed, _ = run(
        "export_giftcards",
        f"--business={business.pk}",
        f"--format={file_format}",
        "--no-progress",
    )

    assert printed == api_file(tenant, resource_type="gift_cards", format=file_format)
    assert len(parse(file_format, printed)) == 4  # not the deleted card


def test_status_selects_as_the_api_filter_does(business, tenant, cards):
    printed, _ = run(
        "export_giftcards",
        f"--business={business.pk}",
        "--status=redeemed,inactive",
        "--no-progress",
    )

    expected = api_file(
        tenant, resource_type="gift_cards", filters={"status_in": ["redeemed", "inactive"]}
    )
    assert printed == expected
    assert sorted(row["status"] for row in parse("csv", printed)) == ["inactive", "redeemed"]


def test_mode_chooses_the_cards_of_that_mode(business, make_card, cards):
    test_card = make_card(tenant=Tenant(business=business, mode=Mode.TEST))

    printed, _ = run(
        "export_giftcards", f"--business={business.pk}", "--mode=test", "--no-progress"
    )

    assert [row["id"] for row in parse("csv", printed)] == [test_card.pk]


def test_output_file_with_progress_and_a_summary_on_stderr(business, cards, tmp_path):
    target = tmp_path / "cards.csv"

    printed, err = run("export_giftcards", f"--business={business.pk}", f"--output={target}")

    assert printed == ""
    assert len(parse("csv", target.read_text())) == 4
    assert "4/4" in err  # the bar
    summary = err.rstrip("\n").rsplit("\n", 1)[-1]
    assert summary.startswith(
        f"Exported 4 gift cards of business {business.pk} (live mode) as CSV to {target} in "
    )
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_include_codes_writes_full_codes_to_a_private_file_and_audits_it(
    business, tenant, cards, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="giftcards.audit")
    target = tmp_path / "codes.json"

    run(
        "export_giftcards",
        f"--business={business.pk}",
        "--include-codes",
        "--format=json",
        f"--output={target}",
        "--no-progress",
    )

    rows = parse("json", target.read_text())
    live = GiftCard.objects.for_tenant(tenant).not_deleted()
    assert {row["id"]: row["code"] for row in rows} == {card.pk: card.code for card in live}
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    (said,) = [r for r in caplog.records if r.name == "giftcards.audit"]
    assert said.levelno == logging.WARNING
    assert "4 full gift card codes" in said.getMessage() and str(target) in said.getMessage()
    assert not any(card.code in said.getMessage() for card in live)


def test_a_failed_export_leaves_no_output_file(business, cards, tmp_path, monkeypatch):
    def broken(table, out):
        out.write("id\n")
        raise OSError("disk full")

    monkeypatch.setitem(writers.WRITERS, "csv", broken)
    target = tmp_path / "cards.csv"

    with pytest.raises(OSError, match="disk full"):
        run("export_giftcards", f"--business={business.pk}", f"--output={target}", "--no-progress")

    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--business=999999"], "No business with id 999999"),
        (["--status=lost"], "Unknown status 'lost'"),
        (["--output=/no/such/folder/x.csv"], "No folder /no/such/folder"),
    ],
)
def test_bad_arguments_are_command_errors(business, args, says):
    if not any(a.startswith("--business") for a in args):
        args.append(f"--business={business.pk}")

    with pytest.raises(CommandError, match=says):
        run("export_giftcards", *args, "--no-progress")


# ---------------------------------------------------------------------------- the ledger


@pytest.fixture
def ledger(make_card, actor, monkeypatch):
    """An issue, then two debits, at noon UTC on 2025-03-01, -02 and -03 (the services take
    their moments from the clock)."""
    days = iter(datetime(2025, 3, day, 12, tzinfo=dt.UTC) for day in (1, 2, 3))
    with monkeypatch.context() as clock:
        clock.setattr(timezone, "now", lambda: moment)
        moment = next(days)
        card = make_card(balance_cents=5_000)
        moment = next(days)
        services.card_debit(card=card, amount_cents=100, actor=actor, order_reference="o1")
        moment = next(days)
        services.card_debit(card=card, amount_cents=200, actor=actor, order_reference="o2")
    return card


def test_export_ledger_writes_what_the_api_writes(business, tenant, ledger):
    printed, _ = run("export_ledger", f"--business={business.pk}", "--no-progress")

    assert printed == api_file(tenant, resource_type="balance_logs")
    assert [row["kind"] for row in parse("csv", printed)] == ["issue", "debit", "debit"]


def test_since_and_until_take_whole_days_as_the_api_takes_moments(business, tenant, ledger):
    printed, _ = run(
        "export_ledger",
        f"--business={business.pk}",
        "--since=2025-03-02",
        "--until=2025-03-02",
        "--format=json",
        "--no-progress",
    )

    assert [row["order_reference"] for row in parse("json", printed)] == ["o1"]
    assert printed == api_file(
        tenant,
        resource_type="balance_logs",
        format="json",
        filters={"created_at_gteq": "2025-03-02T00:00:00Z", "created_at_lt": "2025-03-03"},
    )


def test_days_are_the_business_s_days(business, ledger):
    business.timezone = "America/New_York"  # 2025-03-02 there is 05:00Z to 05:00Z
    business.save(update_fields=["timezone"])

    printed, _ = run(
        "export_ledger",
        f"--business={business.pk}",
        "--since=2025-03-02",
        "--until=2025-03-02",
        "--no-progress",
    )

    assert [row["order_reference"] for row in parse("csv", printed)] == ["o1"]
    moments, _ = run(
        "export_ledger",
        f"--business={business.pk}",
        "--since=2025-03-02T13:00:00+00:00",
        "--no-progress",
    )
    assert [row["order_reference"] for row in parse("csv", moments)] == ["o2"]


@pytest.mark.parametrize("value", ["yesterday", "2025-02-30", "9999-12-31"])
def test_a_bad_day_is_a_command_error(business, value):
    with pytest.raises(CommandError):
        run("export_ledger", f"--business={business.pk}", f"--until={value}", "--no-progress")


# ---------------------------------------------------------------------------- memory


def peak_of(business) -> tuple[int, int]:
    """(peak bytes traced, lines written) of one export_giftcards run to a discarding sink."""

    class Sink(io.StringIO):
        lines = 0

        def write(self, text):
            self.lines += text.count("\n")
            return len(text)

    sink = Sink()
    tracemalloc.start()
    try:
        call_command(
            "export_giftcards",
            f"--business={business.pk}",
            "--no-progress",
            stdout=sink,
            stderr=io.StringIO(),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, sink.lines


def test_memory_stays_flat_when_rows_grow_fivefold(business, other_business):
    make_cards(other_business, 50)
    make_cards(business, 4_000)  # two fetch chunks: past the point where memory levels off
    peak_of(business)  # warm-up: imports, caches
    small_peak, small_lines = peak_of(business)
    make_cards(business, 16_000)

    large_peak, large_lines = peak_of(business)

    assert (small_lines, large_lines) == (4_001, 20_001)
    # Streaming keeps one fetch chunk in memory; 5x the rows held at once would not fit this.
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)

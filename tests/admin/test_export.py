"""The CSV export: the filtered list, row for row, with masked codes, streamed so memory
stays flat (tests/admin/bench_csv_export.py prints the figures for 10,000 and 100,000 rows)."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from giftcards import services
from tests.admin.bench_csv_export import make_cards, measure_export


def export(client, params=None) -> list[dict]:
    response = client.get(reverse("admin:giftcards_giftcard_export"), params or {})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="gift-cards-')
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def manager_client(make_staff, login):
    return login(make_staff("manager"))


@pytest.fixture
def cards(make_card, actor):
    made = [make_card(code=f"EXPT-CARD-{i:04d}-ZZ{i:02d}", reference=f"ref-{i}") for i in range(12)]
    for card in made[:5]:
        services.card_debit(card=card, amount_cents=1_000 + card.ledger.count(), actor=actor)
    services.card_debit(card=made[5], amount_cents=10_000, actor=actor)  # redeemed, empty
    services.card_soft_delete(card=made[6], actor=actor)
    return made


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status__exact": "active"},
        {"balance": "partial"},
        {"balance": "partial", "o": "-3"},
        {"deleted": "yes"},
        {"q": "ref-1"},
        {"status__exact": "redeemed", "balance": "empty"},
    ],
    ids=["all", "active", "partial", "partial-by-balance-desc", "deleted", "search", "two-filters"],
)
def test_export_is_the_filtered_list_row_for_row(params, manager_client, cards):
    listed = (
        manager_client.get(reverse("admin:giftcards_giftcard_changelist"), {**params, "all": ""})
        .context["cl"]
        .result_list
    )

    rows = export(manager_client, params)

    assert [row["id"] for row in rows] == [card.pk for card in listed]
    assert rows, "each case should list something"


def test_export_rows_hold_masked_codes_and_exact_amounts(manager_client, cards):
    rows = {row["id"]: row for row in export(manager_client)}

    redeemed, deleted = rows[cards[5].pk], rows[cards[6].pk]
    assert redeemed["code"] == "****ZZ05"
    assert (redeemed["status"], redeemed["balance"], redeemed["initial_balance"]) == (
        "redeemed",
        "0.00",
        "100.00",
    )
    assert deleted["deleted"] == "yes"
    body = "".join(",".join(row.values()) for row in rows.values())
    assert "EXPT-CARD" not in body and "EXPTCARD" not in body


def test_export_neutralises_spreadsheet_formulas(manager_client, make_card):
    card = make_card(reference='=HYPERLINK("http://evil.test","click")')

    (row,) = [row for row in export(manager_client) if row["id"] == card.pk]

    assert row["reference"].startswith("'=")


def test_export_memory_stays_flat_when_rows_grow_fivefold(manager_client, business, other_business):
    make_cards(other_business, 50)
    make_cards(business, 4_000)  # two fetch chunks: past the point where memory levels off
    measure_export(manager_client)  # warm-up: imports, templates
    small_peak, small_lines, _ = measure_export(manager_client)
    make_cards(business, 16_000)

    large_peak, large_lines, _ = measure_export(manager_client)

    assert (small_lines, large_lines) == (4_001, 20_001)
    # Streaming keeps one fetch chunk in memory; 5x the rows held at once would not fit this.
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)

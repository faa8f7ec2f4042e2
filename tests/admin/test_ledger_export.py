"""The ledger admin's CSV export: what the list is filtered to, row for row and in its order,
with the columns of a `balance_logs` export, streamed; managers only, their business only."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.tenancy import Actor
from giftcards import services
from giftcards.exports import tables
from giftcards.models import BalanceLog

EXPORT = "admin:giftcards_balancelog_export"
LIST = "admin:giftcards_balancelog_changelist"


def export(client, params=None) -> list[dict]:
    response = client.get(reverse(EXPORT), params or {})
    assert response.status_code == 200, response.status_code
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="ledger-')
    assert "no-store" in response["Cache-Control"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture
def manager(make_staff, login):
    return login(make_staff("manager"))


@pytest.fixture
def ledger(make_card, tenant, other_card):
    """Issues, debits, a refund and a transfer on three cards of the business (and one card
    of another business)."""
    till = Actor.system("till")
    cards = [make_card(code=f"LEDG-EXPT-CARD-{i}0Z{i}", balance_cents=5_000) for i in range(3)]
    debit = services.card_debit(
        card=cards[0], amount_cents=1_000, actor=till, order_reference="ord-7", note="+1 call me"
    ).entry
    services.card_refund(payment=debit, amount_cents=400, actor=till, tenant=tenant)
    services.card_debit(card=cards[1], amount_cents=2_500, actor=till)
    services.card_transfer(
        tenant=tenant, actor=till, source=cards[2], target=cards[1], amount_cents=300
    )
    return cards


def listed(client, params) -> list[int]:
    response = client.get(reverse(LIST), {**params, "all": ""})
    assert response.status_code == 200
    return [entry.pk for entry in response.context["cl"].result_list]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"kind__exact": "debit"},
        {"o": "-4"},  # by amount, largest first
        {"q": "ord-7"},
        {"card__in": "{card0}"},
        {"kind__exact": "transfer_in", "card__mode__exact": "live"},
    ],
    ids=["all", "debits", "by-amount", "search", "one-card", "two-filters"],
)
def test_the_export_is_the_filtered_list_row_for_row(manager, ledger, params):
    params = {k: v.format(card0=ledger[0].pk) for k, v in params.items()}

    rows = export(manager, params)

    assert [int(row["id"]) for row in rows] == listed(manager, params)
    assert rows, "each case should list something"


def test_rows_have_the_columns_of_a_balance_logs_export_and_masked_codes(manager, ledger):
    rows = export(manager, {"card__in": ledger[0].pk})

    assert list(rows[0]) == [column.name for column in tables.LEDGER_COLUMNS]
    by_kind = {row["kind"]: row for row in rows}
    debit = BalanceLog.objects.get(card=ledger[0], kind="debit")
    assert by_kind["debit"] == {
        "id": str(debit.pk),
        "card_id": ledger[0].pk,
        "code": f"****{ledger[0].code_last4}",
        "kind": "debit",
        "amount_cents": "-1000",
        "balance_after_cents": "4000",
        "currency_code": "USD",
        "order_reference": "ord-7",
        "refund_of_id": "",
        "transfer_id": "",
        "actor_name": "till",
        "note": "'+1 call me",  # never a spreadsheet formula
        "created_at": debit.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert by_kind["refund"]["refund_of_id"] == str(debit.pk)


def test_a_full_code_never_appears_in_the_file(manager, ledger):
    text = "".join(",".join(row.values()) for row in export(manager))

    assert "LEDG-EXPT" not in text and "LEDGEXPT" not in text


def test_a_code_searched_by_get_opens_its_rows_and_leaves_the_link_without_it(manager, ledger):
    code = "LEDG-EXPT-CARD-10Z1"

    page = manager.get(reverse(LIST), {"q": code})
    rows = export(manager, {"q": code})

    assert {row["card_id"] for row in rows} == {ledger[1].pk}
    assert page.context["can_export"] is True
    assert code not in page.context["export_query"]
    assert f"card__in={ledger[1].pk}" in page.context["export_query"]
    assert reverse(EXPORT) in page.content.decode()


def test_only_the_business_s_rows_are_exported(manager, ledger, other_card):
    rows = export(manager)

    assert other_card.pk not in {row["card_id"] for row in rows}
    assert len(rows) == BalanceLog.objects.filter(card__business=ledger[0].business).count()


def test_a_superuser_exports_every_business(superuser, login, ledger, other_card):
    rows = export(login(superuser))

    assert other_card.pk in {row["card_id"] for row in rows}


@pytest.mark.parametrize("role", ["viewer", "cashier", None])
def test_only_managers_export(make_staff, login, ledger, role):
    client = login(make_staff(role))

    response = client.get(reverse(EXPORT))

    assert response.status_code == 403
    page = client.get(reverse(LIST))
    if page.status_code == 200:
        assert page.context["can_export"] is False
        assert reverse(EXPORT) not in page.content.decode()


def test_a_bad_filter_goes_back_to_the_list(manager, ledger):
    response = manager.get(reverse(EXPORT), {"kind__nope": "x"})

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_the_export_costs_the_same_queries_for_few_or_many_rows(
    manager, make_card, django_assert_max_num_queries
):
    card = make_card(balance_cents=100_000)
    till = Actor.system("till")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            export(manager)
        return len(captured)

    few = queries()
    for _ in range(30):
        services.card_debit(card=card, amount_cents=100, actor=till)

    with django_assert_max_num_queries(few):
        assert len(export(manager)) == 31

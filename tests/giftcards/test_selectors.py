"""Reads in giftcards/selectors.py that the APIs render from."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from clients.tenancy import Mode, Tenant
from giftcards import selectors, services
from giftcards.models import BalanceLog

MOMENTS = [
    dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC),  # no microseconds: isoformat drops them
    dt.datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 1, 12, 0, 0, 999_999, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 31, 23, 59, 59, 500_000, tzinfo=ZoneInfo("Pacific/Kiritimati")),
]


@pytest.fixture
def card_with_moments(make_card):
    card = make_card(balance_cents=0)
    for balance, moment in enumerate(MOMENTS, start=1):
        BalanceLog.objects.create(
            card=card,
            kind="recharge",
            amount_cents=1,
            balance_after_cents=balance,
            created_at=moment,
        )
    return card


def test_ledger_times_formatted_by_the_database_equal_python_isoformat(card_with_moments):
    rows = selectors.card_ledger_rows([card_with_moments.pk])[card_with_moments.pk]
    times = [row[-1] for row in rows if row[1] == "recharge"]
    assert times == [
        "2026-03-01T12:00:00Z",
        "2026-03-01T12:00:00.000001Z",
        "2026-03-01T12:00:00.999999Z",
        "2026-12-31T09:59:59.500000Z",
    ]
    assert times == [selectors.iso_utc(moment) for moment in MOMENTS]


def test_the_snapshot_and_a_new_rows_time_look_alike(card_with_moments, tenant):
    snapshot = selectors.ledger_snapshot(tenant=tenant, card_id=card_with_moments.pk)
    entries = BalanceLog.objects.filter(card=card_with_moments).order_by("created_at", "id")
    assert snapshot.rows == [selectors.ledger_row(entry) for entry in entries]


def test_a_ledger_read_before_the_lock_is_completed_under_it(make_card, tenant, actor):
    """A debit that lands between the read and the lock is not lost from the response."""
    card = make_card(balance_cents=1_000)
    snapshot = selectors.ledger_snapshot(tenant=tenant, card_id=card.pk)
    services.card_debit(card=card, amount_cents=100, actor=actor)
    with transaction.atomic():
        locked = services.lock_card(card.pk, tenant=tenant)
        rows = selectors.ledger_as_of_lock(locked, snapshot)
    assert [row[2] for row in rows] == [1_000, -100]


def test_an_unchanged_card_reuses_the_ledger_read_before_the_lock(
    make_card, tenant, django_assert_num_queries
):
    card = make_card(balance_cents=1_000)
    snapshot = selectors.ledger_snapshot(tenant=tenant, card_id=card.pk)
    with transaction.atomic():
        locked = services.lock_card(card.pk, tenant=tenant)
        with django_assert_num_queries(0):
            rows = selectors.ledger_as_of_lock(locked, snapshot)
    assert rows == snapshot.rows


def test_another_tenants_ledger_reads_empty(make_card, other_business):
    card = make_card()
    other = Tenant(business=other_business, mode=Mode.LIVE)
    assert selectors.ledger_snapshot(tenant=other, card_id=card.pk).rows == []

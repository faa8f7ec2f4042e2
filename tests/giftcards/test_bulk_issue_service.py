"""services.cards_issue_many: a batch of alike cards, each issued by card_issue, all or none."""

from __future__ import annotations

import pytest

from clients.tenancy import Mode, Tenant
from giftcards import exceptions, services
from giftcards.models import BalanceLog, GiftCard, Market, OutboxEvent, Status
from giftcards.services import bulk_issue


def test_a_batch_is_issued_card_by_card_with_numbered_references(tenant, actor):
    cards = services.cards_issue_many(
        tenant=tenant,
        actor=actor,
        count=3,
        balance_cents=2_000,
        status=Status.ACTIVE,
        reference_prefix="GIFT-",
    )

    assert [card.reference for card in cards] == ["GIFT-0001", "GIFT-0002", "GIFT-0003"]
    assert len({card.code for card in cards}) == 3
    assert list(BalanceLog.objects.values_list("kind", "amount_cents")) == [("issue", 2_000)] * 3
    # Each card records what a single issue records (created, ledger row, purchase, activate).
    assert OutboxEvent.objects.count() == 3 * 4


def test_without_a_prefix_the_cards_have_no_reference(tenant, actor):
    cards = services.cards_issue_many(tenant=tenant, actor=actor, count=2, balance_cents=500)

    assert [card.reference for card in cards] == ["", ""]
    assert {card.status for card in cards} == {Status.DRAFT}


@pytest.mark.parametrize("count", [0, -1, bulk_issue.MAX_BATCH + 1, True, "5", 2.0])
def test_a_count_outside_the_batch_size_is_refused(count, tenant, actor):
    with pytest.raises(exceptions.InvalidValue) as refused:
        services.cards_issue_many(tenant=tenant, actor=actor, count=count, balance_cents=500)

    assert refused.value.subject == "count"
    assert GiftCard.objects.count() == 0


def test_a_prefix_too_long_for_a_reference_is_refused(tenant, actor):
    prefix = "x" * (bulk_issue.REFERENCE_PREFIX_MAX_LENGTH + 1)

    with pytest.raises(exceptions.InvalidValue) as refused:
        services.cards_issue_many(
            tenant=tenant, actor=actor, count=1, balance_cents=500, reference_prefix=prefix
        )

    assert refused.value.subject == "reference"
    assert GiftCard.objects.count() == 0


def test_the_longest_prefix_makes_the_longest_reference(tenant, actor):
    prefix = "x" * bulk_issue.REFERENCE_PREFIX_MAX_LENGTH

    (card,) = services.cards_issue_many(
        tenant=tenant, actor=actor, count=1, balance_cents=500, reference_prefix=prefix
    )

    card.refresh_from_db()
    assert len(card.reference) == bulk_issue.REFERENCE_MAX_LENGTH


def test_a_refusal_issues_no_card_of_the_batch(tenant, actor, business):
    euros = Market.objects.create(
        business=business, mode=Mode.LIVE, name="Paris", currency_code="EUR"
    )

    with pytest.raises(exceptions.CurrencyMismatch):
        services.cards_issue_many(
            tenant=tenant,
            actor=actor,
            count=3,
            balance_cents=500,
            currency_code="USD",
            market=euros,
        )

    assert GiftCard.objects.count() == BalanceLog.objects.count() == 0


def test_a_failure_half_way_through_leaves_nothing(tenant, actor, monkeypatch):
    issue, calls = bulk_issue.card_issue, []

    def fail_on_third(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise exceptions.InvalidValue("The third card could not be issued.")
        return issue(**kwargs)

    monkeypatch.setattr(bulk_issue, "card_issue", fail_on_third)

    with pytest.raises(exceptions.InvalidValue):
        services.cards_issue_many(tenant=tenant, actor=actor, count=5, balance_cents=500)

    assert len(calls) == 3
    assert GiftCard.objects.count() == BalanceLog.objects.count() == OutboxEvent.objects.count()
    assert GiftCard.objects.count() == 0


def test_another_tenants_market_is_refused(tenant, actor, other_business):
    theirs = Market.objects.create(
        business=other_business, mode=Mode.LIVE, name="Theirs", currency_code="USD"
    )

    with pytest.raises(exceptions.GiftCardError) as refused:
        services.cards_issue_many(
            tenant=tenant, actor=actor, count=2, balance_cents=500, market=theirs
        )

    assert refused.value.subject == "market"
    assert GiftCard.objects.count() == 0


def test_a_test_mode_batch_stays_in_test_mode(business, actor):
    cards = services.cards_issue_many(
        tenant=Tenant(business=business, mode=Mode.TEST), actor=actor, count=2, balance_cents=1
    )

    assert {card.mode for card in cards} == {Mode.TEST}

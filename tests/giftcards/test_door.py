"""The door (giftcards/services/door.py): a card is locked through the caller's tenant, its
version checked on the locked row, and several cards locked in primary-key order."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from clients.tenancy import Mode, Tenant
from giftcards import exceptions, services
from giftcards.models import BalanceLog, GiftCard


@pytest.fixture
def foreign_card(other_business, actor):
    tenant = Tenant(business=other_business, mode=Mode.LIVE)
    return services.card_issue(tenant=tenant, actor=actor, balance_cents=5_000, status="active")


def test_a_foreign_id_is_not_found_and_nothing_moves(tenant, actor, foreign_card):
    with pytest.raises(exceptions.CardNotFound):
        services.card_debit(card=foreign_card.pk, tenant=tenant, amount_cents=100, actor=actor)
    assert GiftCard.objects.get(pk=foreign_card.pk).balance_cents == 5_000
    assert BalanceLog.objects.filter(card=foreign_card).count() == 1


def test_another_modes_id_is_not_found(business, tenant, actor, make_card):
    card = make_card()
    test_mode = Tenant(business=business, mode=Mode.TEST)
    with pytest.raises(exceptions.CardNotFound):
        services.card_change(
            card=card.pk, tenant=test_mode, actor=actor, changes=services.CardChanges()
        )


def test_a_card_instance_of_another_tenant_is_not_found(tenant, actor, foreign_card):
    with pytest.raises(exceptions.CardNotFound):
        services.card_soft_delete(card=foreign_card, tenant=tenant, actor=actor)
    assert GiftCard.objects.get(pk=foreign_card.pk).deleted_at is None


def test_an_id_without_a_tenant_is_refused(make_card, actor):
    card = make_card()
    with pytest.raises(TypeError):
        services.card_debit(card=card.pk, amount_cents=100, actor=actor)


def test_the_lock_query_is_scoped_to_the_tenant(tenant, make_card):
    card = make_card()
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        services.lock_card(card.pk, tenant=tenant)
    (lock,) = [q["sql"] for q in captured.captured_queries if "giftcards_giftcard" in q["sql"]]
    assert '"business_id"' in lock and '"mode"' in lock


def test_a_stale_version_is_refused_on_the_locked_row(tenant, actor, make_card):
    card = make_card(balance_cents=5_000)
    seen = services.card_version(card)
    services.card_debit(card=card, amount_cents=100, actor=actor)

    with pytest.raises(exceptions.PreconditionFailed):
        services.card_debit(
            card=card.pk, tenant=tenant, amount_cents=100, actor=actor, if_match={seen}
        )
    fresh = GiftCard.objects.get(pk=card.pk)
    assert fresh.balance_cents == 4_900
    services.card_debit(
        card=card.pk,
        tenant=tenant,
        amount_cents=100,
        actor=actor,
        if_match={services.card_version(fresh)},
    )
    assert GiftCard.objects.get(pk=card.pk).balance_cents == 4_800


def test_cards_locked_together_are_locked_in_primary_key_order(tenant, make_card):
    cards = [make_card() for _ in range(4)]
    with transaction.atomic():
        locked = services.lock_cards([c.pk for c in reversed(cards)], tenant=tenant)
    assert [c.pk for c in locked] == sorted(c.pk for c in cards)


def test_locking_together_refuses_a_foreign_card(tenant, make_card, foreign_card):
    with pytest.raises(exceptions.CardNotFound), transaction.atomic():
        services.lock_cards([make_card().pk, foreign_card.pk], tenant=tenant)


def test_a_change_set_locks_the_card_once(tenant, actor, make_card):
    card = make_card(balance_cents=5_000)
    changes = services.CardChanges(
        attributes={"reference": "ERP-9"},
        triggers=("deactivate", "activate"),
        balance_change_cents=-500,
        add_tags=("vip",),
    )
    with CaptureQueriesContext(connection) as captured:
        result = services.card_change(card=card.pk, tenant=tenant, actor=actor, changes=changes)
    card_reads = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "giftcards_giftcard"' in q["sql"]
    ]
    assert len(card_reads) == 1
    assert result.card.balance_cents == 4_500
    assert result.card.reference == "ERP-9"
    assert [e.kind for e in result.entries] == ["debit"]


def test_a_refused_step_of_a_change_set_names_the_step_and_writes_nothing(tenant, actor, make_card):
    card = make_card(balance_cents=5_000)
    changes = services.CardChanges(
        attributes={"reference": "ERP-9"}, balance_change_cents=-50_000, add_tags=("vip",)
    )
    with pytest.raises(exceptions.InsufficientBalance) as excinfo:
        services.card_change(card=card.pk, tenant=tenant, actor=actor, changes=changes)
    assert excinfo.value.step == "balance_change_cents"
    fresh = GiftCard.objects.get(pk=card.pk)
    assert (fresh.reference, fresh.balance_cents, fresh.tags.count()) == ("", 5_000, 0)

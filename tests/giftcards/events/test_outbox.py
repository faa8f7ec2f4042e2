"""The services record their events in the transaction of the change: a committed change
always has them, a refused or rolled-back one never does, whatever the entry point."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from clients.tenancy import Tenant
from giftcards import catalogue, exceptions, services
from giftcards.events import outbox
from giftcards.models import GiftCardRecipient, OutboxEvent, Status


def names(resource_id=None) -> list[str]:
    events = OutboxEvent.objects.order_by("id")
    if resource_id is not None:
        events = events.filter(resource_id=str(resource_id))
    return list(events.values_list("name", flat=True))


def test_a_draft_card_is_created_with_its_first_ledger_row(make_card):
    card = make_card(status=Status.DRAFT, balance_cents=2_500)
    assert names(card.pk) == ["gift_cards.create", "gift_cards.balance_change"]
    change = OutboxEvent.objects.get(resource_id=card.pk, name="gift_cards.balance_change")
    entry = change.data["ledger_entry"]
    assert (entry["kind"], entry["amount_cents"], entry["balance_after_cents"]) == (
        "issue",
        2_500,
        2_500,
    )
    assert change.resource_type == "gift_cards"
    assert (change.business_id, change.mode) == (card.business_id, card.mode)


def test_a_card_issued_active_is_also_purchased_and_activated(make_card):
    card = make_card(status=Status.ACTIVE)
    assert names(card.pk) == [
        "gift_cards.create",
        "gift_cards.balance_change",
        "gift_cards.purchase",
        "gift_cards.activate",
    ]


def test_triggers_record_their_topic_and_a_draft_activated_directly_is_purchased_too(
    make_card, actor
):
    card = make_card(status=Status.DRAFT)
    services.card_activate(card=card, actor=actor)
    services.card_deactivate(card=card, actor=actor)
    assert names(card.pk)[2:] == [
        "gift_cards.purchase",
        "gift_cards.activate",
        "gift_cards.deactivate",
    ]
    deactivation = OutboxEvent.objects.filter(resource_id=card.pk).last()
    assert deactivation.data == {
        "status": "inactive",
        "previous_status": "active",
        "balance_cents": 10_000,
    }


def test_every_ledger_row_is_a_balance_change_and_using_a_card_up_redeems_it(make_card, actor):
    card = make_card(balance_cents=1_000)
    before = len(names(card.pk))
    services.card_debit(card=card, amount_cents=400, actor=actor, order_reference="A-1")
    services.card_recharge(card=card, amount_cents=100, actor=actor)
    services.card_adjust(card=card, new_balance_cents=900, actor=actor, note="count")
    payment = services.card_debit(card=card, amount_cents=900, actor=actor).entry
    services.card_refund(payment=payment, actor=actor)
    assert names(card.pk)[before:] == [
        "gift_cards.balance_change",
        "gift_cards.balance_change",
        "gift_cards.balance_change",
        "gift_cards.balance_change",
        "gift_cards.redeem",
        "gift_cards.balance_change",
    ]
    kinds = [
        event.data["ledger_entry"]["kind"]
        for event in OutboxEvent.objects.filter(
            resource_id=card.pk, name="gift_cards.balance_change"
        )
    ]
    assert kinds == ["issue", "debit", "recharge", "adjustment", "debit", "refund"]
    debit = OutboxEvent.objects.filter(name="gift_cards.balance_change")[1].data
    assert debit["ledger_entry"]["order_reference"] == "A-1"
    assert debit["balance_cents"] == 600


def test_a_single_use_card_is_redeemed_by_its_first_debit(make_card, actor):
    card = make_card(single_use=True, balance_cents=1_000)
    services.card_debit(card=card, amount_cents=100, actor=actor)
    assert names(card.pk)[-2:] == ["gift_cards.balance_change", "gift_cards.redeem"]


def test_deleting_a_card_destroys_it_once(make_card, actor):
    card = make_card()
    services.card_soft_delete(card=card, actor=actor)
    services.card_soft_delete(card=card, actor=actor)
    assert names(card.pk).count("gift_cards.destroy") == 1


def test_recipients_are_announced_when_created_not_when_found_again(tenant, actor, make_card):
    catalogue.recipient_create(tenant=tenant, actor=actor, email="ann@example.com")
    make_card(recipient_email="bob@example.com")
    make_card(recipient_email="BOB@example.com")
    created = OutboxEvent.objects.filter(name="gift_card_recipients.create").order_by("id")
    emails = [event.data["email"] for event in created]
    assert emails == ["ann@example.com", "bob@example.com"]
    bob = GiftCardRecipient.objects.get(email="bob@example.com")
    assert created.last().resource_id == str(bob.pk)
    assert created.last().resource_type == "gift_card_recipients"


def test_a_refused_money_move_records_nothing(make_card, actor):
    card = make_card(balance_cents=100)
    before = OutboxEvent.objects.count()
    with pytest.raises(exceptions.InsufficientBalance):
        services.card_debit(card=card, amount_cents=500, actor=actor)
    assert OutboxEvent.objects.count() == before


def test_a_change_set_refused_half_way_takes_its_earlier_events_back(make_card, actor):
    card = make_card(status=Status.INACTIVE, balance_cents=100)
    before = OutboxEvent.objects.count()
    changes = services.CardChanges(triggers=("activate",), balance_change_cents=-500)
    with pytest.raises(exceptions.InsufficientBalance):
        services.card_change(card=card.pk, tenant=card_tenant(card), actor=actor, changes=changes)
    assert OutboxEvent.objects.count() == before
    card.refresh_from_db()
    assert card.status == Status.INACTIVE


def test_a_change_rolled_back_by_its_caller_records_nothing(make_card, actor):
    card = make_card()
    before = OutboxEvent.objects.count()

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), transaction.atomic():
        services.card_debit(card=card, amount_cents=100, actor=actor)
        assert OutboxEvent.objects.count() == before + 1  # written, in the transaction
        raise Abandon
    assert OutboxEvent.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_events_cannot_be_recorded_outside_a_transaction(make_card):
    card = make_card()
    with pytest.raises(outbox.OutsideTransaction):
        outbox.record(card, ("gift_cards.create", {}))


def test_an_event_must_be_about_its_topics_resource(make_card):
    card = make_card()
    with pytest.raises(ValueError), transaction.atomic():
        outbox.record(card, ("gift_card_recipients.create", {}))


def card_tenant(card):
    return Tenant(business=card.business, mode=card.mode)


MOVES = {
    "debit": lambda card, actor: services.card_debit(card=card, amount_cents=100, actor=actor),
    "debit to zero (redeems)": lambda card, actor: services.card_debit(
        card=card, amount_cents=1_000, actor=actor
    ),
    "recharge": lambda card, actor: services.card_recharge(
        card=card, amount_cents=100, actor=actor
    ),
    "adjustment": lambda card, actor: services.card_adjust(
        card=card, new_balance_cents=5, actor=actor, note="count"
    ),
    "refund": None,  # of a debit made first (below)
}


@pytest.mark.parametrize("move", MOVES)
def test_every_money_move_records_its_events_in_one_statement(make_card, actor, move):
    card = make_card(balance_cents=1_000)
    if move == "refund":
        payment = services.card_debit(card=card, amount_cents=1_000, actor=actor).entry
        run = lambda: services.card_refund(payment=payment, actor=actor)  # noqa: E731
    else:
        run = lambda: MOVES[move](card, actor)  # noqa: E731
    with CaptureQueriesContext(connection) as captured:
        run()
    inserts = [q["sql"] for q in captured.captured_queries if "giftcards_outboxevent" in q["sql"]]
    assert len(inserts) == 1
    assert inserts[0].startswith('INSERT INTO "giftcards_outboxevent"')


def test_a_change_set_of_several_steps_records_its_events_in_one_statement(make_card, actor):
    card = make_card(status=Status.DRAFT, balance_cents=1_000)
    changes = services.CardChanges(triggers=("activate",), balance_change_cents=-1_000)
    with CaptureQueriesContext(connection) as captured:
        services.card_change(card=card.pk, tenant=card_tenant(card), actor=actor, changes=changes)
    inserts = [q["sql"] for q in captured.captured_queries if "giftcards_outboxevent" in q["sql"]]
    assert len(inserts) == 1
    assert names(card.pk)[-4:] == [
        "gift_cards.purchase",
        "gift_cards.activate",
        "gift_cards.balance_change",
        "gift_cards.redeem",
    ]


def test_an_event_recorded_in_a_savepoint_that_rolls_back_goes_with_it(make_card):
    card = make_card()
    before = OutboxEvent.objects.count()
    with transaction.atomic(), outbox.batched():
        outbox.record(card, ("gift_cards.create", {"n": 1}))  # deferred to the block's end
        try:
            with transaction.atomic():
                outbox.record(card, ("gift_cards.create", {"n": 2}))
                raise RuntimeError("the inner step fails")
        except RuntimeError:
            pass
    assert [event.data for event in OutboxEvent.objects.order_by("id")[before:]] == [{"n": 1}]


def test_a_partial_refund_names_the_payment_it_gives_back(make_card, actor):
    card = make_card(status=Status.ACTIVE, balance_cents=5_000)
    payment = services.card_debit(card=card, amount_cents=1_000, actor=actor).entry

    services.card_refund(payment=payment, amount_cents=400, actor=actor)

    event = OutboxEvent.objects.filter(name="gift_cards.balance_change").order_by("id").last()
    entry = event.data["ledger_entry"]
    assert (entry["kind"], entry["amount_cents"], entry["refund_of_id"]) == (
        "refund",
        400,
        payment.pk,
    )
    assert entry["balance_transfer_id"] is None


def test_a_transfer_records_a_balance_change_on_each_card_naming_it(make_card, tenant, actor):
    source = make_card(status=Status.ACTIVE, balance_cents=5_000)
    target = make_card(status=Status.ACTIVE, balance_cents=0)
    before = OutboxEvent.objects.count()

    moved = services.card_transfer(
        tenant=tenant, actor=actor, source=source, target=target, amount_cents=1_500
    ).transfer

    recorded = list(OutboxEvent.objects.order_by("id")[before:])
    assert [(e.name, e.resource_id) for e in recorded] == [
        ("gift_cards.balance_change", source.pk),
        ("gift_cards.balance_change", target.pk),
    ]
    entries = [e.data["ledger_entry"] for e in recorded]
    assert [(e["kind"], e["amount_cents"]) for e in entries] == [
        ("transfer_out", -1_500),
        ("transfer_in", 1_500),
    ]
    assert {e["balance_transfer_id"] for e in entries} == {moved.pk}

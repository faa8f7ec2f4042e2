"""The one door for money: issuing, balance changes, statuses and attributes of gift cards.

Every refusal is checked twice: the right domain error, and nothing changed (the card row,
its ledger and its history are exactly as before).
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from clients.models import Client
from clients.tenancy import Actor, Mode, Tenant
from giftcards import codes, exceptions, services
from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Market, Status, Tag

# ---------------------------------------------------------------------------- helpers


def state(card: GiftCard | str) -> dict:
    """Everything a refused call must leave as it was."""
    pk = card.pk if isinstance(card, GiftCard) else card
    return {
        "row": GiftCard.objects.filter(pk=pk).values().get(),
        "ledger": list(BalanceLog.objects.filter(card_id=pk).values_list("id", flat=True)),
        "versions": GiftCard.history.filter(id=pk).count(),
        "tags": sorted(Tag.objects.filter(gift_cards__pk=pk).values_list("name", flat=True)),
    }


@contextmanager
def refused(card: GiftCard, error: type[Exception], match: str | None = None):
    """The block raises `error` (its message matching `match`) and changes nothing."""
    before = state(card)
    with pytest.raises(error, match=match) as excinfo:
        yield excinfo
    assert state(card) == before


def fresh(card: GiftCard) -> GiftCard:
    return GiftCard.objects.get(pk=card.pk)


def ledger(card: GiftCard) -> list[tuple[str, int, int]]:
    return [
        (row.kind, row.amount_cents, row.balance_after_cents)
        for row in BalanceLog.objects.filter(card_id=card.pk).order_by("created_at", "id")
    ]


YESTERDAY = timedelta(days=-1)
TOMORROW = timedelta(days=1)


@pytest.fixture
def card_in_status(make_card, actor):
    """A card of 100.00 in the given status; a redeemed one is single-use, debited 10.00."""

    def make(status: str, **kwargs) -> GiftCard:
        if status != Status.REDEEMED:
            return make_card(status=status, **kwargs)
        card = make_card(single_use=True, **kwargs)
        services.card_debit(card=card, amount_cents=1_000, actor=actor)
        card = fresh(card)
        assert card.status == Status.REDEEMED
        return card

    return make


@pytest.fixture
def other_tenant(other_business):
    return Tenant(business=other_business, mode=Mode.LIVE)


@pytest.fixture
def test_mode_tenant(business):
    return Tenant(business=business, mode=Mode.TEST)


# ---------------------------------------------------------------------------- issue


def test_issue_writes_one_issue_row_with_the_initial_balance(make_card):
    card = fresh(make_card(balance_cents=2_500))
    assert (card.initial_balance_cents, card.balance_cents) == (2_500, 2_500)
    assert ledger(card) == [("issue", 2_500, 2_500)]
    row = card.ledger.get()
    assert row.actor_name == "tester"
    assert card.created_by == card.modified_by == "tester"


def test_issue_of_an_empty_card_still_writes_its_issue_row(make_card):
    card = make_card(balance_cents=0)
    assert ledger(card) == [("issue", 0, 0)]


def test_issued_card_is_draft_without_purchase_date_by_default(tenant, actor):
    card = services.card_issue(tenant=tenant, actor=actor, balance_cents=1_000)
    assert card.status == Status.DRAFT
    assert card.purchase_date is None
    assert (card.business, card.mode) == (tenant.business, tenant.mode)


@pytest.mark.parametrize("status", [Status.INACTIVE, Status.ACTIVE])
def test_card_issued_past_draft_gets_a_purchase_date(make_card, status):
    assert make_card(status=status).purchase_date is not None


@pytest.mark.parametrize("status", [Status.REDEEMED, "redeemed", "expired"])
def test_card_issued_in_another_status_is_refused_naming_it(tenant, actor, status):
    with pytest.raises(exceptions.IllegalTransition, match=f"not '{status}'"):
        services.card_issue(tenant=tenant, actor=actor, balance_cents=1_000, status=status)
    assert not GiftCard.objects.exists()


@pytest.mark.parametrize("balance_cents", [-1, 10.5, "1000", True, None])
def test_issue_with_an_invalid_balance_is_refused(make_card, balance_cents):
    with pytest.raises(exceptions.InvalidAmount):
        make_card(balance_cents=balance_cents)
    assert not GiftCard.objects.exists()
    assert not BalanceLog.objects.exists()


def test_issue_of_more_than_the_database_can_hold_is_refused(make_card):
    with pytest.raises(exceptions.InvalidAmount, match="too large"):
        make_card(balance_cents=2**63)
    with pytest.raises(exceptions.InvalidAmount, match="too large"):
        make_card(balance_cents=1_000, balance_max_cents=2**63)
    assert not GiftCard.objects.exists()


def test_issue_of_the_largest_storable_balance_is_accepted(make_card):
    card = fresh(make_card(balance_cents=2**63 - 1))
    assert card.balance_cents == 2**63 - 1
    assert ledger(card) == [("issue", 2**63 - 1, 2**63 - 1)]


def test_issue_above_the_maximum_balance_is_refused(make_card):
    with pytest.raises(exceptions.BalanceMaxExceeded):
        make_card(balance_cents=5_001, balance_max_cents=5_000)
    assert not GiftCard.objects.exists()


def test_issue_with_metadata_that_is_not_an_object_is_refused(make_card):
    with pytest.raises(exceptions.GiftCardError) as excinfo:
        make_card(metadata=["a", "b"])
    assert excinfo.value.field == "metadata"
    assert not GiftCard.objects.exists()


def test_generated_code_is_five_groups_of_four_unambiguous_characters(make_card):
    code = make_card().code
    assert re.fullmatch(
        r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}(-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}){4}", code
    )
    assert not set(code) & set("01OIL")


def test_generated_code_alphabet_has_no_look_alikes_and_at_least_80_bits():
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET)
    assert not set(codes.ALPHABET) & set("01OIL")
    assert codes.GENERATED_LENGTH * math.log2(len(codes.ALPHABET)) >= 80


def test_generated_codes_are_unique(make_card):
    cards = [make_card(balance_cents=100) for _ in range(30)]
    assert len({card.code for card in cards}) == 30
    assert len({card.code_hash for card in cards}) == 30


def test_generated_code_that_collides_is_redrawn(make_card, monkeypatch):
    taken = make_card().code
    draws = iter([taken, taken, "WXYZ-WXYZ-WXYZ-WXYZ-2345"])
    monkeypatch.setattr(codes, "generate", lambda: next(draws))
    card = make_card()
    assert card.code == "WXYZ-WXYZ-WXYZ-WXYZ-2345"
    assert GiftCard.objects.count() == 2
    assert BalanceLog.objects.filter(kind="issue").count() == 2


def test_generated_code_that_keeps_colliding_gives_up_with_duplicate_code(make_card, monkeypatch):
    taken = make_card().code
    monkeypatch.setattr(codes, "generate", lambda: taken)
    with pytest.raises(exceptions.DuplicateCode):
        make_card()
    assert GiftCard.objects.count() == 1
    assert BalanceLog.objects.count() == 1


@pytest.mark.parametrize(
    "code",
    ["ABCD2345", "K7QMX2PD9RTAWF3HNB6CJ4VZE8YS5GU2MD7KP3XQ", "gift-card-2024", "GIFT CARD 2024"],
)
def test_chosen_code_is_kept_as_given(make_card, code):
    card = make_card(code=code)
    assert card.code == code
    assert card.code_last4 == codes.normalise(code)[-4:]


@pytest.mark.parametrize(
    "code",
    [
        "ABC2345",  # 7 characters
        "ABC-234-5",  # 7 once the dashes are gone
        "A" * 41,
        "ABCD_2345",
        "ÄBCD2345",
        "ABCD2345!",
        "",
        12345678,
    ],
)
def test_chosen_code_that_is_invalid_is_refused(make_card, code):
    with pytest.raises(exceptions.InvalidCode) as excinfo:
        make_card(code=code)
    assert excinfo.value.field == "code"
    assert not GiftCard.objects.exists()


def test_duplicate_chosen_code_is_refused(make_card):
    make_card(code="SPRING-2024-GIFT")
    with pytest.raises(exceptions.DuplicateCode):
        make_card(code="spring 2024 gift")
    assert GiftCard.objects.count() == 1
    assert BalanceLog.objects.count() == 1


def test_duplicate_chosen_code_is_refused_across_modes(make_card, test_mode_tenant):
    make_card(code="SPRING-2024-GIFT")
    with pytest.raises(exceptions.DuplicateCode):
        make_card(code="SPRING-2024-GIFT", tenant=test_mode_tenant)
    assert GiftCard.objects.count() == 1


def test_same_chosen_code_in_another_business_is_allowed(make_card, other_tenant):
    make_card(code="SPRING-2024-GIFT")
    other = make_card(code="SPRING-2024-GIFT", tenant=other_tenant)
    assert other.business == other_tenant.business
    assert GiftCard.objects.count() == 2


def test_currency_falls_back_to_the_business(make_card, business):
    assert make_card().currency_code == business.currency_code == "USD"


def test_currency_falls_back_to_the_market_before_the_business(make_card, business):
    market = Market.objects.create(business=business, name="Europe", currency_code="EUR")
    assert make_card(market=market).currency_code == "EUR"


def test_currency_given_explicitly_is_used(make_card):
    assert make_card(currency_code="JPY").currency_code == "JPY"


@pytest.mark.parametrize("currency_code", ["XYZ", "usd", "", "DEM", "US"])
def test_unknown_currency_is_refused(make_card, currency_code):
    with pytest.raises(exceptions.InvalidCurrency):
        make_card(currency_code=currency_code)
    assert not GiftCard.objects.exists()


def test_currency_other_than_the_markets_is_refused(make_card, business):
    market = Market.objects.create(business=business, name="Europe", currency_code="EUR")
    with pytest.raises(exceptions.CurrencyMismatch, match="EUR"):
        make_card(market=market, currency_code="USD")
    assert not GiftCard.objects.exists()


@pytest.mark.parametrize("owner", ["other_business", "test_mode"])
@pytest.mark.parametrize("kind", ["client", "recipient", "market", "tags"])
def test_objects_of_another_tenant_are_refused_on_issue(
    make_card, business, other_business, owner, kind
):
    owner_kwargs = (
        {"business": other_business, "mode": Mode.LIVE}
        if owner == "other_business"
        else {"business": business, "mode": Mode.TEST}
    )
    if kind == "client":
        kwargs = {"client": Client.objects.create(first_name="Eve", **owner_kwargs)}
    elif kind == "recipient":
        recipient = GiftCardRecipient.objects.create(email="eve@example.com", **owner_kwargs)
        kwargs = {"recipient": recipient}
    elif kind == "market":
        kwargs = {"market": Market.objects.create(name="M", currency_code="USD", **owner_kwargs)}
    else:
        kwargs = {"tags": [Tag.objects.create(name="vip", **owner_kwargs)]}
    with pytest.raises(exceptions.GiftCardError, match="does not exist"):
        make_card(**kwargs)
    assert not GiftCard.objects.exists()
    assert not BalanceLog.objects.exists()


def test_objects_of_the_same_tenant_are_linked_on_issue(make_card, business):
    client = Client.objects.create(business=business, first_name="Ann")
    recipient = GiftCardRecipient.objects.create(business=business, email="ann@example.com")
    tag = Tag.objects.create(business=business, name="vip")
    card = make_card(client=client, recipient=recipient, tags=[tag])
    assert (card.client, card.recipient) == (client, recipient)
    assert list(card.tags.all()) == [tag]


# ---------------------------------------------------------------------------- debit


def test_partial_debit_lowers_the_balance_and_records_it(make_card, actor):
    card = make_card(balance_cents=10_000)
    change = services.card_debit(
        card=card, amount_cents=2_500, actor=actor, order_reference="order-7", note="till 3"
    )
    card = fresh(card)
    assert (card.balance_cents, card.status) == (7_500, Status.ACTIVE)
    assert ledger(card) == [("issue", 10_000, 10_000), ("debit", -2_500, 7_500)]
    entry = change.entry
    assert (entry.order_reference, entry.note, entry.actor_name) == ("order-7", "till 3", "tester")
    assert change.card.balance_cents == 7_500
    assert change.replayed is False


def test_debit_accepts_the_card_id(make_card, actor, tenant):
    card = make_card(balance_cents=1_000)
    services.card_debit(card=card.pk, tenant=tenant, amount_cents=100, actor=actor)
    assert fresh(card).balance_cents == 900


def test_debit_to_zero_redeems_the_card(make_card, actor):
    card = make_card(balance_cents=1_000)
    services.card_debit(card=card, amount_cents=1_000, actor=actor)
    card = fresh(card)
    assert (card.balance_cents, card.status) == (0, Status.REDEEMED)


def test_single_use_card_is_redeemed_after_its_first_debit(make_card, actor):
    card = make_card(balance_cents=1_000, single_use=True)
    services.card_debit(card=card, amount_cents=300, actor=actor)
    card = fresh(card)
    assert (card.balance_cents, card.status) == (700, Status.REDEEMED)


def test_single_use_card_refuses_a_second_debit(make_card, actor):
    card = make_card(balance_cents=1_000, single_use=True)
    services.card_debit(card=card, amount_cents=300, actor=actor)
    with refused(card, exceptions.CardNotActive, match="redeemed"):
        services.card_debit(card=card, amount_cents=300, actor=actor)


def test_debit_above_the_balance_is_refused(make_card, actor):
    card = make_card(balance_cents=1_000)
    with refused(card, exceptions.InsufficientBalance, match=r"\$10\.00; \$10\.01 cannot"):
        services.card_debit(card=card, amount_cents=1_001, actor=actor)


def test_second_debit_of_last_dollar_is_refused(make_card, actor):
    card = make_card(balance_cents=100)
    services.card_debit(card=card, amount_cents=100, actor=actor)
    with refused(card, exceptions.CardNotActive, match="redeemed"):
        services.card_debit(card=card, amount_cents=100, actor=actor)


@pytest.mark.parametrize("amount_cents", [0, -100, 1.5, "100", True, None])
def test_debit_of_an_invalid_amount_is_refused(make_card, actor, amount_cents):
    card = make_card()
    with refused(card, exceptions.InvalidAmount):
        services.card_debit(card=card, amount_cents=amount_cents, actor=actor)


@pytest.mark.parametrize("status", [Status.DRAFT, Status.INACTIVE, Status.REDEEMED])
def test_debit_of_a_card_that_is_not_active_is_refused_naming_its_status(
    card_in_status, actor, status
):
    card = card_in_status(status)
    with refused(card, exceptions.CardNotActive, match=rf"\b{status}\b"):
        services.card_debit(card=card, amount_cents=100, actor=actor)


def test_debit_of_an_expired_card_is_refused(make_card, actor):
    card = make_card(expires_at=timezone.now() + YESTERDAY)
    with refused(card, exceptions.CardExpired, match="expired"):
        services.card_debit(card=card, amount_cents=100, actor=actor)


def test_debit_of_a_deleted_card_is_refused(make_card, actor):
    card = make_card()
    services.card_soft_delete(card=card, actor=actor)
    with refused(card, exceptions.CardDeleted, match="deleted"):
        services.card_debit(card=card, amount_cents=100, actor=actor)


def test_debit_in_another_currency_is_refused(make_card, actor):
    card = make_card()
    with refused(card, exceptions.CurrencyMismatch, match="USD"):
        services.card_debit(card=card, amount_cents=100, actor=actor, currency_code="EUR")


def test_debit_in_the_cards_currency_is_accepted(make_card, actor):
    card = make_card()
    services.card_debit(card=card, amount_cents=100, actor=actor, currency_code="USD")
    assert fresh(card).balance_cents == 9_900


def test_debit_retried_with_its_idempotency_key_replays_and_writes_nothing(make_card, actor):
    card = make_card(balance_cents=1_000)
    first = services.card_debit(card=card, amount_cents=400, actor=actor, idempotency_key="k-1")
    after_first = state(card)
    again = services.card_debit(card=card, amount_cents=400, actor=actor, idempotency_key="k-1")
    assert again.replayed is True
    assert again.entry.pk == first.entry.pk
    assert state(card) == after_first
    assert fresh(card).balance_cents == 600


def test_debit_replay_works_even_after_the_card_was_redeemed(make_card, actor):
    card = make_card(balance_cents=400)
    first = services.card_debit(card=card, amount_cents=400, actor=actor, idempotency_key="k-1")
    again = services.card_debit(card=card, amount_cents=400, actor=actor, idempotency_key="k-1")
    assert (again.replayed, again.entry.pk) == (True, first.entry.pk)
    assert fresh(card).balance_cents == 0


def test_idempotency_key_reused_with_another_amount_is_a_conflict(make_card, actor):
    card = make_card(balance_cents=1_000)
    services.card_debit(card=card, amount_cents=400, actor=actor, idempotency_key="k-1")
    with refused(card, exceptions.IdempotencyConflict, match="already used") as refusal:
        services.card_debit(card=card, amount_cents=500, actor=actor, idempotency_key="k-1")
    assert refusal.value.key == "k-1"


def test_idempotency_key_reused_for_another_order_is_a_conflict(make_card, actor):
    card = make_card(balance_cents=1_000)
    services.card_debit(
        card=card, amount_cents=400, actor=actor, idempotency_key="k-1", order_reference="A-1"
    )
    with refused(card, exceptions.IdempotencyConflict, match="already used") as refusal:
        services.card_debit(
            card=card, amount_cents=400, actor=actor, idempotency_key="k-1", order_reference="B-2"
        )
    assert refusal.value.key == "k-1"


def test_idempotency_key_reused_for_another_operation_is_a_conflict(make_card, actor):
    card = make_card(balance_cents=1_000)
    services.card_debit(card=card, amount_cents=400, actor=actor, idempotency_key="k-1")
    with refused(card, exceptions.IdempotencyConflict):
        services.card_recharge(card=card, amount_cents=400, actor=actor, idempotency_key="k-1")


def test_same_idempotency_key_on_two_cards_moves_both(make_card, actor):
    one, two = make_card(balance_cents=1_000), make_card(balance_cents=1_000)
    services.card_debit(card=one, amount_cents=400, actor=actor, idempotency_key="k-1")
    change = services.card_debit(card=two, amount_cents=400, actor=actor, idempotency_key="k-1")
    assert change.replayed is False
    assert fresh(one).balance_cents == fresh(two).balance_cents == 600


def test_debits_without_idempotency_key_are_never_replayed(make_card, actor):
    card = make_card(balance_cents=1_000)
    services.card_debit(card=card, amount_cents=400, actor=actor)
    change = services.card_debit(card=card, amount_cents=400, actor=actor)
    assert change.replayed is False
    assert fresh(card).balance_cents == 200


# ---------------------------------------------------------------------------- recharge


def test_recharge_raises_the_balance_and_records_it(make_card, actor):
    card = make_card(balance_cents=1_000)
    services.card_recharge(card=card, amount_cents=500, actor=actor, order_reference="top-up")
    card = fresh(card)
    assert (card.balance_cents, card.status) == (1_500, Status.ACTIVE)
    assert ledger(card)[-1] == ("recharge", 500, 1_500)


def test_recharge_of_a_redeemed_card_makes_it_active_again(make_card, actor):
    card = make_card(balance_cents=1_000)
    services.card_debit(card=card, amount_cents=1_000, actor=actor)
    services.card_recharge(card=card, amount_cents=2_000, actor=actor)
    card = fresh(card)
    assert (card.balance_cents, card.status) == (2_000, Status.ACTIVE)


def test_recharge_of_a_redeemed_single_use_card_is_refused(card_in_status, actor):
    card = card_in_status(Status.REDEEMED)
    with refused(card, exceptions.CardNotActive, match="single-use and redeemed"):
        services.card_recharge(card=card, amount_cents=500, actor=actor)


@pytest.mark.parametrize("status", [Status.DRAFT, Status.INACTIVE])
def test_recharge_of_a_card_that_is_not_active_is_refused_naming_its_status(
    card_in_status, actor, status
):
    card = card_in_status(status)
    with refused(card, exceptions.CardNotActive, match=rf"\b{status}\b"):
        services.card_recharge(card=card, amount_cents=500, actor=actor)


def test_recharge_of_a_card_that_is_not_rechargeable_is_refused(make_card, actor):
    card = make_card(rechargeable=False)
    with refused(card, exceptions.NotRechargeable):
        services.card_recharge(card=card, amount_cents=500, actor=actor)


def test_recharge_above_the_maximum_is_refused(make_card, actor):
    card = make_card(balance_cents=4_000, balance_max_cents=5_000)
    above_max = r"\$50\.01, above the card's maximum of \$50\.00"
    with refused(card, exceptions.BalanceMaxExceeded, match=above_max):
        services.card_recharge(card=card, amount_cents=1_001, actor=actor)


def test_recharge_past_what_the_database_can_hold_is_refused(make_card, actor):
    card = make_card(balance_cents=2**63 - 100)
    with refused(card, exceptions.BalanceMaxExceeded):
        services.card_recharge(card=card, amount_cents=101, actor=actor)
    with refused(card, exceptions.InvalidAmount, match="too large"):
        services.card_recharge(card=card, amount_cents=2**63, actor=actor)


def test_debit_of_more_than_the_database_can_hold_is_refused(make_card, actor):
    card = make_card()
    with refused(card, exceptions.InvalidAmount, match="too large"):
        services.card_debit(card=card, amount_cents=2**63, actor=actor)


def test_adjustment_past_what_the_database_can_hold_is_refused(make_card, actor):
    card = make_card()
    with refused(card, exceptions.InvalidAmount, match="too large"):
        services.card_adjust(card=card, new_balance_cents=2**63, actor=actor, note="fix")


def test_recharge_up_to_exactly_the_maximum_is_accepted(make_card, actor):
    card = make_card(balance_cents=4_000, balance_max_cents=5_000)
    services.card_recharge(card=card, amount_cents=1_000, actor=actor)
    assert fresh(card).balance_cents == 5_000


def test_recharge_of_an_expired_card_is_refused(make_card, actor):
    card = make_card(expires_at=timezone.now() + YESTERDAY)
    with refused(card, exceptions.CardExpired):
        services.card_recharge(card=card, amount_cents=500, actor=actor)


def test_recharge_of_a_deleted_card_is_refused(make_card, actor):
    card = make_card()
    services.card_soft_delete(card=card, actor=actor)
    with refused(card, exceptions.CardDeleted):
        services.card_recharge(card=card, amount_cents=500, actor=actor)


@pytest.mark.parametrize("amount_cents", [0, -100, 2.5, "500"])
def test_recharge_of_an_invalid_amount_is_refused(make_card, actor, amount_cents):
    card = make_card()
    with refused(card, exceptions.InvalidAmount):
        services.card_recharge(card=card, amount_cents=amount_cents, actor=actor)


def test_recharge_retried_with_its_idempotency_key_replays(make_card, actor):
    card = make_card(balance_cents=1_000)
    first = services.card_recharge(card=card, amount_cents=500, actor=actor, idempotency_key="r")
    again = services.card_recharge(card=card, amount_cents=500, actor=actor, idempotency_key="r")
    assert (again.replayed, again.entry.pk) == (True, first.entry.pk)
    assert fresh(card).balance_cents == 1_500


def test_moving_expiry_forward_makes_an_expired_card_usable_again(make_card, actor):
    card = make_card(balance_cents=1_000, expires_at=timezone.now() + YESTERDAY)
    with refused(card, exceptions.CardExpired):
        services.card_debit(card=card, amount_cents=100, actor=actor)
    services.card_update(card=card, actor=actor, expires_at=timezone.now() + TOMORROW)
    services.card_debit(card=card, amount_cents=100, actor=actor)
    services.card_recharge(card=card, amount_cents=300, actor=actor)
    card = fresh(card)
    assert (card.balance_cents, card.status) == (1_200, Status.ACTIVE)


def test_expiry_keeps_the_status(make_card):
    card = make_card(expires_at=timezone.now() + YESTERDAY)
    assert card.is_expired()
    assert fresh(card).status == Status.ACTIVE


# ---------------------------------------------------------------------------- adjust


def test_adjustment_records_the_difference(make_card, actor):
    card = make_card(balance_cents=10_000)
    change = services.card_adjust(card=card, new_balance_cents=7_000, actor=actor, note="miscount")
    services.card_adjust(card=card, new_balance_cents=12_000, actor=actor, note="goodwill")
    assert change.entry.note == "miscount"
    assert ledger(card)[1:] == [("adjustment", -3_000, 7_000), ("adjustment", 5_000, 12_000)]
    assert fresh(card).balance_cents == 12_000


def test_adjustment_to_the_same_balance_writes_nothing(make_card, actor):
    card = make_card(balance_cents=10_000)
    before = state(card)
    change = services.card_adjust(card=card, new_balance_cents=10_000, actor=actor, note="")
    assert change.entry is None
    assert state(card) == before


@pytest.mark.parametrize(
    ("status", "new_balance"),
    [
        (Status.ACTIVE, 0),
        (Status.REDEEMED, 5_000),
        (Status.DRAFT, 1),
        (Status.INACTIVE, 20_000),
    ],
)
def test_adjustment_leaves_the_status_alone(card_in_status, actor, status, new_balance):
    card = card_in_status(status)
    services.card_adjust(card=card, new_balance_cents=new_balance, actor=actor, note="fix")
    card = fresh(card)
    assert (card.balance_cents, card.status) == (new_balance, status)


def test_adjustment_of_an_expired_card_is_allowed(make_card, actor):
    card = make_card(balance_cents=1_000, expires_at=timezone.now() + YESTERDAY)
    services.card_adjust(card=card, new_balance_cents=500, actor=actor, note="fix")
    assert fresh(card).balance_cents == 500


def test_adjustment_of_a_deleted_card_is_refused(make_card, actor):
    card = make_card()
    services.card_soft_delete(card=card, actor=actor)
    with refused(card, exceptions.CardDeleted):
        services.card_adjust(card=card, new_balance_cents=500, actor=actor, note="fix")


def test_adjustment_above_the_maximum_is_refused(make_card, actor):
    card = make_card(balance_cents=1_000, balance_max_cents=5_000)
    with refused(card, exceptions.BalanceMaxExceeded) as excinfo:
        services.card_adjust(card=card, new_balance_cents=5_001, actor=actor, note="fix")
    assert excinfo.value.field == "balance_cents"


@pytest.mark.parametrize("new_balance", [-1, 1.5, "500", None])
def test_adjustment_to_an_invalid_balance_is_refused(make_card, actor, new_balance):
    card = make_card()
    with refused(card, exceptions.InvalidAmount):
        services.card_adjust(card=card, new_balance_cents=new_balance, actor=actor, note="fix")


def test_adjustment_retried_with_its_idempotency_key_replays(make_card, actor):
    card = make_card(balance_cents=10_000)
    first = services.card_adjust(
        card=card, new_balance_cents=7_000, actor=actor, note="fix", idempotency_key="a-1"
    )
    after_first = state(card)
    again = services.card_adjust(
        card=card, new_balance_cents=7_000, actor=actor, note="fix", idempotency_key="a-1"
    )
    assert (again.replayed, again.entry.pk) == (True, first.entry.pk)
    assert state(card) == after_first


def test_adjustment_key_reused_for_another_balance_is_a_conflict(make_card, actor):
    card = make_card(balance_cents=10_000)
    services.card_adjust(
        card=card, new_balance_cents=7_000, actor=actor, note="fix", idempotency_key="a-1"
    )
    with refused(card, exceptions.IdempotencyConflict):
        services.card_adjust(
            card=card, new_balance_cents=6_000, actor=actor, note="fix", idempotency_key="a-1"
        )


# ---------------------------------------------------------------------------- refund


def test_refund_gives_the_whole_debit_back(make_card, actor):
    card = make_card(balance_cents=10_000)
    payment = services.card_debit(
        card=card, amount_cents=2_500, actor=actor, order_reference="order-9"
    ).entry
    refund = services.card_refund(payment=payment, actor=actor, note="returned").entry
    assert fresh(card).balance_cents == 10_000
    assert ledger(card)[-1] == ("refund", 2_500, 10_000)
    assert (refund.refund_of, refund.order_reference, refund.note) == (
        payment,
        "order-9",
        "returned",
    )


def test_refund_of_a_redeemed_card_makes_it_active(make_card, actor):
    card = make_card(balance_cents=1_000)
    payment = services.card_debit(card=card, amount_cents=1_000, actor=actor).entry
    services.card_refund(payment=payment, actor=actor)
    card = fresh(card)
    assert (card.balance_cents, card.status) == (1_000, Status.ACTIVE)


@pytest.mark.parametrize("trigger", ["deactivate", "expire"])
def test_refund_of_an_inactive_or_expired_card_keeps_its_status(make_card, actor, trigger):
    card = make_card(balance_cents=1_000)
    payment = services.card_debit(card=card, amount_cents=400, actor=actor).entry
    if trigger == "deactivate":
        services.card_deactivate(card=card, actor=actor)
    else:
        services.card_expire_now(card=card, actor=actor)
    status = fresh(card).status
    services.card_refund(payment=payment, actor=actor)
    card = fresh(card)
    assert (card.balance_cents, card.status) == (1_000, status)


def test_second_refund_of_a_payment_is_refused(make_card, actor):
    card = make_card(balance_cents=1_000)
    payment = services.card_debit(card=card, amount_cents=400, actor=actor).entry
    services.card_refund(payment=payment, actor=actor)
    with refused(card, exceptions.AlreadyRefunded):
        services.card_refund(payment=payment, actor=actor)


@pytest.mark.parametrize("kind", ["issue", "recharge", "adjustment", "refund"])
def test_refund_of_anything_but_a_debit_is_refused(make_card, actor, kind):
    card = make_card(balance_cents=1_000)
    payment = services.card_debit(card=card, amount_cents=400, actor=actor).entry
    entries = {
        "issue": lambda: card.ledger.get(kind="issue"),
        "recharge": lambda: services.card_recharge(card=card, amount_cents=1, actor=actor).entry,
        "adjustment": lambda: (
            services.card_adjust(card=card, new_balance_cents=5, actor=actor, note="fix").entry
        ),
        "refund": lambda: services.card_refund(payment=payment, actor=actor).entry,
    }
    entry = entries[kind]()
    with refused(card, exceptions.NotRefundable):
        services.card_refund(payment=entry, actor=actor)


def test_refund_on_a_deleted_card_is_refused(make_card, actor):
    card = make_card(balance_cents=1_000)
    payment = services.card_debit(card=card, amount_cents=400, actor=actor).entry
    services.card_soft_delete(card=card, actor=actor)
    with refused(card, exceptions.CardDeleted):
        services.card_refund(payment=payment, actor=actor)


def test_refund_that_would_pass_the_maximum_is_refused(make_card, actor):
    card = make_card(balance_cents=5_000, balance_max_cents=5_000)
    payment = services.card_debit(card=card, amount_cents=1_000, actor=actor).entry
    services.card_recharge(card=card, amount_cents=500, actor=actor)
    with refused(card, exceptions.BalanceMaxExceeded):
        services.card_refund(payment=payment, actor=actor)


def test_refund_retried_with_its_idempotency_key_replays(make_card, actor):
    card = make_card(balance_cents=1_000)
    payment = services.card_debit(card=card, amount_cents=400, actor=actor).entry
    first = services.card_refund(payment=payment, actor=actor, idempotency_key="rf-1")
    again = services.card_refund(payment=payment, actor=actor, idempotency_key="rf-1")
    assert (again.replayed, again.entry.pk) == (True, first.entry.pk)
    assert fresh(card).balance_cents == 1_000


def test_refund_key_reused_for_another_payment_of_the_same_amount_is_a_conflict(make_card, actor):
    card = make_card(balance_cents=1_000)
    first = services.card_debit(card=card, amount_cents=400, actor=actor).entry
    second = services.card_debit(card=card, amount_cents=400, actor=actor).entry
    services.card_refund(payment=first, actor=actor, idempotency_key="rf-1")
    with refused(card, exceptions.IdempotencyConflict):
        services.card_refund(payment=second, actor=actor, idempotency_key="rf-1")
    assert not BalanceLog.objects.filter(refund_of=second).exists()


# ---------------------------------------------------------------------------- transitions

LEGAL = [
    ("purchase", Status.DRAFT, Status.INACTIVE),
    ("activate", Status.DRAFT, Status.ACTIVE),
    ("activate", Status.INACTIVE, Status.ACTIVE),
    ("deactivate", Status.ACTIVE, Status.INACTIVE),
]
ILLEGAL = [
    (trigger, status)
    for trigger in ("purchase", "activate", "deactivate")
    for status in Status.values
    if not any(t == trigger and s == status for t, s, _ in LEGAL)
]


@pytest.mark.parametrize(("trigger", "source", "target"), LEGAL)
def test_legal_transition_moves_the_status(card_in_status, actor, trigger, source, target):
    card = card_in_status(source)
    rows = ledger(card)
    result = services.card_transition(card=card, trigger=trigger, actor=actor)
    assert result.status == fresh(card).status == target
    assert ledger(card) == rows


@pytest.mark.parametrize(("trigger", "status"), ILLEGAL)
def test_illegal_transition_is_refused_naming_the_current_status(
    card_in_status, actor, trigger, status
):
    card = card_in_status(status)
    with refused(card, exceptions.IllegalTransition, match=rf"{trigger} a card that is {status}"):
        services.card_transition(card=card, trigger=trigger, actor=actor)


def test_illegal_transitions_cover_every_other_pair():
    assert len(ILLEGAL) == 3 * len(Status.values) - len(LEGAL) == 8


@pytest.mark.parametrize("trigger", ["purchase", "activate", "deactivate"])
def test_transition_of_a_deleted_card_is_refused(make_card, actor, trigger):
    card = make_card(status=Status.DRAFT if trigger != "deactivate" else Status.ACTIVE)
    services.card_soft_delete(card=card, actor=actor)
    with refused(card, exceptions.CardDeleted):
        services.card_transition(card=card, trigger=trigger, actor=actor)


def test_unknown_trigger_is_refused(make_card, actor):
    card = make_card(status=Status.DRAFT)
    with refused(card, exceptions.IllegalTransition, match="redeem"):
        services.card_transition(card=card, trigger="redeem", actor=actor)


@pytest.mark.parametrize("trigger", ["purchase", "activate"])
def test_leaving_draft_sets_the_purchase_date(make_card, actor, trigger):
    card = make_card(status=Status.DRAFT)
    assert card.purchase_date is None
    services.card_transition(card=card, trigger=trigger, actor=actor)
    assert fresh(card).purchase_date is not None


def test_transition_keeps_an_existing_purchase_date(make_card, actor):
    bought = timezone.now() - timedelta(days=30)
    card = make_card(status=Status.DRAFT, purchase_date=bought)
    services.card_purchase(card=card, actor=actor)
    services.card_activate(card=card, actor=actor)
    services.card_deactivate(card=card, actor=actor)
    card = fresh(card)
    assert (card.status, card.purchase_date) == (Status.INACTIVE, bought)


def test_transition_records_who_made_it(make_card):
    card = make_card(status=Status.DRAFT)
    services.card_activate(card=card, actor=Actor.system("manager"))
    assert fresh(card).modified_by == "manager"


# ---------------------------------------------------------------------------- attributes


@pytest.mark.parametrize(
    "field", ["balance_cents", "status", "code", "code_hash", "currency_code", "business", "id"]
)
def test_update_of_a_field_with_its_own_door_is_refused(make_card, actor, field):
    card = make_card()
    with refused(card, exceptions.GiftCardError) as excinfo:
        services.card_update(card=card, actor=actor, **{field: "X"})
    assert excinfo.value.field == field


def test_update_of_the_maximum_below_the_balance_is_refused(make_card, actor):
    card = make_card(balance_cents=5_000)
    with refused(card, exceptions.BalanceMaxExceeded) as excinfo:
        services.card_update(card=card, actor=actor, balance_max_cents=4_999)
    assert excinfo.value.field == "balance_max_cents"


def test_update_of_the_maximum_to_the_balance_or_none_is_accepted(make_card, actor):
    card = make_card(balance_cents=5_000)
    services.card_update(card=card, actor=actor, balance_max_cents=5_000)
    assert fresh(card).balance_max_cents == 5_000
    services.card_update(card=card, actor=actor, balance_max_cents=None)
    assert fresh(card).balance_max_cents is None


def test_update_changes_attributes_but_never_the_ledger(make_card, actor, business):
    card = make_card()
    rows = ledger(card)
    services.card_update(
        card=card,
        actor=Actor.system("clerk"),
        reference="crm-1",
        metadata={"campaign": "spring"},
        single_use=True,
    )
    card = fresh(card)
    assert (card.reference, card.metadata, card.single_use) == (
        "crm-1",
        {"campaign": "spring"},
        True,
    )
    assert card.modified_by == "clerk"
    assert ledger(card) == rows


def test_update_with_nothing_new_writes_nothing(make_card, actor):
    card = make_card(reference="crm-1")
    before = state(card)
    services.card_update(card=card, actor=actor, reference="crm-1")
    assert state(card) == before


def test_update_to_a_market_of_another_currency_is_refused(make_card, actor, business):
    card = make_card()
    market = Market.objects.create(business=business, name="Europe", currency_code="EUR")
    with refused(card, exceptions.CurrencyMismatch):
        services.card_update(card=card, actor=actor, market=market)


def test_update_to_a_client_of_another_business_is_refused(make_card, actor, other_business):
    card = make_card()
    client = Client.objects.create(business=other_business, first_name="Eve")
    with refused(card, exceptions.GiftCardError, match="does not exist"):
        services.card_update(card=card, actor=actor, client=client)


def test_update_with_metadata_that_is_not_an_object_is_refused(make_card, actor):
    card = make_card()
    with refused(card, exceptions.GiftCardError):
        services.card_update(card=card, actor=actor, metadata="spring")


def test_expire_now_sets_expiry_once(make_card, actor):
    card = make_card()
    services.card_expire_now(card=card, actor=actor)
    expired_at = fresh(card).expires_at
    assert expired_at is not None and fresh(card).is_expired()
    services.card_expire_now(card=card, actor=actor)
    assert fresh(card).expires_at == expired_at


def test_soft_delete_hides_the_card_but_keeps_its_ledger(make_card, actor):
    card = make_card()
    services.card_debit(card=card, amount_cents=100, actor=actor)
    rows = ledger(card)
    services.card_soft_delete(card=card, actor=actor)
    card = fresh(card)
    assert card.is_deleted
    assert card.status == Status.ACTIVE
    assert ledger(card) == rows
    assert not GiftCard.objects.not_deleted().filter(pk=card.pk).exists()


def test_soft_delete_twice_keeps_the_first_deletion_time(make_card, actor):
    card = make_card()
    services.card_soft_delete(card=card, actor=actor)
    before = state(card)
    services.card_soft_delete(card=card, actor=actor)
    assert state(card) == before


def test_restore_makes_a_deleted_card_usable_again(make_card, actor):
    card = make_card(balance_cents=1_000)
    services.card_soft_delete(card=card, actor=actor)
    services.card_restore(card=card, actor=actor)
    assert not fresh(card).is_deleted
    services.card_debit(card=card, amount_cents=100, actor=actor)
    assert fresh(card).balance_cents == 900


def test_restore_of_a_card_that_is_not_deleted_writes_nothing(make_card, actor):
    card = make_card()
    before = state(card)
    services.card_restore(card=card, actor=actor)
    assert state(card) == before


def test_set_tags_adds_creating_missing_tags_and_removes(make_card, actor, business):
    existing = Tag.objects.create(business=business, name="vip")
    card = make_card()
    services.card_set_tags(card=card, actor=actor, add=["vip", " spring ", ""])
    assert state(card)["tags"] == ["spring", "vip"]
    assert Tag.objects.filter(name="vip").get() == existing
    services.card_set_tags(card=card, actor=actor, add=["summer"], remove=["vip", "unknown"])
    assert state(card)["tags"] == ["spring", "summer"]
    assert Tag.objects.filter(business=business).count() == 3


def test_set_tags_that_change_nothing_write_no_version(make_card, actor):
    card = make_card()
    services.card_set_tags(card=card, actor=actor, add=["vip"])
    versions = fresh(card).versions.count()
    services.card_set_tags(card=card, actor=actor, add=["vip"], remove=["unknown"])
    assert fresh(card).versions.count() == versions


def test_set_tags_never_uses_another_tenants_tag(make_card, actor, other_business, business):
    foreign = Tag.objects.create(business=other_business, name="vip")
    test_mode = Tag.objects.create(business=business, mode=Mode.TEST, name="vip")
    card = make_card()
    services.card_set_tags(card=card, actor=actor, add=["vip"])
    tag = fresh(card).tags.get()
    assert tag not in (foreign, test_mode)
    assert (tag.business, tag.mode) == (business, Mode.LIVE)


# ---------------------------------------------------------------------------- rollback


def _fail_when_the_balance_is_saved(monkeypatch, card: GiftCard) -> list[int]:
    """Make GiftCard.save raise once the ledger row is written; returns the rows seen then."""
    seen = []

    def save(self, *args, **kwargs):
        seen.append(BalanceLog.objects.filter(card_id=self.pk).count())
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(GiftCard, "save", save)
    return seen


@pytest.mark.django_db(transaction=True)
def test_failure_half_way_through_a_debit_writes_nothing(make_card, actor, monkeypatch):
    card = make_card(balance_cents=5_000)
    before = state(card)
    seen = _fail_when_the_balance_is_saved(monkeypatch, card)
    with pytest.raises(RuntimeError, match="disk is full"):
        services.card_debit(card=card, amount_cents=1_000, actor=actor, idempotency_key="k-1")
    monkeypatch.undo()
    assert seen == [2]  # the debit row existed when the failure came...
    assert state(card) == before  # ...and is gone with everything else
    assert fresh(card).balance_cents == 5_000
    assert not BalanceLog.objects.filter(kind="debit").exists()
    # The key was not burnt: the retry goes through.
    services.card_debit(card=card, amount_cents=1_000, actor=actor, idempotency_key="k-1")
    assert fresh(card).balance_cents == 4_000


@pytest.mark.django_db(transaction=True)
def test_failure_half_way_through_a_refund_writes_nothing(make_card, actor, monkeypatch):
    card = make_card(balance_cents=5_000)
    payment = services.card_debit(card=card, amount_cents=1_000, actor=actor).entry
    before = state(card)
    seen = _fail_when_the_balance_is_saved(monkeypatch, card)
    with pytest.raises(RuntimeError):
        services.card_refund(payment=payment, actor=actor)
    monkeypatch.undo()
    assert seen == [3]
    assert state(card) == before
    assert not BalanceLog.objects.filter(refund_of=payment).exists()


@pytest.mark.django_db(transaction=True)
def test_failure_half_way_through_an_issue_leaves_no_card(tenant, actor, monkeypatch):
    def fail(self, *args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(BalanceLog, "save", fail)
    with pytest.raises(RuntimeError):
        services.card_issue(tenant=tenant, actor=actor, balance_cents=1_000)
    assert not GiftCard.objects.exists()
    assert not GiftCard.history.exists()


def test_adjusting_a_redeemed_card_keeps_it_redeemed_unless_reopening_is_asked(make_card, actor):
    card = make_card(balance_cents=1_000)
    services.card_debit(card=card, amount_cents=1_000, actor=actor)
    services.card_adjust(card=card, new_balance_cents=300, actor=actor, note="found")
    assert fresh(card).status == Status.REDEEMED
    services.card_adjust(
        card=card, new_balance_cents=500, actor=actor, note="top-up", reopen_redeemed=True
    )
    assert (fresh(card).status, fresh(card).balance_cents) == (Status.ACTIVE, 500)


def test_reopening_never_applies_to_a_single_use_card(make_card, actor):
    card = make_card(balance_cents=1_000, single_use=True)
    services.card_debit(card=card, amount_cents=100, actor=actor)
    services.card_adjust(
        card=card, new_balance_cents=500, actor=actor, note="x", reopen_redeemed=True
    )
    assert fresh(card).status == Status.REDEEMED

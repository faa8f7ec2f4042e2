"""The card page's "Move balance to another card": a manager names the target by its code (in
the POST body only), the transfer service moves the money, and a refusal, a code of another
business or mode, or a second send of the same form moves nothing."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.urls import reverse

from clients.tenancy import Mode, Tenant
from giftcards import codes, services
from giftcards.admin.actions import NO_SUCH_CARD
from giftcards.models import BalanceLog, BalanceTransfer, GiftCard, Status
from tests.giftcards.test_concurrency import run_together

SOURCE_CODE = "MOVE-FROM-CARD-0001"
TARGET_CODE = "MOVE-INTO-CARD-0002"
POST_QUERIES = 23
NOT_FOUND = f"Move balance to another card refused: {NO_SUCH_CARD} Nothing was changed."


def act_url(card):
    return reverse("admin:giftcards_giftcard_act", args=[quote(card.pk), "transfer"])


def change_url(card):
    return reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)])


def snapshot(*cards) -> list[dict]:
    return [GiftCard.objects.filter(pk=card.pk).values().get() for card in cards]


def ledger_ids() -> set[int]:
    return set(BalanceLog.objects.values_list("id", flat=True))


def shown(response, level: str) -> list[str]:
    return [str(m) for m in response.context["messages"] if m.level_tag == level]


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.fixture
def source(make_card):
    return make_card(code=SOURCE_CODE)


@pytest.fixture
def target(make_card):
    return make_card(code=TARGET_CODE, balance_cents=2_000)


# ---------------------------------------------------------------------------- moving money


def test_a_manager_moves_part_of_the_balance_to_another_card(manager, login, source, target):
    response = login(manager).post(
        act_url(source),
        {"target_code": "move into card 0002", "amount": "12.50", "note": "merged cards"},
        follow=True,
    )

    assert response.redirect_chain == [(change_url(source), 302)]
    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.balance_cents, target.balance_cents) == (8_750, 3_250)
    transfer = BalanceTransfer.objects.get()
    assert (transfer.source, transfer.target, transfer.amount_cents) == (source, target, 1250)
    assert (transfer.user, transfer.note, transfer.currency_code) == (
        manager,
        "merged cards",
        "USD",
    )
    rows = BalanceLog.objects.filter(transfer=transfer).order_by("id")
    assert [(row.card_id, row.kind, row.amount_cents, row.actor_name) for row in rows] == [
        (source.pk, "transfer_out", -1250, manager.username),
        (target.pk, "transfer_in", 1250, manager.username),
    ]
    assert shown(response, "success") == [
        "Moved $12.50 from ****0001 to ****0002; their balances are now $87.50 and $32.50."
    ]


def test_moving_the_whole_balance_redeems_the_source(manager, login, source, target):
    login(manager).post(act_url(source), {"target_code": TARGET_CODE, "amount": "100"})

    source.refresh_from_db()
    assert (source.balance_cents, source.status) == (0, Status.REDEEMED)
    assert GiftCard.objects.get(pk=target.pk).balance_cents == 12_000


def test_the_form_shows_the_source_card_and_its_balance(manager, login, source):
    page = html.unescape(login(manager).get(change_url(source)).content.decode())

    assert 'data-action="transfer"' in page
    assert "Taken from ****0001, whose balance is $100.00." in page


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("make_target", "amount", "reason"),
    [
        (lambda make_card, source: make_card(code=TARGET_CODE), "100.01", "cannot be transferred"),
        (lambda make_card, source: source, "1", "A card cannot transfer to itself"),
        (
            lambda make_card, source: make_card(code=TARGET_CODE, status=Status.INACTIVE),
            "1",
            "The target card cannot take part: only an active card can be credited",
        ),
        (
            lambda make_card, source: make_card(code=TARGET_CODE, rechargeable=False),
            "1",
            "The target card cannot take part: this card is not rechargeable",
        ),
        (
            lambda make_card, source: make_card(code=TARGET_CODE, currency_code="EUR"),
            "1",
            "a transfer stays in one currency",
        ),
        (
            lambda make_card, source: make_card(code=TARGET_CODE, balance_max_cents=10_050),
            "1",
            "The target card cannot take part",
        ),
    ],
    ids=["overdraft", "same-card", "target-inactive", "not-rechargeable", "currency", "above-max"],
)
def test_a_refused_transfer_writes_nothing_and_shows_the_reason_with_the_form(
    make_target, amount, reason, manager, login, make_card, source
):
    target = make_target(make_card, source)
    cards, rows = snapshot(source, target), ledger_ids()

    response = login(manager).post(
        act_url(source), {"target_code": target.code, "amount": amount}, follow=True
    )

    assert response.redirect_chain == [(change_url(source), 302)]
    assert snapshot(source, target) == cards
    assert ledger_ids() == rows
    assert not BalanceTransfer.objects.exists()
    errors = shown(response, "error")
    assert len(errors) == 1
    assert reason in errors[0] and errors[0].endswith("Nothing was changed.")
    page = html.unescape(response.content.decode())
    assert reason in page
    assert 'data-action="transfer"' in page  # the form is there to try again


@pytest.mark.parametrize(
    "code",
    [
        "OTHR-SHOP-CARD-0001",  # other_card's: business B
        "TEST-MODE-CARD-0003",  # a test-mode card of the manager's own business
        "NOBO-DYSC-ARDX-0004",  # nobody's
    ],
    ids=["other-business", "other-mode", "no-card"],
)
def test_a_code_outside_the_business_and_mode_reads_as_no_such_card(
    code, manager, login, make_card, business, source, other_card
):
    make_card(code="TEST-MODE-CARD-0003", tenant=Tenant(business=business, mode=Mode.TEST))
    cards, rows = snapshot(source, other_card), ledger_ids()

    response = login(manager).post(
        act_url(source), {"target_code": code, "amount": "1"}, follow=True
    )

    assert shown(response, "error") == [NOT_FOUND]
    assert snapshot(source, other_card) == cards
    assert ledger_ids() == rows
    assert not BalanceTransfer.objects.exists()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"target_code": TARGET_CODE, "amount": "1.005"},
            "Move balance to another card: Amount — USD amounts have at most 2 decimal places.",
        ),
        (
            {"target_code": "MOVE-INTO-CARD-0002!", "amount": "1"},
            "Move balance to another card: Code of the card to move it to — "
            "A code has only letters, digits, spaces and dashes.",
        ),
        (
            {"amount": "1"},
            "Move balance to another card: Code of the card to move it to — "
            "This field is required.",
        ),
    ],
    ids=["amount", "code-shape", "no-code"],
)
def test_bad_input_is_a_form_error_that_never_repeats_the_code(
    data, error, manager, login, source, target
):
    rows = ledger_ids()

    response = login(manager).post(act_url(source), data, follow=True)

    assert ledger_ids() == rows
    assert shown(response, "error") == [error]
    assert "MOVE-INTO" not in response.content.decode()


# ---------------------------------------------------------------------------- who may


@pytest.mark.parametrize("role", ["viewer", "cashier", None])
def test_only_managers_see_and_use_the_action(role, make_staff, login, source, target):
    client = login(make_staff(role))
    rows = ledger_ids()

    response = client.post(act_url(source), {"target_code": TARGET_CODE, "amount": "1"})

    assert response.status_code == 403
    assert ledger_ids() == rows
    page = client.get(change_url(source))
    assert 'data-action="transfer"' not in page.content.decode()


def test_a_card_with_nothing_to_move_does_not_offer_it(manager, login, make_card, actor):
    empty = make_card()
    services.card_debit(card=empty, amount_cents=10_000, actor=actor)

    page = login(manager).get(change_url(empty)).content.decode()

    assert 'data-action="transfer"' not in page


def test_a_card_of_another_business_cannot_be_a_source(manager, login, other_card, source):
    response = login(manager).post(act_url(other_card), {"target_code": SOURCE_CODE, "amount": "1"})

    assert response.status_code == 404
    assert not BalanceTransfer.objects.exists()


# ---------------------------------------------------------------------------- the code stays out


def test_the_code_never_travels_in_a_url(manager, login, source, target):
    client = login(manager)
    page = client.get(change_url(source)).content.decode()
    form = re.search(r'<form [^>]*data-action="transfer"[^>]*>', page).group(0)

    first = client.post(act_url(source), {"target_code": TARGET_CODE, "amount": "5"})
    response = client.get(first["Location"])

    assert 'method="post"' in form and f'action="{act_url(source)}"' in form
    urls = [act_url(source), first["Location"]]
    for secret in (TARGET_CODE, codes.normalise(TARGET_CODE)):
        assert all(secret not in url for url in urls)
        assert secret not in response.content.decode()
        assert not LogEntry.objects.filter(change_message__contains=secret).exists()
    assert first.status_code == 302 and first["Location"] == change_url(source)
    assert LogEntry.objects.filter(object_id=source.pk, user=manager).exists()


# ---------------------------------------------------------------------------- once


def test_a_form_sent_twice_moves_once(manager, login, source, target):
    client = login(manager)
    data = {"target_code": TARGET_CODE, "amount": "10", "idempotency_key": "admin-twice"}

    client.post(act_url(source), data)
    response = client.post(act_url(source), data, follow=True)

    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.balance_cents, target.balance_cents) == (9_000, 3_000)
    assert BalanceTransfer.objects.count() == 1
    assert BalanceLog.objects.filter(kind__in=["transfer_out", "transfer_in"]).count() == 2
    assert any("already recorded" in m for m in shown(response, "success"))


def test_each_rendered_form_carries_its_own_key(manager, login, source):
    client = login(manager)
    keys = []
    for _ in range(2):
        actions = client.get(change_url(source)).context["card_actions"]
        form = next(a["form"] for a in actions if a["name"] == "transfer")
        keys.append(form["idempotency_key"].value())
    assert keys[0] != keys[1] and all(k.startswith("admin-") for k in keys)


@pytest.mark.django_db(transaction=True)
def test_a_double_click_sent_at_once_moves_once(manager, login, source, target):
    data = {"target_code": TARGET_CODE, "amount": "10", "idempotency_key": "admin-at-once"}
    clients = [login(manager), login(manager)]

    responses = run_together([lambda c=c: c.post(act_url(source), data) for c in clients])

    assert [r.status_code for r in responses] == [302, 302]
    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.balance_cents, target.balance_cents) == (9_000, 3_000)
    assert BalanceTransfer.objects.count() == 1


def test_a_transfer_costs_a_bounded_number_of_queries(
    manager, login, source, target, django_assert_max_num_queries
):
    client = login(manager)
    data = {"target_code": TARGET_CODE, "amount": "1", "idempotency_key": "admin-counted"}

    # Session, user, business, card, 2 permission reads; the target by its code, the replay
    # check, both cards locked; the transfer, 2 ledger rows, 2 cards and their history, 1
    # outbox event; the admin log entry; and the savepoints of the test's transaction.
    with django_assert_max_num_queries(POST_QUERIES):
        response = client.post(act_url(source), data)

    assert response.status_code == 302
    assert BalanceTransfer.objects.count() == 1

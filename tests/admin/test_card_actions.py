"""The card page's actions go through the services: each writes exactly the ledger row the
service writes when called directly, a refused one writes nothing and shows the reason."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils import timezone

from clients.tenancy import Actor
from giftcards import codes, services
from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Status

LEDGER_FIELDS = (
    "kind",
    "amount_cents",
    "balance_after_cents",
    "actor_name",
    "user_id",
    "api_key_id",
    "order_reference",
    "note",
)


def act_url(card, action):
    return reverse("admin:giftcards_giftcard_act", args=[quote(card.pk), action])


def change_url(card):
    return reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)])


def act(client, card, action, data=None, **kwargs):
    """Post an action as staff do: when it asks for a confirmation first, confirm it."""
    response = client.post(act_url(card, action), data or {}, **kwargs)
    if response.status_code == 200 and "seen" in (response.context or {}):
        confirmed = {**dict(response.context["hidden"]), "seen": response.context["seen"]}
        response = client.post(act_url(card, action), {**confirmed, "confirm": "yes"}, **kwargs)
    return response


def new_rows(card, before: set[int]) -> list[tuple]:
    return [
        tuple(getattr(row, name) for name in LEDGER_FIELDS)
        for row in BalanceLog.objects.filter(card=card).exclude(pk__in=before).order_by("id")
    ]


def row_ids(card) -> set[int]:
    return set(BalanceLog.objects.filter(card=card).values_list("id", flat=True))


def snapshot(card) -> dict:
    return GiftCard.objects.filter(pk=card.pk).values().get()


@pytest.fixture
def cashier(make_staff):
    return make_staff("cashier")


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.mark.parametrize(
    ("role", "action", "data", "service_call"),
    [
        (
            "cashier",
            "debit",
            {"amount": "12.50", "order_reference": "R-77", "note": "till 2"},
            lambda card, actor: services.card_debit(
                card=card, amount_cents=1250, actor=actor, order_reference="R-77", note="till 2"
            ),
        ),
        (
            "cashier",
            "recharge",
            {"amount": "20", "note": "top-up"},
            lambda card, actor: services.card_recharge(
                card=card, amount_cents=2000, actor=actor, note="top-up"
            ),
        ),
        (
            "manager",
            "adjust",
            {"new_balance": "80.05", "reason": "Till miscount on 3 May"},
            lambda card, actor: services.card_adjust(
                card=card, new_balance_cents=8005, actor=actor, note="Till miscount on 3 May"
            ),
        ),
        (
            "cashier",
            "debit",
            {"amount": "100"},
            lambda card, actor: services.card_debit(card=card, amount_cents=10_000, actor=actor),
        ),
    ],
    ids=["debit", "recharge", "adjust", "debit-to-zero"],
)
def test_action_writes_exactly_the_ledger_row_the_service_writes(
    role, action, data, service_call, make_staff, login, make_card
):
    user = make_staff(role)
    through_admin, direct = make_card(), make_card()
    before_admin, before_direct = row_ids(through_admin), row_ids(direct)

    response = act(login(user), through_admin, action, data, follow=True)
    service_call(direct, Actor.for_user(user))

    assert response.status_code == 200
    assert new_rows(through_admin, before_admin) == new_rows(direct, before_direct)
    assert len(new_rows(through_admin, before_admin)) == 1
    admin_card, direct_card = snapshot(through_admin), snapshot(direct)
    for field in ("balance_cents", "status", "modified_by"):
        assert admin_card[field] == direct_card[field]
    messages = [str(m) for m in response.context["messages"]]
    assert any(m.startswith(("Redeemed", "Recharged", "Adjusted")) for m in messages), messages


@pytest.mark.parametrize(
    ("setup", "action", "data", "reason"),
    [
        (lambda card, a: None, "debit", {"amount": "100.01"}, "cannot be debited"),
        (
            lambda card, a: services.card_deactivate(card=card, actor=a),
            "debit",
            {"amount": "1"},
            "this card is inactive",
        ),
        (
            lambda card, a: services.card_update(
                card=card, actor=a, expires_at=timezone.now() - timedelta(minutes=1)
            ),
            "debit",
            {"amount": "1"},
            "expired",
        ),
        (
            lambda card, a: services.card_soft_delete(card=card, actor=a),
            "recharge",
            {"amount": "1"},
            "is deleted",
        ),
        (
            lambda card, a: services.card_update(card=card, actor=a, balance_max_cents=10_500),
            "recharge",
            {"amount": "10"},
            "above the card's maximum",
        ),
        (lambda card, a: None, "activate", {}, "Cannot activate a card that is active"),
        (lambda card, a: None, "purchase", {}, "Cannot purchase a card that is active"),
    ],
    ids=["overdraft", "inactive", "expired", "deleted", "above-max", "activate-active", "purchase"],
)
def test_refused_action_writes_nothing_and_shows_the_reason(
    setup, action, data, reason, manager, login, make_card, actor
):
    card = make_card()
    setup(card, actor)
    before, rows = snapshot(card), row_ids(card)

    response = login(manager).post(act_url(card, action), data, follow=True)

    assert response.status_code == 200
    assert snapshot(card) == before
    assert row_ids(card) == rows
    errors = [str(m) for m in response.context["messages"] if m.level_tag == "error"]
    assert len(errors) == 1
    assert reason in errors[0]
    assert "Nothing was changed" in errors[0]
    assert reason in html.unescape(response.content.decode())


def test_bad_amount_is_a_form_error_and_writes_nothing(cashier, login, make_card):
    card = make_card()
    rows = row_ids(card)

    response = login(cashier).post(act_url(card, "debit"), {"amount": "1.005"}, follow=True)

    assert row_ids(card) == rows
    errors = [str(m) for m in response.context["messages"] if m.level_tag == "error"]
    assert errors == ["Redeem: Amount — USD amounts have at most 2 decimal places."]


def test_adjust_without_a_reason_is_refused(manager, login, make_card):
    card = make_card()
    rows = row_ids(card)

    response = login(manager).post(
        act_url(card, "adjust"), {"new_balance": "5", "reason": "   "}, follow=True
    )

    assert row_ids(card) == rows
    assert any("Reason" in str(m) for m in response.context["messages"])


def test_a_form_sent_twice_debits_once(cashier, login, make_card):
    card = make_card()
    client = login(cashier)
    data = {"amount": "10", "idempotency_key": "admin-double-click"}

    client.post(act_url(card, "debit"), data)
    response = client.post(act_url(card, "debit"), data, follow=True)

    card.refresh_from_db()
    assert card.balance_cents == 9_000
    assert card.ledger.filter(kind="debit").count() == 1
    assert any("already recorded" in str(m) for m in response.context["messages"])


def test_status_triggers_and_soft_delete_go_through_the_services(manager, login, make_card):
    card = make_card(status=Status.DRAFT)
    client = login(manager)

    client.post(act_url(card, "purchase"))
    assert GiftCard.objects.get(pk=card.pk).status == Status.INACTIVE
    client.post(act_url(card, "activate"))
    assert GiftCard.objects.get(pk=card.pk).status == Status.ACTIVE
    act(client, card, "deactivate")
    assert GiftCard.objects.get(pk=card.pk).status == Status.INACTIVE
    act(client, card, "delete")
    assert GiftCard.objects.get(pk=card.pk).is_deleted
    client.post(act_url(card, "restore"))
    card = GiftCard.objects.get(pk=card.pk)
    assert not card.is_deleted
    assert card.modified_by == manager.username
    assert list(card.ledger.values_list("kind", flat=True)) == ["issue"]
    assert card.versions.filter(history_user=manager).count() == 5


def test_actions_answer_get_with_405(cashier, login, make_card):
    card = make_card()

    assert login(cashier).get(act_url(card, "debit")).status_code == 405


def test_editing_attributes_never_writes_back_a_stale_balance(manager, login, make_card, actor):
    card = make_card(reference="old")
    client = login(manager)
    client.get(change_url(card))  # the manager opens the page...
    services.card_debit(card=card, amount_cents=2_500, actor=actor)  # ...a till debits meanwhile

    response = client.post(
        change_url(card),
        {
            "reference": "new",
            "metadata": "{}",
            "rechargeable": "on",
            "distribute_discount": "on",
            "ledger-TOTAL_FORMS": "0",
            "ledger-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.reference == "new"
    assert card.balance_cents == 7_500
    assert card.modified_by == manager.username


def test_refused_attribute_change_shows_the_reason(manager, login, make_card):
    card = make_card()

    response = login(manager).post(
        change_url(card),
        {
            "balance_max": "50",
            "metadata": "{}",
            "rechargeable": "on",
            "distribute_discount": "on",
            "ledger-TOTAL_FORMS": "0",
            "ledger-INITIAL_FORMS": "0",
        },
        follow=True,
    )

    card.refresh_from_db()
    assert card.balance_max_cents is None
    assert any("above that maximum" in str(m) for m in response.context["messages"])


def test_selling_issues_a_card_with_its_issue_row(cashier, login, business):
    response = login(cashier).post(
        reverse("admin:giftcards_giftcard_add"),
        {
            "code": "sell-test-0001",
            "amount": "25.50",
            "status": "active",
            "mode": "live",
            "recipient_email": "Gift@Example.com",
            "reference": "sale-9",
            "rechargeable": "on",
            "expires_on": "2031-01-31",
        },
    )

    card = GiftCard.objects.get(reference="sale-9")
    assert response.status_code == 302
    assert response["Location"] == change_url(card)
    assert (card.business, card.status, card.balance_cents) == (business, "active", 2550)
    assert card.masked_code == "****0001"
    assert card.recipient.email == "Gift@Example.com"
    assert card.expires_at.date().isoformat() == "2031-01-31"
    assert list(card.ledger.values_list("kind", "amount_cents", "actor_name")) == [
        ("issue", 2550, cashier.username)
    ]


def test_selling_with_a_generated_code_shows_it_once(cashier, login):
    client = login(cashier)
    # Post/redirect/get: the code is shown by the page the sale redirects to, not by the
    # response to the POST, and only the first time that page is opened.
    response = client.post(
        reverse("admin:giftcards_giftcard_add"),
        {"amount": "10", "status": "active", "mode": "live", "rechargeable": "on"},
        follow=True,
    )

    card = GiftCard.objects.get()
    sold_url = response.redirect_chain[0][0]
    assert response.status_code == 200
    assert card.code in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert card.code not in sold_url and codes.normalise(card.code) not in sold_url
    assert card.code not in login(cashier).get(change_url(card)).content.decode()
    again = client.get(sold_url, follow=True)
    assert card.code not in again.content.decode()
    assert again.redirect_chain[-1][0] == change_url(card)


def test_refused_sale_shows_the_reason_and_leaves_nothing(cashier, login, make_card):
    make_card(code="TAKEN-CODE-0001")
    cards, recipients = GiftCard.objects.count(), GiftCardRecipient.objects.count()

    response = login(cashier).post(
        reverse("admin:giftcards_giftcard_add"),
        {
            "code": "taken code 0001",
            "amount": "10",
            "status": "active",
            "mode": "live",
            "recipient_email": "new@example.com",
        },
    )

    assert response.status_code == 200
    assert "already has a card with that code" in response.content.decode()
    assert GiftCard.objects.count() == cards
    assert GiftCardRecipient.objects.count() == recipients


def test_a_weak_chosen_code_is_refused_at_the_sale(cashier, login):
    response = login(cashier).post(
        reverse("admin:giftcards_giftcard_add"),
        {"code": "1234-5678", "amount": "10", "status": "active", "mode": "live"},
    )

    assert response.status_code == 200
    assert "simple sequence" in html.unescape(response.content.decode())
    assert not GiftCard.objects.exists()


def test_codes_are_masked_in_list_page_and_history(manager, login, make_card):
    card = make_card(code="FULL-CODE-SHOWN-9XYZ")
    client = login(manager)
    pages = [
        client.get(reverse("admin:giftcards_giftcard_changelist")),
        client.get(change_url(card)),
        client.get(reverse("admin:giftcards_giftcard_history", args=[quote(card.pk)])),
        client.get(reverse("admin:giftcards_balancelog_changelist")),
    ]

    for page in pages:
        html = page.content.decode()
        assert "FULL-CODE-SHOWN" not in html and "FULLCODESHOWN" not in html
    assert "****9XYZ" in pages[0].content.decode()


def test_a_manager_reveals_the_code_and_the_reveal_is_recorded(manager, login, make_card):
    card = make_card(code="REVEAL-ME-PLEASE-7")
    client = login(manager)

    response = client.post(reverse("admin:giftcards_giftcard_reveal", args=[quote(card.pk)]))

    assert response.status_code == 200
    assert "REVEAL-ME-PLEASE-7" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    entry = LogEntry.objects.get(object_id=card.pk, change_message="Revealed the full code.")
    assert entry.user == manager
    assert "****ASE7" in entry.object_repr
    assert manager.username in client.get(change_url(card)).content.decode()
    assert (
        client.get(reverse("admin:giftcards_giftcard_reveal", args=[quote(card.pk)])).status_code
        == 405
    )


@pytest.mark.parametrize(
    "term",
    ["SRCH-CODE-AAAA-1234", "srch code aaaa 1234", "srchcodeaaaa1234", "1234", "****1234"],
)
def test_search_by_code(term, manager, login, make_card):
    card = make_card(code="SRCH-CODE-AAAA-1234")
    make_card(code="OTHER-CODE-BBBB-5678")

    response = login(manager).get(reverse("admin:giftcards_giftcard_changelist"), {"q": term})

    if len(term.replace("*", "")) == 4:
        assert [c.pk for c in response.context["cl"].result_list] == [card.pk]
    else:  # a full code goes straight to its card
        assert response.status_code == 302
        assert response["Location"] == change_url(card)


@pytest.mark.parametrize(
    "term", ["Lovelace", "ada lovelace", "ada@example.com", "gift@shop.test", "web-order-77"]
)
def test_search_by_client_recipient_and_reference(term, manager, login, make_card, tenant, actor):
    from clients.services import client_create

    ada = client_create(
        tenant=tenant, actor=actor, first_name="Ada", last_name="Lovelace", email="ada@example.com"
    )
    recipient = services.recipient_find_or_create(tenant=tenant, email="gift@shop.test")
    wanted = make_card(client=ada, recipient=recipient, reference="web-order-77")
    make_card(reference="something-else")

    response = login(manager).get(reverse("admin:giftcards_giftcard_changelist"), {"q": term})

    assert [c.pk for c in response.context["cl"].result_list] == [wanted.pk]


def test_list_filters(manager, login, make_card, actor):
    now = timezone.now()
    full = make_card()
    partial = make_card()
    services.card_debit(card=partial, amount_cents=100, actor=actor)
    empty = make_card()
    services.card_debit(card=empty, amount_cents=10_000, actor=actor)
    expired = make_card(expires_at=now - timedelta(days=1))
    soon = make_card(expires_at=now + timedelta(days=10))
    later = make_card(expires_at=now + timedelta(days=60))
    deleted = make_card(currency_code="EUR")
    services.card_soft_delete(card=deleted, actor=actor)
    client = login(manager)

    def listed(**params):
        response = client.get(reverse("admin:giftcards_giftcard_changelist"), params)
        return {card.pk for card in response.context["cl"].result_list}

    assert listed(balance="partial") == {partial.pk}
    assert listed(balance="empty") == {empty.pk}
    assert full.pk in listed(balance="full") and partial.pk not in listed(balance="full")
    assert listed(expiry="expired") == {expired.pk}
    assert listed(expiry="soon") == {soon.pk}
    assert later.pk in listed(expiry="valid")
    assert listed(deleted="yes") == {deleted.pk}
    assert listed(currency_code="EUR") == {deleted.pk}
    assert listed(status__exact="redeemed") == {empty.pk}


def test_card_whose_id_looks_like_an_admin_escape_still_works(
    cashier, login, make_card, monkeypatch
):
    # Public ids are URL-safe base64 and may contain "_5F", which the admin's URLs unescape.
    monkeypatch.setattr(
        GiftCard._meta.get_field("id"), "_get_default", lambda: "Under_5Fscore_3Aid_2F0"
    )
    card = make_card()
    client = login(cashier)

    page = client.get(reverse("admin:giftcards_giftcard_changelist"))
    link = reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)])
    response = client.post(act_url(card, "debit"), {"amount": "1"})

    assert card.pk == "Under_5Fscore_3Aid_2F0"
    assert link in page.content.decode()
    assert client.get(link).status_code == 200
    assert response.status_code == 302 and response["Location"] == link
    assert card.ledger.filter(kind="debit").count() == 1


def test_a_full_code_in_a_popup_search_stays_a_list(manager, login, make_card):
    card = make_card(code="POPU-PCOD-EEEE-0001")

    response = login(manager).get(
        reverse("admin:giftcards_giftcard_changelist"),
        {"q": "POPU-PCOD-EEEE-0001", "_popup": "1", "_to_field": "id"},
    )

    assert response.status_code == 200
    assert [c.pk for c in response.context["cl"].result_list] == [card.pk]


# ---------------------------------------------------------------------------- selling once

SALE = {"amount": "10", "status": "active", "mode": "live", "rechargeable": "on"}


def sell_url():
    return reverse("admin:giftcards_giftcard_add")


def test_the_sell_form_carries_a_sale_token(cashier, login):
    html = login(cashier).get(sell_url()).content.decode()

    assert 'type="hidden" name="sale_token"' in html


def test_a_sell_form_sent_twice_sells_one_card(cashier, login):
    client = login(cashier)
    data = {**SALE, "sale_token": "f" * 32}

    first = client.post(sell_url(), data)
    second = client.post(sell_url(), data, follow=True)

    card = GiftCard.objects.get()
    assert first.status_code == 302
    assert second.redirect_chain[0][0] == first["Location"]
    assert card.ledger.count() == 1
    # The browser shows the second answer (a double click aborts the first): it still shows
    # the generated code, once, since nobody has seen it yet.
    assert card.code in second.content.decode()
    assert "no-store" in second["Cache-Control"]


def test_resending_a_sale_after_its_code_was_shown_sells_nothing_and_shows_no_code(cashier, login):
    client = login(cashier)
    data = {**SALE, "sale_token": "e" * 32}
    client.post(sell_url(), data, follow=True)  # sold, code shown

    again = client.post(sell_url(), data, follow=True)  # the refresh of the old POST

    card = GiftCard.objects.get()
    html = again.content.decode()
    assert again.redirect_chain[-1][0] == change_url(card)
    assert card.code not in html
    assert any("already recorded" in str(m) for m in again.context["messages"])


def test_a_sale_with_a_typed_code_sent_twice_sells_once_and_says_so(cashier, login):
    client = login(cashier)
    data = {**SALE, "code": "TYPE-DCOD-EXXX-0001", "sale_token": "d" * 32}

    client.post(sell_url(), data)
    again = client.post(sell_url(), data, follow=True)

    assert GiftCard.objects.count() == 1
    assert any("already recorded" in str(m) for m in again.context["messages"])
    assert "already has a card with that code" not in again.content.decode()


def test_two_forms_sell_two_cards(cashier, login):
    client = login(cashier)

    client.post(sell_url(), {**SALE, "sale_token": "a" * 32})
    client.post(sell_url(), {**SALE, "sale_token": "b" * 32})

    assert GiftCard.objects.count() == 2


def test_the_sold_page_belongs_to_the_session_that_sold(cashier, login, make_staff):
    seller = login(cashier)
    sold = seller.post(sell_url(), {**SALE, "sale_token": "c" * 32})
    card = GiftCard.objects.get()

    other = login(make_staff("manager")).get(sold["Location"])

    assert other.status_code == 404
    assert card.code in seller.get(sold["Location"]).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_double_click_racing_on_two_connections_sells_one_card(
    business, roles, make_staff, monkeypatch
):
    import threading

    from django.db import connection
    from django.test import Client as HttpClient

    cashier = make_staff("cashier")
    browser = HttpClient()
    browser.force_login(cashier)
    cookie = browser.cookies["sessionid"].value
    slow_issue = services.card_issue

    def issue_slowly(**kwargs):  # widen the window in which the two requests overlap
        import time

        time.sleep(0.3)
        return slow_issue(**kwargs)

    monkeypatch.setattr(services, "card_issue", issue_slowly)
    data = {**SALE, "sale_token": "9" * 32}
    answers = []

    def click():
        tab = HttpClient()
        tab.cookies["sessionid"] = cookie
        try:
            answers.append(tab.post(sell_url(), data).status_code)
        finally:
            connection.close()

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()

    assert answers == [302, 302]
    assert GiftCard.objects.count() == 1


# ---------------------------------------------------------------------------- sale input


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"amount": "0"}, "amount", "greater than zero"),
        ({"amount": "1e3"}, "amount", "in digits"),
        ({"amount": "\uff15"}, "amount", "in digits"),  # a full-width 5
        ({"amount": "1_000"}, "amount", "in digits"),
        ({"amount": "-5"}, "amount", "greater than zero"),
        ({"expires_on": "2001-01-01"}, "expires_on", "That day is past"),
    ],
    ids=["zero", "exponent", "full-width", "underscore", "negative", "past-expiry"],
)
def test_a_bad_sale_is_a_form_error_and_sells_nothing(data, field, error, cashier, login):
    response = login(cashier).post(sell_url(), {**SALE, **data})

    assert response.status_code == 200
    assert GiftCard.objects.count() == 0
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert error in errors[field][0]


def test_a_sale_expiring_today_in_the_business_zone_is_accepted(cashier, login, business):
    today = timezone.now().astimezone(business.tzinfo).date().isoformat()

    login(cashier).post(sell_url(), {**SALE, "code": "TODA-YCOD-E000-0001", "expires_on": today})

    assert GiftCard.objects.get().expires_at > timezone.now()


@pytest.mark.parametrize("typed", ["1e3", "\uff15", "1_0", "NaN", "0x10", "+5", "1.", ".5 5"])
def test_action_amounts_accept_only_plain_decimals(typed, cashier, login, make_card):
    card = make_card()
    rows = row_ids(card)

    response = login(cashier).post(act_url(card, "debit"), {"amount": typed}, follow=True)

    assert row_ids(card) == rows
    errors = [str(m) for m in response.context["messages"] if m.level_tag == "error"]
    assert errors == ["Redeem: Amount — Enter an amount in digits, such as 25 or 25.50."]


def test_a_decimal_comma_is_still_accepted(cashier, login, make_card):
    card = make_card()

    login(cashier).post(act_url(card, "debit"), {"amount": "12,50"})

    card.refresh_from_db()
    assert card.balance_cents == 8_750


def test_adjusting_below_zero_says_zero_is_allowed(manager, login, make_card):
    card = make_card()

    response = login(manager).post(
        act_url(card, "adjust"), {"new_balance": "-1", "reason": "typo"}, follow=True
    )

    errors = [str(m) for m in response.context["messages"] if m.level_tag == "error"]
    assert errors == ["Adjust balance: New balance — Enter an amount zero or more."]
    assert "greater than zero" not in response.content.decode()


def test_a_staff_user_without_a_business_is_told_why_they_cannot_sell(make_staff, login):
    homeless = make_staff("cashier", username="homeless")
    homeless.business = None
    homeless.save()
    client = login(homeless)

    page = client.get(sell_url(), follow=True)
    sent = client.post(sell_url(), SALE, follow=True)

    for response in (page, sent):
        messages = [str(m) for m in response.context["messages"]]
        assert any("not linked to a business" in m for m in messages), messages
        assert "This field is required" not in response.content.decode()
    assert GiftCard.objects.count() == 0


# ---------------------------------------------------------------------------- labels


def test_the_save_message_names_the_card_by_its_masked_code(manager, login, make_card):
    card = make_card(code="SAVE-MESS-AGEC-PQ77")

    response = login(manager).post(
        change_url(card),
        {
            "reference": "relabelled",
            "metadata": "{}",
            "rechargeable": "on",
            "distribute_discount": "on",
            "ledger-TOTAL_FORMS": "0",
            "ledger-INITIAL_FORMS": "0",
        },
        follow=True,
    )

    messages = [html.unescape(str(m)) for m in response.context["messages"]]
    assert len(messages) == 1
    assert "The gift card “" in messages[0] and ">****PQ77</a>” was changed" in messages[0]
    assert "Gift card ****" not in messages[0]


def test_history_rows_are_labelled_with_the_cards_masked_code(manager, login, make_card, actor):
    card = make_card(code="HIST-ORYL-ABEL-PQ77")
    services.card_update(card=card, actor=actor, reference="v2")

    page = login(manager).get(reverse("admin:giftcards_giftcard_history", args=[quote(card.pk)]))

    text = page.content.decode()
    rows = text.count("<tr>") - 1  # minus the header row
    assert rows == card.versions.count() == 2
    assert text.count("****PQ77") >= rows
    assert "Gift card ****\n" not in text and "Gift card ****<" not in text


@pytest.mark.parametrize("token", ["a/b", "../x", "a b", "é" * 8])
def test_a_sale_token_that_no_form_draws_sells_nothing_and_says_so(cashier, login, token):
    """A token goes into the URL of the page that shows the sale: only the form's own kind
    is taken (a "/" in it sold the card, then failed to build that URL: a 500)."""
    response = login(cashier).post(sell_url(), {**SALE, "sale_token": token})

    assert response.status_code == 200
    assert "reload" in response.content.decode().lower()
    assert not GiftCard.objects.exists()

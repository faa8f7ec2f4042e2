"""Bulk issue in the card admin: a manager issues a batch in one transaction, once per form,
and sees its codes once (a printable sheet and a CSV), never in a URL, a log or the session."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.admin.utils import quote
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clients.tenancy import Mode
from giftcards import codes
from giftcards.admin import bulk_issue
from giftcards.admin.card_pages import REVEAL_MESSAGE
from giftcards.models import BalanceLog, GiftCard, Market, OutboxEvent, Status, Tag
from giftcards.services import bulk_issue as bulk_service

BATCH = {"count": "3", "amount": "10", "status": "inactive"}
# What a batch costs, measured (SQLite and PostgreSQL alike): 10 queries per card, all of
# them `card_issue`'s (two savepoints and their releases, the market's row lock, and the
# inserts of the card, its history row, its issue row, its tag and its events), plus 20 per
# request (the batch's savepoint, the session, the user and permissions, the user's row
# lock, the form's tag and market choices, the batch's two admin-log inserts, the session
# saves). The bound allows one spare query per card and a few per request: it grows
# linearly with the count, so a per-card N+1 in the admin (one more read per card) or in the
# service breaks it.
QUERIES_PER_CARD = 11
QUERIES_PER_BATCH = 24
# Showing the sheet reads the batch's cards in one query: a constant, whatever the count.
QUERIES_FOR_THE_SHEET = 20


def form_url():
    return reverse("admin:giftcards_giftcard_bulk_issue")


def sheet_url(token):
    return reverse("admin:giftcards_giftcard_bulk_sheet", args=[token])


def csv_url(token):
    return reverse("admin:giftcards_giftcard_bulk_csv", args=[token])


def change_url(card):
    return reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)])


def csv_codes(response) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    return [row["code"] for row in rows]


def all_codes() -> set[str]:
    return {card.code for card in GiftCard.objects.all()}


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.fixture
def market(business):
    return Market.objects.create(
        business=business, mode=Mode.LIVE, name="Holiday kiosk", currency_code="USD"
    )


@pytest.fixture
def tag(business):
    return Tag.objects.create(business=business, mode=Mode.LIVE, name="holidays")


@pytest.fixture
def issued(manager, login, market, tag, business):
    """A manager's client right after issuing 25 cards (the POST's answer, not followed)."""
    client = login(manager)
    expiry = (timezone.now().astimezone(business.tzinfo) + timedelta(days=400)).date()
    response = client.post(
        form_url(),
        {
            "batch_token": "a" * 32,
            "count": "25",
            "amount": "12.50",
            "currency_code": "USD",
            "status": "active",
            "expires_on": expiry.isoformat(),
            "tag": tag.pk,
            "market": market.pk,
            "reference_prefix": "XMAS-",
        },
    )
    return client, response, expiry


# ---------------------------------------------------------------------------- issuing


def test_a_manager_issues_25_cards_with_everything_applied(issued, manager, business, market, tag):
    _, response, expiry = issued

    cards = list(GiftCard.objects.order_by("reference"))
    assert response.status_code == 302
    assert response["Location"] == sheet_url("a" * 32)
    assert len(cards) == 25
    assert [card.reference for card in cards] == [f"XMAS-{n:04d}" for n in range(1, 26)]
    for card in cards:
        assert (card.business, card.mode, card.status) == (business, Mode.LIVE, Status.ACTIVE)
        assert (card.currency_code, card.initial_balance_cents, card.balance_cents) == (
            "USD",
            1250,
            1250,
        )
        assert card.expires_at.astimezone(business.tzinfo).date() == expiry
        assert card.market == market
        assert list(card.tags.all()) == [tag]
        assert list(card.ledger.values_list("kind", "amount_cents", "actor_name")) == [
            (BalanceLog.Kind.ISSUE, 1250, manager.username)
        ]
    call_command("reconcile_ledger", "--no-progress", stdout=io.StringIO())  # raises if not


def test_each_card_of_a_batch_records_its_issue_in_the_admin_log(issued, manager):
    cards = GiftCard.objects.all()
    entries = LogEntry.objects.filter(action_flag=ADDITION, user=manager)

    assert sorted(entries.values_list("object_id", flat=True)) == sorted(c.pk for c in cards)
    assert {entry.change_message for entry in entries} == {
        bulk_issue.ISSUED_MESSAGE.format(count=25)
    }


def test_the_form_defaults_to_ten_inactive_cards_in_the_business_currency(manager, login):
    form = login(manager).get(form_url()).context["adminform"].form

    assert form["count"].value() == 10
    assert form["currency_code"].value() == "USD"
    assert form["status"].value() == Status.INACTIVE
    assert len(form["batch_token"].value()) == 32


def test_a_draft_batch_is_issued_as_drafts(manager, login):
    login(manager).post(form_url(), {**BATCH, "status": "draft"})

    assert set(GiftCard.objects.values_list("status", flat=True)) == {Status.DRAFT}


# ---------------------------------------------------------------------------- the codes once


def test_the_sheet_shows_25_distinct_full_codes_once_and_the_csv_has_them(issued):
    client, response, _ = issued
    codes_issued = all_codes()

    sheet = client.get(response["Location"])
    html = sheet.content.decode()
    download = client.post(csv_url("a" * 32))

    assert len(codes_issued) == 25
    assert sheet.status_code == 200
    assert all(code in html for code in codes_issued)
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert "attachment" in download["Content-Disposition"]
    assert sorted(csv_codes(download)) == sorted(codes_issued)
    assert all(code not in download["Content-Disposition"] for code in codes_issued)


def test_the_csv_rows_carry_amount_expiry_and_reference(issued, business):
    client, response, expiry = issued
    client.get(response["Location"])

    rows = list(csv.DictReader(io.StringIO(client.post(csv_url("a" * 32)).content.decode())))

    assert rows[0]["amount"] == "12.50"
    assert rows[0]["currency"] == "USD"
    assert rows[0]["expires_on"] == expiry.isoformat()
    assert [row["reference"] for row in rows] == [f"XMAS-{n:04d}" for n in range(1, 26)]


def test_the_sheet_is_printable_one_card_per_cell(issued):
    client, response, expiry = issued

    html = client.get(response["Location"]).content.decode()

    assert html.count('class="gc-sheet__card"') == 25
    assert "@media print" in html
    assert "$12.50" in html
    assert f"Valid through {expiry.isoformat()}" in html


def test_reloading_the_sheet_shows_no_code(issued):
    client, response, _ = issued
    client.get(response["Location"])

    again = client.get(response["Location"])

    html = again.content.decode()
    assert again.status_code == 200
    assert not any(code in html for code in all_codes())
    assert html.count("****") >= 25
    assert any("shown once" in str(m) for m in again.context["messages"])


def test_the_csv_is_handed_out_once(issued):
    client, response, _ = issued
    client.get(response["Location"])
    client.post(csv_url("a" * 32))

    again = client.post(csv_url("a" * 32), follow=True)

    assert again.redirect_chain[-1][0] == sheet_url("a" * 32)
    assert not any(code in again.content.decode() for code in all_codes())
    assert any("no longer available" in str(m) for m in again.context["messages"])


def test_the_csv_is_not_handed_out_before_the_sheet_or_after_its_window(issued, monkeypatch):
    client, response, _ = issued

    before = client.post(csv_url("a" * 32))
    client.get(response["Location"])
    monkeypatch.setattr(bulk_issue, "CSV_WINDOW_SECONDS", 0)
    after = client.post(csv_url("a" * 32))

    assert (before.status_code, after.status_code) == (302, 302)
    assert before["Content-Type"] != "text/csv; charset=utf-8"
    assert after["Location"] == sheet_url("a" * 32)


def test_the_csv_is_posted_for_never_fetched(issued):
    client, response, _ = issued
    client.get(response["Location"])

    assert client.get(csv_url("a" * 32)).status_code == 405


def test_pages_that_show_codes_are_never_stored(issued):
    client, response, _ = issued

    sheet = client.get(response["Location"])
    download = client.post(csv_url("a" * 32))
    masked = client.get(response["Location"])

    for answer in (sheet, download, masked):
        assert "no-store" in answer["Cache-Control"]


def test_every_card_records_that_its_code_was_revealed_at_issue(issued, manager):
    client, response, _ = issued
    client.get(response["Location"])
    client.get(response["Location"])  # the masked reload reveals nothing

    reveals = LogEntry.objects.filter(action_flag=CHANGE, change_message=REVEAL_MESSAGE)
    card = GiftCard.objects.order_by("reference").first()
    page = client.get(change_url(card))

    assert reveals.count() == 25
    assert set(reveals.values_list("object_id", flat=True)) == set(
        GiftCard.objects.values_list("pk", flat=True)
    )
    assert {entry.user_id for entry in reveals} == {manager.pk}
    assert [entry.user_id for entry in page.context["reveals"]] == [manager.pk]


def test_codes_travel_in_no_url_and_no_log(manager, login, market, tag, caplog):
    client = login(manager)
    caplog.set_level(logging.DEBUG)
    data = {**BATCH, "count": "5", "tag": tag.pk, "market": market.pk, "batch_token": "b" * 32}

    issued = client.post(form_url(), data, follow=True)
    download = client.post(csv_url("b" * 32), follow=True)
    reload = client.get(sheet_url("b" * 32), follow=True)

    secrets = all_codes() | {codes.normalise(code) for code in all_codes()}
    assert len(secrets) == 10
    urls = [url for answer in (issued, download, reload) for url, _ in answer.redirect_chain]
    urls += [answer.request["PATH_INFO"] for answer in (issued, download, reload)]
    assert urls
    for url in urls:
        assert not any(secret in url for secret in secrets), url
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not any(secret in logged for secret in secrets)


def test_the_session_holds_card_ids_never_codes(issued):
    client, response, _ = issued
    client.get(response["Location"])

    stored = Session.objects.get(session_key=client.session.session_key).get_decoded()

    batch = stored[bulk_issue.SESSION_KEY]["a" * 32]
    dumped = json.dumps(stored)
    assert sorted(batch["cards"]) == sorted(GiftCard.objects.values_list("pk", flat=True))
    secrets = all_codes() | {codes.normalise(code) for code in all_codes()}
    assert not any(secret in dumped for secret in secrets)


def test_the_sheet_belongs_to_the_session_that_issued(issued, make_staff, login):
    client, response, _ = issued

    other = login(make_staff("manager", username="second-manager"))

    assert other.get(response["Location"]).status_code == 404
    assert other.post(csv_url("a" * 32)).status_code == 404
    html = client.get(response["Location"]).content.decode()
    assert all(code in html for code in all_codes())


# ---------------------------------------------------------------------------- once per form


def test_a_batch_form_sent_twice_issues_once(manager, login):
    client = login(manager)
    data = {**BATCH, "count": "4", "batch_token": "c" * 32}

    first = client.post(form_url(), data)
    second = client.post(form_url(), data, follow=True)

    assert GiftCard.objects.count() == 4
    assert BalanceLog.objects.count() == 4
    assert first["Location"] == second.redirect_chain[0][0] == sheet_url("c" * 32)
    # The browser shows the second answer (a double click aborts the first): the codes,
    # once, since nobody has seen them yet.
    assert all(code in second.content.decode() for code in all_codes())
    assert any("already issued" in str(m) for m in second.context["messages"])


def test_resending_a_batch_after_its_codes_were_shown_issues_and_shows_nothing(manager, login):
    client = login(manager)
    data = {**BATCH, "batch_token": "d" * 32}
    client.post(form_url(), data, follow=True)  # issued, codes shown

    again = client.post(form_url(), data, follow=True)  # the refresh of the old POST

    assert GiftCard.objects.count() == 3
    assert not any(code in again.content.decode() for code in all_codes())


def test_two_forms_issue_two_batches(manager, login):
    client = login(manager)

    client.post(form_url(), {**BATCH, "batch_token": "e" * 32})
    client.post(form_url(), {**BATCH, "batch_token": "f" * 32})

    assert GiftCard.objects.count() == 6


def test_a_tampered_token_is_replaced_never_put_in_a_url(manager, login):
    response = login(manager).post(form_url(), {**BATCH, "batch_token": "a/../b?c"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:giftcards_giftcard_bulk_issue"))
    assert "a/../b" not in response["Location"]
    assert GiftCard.objects.count() == 3


# ---------------------------------------------------------------------------- who may


@pytest.mark.parametrize("role", [None, "viewer", "cashier"])
def test_only_managers_may_issue_a_batch_or_see_its_link(role, make_staff, login, manager):
    client = login(make_staff(role))
    manager_client = login(manager)
    manager_client.post(form_url(), {**BATCH, "batch_token": "1" * 32})
    cards = GiftCard.objects.count()

    answers = [
        client.get(form_url()),
        client.post(form_url(), {**BATCH, "batch_token": "2" * 32}),
        client.get(sheet_url("1" * 32)),
        client.post(csv_url("1" * 32)),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403, 403]
    assert GiftCard.objects.count() == cards
    changelist = reverse("admin:giftcards_giftcard_changelist")
    link = f'href="{form_url()}"'
    if role is not None:
        assert link not in client.get(changelist).content.decode()
    assert link in manager_client.get(changelist).content.decode()


def test_a_manager_without_a_business_is_told_why(make_staff, login):
    homeless = make_staff("manager", username="homeless")
    homeless.business = None
    homeless.save()
    client = login(homeless)

    page = client.get(form_url(), follow=True)
    sent = client.post(form_url(), BATCH, follow=True)

    for response in (page, sent):
        assert any("not linked to a business" in str(m) for m in response.context["messages"])
    assert GiftCard.objects.count() == 0


# ---------------------------------------------------------------------------- refusals


def test_another_business_tag_or_market_cannot_be_chosen(manager, login, other_business):
    foreign_tag = Tag.objects.create(business=other_business, mode=Mode.LIVE, name="theirs")
    foreign_market = Market.objects.create(
        business=other_business, mode=Mode.LIVE, name="Theirs", currency_code="USD"
    )
    client = login(manager)

    page = client.get(form_url())
    response = client.post(
        form_url(), {**BATCH, "tag": foreign_tag.pk, "market": foreign_market.pk}
    )

    form = page.context["adminform"].form
    assert foreign_tag not in form.fields["tag"].queryset
    assert foreign_market not in form.fields["market"].queryset
    assert response.status_code == 200
    assert sorted(response.context["adminform"].form.errors) == ["market", "tag"]
    assert GiftCard.objects.count() == 0


def test_a_test_mode_market_cannot_be_chosen(manager, login, business):
    test_market = Market.objects.create(
        business=business, mode=Mode.TEST, name="Sandbox", currency_code="USD"
    )

    response = login(manager).post(form_url(), {**BATCH, "market": test_market.pk})

    assert list(response.context["adminform"].form.errors) == ["market"]
    assert GiftCard.objects.count() == 0


def test_a_market_in_another_currency_is_refused_with_its_reason_and_writes_nothing(
    manager, login, business
):
    euros = Market.objects.create(
        business=business, mode=Mode.LIVE, name="Paris", currency_code="EUR"
    )
    client = login(manager)
    logged = LogEntry.objects.count()

    response = client.post(
        form_url(), {**BATCH, "currency_code": "USD", "market": euros.pk, "batch_token": "9" * 32}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "currency_code": ["The market uses EUR, not USD."]
    }
    assert "The market uses EUR, not USD." in response.content.decode()
    assert GiftCard.objects.count() == 0
    assert BalanceLog.objects.count() == 0
    assert OutboxEvent.objects.count() == 0
    assert LogEntry.objects.count() == logged
    # The refused token issued nothing: the corrected form (same token) issues the batch.
    fixed = client.post(form_url(), {**BATCH, "market": euros.pk, "batch_token": "9" * 32})
    assert fixed.status_code == 302
    assert set(GiftCard.objects.values_list("currency_code", flat=True)) == {"EUR"}


def test_a_failure_half_way_through_a_batch_writes_nothing(manager, login, monkeypatch):
    from giftcards import exceptions

    issue = bulk_service.card_issue
    calls = []

    def fail_on_third(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise exceptions.InvalidValue("The third card could not be issued.")
        return issue(**kwargs)

    monkeypatch.setattr(bulk_service, "card_issue", fail_on_third)

    response = login(manager).post(form_url(), {**BATCH, "count": "5"})

    assert "The third card could not be issued." in response.content.decode()
    assert len(calls) == 3
    assert GiftCard.objects.count() == 0
    assert BalanceLog.objects.count() == 0
    assert OutboxEvent.objects.count() == 0
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"count": "0"}, "count", "greater than or equal to 1"),
        ({"count": "1001"}, "count", "less than or equal to 1000"),
        ({"amount": "0"}, "amount", "greater than zero"),
        ({"amount": "1e3"}, "amount", "in digits"),
        ({"amount": "1.005"}, "amount", "decimal"),
        ({"currency_code": "XYZ"}, "currency_code", "ISO 4217"),
        ({"expires_on": "2001-01-01"}, "expires_on", "That day is past"),
        ({"status": "redeemed"}, "status", "valid choice"),
        ({"reference_prefix": "x" * 252}, "reference_prefix", "at most 251"),
    ],
    ids=[
        "zero-cards",
        "too-many",
        "zero-amount",
        "exponent",
        "too-many-decimals",
        "currency",
        "past",
        "status",
        "prefix",
    ],
)
def test_bad_input_is_a_form_error_and_issues_nothing(data, field, error, manager, login):
    response = login(manager).post(form_url(), {**BATCH, **data})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert error in errors[field][0]
    assert GiftCard.objects.count() == 0


def test_an_amount_is_read_in_the_market_currency_when_none_is_given(manager, login, business):
    yen = Market.objects.create(
        business=business, mode=Mode.LIVE, name="Tokyo", currency_code="JPY"
    )

    login(manager).post(
        form_url(), {**BATCH, "currency_code": "", "amount": "2500", "market": yen.pk}
    )

    assert set(GiftCard.objects.values_list("currency_code", "balance_cents")) == {("JPY", 2500)}


# ---------------------------------------------------------------------------- cost


@pytest.mark.parametrize("count", [5, 40])
def test_a_batch_costs_a_bounded_number_of_queries_per_card(
    count, manager, login, market, tag, django_assert_max_num_queries
):
    client = login(manager)
    data = {**BATCH, "count": str(count), "market": market.pk, "tag": tag.pk}

    with django_assert_max_num_queries(QUERIES_PER_BATCH + QUERIES_PER_CARD * count):
        response = client.post(form_url(), data)

    assert GiftCard.objects.count() == count
    # Showing the sheet is a constant number of queries, whatever the batch's size.
    with django_assert_max_num_queries(QUERIES_FOR_THE_SHEET):
        client.get(response["Location"])


@pytest.mark.django_db(transaction=True)
def test_a_double_click_racing_on_two_connections_issues_one_batch(
    business, roles, make_staff, monkeypatch
):
    import threading
    import time

    from django.db import connection
    from django.test import Client as HttpClient

    browser = HttpClient()
    browser.force_login(make_staff("manager"))
    cookie = browser.cookies["sessionid"].value
    issue = bulk_service.card_issue

    def issue_slowly(**kwargs):  # widen the window in which the two requests overlap
        time.sleep(0.1)
        return issue(**kwargs)

    monkeypatch.setattr(bulk_service, "card_issue", issue_slowly)
    data = {**BATCH, "batch_token": "7" * 32}
    answers = []

    def click():
        tab = HttpClient()
        tab.cookies["sessionid"] = cookie
        try:
            answers.append(tab.post(form_url(), data)["Location"])
        finally:
            connection.close()

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()

    assert answers == [sheet_url("7" * 32)] * 2
    assert GiftCard.objects.count() == 3

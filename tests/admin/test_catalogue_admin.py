"""Recipients, markets and tags in the admin: their writes go through giftcards.catalogue,
whose refusals are form errors or messages, never a 500 or a half-done change."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.urls import reverse

from clients.tenancy import Mode
from giftcards import catalogue
from giftcards.admin.catalogue import MarketForm
from giftcards.models import GiftCard, GiftCardRecipient, Market, Tag


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.fixture
def cashier(make_staff):
    return make_staff("cashier")


@pytest.fixture
def market(tenant, actor):
    return catalogue.market_create(tenant=tenant, actor=actor, name="Europe", currency_code="EUR")


@pytest.fixture
def market_with_card(market, make_card):
    make_card(market=market)
    return market


@pytest.fixture
def recipient(tenant, actor):
    return catalogue.recipient_create(tenant=tenant, actor=actor, email="ann@example.com")


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:giftcards_{model}_{view}", args=args)


def errors(response) -> list[str]:
    return [str(m) for m in response.context["messages"] if m.level_tag == "error"]


def field_errors(response) -> dict[str, list[str]]:
    return {name: list(errs) for name, errs in response.context["adminform"].form.errors.items()}


def deletion_logs() -> int:
    return LogEntry.objects.filter(action_flag=DELETION).count()


# ---------------------------------------------------------------------------- markets


def test_manager_deleting_a_market_with_cards_sees_why_and_nothing_is_deleted(
    manager, login, market_with_card
):
    market = market_with_card
    response = login(manager).post(url("market", "delete", market.pk), {"post": "yes"}, follow=True)

    assert response.redirect_chain == [(url("market", "change", market.pk), 302)]
    assert errors(response) == [
        "“Europe (EUR)”: The market has gift cards; it cannot be deleted. Nothing was deleted."
    ]
    assert Market.objects.filter(pk=market.pk).exists()
    assert GiftCard.objects.get().market_id == market.pk
    assert deletion_logs() == 0


def test_delete_page_of_a_market_with_cards_says_why_instead_of_asking(
    manager, login, market_with_card
):
    response = login(manager).get(url("market", "delete", market_with_card.pk), follow=True)

    assert response.redirect_chain[-1][0] == url("market", "change", market_with_card.pk)
    assert "it cannot be deleted" in errors(response)[0]


def test_manager_deletes_a_market_without_cards(manager, login, market):
    response = login(manager).post(url("market", "delete", market.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Market.objects.exists()
    assert deletion_logs() == 1


def test_bulk_delete_with_one_market_in_use_deletes_none(
    manager, login, tenant, actor, market_with_card
):
    spare = catalogue.market_create(tenant=tenant, actor=actor, name="UK", currency_code="GBP")
    data = {"action": "delete_selected", "_selected_action": [spare.pk, market_with_card.pk]}

    confirm = login(manager).post(url("market", "changelist"), data, follow=True)
    done = login(manager).post(url("market", "changelist"), {**data, "post": "yes"}, follow=True)

    for response in (confirm, done):
        assert response.status_code == 200
        assert errors(response) == [
            "“Europe (EUR)”: The market has gift cards; it cannot be deleted. Nothing was deleted."
        ]
    assert Market.objects.count() == 2
    assert deletion_logs() == 0


def test_bulk_delete_of_unused_markets_goes_through(manager, login, tenant, actor, market):
    spare = catalogue.market_create(tenant=tenant, actor=actor, name="UK", currency_code="GBP")
    data = {"action": "delete_selected", "_selected_action": [spare.pk, market.pk], "post": "yes"}

    response = login(manager).post(url("market", "changelist"), data, follow=True)

    assert not errors(response)
    assert not Market.objects.exists()
    assert deletion_logs() == 2


@pytest.mark.parametrize("currency", ["EURO", "XXX", "DEM", "12"])
def test_unknown_currency_is_a_form_error(manager, login, currency):
    response = login(manager).post(
        url("market", "add"), {"name": "Europe", "currency_code": currency, "mode": "live"}
    )

    assert response.status_code == 200
    assert list(field_errors(response)) == ["currency_code"]
    assert not Market.objects.exists()


def test_currency_typed_in_lower_case_is_stored_upper_case_in_the_staff_business(
    manager, login, business, other_business
):
    response = login(manager).post(
        url("market", "add"),
        # A tampered business is ignored: the field is disabled for staff.
        {
            "name": " Europe ",
            "currency_code": " eur ",
            "mode": "test",
            "business": other_business.pk,
        },
    )

    market = Market.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("market", "changelist")
    assert (market.name, market.currency_code) == ("Europe", "EUR")
    assert (market.business, market.mode) == (business, Mode.TEST)
    assert LogEntry.objects.get().object_id == str(market.pk)


def test_currency_of_a_market_with_cards_cannot_change(manager, login, market_with_card):
    response = login(manager).post(
        url("market", "change", market_with_card.pk), {"name": "Eurozone", "currency_code": "GBP"}
    )

    assert response.status_code == 200
    assert field_errors(response) == {
        "currency_code": ["The market has gift cards in its currency; its currency cannot change."]
    }
    market_with_card.refresh_from_db()
    assert (market_with_card.name, market_with_card.currency_code) == ("Europe", "EUR")


def test_market_with_cards_can_be_renamed_and_one_without_can_change_currency(
    manager, login, tenant, actor, market_with_card
):
    client = login(manager)
    renamed = client.post(
        url("market", "change", market_with_card.pk), {"name": "Eurozone", "currency_code": "EUR"}
    )
    empty = catalogue.market_create(tenant=tenant, actor=actor, name="UK", currency_code="EUR")
    moved = client.post(url("market", "change", empty.pk), {"name": "UK", "currency_code": "gbp"})

    assert renamed.status_code == moved.status_code == 302
    assert Market.objects.get(pk=market_with_card.pk).name == "Eurozone"
    assert Market.objects.get(pk=empty.pk).currency_code == "GBP"


def test_market_given_a_card_after_the_form_check_is_a_message_not_a_500(
    manager, login, market, make_card, monkeypatch
):
    def validate_then_a_card_arrives(**kwargs):
        values = catalogue.market_validate(**kwargs)
        make_card(market=market)  # a cashier sells into the market meanwhile
        return values

    monkeypatch.setattr(MarketForm, "validate", staticmethod(validate_then_a_card_arrives))
    change = url("market", "change", market.pk)

    response = login(manager).post(change, {"name": "UK", "currency_code": "GBP"}, follow=True)

    assert response.redirect_chain == [(change, 302)]
    assert errors(response) == [
        "The market has gift cards in its currency; its currency cannot change. Nothing was saved."
    ]
    market.refresh_from_db()
    assert (market.name, market.currency_code) == ("Europe", "EUR")
    assert not LogEntry.objects.exists()


# ---------------------------------------------------------------------------- recipients


def test_deleting_a_recipient_of_cards_is_refused_and_the_cards_keep_it(
    manager, login, recipient, make_card
):
    card = make_card(recipient=recipient)

    response = login(manager).post(
        url("giftcardrecipient", "delete", recipient.pk), {"post": "yes"}, follow=True
    )

    assert "Gift cards are addressed to this recipient" in errors(response)[0]
    card.refresh_from_db()
    assert card.recipient_id == recipient.pk
    assert deletion_logs() == 0


def test_duplicate_recipient_email_in_another_case_is_a_form_error(cashier, login, recipient):
    response = login(cashier).post(
        url("giftcardrecipient", "add"), {"email": " ANN@example.com", "mode": "live"}
    )

    assert response.status_code == 200
    assert field_errors(response) == {
        "email": ["This business already has a recipient with that email."]
    }
    assert GiftCardRecipient.objects.count() == 1


def test_recipient_added_with_empty_metadata_gets_an_empty_object(cashier, login, business):
    response = login(cashier).post(
        url("giftcardrecipient", "add"),
        {"email": "bob@example.com ", "first_name": " Bob ", "mode": "live", "metadata": ""},
    )

    assert response.status_code == 302
    recipient = GiftCardRecipient.objects.get()
    assert (recipient.email, recipient.first_name, recipient.metadata) == (
        "bob@example.com",
        "Bob",
        {},
    )
    assert recipient.business == business


def test_recipient_change_saves_only_what_changed(cashier, login, recipient):
    response = login(cashier).post(
        url("giftcardrecipient", "change", recipient.pk),
        {"email": "ann@example.com", "first_name": "Ann", "metadata": '{"tier": 1}'},
    )

    assert response.status_code == 302
    recipient.refresh_from_db()
    assert (recipient.first_name, recipient.metadata) == ("Ann", {"tier": 1})


def test_metadata_that_is_not_an_object_is_a_form_error(cashier, login):
    response = login(cashier).post(
        url("giftcardrecipient", "add"), {"email": "a@x.io", "mode": "live", "metadata": "[1]"}
    )

    assert field_errors(response) == {"metadata": ["Metadata must be a JSON object."]}
    assert not GiftCardRecipient.objects.exists()


# ---------------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a,b", f"{catalogue.TAG_NAME_RULE} Refused: 'a,b'."),
        (" vip ", "This business already has a tag with that name."),
    ],
)
def test_bad_or_duplicate_tag_name_is_a_form_error(manager, login, tenant, actor, name, message):
    catalogue.tag_create(tenant=tenant, actor=actor, name="vip")

    response = login(manager).post(url("tag", "add"), {"name": name, "mode": "live"})

    assert field_errors(response) == {"name": [message]}
    assert Tag.objects.count() == 1


def test_deleting_a_tag_in_use_takes_it_off_its_cards(manager, login, tenant, actor, make_card):
    tag = catalogue.tag_create(tenant=tenant, actor=actor, name="vip")
    card = make_card(tags=[tag])

    response = login(manager).post(url("tag", "delete", tag.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Tag.objects.exists()
    assert not card.tags.exists()

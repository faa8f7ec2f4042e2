"""Recipients, markets and tags through giftcards.catalogue: each rule, and every refusal
leaves the catalogue and the cards exactly as they were."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, connection, transaction

from clients.services import client_create
from clients.tenancy import Mode, Tenant
from giftcards import catalogue, exceptions, services
from giftcards.models import GiftCard, GiftCardRecipient, Market, Tag

# ---------------------------------------------------------------------------- helpers


def state() -> dict:
    """Everything a refused call must leave as it was."""
    return {
        "recipients": list(GiftCardRecipient.objects.order_by("pk").values()),
        "markets": list(Market.objects.order_by("pk").values()),
        "tags": list(Tag.objects.order_by("pk").values()),
        "cards": list(GiftCard.objects.order_by("pk").values()),
        "card_tags": list(GiftCard.tags.through.objects.order_by("pk").values()),
    }


@contextmanager
def refused(error: type[Exception], match: str | None = None, field: str | None = None):
    """The block raises `error` (its message matching `match`, blaming `field`) and changes
    nothing."""
    before = state()
    with pytest.raises(error, match=match) as excinfo:
        yield excinfo
    if field is not None:
        assert excinfo.value.field == field
    assert state() == before


@pytest.fixture
def other_tenant(other_business):
    return Tenant(business=other_business, mode=Mode.LIVE)


@pytest.fixture
def test_mode_tenant(business):
    return Tenant(business=business, mode=Mode.TEST)


@pytest.fixture
def recipient(tenant, actor):
    return catalogue.recipient_create(tenant=tenant, actor=actor, email="Ann@Example.com")


@pytest.fixture
def market(tenant, actor):
    return catalogue.market_create(tenant=tenant, actor=actor, name="Europe", currency_code="EUR")


@pytest.fixture
def tag(tenant, actor):
    return catalogue.tag_create(tenant=tenant, actor=actor, name="vip")


@pytest.fixture
def skip_first_uniqueness_check(monkeypatch):
    """The check before the insert finds nothing, as when a concurrent write lands between
    the check and the insert; the unique constraint must then speak, as the same error."""
    real, calls = catalogue._refuse_taken, []

    def check(*args, **kwargs):
        calls.append(args)
        if len(calls) > 1:
            real(*args, **kwargs)

    monkeypatch.setattr(catalogue, "_refuse_taken", check)
    return calls


# ---------------------------------------------------------------------------- recipients


def test_recipient_is_created_in_the_tenant_with_email_and_names_stripped(tenant, actor):
    recipient = catalogue.recipient_create(
        tenant=tenant,
        actor=actor,
        email="  Ann@Example.com ",
        first_name=" Ann ",
        last_name="Lee ",
        reference="crm-1",
        metadata={"tier": "gold"},
    )
    recipient = GiftCardRecipient.objects.get(pk=recipient.pk)
    assert (recipient.business, recipient.mode) == (tenant.business, tenant.mode)
    assert recipient.email == "Ann@Example.com"  # stored as given, matched ignoring case
    assert (recipient.first_name, recipient.last_name) == ("Ann", "Lee")
    assert recipient.reference == "crm-1"
    assert recipient.metadata == {"tier": "gold"}


def test_recipient_without_metadata_gets_an_empty_object(tenant, actor):
    recipient = catalogue.recipient_create(
        tenant=tenant, actor=actor, email="a@x.io", metadata=None
    )
    assert GiftCardRecipient.objects.get(pk=recipient.pk).metadata == {}


@pytest.mark.parametrize("email", ["ann@example.com", " ANN@EXAMPLE.COM "])
def test_second_recipient_with_the_same_email_in_any_case_is_refused(
    recipient, tenant, actor, email
):
    with refused(exceptions.Duplicate, "already has a recipient with that email", "email"):
        catalogue.recipient_create(tenant=tenant, actor=actor, email=email)


def test_same_email_is_free_in_the_other_mode_and_in_another_business(
    recipient, test_mode_tenant, other_tenant, actor
):
    for tenant in (test_mode_tenant, other_tenant):
        catalogue.recipient_create(tenant=tenant, actor=actor, email="ann@example.com")
    assert GiftCardRecipient.objects.filter(email__iexact="ann@example.com").count() == 3


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ("", exceptions.InvalidEmail),
        ("   ", exceptions.InvalidEmail),
        ("not-an-email", exceptions.InvalidEmail),
        (None, exceptions.InvalidEmail),
        (f"{'a' * 250}@x.io", exceptions.InvalidEmail),
    ],
)
def test_recipient_with_an_invalid_email_is_refused(tenant, actor, email, error):
    with refused(error, field="email"):
        catalogue.recipient_create(tenant=tenant, actor=actor, email=email)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "x" * 101),
        ("last_name", 5),
        ("reference", "r" * 256),
        ("metadata", ["not", "an", "object"]),
    ],
)
def test_recipient_with_an_attribute_that_cannot_be_stored_is_refused(tenant, actor, field, value):
    with refused(exceptions.InvalidValue, field=field):
        catalogue.recipient_create(tenant=tenant, actor=actor, email="a@x.io", **{field: value})


def test_recipient_client_must_be_of_the_same_business_and_mode(
    tenant, test_mode_tenant, other_tenant, actor
):
    for elsewhere in (test_mode_tenant, other_tenant):
        client = client_create(tenant=elsewhere, actor=actor, first_name="Ada")
        with refused(exceptions.GiftCardError, "client does not exist", "client"):
            catalogue.recipient_create(tenant=tenant, actor=actor, email="a@x.io", client=client)
    own = client_create(tenant=tenant, actor=actor, first_name="Ada")
    recipient = catalogue.recipient_create(tenant=tenant, actor=actor, email="a@x.io", client=own)
    assert recipient.client == own


def test_recipient_update_changes_only_what_it_is_given(recipient, actor):
    updated = catalogue.recipient_update(
        recipient=recipient, actor=actor, first_name=" Ann ", reference="crm-2"
    )
    row = GiftCardRecipient.objects.get(pk=recipient.pk)
    assert (row.email, row.first_name, row.reference) == ("Ann@Example.com", "Ann", "crm-2")
    assert updated.first_name == "Ann"


def test_recipient_may_change_the_case_of_its_own_email(recipient, actor):
    catalogue.recipient_update(recipient=recipient, actor=actor, email="ann@example.com")
    assert GiftCardRecipient.objects.get(pk=recipient.pk).email == "ann@example.com"


def test_recipient_update_to_another_recipients_email_is_refused(recipient, tenant, actor):
    other = catalogue.recipient_create(tenant=tenant, actor=actor, email="bob@example.com")
    with refused(exceptions.Duplicate, field="email"):
        catalogue.recipient_update(
            recipient=other, actor=actor, email="ANN@example.com", first_name="Bob"
        )


def test_recipient_update_of_an_unknown_field_is_refused(recipient, actor):
    with refused(exceptions.GiftCardError, field="business"):
        catalogue.recipient_update(recipient=recipient, actor=actor, business=None)


def test_recipient_update_works_on_the_stored_row_not_a_stale_copy(recipient, actor):
    stale = GiftCardRecipient.objects.get(pk=recipient.pk)
    catalogue.recipient_update(recipient=recipient, actor=actor, first_name="Ann")
    updated = catalogue.recipient_update(recipient=stale, actor=actor, last_name="Lee")
    assert (updated.first_name, updated.last_name) == ("Ann", "Lee")
    row = GiftCardRecipient.objects.get(pk=recipient.pk)
    assert (row.first_name, row.last_name) == ("Ann", "Lee")


def test_recipient_update_without_changes_writes_nothing(recipient, actor):
    with_changes = {"email": " Ann@Example.com ", "first_name": ""}
    before = state()
    catalogue.recipient_update(recipient=recipient, actor=actor, **with_changes)
    assert state() == before  # not even updated_at


def test_recipient_rules_agree_with_find_or_create(recipient, tenant, actor):
    found = services.recipient_find_or_create(tenant=tenant, email=" ann@EXAMPLE.com")
    assert found.pk == recipient.pk
    services.recipient_find_or_create(tenant=tenant, email="bob@example.com")
    with refused(exceptions.Duplicate):
        catalogue.recipient_create(tenant=tenant, actor=actor, email="Bob@Example.com")


def test_recipient_without_cards_is_deleted(recipient, actor):
    catalogue.recipient_delete(recipient=recipient, actor=actor)
    assert not GiftCardRecipient.objects.exists()


def test_recipient_of_a_card_is_not_deleted(recipient, make_card, actor):
    make_card(recipient=recipient)
    with refused(exceptions.RecipientInUse, "Gift cards are addressed to this recipient"):
        catalogue.recipient_delete(recipient=recipient, actor=actor)


def test_recipient_of_a_soft_deleted_card_is_not_deleted_either(recipient, make_card, actor):
    services.card_soft_delete(card=make_card(recipient=recipient), actor=actor)
    with refused(exceptions.RecipientInUse):
        catalogue.recipient_delete(recipient=recipient, actor=actor)


def test_lost_race_for_a_recipient_email_is_the_same_duplicate_error(
    recipient, tenant, actor, skip_first_uniqueness_check
):
    with refused(exceptions.Duplicate, field="email"):
        catalogue.recipient_create(tenant=tenant, actor=actor, email="ANN@example.com")
    assert skip_first_uniqueness_check  # the constraint, not the check, stopped the insert


def test_lost_race_for_a_recipient_email_on_update_is_the_same_duplicate_error(
    recipient, tenant, actor, skip_first_uniqueness_check
):
    other = GiftCardRecipient.objects.create(
        business=tenant.business, mode=tenant.mode, email="bob@example.com"
    )
    with refused(exceptions.Duplicate, field="email"):
        catalogue.recipient_update(recipient=other, actor=actor, email="ann@example.com")


def test_an_integrity_error_that_is_no_duplicate_is_not_disguised_as_one(
    tenant, actor, monkeypatch
):
    def broken_save(self, *args, **kwargs):
        raise IntegrityError("some other constraint")

    monkeypatch.setattr(GiftCardRecipient, "save", broken_save)
    with pytest.raises(IntegrityError):
        catalogue.recipient_create(tenant=tenant, actor=actor, email="a@x.io")


# ---------------------------------------------------------------------------- markets


def test_market_currency_is_upper_cased_and_the_name_stripped(tenant, actor):
    market = catalogue.market_create(
        tenant=tenant, actor=actor, name="  Europe ", currency_code=" eur "
    )
    row = Market.objects.get(pk=market.pk)
    assert (row.name, row.currency_code) == ("Europe", "EUR")
    assert (row.business, row.mode) == (tenant.business, tenant.mode)


@pytest.mark.parametrize("currency_code", ["XXX", "EURO", "E", "", "DEM", 978, None])
def test_market_currency_must_be_a_current_iso_4217_code(tenant, actor, currency_code):
    with refused(exceptions.InvalidCurrency, "is not an ISO 4217 currency code", "currency_code"):
        catalogue.market_create(tenant=tenant, actor=actor, name="X", currency_code=currency_code)


@pytest.mark.parametrize("name", ["", "   ", "n" * 201, None])
def test_market_name_is_not_empty_and_fits(tenant, actor, name):
    with refused(exceptions.InvalidName, field="name"):
        catalogue.market_create(tenant=tenant, actor=actor, name=name, currency_code="EUR")


def test_market_without_cards_may_change_currency(market, actor):
    updated = catalogue.market_update(market=market, actor=actor, currency_code="gbp")
    assert updated.currency_code == "GBP"
    assert Market.objects.get(pk=market.pk).currency_code == "GBP"


def test_market_with_cards_keeps_its_currency(market, make_card, actor):
    make_card(market=market, currency_code="EUR")
    with refused(exceptions.MarketInUse, "its currency cannot change", "currency_code"):
        catalogue.market_update(market=market, actor=actor, currency_code="GBP", name="Renamed")


def test_market_with_cards_may_be_renamed_and_given_its_own_currency(market, make_card, actor):
    make_card(market=market, currency_code="EUR")
    catalogue.market_update(market=market, actor=actor, name="Eurozone", currency_code="eur")
    row = Market.objects.get(pk=market.pk)
    assert (row.name, row.currency_code) == ("Eurozone", "EUR")


def test_market_currency_check_reads_the_stored_row_not_a_stale_copy(market, make_card, actor):
    stale = Market.objects.get(pk=market.pk)
    stale.currency_code = "GBP"  # e.g. a form's copy holding what staff typed
    make_card(market=market, currency_code="EUR")
    with refused(exceptions.MarketInUse):
        catalogue.market_update(market=stale, actor=actor, currency_code="GBP")


def test_market_update_of_an_unknown_field_is_refused(market, actor):
    with refused(exceptions.GiftCardError, field="mode"):
        catalogue.market_update(market=market, actor=actor, mode="test")


def test_market_without_cards_is_deleted(market, actor):
    catalogue.market_delete(market=market, actor=actor)
    assert not Market.objects.exists()


def test_market_with_cards_is_not_deleted(market, make_card, actor):
    make_card(market=market, currency_code="EUR")
    with refused(exceptions.MarketInUse, "The market has gift cards; it cannot be deleted."):
        catalogue.market_delete(market=market, actor=actor)


def test_market_with_only_soft_deleted_cards_is_not_deleted_either(market, make_card, actor):
    services.card_soft_delete(card=make_card(market=market, currency_code="EUR"), actor=actor)
    with refused(exceptions.MarketInUse):
        catalogue.market_delete(market=market, actor=actor)


def test_market_delete_missed_by_the_check_is_stopped_by_protect(
    market, make_card, actor, monkeypatch
):
    make_card(market=market, currency_code="EUR")
    monkeypatch.setattr(catalogue, "market_validate_delete", lambda **kwargs: None)
    with refused(exceptions.MarketInUse):
        catalogue.market_delete(market=market, actor=actor)


# ---------------------------------------------------------------------------- tags


def test_tag_name_is_stripped(tenant, actor):
    tag = catalogue.tag_create(tenant=tenant, actor=actor, name="  summer-sale ")
    assert Tag.objects.get(pk=tag.pk).name == "summer-sale"


RULE = "letter \\(a-z, A-Z\\), a digit"


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", RULE),
        ("   ", RULE),
        ("a,b", RULE),
        (",", RULE),
        ("summer sale", RULE),
        ("caf\u00e9", RULE),
        ("vip!", RULE),
        ("t" * 26, "1 to 25 characters"),
        ("t" * 101, "at most 100 characters"),
        (7, "must be text"),
    ],
)
def test_tag_name_follows_commerce_layers_rule(tenant, actor, name, match):
    with refused(exceptions.InvalidName, match, "name"):
        catalogue.tag_create(tenant=tenant, actor=actor, name=name)
    assert not Tag.objects.exists()


@pytest.mark.parametrize("name", ["vip", "VIP-2025", "gift_card", "season:summer", "t" * 25])
def test_tag_names_of_letters_digits_dashes_underscores_and_colons_are_accepted(
    tenant, actor, name
):
    assert catalogue.tag_create(tenant=tenant, actor=actor, name=name).name == name


def test_a_tag_stored_before_the_rule_keeps_its_name_but_takes_no_new_bad_one(tenant, actor):
    legacy = Tag.objects.create(business=tenant.business, mode=tenant.mode, name="summer sale")
    assert catalogue.tag_update(tag=legacy, actor=actor, name="summer sale").name == "summer sale"
    with refused(exceptions.InvalidName, RULE, "name"):
        catalogue.tag_update(tag=legacy, actor=actor, name="winter sale")
    assert catalogue.tag_update(tag=legacy, actor=actor, name="summer-sale").name == "summer-sale"


@pytest.mark.parametrize("name", ["vip", " vip "])
def test_second_tag_with_the_same_name_is_refused(tag, tenant, actor, name):
    with refused(exceptions.Duplicate, "already has a tag with that name", "name"):
        catalogue.tag_create(tenant=tenant, actor=actor, name=name)


def test_tag_names_differing_in_case_are_different_tags(tag, tenant, actor):
    # As the database constraint and `_add_tags` (services.card_set_tags) match them.
    catalogue.tag_create(tenant=tenant, actor=actor, name="VIP")
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["VIP", "vip"]


def test_same_tag_name_is_free_in_the_other_mode_and_in_another_business(
    tag, test_mode_tenant, other_tenant, actor
):
    for tenant in (test_mode_tenant, other_tenant):
        catalogue.tag_create(tenant=tenant, actor=actor, name="vip")
    assert Tag.objects.filter(name="vip").count() == 3


def test_tag_rename_to_another_tags_name_is_refused(tag, tenant, actor):
    other = catalogue.tag_create(tenant=tenant, actor=actor, name="summer")
    with refused(exceptions.Duplicate, field="name"):
        catalogue.tag_update(tag=other, actor=actor, name="vip")


def test_tag_rename_keeps_it_on_its_cards(tag, make_card, actor):
    card = make_card(tags=[tag])
    catalogue.tag_update(tag=tag, actor=actor, name=" gold ")
    assert list(card.tags.values_list("name", flat=True)) == ["gold"]


def test_tag_made_here_is_the_one_cards_get_by_name(tag, make_card, actor):
    card = make_card()
    services.card_set_tags(card=card, actor=actor, add=["vip"])
    assert list(card.tags.all()) == [tag]
    assert Tag.objects.count() == 1


def test_tag_of_cards_is_deleted_and_the_cards_lose_it(tag, make_card, actor):
    # Unlike a market or a recipient a tag is a label, not a reference: the JSON:API has
    # always deleted tags in use (tests/giftcards/jsonapi/test_resources.py::test_tag_crud).
    card = make_card(tags=[tag])
    catalogue.tag_delete(tag=tag, actor=actor)
    assert not Tag.objects.exists()
    assert GiftCard.objects.filter(pk=card.pk).exists()
    assert not card.tags.exists()


def test_lost_race_for_a_tag_name_is_the_same_duplicate_error(
    tag, tenant, actor, skip_first_uniqueness_check
):
    with refused(exceptions.Duplicate, field="name"):
        catalogue.tag_create(tenant=tenant, actor=actor, name="vip")


def test_lost_race_for_a_tag_name_on_rename_is_the_same_duplicate_error(
    tag, tenant, actor, skip_first_uniqueness_check
):
    other = Tag.objects.create(business=tenant.business, mode=tenant.mode, name="summer")
    with refused(exceptions.Duplicate, field="name"):
        catalogue.tag_update(tag=other, actor=actor, name="vip")


# ---------------------------------------------------------------------------- real races


def run_together(calls):
    """Each call in its own thread (and database connection); its result or exception."""

    def worker(call):
        try:
            return call()
        except Exception as exc:  # judged by the test
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(worker, calls))


def _both_pass_the_check_first(monkeypatch, parties: int) -> None:
    """Each thread's first uniqueness check waits for the others' before anyone inserts, so
    every insert but one must be stopped by the unique constraint."""
    real, barrier, seen = catalogue._refuse_taken, threading.Barrier(parties, timeout=30), set()

    def check(*args, **kwargs):
        real(*args, **kwargs)
        if threading.get_ident() not in seen:
            seen.add(threading.get_ident())
            barrier.wait()

    monkeypatch.setattr(catalogue, "_refuse_taken", check)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_recipients_racing_for_one_email_one_wins_the_other_is_a_duplicate(
    tenant, actor, monkeypatch
):
    assert connection.vendor == "postgresql"
    _both_pass_the_check_first(monkeypatch, 2)

    results = run_together(
        [
            lambda email=email: catalogue.recipient_create(tenant=tenant, actor=actor, email=email)
            for email in ("ann@example.com", "ANN@example.com")
        ]
    )

    created = [r for r in results if isinstance(r, GiftCardRecipient)]
    duplicates = [r for r in results if isinstance(r, exceptions.Duplicate)]
    assert (len(created), len(duplicates)) == (1, 1), results
    assert duplicates[0].field == "email"
    assert GiftCardRecipient.objects.filter(email__iexact="ann@example.com").count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_tags_racing_for_one_name_one_wins_the_other_is_a_duplicate(tenant, actor, monkeypatch):
    _both_pass_the_check_first(monkeypatch, 2)

    results = run_together(
        [lambda: catalogue.tag_create(tenant=tenant, actor=actor, name="vip")] * 2
    )

    assert sorted(type(r).__name__ for r in results) == ["Duplicate", "Tag"], results
    assert Tag.objects.filter(name="vip").count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_card_issued_while_its_market_changes_currency_gets_the_new_currency(tenant, actor):
    """market_update locks the market and changes its currency; a card issued meanwhile
    (its caller holding the market as it was) waits and takes the committed currency."""
    market = catalogue.market_create(tenant=tenant, actor=actor, name="Web", currency_code="USD")
    locked, released = threading.Event(), threading.Event()

    def change_currency():
        with transaction.atomic():
            row = Market.objects.select_for_update().get(pk=market.pk)
            row.currency_code = "EUR"
            row.save(update_fields=["currency_code"])
            locked.set()
            released.wait(timeout=30)
        return row

    def issue():
        assert locked.wait(timeout=30)
        threading.Timer(0.5, released.set).start()  # commit the change while issue waits
        return services.card_issue(tenant=tenant, actor=actor, balance_cents=100, market=market)

    _, card = run_together([change_currency, issue])

    assert not isinstance(card, Exception), card
    assert card.currency_code == "EUR"
    assert GiftCard.objects.get(pk=card.pk).currency_code == Market.objects.get().currency_code

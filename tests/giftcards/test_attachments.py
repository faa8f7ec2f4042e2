"""Attachments through giftcards.attachments: what they may be for, their URL, and that a
deleted recipient or market takes its attachments with it."""

from __future__ import annotations

import pytest

from clients.tenancy import Mode, Tenant
from giftcards import attachments, catalogue, exceptions, services
from giftcards.models import Attachment


@pytest.fixture
def market(tenant, actor):
    return catalogue.market_create(tenant=tenant, actor=actor, name="EU", currency_code="EUR")


@pytest.fixture
def recipient(tenant, actor):
    return catalogue.recipient_create(tenant=tenant, actor=actor, email="ann@example.com")


def attach(tenant, actor, attachable_type, attachable_id, **fields):
    fields.setdefault("name", "Terms")
    return attachments.attachment_create(
        tenant=tenant,
        actor=actor,
        attachable_type=attachable_type,
        attachable_id=attachable_id,
        **fields,
    )


def test_an_attachment_is_for_a_card_a_recipient_or_a_market_of_the_tenant(
    tenant, actor, make_card, market, recipient
):
    card = make_card()
    for type_, pk in (
        ("gift_cards", card.pk),
        ("gift_card_recipients", recipient.pk),
        ("markets", market.pk),
    ):
        made = attach(tenant, actor, type_, str(pk), url=" https://example.com/t.pdf ")
        assert (made.attachable_type, made.attachable_id) == (type_, str(pk))
        assert made.url == "https://example.com/t.pdf"
        assert (made.business, made.mode) == (tenant.business, tenant.mode)


@pytest.mark.parametrize("other", ["other business", "test mode"])
def test_another_tenants_rows_cannot_be_attached_to(
    tenant, actor, other_business, business, make_card, other
):
    if other == "other business":
        elsewhere = Tenant(business=other_business, mode=Mode.LIVE)
    else:
        elsewhere = Tenant(business=business, mode=Mode.TEST)
    card = make_card(tenant=elsewhere)
    market = catalogue.market_create(tenant=elsewhere, actor=actor, name="X", currency_code="USD")
    for type_, pk in (("gift_cards", card.pk), ("markets", str(market.pk))):
        with pytest.raises(exceptions.AttachableNotFound) as refused:
            attach(tenant, actor, type_, pk)
        assert refused.value.subject == "attachable"
    assert not Attachment.objects.exists()


@pytest.mark.parametrize("pk", ["", "abc", "1" * 30, "1\n", "x" * 22])
def test_ids_that_cannot_be_a_row_are_not_found(tenant, actor, pk):
    for type_ in ("gift_cards", "markets"):
        with pytest.raises(exceptions.AttachableNotFound):
            attach(tenant, actor, type_, pk)


def test_a_deleted_card_takes_no_new_attachment_but_keeps_its_own(tenant, actor, make_card):
    card = make_card()
    kept = attach(tenant, actor, "gift_cards", card.pk)
    services.card_soft_delete(card=card.pk, tenant=tenant, actor=actor)
    with pytest.raises(exceptions.AttachableNotFound):
        attach(tenant, actor, "gift_cards", card.pk)
    assert list(Attachment.objects.all()) == [kept]


@pytest.mark.parametrize("type_", ["tags", "webhooks", "", None])
def test_other_types_are_invalid(tenant, actor, type_):
    with pytest.raises(exceptions.InvalidValue) as refused:
        attach(tenant, actor, type_, "1")
    assert refused.value.subject == "attachable"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a",
        "javascript:alert(1)",
        "example.com/a.pdf",
        "https://",
        "https://exa mple.com/",
        "https://example.com:port/",
        "https://example.com/" + "a" * 2000,
        5,
    ],
)
def test_urls_are_http_or_https_and_at_most_2000_characters(tenant, actor, market, url):
    with pytest.raises(exceptions.InvalidValue) as refused:
        attach(tenant, actor, "markets", str(market.pk), url=url)
    assert refused.value.subject == "url"
    assert not Attachment.objects.exists()


def test_a_name_is_required_and_text_is_bounded(tenant, actor, market):
    for fields, subject in (
        ({"name": "  "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"description": "x" * 10_001}, "description"),
        ({"reference": "a\x00b"}, "reference"),
        ({"metadata": ["x"]}, "metadata"),
    ):
        with pytest.raises(exceptions.InvalidValue) as refused:
            attach(tenant, actor, "markets", str(market.pk), **fields)
        assert refused.value.subject == subject


def test_update_moves_and_renames(tenant, actor, market, recipient):
    made = attach(tenant, actor, "markets", str(market.pk))
    updated = attachments.attachment_update(
        attachment=made,
        actor=actor,
        name="Proof",
        attachable_type="gift_card_recipients",
        attachable_id=str(recipient.pk),
    )
    stored = Attachment.objects.get(pk=made.pk)
    assert (stored.name, stored.attachable_type, stored.attachable_id) == (
        "Proof",
        "gift_card_recipients",
        str(recipient.pk),
    )
    assert updated.updated_at == stored.updated_at


def test_deleting_a_recipient_or_a_market_deletes_their_attachments(
    tenant, actor, market, recipient, make_card
):
    card = make_card()
    attach(tenant, actor, "markets", str(market.pk))
    attach(tenant, actor, "gift_card_recipients", str(recipient.pk))
    on_card = attach(tenant, actor, "gift_cards", card.pk)
    catalogue.market_delete(market=market, actor=actor)
    catalogue.recipient_delete(recipient=recipient, actor=actor)
    assert list(Attachment.objects.all()) == [on_card]


def test_a_refused_delete_keeps_the_attachments(tenant, actor, market, make_card):
    make_card(market=market, currency_code="EUR")
    made = attach(tenant, actor, "markets", str(market.pk))
    with pytest.raises(exceptions.MarketInUse):
        catalogue.market_delete(market=market, actor=actor)
    assert list(Attachment.objects.all()) == [made]

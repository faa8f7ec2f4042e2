"""The admin's metadata fields: JSON whose text no store can hold (a NUL, a lone surrogate,
typed as `\\u` escapes) or a number too large to be finite is a form error or a refusal,
never a 500, on both engines; the page shows back what was typed."""

from __future__ import annotations

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import escape

from giftcards.models import GiftCardRecipient

CARD_FORM = {
    "rechargeable": "on",
    "distribute_discount": "on",
    "ledger-TOTAL_FORMS": "0",
    "ledger-INITIAL_FORMS": "0",
}
BAD_JSON = [
    '{"a": "\\u0000"}',
    '{"a": "\\ud800"}',
    '{"\\u0000": 1}',
    '{"a": ["x\\udfff"]}',
    '{"a": 1e999}',  # infinity: no JSON column holds it
    '{"a": [-1E400]}',
]


@pytest.fixture
def manager(make_staff, login):
    return login(make_staff("manager"))


@pytest.mark.parametrize("typed", BAD_JSON)
def test_card_metadata_with_bad_text_is_a_form_error(manager, make_card, typed):
    card = make_card(metadata={"kept": 1})

    response = manager.post(
        reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)]),
        {**CARD_FORM, "metadata": typed},
    )

    assert response.status_code == 200
    assert "metadata" in response.context["adminform"].form.errors
    assert escape(typed) in response.content.decode()  # as typed, in the textarea
    card.refresh_from_db()
    assert card.metadata == {"kept": 1}


@pytest.mark.parametrize("typed", BAD_JSON)
def test_recipient_metadata_with_bad_text_is_a_form_error(manager, tenant, typed):
    recipient = GiftCardRecipient.objects.create(
        business=tenant.business, mode=tenant.mode, email="ann@example.com", metadata={"k": 1}
    )

    response = manager.post(
        reverse("admin:giftcards_giftcardrecipient_change", args=[recipient.pk]),
        {"email": "ann@example.com", "metadata": typed},
    )

    assert response.status_code == 200
    assert "metadata" in response.context["adminform"].form.errors
    recipient.refresh_from_db()
    assert recipient.metadata == {"k": 1}

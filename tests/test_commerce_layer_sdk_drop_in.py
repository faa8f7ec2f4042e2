"""The Commerce Layer JS SDK as a drop-in client (tests/sdk/drop_in.mjs), unmodified but for
the URL, against a live server: a refused create read through the SDK's ApiError, lists
filtered by market id, tag names and `_or_` with `_any`, and a card created with tags by
relationship (then retagged by an update, which replaces its tags).

Needs Node.js 20 and the SDK installed in tests/sdk, as tests/test_commerce_layer_sdk.py."""

from __future__ import annotations

import pytest

from giftcards import services
from giftcards.models import GiftCard, Market, Tag
from tests.test_commerce_layer_sdk import run_sdk


@pytest.mark.django_db(transaction=True)
def test_the_commerce_layer_sdk_as_a_drop_in_client(live_server, make_card, api_key, actor):
    tenant_args = {"business": api_key[0].business, "mode": api_key[0].mode}
    europe = Market.objects.create(**tenant_args, name="Europe", currency_code="USD")
    a = make_card(reference="sdk-a", market=europe)
    b = make_card(reference="sdk-b", market=europe)
    c = make_card(reference="sdk-c")
    make_card(reference="sdk-d")
    services.card_set_tags(card=a, actor=actor, add=["vip", "summer"])  # two matching tags
    services.card_set_tags(card=c, actor=actor, add=["summer"])
    services.card_set_tags(card=b, actor=actor, add=["winter"])
    gift = Tag.objects.create(**tenant_args, name="gift")

    result = run_sdk(
        "drop_in.mjs", live_server, api_key, MARKET_ID=str(europe.pk), TAG_ID=str(gift.pk)
    )

    assert result["by_market"] == ["sdk-a", "sdk-b"]
    assert result["by_market_count"] == 2
    assert result["by_tags"] == ["sdk-a", "sdk-c"]
    assert result["by_tags_count"] == 2
    assert result["by_or_any"] == ["sdk-a", "sdk-c"]
    assert result["created_tags"] == [{"id": str(gift.pk), "name": "gift"}]
    assert result["related_tags"] == ["gift"]
    assert result["retagged"] == ["vip"]
    tagged = GiftCard.objects.get(reference="sdk-tagged")
    assert list(tagged.tags.values_list("name", flat=True)) == ["vip"]
    assert GiftCard.history.filter(id=tagged.pk).count() == 2  # issued, then retagged

    refused = result["refused"]
    assert refused["is_api_error"] is True
    assert refused["pointer"] == "/data/attributes/balance_cents"
    assert not GiftCard.objects.filter(balance_cents__lt=0).exists()
    # Commerce Layer's status and code for a refused attribute.
    assert (refused["status"], refused["code"]) == (422, "VALIDATION_ERROR")

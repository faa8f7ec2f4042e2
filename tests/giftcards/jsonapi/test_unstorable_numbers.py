"""A number JSON cannot write back: Python reads 1e999 as infinity, which no JSON column holds
(SQLite's JSON_VALID check and PostgreSQL's jsonb refuse `Infinity`), so it failed the
insert, a 500. Anywhere in a request document it is a 400 pointing at it, and nothing is
written."""

from __future__ import annotations

import pytest

from giftcards.models import Attachment, GiftCard, GiftCardRecipient, Market, Webhook
from tests.giftcards.jsonapi.helpers import error


def _post(api, type_: str, attributes: str, relationships: str = "") -> object:
    extra = f', "relationships": {relationships}' if relationships else ""
    body = f'{{"data": {{"type": "{type_}", "attributes": {attributes}{extra}}}}}'
    return api.request("post", f"/api/{type_}", body=body)


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1E400"])
@pytest.mark.parametrize(
    ("type_", "attributes", "model"),
    [
        ("gift_cards", '{"balance_cents": 100, "metadata": {"a": [1, NUMBER]}}', GiftCard),
        (
            "gift_card_recipients",
            '{"email": "a@example.com", "metadata": {"a": [1, NUMBER]}}',
            GiftCardRecipient,
        ),
        (
            "webhooks",
            '{"topic": "gift_cards.create", "callback_url": "http://127.0.0.1:9/x", '
            '"metadata": {"a": [1, NUMBER]}}',
            Webhook,
        ),
        ("attachments", '{"name": "terms", "metadata": {"a": [1, NUMBER]}}', Attachment),
    ],
)
def test_an_infinite_number_is_a_400_pointing_at_it(
    api, tenant, settings, number, type_, attributes, model
):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    market = Market.objects.create(
        business=tenant.business, mode=tenant.mode, name="Shop", currency_code="USD"
    )
    relationships = (
        f'{{"attachable": {{"data": {{"type": "markets", "id": "{market.pk}"}}}}}}'
        if type_ == "attachments"
        else ""
    )
    response = _post(api, type_, attributes.replace("NUMBER", number), relationships)
    found = error(response, 400)
    assert found["source"] == {"pointer": "/data/attributes/metadata/a/1"}
    assert "finite" in found["detail"]
    assert model.objects.count() == 0

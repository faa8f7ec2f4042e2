"""Whole documents, pinned: what a client receives for a card with everything, listed, read,
written, sparse and included, with ids, codes and times replaced by stable placeholders.

The files under `documents/` were recorded from the service; a change of shape (a member
added, renamed, moved or reordered in a list) fails here first. Rerecord one on purpose with
`GIFTCARDS_RECORD_DOCUMENTS=1 pytest tests/giftcards/jsonapi/test_documents.py`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from giftcards import services
from giftcards.models import GiftCardRecipient, Market
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import card_url, patch_card

DOCUMENTS = Path(__file__).resolve().parent / "documents"
RECORD = os.environ.get("GIFTCARDS_RECORD_DOCUMENTS") == "1"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
INCLUDES = "gift_card_recipient,market,tags"


class Placeholders:
    """Replaces ids, codes and times with placeholders, so two runs of the same story (on
    either engine, whose integer ids differ) give the same document. Integer ids are numbered
    per resource type in order of appearance."""

    def __init__(self, values: dict[str, str]):
        self.names = dict(values)

    def __call__(self, document):
        numbers: dict[tuple[str, str], str] = {}

        def collect(node):
            if isinstance(node, dict):
                if isinstance(node.get("type"), str) and str(node.get("id", "")).isdigit():
                    key = (node["type"], node["id"])
                    numbers.setdefault(key, f"<{node['type']}-{len(numbers) + 1}>")
                for value in node.values():
                    collect(value)
            elif isinstance(node, list):
                for value in node:
                    collect(value)

        collect(document)
        text = json.dumps(document)
        for value, name in sorted(self.names.items(), key=lambda item: -len(item[0])):
            text = text.replace(value, name)
        for (type_, number), name in numbers.items():
            text = text.replace(
                f'"type": "{type_}", "id": "{number}"', f'"type": "{type_}", "id": "{name}"'
            )
            text = text.replace(
                f'"id": "{number}", "type": "{type_}"', f'"id": "{name}", "type": "{type_}"'
            )
            text = re.sub(rf"/api/{type_}/{number}(?=[/\"?])", f"/api/{type_}/{name}", text)
        text = TIMESTAMP.sub("<time>", text)
        return json.loads(text)


@pytest.fixture
def story(api, tenant, actor, make_card):
    """Two cards: one with a recipient, a market, tags and ledger rows filed under orders;
    one bare."""
    market = Market.objects.create(
        business=tenant.business, mode=tenant.mode, name="US", currency_code="USD"
    )
    recipient = GiftCardRecipient.objects.create(
        business=tenant.business, mode=tenant.mode, email="ann@example.com", first_name="Ann"
    )
    full = make_card(
        code="FULLCARD0001",
        recipient=recipient,
        market=market,
        balance_cents=10_000,
        balance_max_cents=50_000,
        reference="ERP-1",
        metadata={"channel": "web"},
    )
    services.card_debit(card=full, amount_cents=1_250, actor=actor, order_reference="A-1")
    services.card_recharge(card=full, amount_cents=500, actor=actor)
    services.card_set_tags(card=full, actor=actor, add=["vip", "summer"])
    bare = make_card(code="BARECARD0002", balance_cents=700, status="draft")
    placeholders = Placeholders(
        {
            full.pk: "<card-1>",
            bare.pk: "<card-2>",
            "FULLCARD0001": "<code-1>",
            "BARECARD0002": "<code-2>",
        }
    )
    api.get("/api/tags")  # the key's first call records last_used_at
    return {"full": full.pk, "bare": bare.pk, "normalise": placeholders}


def check(name: str, response, story) -> None:
    document = story["normalise"](
        {"status": response.status_code, "document": response.doc, "etag": "ETag" in response}
    )
    path = DOCUMENTS / f"{name}.json"
    if RECORD:
        DOCUMENTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    expected = json.loads(path.read_text())
    assert document == expected


def test_list_with_includes(api, story):
    response = api.get("/api/gift_cards", {"page[size]": 1, "include": INCLUDES})
    check("list_with_includes", response, story)


def test_list_second_page(api, story):
    response = api.get("/api/gift_cards", {"page[size]": 1, "page[number]": 2})
    check("list_second_page", response, story)


def test_detail(api, story):
    check("detail", api.get(card_url(story["full"])), story)


def test_detail_with_includes_and_sparse_fields(api, story):
    response = api.get(
        card_url(story["full"]),
        {
            "include": INCLUDES,
            "fields[gift_cards]": "balance_cents,formatted_balance,tags,market",
            "fields[tags]": "name",
        },
    )
    check("detail_sparse", response, story)


def test_bare_card(api, story):
    check("bare", api.get(card_url(story["bare"])), story)


def test_related_and_relationship_documents(api, story):
    base = card_url(story["full"])
    check("related_market", api.get(f"{base}/market"), story)
    check("related_recipient", api.get(f"{base}/gift_card_recipient"), story)
    check("related_tags", api.get(f"{base}/tags"), story)
    check("relationship_tags", api.get(f"{base}/relationships/tags"), story)
    check("relationship_market", api.get(f"{base}/relationships/market"), story)
    bare = card_url(story["bare"])
    check("related_market_none", api.get(f"{bare}/market"), story)


def test_patch_debit(api, story):
    check("patch_debit", patch_card(api, story["full"], {"_balance_change_cents": -100}), story)


def test_patch_debit_sparse(api, story):
    response = api.patch(
        card_url(story["full"]),
        resource("gift_cards", {"_balance_change_cents": -100}, id_=story["full"]),
        params={"fields[gift_cards]": "balance_cents"},
    )
    check("patch_debit_sparse", response, story)


def test_create(api, story):
    response = api.post(
        "/api/gift_cards",
        resource("gift_cards", {"balance_cents": 2_500, "code": "NEWCARD00003"}),
    )
    story["normalise"].names[response.doc["data"]["id"]] = "<card-3>"
    story["normalise"].names["NEWCARD00003"] = "<code-3>"
    check("create", response, story)


def test_errors(api, story):
    response = patch_card(api, story["full"], {"_balance_change_cents": -1_000_000})
    check("error_insufficient", response, story)
    response = patch_card(api, story["bare"], {"_deactivate": True})
    check("error_transition", response, story)


def test_other_resources(api, story):
    check("recipients", api.get("/api/gift_card_recipients"), story)
    check("markets", api.get("/api/markets"), story)
    check("tags", api.get("/api/tags"), story)


def test_metadata_beyond_64_bit_integers_still_renders(api):
    """The fast encoder refuses such integers; the document falls back to the json module."""
    response = api.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1, "metadata": {"n": 2**70}})
    )
    assert response.status_code == 201, response.doc
    card = api.get(card_url(response.doc["data"]["id"])).doc["data"]
    assert card["attributes"]["metadata"] == {"n": 2**70}

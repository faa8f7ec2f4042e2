"""giftcards.text: what text no store can hold (a NUL, a lone surrogate) and where it is in a
JSON value; and the services, which refuse it in metadata whichever entry point sent it."""

from __future__ import annotations

import json

import pytest

from giftcards import catalogue, exceptions, services, text
from giftcards.models import GiftCard, GiftCardRecipient, Status


@pytest.mark.parametrize(
    "value,found",
    [
        ("plain é 💳 \u202e", None),
        (json.loads('"\\ud83d\\udcb3"'), None),  # a pair sent as two escapes is one character
        ("a\x00", "NUL"),
        ("\ud800", "U+D800"),
        ("x\udfff", "U+DFFF"),
    ],
)
def test_problem(value, found):
    reason = text.problem(value)

    assert (reason is None) if found is None else (found in reason)


@pytest.mark.parametrize(
    "value,path",
    [
        ({"a": [1, {"b": "ok"}, "x\x00"]}, ("a", 2)),
        ({"a": {"b\ud800": 1}}, ("a",)),  # a bad key is reported at its object
        (["\x00"], (0,)),
        ("\udc00", ()),
        ({"a": [None, True, 1.5, {"b": "fine"}]}, None),
    ],
)
def test_find_in_json(value, path):
    found = text.find_in_json(value)

    assert (found is None) if path is None else (found[0] == path)


def test_find_in_json_walks_deep_values_without_recursion():
    value: object = "\x00"
    for _ in range(5_000):  # deeper than Python recursion goes
        value = [value]

    assert text.find_in_json(value)[0] == (0,) * 5_000


@pytest.mark.parametrize("metadata", [{"a": "\x00"}, {"\ud800": 1}, {"a": [{"b": "\udfff"}]}])
def test_the_services_refuse_bad_text_in_metadata(tenant, actor, make_card, metadata):
    card = make_card(metadata={"kept": 1})

    with pytest.raises(exceptions.InvalidValue) as issued:
        services.card_issue(
            tenant=tenant, actor=actor, balance_cents=1, status=Status.ACTIVE, metadata=metadata
        )
    with pytest.raises(exceptions.InvalidValue) as updated:
        services.card_update(card=card, actor=actor, metadata=metadata)
    with pytest.raises(exceptions.InvalidValue) as recipient:
        catalogue.recipient_create(
            tenant=tenant, actor=actor, email="ann@example.com", metadata=metadata
        )

    assert issued.value.subject == updated.value.subject == recipient.value.subject == "metadata"
    assert GiftCard.objects.count() == 1
    assert GiftCard.objects.get().metadata == {"kept": 1}
    assert not GiftCardRecipient.objects.exists()

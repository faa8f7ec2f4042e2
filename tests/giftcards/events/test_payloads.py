"""What a webhook call sends (giftcards.events.payloads): a card's attachments when the webhook
includes them, its own tenant's only."""

from __future__ import annotations

from clients.tenancy import Mode
from giftcards import attachments, catalogue
from giftcards.events import payloads
from giftcards.models import Attachment, OutboxEvent


def test_a_card_payload_includes_its_attachments_when_asked(tenant, actor, make_card, business):
    card = make_card()
    attachment = attachments.attachment_create(
        tenant=tenant,
        actor=actor,
        name="Receipt",
        attachable_type="gift_cards",
        attachable_id=card.pk,
    )
    # A row of another mode naming the same card (only a corrupt table could hold it).
    Attachment.objects.create(
        business=business,
        mode=Mode.TEST,
        name="stray",
        attachable_type="gift_cards",
        attachable_id=card.pk,
    )
    event = OutboxEvent.objects.get(name="gift_cards.create", resource_id=card.pk)
    assert "attachments" in payloads.includable(event.name)

    document = payloads.document(event, include=["attachments"])
    assert document["data"]["relationships"]["attachments"]["data"] == [
        {"type": "attachments", "id": str(attachment.pk)}
    ]
    assert [(item["type"], item["id"]) for item in document["included"]] == [
        ("attachments", str(attachment.pk))
    ]
    plain = payloads.document(event)
    assert "data" not in plain["data"]["relationships"]["attachments"]
    assert "included" not in plain


def test_a_recipient_payload_links_its_attachments(tenant, actor):
    recipient = catalogue.recipient_create(tenant=tenant, actor=actor, email="ann@example.com")
    event = OutboxEvent.objects.get(name="gift_card_recipients.create")
    document = payloads.document(event)
    assert document["data"]["relationships"]["attachments"]["links"]["related"].endswith(
        f"/api/gift_card_recipients/{recipient.pk}/attachments"
    )
    assert payloads.includable(event.name) == frozenset()

"""`/api/attachments`: named links on the key's cards, recipients and markets, written through
giftcards.attachments only. Attachments of a soft-deleted card stay listed; their `attachable`
route answers `data: null`, as the card is a 404 here."""

from __future__ import annotations

from giftcards import attachments, selectors
from giftcards.filters import AttachmentFilterSet
from giftcards.jsonapi.serializers.attachments import AttachmentSerializer
from giftcards.jsonapi.views.base import Relation, ResourceViewSet
from giftcards.jsonapi.views.gift_cards import card_documents
from giftcards.models import AttachableType, Attachment, GiftCard

TYPE_OF = {model: type_ for type_, model in attachments.OWNERS.items()}


class AttachmentViewSet(ResourceViewSet):
    model = Attachment
    resource_name = "attachments"
    serializer_class = AttachmentSerializer
    build = "attachment"
    filterset_class = AttachmentFilterSet
    sort_fields = {name: name for name in ("id", "name", "created_at", "updated_at")}
    relations = {"attachable": Relation(None, many=False)}

    def create_resource(self, attributes):
        return attachments.attachment_create(tenant=self.tenant, actor=self.actor, **attributes)

    def update_resource(self, attachment, attributes):
        return attachments.attachment_update(attachment=attachment, actor=self.actor, **attributes)

    def perform_destroy(self, attachment):
        attachments.attachment_delete(attachment=attachment, actor=self.actor)

    def related_row(self, attachment, name):
        rows = attachments.attachable_rows(self.tenant, attachment.attachable_type)
        if attachment.attachable_type == AttachableType.GIFT_CARDS:
            rows = selectors.with_tag_pairs(rows.select_related("recipient", "market"))
        return rows.filter(pk=attachment.attachable_id).first()

    def related_linkage(self, attachment, name):
        return {"type": attachment.attachable_type, "id": attachment.attachable_id}

    def render_related(self, docs, type_, rows):
        if isinstance(rows[0], GiftCard):
            return card_documents(docs, rows)
        return [docs.builder(TYPE_OF[type(row)])(row) for row in rows]

"""`/api/balance_transfers`: money moved from one of the key's cards to another, through
`services.card_transfer` only. Transfers are never changed or deleted (PATCH and DELETE are
405s); their cards are linked, and included with `include=source,target`."""

from __future__ import annotations

import re

from giftcards import services
from giftcards.filters import BalanceTransferFilterSet
from giftcards.idempotency import idempotent
from giftcards.jsonapi.documents import Documents
from giftcards.jsonapi.serializers.transfers import BalanceTransferSerializer
from giftcards.jsonapi.views.base import Relation, ResourceViewSet
from giftcards.jsonapi.views.gift_cards import card_documents, cards_for
from giftcards.models import PUBLIC_ID_PATTERN, BalanceTransfer, GiftCard

SIDES = ("source", "target")


class BalanceTransferViewSet(ResourceViewSet):
    model = BalanceTransfer
    resource_name = "balance_transfers"
    serializer_class = BalanceTransferSerializer
    build = "balance_transfer"
    filterset_class = BalanceTransferFilterSet
    id_pattern = re.compile(PUBLIC_ID_PATTERN)
    sort_fields = {name: name for name in ("id", "amount_cents", "reference", "created_at")}
    default_sort = ("created_at", "id")
    includable = {side: "gift_cards" for side in SIDES}
    relations = {side: Relation("gift_cards", many=False) for side in SIDES}

    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_resource(self, attributes):
        attributes = dict(attributes)
        for name in ("reference", "reference_origin"):
            attributes[name] = attributes.get(name) or ""
        result = services.card_transfer(
            tenant=self.tenant,
            actor=self.actor,
            idempotency_key=self.idempotency_key(),
            visible=True,
            **attributes,
        )
        return result.transfer

    def resources(self, docs: Documents, rows) -> list[dict]:
        wanted = [side for side in SIDES if side in docs.include]
        if wanted:
            ids = {getattr(row, f"{side}_id") for row in rows for side in wanted}
            docs.include_resources(card_documents(docs, self._visible_cards(docs, ids)))
        return [docs.balance_transfer(row) for row in rows]

    def _visible_cards(self, docs: Documents, ids) -> list[GiftCard]:
        """The cards to include: the key's, not deleted (the JSON:API hides deleted cards;
        the linkage still names them)."""
        cards = GiftCard.objects.for_tenant(self.tenant).not_deleted().filter(pk__in=ids)
        return list(cards_for(docs, cards).order_by("id"))

    def related_row(self, transfer, name):
        cards = GiftCard.objects.for_tenant(self.tenant).not_deleted()
        cards = cards_for(self.documents(), cards)
        return cards.filter(pk=getattr(transfer, f"{name}_id")).first()

    def related_linkage(self, transfer, name):
        return {"type": "gift_cards", "id": getattr(transfer, f"{name}_id")}

    def render_related(self, docs, type_, rows):
        return card_documents(docs, rows)

"""`/api/gift_cards`: cards, their related resources and relationship linkage.

Soft-deleted cards are 404s here, on every route.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Prefetch
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.reverse import reverse

from giftcards import codes, services
from giftcards.filters import GiftCardFilterSet
from giftcards.idempotency import idempotent
from giftcards.jsonapi.errors import Forbidden
from giftcards.jsonapi.filters import DOCUMENT_FAMILIES
from giftcards.jsonapi.serializers import (
    GiftCardRecipientSerializer,
    GiftCardSerializer,
    MarketSerializer,
    TagSerializer,
    VersionSerializer,
)
from giftcards.jsonapi.serializers.versions import ordered_versions, previous_version
from giftcards.jsonapi.views.base import ResourceViewSet
from giftcards.models import PUBLIC_ID_PATTERN, BalanceLog, GiftCard, Tag
from giftcards.preconditions import card_etag, locked_for_update
from giftcards.throttling import ApiKeyRateThrottle, CodeLookupThrottle

CARD_ID = re.compile(PUBLIC_ID_PATTERN)
READ_ONLY_TO_MANY = ("tags", "attachments", "events", "versions")


class GiftCardViewSet(ResourceViewSet):
    model = GiftCard
    resource_name = "gift_cards"
    serializer_class = GiftCardSerializer
    filterset_class = GiftCardFilterSet
    throttle_classes = [ApiKeyRateThrottle, CodeLookupThrottle]
    id_pattern = CARD_ID
    default_sort = ("created_at", "id")
    sort_fields = {
        name: name
        for name in (
            "id",
            "status",
            "currency_code",
            "initial_balance_cents",
            "balance_cents",
            "balance_max_cents",
            "expires_at",
            "created_at",
            "updated_at",
            "reference",
            "reference_origin",
        )
    }
    # Codes are stored encrypted: sorting by them decrypts the matching rows (bounded).
    computed_sort_fields = {"code": ("code_encrypted", codes.decrypt)}
    domain_fields = {"recipient": "gift_card_recipient"}
    # related route -> (serializer, resource type, to-many)
    related_resources = {
        "market": (MarketSerializer, False),
        "gift_card_recipient": (GiftCardRecipientSerializer, False),
        "tags": (TagSerializer, True),
        "versions": (VersionSerializer, True),
    }
    linkage = ("market", "gift_card_recipient", "tags")

    def get_queryset(self):
        if self.schema_only:
            return GiftCard.objects.none()
        ledger = BalanceLog.objects.order_by("created_at", "id")
        return (
            GiftCard.objects.for_tenant(self.tenant)
            .not_deleted()
            .select_related("recipient", "market")
            .prefetch_related(Prefetch("ledger", queryset=ledger), "tags")
        )

    def _related_field(self) -> str:
        field = self.kwargs.get("related_field")
        linkage_only = self.action in ("relationship", "relationship_write")
        allowed = self.linkage if linkage_only else self.related_resources
        if field not in allowed:
            raise NotFound(f"Gift cards have no relationship {field!r}.")
        return field

    def get_serializer_class(self):
        if self.action == "related" and not self.schema_only:
            return self.related_resources[self._related_field()][0]
        return super().get_serializer_class()

    def query_families(self) -> frozenset[str]:
        if self.action == "related":
            many = self.related_resources[self._related_field()][1]
            return frozenset({"include", "fields", "page"}) if many else DOCUMENT_FAMILIES
        if self.action in ("relationship", "relationship_write"):
            self._related_field()
            return frozenset()
        return super().query_families()

    @idempotent
    def create(self, request, *args, **kwargs):
        self._refuse_tag_replacement()
        return super().create(request, *args, **kwargs)

    @idempotent
    def partial_update(self, request, *args, **kwargs):
        with transaction.atomic():
            card = locked_for_update(request, self.get_object())
            self._refuse_tag_replacement(card)
            return super().partial_update(request, *args, **kwargs)

    def render_one(self, instance, status_code=200, **kwargs):
        response = super().render_one(instance, status_code, **kwargs)
        if isinstance(instance, GiftCard):
            response["ETag"] = card_etag(instance)
        return response

    def _refuse_tag_replacement(self, card: GiftCard | None = None):
        """JSON:API 1.0: a server that does not allow full replacement of a to-many
        relationship rejects the whole request with a 403. Linkage identical to the current
        one (a client sending back what it read, or `[]` on create) changes nothing and is
        accepted."""
        document = self.document()
        for name in READ_ONLY_TO_MANY:
            if name not in document.relationship_names:
                continue
            if self._same_linkage(name, document[name], card):
                del document[name]
                document.relationship_names = document.relationship_names - {name}
                continue
            advice = (
                "; add and remove tags by name with the `_add_tags` and `_remove_tags` attributes."
                if name == "tags"
                else "."
            )
            raise Forbidden(
                f"The {name} relationship cannot be replaced{advice}",
                pointer=f"/data/relationships/{name}",
            )

    @staticmethod
    def _same_linkage(name: str, linkage, card: GiftCard | None) -> bool:
        if not isinstance(linkage, list) or name == "versions":
            return False
        current = set()
        if name == "tags" and card is not None:
            current = {("tags", str(pk)) for pk in card.tags.values_list("pk", flat=True)}
        try:
            sent = {(item["type"], str(item["id"])) for item in linkage}
        except (TypeError, KeyError):
            return False
        return sent == current and len(sent) == len(linkage)

    def relationship_write(self, request, pk, related_field):
        """PATCH/POST/DELETE /api/gift_cards/{id}/relationships/{name}: not supported."""
        self.get_object()
        self._related_field()
        raise Forbidden(
            f"The {related_field} relationship is not changed through its link: PATCH the gift "
            "card (market and gift_card_recipient in relationships, tags with `_add_tags` and "
            "`_remove_tags`)."
        )

    def perform_destroy(self, card):
        services.card_soft_delete(card=card, actor=self.actor)

    def related(self, request, pk, related_field):
        """GET /api/gift_cards/{id}/{market|gift_card_recipient|tags|versions}."""
        card = self.get_object()
        serializer_class, many = self.related_resources[related_field]
        self.resource_name = serializer_class.Meta.resource_name
        if not many:
            related = card.market if related_field == "market" else card.recipient
            return Response(self.get_serializer(related).data if related is not None else None)
        if related_field == "tags":
            queryset = (
                Tag.objects.for_tenant(self.tenant).filter(gift_cards=card).order_by("name", "id")
            )
            page = self.paginate_queryset(queryset)
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        page = self.paginate_queryset(ordered_versions(card.versions.all()))
        previous = {}
        for index, record in enumerate(page):
            if index:
                previous[record.history_id] = page[index - 1]
            elif self.paginator.offset:
                previous[record.history_id] = previous_version(record)
            else:
                previous[record.history_id] = None
        serializer = VersionSerializer(
            page,
            many=True,
            context={**self.get_serializer_context(), "previous_versions": previous},
        )
        return self.get_paginated_response(serializer.data)

    def relationship(self, request, pk, related_field):
        """GET /api/gift_cards/{id}/relationships/{market|gift_card_recipient|tags}: linkage."""
        card = self.get_object()
        if related_field == "tags":
            data = [{"type": "tags", "id": str(tag.pk)} for tag in card.tags.all()]
        else:
            related_type = self.related_resources[related_field][0].Meta.resource_name
            related_id = card.market_id if related_field == "market" else card.recipient_id
            data = None if related_id is None else {"type": related_type, "id": str(related_id)}
        kwargs = {"pk": card.pk, "related_field": related_field}
        links = {
            "self": reverse("jsonapi-gift-card-relationships", kwargs=kwargs, request=request),
            "related": reverse("jsonapi-gift-card-related", kwargs=kwargs, request=request),
        }
        self.resource_name = False  # a linkage document, rendered as built
        return Response({"data": data, "links": links})

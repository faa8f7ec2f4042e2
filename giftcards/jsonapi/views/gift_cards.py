"""`/api/gift_cards`: cards, their related resources and relationship linkage.

Soft-deleted cards are 404s here, on every route. A write validates the document, makes one
service call (which locks the card once, through the key's tenant) and renders the response
from what is in hand: the locked row, the ledger read before the lock plus the rows written
under it, and the tag linkage read with the locked row. What an update's response needs that
could fail (decrypting the code, reading included tags) is prepared inside the service's
transaction, so a failure there moves nothing; what remains after the commit is formatting
data in hand.
Nothing is read after the commit, so no query can fail a request whose money moved.
"""

from __future__ import annotations

import re

from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from giftcards import codes, exceptions, selectors, services
from giftcards.events import topics
from giftcards.filters import GiftCardFilterSet
from giftcards.idempotency import idempotent
from giftcards.jsonapi.documents import GIFT_CARD_RELATIONSHIPS as RELATIONSHIPS
from giftcards.jsonapi.documents import INCLUDABLE, Documents, card_tags, names
from giftcards.jsonapi.errors import DocumentError, Forbidden
from giftcards.jsonapi.filters import DOCUMENT_FAMILIES, LIST_FAMILIES
from giftcards.jsonapi.serializers.attachments import AttachmentSerializer
from giftcards.jsonapi.serializers.events import EventSerializer
from giftcards.jsonapi.serializers.gift_card_writes import (
    change_set,
    issue_arguments,
    refused_member,
)
from giftcards.jsonapi.serializers.gift_cards import GiftCardSerializer
from giftcards.jsonapi.serializers.resources import (
    GiftCardRecipientSerializer,
    MarketSerializer,
    TagSerializer,
)
from giftcards.jsonapi.serializers.versions import (
    VersionSerializer,
    ordered_versions,
    page_changes,
)
from giftcards.jsonapi.views.base import Relation, ResourceViewSet
from giftcards.jsonapi.views.events import topic_rows
from giftcards.models import PUBLIC_ID_PATTERN, BalanceLog, GiftCard, Tag
from giftcards.preconditions import card_etag, if_match
from giftcards.throttling import ApiKeyRateThrottle, CodeLookupThrottle

CARD_ID = re.compile(PUBLIC_ID_PATTERN)
LOOKUP_TYPE = "gift_card_lookups"
READ_ONLY_TO_MANY = ("attachments", "events", "versions")


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
        for name in names(
            """
            id status currency_code initial_balance_cents balance_cents balance_max_cents
            expires_at created_at updated_at reference reference_origin
            """
        )
    }
    # Codes are stored encrypted: sorting by them decrypts the matching rows (bounded).
    computed_sort_fields = {"code": ("code_encrypted", codes.decrypt)}
    domain_fields = {"recipient": "gift_card_recipient"}
    includable = INCLUDABLE
    # related route -> (serializer, to-many)
    related_resources = {
        "market": (MarketSerializer, False),
        "gift_card_recipient": (GiftCardRecipientSerializer, False),
        "tags": (TagSerializer, True),
        "versions": (VersionSerializer, True),
        "attachments": (AttachmentSerializer, True),
        "events": (EventSerializer, True),
    }
    linkage = ("market", "gift_card_recipient", "tags", "attachments", "events")
    # Served by ResourceViewSet's related and relationship routes (paginated).
    relations = {"attachments": Relation("attachments"), "events": Relation("events")}

    def get_queryset(self):
        return GiftCard.objects.for_tenant(self.tenant).not_deleted()

    # ------------------------------------------------------------------------ reading

    def cards_for(self, docs: Documents, queryset):
        return cards_for(docs, queryset)

    def card_resources(self, docs: Documents, cards: list[GiftCard]) -> list[dict]:
        if "attachments" in docs.include:
            self.attach(docs, [card.pk for card in cards])
        return card_documents(docs, cards)

    def list(self, request, *args, **kwargs):
        docs = self.documents()
        queryset = self.cards_for(docs, self.filter_queryset(self.get_queryset()))
        page = self.page_of(queryset)
        return self.render_page(docs, self.card_resources(docs, page))

    def retrieve(self, request, *args, **kwargs):
        docs = self.documents()
        card = self.get_object(self.cards_for(docs, self.get_queryset()))
        return self.card_response(docs, self.card_resources(docs, [card])[0], card_etag(card))

    @property
    def request_resource_type(self) -> str:
        """The `type` a request document must have: a lookup sends a `gift_card_lookups`."""
        return LOOKUP_TYPE if self.action == "lookup" else self.resource_name

    def lookup(self, request, *args, **kwargs):
        """`POST /api/gift_cards/lookup`: what `GET ?filter[q][code_eq]=` answers, with the code in
        the request body, so it stays out of URLs, access logs and browser histories. The URL
        may carry the list's other parameters (filters, include, fields, sort, page)."""
        code = lookup_code(self.document())
        docs = self.documents()
        queryset = self.filter_queryset(self.get_queryset()).filter(
            code_hash__in=codes.lookup_hashes(code)
        )
        page = self.page_of(self.cards_for(docs, queryset))
        return self.render_page(docs, self.card_resources(docs, page))

    def single_document(self) -> bool:
        if self.action == "related" and self.kwargs.get("related_field") in self.related_resources:
            return not self.related_resources[self.kwargs["related_field"]][1]
        return super().single_document()

    @staticmethod
    def card_response(docs: Documents, resource: dict, etag: str, status_code=200) -> Response:
        """One card; `etag` is its version (a GET's becomes the prefix of the body's ETag:
        giftcards.preconditions)."""
        response = Response(docs.one(resource), status=status_code)
        response["ETag"] = etag
        return response

    # ------------------------------------------------------------------------ writing

    @idempotent
    def create(self, request, *args, **kwargs):
        self._refuse_tag_replacement(None)
        data = self.validated()
        card = services.card_issue(
            tenant=self.tenant,
            actor=self.actor,
            idempotency_key=self.idempotency_key(),
            **issue_arguments(data),
        )
        docs = self.documents()
        # The code was encrypted with the current key a moment ago: decrypting it needs no I/O.
        code = shown_code(docs, card)
        # A new card's ledger is its issue row; its tags are those of its tags linkage.
        issue = (None, BalanceLog.Kind.ISSUE, card.balance_cents, card.balance_cents, "")
        ledger = [(*issue, selectors.iso_utc(card.created_at))]
        if "attachments" in docs.include:
            docs.attach(self.resource_name, {card.pk: []})  # and no attachments
        tags = {tag.pk: tag for tag in data.get("tags", ())}.values()
        tags = sorted(tags, key=lambda tag: (tag.name, tag.pk))
        resource = docs.gift_card(card, ledger, tags, code)
        response = self.card_response(docs, resource, card_etag(card), status_code=201)
        response["Location"] = response.data["data"]["links"]["self"]
        return response

    @idempotent
    def partial_update(self, request, *args, **kwargs):
        pk = self.kwargs["pk"]
        if not CARD_ID.match(pk):
            raise NotFound(f"No gift_cards resource with id {pk!r}.")
        docs = self.documents()
        current, current_tags = self._current_reader(docs, pk)
        self._refuse_tag_replacement(current_tags)
        data = self.validated(current=current)
        snapshot = (
            selectors.ledger_snapshot(tenant=self.tenant, card_id=pk)
            if docs.needs("balance_log", "usage_log")
            else None
        )
        if "attachments" in docs.include:
            self.attach(docs, [pk])  # a card's change leaves its attachments as they are
        try:
            result = services.card_change(
                card=pk,
                tenant=self.tenant,
                actor=self.actor,
                changes=change_set(data),
                if_match=if_match(request),
                idempotency_key=self.idempotency_key(),
                related=docs.needs(*RELATIONSHIPS),
                visible=True,
                ledger_seen=snapshot,
                prepare=lambda locked: (shown_code(docs, locked), shown_tags(docs, locked)),
            )
        except exceptions.GiftCardError as exc:
            member = refused_member(exc.step, data)
            if member is not None:
                exc.jsonapi_pointer = f"/data/attributes/{member}"
            raise
        card = result.card
        code, tags = result.prepared
        resource = docs.gift_card(card, result.ledger, tags, code)
        return self.card_response(docs, resource, card_etag(card))

    def _current_reader(self, docs: Documents, pk: str):
        """The card's attributes as the client last read them, and a to-many linkage by name,
        read only if validation needs them (a read-only member sent back unchanged, a tags or
        attachments linkage)."""
        cache = {}

        def current() -> dict:
            if "resource" not in cache:
                card = self.get_object(self.cards_for(docs, self.get_queryset()))
                cache["resource"] = self.card_resources(docs, [card])[0]
                cache["tags"] = {("tags", str(pk)) for pk in card.tags.values_list("pk", flat=True)}
            return cache

        def linkage(name: str) -> set:
            if name == "attachments":
                rows = selectors.attachments_of(
                    tenant=self.tenant, attachable_type=self.resource_name, attachable_id=pk
                )
                return {("attachments", str(found)) for found in rows.values_list("pk", flat=True)}
            return current()[name]

        return lambda: current()["resource"], linkage

    def _refuse_tag_replacement(self, current_linkage):
        """JSON:API 1.0: a server that does not allow full replacement of a to-many
        relationship rejects the whole request with a 403. Linkage identical to the current
        one (a client sending back what it read, or `[]` on create) changes nothing and is
        accepted. `current_linkage(name)` reads the card's attachments linkage (None on
        create). Tags are not among them: their linkage replaces the card's tags."""
        document = self.document()
        for name in READ_ONLY_TO_MANY:
            if name not in document.relationship_names:
                continue
            if self._same_linkage(name, document[name], current_linkage):
                del document[name]
                document.relationship_names = document.relationship_names - {name}
                continue
            raise Forbidden(
                f"The {name} relationship cannot be replaced.",
                pointer=f"/data/relationships/{name}",
            )

    @staticmethod
    def _same_linkage(name: str, linkage, current_linkage) -> bool:
        if name == "versions" or not isinstance(linkage, list):
            return False
        try:
            sent = {(item["type"], str(item["id"])) for item in linkage}
        except (TypeError, KeyError):
            return False
        if len(sent) != len(linkage):
            return False
        if name == "events":  # the same topics for every card
            return sent == {("events", topic) for topic in topics.of_resource("gift_cards")}
        if current_linkage is None:  # a new card has no tags and no attachments
            return not sent
        return sent == current_linkage(name)

    def relationship_write(self, request, pk, related_field):
        """PATCH/POST/DELETE /api/gift_cards/{id}/relationships/{name}: not supported."""
        self.get_object()
        self._related_field()
        raise Forbidden(
            f"The {related_field} relationship is not changed through its link: PATCH the gift "
            "card (market, gift_card_recipient and tags in relationships, or tags by name with "
            "`_add_tags` and `_remove_tags`)."
        )

    def perform_destroy(self, card):
        services.card_soft_delete(card=card.pk, tenant=self.tenant, actor=self.actor)

    # ------------------------------------------------------------------------ related

    def _related_field(self) -> str:
        field = self.kwargs.get("related_field")
        linkage_only = self.action in ("relationship", "relationship_write")
        allowed = self.linkage if linkage_only else self.related_resources
        if field not in allowed:
            raise NotFound(f"Gift cards have no relationship {field!r}.")
        return field

    def get_serializer_class(self):
        if self.action == "related":
            return self.related_resources[self._related_field()][0]
        return super().get_serializer_class()

    def query_families(self) -> frozenset[str]:
        if self.action == "lookup":
            return LIST_FAMILIES
        if self.action in ("related", "relationship") and self._related_field() in self.relations:
            return super().query_families()
        if self.action == "related":
            many = self.related_resources[self._related_field()][1]
            return frozenset({"include", "fields", "page"}) if many else DOCUMENT_FAMILIES
        if self.action in ("relationship", "relationship_write"):
            self._related_field()
            return frozenset()
        return super().query_families()

    def related(self, request, pk, related_field):
        """GET /api/gift_cards/{id}/{name}: market, gift_card_recipient, tags, versions,
        attachments or events."""
        if related_field in self.relations:
            return super().related(request, pk=pk, related_field=related_field)
        card = self.get_object(self.get_queryset().select_related("recipient", "market"))
        many = self.related_resources[related_field][1]
        docs = self.documents()
        if not many:
            related = card.market if related_field == "market" else card.recipient
            build = docs.market if related_field == "market" else docs.recipient
            return Response(docs.one(build(related) if related is not None else None))
        if related_field == "tags":
            queryset = (
                Tag.objects.for_tenant(self.tenant).filter(gift_cards=card).order_by("name", "id")
            )
            page = self.paginate_queryset(queryset)
            return self.render_page(docs, [docs.tag(tag) for tag in page])
        page = self.paginate_queryset(ordered_versions(card.versions.all()))
        changes = page_changes(page, first_of_all=not self.paginator.offset)
        return self.render_page(
            docs, [docs.version(*pair) for pair in zip(page, changes, strict=True)]
        )

    def related_rows(self, card, name):
        if name == "events":
            return topic_rows(self.tenant.mode, topics.of_resource(self.resource_name))
        return selectors.attachments_of(
            tenant=self.tenant, attachable_type=self.resource_name, attachable_id=card.pk
        )

    def relationship(self, request, pk, related_field):
        """GET /api/gift_cards/{id}/relationships/{name}: linkage (attachments and events a
        page at a time)."""
        if related_field in self.relations:
            return super().relationship(request, pk=pk, related_field=related_field)
        card = self.get_object()
        tags = list(card.tags.all()) if related_field == "tags" else ()
        document = self.documents().relationship(card, related_field, tags)
        document.pop("meta", None)  # a linkage document: data and links
        return Response(document)


def cards_for(docs: Documents, queryset):
    """The queryset with what the documents will render: recipients and markets joined, tags
    prefetched when included, else their linkage in the card's own query."""
    queryset = queryset.select_related("recipient", "market")
    if "tags" in docs.include:
        return queryset.prefetch_related("tags")
    if docs.needs("tags"):
        return selectors.with_tag_pairs(queryset)
    return queryset


def card_documents(docs: Documents, cards: list[GiftCard]) -> list[dict]:
    """Cards read with `GiftCardViewSet.cards_for` (or recipients, markets and tag pairs in
    hand), rendered with their ledgers (one query for all) when shown."""
    wanted = cards and docs.needs("balance_log", "usage_log")
    ledgers = selectors.card_ledger_rows([card.pk for card in cards]) if wanted else {}
    return [
        docs.gift_card(card, ledgers.get(card.pk), card_tags(card) if docs.needs("tags") else ())
        for card in cards
    ]


def lookup_code(document) -> str:
    """The one attribute of a `gift_card_lookups` document: `code`, a string."""
    for member, extra in (
        ("attributes", document.attribute_names - {"code"}),
        ("relationships", document.relationship_names),
    ):
        if extra:
            name = sorted(extra)[0]
            raise DocumentError(
                f"A lookup has only the attribute `code`, not {name!r}.", f"/data/{member}/{name}"
            )
    code = document.get("code")
    if code is None:
        raise DocumentError("`code` is required.", "/data/attributes/code", code="required")
    if not isinstance(code, str) or not code.strip():
        raise DocumentError("`code` must be a non-empty string.", "/data/attributes/code")
    if len(code) > codes.MAX_LENGTH * 2:
        raise DocumentError(
            f"`code` has at most {codes.MAX_LENGTH * 2} characters, spaces and dashes included.",
            "/data/attributes/code",
        )
    return code


def shown_code(docs: Documents, card: GiftCard) -> str | None:
    """The card's code, decrypted now if the response shows it (raises InvalidCode when the
    configured keys cannot read it: inside a write's transaction, that refuses the write)."""
    return codes.decrypt(card.code_encrypted) if docs.needs("code") else None


def shown_tags(docs: Documents, card: GiftCard) -> list:
    """What the response shows of the card's tags: Tag rows when included (one query), the
    linkage read with the locked row when only linked, else nothing."""
    if "tags" in docs.include:
        return list(Tag.objects.filter(pk__in=[pk for pk, _ in selectors.tag_pairs(card)]))
    if docs.needs("tags"):
        return selectors.tag_pairs(card)
    return []

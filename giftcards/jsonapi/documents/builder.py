"""The `Documents` builder of one request (or one webhook payload)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.urls import reverse

from giftcards import codes, money, selectors
from giftcards.jsonapi.documents.logs import balance_log, payload, readable, usage_log
from giftcards.jsonapi.documents.members import (
    ATTACHABLE_RELATIONSHIPS,
    ATTACHMENT_ATTRIBUTES,
    ATTACHMENT_RELATIONSHIPS,
    BALANCE_TRANSFER_ATTRIBUTES,
    BALANCE_TRANSFER_RELATIONSHIPS,
    EVENT_ATTRIBUTES,
    EVENT_CALLBACK_ATTRIBUTES,
    EVENT_CALLBACK_RELATIONSHIPS,
    EVENT_RELATIONSHIPS,
    EVENTS,
    EXPORT_ATTRIBUTES,
    GIFT_CARD_ATTRIBUTES,
    GIFT_CARD_RELATIONSHIPS,
    IMPORT_ATTRIBUTES,
    INCLUDABLE,
    MARKET_ATTRIBUTES,
    RECIPIENT_ATTRIBUTES,
    TAG_ATTRIBUTES,
    VERSION_ATTRIBUTES,
    VERSION_RELATIONSHIPS,
    WEBHOOK_ATTRIBUTES,
    WEBHOOK_RELATIONSHIPS,
)
from giftcards.models import GiftCard

iso = selectors.iso_utc


def sparse_fields(query_params) -> dict[str, frozenset[str]]:
    """`fields[<type>]` of the request (validated before the view runs)."""
    wanted = {}
    for name, value in query_params.items():
        if name.startswith("fields[") and name.endswith("]"):
            wanted[name[7:-1]] = frozenset(filter(None, value.split(",")))
    return wanted


def api_root(base_url: str = "") -> str:
    """Where the JSON:API is mounted, under `base_url` (the scheme and host), with a slash."""
    return f"{base_url}{reverse('jsonapi-gift-card-list')[: -len('gift_cards')]}"


class Documents:
    """Builds documents: links under `root` (the API's mount point), with sparse fieldsets
    (`fields`: type -> wanted names) and includes. `for_request` takes them from a request."""

    def __init__(
        self,
        *,
        root: str,
        fields: dict[str, frozenset[str]] | None = None,
        include: frozenset[str] = frozenset(),
        business=None,
    ):
        self.root = root
        self.fields = fields or {}
        self.include = include
        self.locale = business.locale if business is not None else "en_US"
        self.included: dict[tuple[str, str], dict] = {}
        # (type, id) of a primary resource -> its attachments, when the request includes them.
        self.attached: dict[tuple[str, str], list] = {}
        self._wanted: dict[tuple, list[str]] = {}

    @classmethod
    def for_request(cls, request, *, business=None) -> Documents:
        """The documents of one request: links under its host, its `fields[...]` and
        `include` (validated before the view runs)."""
        raw_include = request.query_params.get("include")
        return cls(
            root=request.build_absolute_uri(api_root()),
            fields=sparse_fields(request.query_params),
            include=frozenset(raw_include.split(",")) if raw_include else frozenset(),
            business=business,
        )

    def wanted(self, type_: str, names: tuple[str, ...]) -> list[str]:
        """`names` as far as `fields[type_]` wants them (worked out once per request)."""
        key = (type_, names)
        if key not in self._wanted:
            chosen = self.fields.get(type_)
            self._wanted[key] = [name for name in names if chosen is None or name in chosen]
        return self._wanted[key]

    def link(self, type_: str, pk) -> str:
        return f"{self.root}{type_}/{pk}"

    def links(self, type_: str, pk, name: str) -> dict[str, str]:
        """A relationship's `self` (its linkage) and `related` (the resources) links."""
        base = self.link(type_, pk)
        return {"self": f"{base}/relationships/{name}", "related": f"{base}/{name}"}

    def attach(self, type_: str, found: dict[str, list]) -> None:
        """Attachments of primary resources (id -> rows), to render as linkage and include."""
        self.attached.update(((type_, pk), rows) for pk, rows in found.items())

    def _resource(self, type_: str, row, attributes: dict, relationships=None) -> dict:
        pk = row.history_id if type_ == "versions" else row.pk
        resource = {"type": type_, "id": str(pk)}
        if attributes:
            resource["attributes"] = attributes
        if relationships:
            resource["relationships"] = relationships
        resource["links"] = {"self": self.link(type_, pk)}
        resource["meta"] = {"mode": row.mode}
        return resource

    def _attributes(self, type_: str, names, row, computed=None) -> dict:
        """The wanted attributes: computed ones, else the row's value (times in ISO 8601)."""
        attributes = {}
        for name in self.wanted(type_, names):
            if computed and name in computed:
                attributes[name] = computed[name]()
            else:
                value = getattr(row, name)
                attributes[name] = iso(value) if isinstance(value, datetime) else value
        return attributes

    def _simple(self, type_: str, names: tuple[str, ...], row) -> dict:
        return self._resource(type_, row, self._attributes(type_, names, row))

    def _include(self, type_: str, row, build: Callable) -> None:
        key = (type_, str(row.pk))
        if key not in self.included:
            self.included[key] = build(row)

    def sorted_included(self) -> list[dict]:
        return [self.included[key] for key in sorted(self.included)]

    # ------------------------------------------------------------------------ small resources

    def recipient(self, recipient) -> dict:
        return self._attachable("gift_card_recipients", RECIPIENT_ATTRIBUTES, recipient)

    def market(self, market) -> dict:
        return self._attachable("markets", MARKET_ATTRIBUTES, market)

    def _attachable(self, type_: str, names: tuple[str, ...], row) -> dict:
        relationships = {}
        if self.wanted(type_, ATTACHABLE_RELATIONSHIPS):
            relationships["attachments"] = self.attachments(type_, row.pk)
        return self._resource(type_, row, self._attributes(type_, names, row), relationships)

    def attachments(self, type_: str, pk) -> dict:
        """The `attachments` relationship of a card, recipient or market: links, and linkage
        when they were loaded for it (`attach`), in which case they are included too."""
        relationship: dict[str, Any] = {"links": self.links(type_, pk, "attachments")}
        rows = self.attached.get((type_, str(pk)))
        if rows is not None:
            relationship["data"] = [{"type": "attachments", "id": str(row.pk)} for row in rows]
            for row in rows:
                self._include("attachments", row, self.attachment)
        return relationship

    def attachment(self, attachment) -> dict:
        attributes = self._attributes("attachments", ATTACHMENT_ATTRIBUTES, attachment)
        relationships = {}
        if self.wanted("attachments", ATTACHMENT_RELATIONSHIPS):
            relationships["attachable"] = {
                "links": self.links("attachments", attachment.pk, "attachable"),
                "data": {"type": attachment.attachable_type, "id": attachment.attachable_id},
            }
        return self._resource("attachments", attachment, attributes, relationships)

    def event(self, topic) -> dict:
        """A topic as an `events` resource (`topic` has `pk` and `name`, its topic, and the
        key's `mode`)."""
        attributes = self._attributes("events", EVENT_ATTRIBUTES, topic)
        relationships = {
            name: {"links": self.links("events", topic.pk, name)}
            for name in self.wanted("events", EVENT_RELATIONSHIPS)
        }
        return self._resource("events", topic, attributes, relationships)

    def webhook(self, webhook) -> dict:
        computed = {"shared_secret": lambda: readable(webhook.shared_secret_encrypted)}
        attributes = self._attributes("webhooks", WEBHOOK_ATTRIBUTES, webhook, computed)
        relationships = {
            name: {"links": self.links("webhooks", webhook.pk, name)}
            for name in self.wanted("webhooks", WEBHOOK_RELATIONSHIPS)
        }
        return self._resource("webhooks", webhook, attributes, relationships)

    def event_callback(self, callback) -> dict:
        computed = {
            "payload": lambda: payload(callback.payload_encrypted),
            # Empty when no answer came (refused, timed out): then response_message says why.
            "response_code": lambda: callback.response_code or None,
        }
        attributes = self._attributes(
            "event_callbacks", EVENT_CALLBACK_ATTRIBUTES, callback, computed
        )
        relationships = {}
        if self.wanted("event_callbacks", EVENT_CALLBACK_RELATIONSHIPS):
            relationships["webhook"] = {
                "links": self.links("event_callbacks", callback.pk, "webhook"),
                "data": {"type": "webhooks", "id": str(callback.webhook_id)},
            }
            if "webhook" in self.include:
                self._include("webhooks", callback.webhook, self.webhook)
        return self._resource("event_callbacks", callback, attributes, relationships)

    def balance_transfer(self, transfer) -> dict:
        """A transfer; its cards are linked, and included when the view put them in
        `included` (`include_resources`)."""
        currency = transfer.currency_code
        computed = {
            "amount_float": lambda: money.to_float(transfer.amount_cents, currency),
            "formatted_amount": lambda: money.format_cents(
                transfer.amount_cents, currency, self.locale
            ),
        }
        attributes = self._attributes(
            "balance_transfers", BALANCE_TRANSFER_ATTRIBUTES, transfer, computed
        )
        relationships = {
            name: {
                "links": self.links("balance_transfers", transfer.pk, name),
                "data": {"type": "gift_cards", "id": getattr(transfer, f"{name}_id")},
            }
            for name in self.wanted("balance_transfers", BALANCE_TRANSFER_RELATIONSHIPS)
        }
        return self._resource("balance_transfers", transfer, attributes, relationships)

    def bulk_import(self, job) -> dict:
        """An import. Its `inputs` are shown only when asked for (`fields[imports]`): they
        may be large."""
        names = IMPORT_ATTRIBUTES
        if "imports" not in self.fields:
            names = tuple(name for name in names if name != "inputs")
        return self._resource("imports", job, self._attributes("imports", names, job))

    def bulk_export(self, job, attachment_url: str | None) -> dict:
        """An export; `attachment_url` is its download link while it works (the view signs
        it for the request's host)."""
        computed = {"attachment_url": lambda: attachment_url}
        attributes = self._attributes("exports", EXPORT_ATTRIBUTES, job, computed)
        return self._resource("exports", job, attributes)

    def include_resources(self, resources: list[dict]) -> None:
        """Resources rendered elsewhere (cards, with their ledgers), to include."""
        for resource in resources:
            self.included.setdefault((resource["type"], resource["id"]), resource)

    def builder(self, type_: str) -> Callable[[Any], dict]:
        """The method that renders a resource of `type_` from its row (cards excepted: they
        need their ledger and tags, see `gift_card`)."""
        return {
            "gift_card_recipients": self.recipient,
            "markets": self.market,
            "tags": self.tag,
            "attachments": self.attachment,
            "events": self.event,
            "webhooks": self.webhook,
            "event_callbacks": self.event_callback,
        }[type_]

    def tag(self, tag) -> dict:
        return self._simple("tags", TAG_ATTRIBUTES, tag)

    def version(self, record, changes: dict) -> dict:
        computed = {
            "event": lambda: EVENTS.get(record.history_type, record.history_type),
            "changes": lambda: changes,
            "changed_by": lambda: (
                record.history_user.get_username()
                if record.history_user_id is not None
                else record.modified_by or None
            ),
            "created_at": lambda: iso(record.history_date),
        }
        attributes = self._attributes("versions", VERSION_ATTRIBUTES, record, computed)
        relationships = {}
        if self.wanted("versions", VERSION_RELATIONSHIPS):
            relationships["gift_card"] = {"data": {"type": "gift_cards", "id": record.id}}
        return self._resource("versions", record, attributes, relationships)

    # ------------------------------------------------------------------------ gift cards

    def gift_card(
        self, card: GiftCard, ledger: list[tuple] | None, tags: list | None, code: str | None = None
    ) -> dict:
        """One card. `ledger` holds its rows (selectors.LEDGER_ROW) when the log is rendered;
        `tags` is a list of Tag rows, or of (id, name) pairs when only linkage is needed;
        `code` is the card's decrypted code when the caller already has it."""
        currency = card.currency_code
        locale = self.locale

        def formatted(cents):
            return money.format_cents(cents, currency, locale)

        computed: dict[str, Callable[[], Any]] = {
            "code": lambda: code if code is not None else codes.decrypt(card.code_encrypted),
            "initial_balance_float": lambda: money.to_float(card.initial_balance_cents, currency),
            "formatted_initial_balance": lambda: formatted(card.initial_balance_cents),
            "balance_float": lambda: money.to_float(card.balance_cents, currency),
            "formatted_balance": lambda: formatted(card.balance_cents),
            "balance_max_float": lambda: money.to_float(card.balance_max_cents, currency),
            "formatted_balance_max": lambda: formatted(card.balance_max_cents),
            "balance_log": lambda: balance_log(ledger),
            "usage_log": lambda: usage_log(ledger),
            "recipient_email": lambda: card.recipient.email if card.recipient_id else None,
        }
        attributes = self._attributes("gift_cards", GIFT_CARD_ATTRIBUTES, card, computed)
        relationships = {}
        for name in self.wanted("gift_cards", GIFT_CARD_RELATIONSHIPS):
            relationships[name] = self.relationship(card, name, tags)
        return self._resource("gift_cards", card, attributes, relationships)

    def relationship(self, card: GiftCard, name: str, tags) -> dict:
        if name == "attachments":
            return self.attachments("gift_cards", card.pk)
        links = self.links("gift_cards", card.pk, name)
        if name == "events":
            return {"links": links}
        if name == "versions":
            return {"links": {"related": links["related"]}}
        included = name in self.include
        if name == "tags":
            linkage = []
            for tag in tags or ():
                pk = tag[0] if isinstance(tag, list | tuple) else tag.pk
                linkage.append({"type": "tags", "id": str(pk)})
                if included:
                    self._include("tags", tag, self.tag)
            return {"meta": {"count": len(linkage)}, "data": linkage, "links": links}
        related = card.market if name == "market" else card.recipient
        related_id = card.market_id if name == "market" else card.recipient_id
        type_ = INCLUDABLE[name]
        if related_id is None:
            return {"links": links, "data": None}
        if included:
            self._include(type_, related, self.market if name == "market" else self.recipient)
        return {"links": links, "data": {"type": type_, "id": str(related_id)}}

    def needs(self, *names: str) -> bool:
        """Whether a gift card's document shows any of these members."""
        return bool(self.wanted("gift_cards", names))

    # ------------------------------------------------------------------------ documents

    def one(self, resource: dict | None) -> dict:
        document = {"data": resource}
        if self.include:
            document["included"] = self.sorted_included()
        return document

    def many(self, resources: list[dict], meta: dict, links: dict) -> dict:
        document = {"links": links, "data": resources}
        if self.include:
            document["included"] = self.sorted_included()
        document["meta"] = meta
        return document

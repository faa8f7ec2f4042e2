"""Attachments: the one place their rules live (the JSON:API and the admin only call these).

An attachment is a named link on a card, a recipient or a market of its own business and
mode (`attachable`, by type and id: Commerce Layer's polymorphic relationship). Its `url` is
an http or https URL that is stored and shown, never fetched. Deleting a recipient or a
market deletes its attachments in the same transaction; a soft-deleted card keeps its own (it
stays in the ledger and the admin) but takes no new ones.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.db import models, transaction

from clients.tenancy import Actor, Tenant
from giftcards import attributes, exceptions
from giftcards.models import (
    PUBLIC_ID_PATTERN,
    AttachableType,
    Attachment,
    GiftCard,
    GiftCardRecipient,
    Market,
)

FIELDS = frozenset(
    {
        "name",
        "description",
        "url",
        "attachable_type",
        "attachable_id",
        "reference",
        "reference_origin",
        "metadata",
    }
)
TEXT_LIMITS = {"name": 255, "description": 10_000, "reference": 255, "reference_origin": 255}
MAX_URL_LENGTH = 2000
CARD_ID = re.compile(PUBLIC_ID_PATTERN)
INTEGER_ID = re.compile(r"^[0-9]{1,18}$")
OWNERS: dict[str, type[models.Model]] = {
    AttachableType.GIFT_CARDS: GiftCard,
    AttachableType.GIFT_CARD_RECIPIENTS: GiftCardRecipient,
    AttachableType.MARKETS: Market,
}


def _text(name: str, value: Any) -> str:
    value = attributes.clean_text(name, value, TEXT_LIMITS[name])
    if name == "name" and not value:
        raise exceptions.InvalidValue("An attachment needs a name.", field=name)
    return value


def _url(value: Any) -> str:
    """An http(s) URL with a host, or empty. Never fetched: only its form is checked."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise exceptions.InvalidValue("url must be text.", field="url")
    value = value.strip()
    if not value:
        return ""
    if len(value) > MAX_URL_LENGTH:
        raise exceptions.InvalidValue(f"url has at most {MAX_URL_LENGTH} characters.", field="url")
    if any(ord(char) < 33 or ord(char) == 127 for char in value):
        raise exceptions.InvalidValue("url has no spaces or control characters.", field="url")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  a port that is not a number raises here
    except ValueError:
        raise exceptions.InvalidValue("url is not a URL.", field="url") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise exceptions.InvalidValue(
            "url is an http or https URL, such as https://example.com/terms.pdf.", field="url"
        )
    return value


def attachable_rows(tenant: Tenant, attachable_type: str) -> models.QuerySet:
    """The rows of `tenant` an attachment of that type may be for (not deleted cards)."""
    rows = OWNERS[attachable_type].objects.for_tenant(tenant)
    return rows.not_deleted() if attachable_type == AttachableType.GIFT_CARDS else rows


def _check_attachable(tenant: Tenant, attachable_type: Any, attachable_id: Any) -> tuple[str, str]:
    """(type, id) of an existing row of `tenant`. Recipients and markets are locked until the
    transaction ends, so one being deleted meanwhile either waits for the attachment (and
    deletes it too) or is gone when we look. Cards are not locked: a card's attachments
    outlive its soft deletion anyway, and a lock would queue behind its payments."""
    if attachable_type not in OWNERS:
        offer = ", ".join(OWNERS)
        raise exceptions.InvalidValue(f"An attachment is for one of: {offer}.", field="attachable")
    if not isinstance(attachable_id, str | int) or isinstance(attachable_id, bool):
        raise exceptions.InvalidValue("attachable needs an id.", field="attachable")
    pk = str(attachable_id)
    rows = attachable_rows(tenant, attachable_type)
    found = False
    if attachable_type == AttachableType.GIFT_CARDS:
        found = bool(CARD_ID.fullmatch(pk)) and rows.filter(pk=pk).exists()
    elif INTEGER_ID.fullmatch(pk):
        found = rows.select_for_update(no_key=True).filter(pk=int(pk)).exists()
    if not found:
        raise exceptions.AttachableNotFound(f"No {attachable_type} resource with id {pk!r}.")
    return attachable_type, pk


def attachment_validate(
    *, tenant: Tenant, attachment: Attachment | None = None, **fields: Any
) -> dict[str, Any]:
    """`fields` (any of FIELDS) checked and normalised, for a new attachment of `tenant` or a
    change to `attachment`. `attachable_type` and `attachable_id` go together. Writes
    nothing (but locks a recipient or market attached to; see `_check_attachable`).

    Raises InvalidValue (an empty name, text too long, a URL that is not http(s), metadata
    that is not an object, an attachable of another type), AttachableNotFound, GiftCardError
    (an unknown field).
    """
    attributes.refuse_unknown(fields, FIELDS)
    clean: dict[str, Any] = {}
    for name in ("name", "description", "reference", "reference_origin"):
        if name in fields:
            clean[name] = _text(name, fields[name])
    if "url" in fields:
        clean["url"] = _url(fields["url"])
    if "metadata" in fields:
        clean["metadata"] = attributes.clean_metadata(fields["metadata"])
    if "attachable_type" in fields or "attachable_id" in fields:
        clean["attachable_type"], clean["attachable_id"] = _check_attachable(
            tenant, fields.get("attachable_type"), fields.get("attachable_id")
        )
    return clean


def attachment_create(
    *,
    tenant: Tenant,
    actor: Actor,
    name: str,
    attachable_type: str,
    attachable_id: str,
    description: str = "",
    url: str = "",
    reference: str = "",
    reference_origin: str = "",
    metadata: dict | None = None,
) -> Attachment:
    """Raises what `attachment_validate` raises."""
    with transaction.atomic():
        clean = attachment_validate(
            tenant=tenant,
            name=name,
            description=description,
            url=url,
            attachable_type=attachable_type,
            attachable_id=attachable_id,
            reference=reference,
            reference_origin=reference_origin,
            metadata=metadata,
        )
        return Attachment.objects.create(business=tenant.business, mode=tenant.mode, **clean)


def attachment_update(*, attachment: Attachment, actor: Actor, **changes: Any) -> Attachment:
    """Change any of FIELDS; returns the saved row (`attachment` may be stale). Raises what
    `attachment_validate` raises."""
    with transaction.atomic():
        locked = Attachment.objects.select_for_update().get(pk=attachment.pk)
        tenant = Tenant(business=locked.business, mode=locked.mode)
        clean = attachment_validate(tenant=tenant, attachment=locked, **changes)
        attributes.save_changed(locked, clean)
    return locked


def attachment_delete(*, attachment: Attachment, actor: Actor) -> None:
    Attachment.objects.filter(pk=attachment.pk).delete()


def attachments_of(row: models.Model, attachable_type: str) -> models.QuerySet:
    """The attachments of one card, recipient or market."""
    return Attachment.objects.filter(
        business_id=row.business_id,
        mode=row.mode,
        attachable_type=attachable_type,
        attachable_id=str(row.pk),
    )


def attachments_delete_of(row: models.Model, attachable_type: str) -> None:
    """Delete what is attached to `row`, which is being deleted (in the caller's
    transaction): an attachment is never left pointing at nothing."""
    attachments_of(row, attachable_type).delete()

"""Recipients, markets and tags: the one place their rules live.

The JSON:API and the admin only call these functions; the database constraints (unique
email and tag name, the currency code format, PROTECT from cards to markets) are the backstop.
Each `<entity>_validate` checks and normalises input without writing, so a form can show a
refusal next to its field; the writes call it again inside their transaction, on the locked
row. A uniqueness race lost to a concurrent write is reported as the same `Duplicate`.
`actor` is taken like every other write's, though these rows record no author yet.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError

from clients.models import Client
from clients.tenancy import Actor, Tenant
from giftcards import attributes, exceptions, money, text
from giftcards.attachments import attachments_delete_of
from giftcards.events import outbox, topics
from giftcards.models import AttachableType, GiftCard, GiftCardRecipient, Market, Tag

Row = TypeVar("Row", GiftCardRecipient, Market, Tag)

RECIPIENT_FIELDS = frozenset(
    {"email", "first_name", "last_name", "reference", "reference_origin", "metadata", "client"}
)
MARKET_FIELDS = frozenset({"name", "currency_code"})
TAG_FIELDS = frozenset({"name"})

RECIPIENT_TAKEN = "This business already has a recipient with that email."
RECIPIENT_IN_USE = "Gift cards are addressed to this recipient; it cannot be deleted."
MARKET_IN_USE = "The market has gift cards; it cannot be deleted."
MARKET_CURRENCY_IN_USE = "The market has gift cards in its currency; its currency cannot change."
TAG_TAKEN = "This business already has a tag with that name."
# Commerce Layer's rule for tag names: ASCII letters, digits, `_`, `-` and `:`, at most 25.
TAG_NAME_MAX_LENGTH = 25
TAG_NAME_PATTERN = re.compile(rf"^[A-Za-z0-9_:-]{{1,{TAG_NAME_MAX_LENGTH}}}$")
TAG_NAME_RULE = (
    f"A tag name has 1 to {TAG_NAME_MAX_LENGTH} characters, each a letter (a-z, A-Z), a digit, "
    "`_`, `-` or `:` (no spaces)."
)


# ---------------------------------------------------------------------------- helpers


def _tenant_of(row: models.Model) -> Tenant:
    return Tenant(business=row.business, mode=row.mode)


def _lock(row: Row) -> Row:
    # Not select_related: FOR UPDATE would lock the business row too.
    return type(row).objects.select_for_update().get(pk=row.pk)


def _text(
    model: type[models.Model],
    field: str,
    value: Any,
    *,
    strip: bool = True,
    required: bool = False,
    error: type[exceptions.GiftCardError] = exceptions.InvalidValue,
) -> str:
    """A text attribute within its column's length; `required` ones not blank."""
    model_field = model._meta.get_field(field)
    label = str(model_field.verbose_name)
    if not isinstance(value, str):
        raise error(f"The {label} must be text.", field=field)
    if strip:
        value = value.strip()
    if required and not value:
        raise error(f"The {label} cannot be empty.", field=field)
    if len(value) > model_field.max_length:
        raise error(f"The {label} has at most {model_field.max_length} characters.", field=field)
    return value


def _currency(value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else value
    if not money.is_known_currency(code):
        raise exceptions.InvalidCurrency(f"{code!r} is not an ISO 4217 currency code.")
    return code


def _metadata(value: Any) -> dict:
    if value is None:
        return {}  # an emptied admin field
    if not isinstance(value, dict):
        raise exceptions.InvalidValue("Metadata must be a JSON object.", field="metadata")
    found = text.find_in_json(value)  # jsonb refuses NUL and lone surrogates
    if found is not None:
        raise exceptions.InvalidValue(found[1], field="metadata")
    return value


def _refuse_taken(rows: models.QuerySet, current: models.Model | None, error: Exception) -> None:
    if current is not None:
        rows = rows.exclude(pk=current.pk)
    if rows.exists():
        raise error


def _save(row: Row, recheck: Callable[[], None], update_fields: list[str] | None = None) -> Row:
    """Save, turning a unique constraint that a concurrent write won into `recheck`'s error."""
    try:
        with transaction.atomic():
            if update_fields is None:
                row.save(force_insert=True)
            else:
                row.save(update_fields=[*update_fields, "updated_at"])
    except IntegrityError:
        recheck()  # raises Duplicate when the other write took the email or name
        raise
    return row


def _update(row: Row, fields: dict[str, Any], recheck: Callable[[], None]) -> Row:
    changed = [name for name, value in fields.items() if getattr(row, name) != value]
    if not changed:
        return row
    for name in changed:
        setattr(row, name, fields[name])
    return _save(row, recheck, changed)


# ---------------------------------------------------------------------------- recipients


def recipient_validate(
    *, tenant: Tenant, recipient: GiftCardRecipient | None = None, **fields: Any
) -> dict[str, Any]:
    """`fields` (any of RECIPIENT_FIELDS) checked and normalised, for a new recipient of
    `tenant` or a change to `recipient`. Writes nothing.

    Emails and names are stripped; an email is unique per business and mode, ignoring case
    (as `services.recipient_find_or_create` matches them). Raises InvalidEmail, Duplicate,
    InvalidValue, GiftCardError (an unknown field, a client of another business or mode).
    """
    attributes.refuse_unknown(fields, RECIPIENT_FIELDS)
    clean: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "email":
            email = _text(
                GiftCardRecipient, name, value, required=True, error=exceptions.InvalidEmail
            )
            try:
                validate_email(email)
            except ValidationError:
                raise exceptions.InvalidEmail(f"{email!r} is not an email address.") from None
            clean[name] = email
        elif name == "metadata":
            clean[name] = _metadata(value)
        elif name == "client":
            if value is not None and not (isinstance(value, Client) and value.belongs_to(tenant)):
                raise exceptions.GiftCardError(
                    "That client does not exist in this business and mode.", field="client"
                )
            clean[name] = value
        else:
            clean[name] = _text(
                GiftCardRecipient, name, value, strip=name in ("first_name", "last_name")
            )
    if "email" in clean:
        _refuse_taken(
            GiftCardRecipient.objects.for_tenant(tenant).filter(email__iexact=clean["email"]),
            recipient,
            exceptions.Duplicate(RECIPIENT_TAKEN, field="email"),
        )
    return clean


def recipient_create(
    *,
    tenant: Tenant,
    actor: Actor,
    email: str,
    first_name: str = "",
    last_name: str = "",
    reference: str = "",
    reference_origin: str = "",
    metadata: dict | None = None,
    client: Client | None = None,
) -> GiftCardRecipient:
    """Raises what `recipient_validate` raises; Duplicate also for a lost race."""
    fields = {
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "reference": reference,
        "reference_origin": reference_origin,
        "metadata": metadata,
        "client": client,
    }
    with transaction.atomic():
        clean = recipient_validate(tenant=tenant, **fields)
        recipient = GiftCardRecipient(business=tenant.business, mode=tenant.mode, **clean)
        _save(recipient, lambda: recipient_validate(tenant=tenant, email=clean["email"]))
        outbox.record(recipient, (topics.RECIPIENT_CREATE, {"email": recipient.email}))
        return recipient


def recipient_update(
    *, recipient: GiftCardRecipient, actor: Actor, **changes: Any
) -> GiftCardRecipient:
    """Change any of RECIPIENT_FIELDS; returns the saved row (`recipient` may be stale).

    Raises what `recipient_validate` raises; Duplicate also for a lost race.
    """
    with transaction.atomic():
        locked = _lock(recipient)
        tenant = _tenant_of(locked)
        clean = recipient_validate(tenant=tenant, recipient=locked, **changes)
        return _update(
            locked,
            clean,
            lambda: recipient_validate(tenant=tenant, recipient=locked, email=locked.email),
        )


def recipient_validate_delete(*, recipient: GiftCardRecipient) -> None:
    """Raises RecipientInUse when any card (deleted ones too) is addressed to `recipient`:
    the foreign key would quietly empty the cards' recipient."""
    if GiftCard.objects.filter(recipient=recipient).exists():
        raise exceptions.RecipientInUse(RECIPIENT_IN_USE)


def recipient_delete(*, recipient: GiftCardRecipient, actor: Actor) -> None:
    """Raises RecipientInUse. The row lock makes a card issued to it meanwhile wait, then fail.
    Its attachments go with it."""
    with transaction.atomic():
        locked = _lock(recipient)
        recipient_validate_delete(recipient=locked)
        attachments_delete_of(locked, AttachableType.GIFT_CARD_RECIPIENTS)
        locked.delete()


# ---------------------------------------------------------------------------- markets


def market_validate(*, tenant: Tenant, market: Market | None = None, **fields: Any) -> dict:
    """`fields` (name, currency_code) checked and normalised, for a new market of `tenant` or
    a change to `market`. Writes nothing.

    The name is stripped and not empty; the currency code is upper-cased and must be a current
    ISO 4217 code, and cannot change once cards are in the market (they carry its currency).
    Raises InvalidName, InvalidCurrency, MarketInUse, GiftCardError (an unknown field).
    """
    attributes.refuse_unknown(fields, MARKET_FIELDS)
    clean: dict[str, Any] = {}
    if "name" in fields:
        clean["name"] = _text(
            Market, "name", fields["name"], required=True, error=exceptions.InvalidName
        )
    if "currency_code" in fields:
        code = clean["currency_code"] = _currency(fields["currency_code"])
        changes = market is not None and code != market.currency_code
        if changes and GiftCard.objects.filter(market=market).exists():
            raise exceptions.MarketInUse(MARKET_CURRENCY_IN_USE, field="currency_code")
    return clean


def market_create(*, tenant: Tenant, actor: Actor, name: str, currency_code: str) -> Market:
    """Raises what `market_validate` raises."""
    with transaction.atomic():
        clean = market_validate(tenant=tenant, name=name, currency_code=currency_code)
        market = Market(business=tenant.business, mode=tenant.mode, **clean)
        return _save(market, lambda: None)


def market_update(*, market: Market, actor: Actor, **changes: Any) -> Market:
    """Change the name or the currency code; returns the saved row (`market` may be stale).

    Raises what `market_validate` raises. The row lock makes a card issued into the market
    meanwhile wait for the new currency.
    """
    with transaction.atomic():
        locked = _lock(market)
        clean = market_validate(tenant=_tenant_of(locked), market=locked, **changes)
        return _update(locked, clean, lambda: None)


def market_validate_delete(*, market: Market) -> None:
    """Raises MarketInUse when any card (deleted ones too) is in `market`."""
    if GiftCard.objects.filter(market=market).exists():
        raise exceptions.MarketInUse(MARKET_IN_USE)


def market_delete(*, market: Market, actor: Actor) -> None:
    """Raises MarketInUse. Its attachments go with it."""
    with transaction.atomic():
        locked = _lock(market)
        market_validate_delete(market=locked)
        attachments_delete_of(locked, AttachableType.MARKETS)
        try:
            locked.delete()
        except ProtectedError:  # the foreign key's PROTECT, should a check above ever miss
            raise exceptions.MarketInUse(MARKET_IN_USE) from None


# ---------------------------------------------------------------------------- tags


def tag_name_check(name: Any) -> str:
    """A new tag name, stripped, or InvalidName: Commerce Layer's rule (TAG_NAME_RULE). Names
    stored before the rule keep working; only new names must follow it."""
    if not isinstance(name, str):
        raise exceptions.InvalidName("The name must be text.")
    name = name.strip()
    if not TAG_NAME_PATTERN.match(name):
        raise exceptions.InvalidName(f"{TAG_NAME_RULE} Refused: {name[:40]!r}.")
    return name


def tag_validate(*, tenant: Tenant, tag: Tag | None = None, **fields: Any) -> dict:
    """`fields` (name) checked and normalised, for a new tag of `tenant` or a change to `tag`.
    Writes nothing.

    The name is stripped, follows `tag_name_check` (unless it is the tag's current name) and
    is unique per business and mode, case and all (as `services.card_set_tags` matches
    names). Raises InvalidName, Duplicate, GiftCardError (an unknown field).
    """
    attributes.refuse_unknown(fields, TAG_FIELDS)
    clean: dict[str, Any] = {}
    if "name" in fields:
        name = _text(Tag, "name", fields["name"], error=exceptions.InvalidName)
        if tag is None or name != tag.name:
            name = tag_name_check(name)
        _refuse_taken(
            Tag.objects.for_tenant(tenant).filter(name=name),
            tag,
            exceptions.Duplicate(TAG_TAKEN, field="name"),
        )
        clean["name"] = name
    return clean


def tag_create(*, tenant: Tenant, actor: Actor, name: str) -> Tag:
    """Raises what `tag_validate` raises; Duplicate also for a lost race."""
    with transaction.atomic():
        clean = tag_validate(tenant=tenant, name=name)
        tag = Tag(business=tenant.business, mode=tenant.mode, **clean)
        return _save(tag, lambda: tag_validate(tenant=tenant, name=clean["name"]))


def tag_update(*, tag: Tag, actor: Actor, **changes: Any) -> Tag:
    """Rename; returns the saved row. Raises what `tag_validate` raises; Duplicate also for a
    lost race."""
    with transaction.atomic():
        locked = _lock(tag)
        tenant = _tenant_of(locked)
        clean = tag_validate(tenant=tenant, tag=locked, **changes)
        return _update(
            locked, clean, lambda: tag_validate(tenant=tenant, tag=locked, name=locked.name)
        )


def tag_delete(*, tag: Tag, actor: Actor) -> None:
    """Delete the tag; the cards that had it simply lose it (a label, not a reference)."""
    with transaction.atomic():
        _lock(tag).delete()

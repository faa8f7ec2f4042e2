"""What changes a card without moving money: status triggers, attributes, expiry, soft
deletion, tags, and recipients found by email.

As in `balances`, each step takes the locked card, checks, changes it in memory and returns
the fields to save; each public function is one transaction, one lock and one save.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.tenancy import Actor, Tenant
from giftcards import catalogue, exceptions
from giftcards.events import outbox, topics
from giftcards.models import GiftCard, GiftCardRecipient, Status, Tag
from giftcards.services import checks
from giftcards.services.door import lock_card
from giftcards_project.observability import metrics

# Attributes `card_update` may change; balances, statuses and codes have their own functions.
UPDATABLE_FIELDS = frozenset(
    {
        "balance_max_cents",
        "single_use",
        "rechargeable",
        "distribute_discount",
        "image_url",
        "purchase_date",
        "expires_at",
        "reference",
        "reference_origin",
        "metadata",
        "client",
        "recipient",
        "market",
    }
)

# trigger -> (statuses it applies to, status it leads to)
TRANSITIONS = {
    "purchase": ({Status.DRAFT}, Status.INACTIVE),
    "activate": ({Status.DRAFT, Status.INACTIVE}, Status.ACTIVE),
    "deactivate": ({Status.ACTIVE}, Status.INACTIVE),
}


# ---------------------------------------------------------------------------- steps


def check_updatable(changes: Collection[str]) -> None:
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        subject = sorted(unknown)[0]
        raise exceptions.GiftCardError(f"{subject} cannot be changed here.", subject=subject)


def transition(card: GiftCard, trigger: str) -> list[str]:
    if trigger not in TRANSITIONS:
        raise exceptions.IllegalTransition(f"Unknown trigger {trigger!r}.")
    sources, target = TRANSITIONS[trigger]
    if card.is_deleted:
        raise exceptions.CardDeleted(f"Gift card {card.masked_code} is deleted.")
    if card.status not in sources:
        raise exceptions.IllegalTransition(f"Cannot {trigger} a card that is {card.status}.")
    status_before = card.status
    card.status = target
    fields = ["status"]
    if card.purchase_date is None:
        card.purchase_date = timezone.now()
        fields.append("purchase_date")
    # A draft activated directly is purchased and activated: both are announced.
    names = [topics.TRIGGER_TOPICS[trigger]]
    if status_before == Status.DRAFT and trigger == "activate":
        names.insert(0, topics.CARD_PURCHASE)
    facts = outbox.card_facts(card, previous_status=status_before)
    outbox.record(card, *((name, facts) for name in names))
    return fields


def update(card: GiftCard, changes: dict[str, Any]) -> list[str]:
    check_updatable(changes)
    checks.check_same_tenant(
        checks.tenant_of(card),
        client=changes.get("client"),
        gift_card_recipient=changes.get("recipient"),
        market=changes.get("market"),
    )
    if changes.get("balance_max_cents") is not None:
        new_max = checks.require_positive_cents(changes["balance_max_cents"], "balance_max_cents")
        if card.balance_cents > new_max:
            raise exceptions.BalanceMaxExceeded(
                f"The balance ({checks.format_amount(card, card.balance_cents)}) is above that "
                "maximum.",
                subject="balance_max_cents",
            )
    market = changes.get("market")
    if market is not None and market.currency_code != card.currency_code:
        raise exceptions.CurrencyMismatch(
            f"The card is in {card.currency_code}; the market uses {market.currency_code}.",
            subject="market",
        )
    if "metadata" in changes and not isinstance(changes["metadata"], dict):
        raise exceptions.GiftCardError("Metadata must be a JSON object.", subject="metadata")
    checks.require_storable_json(changes.get("metadata"), "metadata")
    for subject in ("purchase_date", "expires_at"):
        if changes.get(subject) is not None:
            checks.require_accepted_moment(changes[subject], subject)
    changed = [name for name, value in changes.items() if getattr(card, name) != value]
    for name in changed:
        setattr(card, name, changes[name])
    return changed


def expire_now(card: GiftCard) -> list[str]:
    now = timezone.now()
    if card.is_expired(now):
        return []
    card.expires_at = now
    return ["expires_at"]


def soft_delete(card: GiftCard) -> list[str]:
    if card.is_deleted:
        return []
    card.deleted_at = timezone.now()
    outbox.record(card, (topics.CARD_DESTROY, outbox.card_facts(card)))
    return ["deleted_at"]


def restore(card: GiftCard) -> list[str]:
    if not card.is_deleted:
        return []
    card.deleted_at = None
    return ["deleted_at"]


def set_tags(
    card: GiftCard,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: Iterable[Tag] | None = None,
) -> bool:
    """Replace the card's tags with `replace` (tags of its business and mode) when given, then
    add and remove tags by name (a new name, which must follow
    `catalogue.tag_name_check`, creates the tag); True when the tags changed."""
    changed = False
    if replace is not None:
        wanted = {tag.pk: tag for tag in replace}
        for tag in wanted.values():
            checks.check_same_tenant(checks.tenant_of(card), tag=tag)
        current = set(card.tags.values_list("pk", flat=True))
        if current - set(wanted):
            card.tags.remove(*(current - set(wanted)))
        if set(wanted) - current:
            card.tags.add(*(wanted[pk] for pk in sorted(set(wanted) - current)))
        changed = set(wanted) != current
    add_names = {name.strip() for name in add if name.strip()}
    remove_names = {name.strip() for name in remove if name.strip()}
    present = set(card.tags.values_list("name", flat=True)) if add_names or remove_names else set()
    to_add, to_remove = add_names - present, remove_names & present
    tags = Tag.objects.filter(business_id=card.business_id, mode=card.mode)
    for name in sorted(to_add):
        if catalogue.TAG_NAME_PATTERN.match(name):
            tag, _ = tags.get_or_create(business_id=card.business_id, mode=card.mode, name=name)
        else:  # a name stored before the rule is still found; a new one is refused
            tag = tags.filter(name=name).first()
            if tag is None:
                catalogue.tag_name_check(name)
        card.tags.add(tag)
    if to_remove:
        card.tags.remove(*card.tags.filter(name__in=to_remove))
    return changed or bool(to_add or to_remove)


def tags_step(
    card: GiftCard,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: Iterable[Tag] | None = None,
) -> list[str]:
    """`set_tags` as a step: a change of tags is a change of the card (who, when)."""
    return ["modified_by"] if set_tags(card, add, remove, replace) else []


@metrics.counts_refusals(None)
def _one_step(card, tenant, actor, step, *args, **kwargs) -> GiftCard:
    """One transaction, one lock, one step, one save (when the step changed anything)."""
    with transaction.atomic():
        locked = lock_card(card, tenant=tenant)
        changed = step(locked, *args, **kwargs)
        if changed:
            locked.save(update_fields={*checks.touch(locked, actor), *changed})
    return locked


# ---------------------------------------------------------------------------- operations


def card_transition(
    *, card: GiftCard | str, trigger: str, actor: Actor, tenant: Tenant | None = None
) -> GiftCard:
    """Apply a status trigger: `purchase`, `activate` or `deactivate`.

    Raises CardNotFound, CardDeleted, IllegalTransition (naming the current status).
    """
    if trigger not in TRANSITIONS:
        raise exceptions.IllegalTransition(f"Unknown trigger {trigger!r}.")
    return _one_step(card, tenant, actor, transition, trigger)


def card_purchase(*, card: GiftCard | str, actor: Actor, tenant: Tenant | None = None) -> GiftCard:
    return card_transition(card=card, trigger="purchase", actor=actor, tenant=tenant)


def card_activate(*, card: GiftCard | str, actor: Actor, tenant: Tenant | None = None) -> GiftCard:
    return card_transition(card=card, trigger="activate", actor=actor, tenant=tenant)


def card_deactivate(
    *, card: GiftCard | str, actor: Actor, tenant: Tenant | None = None
) -> GiftCard:
    return card_transition(card=card, trigger="deactivate", actor=actor, tenant=tenant)


def card_update(
    *, card: GiftCard | str, actor: Actor, tenant: Tenant | None = None, **changes: Any
) -> GiftCard:
    """Change attributes that do not move money (see UPDATABLE_FIELDS).

    Raises CardNotFound, GiftCardError for an unknown field, BalanceMaxExceeded when a new
    maximum is below the balance, CurrencyMismatch when a market of another currency is set,
    InvalidValue for a date outside giftcards/dates.py's range or text no store can hold in
    metadata.
    """
    check_updatable(changes)
    return _one_step(card, tenant, actor, update, changes)


def card_expire_now(
    *, card: GiftCard | str, actor: Actor, tenant: Tenant | None = None
) -> GiftCard:
    """Make the card expired from now on, unless it already is."""
    return _one_step(card, tenant, actor, expire_now)


def card_soft_delete(
    *, card: GiftCard | str, actor: Actor, tenant: Tenant | None = None
) -> GiftCard:
    """Hide the card and refuse every balance change; its ledger stays. Deleting twice is a
    no-op."""
    return _one_step(card, tenant, actor, soft_delete)


def card_restore(*, card: GiftCard | str, actor: Actor, tenant: Tenant | None = None) -> GiftCard:
    """Undo a soft delete."""
    return _one_step(card, tenant, actor, restore)


def card_set_tags(
    *,
    card: GiftCard | str,
    actor: Actor,
    tenant: Tenant | None = None,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: Iterable[Tag] | None = None,
) -> GiftCard:
    """Replace the card's tags with `replace` (when given), then add and remove tags by name;
    a new name creates its tag. Raises InvalidName for a new name that breaks
    `catalogue.TAG_NAME_RULE`, GiftCardError for a tag of another business or mode."""
    return _one_step(card, tenant, actor, tags_step, add, remove, replace)


# ---------------------------------------------------------------------------- recipients


def recipient_find_or_create(
    *, tenant: Tenant, email: str, defaults: dict[str, Any] | None = None
) -> GiftCardRecipient:
    """The tenant's recipient with this email (case-insensitive), created if there is none.

    `defaults` (first_name, last_name, reference, reference_origin, metadata, client) only
    apply to a new recipient.
    """
    email = email.strip()
    recipients = GiftCardRecipient.objects.for_tenant(tenant)
    found = recipients.filter(email__iexact=email).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            recipient = GiftCardRecipient.objects.create(
                business=tenant.business, mode=tenant.mode, email=email, **(defaults or {})
            )
            outbox.record(recipient, (topics.RECIPIENT_CREATE, {"email": recipient.email}))
            return recipient
    except IntegrityError:
        # Created concurrently by another request: the unique constraint kept one row.
        return recipients.get(email__iexact=email)

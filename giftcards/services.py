"""The only door through which gift card balances and statuses change.

Every function here follows one recipe: open a transaction, lock the card row, check
everything against the locked row, write at most one ledger row, save the card with
`update_fields`. Checks made before the lock would let two debits race for the same dollar.
Each function says in its docstring which domain errors it raises; on any error nothing has
been written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.models import Client
from clients.tenancy import Actor, Tenant
from giftcards import codes, exceptions, money
from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Market, Status, Tag

Kind = BalanceLog.Kind

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
ISSUABLE_STATUSES = frozenset({Status.DRAFT, Status.INACTIVE, Status.ACTIVE})
# What a BigIntegerField holds: a larger amount would fail in the database, as a 500.
MAX_CENTS = 2**63 - 1


@dataclass(frozen=True)
class BalanceChange:
    """What a balance operation did: the card after it and the ledger row it wrote.

    `entry` is None when there was nothing to write (an adjustment to the same balance);
    `replayed` is True when an idempotency key matched an earlier row and nothing moved.
    """

    card: GiftCard
    entry: BalanceLog | None
    replayed: bool = False


# ---------------------------------------------------------------------------- helpers


def _lock(card: GiftCard | str) -> GiftCard:
    pk = card.pk if isinstance(card, GiftCard) else card
    return GiftCard.objects.select_for_update().get(pk=pk)


def _require_positive_cents(amount_cents: Any, field: str = "amount_cents") -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise exceptions.InvalidAmount("The amount must be a whole number of cents.", field=field)
    if amount_cents <= 0:
        raise exceptions.InvalidAmount("The amount must be greater than zero.", field=field)
    if amount_cents > MAX_CENTS:
        raise exceptions.InvalidAmount("The amount is too large.", field=field)
    return amount_cents


def _require_non_negative_cents(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise exceptions.InvalidAmount("The amount must be a whole number of cents.", field=field)
    if value < 0:
        raise exceptions.InvalidAmount("The amount cannot be negative.", field=field)
    if value > MAX_CENTS:
        raise exceptions.InvalidAmount("The amount is too large.", field=field)
    return value


def _check_not_deleted(card: GiftCard) -> None:
    if card.is_deleted:
        raise exceptions.CardDeleted(
            f"Gift card {card.masked_code} is deleted; its balance cannot change."
        )


def _check_not_expired(card: GiftCard, now: datetime) -> None:
    if card.is_expired(now):
        raise exceptions.CardExpired(
            f"Gift card {card.masked_code} expired at {card.expires_at:%Y-%m-%d %H:%M} UTC."
        )


def _check_currency(card: GiftCard, currency_code: str | None) -> None:
    if currency_code is not None and currency_code != card.currency_code:
        raise exceptions.CurrencyMismatch(
            f"The card is in {card.currency_code}, not {currency_code}."
        )


def _money(card: GiftCard, cents: int) -> str:
    """An amount as people read it in messages: "$10.00", "¥1,000"."""
    return money.format_cents(cents, card.currency_code)


def _check_within_max(card: GiftCard, new_balance: int) -> None:
    if new_balance > MAX_CENTS:
        raise exceptions.BalanceMaxExceeded(
            f"The balance would be {_money(card, new_balance)}, more than a card can hold."
        )
    if card.balance_max_cents is not None and new_balance > card.balance_max_cents:
        raise exceptions.BalanceMaxExceeded(
            f"The balance would be {_money(card, new_balance)}, above the card's maximum of "
            f"{_money(card, card.balance_max_cents)}."
        )


def _replay(
    card: GiftCard, idempotency_key: str | None, kind: str, **same: Any
) -> BalanceChange | None:
    """The earlier result for this key on this card, if any. Called under the card lock.

    `same` holds the ledger fields that identify the operation (the amount of a debit, the
    target balance of an adjustment, the payment a refund is for); a row with the key but
    other values is a conflict, not a replay.
    """
    if not idempotency_key:
        return None
    entry = card.ledger.filter(idempotency_key=idempotency_key).first()
    if entry is None:
        return None
    if entry.kind != kind or any(getattr(entry, name) != value for name, value in same.items()):
        raise exceptions.IdempotencyConflict(
            f"Idempotency key {idempotency_key!r} was already used on this card for a "
            f"different operation ({entry.kind} of {entry.amount_cents} cents)."
        )
    return BalanceChange(card=card, entry=entry, replayed=True)


def _post(
    card: GiftCard,
    *,
    kind: str,
    amount_cents: int,
    actor: Actor,
    new_status: str | None = None,
    idempotency_key: str | None = None,
    order_reference: str = "",
    note: str = "",
    occurred_at: datetime | None = None,
    refund_of: BalanceLog | None = None,
) -> BalanceChange:
    """Write one ledger row and the card's cached balance. The card must be locked."""
    card.balance_cents += amount_cents
    if new_status is not None:
        card.status = new_status
    card.updated_at = timezone.now()
    card.modified_by = actor.name
    entry = BalanceLog.objects.create(
        card=card,
        kind=kind,
        amount_cents=amount_cents,
        balance_after_cents=card.balance_cents,
        idempotency_key=idempotency_key or None,
        order_reference=order_reference or "",
        refund_of=refund_of,
        actor_name=actor.name,
        user=actor.user,
        api_key=actor.api_key,
        note=note or "",
        occurred_at=occurred_at,
        created_at=card.updated_at,
    )
    card.save(update_fields=["balance_cents", "status", "updated_at", "modified_by"])
    return BalanceChange(card=card, entry=entry)


def _save_fields(card: GiftCard, actor: Actor, *fields: str) -> GiftCard:
    card.updated_at = timezone.now()
    card.modified_by = actor.name
    card.save(update_fields=[*fields, "updated_at", "modified_by"])
    return card


def _check_same_tenant(tenant: Tenant, **related: Any) -> None:
    for field, obj in related.items():
        if obj is not None and not obj.belongs_to(tenant):
            raise exceptions.GiftCardError(
                f"That {field.replace('_', ' ')} does not exist.", field=field
            )


def _resolve_currency(tenant: Tenant, currency_code: str | None, market: Market | None) -> str:
    if currency_code is None:
        return market.currency_code if market is not None else tenant.business.currency_code
    if not money.is_known_currency(currency_code):
        raise exceptions.InvalidCurrency(f"{currency_code!r} is not an ISO 4217 currency code.")
    if market is not None and market.currency_code != currency_code:
        raise exceptions.CurrencyMismatch(
            f"The market uses {market.currency_code}, not {currency_code}."
        )
    return currency_code


# ---------------------------------------------------------------------------- issuing


def card_issue(
    *,
    tenant: Tenant,
    actor: Actor,
    balance_cents: int,
    currency_code: str | None = None,
    code: str | None = None,
    status: str = Status.DRAFT,
    balance_max_cents: int | None = None,
    single_use: bool = False,
    rechargeable: bool = True,
    distribute_discount: bool = True,
    image_url: str = "",
    purchase_date: datetime | None = None,
    expires_at: datetime | None = None,
    reference: str = "",
    reference_origin: str = "",
    metadata: dict | None = None,
    client: Client | None = None,
    recipient: GiftCardRecipient | None = None,
    market: Market | None = None,
    tags: Iterable[Tag] = (),
) -> GiftCard:
    """Create a card and its `issue` ledger row.

    Raises InvalidAmount, InvalidCurrency, CurrencyMismatch, BalanceMaxExceeded, InvalidCode,
    DuplicateCode, IllegalTransition (a status other than draft, inactive or active).
    """
    _require_non_negative_cents(balance_cents, "balance_cents")
    if balance_max_cents is not None:
        _require_positive_cents(balance_max_cents, "balance_max_cents")
        if balance_cents > balance_max_cents:
            raise exceptions.BalanceMaxExceeded(
                "The balance cannot exceed the card's maximum balance.", field="balance_cents"
            )
    if status not in ISSUABLE_STATUSES:
        raise exceptions.IllegalTransition(
            f"A new card starts as draft, inactive or active, not {str(status)!r}."
        )
    if metadata is not None and not isinstance(metadata, dict):
        raise exceptions.GiftCardError("Metadata must be a JSON object.", field="metadata")
    with transaction.atomic():
        _check_same_tenant(tenant, client=client, gift_card_recipient=recipient, market=market)
        if market is not None:
            # The market's currency, read under a lock that conflicts with market_update's: a
            # currency change in flight is waited for, never read stale (PostgreSQL; SQLite
            # serialises writers anyway). Issues into one market take turns, briefly.
            market = Market.objects.select_for_update(no_key=True).get(pk=market.pk)
        currency_code = _resolve_currency(tenant, currency_code, market)

        if code is None:
            chosen = False
            code = codes.generate()
        else:
            chosen = True
            try:
                codes.validate(code)
            except codes.InvalidCode as exc:
                raise exceptions.InvalidCode(str(exc)) from exc

        tags = list(tags)
        for tag in tags:
            _check_same_tenant(tenant, tag=tag)

        now = timezone.now()
        if status != Status.DRAFT and purchase_date is None:
            purchase_date = now
        for _attempt in range(5):
            card = GiftCard(
                business=tenant.business,
                mode=tenant.mode,
                code_hash=codes.lookup_hash(code),
                code_encrypted=codes.encrypt(code),
                code_last4=codes.last4(code),
                status=status,
                currency_code=currency_code,
                initial_balance_cents=balance_cents,
                balance_cents=balance_cents,
                balance_max_cents=balance_max_cents,
                single_use=single_use,
                rechargeable=rechargeable,
                distribute_discount=distribute_discount,
                image_url=image_url,
                purchase_date=purchase_date,
                expires_at=expires_at,
                reference=reference,
                reference_origin=reference_origin,
                metadata=metadata if metadata is not None else {},
                client=client,
                recipient=recipient,
                market=market,
                created_at=now,
                updated_at=now,
                created_by=actor.name,
                modified_by=actor.name,
            )
            try:
                with transaction.atomic():
                    card.save(force_insert=True)
                    BalanceLog.objects.create(
                        card=card,
                        kind=Kind.ISSUE,
                        amount_cents=balance_cents,
                        balance_after_cents=balance_cents,
                        actor_name=actor.name,
                        user=actor.user,
                        api_key=actor.api_key,
                        created_at=now,
                    )
                    if tags:
                        card.tags.add(*tags)
                return card
            except IntegrityError:
                taken = GiftCard.objects.filter(
                    business=tenant.business, code_hash=card.code_hash
                ).exists()
                if not taken:
                    raise
                if chosen:
                    raise exceptions.DuplicateCode(
                        "This business already has a card with that code."
                    ) from None
                code = codes.generate()  # a generated code collided: draw another
        raise exceptions.DuplicateCode("Could not draw an unused code.")


# ---------------------------------------------------------------------------- balances


def card_debit(
    *,
    card: GiftCard | str,
    amount_cents: int,
    actor: Actor,
    currency_code: str | None = None,
    idempotency_key: str | None = None,
    order_reference: str = "",
    note: str = "",
    occurred_at: datetime | None = None,
) -> BalanceChange:
    """Spend `amount_cents` (> 0) of an active card's balance.

    The card becomes redeemed when its balance reaches 0, or after its first debit if it is
    single-use. Raises InvalidAmount, CardDeleted, CardNotActive, CardExpired,
    CurrencyMismatch, InsufficientBalance, IdempotencyConflict.
    """
    _require_positive_cents(amount_cents)
    with transaction.atomic():
        locked = _lock(card)
        replay = _replay(
            locked,
            idempotency_key,
            Kind.DEBIT,
            amount_cents=-amount_cents,
            order_reference=order_reference or "",
        )
        if replay:
            return replay
        _check_not_deleted(locked)
        if locked.status == Status.REDEEMED and locked.balance_cents == 0:
            # Used up: the amount is what cannot be met (the plain API has no "redeemed").
            raise exceptions.CardNotActive(
                f"Only an active card can be debited; this card is redeemed: its balance is "
                f"{_money(locked, 0)}.",
                field="amount_cents",
            )
        if locked.status != Status.ACTIVE:
            raise exceptions.CardNotActive(
                f"Only an active card can be debited; this card is {locked.status}."
            )
        _check_not_expired(locked, timezone.now())
        _check_currency(locked, currency_code)
        if amount_cents > locked.balance_cents:
            raise exceptions.InsufficientBalance(
                f"The card's balance is {_money(locked, locked.balance_cents)}; "
                f"{_money(locked, amount_cents)} cannot be debited."
            )
        remaining = locked.balance_cents - amount_cents
        redeemed = remaining == 0 or locked.single_use
        return _post(
            locked,
            kind=Kind.DEBIT,
            amount_cents=-amount_cents,
            actor=actor,
            new_status=Status.REDEEMED if redeemed else None,
            idempotency_key=idempotency_key,
            order_reference=order_reference,
            note=note,
            occurred_at=occurred_at,
        )


def card_recharge(
    *,
    card: GiftCard | str,
    amount_cents: int,
    actor: Actor,
    currency_code: str | None = None,
    idempotency_key: str | None = None,
    order_reference: str = "",
    note: str = "",
) -> BalanceChange:
    """Add `amount_cents` (> 0) to a rechargeable card that is active, or redeemed and not
    single-use (which makes it active again).

    Raises InvalidAmount, CardDeleted, NotRechargeable, CardNotActive, CardExpired,
    CurrencyMismatch, BalanceMaxExceeded, IdempotencyConflict.
    """
    _require_positive_cents(amount_cents)
    with transaction.atomic():
        locked = _lock(card)
        replay = _replay(locked, idempotency_key, Kind.RECHARGE, amount_cents=amount_cents)
        if replay:
            return replay
        _check_not_deleted(locked)
        if not locked.rechargeable:
            raise exceptions.NotRechargeable("This card is not rechargeable.")
        reusable = locked.status == Status.REDEEMED and not locked.single_use
        if locked.status != Status.ACTIVE and not reusable:
            detail = " single-use and" if locked.single_use else ""
            raise exceptions.CardNotActive(
                f"Only an active card can be recharged; this card is{detail} {locked.status}."
            )
        _check_not_expired(locked, timezone.now())
        _check_currency(locked, currency_code)
        _check_within_max(locked, locked.balance_cents + amount_cents)
        return _post(
            locked,
            kind=Kind.RECHARGE,
            amount_cents=amount_cents,
            actor=actor,
            new_status=Status.ACTIVE,
            idempotency_key=idempotency_key,
            order_reference=order_reference,
            note=note,
        )


def card_adjust(
    *,
    card: GiftCard | str,
    new_balance_cents: int,
    actor: Actor,
    note: str,
    idempotency_key: str | None = None,
    reopen_redeemed: bool = False,
) -> BalanceChange:
    """Set the balance to `new_balance_cents`, recording the difference as an adjustment.

    Allowed in any status, never on a deleted card; the status does not change, except that
    with `reopen_redeemed` a redeemed card that is not single-use and gets a positive balance
    becomes active again (the plain API, which has no "redeemed", asks for that). Setting the
    same balance writes nothing. Raises InvalidAmount, CardDeleted, BalanceMaxExceeded,
    IdempotencyConflict.
    """
    _require_non_negative_cents(new_balance_cents, "balance_cents")
    with transaction.atomic():
        locked = _lock(card)
        # A retry asks for the same target balance; the difference has changed since.
        replay = _replay(
            locked, idempotency_key, Kind.ADJUSTMENT, balance_after_cents=new_balance_cents
        )
        if replay:
            return replay
        delta = new_balance_cents - locked.balance_cents
        _check_not_deleted(locked)
        if delta == 0:
            return BalanceChange(card=locked, entry=None)
        try:
            _check_within_max(locked, new_balance_cents)
        except exceptions.BalanceMaxExceeded as exc:
            exc.field = "balance_cents"
            raise
        reopen = (
            reopen_redeemed
            and locked.status == Status.REDEEMED
            and not locked.single_use
            and new_balance_cents > 0
        )
        return _post(
            locked,
            kind=Kind.ADJUSTMENT,
            amount_cents=delta,
            actor=actor,
            new_status=Status.ACTIVE if reopen else None,
            idempotency_key=idempotency_key,
            note=note,
        )


def card_refund(
    *,
    payment: BalanceLog,
    actor: Actor,
    note: str = "",
    idempotency_key: str | None = None,
) -> BalanceChange:
    """Give back a whole debit. A redeemed card becomes active again.

    Refunds are allowed on expired and inactive cards (the money was the customer's), never
    on deleted ones, and once per debit. Raises NotRefundable, AlreadyRefunded, CardDeleted,
    BalanceMaxExceeded.
    """
    if payment.kind != Kind.DEBIT:
        raise exceptions.NotRefundable("Only a debit can be refunded.")
    with transaction.atomic():
        locked = _lock(payment.card_id)
        replay = _replay(locked, idempotency_key, Kind.REFUND, refund_of_id=payment.pk)
        if replay:
            return replay
        if BalanceLog.objects.filter(refund_of=payment).exists():
            raise exceptions.AlreadyRefunded("This payment has already been refunded.")
        _check_not_deleted(locked)
        _check_within_max(locked, locked.balance_cents - payment.amount_cents)
        return _post(
            locked,
            kind=Kind.REFUND,
            amount_cents=-payment.amount_cents,
            actor=actor,
            new_status=Status.ACTIVE if locked.status == Status.REDEEMED else None,
            idempotency_key=idempotency_key,
            order_reference=payment.order_reference,
            note=note,
            refund_of=payment,
        )


# ---------------------------------------------------------------------------- statuses

# trigger -> (statuses it applies to, status it leads to)
TRANSITIONS = {
    "purchase": ({Status.DRAFT}, Status.INACTIVE),
    "activate": ({Status.DRAFT, Status.INACTIVE}, Status.ACTIVE),
    "deactivate": ({Status.ACTIVE}, Status.INACTIVE),
}


def card_transition(*, card: GiftCard | str, trigger: str, actor: Actor) -> GiftCard:
    """Apply a status trigger: `purchase`, `activate` or `deactivate`.

    Raises CardDeleted, IllegalTransition (naming the current status).
    """
    if trigger not in TRANSITIONS:
        raise exceptions.IllegalTransition(f"Unknown trigger {trigger!r}.")
    sources, target = TRANSITIONS[trigger]
    with transaction.atomic():
        locked = _lock(card)
        if locked.is_deleted:
            raise exceptions.CardDeleted(f"Gift card {locked.masked_code} is deleted.")
        if locked.status not in sources:
            raise exceptions.IllegalTransition(f"Cannot {trigger} a card that is {locked.status}.")
        locked.status = target
        fields = ["status"]
        if locked.purchase_date is None:
            locked.purchase_date = timezone.now()
            fields.append("purchase_date")
        return _save_fields(locked, actor, *fields)


def card_purchase(*, card: GiftCard | str, actor: Actor) -> GiftCard:
    return card_transition(card=card, trigger="purchase", actor=actor)


def card_activate(*, card: GiftCard | str, actor: Actor) -> GiftCard:
    return card_transition(card=card, trigger="activate", actor=actor)


def card_deactivate(*, card: GiftCard | str, actor: Actor) -> GiftCard:
    return card_transition(card=card, trigger="deactivate", actor=actor)


# ---------------------------------------------------------------------------- attributes


def card_update(*, card: GiftCard | str, actor: Actor, **changes: Any) -> GiftCard:
    """Change attributes that do not move money (see UPDATABLE_FIELDS).

    Raises GiftCardError for an unknown field, BalanceMaxExceeded when a new maximum is below
    the balance, CurrencyMismatch when a market of another currency is set.
    """
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        field = sorted(unknown)[0]
        raise exceptions.GiftCardError(f"{field} cannot be changed here.", field=field)
    with transaction.atomic():
        locked = _lock(card)
        tenant = Tenant(business=locked.business, mode=locked.mode)
        _check_same_tenant(
            tenant,
            client=changes.get("client"),
            gift_card_recipient=changes.get("recipient"),
            market=changes.get("market"),
        )
        if changes.get("balance_max_cents") is not None:
            new_max = _require_positive_cents(changes["balance_max_cents"], "balance_max_cents")
            if locked.balance_cents > new_max:
                raise exceptions.BalanceMaxExceeded(
                    f"The balance ({_money(locked, locked.balance_cents)}) is above that maximum.",
                    field="balance_max_cents",
                )
        market = changes.get("market")
        if market is not None and market.currency_code != locked.currency_code:
            raise exceptions.CurrencyMismatch(
                f"The card is in {locked.currency_code}; the market uses {market.currency_code}.",
                field="market",
            )
        if "metadata" in changes and not isinstance(changes["metadata"], dict):
            raise exceptions.GiftCardError("Metadata must be a JSON object.", field="metadata")
        changed = [name for name, value in changes.items() if getattr(locked, name) != value]
        if not changed:
            return locked
        for name in changed:
            setattr(locked, name, changes[name])
        return _save_fields(locked, actor, *changed)


def card_expire_now(*, card: GiftCard | str, actor: Actor) -> GiftCard:
    """Make the card expired from now on, unless it already is."""
    with transaction.atomic():
        locked = _lock(card)
        now = timezone.now()
        if locked.is_expired(now):
            return locked
        locked.expires_at = now
        return _save_fields(locked, actor, "expires_at")


def card_soft_delete(*, card: GiftCard | str, actor: Actor) -> GiftCard:
    """Hide the card and refuse every balance change; its ledger stays. Deleting twice is a
    no-op."""
    with transaction.atomic():
        locked = _lock(card)
        if locked.is_deleted:
            return locked
        locked.deleted_at = timezone.now()
        return _save_fields(locked, actor, "deleted_at")


def card_restore(*, card: GiftCard | str, actor: Actor) -> GiftCard:
    """Undo a soft delete."""
    with transaction.atomic():
        locked = _lock(card)
        if not locked.is_deleted:
            return locked
        locked.deleted_at = None
        return _save_fields(locked, actor, "deleted_at")


def card_set_tags(
    *, card: GiftCard | str, actor: Actor, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> GiftCard:
    """Add and remove tags by name; tags that do not exist yet are created."""
    with transaction.atomic():
        locked = _lock(card)
        add_names = {name.strip() for name in add if name.strip()}
        remove_names = {name.strip() for name in remove if name.strip()}
        present = set(locked.tags.values_list("name", flat=True))
        to_add, to_remove = add_names - present, remove_names & present
        for name in sorted(to_add):
            tag, _ = Tag.objects.get_or_create(
                business=locked.business, mode=locked.mode, name=name
            )
            locked.tags.add(tag)
        if to_remove:
            locked.tags.remove(*locked.tags.filter(name__in=to_remove))
        if to_add or to_remove:
            _save_fields(locked, actor)
        return locked


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
            return GiftCardRecipient.objects.create(
                business=tenant.business, mode=tenant.mode, email=email, **(defaults or {})
            )
    except IntegrityError:
        # Created concurrently by another request: the unique constraint kept one row.
        return recipients.get(email__iexact=email)

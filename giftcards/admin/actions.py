"""The actions on a card's page: who may run each, when it applies, and the one service
call it makes. Each returns the sentence staff see; domain errors propagate to the view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clients.tenancy import Actor, Tenant
from giftcards import exceptions, money, selectors, services
from giftcards.admin.forms import AdjustForm, ConfirmForm, DebitForm, RechargeForm, TransferForm
from giftcards.events import mail
from giftcards.models import GiftCard, Status

# The same words whether no card has the code or a card of another business or mode has it.
NO_SUCH_CARD = "No such card: check the code of the card to move the balance to."


def amount_text(cents: int, card: GiftCard) -> str:
    return money.format_cents(cents, card.currency_code)


def _run_debit(card, data, actor):
    change = services.card_debit(
        card=card,
        amount_cents=data["amount"],
        actor=actor,
        idempotency_key=data["idempotency_key"] or None,
        order_reference=data["order_reference"],
        note=data["note"],
    )
    if change.replayed:
        return (
            "This redemption was already recorded (the form was sent twice); "
            "nothing more was debited."
        )
    return (
        f"Redeemed {amount_text(data['amount'], card)}; the balance is now "
        f"{amount_text(change.card.balance_cents, card)} ({change.card.status})."
    )


def _run_recharge(card, data, actor):
    change = services.card_recharge(
        card=card,
        amount_cents=data["amount"],
        actor=actor,
        idempotency_key=data["idempotency_key"] or None,
        note=data["note"],
    )
    if change.replayed:
        return (
            "This recharge was already recorded (the form was sent twice); nothing more was added."
        )
    return (
        f"Recharged {amount_text(data['amount'], card)}; the balance is now "
        f"{amount_text(change.card.balance_cents, card)}."
    )


def _run_adjust(card, data, actor):
    change = services.card_adjust(
        card=card,
        new_balance_cents=data["new_balance"],
        actor=actor,
        note=data["reason"],
        idempotency_key=data["idempotency_key"] or None,
    )
    if change.replayed:
        return "This adjustment was already recorded (the form was sent twice)."
    if change.entry is None:
        already = amount_text(data["new_balance"], card)
        return f"The balance already is {already}; nothing was recorded."
    return (
        f"Adjusted the balance by {amount_text(abs(change.entry.amount_cents), card)} "
        f"({'up' if change.entry.amount_cents > 0 else 'down'}) to "
        f"{amount_text(change.card.balance_cents, card)}."
    )


def _run_transfer(card, data, actor):
    # The source card came through the staff member's scoped queryset: its business and mode
    # are the tenant, and the target is looked for there only.
    tenant = Tenant(business=card.business, mode=card.mode)
    target = selectors.card_get_by_code(tenant=tenant, code=data["target_code"])
    if target is None:
        raise exceptions.CardNotFound(NO_SUCH_CARD, subject="target")
    moved = services.card_transfer(
        tenant=tenant,
        actor=actor,
        source=card,
        target=target,
        amount_cents=data["amount"],
        note=data["note"],
        idempotency_key=data["idempotency_key"] or None,
    )
    if moved.replayed:
        return "This transfer was already recorded (the form was sent twice); nothing more moved."
    return (
        f"Moved {amount_text(data['amount'], card)} from {moved.source.masked_code} to "
        f"{moved.target.masked_code}; their balances are now "
        f"{amount_text(moved.source.balance_cents, card)} and "
        f"{amount_text(moved.target.balance_cents, card)}."
    )


def _transition(trigger: str) -> Callable:
    def run(card, data, actor):
        updated = services.card_transition(card=card, trigger=trigger, actor=actor)
        return f"The card is now {updated.status}."

    return run


def _run_soft_delete(card, data, actor):
    services.card_soft_delete(card=card, actor=actor)
    return (
        "The card is deleted: hidden from the APIs, refusing every balance change. "
        "Its ledger stays."
    )


def _run_restore(card, data, actor):
    services.card_restore(card=card, actor=actor)
    return "The card is restored."


def status_text(card: GiftCard) -> str:
    """The status as the card's page labels it ("Deleted · Active", "Expired · Active")."""
    label = card.get_status_display()
    if card.is_deleted:
        return f"Deleted · {label}"
    if card.is_expired():
        return f"Expired · {label}"
    return label


@dataclass(frozen=True)
class Change:
    """One line of a confirmation page: what a field is now and what it will be."""

    label: str
    before: str
    after: str


def _preview_deactivate(card, data) -> list[Change]:
    after = Status(Status.INACTIVE).label
    if card.is_expired():
        after = f"Expired · {after}"
    return [Change("Status", status_text(card), after)]


def _preview_delete(card, data) -> list[Change]:
    return [Change("Status", status_text(card), f"Deleted · {card.get_status_display()}")]


def _preview_adjust(card, data) -> list[Change]:
    # card_adjust never changes the status from the admin (no reopening of redeemed cards).
    status = status_text(card)
    return [
        Change(
            "Balance",
            amount_text(card.balance_cents, card),
            amount_text(data["new_balance"], card),
        ),
        Change("Status", status, f"{status} (unchanged)"),
    ]


def _run_resend_email(card, data, actor):
    queued = mail.card_email_resend(
        card=card, actor=actor, tenant=Tenant(business=card.business, mode=card.mode)
    )
    return f"The card will be e-mailed to {queued.email} again within moments."


@dataclass(frozen=True)
class CardAction:
    name: str
    label: str
    permission: str
    form: type
    run: Callable[[GiftCard, dict, Actor], str]
    applies: Callable[[GiftCard], bool]
    help: str = ""
    danger: bool = False
    # Actions that take something away ask first: the first POST shows what
    # `confirm` says will change, and only a POST carrying CONFIRM_FIELD runs the action.
    confirm: Callable[[GiftCard, dict], list[Change]] | None = None


CONFIRM_FIELD = "confirm"


def _live(card):
    return not card.is_deleted


CARD_ACTIONS = {
    action.name: action
    for action in [
        CardAction(
            "debit",
            "Redeem",
            "giftcards.redeem_giftcard",
            DebitForm,
            _run_debit,
            _live,
            "Take an amount off the card (a debit in the ledger).",
        ),
        CardAction(
            "recharge",
            "Recharge",
            "giftcards.recharge_giftcard",
            RechargeForm,
            _run_recharge,
            lambda card: _live(card) and card.rechargeable,
            "Add money to the card.",
        ),
        CardAction(
            "adjust",
            "Adjust balance",
            "giftcards.adjust_giftcard",
            AdjustForm,
            _run_adjust,
            _live,
            "Set the balance to a corrected figure; the difference is recorded.",
            confirm=_preview_adjust,
        ),
        CardAction(
            "transfer",
            "Move balance to another card",
            # Money leaving a card without a sale: the managers' permission, as for Adjust.
            "giftcards.adjust_giftcard",
            TransferForm,
            _run_transfer,
            lambda card: _live(card) and card.balance_cents > 0,
            "Move an amount to another card of this business and mode, in the same currency.",
        ),
        CardAction(
            "purchase",
            "Mark as purchased",
            "giftcards.transition_giftcard",
            ConfirmForm,
            _transition("purchase"),
            lambda card: _live(card) and card.status == Status.DRAFT,
            "Draft to inactive: sold, not usable yet.",
        ),
        CardAction(
            "activate",
            "Activate",
            "giftcards.transition_giftcard",
            ConfirmForm,
            _transition("activate"),
            lambda card: _live(card) and card.status in (Status.DRAFT, Status.INACTIVE),
            "Make the card usable.",
        ),
        CardAction(
            "deactivate",
            "Deactivate",
            "giftcards.transition_giftcard",
            ConfirmForm,
            _transition("deactivate"),
            lambda card: _live(card) and card.status == Status.ACTIVE,
            "Stop the card from being used until it is activated again.",
            danger=True,
            confirm=_preview_deactivate,
        ),
        CardAction(
            "delete",
            "Delete card",
            "giftcards.delete_giftcard",
            ConfirmForm,
            _run_soft_delete,
            _live,
            "Soft delete: the ledger and history stay.",
            danger=True,
            confirm=_preview_delete,
        ),
        CardAction(
            "restore",
            "Restore card",
            "giftcards.delete_giftcard",
            ConfirmForm,
            _run_restore,
            lambda card: card.is_deleted,
            "Undo the deletion.",
        ),
        CardAction(
            "resend_email",
            "Send the card to its recipient again",
            "giftcards.resend_email_giftcard",
            ConfirmForm,
            _run_resend_email,
            # Only an active card is e-mailed: elsewhere the button could only be refused.
            lambda card: (
                _live(card) and card.recipient_id is not None and card.status == Status.ACTIVE
            ),
            "E-mail the card (its code, balance and expiry) to the recipient's address.",
        ),
    ]
}

# Service error fields -> sell form fields.

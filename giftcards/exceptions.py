"""Domain errors. Each carries a stable `code`, a message for people and, where one thing is
to blame, its `subject`; the APIs translate them in one handler each."""

from __future__ import annotations


class GiftCardError(Exception):
    """A refusal. `subject` names the domain thing at fault (a model attribute such as
    `balance_cents` or `expires_at`, or `card`, `idempotency_key`), never an API's field
    name: each API maps subjects to its own names in one table. `step` is set by
    `services.card_change` to the part of a change set that was refused."""

    code = "giftcard_error"
    subject: str | None = None
    step: str | None = None

    def __init__(
        self, message: str, *, subject: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if subject or field:
            self.subject = subject or field

    @property
    def field(self) -> str | None:
        """The subject, under the name forms and older callers use."""
        return self.subject

    def __str__(self) -> str:
        return self.message


class CardNotFound(GiftCardError):
    """No card with that id in the caller's business and mode (never says whether another
    business has one)."""

    code = "not_found"
    subject = "card"


class PreconditionFailed(GiftCardError):
    """The card changed since the version the caller read (If-Match)."""

    code = "precondition_failed"
    subject = "version"


class InvalidAmount(GiftCardError):
    code = "invalid_amount"
    subject = "amount_cents"


class InvalidCurrency(GiftCardError):
    code = "invalid_currency"
    subject = "currency_code"


class CurrencyMismatch(GiftCardError):
    code = "currency_mismatch"
    subject = "currency_code"


class InsufficientBalance(GiftCardError):
    code = "insufficient_balance"
    subject = "amount_cents"


class BalanceMaxExceeded(GiftCardError):
    code = "balance_max_exceeded"
    subject = "amount_cents"


class CardNotActive(GiftCardError):
    """The card's status does not allow a balance change; the message names the status, and
    `status` holds it, with `balance` (the card's balance, formatted) when it matters: an API
    whose words differ (the plain API has no draft, inactive or redeemed) rephrases it."""

    code = "card_not_active"
    subject = "status"

    def __init__(
        self,
        message: str,
        *,
        subject: str | None = None,
        status: str | None = None,
        balance: str | None = None,
    ):
        super().__init__(message, subject=subject)
        self.status = status
        self.balance = balance


class CardExpired(GiftCardError):
    code = "card_expired"
    subject = "expires_at"


class CardDeleted(GiftCardError):
    code = "card_deleted"
    subject = "deleted_at"


class NotRechargeable(GiftCardError):
    code = "not_rechargeable"
    subject = "rechargeable"


class IllegalTransition(GiftCardError):
    code = "illegal_transition"
    subject = "status"


class InvalidCode(GiftCardError):
    code = "invalid_code"
    subject = "code"


class DuplicateCode(GiftCardError):
    code = "duplicate_code"
    subject = "code"


class AlreadyRefunded(GiftCardError):
    """Nothing of the payment is left to refund."""

    code = "already_refunded"


class RefundExceedsPayment(GiftCardError):
    """A refund larger than what remains of the payment (or order) it gives back; the message
    says how much remains."""

    code = "refund_exceeds_payment"
    subject = "amount_cents"


class NotRefundable(GiftCardError):
    code = "not_refundable"


class SameCard(GiftCardError):
    """A transfer from a card to itself."""

    code = "same_card"
    subject = "target"


class IdempotencyConflict(GiftCardError):
    """The idempotency key (`key`) was used before for a different operation. The message
    does not quote it: an API's ledger key carries the caller's API key identity."""

    code = "idempotency_conflict"
    subject = "idempotency_key"

    def __init__(self, message: str, *, key: str | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.key = key


# ---------------------------------------------------------------------------- catalogue
# Recipients, markets and tags (giftcards.catalogue).


class InvalidValue(GiftCardError):
    """An attribute of a recipient, market or tag that cannot be stored as given."""

    code = "invalid"


class InvalidName(InvalidValue):
    code = "invalid_name"
    subject = "name"


class InvalidEmail(InvalidValue):
    code = "invalid_email"
    subject = "email"


class Duplicate(GiftCardError):
    """Another row of the business and mode already has this email or name."""

    code = "duplicate"


class InUse(GiftCardError):
    """Gift cards use the row, so it cannot be deleted (or, for a market, change currency)."""

    code = "in_use"


class RecipientInUse(InUse):
    code = "recipient_in_use"


class MarketInUse(InUse):
    code = "market_in_use"


# ---------------------------------------------------------------------------- webhooks


class InvalidCallbackUrl(InvalidValue):
    """A callback URL that is not https, or leads somewhere callbacks may not go."""

    code = "invalid_callback_url"
    subject = "callback_url"


class UnknownTopic(InvalidValue):
    code = "unknown_topic"
    subject = "topic"


class DeliveryBusy(GiftCardError):
    """A worker holds the delivery (it is being sent)."""

    code = "delivery_busy"


# ---------------------------------------------------------------------------- attachments


class AttachableNotFound(GiftCardError):
    """What an attachment is for (a card, a recipient, a market) is not in the caller's
    business and mode, or is a deleted card (never says whether another business has it)."""

    code = "related_not_found"
    subject = "attachable"

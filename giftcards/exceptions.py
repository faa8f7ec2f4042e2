"""Domain errors. Each carries a stable `code`, a message for people and, where one input is
to blame, the `field` it came from; the APIs translate them in one handler each."""

from __future__ import annotations


class GiftCardError(Exception):
    code = "giftcard_error"
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidAmount(GiftCardError):
    code = "invalid_amount"
    field = "amount_cents"


class InvalidCurrency(GiftCardError):
    code = "invalid_currency"
    field = "currency_code"


class CurrencyMismatch(GiftCardError):
    code = "currency_mismatch"
    field = "currency_code"


class InsufficientBalance(GiftCardError):
    code = "insufficient_balance"
    field = "amount_cents"


class BalanceMaxExceeded(GiftCardError):
    code = "balance_max_exceeded"
    field = "amount_cents"


class CardNotActive(GiftCardError):
    """The card's status does not allow a balance change; the message names the status."""

    code = "card_not_active"
    field = "status"


class CardExpired(GiftCardError):
    code = "card_expired"
    field = "expires_at"


class CardDeleted(GiftCardError):
    code = "card_deleted"
    field = "active"


class NotRechargeable(GiftCardError):
    code = "not_rechargeable"
    field = "rechargeable"


class IllegalTransition(GiftCardError):
    code = "illegal_transition"
    field = "status"


class InvalidCode(GiftCardError):
    code = "invalid_code"
    field = "code"


class DuplicateCode(GiftCardError):
    code = "duplicate_code"
    field = "code"


class AlreadyRefunded(GiftCardError):
    code = "already_refunded"


class NotRefundable(GiftCardError):
    code = "not_refundable"


class IdempotencyConflict(GiftCardError):
    """The idempotency key was used before for a different operation."""

    code = "idempotency_conflict"
    field = "idempotency_key"


# ---------------------------------------------------------------------------- catalogue
# Recipients, markets and tags (giftcards.catalogue).


class InvalidValue(GiftCardError):
    """An attribute of a recipient, market or tag that cannot be stored as given."""

    code = "invalid"


class InvalidName(InvalidValue):
    code = "invalid_name"
    field = "name"


class InvalidEmail(InvalidValue):
    code = "invalid_email"
    field = "email"


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

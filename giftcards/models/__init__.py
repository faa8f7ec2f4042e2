"""The gift card app's models: cards and their ledger (`cards`), transfers between cards
(`transfers`), what happened to them and who hears of it (`events`: the outbox, webhooks,
deliveries, card e-mails), attachments, and bulk imports and exports (`bulk`)."""

from giftcards.models.attachments import AttachableType, Attachment
from giftcards.models.bulk import Export, Import, JobStatus
from giftcards.models.cards import (
    PUBLIC_ID_PATTERN,
    SHOWABLE_MOMENTS,
    BalanceLog,
    BalanceLogQuerySet,
    CardHistory,
    GiftCard,
    GiftCardQuerySet,
    GiftCardRecipient,
    LedgerImmutable,
    Market,
    Status,
    Tag,
    history_user,
    new_public_id,
)
from giftcards.models.events import (
    CardEmail,
    CircuitState,
    Delivery,
    EventCallback,
    OutboxEvent,
    Webhook,
)
from giftcards.models.transfers import BalanceTransfer

__all__ = [
    "PUBLIC_ID_PATTERN",
    "SHOWABLE_MOMENTS",
    "AttachableType",
    "Attachment",
    "BalanceLog",
    "BalanceLogQuerySet",
    "BalanceTransfer",
    "CardEmail",
    "CardHistory",
    "CircuitState",
    "Delivery",
    "EventCallback",
    "Export",
    "GiftCard",
    "GiftCardQuerySet",
    "GiftCardRecipient",
    "Import",
    "JobStatus",
    "LedgerImmutable",
    "Market",
    "OutboxEvent",
    "Status",
    "Tag",
    "Webhook",
    "history_user",
    "new_public_id",
]

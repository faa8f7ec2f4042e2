"""django-filter FilterSets with ransack-style predicates (`status_eq`, `created_at_gt`, ...):
the predicate engine (`predicates`) and each resource's filterable attributes (`resources`)."""

from giftcards.filters.exports import BalanceLogFilterSet, ExportFilterSet
from giftcards.filters.predicates import (
    KIND_PREDICATES,
    PREDICATES,
    Attribute,
    PredicateFilter,
    PredicateFilterSet,
    ValueFilterSet,
    json_contains,
)
from giftcards.filters.resources import (
    AttachmentFilterSet,
    BalanceTransferFilterSet,
    EventCallbackFilterSet,
    EventFilterSet,
    GiftCardFilterSet,
    GiftCardRecipientFilterSet,
    MarketFilterSet,
    TagFilterSet,
    WebhookFilterSet,
)

__all__ = [
    "KIND_PREDICATES",
    "PREDICATES",
    "AttachmentFilterSet",
    "Attribute",
    "BalanceLogFilterSet",
    "BalanceTransferFilterSet",
    "EventCallbackFilterSet",
    "EventFilterSet",
    "ExportFilterSet",
    "GiftCardFilterSet",
    "GiftCardRecipientFilterSet",
    "MarketFilterSet",
    "PredicateFilter",
    "PredicateFilterSet",
    "TagFilterSet",
    "ValueFilterSet",
    "WebhookFilterSet",
    "json_contains",
]

"""What exports filter: the ledger rows a `balance_logs` export reads, and the exports
themselves (`GET /api/exports`)."""

from __future__ import annotations

from giftcards.filters.predicates import Attribute, PredicateFilterSet
from giftcards.models import BalanceLog, Export, JobStatus


class BalanceLogFilterSet(PredicateFilterSet):
    attributes = (
        Attribute("id", "integer"),
        Attribute("card_id", "id"),
        Attribute("kind", "choice", "", tuple(BalanceLog.Kind.values)),
        Attribute("amount_cents", "integer"),
        Attribute("balance_after_cents", "integer"),
        Attribute("currency_code", "string", "card__currency_code"),
        Attribute("order_reference", "string"),
        Attribute("refund_of_id", "integer"),
        Attribute("transfer_id", "id"),
        Attribute("actor_name", "string"),
        Attribute("note", "string"),
        Attribute("created_at", "datetime"),
    )

    class Meta:
        model = BalanceLog
        fields: list[str] = []


class ExportFilterSet(PredicateFilterSet):
    attributes = (
        Attribute("id", "id"),
        Attribute("status", "choice", "", tuple(JobStatus.values)),
        Attribute("resource_type", "choice", "", tuple(Export.ResourceType.values)),
        Attribute("format", "choice", "", tuple(Export.Format.values)),
        Attribute("include_codes", "boolean"),
        Attribute("records_count", "integer"),
        Attribute("started_at", "datetime"),
        Attribute("completed_at", "datetime"),
        Attribute("interrupted_at", "datetime"),
        Attribute("expires_at", "datetime"),
        Attribute("created_at", "datetime"),
        Attribute("updated_at", "datetime"),
        Attribute("reference", "string"),
        Attribute("reference_origin", "string"),
        Attribute("metadata", "json"),
    )

    class Meta:
        model = Export
        fields: list[str] = []

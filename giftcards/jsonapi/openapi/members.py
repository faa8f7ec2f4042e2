"""What OpenAPI says of each attribute documents render that no serializer field describes
(read-only members), and the descriptions seed 003 gives members.

Writable attributes are described from their serializer fields (drf-spectacular maps them),
so a new field shows up in the schema by itself; a read-only attribute without an entry here
fails the schema's build (`read_only_schema`), so none goes undocumented.
"""

from __future__ import annotations

from giftcards.models import BalanceLog, JobStatus, Status

STRING = {"type": "string"}
NULLABLE_STRING = {"type": "string", "nullable": True}
INTEGER = {"type": "integer"}
NULLABLE_INTEGER = {"type": "integer", "nullable": True}
NUMBER = {"type": "number"}
NULLABLE_NUMBER = {"type": "number", "nullable": True}
BOOLEAN = {"type": "boolean"}
DATETIME = {"type": "string", "format": "date-time"}
NULLABLE_DATETIME = {"type": "string", "format": "date-time", "nullable": True}
OBJECT = {"type": "object", "additionalProperties": True}
NULLABLE_OBJECT = {"type": "object", "additionalProperties": True, "nullable": True}

BALANCE_LOG_ENTRY = {
    "type": "object",
    "properties": {
        "datetime": DATETIME,
        "balance_change_cents": INTEGER,
        "kind": {"type": "string", "enum": list(BalanceLog.Kind.values)},
        "balance_after_cents": INTEGER,
        "order_reference": NULLABLE_STRING,
    },
    "required": ["datetime", "balance_change_cents", "kind", "balance_after_cents"],
}
USAGE_ENTRY = {
    "type": "object",
    "properties": {
        "action": {"type": "string"},
        "amount_cents": INTEGER,
        "balance_cents": INTEGER,
        "datetime": DATETIME,
    },
    "additionalProperties": True,
}

# Read-only attributes of every type that has them.
COMMON = {
    "created_at": (DATETIME, "Time at which the resource was created."),
    "updated_at": (DATETIME, "Time at which the resource was last updated."),
}
# What imports and exports share: where the job stands.
JOB = {
    "status": ({"type": "string", "enum": list(JobStatus.values)}, ""),
    "started_at": (NULLABLE_DATETIME, ""),
    "completed_at": (NULLABLE_DATETIME, ""),
    "interrupted_at": (NULLABLE_DATETIME, ""),
}
# type -> attribute -> (schema, description)
READ_ONLY = {
    "gift_cards": {
        "status": (
            {"type": "string", "enum": list(Status.values)},
            "The gift card status. One of 'draft' (default), 'inactive', 'active', or 'redeemed'.",
        ),
        "initial_balance_cents": (INTEGER, "The gift card initial balance, in cents."),
        "initial_balance_float": (NUMBER, "The gift card initial balance, float."),
        "formatted_initial_balance": (STRING, "The gift card initial balance, formatted."),
        "balance_float": (NUMBER, "The gift card balance, float."),
        "formatted_balance": (STRING, "The gift card balance, formatted."),
        "balance_max_float": (NULLABLE_NUMBER, "The gift card balance max, float."),
        "formatted_balance_max": (NULLABLE_STRING, "The gift card balance max, formatted."),
        "balance_log": (
            {"type": "array", "items": BALANCE_LOG_ENTRY},
            "The gift card balance log. Tracks all the gift card transactions.",
        ),
        "usage_log": (
            {"type": "object", "additionalProperties": {"type": "array", "items": USAGE_ENTRY}},
            "The gift card usage log. Tracks all the gift card usage actions by orders.",
        ),
    },
    "versions": {
        "event": ({"type": "string", "enum": ["created", "updated", "deleted"]}, ""),
        "changes": (
            OBJECT,
            "Attribute -> [before, after] of what this version changed.",
        ),
        "changed_by": (NULLABLE_STRING, "Who made the change: a staff user or an API key."),
    },
    "events": {"name": (STRING, "The event's topic, e.g. gift_cards.activate.")},
    "webhooks": {
        "disabled_at": (NULLABLE_DATETIME, "When the webhook was disabled, if it is."),
        "circuit_state": ({"type": "string", "enum": ["closed", "open"]}, ""),
        "circuit_failure_count": (INTEGER, "Failed deliveries in a row."),
        "shared_secret": (STRING, "The key of the webhook's signatures."),
    },
    "event_callbacks": {
        "callback_url": (STRING, "Where the event was delivered."),
        "payload": (NULLABLE_OBJECT, "The delivered body."),
        "response_code": (NULLABLE_STRING, "The receiver's HTTP status."),
        "response_message": (NULLABLE_STRING, "The receiver's answer, or the failure."),
    },
    "balance_transfers": {
        "amount_float": (NUMBER, "The amount moved, float."),
        "formatted_amount": (STRING, "The amount moved, formatted."),
        "currency_code": (STRING, "The currency of both cards."),
    },
    "imports": {
        **JOB,
        "inputs_size": (NULLABLE_INTEGER, "How many rows the import was given."),
        "processed_count": (NULLABLE_INTEGER, ""),
        "created_count": (NULLABLE_INTEGER, ""),
        "skipped_count": (NULLABLE_INTEGER, ""),
        "errors_count": (NULLABLE_INTEGER, ""),
        "warnings_count": (NULLABLE_INTEGER, ""),
        "errors_log": (NULLABLE_OBJECT, "Row -> what was wrong with it."),
        "warnings_log": (NULLABLE_OBJECT, "Row -> what was noticed about it."),
    },
    "exports": {
        **JOB,
        "records_count": (NULLABLE_INTEGER, "Rows in the file."),
        "attachment_url": (NULLABLE_STRING, "A signed link to the file, once completed."),
        "expires_at": (NULLABLE_DATETIME, "When the file is deleted."),
    },
}
# Descriptions of writable members (their types come from the serializers), from seed 003.
DESCRIPTIONS = {
    "code": "The gift card code. If not set, it's automatically generated.",
    "currency_code": "The international 3-letter currency code as defined by the ISO 4217 "
    "standard.",
    "balance_cents": "The gift card balance, in cents.",
    "balance_max_cents": "The gift card balance max, in cents.",
    "single_use": "Indicates if the gift card can be used only once.",
    "rechargeable": "Indicates if the gift card can be recharged.",
    "distribute_discount": "Indicates if redeemed gift card amount is distributed for tax "
    "calculation.",
    "image_url": "The URL of an image that represents the gift card.",
    "expires_at": "Time at which the gift card will expire.",
    "recipient_email": "The email address of the associated recipient. When creating or updating "
    "a gift card, this is a shortcut to find or create the associated recipient by email.",
    "_purchase": "Send this attribute if you want to confirm a draft gift card. The gift card "
    "becomes 'inactive', waiting to be activated.",
    "_activate": "Send this attribute if you want to activate a gift card.",
    "_deactivate": "Send this attribute if you want to deactivate a gift card.",
    "_balance_change_cents": "The balance change, in cents. Send a negative value to reduce the "
    "card balance by the specified amount. Send a positive value to recharge the gift card (if "
    "rechargeable), or to refund an order with `_order_reference`.",
    "_order_reference": "The order a balance change belongs to (its usage_log key).",
    "_add_tags": "Comma-separated names of tags to add (created when missing).",
    "_remove_tags": "Comma-separated names of tags to remove.",
    "reference": "A string that you can use to add any external identifier to the resource.",
    "reference_origin": "Any identifier of the third party system that defines the reference.",
    "metadata": "Set of key-value pairs that you can attach to the resource.",
    "_interrupt": "Send this attribute to stop the job where it stands.",
    "_disable": "Send this attribute to disable the webhook.",
    "_enable": "Send this attribute to enable the webhook.",
    "_reset_circuit": "Send this attribute to close the webhook's circuit after failures.",
}


def read_only_schema(type_: str, name: str) -> dict:
    found = READ_ONLY.get(type_, {}).get(name) or COMMON.get(name)
    if found is None:
        raise LookupError(f"The {type_} attribute {name!r} has no OpenAPI description.")
    schema, description = found
    schema = {**schema, "readOnly": True}
    if description:
        schema["description"] = description
    return schema


EXAMPLE_ID = "f35HUALdQXWMppmQzD1MpQ"
# Request examples, in the words of seed 003: (type, action) -> name -> document.
REQUEST_EXAMPLES = {
    ("gift_cards", "create"): {
        "issue": {
            "summary": "Issue a card of 150.00 EUR for a recipient",
            "value": {
                "data": {
                    "type": "gift_cards",
                    "attributes": {
                        "currency_code": "EUR",
                        "balance_cents": 15000,
                        "single_use": False,
                        "rechargeable": True,
                        "recipient_email": "john@example.com",
                        "reference": "ERP-1001",
                        "reference_origin": "erp",
                        "metadata": {"channel": "web"},
                    },
                }
            },
        }
    },
    ("gift_cards", "update"): {
        name: {
            "summary": summary,
            "value": {"data": {"type": "gift_cards", "id": EXAMPLE_ID, "attributes": attrs}},
        }
        for name, summary, attrs in (
            ("purchase", "Confirm a draft card (it becomes inactive)", {"_purchase": True}),
            ("activate", "Activate a card", {"_activate": True}),
            (
                "use",
                "Use 25.00 of the card for an order",
                {"_balance_change_cents": -2500, "_order_reference": "ORD-1001"},
            ),
            (
                "refund",
                "Give 10.00 back to that order",
                {"_balance_change_cents": 1000, "_order_reference": "ORD-1001"},
            ),
            ("recharge", "Recharge 50.00", {"_balance_change_cents": 5000}),
            ("tag", "Add tags by name", {"_add_tags": "promo,xmas-2026"}),
            ("deactivate", "Deactivate a card", {"_deactivate": True}),
        )
    },
}

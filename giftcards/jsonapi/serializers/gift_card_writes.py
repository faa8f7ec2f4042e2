"""Writes of the `gift_cards` resource: a validated document becomes the arguments of one
service call (`card_issue` on create, `card_change` on update), and a refused step points at
the member of the request that asked for it."""

from __future__ import annotations

from typing import Any

from giftcards import services
from giftcards.jsonapi.documents import names

# Attributes card_update changes (no money, no status).
UPDATABLE = names(
    """
    balance_max_cents single_use rechargeable distribute_discount image_url expires_at
    reference reference_origin metadata
    """
)
ISSUED = ("balance_cents", "currency_code", "code", "status", "recipient", "market", "tags")
BLANK_WHEN_NULL = frozenset({"image_url", "reference", "reference_origin"})
TRIGGERS = (("_purchase", "purchase"), ("_activate", "activate"), ("_deactivate", "deactivate"))
# The change set's steps -> the request member that asked for them (JSON:API 1.0:
# `source.pointer` refers into the request document).
STEP_MEMBERS = {
    "purchase": "_purchase",
    "activate": "_activate",
    "deactivate": "_deactivate",
    "balance_cents": "balance_cents",
    "balance_change_cents": "_balance_change_cents",
}


def issue_arguments(data: dict[str, Any]) -> dict[str, Any]:
    """`services.card_issue`'s keyword arguments (but tenant and actor) for a create; what is
    not sent takes the service's defaults, which are seed 003's."""
    arguments = {name: data[name] for name in (*ISSUED, *UPDATABLE) if name in data}
    for name in BLANK_WHEN_NULL & set(arguments):
        arguments[name] = arguments[name] or ""
    arguments["recipient_email"] = data.get("recipient_email") or None
    return arguments


def change_set(data: dict[str, Any]) -> services.CardChanges:
    """The change set of a PATCH, in the service's fixed order."""
    attributes = {name: data[name] for name in UPDATABLE if name in data}
    for name in BLANK_WHEN_NULL & set(attributes):
        attributes[name] = attributes[name] or ""
    if "market" in data:
        attributes["market"] = data["market"]
    email = data.get("recipient_email")
    if not email and ("recipient" in data or "recipient_email" in data):
        attributes["recipient"] = data.get("recipient")  # an empty email clears it
    return services.CardChanges(
        recipient_email=email or None,
        attributes=attributes,
        triggers=tuple(step for member, step in TRIGGERS if data.get(member)),
        balance_cents=data.get("balance_cents"),
        balance_note="balance_cents written through the JSON:API.",
        balance_change_cents=data.get("_balance_change_cents") or None,
        order_reference=data.get("_order_reference", ""),
        replace_tags=tuple(data["tags"]) if "tags" in data else None,
        add_tags=tuple(data.get("_add_tags", ())),
        remove_tags=tuple(data.get("_remove_tags", ())),
    )


def refused_member(step: str | None, data: dict[str, Any]) -> str | None:
    """The member a refused step points at."""
    if step == "tags":
        sent = [name for name in ("_add_tags", "_remove_tags") if data.get(name)]
        return sent[0] if sent else None
    return STEP_MEMBERS.get(step)

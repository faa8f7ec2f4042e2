"""Checks the services of recipients, markets, tags, attachments and webhooks share: the
fields a service takes, text within its length that every store can hold, metadata objects,
and saving only what changed."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from django.db import models

from giftcards import exceptions, text


def refuse_unknown(fields: Collection[str], known: Collection[str]) -> None:
    """Raises GiftCardError naming the first field that is not one of `known`."""
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise exceptions.GiftCardError(f"{unknown[0]} cannot be set here.", field=unknown[0])


def clean_text(name: str, value: Any, max_length: int) -> str:
    """Text, stripped, at most `max_length` characters, without what no store holds; None is
    empty. Raises InvalidValue naming `name`."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise exceptions.InvalidValue(f"{name} must be text.", field=name)
    value = value.strip()
    if len(value) > max_length:
        raise exceptions.InvalidValue(f"{name} has at most {max_length} characters.", field=name)
    problem = text.problem(value)
    if problem:
        raise exceptions.InvalidValue(problem, field=name)
    return value


def clean_metadata(value: Any) -> dict:
    """A JSON object every store can hold; None is empty. Raises InvalidValue."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise exceptions.InvalidValue("metadata must be a JSON object.", field="metadata")
    found = text.find_in_json(value)
    if found is not None:
        raise exceptions.InvalidValue(found[1], field="metadata")
    return value


def save_changed(row: models.Model, clean: Mapping[str, Any]) -> list[str]:
    """Set and save (with `updated_at`) only the fields whose value changes; their names."""
    changed = [name for name, value in clean.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, clean[name])
    if changed:
        row.save(update_fields=[*changed, "updated_at"])
    return changed

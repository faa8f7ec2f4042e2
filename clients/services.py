"""Writes for businesses, clients and API keys."""

from __future__ import annotations

from django.db import transaction

from clients.models import ApiKey, Business
from clients.tenancy import Mode


def business_create(
    *, name: str, currency_code: str = "USD", locale: str = "en_US", timezone: str = "UTC"
) -> Business:
    """Raises django.core.exceptions.ValidationError for an unknown currency, locale or zone."""
    business = Business(name=name, currency_code=currency_code, locale=locale, timezone=timezone)
    business.full_clean()
    business.save()
    return business


def api_key_create(*, business: Business, name: str, mode: str = Mode.LIVE) -> tuple[ApiKey, str]:
    """Create a key; returns it and its secret, which is never stored and cannot be shown again."""
    if mode not in Mode.values:
        raise ValueError(f"mode must be one of {', '.join(Mode.values)}")
    with transaction.atomic():
        return ApiKey.objects.create_key(business=business, name=name, mode=mode)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    api_key.revoked = True
    api_key.save(update_fields=["revoked"])
    return api_key

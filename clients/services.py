"""Writes for businesses, clients and API keys."""

from __future__ import annotations

from django.db import transaction

from clients.models import ApiKey, Business, Client
from clients.tenancy import Actor, Mode, Tenant


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
    if not name or len(name) > ApiKey._meta.get_field("name").max_length:
        raise ValueError("The key name must be 1 to 50 characters.")
    with transaction.atomic():
        return ApiKey.objects.create_key(business=business, name=name, mode=mode)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    api_key.revoked = True
    api_key.save(update_fields=["revoked"])
    return api_key


def client_create(*, tenant: Tenant, actor: Actor, **fields) -> Client:
    """Create a client of the tenant's business. `fields`: first_name, last_name, email,
    phone, active."""
    return Client.objects.create(
        business=tenant.business,
        mode=tenant.mode,
        created_by=actor.name,
        modified_by=actor.name,
        **fields,
    )


def client_update(*, client: Client, actor: Actor, **fields) -> Client:
    changed = [name for name, value in fields.items() if getattr(client, name) != value]
    if not changed:
        return client
    for name in changed:
        setattr(client, name, fields[name])
    client.modified_by = actor.name
    client.save(update_fields=[*changed, "modified_by", "modified_at"])
    return client


def client_soft_delete(*, client: Client, actor: Actor) -> Client:
    """Clients are never removed: their cards and ledger keep pointing at them."""
    return client_update(client=client, actor=actor, active=False)

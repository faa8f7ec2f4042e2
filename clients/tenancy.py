"""Tenancy in one place: every tenant row belongs to one business and one mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from clients.models import ApiKey, Business


class Mode(models.TextChoices):
    LIVE = "live", "Live"
    TEST = "test", "Test"


@dataclass(frozen=True)
class Tenant:
    """Whose rows a request may see: a business, in one mode."""

    business: Business
    mode: str


@dataclass(frozen=True)
class Actor:
    """Who changes something: a staff user, an API key or an operator's command.

    `name` is what `createdUser`/`modifiedUser` and the ledger show.
    """

    name: str
    user: Any = None
    api_key: ApiKey | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(name=name)

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(name=user.get_username(), user=user)

    @classmethod
    def for_api_key(cls, api_key: ApiKey) -> Actor:
        return cls(name=api_key.name, api_key=api_key)


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> TenantQuerySet:
        return self.filter(business=tenant.business, mode=tenant.mode)

    def for_business(self, business: Business | int) -> TenantQuerySet:
        return self.filter(business=business)


class TenantModel(models.Model):
    """Abstract base of every row that belongs to a business and a mode."""

    business = models.ForeignKey("clients.Business", on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.LIVE)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True

    def belongs_to(self, tenant: Tenant) -> bool:
        return self.business_id == tenant.business.pk and self.mode == tenant.mode

    @staticmethod
    def mode_constraint(name: str) -> models.CheckConstraint:
        return models.CheckConstraint(condition=models.Q(mode__in=Mode.values), name=name)


def tenant_kwargs(tenant: Tenant) -> dict[str, Any]:
    return {"business": tenant.business, "mode": tenant.mode}

"""Businesses (the tenants), their staff users, clients and API keys."""

from __future__ import annotations

import zoneinfo

from babel import Locale, UnknownLocaleError
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager

from clients.tenancy import Mode, Tenant, TenantModel


def validate_currency_code(value: str) -> None:
    from giftcards.money import is_known_currency

    if not is_known_currency(value):
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code.")


def validate_locale(value: str) -> None:
    try:
        Locale.parse(value)
    except (ValueError, UnknownLocaleError) as exc:
        raise ValidationError(f"{value!r} is not a known locale.") from exc


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.")


class Business(models.Model):
    name = models.CharField(max_length=200)
    currency_code = models.CharField(
        max_length=3, default="USD", validators=[validate_currency_code]
    )
    locale = models.CharField(max_length=16, default="en_US", validators=[validate_locale])
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)
        verbose_name_plural = "businesses"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency_code__regex=r"^[A-Z]{3}$"),
                name="clients_business_currency_code_format",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class User(AbstractUser):
    """A staff user; belongs to one business unless a superuser."""

    business = models.ForeignKey(
        Business, null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class Client(TenantModel):
    """A business's customer (seed 000 `clientId`)."""

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    created_by = models.CharField(max_length=150, blank=True)
    modified_by = models.CharField(max_length=150, blank=True)
    # Its identity in the system it came from (an import: the old `clientId`, origin
    # "clientId"), by which a later import finds it again.
    reference = models.CharField(max_length=255, blank=True)
    reference_origin = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(fields=["business", "mode", "last_name"]),
            models.Index(fields=["business", "mode", "reference"]),
            models.Index(Lower("email"), name="clients_client_email_lower"),
        ]
        constraints = [TenantModel.mode_constraint("clients_client_mode_valid")]

    def __str__(self) -> str:
        return self.full_name or f"Client {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ApiKeyQuerySet(models.QuerySet):
    def for_business(self, business: Business | int) -> ApiKeyQuerySet:
        return self.filter(business=business)


class ApiKeyManager(APIKeyManager.from_queryset(ApiKeyQuerySet)):
    def get_usable_keys(self) -> ApiKeyQuerySet:
        # get_from_key() is a manager method, so the join for the tenant goes here.
        return super().get_usable_keys().select_related("business")


class ApiKey(AbstractAPIKey):
    """A secret an integration sends as `Authorization: Bearer <key>`.

    Only the prefix and a SHA-512 hash are stored; the key decides business and mode.
    """

    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="api_keys")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.LIVE)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(mode__in=Mode.values), name="clients_apikey_mode_valid"
            ),
        ]

    @property
    def tenant(self) -> Tenant:
        return Tenant(business=self.business, mode=self.mode)


class IdempotencyRecord(models.Model):
    """The first successful response to a write sent with an `Idempotency-Key` header.

    Stored per API key; a retry with the same key and body gets this response again. The
    request's fingerprint and the response are encrypted with the code key (a response may
    hold a card's full code; the fingerprint is a hash of a body that may hold one).
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # codes.encrypt(the request's fingerprint)
    request_hash = models.CharField(max_length=255)
    status_code = models.PositiveSmallIntegerField()
    # codes.encrypt(the exact text sent the first time), so a replay is byte-for-byte the
    # same; empty while the request runs.
    response_body = models.TextField()
    content_type = models.CharField(max_length=100)
    # The Location header of a 201, replayed with the body.
    location = models.CharField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "key"], name="clients_idempotencyrecord_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code})"

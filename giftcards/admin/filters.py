"""List filters of the admin: the gift cards' expiry, balance state and soft deletion; the
webhooks' topic and state, their calls' response and webhook."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db.models import F, Q
from django.utils import timezone

from giftcards.events import topics
from giftcards.models import Webhook

EXPIRING_DAYS = 30


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return (
            ("expired", "Expired"),
            ("soon", f"Expiring within {EXPIRING_DAYS} days"),
            ("valid", "Not expired"),
            ("never", "No expiry date"),
        )

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "expired":
            return queryset.filter(expires_at__lte=now)
        if value == "soon":
            return queryset.filter(
                expires_at__gt=now, expires_at__lte=now + timedelta(days=EXPIRING_DAYS)
            )
        if value == "valid":
            return queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        if value == "never":
            return queryset.filter(expires_at__isnull=True)
        return queryset


class BalanceStateFilter(admin.SimpleListFilter):
    """Full: untouched since issue; partial: some spent; empty: nothing left. A card recharged
    above its initial balance is its own state, so every card with money falls in one."""

    title = "balance"
    parameter_name = "balance"

    def lookups(self, request, model_admin):
        return (
            ("full", "Full (as issued)"),
            ("partial", "Partly spent"),
            ("empty", "Empty"),
            ("above", "Above initial (recharged)"),
        )

    def queryset(self, request, queryset):
        value = self.value()
        if value == "full":
            return queryset.filter(balance_cents=F("initial_balance_cents"), balance_cents__gt=0)
        if value == "partial":
            return queryset.filter(
                balance_cents__gt=0, balance_cents__lt=F("initial_balance_cents")
            )
        if value == "empty":
            return queryset.filter(balance_cents=0)
        if value == "above":
            return queryset.filter(balance_cents__gt=F("initial_balance_cents"))
        return queryset


class DeletedFilter(admin.SimpleListFilter):
    title = "soft-deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("no", "Not deleted"), ("yes", "Deleted"))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class CurrencyFilter(admin.SimpleListFilter):
    """Only the currencies of the cards the user may see (the default lists every value in
    the table, across businesses)."""

    title = "currency"
    parameter_name = "currency_code"

    def lookups(self, request, model_admin):
        currencies = (
            model_admin.get_queryset(request)
            .order_by("currency_code")
            .values_list("currency_code", flat=True)
            .distinct()
        )
        return [(code, code) for code in currencies]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(currency_code=self.value())
        return queryset


# ---------------------------------------------------------------------------- webhooks


class TopicFilter(admin.SimpleListFilter):
    """Every topic, whether or not a webhook uses it yet."""

    title = "topic"
    parameter_name = "topic"

    def lookups(self, request, model_admin):
        return [(name, name) for name in topics.TOPICS]

    def queryset(self, request, queryset):
        return queryset.filter(topic=self.value()) if self.value() else queryset


class DisabledFilter(admin.SimpleListFilter):
    title = "disabled"
    parameter_name = "disabled"

    def lookups(self, request, model_admin):
        return (("yes", "Disabled"), ("no", "Enabled"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(disabled_at__isnull=self.value() == "no")
        return queryset


class ResponseFilter(admin.SimpleListFilter):
    """Delivered (any 2xx) or not: another status, or no response at all."""

    title = "response"
    parameter_name = "response"

    def lookups(self, request, model_admin):
        return (("2xx", "2xx (delivered)"), ("failed", "Failed (other status or no response)"))

    def queryset(self, request, queryset):
        if self.value() == "2xx":
            return queryset.filter(response_code__startswith="2")
        if self.value() == "failed":
            return queryset.exclude(response_code__startswith="2")
        return queryset


class WebhookFilter(admin.SimpleListFilter):
    """The webhooks the user may see, each always offered and applied (Django's related
    filter hides itself, and ignores its value, while fewer than two webhooks have rows)."""

    title = "webhook"
    parameter_name = "webhook"

    def lookups(self, request, model_admin):
        webhooks = model_admin.admin_site.get_model_admin(Webhook).get_queryset(request)
        return [(str(webhook.pk), str(webhook)) for webhook in webhooks.order_by("name", "id")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(webhook_id=value) if value.isdigit() else queryset.none()

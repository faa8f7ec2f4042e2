"""Recipients, markets and tags: plain business-scoped admins."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from clients.admin import BusinessScopedAdmin
from giftcards import money
from giftcards.models import GiftCardRecipient, Market, Tag


class TenantRowAdmin(BusinessScopedAdmin):
    """Staff rows get their business set on save (the form shows it, disabled)."""

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.business_id = request.user.business_id
        super().save_model(request, obj, form, change)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["business", "mode"]
        return readonly


@admin.register(GiftCardRecipient)
class GiftCardRecipientAdmin(TenantRowAdmin):
    list_display = ("email", "first_name", "last_name", "reference", "client", "business", "mode")
    list_filter = ("mode", "business")
    list_select_related = ("client", "business")
    search_fields = ("email", "first_name", "last_name", "reference")
    autocomplete_fields = ("client",)
    readonly_fields = ("created_at", "updated_at")
    fields = (
        "business",
        "mode",
        "email",
        ("first_name", "last_name"),
        "client",
        ("reference", "reference_origin"),
        "metadata",
        ("created_at", "updated_at"),
    )


class MarketForm(forms.ModelForm):
    class Meta:
        model = Market
        fields = ("business", "mode", "name", "currency_code")

    def clean_currency_code(self):
        code = self.cleaned_data["currency_code"].strip().upper()
        if not money.is_known_currency(code):
            raise forms.ValidationError(f"{code!r} is not an ISO 4217 currency code.")
        return code


@admin.register(Market)
class MarketAdmin(TenantRowAdmin):
    form = MarketForm
    list_display = ("name", "currency_code", "business", "mode", "created_at")
    list_filter = ("mode", "currency_code", "business")
    list_select_related = ("business",)
    search_fields = ("name",)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        # Cards in the market carry its currency: it cannot change under them.
        return [*readonly, "currency_code"] if obj is not None else readonly


@admin.register(Tag)
class TagAdmin(TenantRowAdmin):
    list_display = ("name", "business", "mode", "created_at")
    list_filter = ("mode", "business")
    list_select_related = ("business",)
    search_fields = ("name",)
    fields = ("business", "mode", "name")

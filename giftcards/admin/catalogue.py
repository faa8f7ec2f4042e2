"""Recipients, markets and tags: business-scoped admins that write through `giftcards.catalogue`.

The forms ask the catalogue whether a row may be saved as typed, so a refusal shows next to
its field; saves and deletes call it, and a refusal it makes then (a concurrent change won,
or cards still use the row) is an error message with nothing written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import actions as django_actions
from django.contrib.admin.utils import quote, unquote
from django.db import models, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy

from clients.admin import BusinessScopedAdmin
from clients.tenancy import Actor, Tenant
from giftcards import catalogue
from giftcards.admin.forms import StorableJSONField
from giftcards.exceptions import GiftCardError
from giftcards.models import GiftCardRecipient, Market, Tag


@contextmanager
def _about(obj: models.Model) -> Iterator[None]:
    """Name the row a refusal is about, for messages that may cover several."""
    try:
        yield
    except GiftCardError as exc:
        raise type(exc)(f"“{obj}”: {exc.message}", field=exc.field) from exc


@admin.action(
    permissions=["delete"], description=gettext_lazy("Delete selected %(verbose_name_plural)s")
)
def delete_selected(modeladmin, request, queryset):
    """Django's bulk delete, all or nothing: a refusal for one row deletes none."""
    try:
        with transaction.atomic():  # also undoes the deletion log entries
            return django_actions.delete_selected(modeladmin, request, queryset)
    except GiftCardError as exc:
        modeladmin.message_user(request, f"{exc.message} Nothing was deleted.", messages.ERROR)
        return None


class CatalogueForm(forms.ModelForm):
    """Validates through the catalogue; `service_values` are its normalised values, only the
    changed ones for an existing row."""

    validate: Callable[..., dict[str, Any]]  # catalogue.<entity>_validate
    row_argument: str  # its keyword for the existing row
    service_fields: frozenset[str]

    def tenant(self, data: dict) -> Tenant | None:
        # Business and mode are read-only (not form fields) once the row exists.
        business = data.get("business") if "business" in self.fields else self.instance.business
        mode = data.get("mode") if "mode" in self.fields else self.instance.mode
        return Tenant(business=business, mode=mode) if business and mode else None

    def clean(self):
        data = super().clean()
        self.service_values = {}
        tenant = self.tenant(data)
        if tenant is None:
            return data
        existing = self.instance if self.instance.pk else None
        names = self.changed_data if existing else self.fields
        given = {name: data[name] for name in names if name in self.service_fields and name in data}
        try:
            self.service_values = self.validate(
                tenant=tenant, **{self.row_argument: existing}, **given
            )
        except GiftCardError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
            return data
        data.update(self.service_values)
        return data


class CatalogueAdmin(BusinessScopedAdmin):
    """Saves and deletes through the catalogue. Staff rows get the staff user's business."""

    service_create: Callable[..., models.Model]
    service_update: Callable[..., models.Model]
    service_delete: Callable[..., None]
    service_validate_delete: Callable[..., None] | None = None
    actions = [delete_selected]  # replaces the site-wide action of the same name

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["business", "mode"]
        return readonly

    def _row(self, obj) -> dict[str, models.Model]:
        return {self.form.row_argument: obj}

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        if change:
            saved = self.service_update(**self._row(obj), actor=actor, **form.service_values)
        else:
            business = obj.business if request.user.is_superuser else request.user.business
            tenant = Tenant(business=business, mode=obj.mode)
            saved = self.service_create(tenant=tenant, actor=actor, **form.service_values)
        # The admin goes on with `obj` (change message, redirect): make it the saved row.
        for field in saved._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except GiftCardError as exc:
            # The form was valid, but a concurrent change made the service refuse the save.
            self.message_user(request, f"{exc.message} Nothing was saved.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_deleted_objects(self, objs, request):
        # The catalogue says what cannot be deleted and why, before the confirmation page
        # (which would otherwise list the cards a PROTECT foreign key stops at).
        if self.service_validate_delete is not None:
            for obj in objs:
                with _about(obj):
                    self.service_validate_delete(**self._row(obj))
        return super().get_deleted_objects(objs, request)

    def delete_model(self, request, obj):
        with _about(obj):
            self.service_delete(**self._row(obj), actor=Actor.for_user(request.user))

    def delete_queryset(self, request, queryset):
        actor = Actor.for_user(request.user)
        for obj in queryset:
            with _about(obj):
                self.service_delete(**self._row(obj), actor=actor)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except GiftCardError as exc:
            # Raised inside the view's transaction, so its deletion log entry is undone too.
            self.message_user(request, f"{exc.message} Nothing was deleted.", messages.ERROR)
            opts = self.opts
            change = f"admin:{opts.app_label}_{opts.model_name}_change"
            return HttpResponseRedirect(reverse(change, args=[quote(unquote(object_id))]))


class RecipientForm(CatalogueForm):
    metadata = StorableJSONField(required=False)
    validate = staticmethod(catalogue.recipient_validate)
    row_argument = "recipient"
    service_fields = catalogue.RECIPIENT_FIELDS


@admin.register(GiftCardRecipient)
class GiftCardRecipientAdmin(CatalogueAdmin):
    form = RecipientForm
    service_create = staticmethod(catalogue.recipient_create)
    service_update = staticmethod(catalogue.recipient_update)
    service_delete = staticmethod(catalogue.recipient_delete)
    service_validate_delete = staticmethod(catalogue.recipient_validate_delete)

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


class MarketForm(CatalogueForm):
    validate = staticmethod(catalogue.market_validate)
    row_argument = "market"
    service_fields = catalogue.MARKET_FIELDS

    class Meta:
        model = Market
        fields = ("business", "mode", "name", "currency_code")
        help_texts = {
            "currency_code": "An ISO 4217 code such as EUR; it cannot change once the market "
            "has gift cards."
        }


@admin.register(Market)
class MarketAdmin(CatalogueAdmin):
    form = MarketForm
    service_create = staticmethod(catalogue.market_create)
    service_update = staticmethod(catalogue.market_update)
    service_delete = staticmethod(catalogue.market_delete)
    service_validate_delete = staticmethod(catalogue.market_validate_delete)

    list_display = ("name", "currency_code", "business", "mode", "created_at")
    list_filter = ("mode", "currency_code", "business")
    list_select_related = ("business",)
    search_fields = ("name",)


class TagForm(CatalogueForm):
    validate = staticmethod(catalogue.tag_validate)
    row_argument = "tag"
    service_fields = catalogue.TAG_FIELDS


@admin.register(Tag)
class TagAdmin(CatalogueAdmin):
    form = TagForm
    service_create = staticmethod(catalogue.tag_create)
    service_update = staticmethod(catalogue.tag_update)
    service_delete = staticmethod(catalogue.tag_delete)

    list_display = ("name", "business", "mode", "created_at")
    list_filter = ("mode", "business")
    list_select_related = ("business",)
    search_fields = ("name",)
    fields = ("business", "mode", "name")

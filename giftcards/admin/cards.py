"""The gift card admin: a list staff can search by code and filter, and a card page whose
balance and status change only through the actions (and so only through the services)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from clients.admin import BusinessScopedAdmin
from clients.tenancy import Actor
from giftcards import codes, dates, money, services
from giftcards.admin import history
from giftcards.admin.bulk_issue import BulkIssueMixin
from giftcards.admin.card_pages import CardPagesMixin, card_admin_url
from giftcards.admin.code_search import CodeSearchMixin, clean_term
from giftcards.admin.filters import BalanceStateFilter, CurrencyFilter, DeletedFilter, ExpiryFilter
from giftcards.admin.forms import StorableJSONField, parse_amount
from giftcards.admin.ledger import LedgerInline
from giftcards.exceptions import GiftCardError
from giftcards.models import GiftCard

EDITABLE = [
    "expires_at",
    "purchase_date",
    "balance_max",
    "single_use",
    "rechargeable",
    "distribute_discount",
    "client",
    "recipient",
    "market",
    "reference",
    "reference_origin",
    "image_url",
    "metadata",
]


class GiftCardChangeForm(forms.ModelForm):
    """Attributes that do not move money; saved through services.card_update."""

    balance_max = forms.CharField(
        label="Maximum balance",
        required=False,
        max_length=32,
        help_text="In the card's currency; blank for no maximum.",
    )
    image_url = forms.URLField(required=False, max_length=2000, assume_scheme="https")
    metadata = StorableJSONField(required=False)

    class Meta:
        model = GiftCard
        fields = [name for name in EDITABLE if name != "balance_max"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        card = self.instance
        if card.pk and card.balance_max_cents is not None:
            self.initial["balance_max"] = str(
                money.to_major(card.balance_max_cents, card.currency_code)
            )
        # Shown and read in the zone the middleware chose.
        zone = timezone.get_current_timezone_name()
        for name in ("expires_at", "purchase_date"):
            if name in self.fields:
                self.fields[name].help_text = f"Date and time in {zone}."

    def clean_balance_max(self):
        raw = self.cleaned_data["balance_max"]
        if not raw.strip():
            return None
        return parse_amount(raw, self.instance.currency_code)

    def service_changes(self) -> dict:
        changes = {}
        for name in self.changed_data:
            if name == "balance_max":
                changes["balance_max_cents"] = self.cleaned_data[name]
            elif name in services.UPDATABLE_FIELDS:
                changes[name] = self.cleaned_data[name]
        return changes


@admin.register(GiftCard)
class GiftCardAdmin(
    BulkIssueMixin, CodeSearchMixin, CardPagesMixin, BusinessScopedAdmin, SimpleHistoryAdmin
):
    form = GiftCardChangeForm
    change_form_template = "admin/giftcards/giftcard/change_form.html"
    add_form_template = "admin/giftcards/giftcard/sell.html"
    change_list_template = "admin/giftcards/giftcard/change_list.html"
    object_history_list_template = "admin/giftcards/giftcard/object_history_list.html"
    inlines = [LedgerInline]
    list_display = (
        "code",
        "status_badge",
        "balance",
        "initial_balance",
        "expiry",
        "holder",
        "reference",
        "market",
        "business",
        "mode",
        "created",
    )
    list_display_links = ("code",)
    list_select_related = ("client", "recipient", "market", "business")
    list_filter = (
        "status",
        CurrencyFilter,
        ("market", RelatedOnlyFieldListFilter),
        ExpiryFilter,
        BalanceStateFilter,
        DeletedFilter,
        "mode",
        "business",
    )
    list_per_page = 50
    ordering = ("-created_at", "-id")  # the newest sale first
    search_fields = (
        "=id",
        "reference",
        "client__first_name",
        "client__last_name",
        "client__email",
        "recipient__email",
        "recipient__first_name",
        "recipient__last_name",
    )
    search_help_text = (
        "A full code (spaces and dashes do not matter) opens its card; or its last 4 "
        "characters, a client's name or email, a recipient's email, or a reference."
    )
    opens_single_card = True  # CodeSearchMixin: a scanned code goes straight to its card
    autocomplete_fields = ("client", "recipient")
    readonly_fields = (
        "code",
        "status_badge",
        "balance",
        "initial_balance",
        "currency_code",
        "business",
        "mode",
        "deleted",
        "id",
        "tag_names",
        "created",
        "created_by",
        "updated",
        "modified_by",
    )
    fieldsets = (
        (
            "Card",
            {
                # Code, status and balances are in the summary above the actions.
                "fields": (("currency_code", "business", "mode"), "deleted", "id")
            },
        ),
        (
            "Validity and limits",
            {
                "fields": (
                    "expires_at",
                    "purchase_date",
                    "balance_max",
                    ("single_use", "rechargeable", "distribute_discount"),
                )
            },
        ),
        ("Holder", {"fields": ("client", "recipient", "market", "tag_names")}),
        ("References", {"fields": (("reference", "reference_origin"), "image_url", "metadata")}),
        ("Audit", {"fields": (("created", "created_by"), ("updated", "modified_by"))}),
    )

    # ------------------------------------------------------------------ columns

    @admin.display(description="code", ordering="code_last4")
    def code(self, card):
        return card.masked_code

    @admin.display(description="status", ordering="status")
    def status_badge(self, card):
        labels = [card.get_status_display()]
        css = card.status
        if card.is_deleted:
            labels, css = ["Deleted", *labels], "deleted"
        elif card.is_expired():
            labels, css = ["Expired", *labels], "expired"
        return format_html('<span class="gc-badge gc-badge--{}">{}</span>', css, " · ".join(labels))

    @admin.display(description="balance", ordering="balance_cents")
    def balance(self, card):
        return money.format_cents(card.balance_cents, card.currency_code, card.business.locale)

    @admin.display(description="initial", ordering="initial_balance_cents")
    def initial_balance(self, card):
        return money.format_cents(
            card.initial_balance_cents, card.currency_code, card.business.locale
        )

    @admin.display(description="maximum balance")
    def balance_max(self, card):
        if card.balance_max_cents is None:
            return "—"
        return money.format_cents(card.balance_max_cents, card.currency_code)

    @admin.display(description="expires", ordering="expires_at")
    def expiry(self, card):
        if card.expires_at is None:
            return "—"
        # In the business's zone, where "valid through day D" is meant.
        when = dates.moment(card.expires_at, card.business.tzinfo)
        if card.is_expired():
            return format_html('<span class="gc-expired">{} (expired)</span>', when)
        return when

    # Moments with their time zone (giftcards/admin/display.py), in the page's zone.

    @admin.display(description="created", ordering="created_at")
    def created(self, card):
        return dates.moment(card.created_at)

    @admin.display(description="updated")
    def updated(self, card):
        return dates.moment(card.updated_at)

    @admin.display(description="deleted")
    def deleted(self, card):
        return dates.moment(card.deleted_at) if card.deleted_at else "not deleted"

    @admin.display(description="holder")
    def holder(self, card):
        if card.client_id:
            return card.client.full_name or card.client.email or f"Client {card.client_id}"
        return card.recipient.email if card.recipient_id else "—"

    @admin.display(description="tags")
    def tag_names(self, card):
        return ", ".join(tag.name for tag in card.tags.all()) or "—"

    # ------------------------------------------------------------------ search

    def get_search_results(self, request, queryset, search_term):
        results, duplicates = super().get_search_results(request, queryset, search_term)
        term = clean_term(search_term)
        if not term:
            return results, duplicates
        # A full code matches through its keyed hash; "ABCD" or "****ABCD" by the last 4.
        by_code = Q(code_hash__in=codes.lookup_hashes(term))
        bare = codes.normalise(term.lstrip("*"))
        if len(bare) == 4:
            by_code |= Q(code_last4=bare)
        return results | queryset.filter(by_code), duplicates

    def card_page_url(self, pk: str) -> str:
        return card_admin_url("change", pk)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            response = self.prepare_code_search(request)
            if response is not None:
                return response
        extra = {
            "title": "Gift cards",
            "can_export": request.user.has_perm("giftcards.export_giftcard"),
            "can_bulk_issue": self.can_bulk_issue(request),
            "export_query": request.GET.urlencode(),
            **self.code_search_context(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    # ------------------------------------------------------------------ the card's page

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("business")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        card = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if card is not None and self.has_view_permission(request, card):
            extra.update(self.card_page_context(request, card))
        return super().change_view(request, object_id, form_url, extra)

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets

    def save_model(self, request, obj, form, change):
        # Never obj.save(): the form's copy of the card is stale (a debit may have happened
        # since the page was loaded) and would write the old balance back.
        try:
            services.card_update(
                card=obj, actor=Actor.for_user(request.user), **form.service_changes()
            )
        except GiftCardError as exc:
            request._card_refusal = exc.message

    def log_change(self, request, obj, message):
        if getattr(request, "_card_refusal", None) is not None:
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        refusal = getattr(request, "_card_refusal", None)
        if refusal is not None:
            self.message_user(request, f"Nothing was changed: {refusal}", messages.ERROR)
            return HttpResponseRedirect(request.path)
        if IS_POPUP_VAR in request.POST:
            return super().response_change(request, obj)
        # Django's message names the card by str(), "The gift card “Gift card ****PQ77”".
        label = format_html('<a href="{}">{}</a>', request.path, obj.masked_code)
        if "_continue" in request.POST:
            done, target = "You may edit it again below.", request.path
        elif "_addanother" in request.POST:
            done, target = (
                "You may sell another card below.",
                reverse("admin:giftcards_giftcard_add"),
            )
        else:
            done, target = "", reverse("admin:giftcards_giftcard_changelist")
        message = format_html("The gift card “{}” was changed successfully.", label)
        if done:
            message = format_html("{} {}", message, done)
        self.message_user(request, message, messages.SUCCESS)
        preserved = {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}
        return HttpResponseRedirect(add_preserved_filters(preserved, target))

    def has_delete_permission(self, request, obj=None):
        return False  # cards are soft-deleted by the "Delete card" action; the ledger stays

    # ------------------------------------------------------------------ history

    def history_view(self, request, object_id, extra_context=None):
        # simple_history falls back to the history table when the scoped queryset misses,
        # which would show another business's card: check the scope first.
        self.get_object_or_404(request, unquote(object_id))
        return super().history_view(request, object_id, extra_context)

    def get_historical_record_context_helper(self, request, historical_record):
        return history.CardHistoryHelper(self.model, historical_record)

    def render_history_view(self, request, template, context, **kwargs):
        if "page_obj" in context:  # the list of changes, not one version's page
            history.annotate(context["object"], context["page_obj"])
        return super().render_history_view(request, template, context, **kwargs)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple_history looks the id up as it comes in the URL: give it the unescaped one
        # (public ids may hold "_", which admin URLs escape as "_5F").
        object_id = unquote(object_id)
        self.get_object_or_404(request, object_id)
        if request.method == "POST":
            raise PermissionDenied  # a revert would write an old balance past the ledger
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True

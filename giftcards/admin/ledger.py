"""The ledger in the admin: read-only for everyone, superusers included; managers export what
its list is filtered to as CSV (the columns of a `balance_logs` export), streamed."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from clients.admin import BusinessScopedAdmin
from giftcards import codes, dates, money
from giftcards.admin import export
from giftcards.admin.code_search import CodeSearchMixin, clean_term
from giftcards.models import BalanceLog


def when(value) -> str:
    """Ledger times to the second: the default "6 a.m." hides the order of same-hour rows."""
    return dates.moment(value, seconds=True)


def signed_amount(entry: BalanceLog) -> str:
    text = money.format_cents(abs(entry.amount_cents), entry.card.currency_code)
    return f"{'-' if entry.amount_cents < 0 else '+'}{text}"


# The card page shows the newest rows; the rest are one link away in the ledger list.
LEDGER_ROWS_ON_CARD_PAGE = 50


class ReadOnlyMixin:
    """Rows only the services or the workers write (the ledger, webhook calls and
    deliveries): staff read them, nobody adds, changes or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LedgerInline(ReadOnlyMixin, admin.TabularInline):
    """A card's ledger on its page, newest first (the newest LEDGER_ROWS_ON_CARD_PAGE)."""

    model = BalanceLog
    fk_name = "card"
    extra = 0
    can_delete = False
    ordering = ("-created_at", "-id")
    fields = (
        "time",
        "kind",
        "amount",
        "balance_after",
        "order_reference",
        "actor_name",
        "note",
    )
    readonly_fields = fields
    classes = ["gc-ledger"]
    verbose_name = "ledger row"
    verbose_name_plural = "Ledger (newest first)"

    def get_queryset(self, request):
        rows = super().get_queryset(request).select_related("card")
        card_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        if card_id is None:
            return rows
        # The formset filters by card itself, so the limit is a subquery, not a slice.
        newest = (
            BalanceLog.objects.filter(card_id=unquote(card_id))
            .order_by("-created_at", "-id")
            .values("pk")[:LEDGER_ROWS_ON_CARD_PAGE]
        )
        return rows.filter(pk__in=newest)

    @admin.display(description="time")
    def time(self, entry):
        return when(entry.created_at)

    @admin.display(description="amount")
    def amount(self, entry):
        return signed_amount(entry)

    @admin.display(description="balance after")
    def balance_after(self, entry):
        return money.format_cents(entry.balance_after_cents, entry.card.currency_code)


@admin.register(BalanceLog)
class BalanceLogAdmin(ReadOnlyMixin, CodeSearchMixin, BusinessScopedAdmin):
    business_path = "card__business"
    card_path = "card"  # CodeSearchMixin: a code shows its card's rows
    cards_param = "card__in"
    list_display = (
        "time",
        "card_link",
        "kind",
        "amount",
        "balance_after",
        "order_reference",
        "actor_name",
        "business",
    )
    list_filter = ("kind", "card__mode", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("card", "card__business")
    search_fields = ("=card__id", "order_reference", "actor_name", "note")
    search_help_text = (
        "A card's full code, its last 4 characters, its id, an order number or a user."
    )
    date_hierarchy = "created_at"
    fields = (
        "time",
        "card_link",
        "kind",
        "amount",
        "balance_after",
        "order_reference",
        "idempotency_key",
        "refund_of",
        "transfer",
        "actor_name",
        "note",
        "occurred",
    )
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        results, duplicates = super().get_search_results(request, queryset, search_term)
        term = clean_term(search_term).lstrip("*")
        if not term:
            return results, duplicates
        by_code = queryset.filter(card__code_hash__in=codes.lookup_hashes(term))
        if len(codes.normalise(term)) == 4:
            by_code = by_code | queryset.filter(card__code_last4=codes.normalise(term))
        return results | by_code, duplicates

    change_list_template = "admin/giftcards/balancelog/change_list_export.html"

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        wrap = self.admin_site.admin_view
        return [path("export/", wrap(self.export_view), name=name), *super().get_urls()]

    def can_export(self, request) -> bool:
        # The card list's export permission: managers.
        return self.has_view_permission(request) and request.user.has_perm(
            "giftcards.export_giftcard"
        )

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            self.prepare_code_search(request)  # the ledger never leaves its list
        extra = {
            **self.code_search_context(request),
            "can_export": self.can_export(request),
            # After prepare_code_search: a full code in `?q=` has become the card's id.
            "export_query": request.GET.urlencode(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    def export_view(self, request):
        """The rows the list shows with the same parameters (filters, search, date, order),
        all of them, as CSV."""
        if not self.can_export(request):
            raise PermissionDenied
        if request.method == "GET":
            self.prepare_code_search(request)
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return redirect(f"{reverse('admin:giftcards_balancelog_changelist')}?e=1")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return export.ledger_csv_response(changelist.queryset, f"ledger-{stamp}.csv")

    @admin.display(description="time", ordering="created_at")
    def time(self, entry):
        return when(entry.created_at)

    @admin.display(description="occurred at")
    def occurred(self, entry):
        """When the money moved, as the caller said (an import's original date), if it did."""
        return when(entry.occurred_at)

    @admin.display(description="card", ordering="card")
    def card_link(self, entry):
        url = reverse("admin:giftcards_giftcard_change", args=[quote(entry.card_id)])
        return format_html('<a href="{}">{}</a>', url, entry.card.masked_code)

    @admin.display(description="business")
    def business(self, entry):
        return entry.card.business

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, entry):
        return signed_amount(entry)

    @admin.display(description="balance after", ordering="balance_after_cents")
    def balance_after(self, entry):
        return money.format_cents(entry.balance_after_cents, entry.card.currency_code)

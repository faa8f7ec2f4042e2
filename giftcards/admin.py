"""Staff admin for gift cards and the read-only ledger."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Market, Tag


class LedgerInline(admin.TabularInline):
    model = BalanceLog
    fk_name = "card"
    extra = 0
    can_delete = False
    ordering = ("-created_at", "-id")
    fields = ("created_at", "kind", "amount_cents", "balance_after_cents", "actor_name", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(GiftCard)
class GiftCardAdmin(SimpleHistoryAdmin):
    list_display = ("masked_code", "status", "balance_cents", "currency_code", "business", "mode")
    list_filter = ("status", "currency_code", "mode")
    readonly_fields = ("masked_code", "status", "balance_cents", "initial_balance_cents")
    exclude = ("code_hash", "code_encrypted", "code_last4", "tags")
    inlines = [LedgerInline]


@admin.register(BalanceLog)
class BalanceLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "card",
        "kind",
        "amount_cents",
        "balance_after_cents",
        "actor_name",
    )
    list_filter = ("kind",)
    list_select_related = ("card",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(GiftCardRecipient)
admin.site.register(Market)
admin.site.register(Tag)

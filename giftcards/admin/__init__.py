"""Staff admin for gift cards, their ledger, recipients, markets, tags, webhooks and imports.

Registration happens on import (Django's admin autodiscovery imports this package).
"""

from django.contrib import admin

from giftcards.admin import (  # noqa: F401
    cards,
    catalogue,
    imports,
    ledger,
    webhook_calls,
    webhooks,
)

admin.site.site_header = "Gift cards"
admin.site.site_title = "Gift cards staff"
admin.site.index_title = "Gift cards, clients and the ledger"
# The staff menu in the header replaces the sidebar, leaving the lists their full width.
admin.site.enable_nav_sidebar = False
# "View site" went to "/", which is the APIs' JSON 404; the public page is the balance check.
admin.site.site_url = "/balance"

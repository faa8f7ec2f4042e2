"""Gift cards, their recipients, markets, tags and the balance ledger."""

from django.apps import AppConfig


class GiftcardsConfig(AppConfig):
    name = "giftcards"
    verbose_name = "Gift cards"

    def ready(self):
        from giftcards import checks  # noqa: F401  registers the system checks

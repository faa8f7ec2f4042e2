"""The tenant side: businesses, their clients and their API keys."""

from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "Businesses and clients"

    def ready(self):
        from clients import schema  # noqa: F401  registers the OpenAPI auth description

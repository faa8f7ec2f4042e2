"""The OpenAPI documents and the pages that show them, all public (no API key).

- `/api/schema`: both APIs in one document (`?format=json` for JSON; YAML otherwise);
- `/api/schema/plain` and `/api/schema/jsonapi`: one API each, for generators and fuzzers;
- `/api/schema/swagger-ui` and `/api/schema/redoc`: the document for people, from the
  sidecar's static files (no CDN: nothing leaves the server).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

JSONAPI_HOOK = "giftcards.jsonapi.openapi.add_jsonapi"


def _settings(title: str, *, plain: bool, jsonapi: bool) -> dict:
    hooks = [
        hook
        for hook in settings.SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]
        if jsonapi or hook != JSONAPI_HOOK
    ]
    custom = {"TITLE": title, "POSTPROCESSING_HOOKS": hooks}
    if not plain:
        custom["PREPROCESSING_HOOKS"] = ["giftcards.jsonapi.openapi.no_endpoints"]
    return custom


PLAIN = _settings("Gift card service: plain API", plain=True, jsonapi=False)
JSONAPI = _settings("Gift card service: JSON:API", plain=False, jsonapi=True)

urlpatterns = [
    path("api/schema", SpectacularAPIView.as_view(), name="openapi-schema"),
    path(
        "api/schema/plain",
        SpectacularAPIView.as_view(custom_settings=PLAIN),
        name="openapi-schema-plain",
    ),
    path(
        "api/schema/jsonapi",
        SpectacularAPIView.as_view(custom_settings=JSONAPI),
        name="openapi-schema-jsonapi",
    ),
    path(
        "api/schema/swagger-ui",
        SpectacularSwaggerView.as_view(url_name="openapi-schema"),
        name="swagger-ui",
    ),
    path("api/schema/redoc", SpectacularRedocView.as_view(url_name="openapi-schema"), name="redoc"),
]

"""Top-level routes: the staff admin, the two APIs, their OpenAPI documents and docs, the
probes, the metrics."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from giftcards_project import errors, health
from giftcards_project.observability import views as observability_views

urlpatterns = [
    path("", include("giftcards.staff_urls")),  # /balance and /admin/dashboard/, before the admin
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", observability_views.metrics, name="metrics"),
    path("", include("giftcards.api_docs")),  # /api/schema...: before the JSON:API's routes
    path("api/", include("giftcards.jsonapi.urls")),
    path("", include("giftcards.plain_api.urls")),
    # Last: any other path. Without it, debug mode (the embedded default) would answer API
    # clients with Django's HTML debug page, which also lists every route. CSRF-exempt like
    # the API views: a write from an API client (no CSRF cookie) gets the 404, not a 403 page.
    re_path(r"", csrf_exempt(errors.not_found)),
]

handler404 = "giftcards_project.errors.not_found"
handler500 = "giftcards_project.errors.server_failure"

"""JSON answers for requests no view handled (unknown paths, crashes) outside the admin."""

from django.http import JsonResponse
from django.views.defaults import page_not_found, server_error


def _wants_html(request) -> bool:
    return request.path.startswith("/admin/") or request.path.startswith("/balance")


def not_found(request, exception=None):
    if _wants_html(request):
        return page_not_found(request, exception)
    return JsonResponse({"detail": "Not found."}, status=404)


def server_failure(request):
    if _wants_html(request):
        return server_error(request)
    return JsonResponse({"detail": "Internal server error."}, status=500)

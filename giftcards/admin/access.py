"""What the staff pages that write for a business ask first: the permissions, and a business
to write for (a staff account without one is sent back with a message, never a 500)."""

from __future__ import annotations

from collections.abc import Collection

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect


def require_perms(request, permissions: Collection[str]) -> None:
    if not request.user.has_perms(permissions):
        raise PermissionDenied


def without_business(model_admin, request, doing: str) -> HttpResponse | None:
    """A redirect to the admin's index, with a message saying why, when the staff user has no
    business to `doing` for ("sell cards", "import cards"); None when it has one."""
    if request.user.business_id is not None:
        return None
    model_admin.message_user(
        request,
        f"Your staff account is not linked to a business, so it cannot {doing}. "
        "Ask an administrator to set your business.",
        messages.ERROR,
    )
    return redirect("admin:index")

"""Staff admin for businesses, staff users, clients and API keys, and the business scoping
every admin of a tenant's rows shares."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from rest_framework_api_key.models import APIKey as LibraryApiKey

from clients import session_secrets
from clients.models import ApiKey, Business, Client, User
from clients.services import api_key_create, api_key_revoke, client_soft_delete
from clients.tenancy import Actor
from giftcards import dates

NEW_SECRETS_SESSION_KEY = "clients.admin.new_api_key_secrets"

# The library's own key model is unused: ours belongs to a business and a mode.
admin.site.unregister(LibraryApiKey)


class NulFreeSearchMixin:
    """Search terms and list filters without NUL characters, in lists, exports and
    autocompletes alike: PostgreSQL refuses NUL in a text query (a 500), and no stored text
    holds one anyway."""

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.replace("\x00", ""))

    def get_changelist_instance(self, request):
        if any("\x00" in value for _, values in request.GET.lists() for value in values):
            cleaned = request.GET.copy()
            for name, values in request.GET.lists():
                cleaned.setlist(name, [value.replace("\x00", "") for value in values])
            request.GET = cleaned
        return super().get_changelist_instance(request)


def ask_first(model_admin, request, action: str, title: str, rows: list[tuple]):
    """The page a list action that takes something away shows before it runs: each selected
    row as (object, label, now, after). None when this POST is that page's confirmation
    (`post=yes`, as Django's own delete_selected) or nothing would change."""
    if request.POST.get("post") == "yes" or not rows:
        return None
    return TemplateResponse(
        request,
        "admin/confirm_list_action.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": title,
            "subtitle": None,
            "action": action,
            "rows": rows,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": reverse(
                f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist"
            ),
        },
    )


def staff_business_id(request) -> int | None:
    """The business a staff user works for; None for superusers (who see every business)."""
    return None if request.user.is_superuser else request.user.business_id


class BusinessScopedAdmin(NulFreeSearchMixin, admin.ModelAdmin):
    """Staff see and act on their own business's rows only; superusers see all.

    Scoping lives in `get_queryset` (lists, change pages, search, autocomplete, actions all
    start there) and again in the object permissions, so a hidden link is never the only
    guard. A row outside the scope is a 404, never a page that confirms it exists.
    """

    #: The lookup from this model to its business.
    business_path = "business"

    def scope(self, request, queryset):
        if request.user.is_superuser:
            return queryset
        business_id = request.user.business_id
        if business_id is None:
            return queryset.none()  # a staff user without a business sees nothing
        return queryset.filter(**{self.business_path: business_id})

    def get_queryset(self, request):
        return self.scope(request, super().get_queryset(request))

    def in_scope(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        business_id = request.user.business_id
        *hops, last = self.business_path.split("__")
        for hop in hops:
            obj = getattr(obj, hop)
        return business_id is not None and getattr(obj, f"{last}_id") == business_id

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self.in_scope(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.in_scope(request, obj)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index with "doesn't exist"; another business's row must
        # look exactly like a missing one, and a plain 404 does.
        raise Http404(f"No {opts.verbose_name} with that id.")

    def get_object_or_404(self, request, object_id):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with that id.")
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related is Business and not request.user.is_superuser:
            # Staff create rows for their own business only: shown, not changeable.
            kwargs["queryset"] = Business.objects.filter(pk=request.user.business_id)
            kwargs["initial"] = request.user.business_id
            kwargs["disabled"] = True
        elif not request.user.is_superuser and hasattr(related, "business_id"):
            kwargs["queryset"] = related._default_manager.filter(
                business_id=request.user.business_id
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.related_model
        if not request.user.is_superuser and hasattr(related, "business_id"):
            kwargs["queryset"] = related._default_manager.filter(
                business_id=request.user.business_id
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_display(self, request):
        display = super().get_list_display(request)
        if not request.user.is_superuser:
            display = [name for name in display if name != "business"]
        return display

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if not request.user.is_superuser:
            filters = [item for item in filters if item != "business"]
        return filters


@admin.register(Business)
class BusinessAdmin(BusinessScopedAdmin):
    """Staff see their own business; only superusers create or change businesses."""

    business_path = "pk"
    list_display = ("id", "name", "currency_code", "locale", "timezone", "created")
    search_fields = ("name",)
    readonly_fields = ("created",)
    fields = ("name", "currency_code", "locale", "timezone", "created")

    @admin.display(description="created", ordering="created_at")
    def created(self, business):
        return dates.moment(business.created_at)

    def in_scope(self, request, obj) -> bool:
        return obj is None or request.user.is_superuser or obj.pk == request.user.business_id

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False  # every row of the service points at a business (PROTECT)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(NulFreeSearchMixin, DjangoGroupAdmin):
    """Django's, with the NUL-free search of every other admin here."""


@admin.register(User)
class UserAdmin(NulFreeSearchMixin, DjangoUserAdmin):
    """Superusers manage staff; a staff user with user permissions stays inside their business
    and cannot hand out superuser rights or move anyone to another business."""

    fieldsets = (*DjangoUserAdmin.fieldsets, ("Business", {"fields": ("business",)}))
    list_display = ("username", "email", "business", "role_names", "is_staff", "is_superuser")
    list_filter = ("business", "groups", "is_staff", "is_superuser", "is_active")
    list_select_related = ("business",)

    @admin.display(description="roles")
    def role_names(self, user):
        return ", ".join(group.name for group in user.groups.all()) or "—"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).prefetch_related("groups")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(business_id=request.user.business_id, is_superuser=False)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions", "business"]
        return readonly

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.business_id = request.user.business_id
        super().save_model(request, obj, form, change)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"No {opts.verbose_name} with that id.")


@admin.register(Client)
class ClientAdmin(BusinessScopedAdmin):
    """Clients are never removed (their cards point at them): managers deactivate them."""

    list_display = ("id", "full_name", "email", "phone", "business", "mode", "active")
    list_display_links = ("id", "full_name")
    list_filter = ("active", "mode", "business")
    list_select_related = ("business",)
    search_fields = ("first_name", "last_name", "email", "phone", "=id")
    readonly_fields = ("created", "modified", "created_by", "modified_by")
    fields = (
        "business",
        "mode",
        ("first_name", "last_name"),
        "email",
        "phone",
        "active",
        ("created", "created_by"),
        ("modified", "modified_by"),
    )
    actions = ["deactivate_clients"]

    @admin.display(description="created at")
    def created(self, client):
        return dates.moment(client.created_at)

    @admin.display(description="modified at")
    def modified(self, client):
        return dates.moment(client.modified_at)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.has_perm("clients.delete_client"):
            readonly.append("active")
        if obj is not None:
            readonly += ["business", "mode"]  # a client's cards live in its business and mode
        return readonly

    def has_delete_permission(self, request, obj=None):
        return False  # soft only: see deactivate_clients

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("clients.delete_client"):
            actions.pop("deactivate_clients", None)
        return actions

    @admin.action(description="Deactivate selected clients")
    def deactivate_clients(self, request, queryset):
        if not request.user.has_perm("clients.delete_client"):
            raise PermissionDenied
        clients = list(self.scope(request, queryset).filter(active=True))
        asked = ask_first(
            self,
            request,
            "deactivate_clients",
            f"Deactivate {len(clients)} client(s)?",
            [
                (c, c.full_name or c.email or f"Client {c.pk}", "active", "inactive")
                for c in clients
            ],
        )
        if asked is not None:
            return asked
        actor = Actor.for_user(request.user)
        count = 0
        for client in clients:
            client_soft_delete(client=client, actor=actor)
            self.log_change(request, client, "Deactivated.")
            count += 1
        self.message_user(request, f"Deactivated {count} client(s).", messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.business_id = request.user.business_id
        if not change:
            obj.created_by = request.user.get_username()
        obj.modified_by = request.user.get_username()
        super().save_model(request, obj, form, change)


@admin.register(ApiKey)
class ApiKeyAdmin(BusinessScopedAdmin):
    """Managers create keys (the secret is shown once, on a page that is not cached) and
    revoke them; keys are never deleted, ledger rows point at them."""

    list_display = ("name", "prefix", "business", "mode", "created_at", "last_used", "revoked")
    list_filter = ("mode", "revoked", "business")
    list_select_related = ("business",)
    search_fields = ("name", "prefix")
    actions = ["revoke_keys"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("business", "name", "mode")
        return ("business", "name", "mode", "prefix", "created_at", "last_used", "revoked")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # Revoking is one way (the action below); business and mode are the key's identity.
        return ("business", "mode", "prefix", "created_at", "last_used", "revoked")

    @admin.display(description="created", ordering="created")
    def created_at(self, key):
        return dates.moment(key.created)

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, key):
        return dates.moment(key.last_used_at) if key.last_used_at else "never"

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions.pop("revoke_keys", None)
        return actions

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request, queryset):
        if not self.has_change_permission(request):
            raise PermissionDenied
        keys = list(self.scope(request, queryset).filter(revoked=False))
        asked = ask_first(
            self,
            request,
            "revoke_keys",
            f"Revoke {len(keys)} API key(s)?",
            [(key, f"{key.name} ({key.mode}, {key.prefix})", "usable", "revoked") for key in keys],
        )
        if asked is not None:
            return asked
        count = 0
        for key in keys:
            api_key_revoke(api_key=key)
            self.log_change(request, key, "Revoked.")
            count += 1
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_created"
        created = path(
            "<path:object_id>/created/", self.admin_site.admin_view(self.created_view), name=name
        )
        return [created, *super().get_urls()]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        business = obj.business if request.user.is_superuser else request.user.business
        key, secret = api_key_create(business=business, name=obj.name, mode=obj.mode)
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(key, field.attname))
        obj._state.adding = False
        # Kept in the (server-side) session, sealed and for a few minutes, until the page
        # after the redirect shows it once; never in a message, which may travel in a
        # signed, not encrypted, cookie. Secrets never shown and now too old are dropped.
        request.session[NEW_SECRETS_SESSION_KEY] = {
            **session_secrets.fresh(request.session.get(NEW_SECRETS_SESSION_KEY, {})),
            key.pk: session_secrets.seal(secret),
        }

    def response_add(self, request, obj, post_url_continue=None):
        # Post/redirect/get: reloading the page that shows the secret sends nothing again.
        return redirect(reverse("admin:clients_apikey_created", args=[quote(obj.pk)]))

    def created_view(self, request, object_id):
        """Shows a new key's secret the first time it is opened, within a few minutes of its
        creation; afterwards says it was shown, or that it can no longer be."""
        key = self.get_object_or_404(request, unquote(object_id))
        if not self.has_view_permission(request, key):
            raise PermissionDenied
        stored = dict(request.session.get(NEW_SECRETS_SESSION_KEY, {}))
        entry = stored.pop(key.pk, None)
        secret = session_secrets.unseal(entry) if entry is not None else None
        kept = session_secrets.fresh(stored)
        if entry is not None or kept != stored:
            request.session[NEW_SECRETS_SESSION_KEY] = kept
        expired = entry is not None and secret is None
        if secret:
            title = "API key created"
        elif expired:
            title = "API key secret no longer available"
        else:
            title = "API key secret already shown"
        response = TemplateResponse(
            request,
            "admin/clients/apikey/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "key": key,
                "secret": secret,
                "expired": expired,
                "kept_minutes": session_secrets.TTL_SECONDS // 60,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

"""Staff admin for businesses, staff users, clients and API keys."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from rest_framework_api_key.models import APIKey as LibraryApiKey

from clients.models import ApiKey, Business, Client, User

# The library's own key model is unused: ours belongs to a business and a mode.
admin.site.unregister(LibraryApiKey)


@admin.register(Business)
class BusinessAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "currency_code", "locale", "timezone")
    search_fields = ("name",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Business", {"fields": ("business",)}))
    list_display = ("username", "email", "business", "is_staff", "is_superuser")


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("id", "first_name", "last_name", "email", "business", "mode", "active")
    list_filter = ("active", "mode")
    search_fields = ("first_name", "last_name", "email")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "business", "mode", "created", "last_used_at", "revoked")
    list_filter = ("mode", "revoked")
    readonly_fields = ("prefix", "created", "last_used_at")

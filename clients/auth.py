"""DRF authentication by `Authorization: Bearer <api key>`; the key decides business and mode."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from clients.models import ApiKey
from clients.tenancy import Actor, Tenant

# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
LAST_USED_RESOLUTION_SECONDS = 60

# `<prefix>.<secret>` as rest_framework_api_key generates them (letters and digits). Anything
# else is refused before it reaches the database: PostgreSQL errors on a NUL byte, for one.
KEY_SHAPE = re.compile(r"[A-Za-z0-9]{1,16}\.[A-Za-z0-9]{1,128}")


@dataclass(frozen=True)
class ApiPrincipal:
    """`request.user` for API calls: the integration behind a key."""

    api_key: ApiKey

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    @property
    def tenant(self) -> Tenant:
        return self.api_key.tenant

    @property
    def actor(self) -> Actor:
        return Actor.for_api_key(self.api_key)

    def get_username(self) -> str:
        return self.api_key.name

    def __str__(self) -> str:
        return self.api_key.name


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Bearer <key>'."
            )
        try:
            key = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("The API key is malformed.") from exc
        if not KEY_SHAPE.fullmatch(key):
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        try:
            api_key = ApiKey.objects.get_from_key(key)
        except ApiKey.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.") from exc
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        self._touch(api_key)
        return ApiPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'

    @staticmethod
    def _touch(api_key: ApiKey) -> None:
        now = timezone.now()
        last = api_key.last_used_at
        if last is None or (now - last).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)


class ApiKeyScopedView:
    """For API views: the request's tenant (business and mode) and actor, from its key."""

    @property
    def tenant(self) -> Tenant:
        return self.request.user.tenant

    @property
    def actor(self) -> Actor:
        return self.request.user.actor

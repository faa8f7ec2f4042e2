"""What every JSON:API view shares: media types, errors, auth, throttling, query parameter
validation, tenant-scoped querysets, pagination, and the CRUD actions."""

from __future__ import annotations

import hashlib
import re

from rest_framework import status, viewsets
from rest_framework.exceptions import NotFound, UnsupportedMediaType
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_json_api.renderers import JSONRenderer

from clients.auth import ApiKeyScopedView
from giftcards.idempotency import HEADER as IDEMPOTENCY_HEADER
from giftcards.jsonapi.errors import DocumentError, jsonapi_exception_handler
from giftcards.jsonapi.filters import (
    DOCUMENT_FAMILIES,
    LIST_FAMILIES,
    JsonApiFilterBackend,
    QueryParameterValidationFilter,
    SortFilter,
    sorted_pks,
)
from giftcards.jsonapi.negotiation import (
    JsonApiContentNegotiation,
    JsonApiDocument,
    JsonApiParser,
    content_type_is_jsonapi,
)
from giftcards.jsonapi.pagination import JsonApiPagination
from giftcards.throttling import ApiKeyRateThrottle

INTEGER_ID = re.compile(r"^[0-9]{1,18}$")
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT"})


class JsonApiMixin:
    """Media types, errors, auth (the default API key authentication) and throttling."""

    parser_classes = [JsonApiParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonApiContentNegotiation
    throttle_classes = [ApiKeyRateThrottle]
    metadata_class = None  # OPTIONS is a 405: the API is described by its OpenAPI schema

    def get_exception_handler(self):
        return jsonapi_exception_handler

    @property
    def allowed_methods(self):
        return [method for method in super().allowed_methods if method != "OPTIONS"]

    def query_families(self) -> frozenset[str]:
        return frozenset()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in WRITE_METHODS:
            if not content_type_is_jsonapi(request.content_type):
                raise UnsupportedMediaType(request.content_type or "(none)")
            request.body  # noqa: B018  refuses an oversized body before anything else
        QueryParameterValidationFilter().validate_query_params(request, self)


class NotFoundView(JsonApiMixin, APIView):
    """Any other path under /api/: a JSON:API 404."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def initial(self, request, *args, **kwargs):
        raise NotFound("No such resource or route.")


class ResourceViewSet(ApiKeyScopedView, JsonApiMixin, viewsets.GenericViewSet):
    """CRUD of one resource type, scoped to the key's business and mode."""

    model = None
    resource_name: str | None = None
    pagination_class = JsonApiPagination
    filter_backends = [QueryParameterValidationFilter, JsonApiFilterBackend, SortFilter]
    default_sort: tuple[str, ...] = ("id",)
    sort_fields: dict[str, str] = {}
    computed_sort_fields: dict = {}
    domain_fields: dict[str, str] = {}
    id_pattern = INTEGER_ID

    def query_families(self) -> frozenset[str]:
        if self.action == "list":
            return LIST_FAMILIES
        if self.action == "destroy":
            return frozenset()
        return DOCUMENT_FAMILIES

    def relationship_names(self) -> frozenset[str]:
        return self.get_serializer_class().relationship_names()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context.update(tenant=self.tenant, actor=self.actor, business=self.tenant.business)
        key = self.request.headers.get(IDEMPOTENCY_HEADER)
        if key:
            # Also recorded on the ledger row, namespaced per API key (the ledger's key is
            # unique per card, whoever wrote it).
            digest = hashlib.sha256(key.strip().encode()).hexdigest()[:40]
            context["idempotency_key"] = f"jsonapi:{self.request.auth.pk}:{digest}"
        return context

    @property
    def schema_only(self) -> bool:
        """drf-spectacular inspects views without a request."""
        return getattr(self, "swagger_fake_view", False)

    def get_queryset(self):
        if self.schema_only:
            return self.model.objects.none()
        return self.model.objects.for_tenant(self.tenant)

    def get_object(self):
        pk = self.kwargs["pk"]
        found = None
        if self.id_pattern.match(pk):
            found = self.get_queryset().filter(pk=pk).first()
        if found is None:
            raise NotFound(f"No {self.resource_name} resource with id {pk!r}.")
        self.check_object_permissions(self.request, found)
        return found

    def document(self) -> JsonApiDocument:
        if not isinstance(self.request.data, JsonApiDocument):
            raise DocumentError("The request needs a JSON:API document with `data`.", "")
        return self.request.data

    def render_one(self, instance, status_code=status.HTTP_200_OK, **kwargs) -> Response:
        data = self.get_serializer(instance).data
        return Response(data, status=status_code, **kwargs)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        if getattr(self, "computed_sort", None):
            page_pks = self.paginate_queryset(sorted_pks(queryset, self))
            found = queryset.in_bulk(page_pks)
            page = [found[pk] for pk in page_pks]
        else:
            page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return self.render_one(self.get_object())

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=self.document())
        serializer.is_valid(raise_exception=True)
        created = self.get_queryset().get(pk=serializer.save().pk)
        response = self.render_one(created, status.HTTP_201_CREATED)
        response["Location"] = str(response.data["url"])  # not DRF's Hyperlink: WSGI wants str
        return response

    def partial_update(self, request, *args, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=self.document(), partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return self.render_one(self.get_object())

    def destroy(self, request, *args, **kwargs):
        self.perform_destroy(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def perform_destroy(self, instance):
        instance.delete()

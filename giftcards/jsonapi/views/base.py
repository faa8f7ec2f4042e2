"""What every JSON:API view shares: media types, errors, auth, throttling, query parameter
validation, tenant-scoped querysets, pagination, and the CRUD actions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import QuerySet
from rest_framework import status, viewsets
from rest_framework.exceptions import MethodNotAllowed, NotFound, UnsupportedMediaType
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.auth import ApiKeyScopedView
from giftcards import selectors
from giftcards.idempotency import ledger_key
from giftcards.jsonapi.documents import Documents
from giftcards.jsonapi.errors import DocumentError, Forbidden, jsonapi_exception_handler
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
    JsonApiRenderer,
    content_type_is_jsonapi,
)
from giftcards.jsonapi.pagination import JsonApiPagination
from giftcards.preconditions import conditional_read
from giftcards.throttling import ApiKeyRateThrottle, StopAtFirstRefusal

INTEGER_ID = re.compile(r"^[0-9]{1,18}$")
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT"})


class JsonApiMixin(StopAtFirstRefusal):
    """Media types, errors, auth (the default API key authentication) and throttling."""

    parser_classes = [JsonApiParser]
    renderer_classes = [JsonApiRenderer]
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
        if not hasattr(self, request.method.lower()):
            # Before the body's checks: a PUT here is a 405 whatever its media type.
            raise MethodNotAllowed(request.method)
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


@dataclass(frozen=True)
class Relation:
    """A relationship served by `related` and `relationship` routes: the related resources'
    type (None when each row says its own) and whether it is to-many (then paginated)."""

    type: str | None
    many: bool = True


class ResourceViewSet(ApiKeyScopedView, JsonApiMixin, viewsets.GenericViewSet):
    """CRUD of one resource type, scoped to the key's business and mode.

    Views validate with the resource's serializer, call the resource's service
    (`create_resource`, `update_resource`), and render with `Documents` (documents.py);
    `build` names the Documents method of the type. `relations` are served at
    `/{type}/{id}/{name}` and `/{type}/{id}/relationships/{name}` by `related_rows` (to-many:
    a queryset or list, in order), or `related_row` and `related_linkage` (to-one)."""

    model = None
    resource_name: str | None = None
    build: str = ""
    pagination_class = JsonApiPagination
    filter_backends = [JsonApiFilterBackend, SortFilter]  # parameters are checked in initial()
    default_sort: tuple[str, ...] = ("id",)
    sort_fields: dict[str, str] = {}
    computed_sort_fields: dict = {}
    domain_fields: dict[str, str] = {}
    includable: dict[str, str] = {}
    relations: dict[str, Relation] = {}
    id_pattern = INTEGER_ID

    def query_families(self) -> frozenset[str]:
        if self.action == "list":
            return LIST_FAMILIES
        if self.action == "destroy":
            return frozenset()
        if self.action in ("related", "relationship", "relationship_write"):
            many = self.relation()[1].many  # an unknown relationship is a 404 first
            if self.action == "related":
                return frozenset({"include", "fields", "page"}) if many else DOCUMENT_FAMILIES
            return frozenset({"page"}) if self.action == "relationship" and many else frozenset()
        return DOCUMENT_FAMILIES

    def relationship_names(self) -> frozenset[str]:
        return self.get_serializer_class().relationship_names()

    def idempotency_key(self) -> str | None:
        return ledger_key(self.request, "jsonapi")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context.update(tenant=self.tenant, actor=self.actor, business=self.tenant.business)
        return context

    def get_queryset(self):
        return self.model.objects.for_tenant(self.tenant)

    def get_object(self, queryset=None):
        pk = self.kwargs["pk"]
        found = None
        if self.id_pattern.match(pk):
            found = (queryset if queryset is not None else self.get_queryset()).filter(pk=pk)
            found = found.first()
        if found is None:
            raise NotFound(f"No {self.resource_name} resource with id {pk!r}.")
        self.check_object_permissions(self.request, found)
        return found

    def document(self) -> JsonApiDocument:
        if not isinstance(self.request.data, JsonApiDocument):
            raise DocumentError("The request needs a JSON:API document with `data`.", "")
        return self.request.data

    def documents(self) -> Documents:
        return Documents.for_request(self.request, business=self.tenant.business)

    def validated(self, instance=None, *, current=None) -> dict:
        """The request document, validated; an update passes `current` (see
        ResourceSerializer), or the instance, whose document is then rendered for it."""
        context = self.get_serializer_context()
        if instance is not None:
            current = current or (lambda: self.resources(self.documents(), [instance])[0])
        if current is not None:
            context["current"] = lambda: current()["attributes"]
        serializer = self.get_serializer_class()(
            instance, data=self.document(), partial=current is not None, context=context
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def resources(self, docs: Documents, rows) -> list[dict]:
        if "attachments" in docs.include and "attachments" in self.includable:
            self.attach(docs, [row.pk for row in rows])
        build = getattr(docs, self.build)
        return [build(row) for row in rows]

    def attach(self, docs: Documents, pks: list) -> None:
        """Load the attachments of a page of primary resources, in one query."""
        found = selectors.attachments_by_owner(
            tenant=self.tenant, attachable_type=self.resource_name, attachable_ids=pks
        )
        docs.attach(self.resource_name, found)

    def render_one(self, row, status_code=status.HTTP_200_OK, **kwargs) -> Response:
        docs = self.documents()
        return Response(docs.one(self.resources(docs, [row])[0]), status=status_code, **kwargs)

    def render_page(self, docs: Documents, resources: list[dict]) -> Response:
        paginator = self.paginator
        return Response(docs.many(resources, paginator.get_meta(), paginator.get_links()))

    def page_of(self, queryset) -> list:
        if getattr(self, "computed_sort", None):
            page_pks = self.paginate_queryset(sorted_pks(queryset, self))
            found = queryset.in_bulk(page_pks)
            return [found[pk] for pk in page_pks]
        return self.paginate_queryset(queryset)

    def list(self, request, *args, **kwargs):
        page = self.page_of(self.filter_queryset(self.get_queryset()))
        docs = self.documents()
        return self.render_page(docs, self.resources(docs, page))

    def retrieve(self, request, *args, **kwargs):
        return self.render_one(self.get_object())

    def single_document(self) -> bool:
        """Whether this request reads one resource (a member, or a to-one related one): its
        GET answers with a body-hash ETag and a 304 to a matching If-None-Match."""
        if self.action == "retrieve":
            return True
        if self.action == "related":
            relation = self.relations.get(self.kwargs.get("related_field"))
            return relation is not None and not relation.many
        return False

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.single_document():
            return conditional_read(request, response)
        return response

    def create(self, request, *args, **kwargs):
        created = self.create_resource(self.validated())
        response = self.render_one(created, status.HTTP_201_CREATED)
        response["Location"] = response.data["data"]["links"]["self"]
        return response

    def partial_update(self, request, *args, **kwargs):
        instance = self.get_object()
        attributes = self.validated(instance)
        return self.render_one(self.update_resource(instance, attributes))

    def create_resource(self, attributes: dict):
        raise NotImplementedError

    def update_resource(self, row, attributes: dict):
        raise NotImplementedError

    def destroy(self, request, *args, **kwargs):
        self.perform_destroy(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def perform_destroy(self, instance):
        instance.delete()

    # ------------------------------------------------------------------------ relations

    def relation(self) -> tuple[str, Relation]:
        name = self.kwargs.get("related_field")
        if name not in self.relations:
            raise NotFound(f"{self.resource_name} have no relationship {name!r}.")
        return name, self.relations[name]

    def related_rows(self, row, name: str):
        raise NotImplementedError

    def related_row(self, row, name: str):
        raise NotImplementedError

    def related_linkage(self, row, name: str) -> dict | None:
        raise NotImplementedError

    def render_related(self, docs: Documents, type_: str | None, rows: list) -> list[dict]:
        build = docs.builder(type_)
        return [build(row) for row in rows]

    def related(self, request, *args, **kwargs):
        """GET /{type}/{id}/{name}: the related resources (a page of them when to-many)."""
        row = self.get_object()
        name, relation = self.relation()
        docs = self.documents()
        if not relation.many:
            found = self.related_row(row, name)
            if found is None:
                return Response(docs.one(None))
            return Response(docs.one(self.render_related(docs, relation.type, [found])[0]))
        page = self.paginate_queryset(self.related_rows(row, name))
        return self.render_page(docs, self.render_related(docs, relation.type, page))

    def relationship(self, request, *args, **kwargs):
        """GET /{type}/{id}/relationships/{name}: linkage (a page of it when to-many)."""
        row = self.get_object()
        name, relation = self.relation()
        links = self.documents().links(self.resource_name, row.pk, name)
        if not relation.many:
            return Response({"links": links, "data": self.related_linkage(row, name)})
        rows = self.related_rows(row, name)
        if isinstance(rows, QuerySet):
            rows = rows.only("pk")
        page = self.paginate_queryset(rows)
        paginator = self.paginator
        return Response(
            {
                "links": {**links, **paginator.get_links()},
                "data": [{"type": relation.type, "id": str(found.pk)} for found in page],
                "meta": paginator.get_meta(),
            }
        )

    def relationship_write(self, request, *args, **kwargs):
        """PATCH/POST/DELETE /{type}/{id}/relationships/{name}: not supported."""
        self.get_object()
        name, _ = self.relation()
        raise Forbidden(
            f"The {name} relationship is not changed through its link"
            + (": PATCH the resource." if self.relation_writable(name) else ".")
        )

    def relation_writable(self, name: str) -> bool:
        return name in self.get_serializer_class()._declared_fields

"""`/api/imports`: rows of cards or recipients brought in from another system, processed in
the background in chunks (giftcards/imports/). An import is read while it runs (its counts
and logs grow), stopped with `_interrupt`, and deleted once finished; the cards it made
stay."""

from __future__ import annotations

import io
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ValidationError

from giftcards.filters.imports import ImportFilterSet
from giftcards.idempotency import idempotent
from giftcards.imports import jobs
from giftcards.jsonapi.errors import Conflict
from giftcards.jsonapi.serializers.imports import ImportSerializer
from giftcards.jsonapi.views.base import ResourceViewSet
from giftcards.models import PUBLIC_ID_PATTERN, Import


class ImportViewSet(ResourceViewSet):
    model = Import
    resource_name = "imports"
    serializer_class = ImportSerializer
    build = "bulk_import"
    filterset_class = ImportFilterSet
    id_pattern = re.compile(PUBLIC_ID_PATTERN)
    sort_fields = {name: name for name in ("id", "status", "created_at", "completed_at")}
    default_sort = ("created_at", "id")

    def initial(self, request, *args, **kwargs):
        if request.method == "POST":
            self.perform_authentication(request)
            if request.auth is not None:
                _read_body(request._request, settings.IMPORTS_MAX_BODY_BYTES)
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        # The inputs are read only when a document shows them.
        queryset = super().get_queryset()
        if self.action == "list" and "imports" not in self.documents().fields:
            queryset = queryset.defer("inputs_encrypted")
        return queryset

    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_resource(self, attributes):
        return jobs.start(
            tenant=self.tenant,
            actor=self.actor,
            resource_type=attributes["resource_type"],
            inputs=attributes["inputs"],
            format=attributes.get("format", Import.Format.JSON),
            dry_run=attributes.get("dry_run", False),
            reference=attributes.get("reference") or "",
            reference_origin=attributes.get("reference_origin") or "",
            metadata=attributes.get("metadata"),
        )

    def partial_update(self, request, *args, **kwargs):
        job = self.get_object()
        self.validated(job)
        return self.render_one(jobs.interrupt(job))

    def perform_destroy(self, job):
        if not job.finished:
            raise Conflict(
                f"Import {job.pk} is {job.status}: interrupt it first "
                '(PATCH with `"_interrupt": true`).',
                code="import_running",
            )
        job.delete()


def _read_body(raw, limit: int) -> None:
    """Read the request's body now with this route's own limit (Django's is for the other
    routes), as `HttpRequest.body` would."""
    if hasattr(raw, "_body"):
        return
    length = int(raw.META.get("CONTENT_LENGTH") or 0)
    if length > limit:
        raise RequestDataTooBig(f"The body is larger than {limit} bytes.")
    try:
        raw._body = raw.read()
    except OSError as exc:
        raise ValidationError({"detail": ["The request body could not be read."]}) from exc
    raw._stream = io.BytesIO(raw._body)

"""`/api/exports`: files of the key's cards, recipients or ledger rows, written in the
background (giftcards/exports/). An export is created, read while it runs, stopped with
`_interrupt`, and deleted once finished (with its file); a completed one shows
`attachment_url`, a signed link that works until `expires_at`, for keys of its business and
mode only (`/api/exports/{id}/download`)."""

from __future__ import annotations

import re

from django.http import FileResponse
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.views import APIView

from clients.auth import ApiKeyScopedView
from giftcards.exports import services, signing, storage, writers
from giftcards.filters import ExportFilterSet
from giftcards.idempotency import idempotent
from giftcards.jsonapi.documents import Documents, api_root
from giftcards.jsonapi.errors import Forbidden, InvalidQueryParameter
from giftcards.jsonapi.negotiation import JsonApiContentNegotiation
from giftcards.jsonapi.serializers.exports import ExportSerializer
from giftcards.jsonapi.views.base import JsonApiMixin, ResourceViewSet
from giftcards.models import PUBLIC_ID_PATTERN, Export, JobStatus

EXPORT_ID = re.compile(PUBLIC_ID_PATTERN)
LINK_PARAMETERS = ("expires", "signature")


def attachment_url(request, export: Export) -> str | None:
    """The download link of a completed export whose file is still there, else None."""
    if (
        export.status != JobStatus.COMPLETED
        or export.purged_at is not None
        or export.expires_at is None
        or export.expires_at <= timezone.now()
    ):
        return None
    base = request.build_absolute_uri(api_root())
    return f"{base}exports/{export.pk}/download?{signing.query(export.pk, export.expires_at)}"


class ExportViewSet(ResourceViewSet):
    model = Export
    resource_name = "exports"
    serializer_class = ExportSerializer
    build = "bulk_export"
    filterset_class = ExportFilterSet
    id_pattern = EXPORT_ID
    sort_fields = {
        name: name
        for name in (
            "id",
            "status",
            "resource_type",
            "format",
            "records_count",
            "created_at",
            "updated_at",
            "completed_at",
            "expires_at",
        )
    }
    default_sort = ("created_at", "id")
    # The only status a client changes is through `_interrupt`.
    domain_fields = {"status": "_interrupt"}

    def resources(self, docs: Documents, rows) -> list[dict]:
        return [docs.bulk_export(row, attachment_url(self.request, row)) for row in rows]

    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_resource(self, attributes):
        return services.export_create(tenant=self.tenant, actor=self.actor, **attributes)

    def partial_update(self, request, *args, **kwargs):
        export = self.get_object()
        self.validated(export)
        return self.render_one(services.export_interrupt(export=export, actor=self.actor))

    def perform_destroy(self, export):
        services.export_delete(export=export, actor=self.actor)


class LinkGone(APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "This download link no longer works."
    default_code = "gone"


class AnyAccept(JsonApiContentNegotiation):
    """A download answers its file whatever `Accept` says, and its refusals as JSON:API."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportDownloadView(ApiKeyScopedView, JsonApiMixin, APIView):
    """GET /api/exports/{id}/download?expires=...&signature=...: the file, streamed.

    Another business's or mode's export is a 404, whatever the link; a link whose signature
    does not match is a 403, an expired one (or one whose file was removed) a 410."""

    content_negotiation_class = AnyAccept

    def initial(self, request, *args, **kwargs):
        APIView.initial(self, request, *args, **kwargs)  # auth, throttles; not the JSON:API's
        problems = [
            (name, f"Unknown query parameter {name!r}; a download link has expires and signature.")
            for name in request.query_params
            if name not in LINK_PARAMETERS
        ]
        problems += [
            (name, f"{name!r} is given more than once.")
            for name in LINK_PARAMETERS
            if len(request.query_params.getlist(name)) > 1
        ]
        if problems:
            raise InvalidQueryParameter(problems)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if response.status_code == status.HTTP_410_GONE and isinstance(response.data, list):
            for error in response.data:
                error["title"] = "Gone"
        return response

    def get(self, request, pk: str):
        export = None
        if EXPORT_ID.match(pk):
            export = Export.objects.for_tenant(self.tenant).filter(pk=pk).first()
        if export is None:
            raise NotFound(f"No exports resource with id {pk!r}.")
        params = request.query_params
        verdict = signing.check(export.pk, params.get("expires"), params.get("signature"))
        if verdict is signing.Verdict.FORGED:
            raise Forbidden(
                "This download link is not valid (its signature does not match): read the "
                "export again for its attachment_url.",
                code="invalid_signature",
            )
        if verdict is signing.Verdict.EXPIRED or export.purged_at is not None:
            raise LinkGone(
                "This download link has expired and the file is removed: make a new export.",
                code="link_expired",
            )
        if export.status != JobStatus.COMPLETED or not export.file_name:
            raise NotFound(f"Export {export.pk} has no file.")
        try:
            handle = storage.open_file(export.file_name)
        except FileNotFoundError as exc:
            raise LinkGone("The file of this export is gone: make a new export.") from exc
        services.note_download(export, self.actor)
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=f"{export.resource_type}-{export.pk}.{export.format}",
            content_type=writers.CONTENT_TYPES[export.format],
        )
        response["Cache-Control"] = "no-store"
        return response

"""Imports in the staff admin: a read-only list and page of every import of the business, and
the managers' "Import cards" page, where a file is previewed as a dry run before anything is
written and its rows are then imported, once, from the preview itself.

The preview is an import of its own (`dry_run=True`, made by `jobs.start` like any other);
its button starts the real import of the preview's stored `inputs`, never of a second upload,
and the real import names its preview in `metadata` (PREVIEW_KEY). Confirming locks the
preview's row and starts an import only if none names it yet, so a double click, a resent
form or a second tab starts one import.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.views.main import ChangeList
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from clients.admin import BusinessScopedAdmin
from clients.tenancy import Actor, Mode, Tenant
from giftcards.admin.access import require_perms, without_business
from giftcards.admin.forms import MAX_IMPORT_ROWS, ImportUploadForm
from giftcards.admin.ledger import ReadOnlyMixin, when
from giftcards.imports import jobs
from giftcards.models import Import, JobStatus

# Importing is the managers': an import creates cards (a sale's permission) with whatever
# balances the file says, which only an adjustment may otherwise set. The gift card list's
# template checks the same two for its link.
PERMISSIONS = ("giftcards.add_giftcard", "giftcards.adjust_giftcard")
# Imports are about cards: whoever reads cards (viewers too) reads them. No role has
# `view_import` (no migration grants it), but a group given it by hand works as well.
READ_PERMISSIONS = ("giftcards.view_import", "giftcards.view_giftcard")
PREVIEW_KEY = "admin_preview"
SHOWN_LOG_ROWS = 50
REFRESH_SECONDS = 3
ALREADY_STARTED = (
    "The rows of this preview were already imported (the form was sent twice): no second "
    "import was started."
)
NOT_READY = "The preview has not finished yet: wait for its counts, then import."
NOTHING_TO_IMPORT = "The preview found no row to create: nothing was imported."


def shown_log(log: dict) -> list[tuple[int, list[str]]]:
    """The first SHOWN_LOG_ROWS entries of an errors or warnings log, by row index."""
    entries = sorted((int(index), reasons) for index, reasons in (log or {}).items())
    return entries[:SHOWN_LOG_ROWS]


class ImportChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # A page of 100 imports would read up to 2,000 logged messages it never shows.
        rows = super().get_queryset(request, exclude_parameters)
        return rows.defer("errors_log", "warnings_log")


@admin.register(Import)
class ImportAdmin(ReadOnlyMixin, BusinessScopedAdmin):
    change_list_template = "admin/giftcards/import/change_list.html"
    change_form_template = "admin/giftcards/import/change_form.html"
    list_display = (
        "id",
        "status_badge",
        "resource_type",
        "dry_run",
        "progress",
        "created_rows",
        "skipped_rows",
        "refused_rows",
        "warned_rows",
        "created",
        "completed",
        "who",
        "mode",
        "business",
    )
    list_display_links = ("id",)
    list_select_related = ("business",)
    list_filter = ("status", "resource_type", "dry_run", "mode", "business")
    list_per_page = 50
    ordering = ("-created_at", "-id")  # the newest import first
    search_fields = ("=id", "reference", "actor_name", "source_name")
    search_help_text = "An import's id, its reference (an uploaded file's name) or who made it."
    fieldsets = (
        (
            "Import",
            {
                "fields": (
                    "id",
                    ("status", "dry_run"),
                    ("resource_type", "format"),
                    ("business", "mode"),
                    ("reference", "reference_origin"),
                    "source_name",
                    "metadata",
                )
            },
        ),
        ("Who and when", {"fields": ("actor_name", ("created", "started", "completed"))}),
    )
    # Never `inputs`: the rows hold full codes (masked everywhere in the admin) and up to
    # IMPORTS_MAX_BODY_BYTES of text.
    readonly_fields = (
        "id",
        "status",
        "dry_run",
        "resource_type",
        "format",
        "business",
        "mode",
        "reference",
        "reference_origin",
        "source_name",
        "metadata",
        "actor_name",
        "created",
        "started",
        "completed",
    )

    # ------------------------------------------------------------------ reading

    def get_queryset(self, request):
        return super().get_queryset(request).defer("inputs_encrypted")

    def get_changelist(self, request, **kwargs):
        return ImportChangeList

    def has_view_permission(self, request, obj=None):
        user = request.user
        readable = any(user.has_perm(name) for name in READ_PERMISSIONS)
        return readable and self.in_scope(request, obj)

    def can_import(self, request) -> bool:
        user = request.user
        return user.business_id is not None and user.has_perms(PERMISSIONS)

    def changelist_view(self, request, extra_context=None):
        extra = {"title": "Imports", "can_import": self.can_import(request)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if job is not None and self.has_view_permission(request, job):
            extra.update(self._import_context(job))
            extra["preview_of"] = self._import_url((job.metadata or {}).get(PREVIEW_KEY))
            if job.dry_run and job.user_id == request.user.pk and self.can_import(request):
                extra["own_preview_url"] = _preview_url(job.pk)
        return super().change_view(request, object_id, form_url, extra)

    def _import_context(self, job: Import) -> dict:
        return {
            "job": job,
            "running": not job.finished,
            "refresh_seconds": REFRESH_SECONDS,
            "error_rows": shown_log(job.errors_log),
            "warning_rows": shown_log(job.warnings_log),
        }

    @staticmethod
    def _import_url(pk) -> str | None:
        if not isinstance(pk, str):
            return None
        return reverse("admin:giftcards_import_change", args=[quote(pk)])

    # ------------------------------------------------------------------ columns

    @admin.display(description="status", ordering="status")
    def status_badge(self, job):
        css = {JobStatus.COMPLETED: "active", JobStatus.INTERRUPTED: "expired"}
        return format_html(
            '<span class="gc-badge gc-badge--{}">{}</span>',
            css.get(job.status, "draft"),
            job.get_status_display(),
        )

    @admin.display(description="processed")
    def progress(self, job):
        return f"{job.processed_count} of {job.inputs_size}"

    @admin.display(description="created", ordering="created_count")
    def created_rows(self, job):
        return job.created_count

    @admin.display(description="skipped", ordering="skipped_count")
    def skipped_rows(self, job):
        return job.skipped_count

    @admin.display(description="refused", ordering="errors_count")
    def refused_rows(self, job):
        return job.errors_count

    @admin.display(description="warnings", ordering="warnings_count")
    def warned_rows(self, job):
        return job.warnings_count

    @admin.display(description="who", ordering="actor_name")
    def who(self, job):
        return job.actor_name or "—"

    @admin.display(description="created at", ordering="created_at")
    def created(self, job):
        return when(job.created_at)

    @admin.display(description="started at", ordering="started_at")
    def started(self, job):
        return when(job.started_at)

    @admin.display(description="completed at", ordering="completed_at")
    def completed(self, job):
        return when(job.completed_at)

    # ------------------------------------------------------------------ importing

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name=f"{prefix}_upload"),
            path("<str:object_id>/preview/", wrap(self.preview_view), name=f"{prefix}_preview"),
            path("<str:object_id>/confirm/", wrap(self.confirm_view), name=f"{prefix}_confirm"),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        require_perms(request, PERMISSIONS)
        if refused := without_business(self, request, "import cards"):
            return refused
        business = request.user.business
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            preview = jobs.start(
                tenant=Tenant(business=business, mode=Mode.LIVE),
                actor=Actor.for_user(request.user),
                resource_type=data["resource_type"],
                inputs=data["inputs"],
                format=data["format"],
                dry_run=True,
                reference=data["file_name"],
                reference_origin="admin upload",
                metadata=data["metadata"],
            )
            # The dry run runs here, in the request, so the preview is ready when the page
            # opens: 10,000 rows took 8 to 14 seconds (measured on SQLite and PostgreSQL),
            # acceptable for a staff page once in a while. If a worker (kicked by the
            # import's commit) claimed it first, or this process dies midway, `run` leaves it
            # to the worker and the preview page refreshes until it is done.
            jobs.run(preview.pk)
            return redirect(_preview_url(preview.pk))
        fieldsets = [(None, {"fields": ["file", "shape", "resource_type"]})]
        admin_form = helpers.AdminForm(form, fieldsets, {}, model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import cards",
            "subtitle": None,
            "adminform": admin_form,
            "errors": helpers.AdminErrorList(form, []),
            "media": self.media + admin_form.media,
            "add": True,
            "change": False,
            "has_file_field": True,
            "has_view_permission": self.has_view_permission(request),
            "business": business,
            "max_rows": MAX_IMPORT_ROWS,
            "max_size": settings.IMPORTS_MAX_BODY_BYTES,
        }
        return TemplateResponse(request, "admin/giftcards/import/upload.html", context)

    def _preview(self, request, object_id: str, *, lock: bool = False) -> Import:
        """The staff user's own dry run of their business, or a 404 (another's preview is
        theirs to confirm)."""
        rows = Import.objects.defer("inputs_encrypted")
        if lock:
            rows = Import.objects.select_for_update()
        preview = (
            self.scope(request, rows)
            .filter(pk=object_id, dry_run=True, user=request.user, mode=Mode.LIVE)
            .first()
        )
        if preview is None:
            raise Http404("No such preview.")
        return preview

    @staticmethod
    def _started_from(preview: Import) -> Import | None:
        """The import started from this preview, if one was."""
        return (
            Import.objects.filter(
                business_id=preview.business_id,
                mode=preview.mode,
                dry_run=False,
                **{f"metadata__{PREVIEW_KEY}": preview.pk},
            )
            .only("id")
            .first()
        )

    def preview_view(self, request, object_id):
        require_perms(request, PERMISSIONS)
        preview = self._preview(request, unquote(object_id))
        started = self._started_from(preview)
        context = {
            **self.admin_site.each_context(request),
            **self._import_context(preview),
            "opts": self.opts,
            "title": "Preview of an import",
            "subtitle": None,
            "preview": preview,
            "started_url": self._import_url(started.pk) if started else None,
            "can_confirm": (
                started is None
                and preview.status == JobStatus.COMPLETED
                and preview.created_count > 0
            ),
            "confirm_url": reverse("admin:giftcards_import_confirm", args=[quote(preview.pk)]),
            "upload_url": reverse("admin:giftcards_import_upload"),
            "detail_url": self._import_url(preview.pk),
        }
        return TemplateResponse(request, "admin/giftcards/import/preview.html", context)

    def confirm_view(self, request, object_id):
        """Start the real import of the preview's rows, once; then its page (post/redirect/get)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        require_perms(request, PERMISSIONS)
        preview_url = _preview_url(unquote(object_id))
        with transaction.atomic():
            preview = self._preview(request, unquote(object_id), lock=True)
            started = self._started_from(preview)
            if started is not None:
                self.message_user(request, ALREADY_STARTED, messages.WARNING)
                return redirect(self._import_url(started.pk))
            if preview.status != JobStatus.COMPLETED:
                self.message_user(request, NOT_READY, messages.WARNING)
                return redirect(preview_url)
            if preview.created_count == 0:
                self.message_user(request, NOTHING_TO_IMPORT, messages.WARNING)
                return redirect(preview_url)
            started = jobs.start(
                tenant=Tenant(business=preview.business, mode=preview.mode),
                actor=Actor.for_user(request.user),
                resource_type=preview.resource_type,
                inputs=preview.inputs,
                format=preview.format,
                reference=preview.reference,
                reference_origin=preview.reference_origin,
                metadata={**preview.metadata, PREVIEW_KEY: preview.pk},
            )
        self.message_user(
            request,
            f"Import {started.pk} started: {started.inputs_size} rows, of which the preview "
            f"expected {preview.created_count} to be created. This page shows its progress.",
            messages.SUCCESS,
        )
        return redirect(self._import_url(started.pk))


def _preview_url(pk: str) -> str:
    return reverse("admin:giftcards_import_preview", args=[quote(pk)])

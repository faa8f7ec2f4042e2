"""Making, interrupting and deleting exports; the worker writes them (giftcards.exports.work).

An export with full codes (`include_codes`, gift cards only) is a reveal of every code in it:
its row records who asked (`actor_name` and the API key or user) and when (`created_at`), and
the `giftcards.audit` logger says so at warning level when it is asked for, written and
downloaded, never with a code.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clients.tenancy import Actor, Tenant, tenant_kwargs
from giftcards.exceptions import IllegalTransition, InUse, InvalidValue
from giftcards.exports import selection, storage
from giftcards.models import Export, JobStatus, new_public_id

audit = logging.getLogger("giftcards.audit")


class CodesNotExportable(InvalidValue):
    code = "codes_not_exportable"
    subject = "include_codes"


class ExportNotFinished(InUse):
    """Deleting an export that is still pending or running."""

    code = "export_not_finished"


class ExportFinished(IllegalTransition):
    """Interrupting an export that has completed or was interrupted already."""

    code = "export_finished"


def queue_lease() -> timedelta:
    return timedelta(seconds=settings.EXPORTS_QUEUE_LEASE_SECONDS)


def export_create(
    *,
    tenant: Tenant,
    actor: Actor,
    resource_type: str,
    format: str = Export.Format.CSV,  # Commerce Layer's attribute name
    filters: dict | None = None,
    include_codes: bool = False,
    reference: str | None = "",
    reference_origin: str | None = "",
    metadata: dict | None = None,
) -> Export:
    """A pending export, queued for a worker once the transaction commits. Raises
    InvalidExportFilter (selection) and CodesNotExportable."""
    filters = filters or {}
    selection.filter_data(resource_type, filters)
    if include_codes and resource_type != Export.ResourceType.GIFT_CARDS:
        raise CodesNotExportable("Only exports of gift cards hold codes.")
    now = timezone.now()
    export = Export(
        **tenant_kwargs(tenant),
        resource_type=resource_type,
        format=format,
        filters=filters,
        include_codes=bool(include_codes),
        reference=reference or "",
        reference_origin=reference_origin or "",
        metadata=metadata or {},
        actor_name=actor.name,
        user=actor.user,
        api_key=actor.api_key,
        # Held for the message queued below; the sweep queues it again if that is lost.
        lease_token=new_public_id(),
        leased_until=now + queue_lease(),
        created_at=now,
        updated_at=now,
    )
    with transaction.atomic():
        export.save(force_insert=True)
        transaction.on_commit(lambda: _announce(export.pk, export.lease_token))
    if export.include_codes:
        audit.warning(
            "Export %s of gift cards with full codes asked for by %s (business %s, %s mode).",
            export.pk,
            actor.name,
            tenant.business.pk,
            tenant.mode,
        )
    return export


def _announce(export_id: str, token: str) -> None:
    from giftcards.exports import tasks

    tasks.announce(export_id, token)


def export_interrupt(*, export: Export, actor: Actor) -> Export:
    """Stop a pending or running export (Commerce Layer's `_interrupt`): its worker stops at
    its next chunk and keeps no file. Raises ExportFinished."""
    with transaction.atomic():
        locked = Export.objects.select_for_update().get(pk=export.pk)
        if locked.finished:
            raise ExportFinished(
                f"The export is {locked.status}: only a pending or running export can be "
                "interrupted."
            )
        now = timezone.now()
        locked.status = JobStatus.INTERRUPTED
        locked.interrupted_at = locked.updated_at = now
        locked.lease_token, locked.leased_until = "", None
        locked.save(
            update_fields=["status", "interrupted_at", "updated_at", "lease_token", "leased_until"]
        )
    return locked


def export_delete(*, export: Export, actor: Actor) -> None:
    """Delete a finished export and its file. Raises ExportNotFinished."""
    if not export.finished:
        raise ExportNotFinished(
            f"The export is {export.status}: interrupt it (`_interrupt`) or let it complete "
            "before deleting it."
        )
    storage.remove_folder(export.business_id, export.pk)
    export.delete()


def note_download(export: Export, actor: Actor) -> None:
    """A download of an export with full codes is a reveal: say who took it."""
    if export.include_codes:
        audit.warning(
            "Export %s with %s full codes downloaded by %s (business %s, %s mode).",
            export.pk,
            export.records_count,
            actor.name,
            export.business_id,
            export.mode,
        )

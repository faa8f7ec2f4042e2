"""A business's cards exported (JSON or CSV, codes included) import into another business
as they were: the export's columns are attributes an import reads."""

from __future__ import annotations

import pytest

from clients.services import business_create
from clients.tenancy import Mode, Tenant
from giftcards import services
from giftcards.exports.services import export_create
from giftcards.imports import jobs
from giftcards.models import GiftCard, Import
from tests.giftcards.export_helpers import file_rows, file_text, run_export, use_storage


@pytest.mark.parametrize("file_format", ["json", "csv"])
def test_an_export_with_codes_imports_into_another_business(
    settings, tmp_path, tenant, actor, make_card, file_format
):
    use_storage(settings, tmp_path)
    first = make_card(status="active", balance_cents=5_000, reference="r-1")
    services.card_debit(card=first, amount_cents=1_200, actor=actor)
    make_card(status="inactive", balance_cents=2_000, metadata={"tier": "gold"})
    # Text a spreadsheet would run: a CSV export guards it, and an import undoes the guard.
    make_card(status="active", balance_cents=300, reference="-42", reference_origin="+pos")
    export = export_create(
        tenant=tenant, actor=actor, resource_type="gift_cards", format=file_format,
        include_codes=True,
    )  # fmt: skip
    export = run_export(export.pk)
    inputs = file_text(export) if file_format == "csv" else file_rows(export)
    elsewhere = Tenant(
        business=business_create(name="Moved Books", currency_code="USD"), mode=Mode.LIVE
    )

    job = jobs.start(
        tenant=elsewhere,
        actor=actor,
        resource_type="gift_cards",
        inputs=inputs,
        format=Import.Format.CSV if file_format == "csv" else Import.Format.JSON,
    )
    done = jobs.run(job.pk)

    assert (done.created_count, done.errors_count) == (3, 0), done.errors_log
    for card in GiftCard.objects.for_tenant(tenant):
        copy = GiftCard.objects.for_tenant(elsewhere).get(code_last4=card.code_last4)
        assert copy.code == card.code
        assert (copy.initial_balance_cents, copy.balance_cents, copy.status) == (
            card.initial_balance_cents,
            card.balance_cents,
            card.status,
        )
        assert (copy.metadata, copy.reference, copy.created_at) == (
            card.metadata,
            card.reference,
            card.created_at,
        )

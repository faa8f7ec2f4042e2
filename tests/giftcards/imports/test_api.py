"""`/api/imports`: 1,000 cards in each input shape, through the API and a worker's run:
codes, balances, dates and ids kept, every card reconciled, the same import twice creating
nothing new, bad rows reported and the rest imported."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from clients.models import Client
from giftcards import codes
from giftcards.imports import jobs
from giftcards.models import BalanceLog, GiftCard, GiftCardRecipient, Import, OutboxEvent
from tests.giftcards.jsonapi.conftest import resource
from tests.giftcards.jsonapi.helpers import error

URL = "/api/imports"
# Seed 000's own example objects, verbatim (its ids are another system's).
SEED_CREATE = {
    "active": True,
    "amount": "25",
    "balanceAmount": "25",
    "businessId": 43111,
    "clientId": 5146945,
    "purchaseDate": 1681963200000,
    "status": "Active",
}
SEED_LISTED = {
    "active": True,
    "amount": 50,
    "balanceAmount": 40,
    "businessId": 43111,
    "clientId": 5147394,
    "createdDate": 1536852216871,
    "createdUser": "JoeSchmo",
    "expireDate": None,
    "giftCardUUId": "rSnVGKkHSGCYfalfOuae1g",
    "modifiedDate": 1538151178027,
    "modifiedUser": "JoeSchmo",
    "purchaseDate": 1536811200000,
    "status": "Active",
}


def code_for(number: int) -> str:
    """A distinct, strong code per row."""
    return codes.generate(__import__("random").Random(number))


def jsonapi_rows(count: int) -> list[dict]:
    return [
        {
            "code": code_for(n),
            "initial_balance_cents": 5_000,
            "balance_cents": 5_000 - n % 7 * 100,
            "expires_at": "2031-01-31T00:00:00Z",
            "purchase_date": "2024-03-01T10:00:00Z",
            "created_at": "2024-03-01T09:00:00Z",
            "reference": f"old-{n}",
            "reference_origin": "legacy",
        }
        for n in range(count)
    ]


def seed_rows(count: int) -> list[dict]:
    rows = []
    for n in range(count):
        row = dict(SEED_LISTED)
        row["giftCardUUId"] = f"{n:022d}".replace("0", "A")[:22]
        row["clientId"] = 7_000_000 + n % 50
        row["balanceAmount"] = 50 - n % 5
        rows.append(row)
    return rows


def start(api, inputs, resource_type="gift_cards", **attributes) -> dict:
    body = resource("imports", {"resource_type": resource_type, "inputs": inputs, **attributes})
    response = api.post(URL, body)
    assert response.status_code == 201, response.doc
    return response.doc["data"]


def finished(api, job_id) -> dict:
    jobs.drain()
    response = api.get(f"{URL}/{job_id}")
    assert response.status_code == 200, response.doc
    return response.doc["data"]["attributes"]


def reconciles() -> None:
    out = io.StringIO()
    call_command("reconcile_ledger", "--no-progress", stdout=out, stderr=io.StringIO())
    assert " 0 differ." in out.getvalue()


def test_a_thousand_cards_in_jsonapi_attributes_keep_code_balances_dates(api, tenant):
    rows = jsonapi_rows(1_000)

    job = start(api, rows, reference="migration-1")

    assert job["attributes"]["status"] == "pending"
    assert job["attributes"]["inputs_size"] == 1_000
    attrs = finished(api, job["id"])
    assert attrs["status"] == "completed", attrs
    assert (attrs["processed_count"], attrs["created_count"], attrs["errors_count"]) == (
        1_000,
        1_000,
        0,
    )
    assert attrs["started_at"] and attrs["completed_at"]
    cards = GiftCard.objects.for_tenant(tenant)
    assert cards.count() == 1_000
    card = cards.get(reference="old-3", reference_origin="legacy")
    assert card.code == rows[3]["code"]
    assert (card.initial_balance_cents, card.balance_cents) == (5_000, 4_700)
    assert card.created_at == datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert card.purchase_date == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert card.expires_at == datetime(2031, 1, 31, tzinfo=UTC)
    assert list(card.ledger.values_list("kind", "amount_cents")) == [
        ("issue", 5_000),
        ("pre_import", -300),
    ]
    reconciles()


def test_seed_000_objects_verbatim_keep_their_ids_and_clients(api, tenant, business):
    job = start(api, [SEED_CREATE, SEED_LISTED], metadata={"from": "timetap"})

    attrs = finished(api, job["id"])

    assert (attrs["created_count"], attrs["errors_count"]) == (2, 0), attrs
    listed = GiftCard.objects.get(pk="rSnVGKkHSGCYfalfOuae1g")
    assert listed.belongs_to(tenant)
    assert (listed.initial_balance_cents, listed.balance_cents) == (5_000, 4_000)
    assert listed.created_by == "JoeSchmo"
    # The old clientIds are the clients' references (ids are one sequence for every business).
    client = listed.client
    assert (client.reference, client.reference_origin) == ("5147394", "clientId")
    assert client.business_id == business.pk
    assert Client.objects.get(reference="5146945").business_id == business.pk
    assert listed.purchase_date == datetime.fromtimestamp(1536811200, UTC)
    reconciles()
    # The plain API reads them as the other system did, under the client's id here.
    plain = api_plain_get(api, f"/giftcards/client/{client.pk}")
    assert [(c["giftCardUUId"], c["amount"], c["balanceAmount"]) for c in plain] == [
        ("rSnVGKkHSGCYfalfOuae1g", 50, 40)
    ]
    # A later import finds the same clients by their old ids.
    again = dict(SEED_LISTED, giftCardUUId="zSnVGKkHSGCYfalfOuae1g")
    finished(api, start(api, [again])["id"])
    assert GiftCard.objects.get(pk="zSnVGKkHSGCYfalfOuae1g").client_id == client.pk
    assert Client.objects.filter(reference="5147394").count() == 1


def api_plain_get(api, path):
    from django.test import Client as HttpClient

    client = HttpClient(headers={"Authorization": f"Bearer {api.secret}"})
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_thousand_seed_000_rows_reconcile_and_find_or_make_their_clients(api, tenant):
    job = start(api, seed_rows(1_000))

    attrs = finished(api, job["id"])

    assert (attrs["created_count"], attrs["errors_count"]) == (1_000, 0), attrs["errors_log"]
    assert GiftCard.objects.for_tenant(tenant).count() == 1_000
    assert Client.objects.for_tenant(tenant).count() == 50
    reconciles()


def test_a_thousand_csv_rows(api, tenant):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "code",
            "balance_cents",
            "initial_balance_cents",
            "reference",
            "reference_origin",
            "single_use",
            "metadata",
        ]
    )
    for n in range(1_000):
        writer.writerow([code_for(n), 900, 1_000, f"c-{n}", "csv", "false", '{"n": 1}'])

    job = start(api, out.getvalue(), format="csv")

    attrs = finished(api, job["id"])
    assert (attrs["created_count"], attrs["errors_count"]) == (1_000, 0), attrs["errors_log"]
    card = GiftCard.objects.for_tenant(tenant).get(reference="c-5")
    assert card.code == code_for(5)
    assert (card.balance_cents, card.metadata) == (900, {"n": 1})
    reconciles()


def test_the_same_import_twice_creates_nothing_new(api, tenant):
    rows = jsonapi_rows(300) + seed_rows(200)
    first = finished(api, start(api, rows)["id"])
    before = (GiftCard.objects.count(), BalanceLog.objects.count(), Client.objects.count())

    second = finished(api, start(api, rows)["id"])

    assert first["created_count"] == 500
    assert (second["created_count"], second["skipped_count"]) == (0, 500)
    assert second["warnings_count"] == 500
    assert "Already imported" in second["warnings_log"]["0"][0]
    assert (GiftCard.objects.count(), BalanceLog.objects.count(), Client.objects.count()) == before


def test_rows_with_bad_values_are_reported_and_the_rest_imported(api, tenant):
    rows = jsonapi_rows(6)
    rows[1]["balance_cents"] = -5
    rows[2]["status"] = "lost"
    rows[3]["balance_cents"] = 9_999  # above what it was sold for
    rows[4]["colour"] = "red"
    rows.append("not an object")
    rows.append({"code": "AAAA-AAAA-AAAA-AAAA", "balance_cents": 100})  # a weak code

    attrs = finished(api, start(api, rows)["id"])

    assert (attrs["created_count"], attrs["errors_count"]) == (2, 6), attrs
    log = attrs["errors_log"]
    assert set(log) == {"1", "2", "3", "4", "6", "7"}
    assert "balance_cents" in log["1"][0]
    assert "status" in log["2"][0]
    assert "colour" in log["4"][0]
    assert "code" in log["7"][0]
    assert set(GiftCard.objects.values_list("reference", flat=True)) == {"old-0", "old-5"}
    reconciles()


def test_a_dry_run_reports_and_writes_nothing(api, tenant):
    rows = jsonapi_rows(300)
    rows[10]["balance_cents"] = "x"
    rows.append(dict(rows[0]))  # the same card twice
    before = (GiftCard.objects.count(), BalanceLog.objects.count(), OutboxEvent.objects.count())

    attrs = finished(api, start(api, rows, dry_run=True)["id"])

    assert attrs["status"] == "completed"
    assert (attrs["created_count"], attrs["skipped_count"], attrs["errors_count"]) == (
        299,
        1,
        1,
    )
    assert "row 0" in attrs["warnings_log"]["300"][0]
    assert (
        GiftCard.objects.count(),
        BalanceLog.objects.count(),
        OutboxEvent.objects.count(),
    ) == before


def test_recipients_are_imported_by_email(api, tenant):
    rows = [
        {"email": "ann@example.com", "first_name": "Ann"},
        {"email": "ANN@example.com"},
        {"email": "not an email"},
        {"email": "bob@example.com", "reference": "r-1", "reference_origin": "legacy"},
    ]

    attrs = finished(api, start(api, rows, resource_type="gift_card_recipients")["id"])

    assert (attrs["created_count"], attrs["skipped_count"], attrs["errors_count"]) == (2, 1, 1)
    assert sorted(GiftCardRecipient.objects.values_list("email", flat=True)) == [
        "ann@example.com",
        "bob@example.com",
    ]


def test_an_import_records_its_cards_events(api, tenant):
    rows = jsonapi_rows(2)
    before = OutboxEvent.objects.count()

    finished(api, start(api, rows)["id"])

    recorded = list(OutboxEvent.objects.order_by("id")[before:])
    assert [event.name for event in recorded] == ["gift_cards.create"] * 2
    spent = next(e for e in recorded if len(e.data["ledger_entries"]) == 2).data
    assert spent["imported"] is True
    assert [row["kind"] for row in spent["ledger_entries"]] == ["issue", "pre_import"]


def test_imports_are_listed_read_and_scoped_to_the_key(api, other_api, test_mode_api):
    job = start(api, jsonapi_rows(3), reference="mine")

    listed = api.get(URL)
    assert [row["id"] for row in listed.doc["data"]] == [job["id"]]
    assert "inputs" not in listed.doc["data"][0]["attributes"]
    shown = api.get(f"{URL}/{job['id']}", params={"fields[imports]": "inputs,status"})
    assert len(shown.doc["data"]["attributes"]["inputs"]) == 3
    assert other_api.get(f"{URL}/{job['id']}").status_code == 404
    assert other_api.get(URL).doc["data"] == []
    assert test_mode_api.get(f"{URL}/{job['id']}").status_code == 404
    assert (
        api.get(URL, params={"filter[q][reference_eq]": "mine"}).doc["data"][0]["id"] == (job["id"])
    )


def test_an_import_stops_when_interrupted_and_is_deleted_once_finished(api):
    job = start(api, jsonapi_rows(10))
    body = resource("imports", {"_interrupt": True}, id_=job["id"])

    assert error(api.delete(f"{URL}/{job['id']}"), 409)
    stopped = api.patch(f"{URL}/{job['id']}", body)

    assert stopped.status_code == 200, stopped.doc
    attrs = stopped.doc["data"]["attributes"]
    assert attrs["status"] == "interrupted" and attrs["interrupted_at"]
    jobs.drain()
    assert GiftCard.objects.count() == 0
    assert api.delete(f"{URL}/{job['id']}").status_code == 204


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"resource_type": "skus", "inputs": []}, "resource_type"),
        ({"resource_type": "gift_cards", "inputs": {"a": 1}}, "inputs"),
        ({"resource_type": "gift_cards", "format": "csv", "inputs": []}, "inputs"),
        ({"resource_type": "gift_cards", "format": "xml", "inputs": []}, "format"),
        ({"resource_type": "gift_cards"}, "inputs"),
        ({"resource_type": "gift_cards", "inputs": [{}] * 10_001}, "inputs"),
        ({"resource_type": "gift_cards", "inputs": [], "status": "completed"}, "status"),
    ],
)
def test_a_bad_import_is_a_400_naming_the_attribute(api, attributes, pointer):
    response = api.post(URL, resource("imports", attributes))

    status = 400 if pointer == "status" else 422  # read-only: refused before validation
    found = error(response, status) if len(response.doc["errors"]) == 1 else response.doc
    assert any(
        e.get("source", {}).get("pointer") == f"/data/attributes/{pointer}"
        for e in (response.doc["errors"])
    ), found
    assert not Import.objects.exists()


def test_a_large_import_body_is_taken_but_not_beyond_the_limit(api, settings):
    rows = seed_rows(1_000)
    assert len(json.dumps(rows)) > 256 * 1024  # more than the other routes take

    assert start(api, rows)["attributes"]["inputs_size"] == 1_000
    settings.IMPORTS_MAX_BODY_BYTES = 1_000
    assert error(
        api.post(URL, resource("imports", {"resource_type": "gift_cards", "inputs": rows})), 413
    )


def test_an_anonymous_large_body_is_refused_before_it_is_read(anonymous):
    rows = seed_rows(1_000)

    response = anonymous.post(
        URL, resource("imports", {"resource_type": "gift_cards", "inputs": rows})
    )

    assert response.status_code == 401


# ---------------------------------------------------------------------------- review findings


def test_an_old_client_id_never_moves_the_shared_id_sequence(api, tenant, business):
    row = {"amount": "25", "balanceAmount": "25", "status": "Active", "clientId": 2**63 - 1}

    attrs = finished(api, start(api, [row])["id"])

    assert attrs["created_count"] == 1, attrs["errors_log"]
    imported = Client.objects.get(reference=str(2**63 - 1))
    assert imported.pk != 2**63 - 1  # its id came from the sequence
    later = Client.objects.create(business=business, mode="live", first_name="Next")
    assert later.pk == imported.pk + 1


def test_a_row_of_an_unforeseen_shape_is_refused_and_the_rest_imported(api, tenant):
    rows = seed_rows(600)
    rows[300] = {"amount": "25", "balanceAmount": "25", "status": {"x": 1}}
    rows[301] = {"amount": "25", "balanceAmount": "25", "status": ["Active"]}

    attrs = finished(api, start(api, rows)["id"])

    assert attrs["status"] == "completed"
    assert (attrs["created_count"], attrs["errors_count"]) == (598, 2), attrs["errors_log"]
    assert "status" in attrs["errors_log"]["300"][0]


def test_a_csv_without_its_header_line_never_echoes_a_code(api):
    inputs = "K7QM-X2PD-9RTA-WF3H,5000\r\nAB7Q-M2PD-9RTA-WF3J,100\r\n"

    attrs = finished(api, start(api, inputs, format="csv")["id"])

    assert attrs["errors_count"] == 1
    assert "K7QM" not in json.dumps(attrs["errors_log"])
    assert "names are not shown" in attrs["errors_log"]["0"][0]


def test_a_csv_too_wide_to_read_is_a_400_not_a_500(api):
    inputs = "balance_cents,reference\r\n100," + "x" * 140_000 + "\r\n"

    response = api.post(
        URL, resource("imports", {"resource_type": "gift_cards", "format": "csv", "inputs": inputs})
    )

    found = error(response, 422)
    assert found["source"] == {"pointer": "/data/attributes/inputs"}


def test_a_csv_with_a_byte_order_mark_is_read(api, tenant):
    inputs = "\ufeffbalance_cents,reference,reference_origin\r\n100,bom-1,csv\r\n"

    attrs = finished(api, start(api, inputs, format="csv")["id"])

    assert (attrs["created_count"], attrs["errors_count"]) == (1, 0), attrs["errors_log"]


def test_a_reference_without_an_origin_is_kept(api, tenant):
    attrs = finished(api, start(api, [{"balance_cents": 700, "reference": "KEEP-ME"}])["id"])

    assert attrs["created_count"] == 1
    card = GiftCard.objects.for_tenant(tenant).get()
    assert (card.reference, card.reference_origin) == ("KEEP-ME", "import")


@pytest.mark.parametrize(
    "row",
    [
        {"balance_cents": 100, "metadata": {"a": "x\u0000y"}},
        {"balance_cents": 100, "metadata": {"x\u0000": 1}},
        {"amount": "25", "balanceAmount": "25", "giftCardUUId": "AAAAAAAAAA\u0000AAAAAAAAAAA"},
        {"amount": "25", "balanceAmount": "25", "giftCardUUId": "é" * 22},
    ],
)
def test_a_row_with_unstorable_text_or_a_bad_id_is_refused(tmp_path, business, row):
    path = tmp_path / "cards.json"
    path.write_text(json.dumps([row, {"balance_cents": 200}]))
    out = io.StringIO()

    call_command(
        "import_giftcards",
        str(path),
        "--business",
        str(business.pk),
        "--no-progress",
        stdout=out,
        stderr=io.StringIO(),
    )

    assert "1 created, 0 skipped, 1 refused" in out.getvalue(), out.getvalue()

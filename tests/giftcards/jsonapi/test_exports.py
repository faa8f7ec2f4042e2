"""`/api/exports`: files of the key's cards, recipients or ledger rows, filtered as the list
routes filter, written by a worker under a lease and downloaded through an expiring signed link
that opens for keys of the export's business and mode only."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.tenancy import Actor
from giftcards import catalogue, services
from giftcards.exports import services as export_services
from giftcards.exports import storage, tables, tasks, work, writers
from giftcards.models import BalanceLog, Export, GiftCard, JobStatus, new_public_id
from tests.giftcards.export_helpers import (
    file_rows,
    file_text,
    parse,
    run_export,
    stored_files,
    use_storage,
)
from tests.giftcards.jsonapi.conftest import assert_jsonapi_document, resource
from tests.giftcards.jsonapi.helpers import error

URL = "/api/exports"
CARD_COLUMNS = [
    "id",
    "code",
    "status",
    "currency_code",
    "initial_balance_cents",
    "balance_cents",
    "balance_max_cents",
    "single_use",
    "rechargeable",
    "distribute_discount",
    "image_url",
    "expires_at",
    "recipient_email",
    "reference",
    "reference_origin",
    "metadata",
    "created_at",
    "updated_at",
]
LEDGER_COLUMNS = [
    "id",
    "card_id",
    "code",
    "kind",
    "amount_cents",
    "balance_after_cents",
    "currency_code",
    "order_reference",
    "refund_of_id",
    "transfer_id",
    "actor_name",
    "note",
    "created_at",
]
RECIPIENT_COLUMNS = [
    "id",
    "email",
    "first_name",
    "last_name",
    "reference",
    "reference_origin",
    "metadata",
    "created_at",
    "updated_at",
]


@pytest.fixture(autouse=True)
def folder(settings, tmp_path):
    return use_storage(settings, tmp_path / "exports")


def create(api, **attributes):
    attributes.setdefault("resource_type", "gift_cards")
    return api.post(URL, resource("exports", attributes))


def created(api, **attributes) -> str:
    response = create(api, **attributes)
    assert response.status_code == 201, response.doc
    return response.doc["data"]["id"]


def made(api, **attributes) -> Export:
    """Created through the API and run by the worker."""
    return run_export(created(api, **attributes))


def link(api, export_id: str) -> str:
    response = api.get(f"{URL}/{export_id}")
    assert response.status_code == 200, response.doc
    return response.doc["data"]["attributes"]["attachment_url"]


def download(secret: str | None, url: str, **headers):
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    return Client().get(url, headers=headers)


def refusal(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/vnd.api+json"
    body = json.loads(response.content)
    assert_jsonapi_document(body)
    (only,) = body["errors"]
    assert only["status"] == str(status)
    return only


@pytest.fixture
def cards(make_card):
    """Three active cards, one inactive, one redeemed; and one deleted, never exported."""
    made_ = [
        make_card(reference=f"ref-{i}", metadata={"tier": "gold" if i % 2 else "silver"})
        for i in range(3)
    ]
    made_.append(make_card(status="inactive", reference="ref-inactive"))
    redeemed = make_card(balance_cents=1_000, reference="ref-redeemed")
    services.card_debit(card=redeemed, amount_cents=1_000, actor=Actor.system("till"))
    made_.append(GiftCard.objects.get(pk=redeemed.pk))
    deleted = make_card(reference="ref-deleted")
    services.card_soft_delete(card=deleted, actor=Actor.system("till"))
    return made_


# ---------------------------------------------------------------------------- creating


def test_an_export_is_created_pending_and_completed_by_the_worker(api, cards):
    response = create(api, resource_type="gift_cards", reference="nightly", metadata={"a": 1})

    assert response.status_code == 201, response.doc
    data = response.doc["data"]
    assert response["Location"] == data["links"]["self"]
    assert data["type"] == "exports" and data["meta"] == {"mode": "live"}
    attributes = data["attributes"]
    assert attributes["status"] == "pending"
    assert attributes["format"] == "csv" and attributes["filters"] == {}
    assert attributes["include_codes"] is False
    assert attributes["records_count"] is None and attributes["attachment_url"] is None
    assert (attributes["reference"], attributes["metadata"]) == ("nightly", {"a": 1})

    export = run_export(data["id"])

    shown = api.get(f"{URL}/{data['id']}").doc["data"]["attributes"]
    assert shown["status"] == "completed"
    assert shown["records_count"] == 5  # the deleted card is not exported
    assert shown["started_at"] and shown["completed_at"]
    assert export.expires_at == (export.completed_at + timedelta(hours=1)).replace(microsecond=0)
    assert shown["expires_at"] == export.expires_at.isoformat().replace("+00:00", "Z")
    assert shown["attachment_url"].startswith(f"http://testserver/api/exports/{data['id']}/")
    assert export.file_size == len(file_text(export).encode())


def test_the_worker_is_queued_after_the_commit_never_from_the_request_thread(
    api, monkeypatch, django_capture_on_commit_callbacks
):
    published = threading.Event()
    seen = {}

    def record(export_id, token):
        seen.update(id=export_id, token=token, thread=threading.current_thread().name)
        published.set()

    monkeypatch.setattr(tasks, "celery_queue", record)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        export_id = created(api)
    assert not published.is_set()

    for callback in callbacks:
        callback()

    assert published.wait(5)
    export = Export.objects.get(pk=export_id)
    assert (seen["id"], seen["token"]) == (export.pk, export.lease_token)
    assert seen["thread"] == "exports-announce"


def test_a_broker_that_fails_only_logs_and_leaves_the_export_to_the_sweep(api, monkeypatch, caplog):
    failed = threading.Event()

    def broken(export_id, token):
        failed.set()
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks, "celery_queue", broken)
    monkeypatch.setattr(tasks, "BROKER_BACKOFF", 0)
    export_id = created(api)
    tasks.announce(export_id, "some-token")  # as the commit would

    assert failed.wait(5)
    export = Export.objects.get(pk=export_id)
    Export.objects.filter(pk=export_id).update(leased_until=timezone.now() - timedelta(1))
    assert work.drain() == 1
    export.refresh_from_db()
    assert export.status == JobStatus.COMPLETED


def test_a_create_retried_with_its_idempotency_key_makes_one_export(api):
    body = resource("exports", {"resource_type": "balance_logs"})

    first = api.post(URL, body, **{"Idempotency-Key": "nightly-2025-03-01"})
    again = api.post(URL, body, **{"Idempotency-Key": "nightly-2025-03-01"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.doc["data"]["id"] == first.doc["data"]["id"]
    assert Export.objects.count() == 1


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"resource_type": "orders"}, "/data/attributes/resource_type"),
        ({"format": "xml"}, "/data/attributes/format"),
        ({"filters": ["status_eq"]}, "/data/attributes/filters"),
        ({"include_codes": "yes"}, "/data/attributes/include_codes"),
        ({"_interrupt": True}, "/data/attributes/_interrupt"),
        ({"status": "completed"}, "/data/attributes/status"),
    ],
)
def test_bad_attributes_are_400s_pointing_at_them(api, attributes, pointer):
    before = Export.objects.count()

    found = error(create(api, **attributes), 400 if "status" in attributes else 422)

    assert found["source"]["pointer"] == pointer
    assert Export.objects.count() == before


@pytest.mark.parametrize(
    ("resource_type", "filters", "says"),
    [
        ("gift_cards", {"colour_eq": "red"}, "'colour' cannot be filtered"),
        ("gift_cards", {"status_cont": "act"}, "not available for 'status'"),
        ("gift_cards", {"status_eq": "lost"}, "status_eq"),
        ("gift_cards", {"balance_cents_gt": "ten"}, "balance_cents_gt"),
        ("gift_cards", {"created_at_gt": "yesterday"}, "ISO 8601"),
        ("gift_cards", {"code_eq": "K7QM-X2PD-9RTA-WF3H"}, "do not filter by code"),
        ("gift_cards", {"code": "K7QM-X2PD-9RTA-WF3H"}, "do not filter by code"),
        ("gift_cards", {"status_eq": None}, "needs a value"),
        ("gift_cards", {"status_in": []}, "needs a value"),
        ("gift_cards", {"status": "active", "status_eq": "draft"}, "same filter"),
        ("gift_card_recipients", {"status_eq": "active"}, "'status' cannot be filtered"),
        ("balance_logs", {"kind_eq": "theft"}, "kind_eq"),
    ],
)
def test_an_unknown_predicate_or_bad_value_is_a_400_at_the_filters(
    api, resource_type, filters, says
):
    found = error(create(api, resource_type=resource_type, filters=filters), 422)

    assert (found["code"], found["meta"]["error"]) == ("VALIDATION_ERROR", "invalid_filter")
    assert found["source"]["pointer"] == "/data/attributes/filters"
    assert says in found["detail"]
    assert not Export.objects.exists()


def test_codes_are_only_included_in_exports_of_cards(api):
    found = error(create(api, resource_type="balance_logs", include_codes=True), 422)

    assert found["source"]["pointer"] == "/data/attributes/include_codes"


# ---------------------------------------------------------------------------- the rows


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_card_rows_hold_the_cards_with_masked_codes(api, cards, file_format):
    export = made(api, format=file_format)

    rows = file_rows(export)

    assert export.records_count == len(rows) == 5
    expected = GiftCard.objects.filter(pk__in=[card.pk for card in cards]).order_by(
        "created_at", "id"
    )
    assert [row["id"] for row in rows] == [card.pk for card in expected]
    assert list(rows[0]) == CARD_COLUMNS
    redeemed = next(row for row in rows if row["id"] == cards[4].pk)
    card = expected.get(pk=cards[4].pk)
    typed = {
        "code": f"****{card.code_last4}",
        "status": "redeemed",
        "currency_code": "USD",
        "initial_balance_cents": 1_000,
        "balance_cents": 0,
        "balance_max_cents": None,
        "single_use": False,
        "rechargeable": True,
        "reference": "ref-redeemed",
        "metadata": {},
        "created_at": card.created_at.isoformat().replace("+00:00", "Z"),
    }
    if file_format == "csv":
        typed.update(
            initial_balance_cents="1000",
            balance_cents="0",
            balance_max_cents="",
            single_use="false",
            rechargeable="true",
            metadata="{}",
        )
    assert {name: redeemed[name] for name in typed} == typed
    everything = file_text(export)
    assert all(card.code not in everything for card in cards)


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_ledger_rows_hold_every_balance_change_with_its_links(api, make_card, tenant, file_format):
    source, target = make_card(balance_cents=5_000), make_card(balance_cents=1_000)
    till = Actor.system("till")
    debit = services.card_debit(
        card=source, amount_cents=1_200, actor=till, order_reference="ord-1", note="=SUM(A1)"
    ).entry
    services.card_refund(payment=debit, amount_cents=200, actor=till, tenant=tenant)
    services.card_transfer(
        tenant=tenant, actor=till, source=source, target=target, amount_cents=500
    )
    deleted = make_card(balance_cents=300)
    services.card_soft_delete(card=deleted, actor=till)

    export = made(api, resource_type="balance_logs", format=file_format)
    rows = file_rows(export)

    ledger = list(BalanceLog.objects.order_by("created_at", "id").select_related("card"))
    assert export.records_count == len(rows) == len(ledger) == 7  # 3 issues, debit, ...
    assert list(rows[0]) == LEDGER_COLUMNS
    for row, entry in zip(rows, ledger, strict=True):
        expected = {
            "id": entry.pk,
            "card_id": entry.card_id,
            "code": f"****{entry.card.code_last4}",
            "kind": entry.kind,
            "amount_cents": entry.amount_cents,
            "balance_after_cents": entry.balance_after_cents,
            "currency_code": "USD",
            "order_reference": entry.order_reference,
            "refund_of_id": entry.refund_of_id,
            "transfer_id": entry.transfer_id,
            "actor_name": entry.actor_name,
            "note": entry.note,
            "created_at": entry.created_at.isoformat().replace("+00:00", "Z"),
        }
        if file_format == "csv":
            expected = {k: "" if v is None else str(v) for k, v in expected.items()}
            if entry.note.startswith("="):
                expected["note"] = "'" + entry.note  # never a spreadsheet formula
        assert row == expected
    kinds = [row["kind"] for row in rows]
    assert kinds == ["issue", "issue", "debit", "refund", "transfer_out", "transfer_in", "issue"]


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_recipient_rows_hold_their_attributes(api, tenant, file_format):
    actor = Actor.system("crm")
    for name in ("ada", "bob"):
        catalogue.recipient_create(
            tenant=tenant,
            actor=actor,
            email=f"{name}@example.com",
            first_name=name.title(),
            metadata={"vip": name == "ada"},
        )

    export = made(api, resource_type="gift_card_recipients", format=file_format)
    rows = file_rows(export)

    assert [row["email"] for row in rows] == ["ada@example.com", "bob@example.com"]
    assert list(rows[0]) == RECIPIENT_COLUMNS
    assert rows[0]["first_name"] == "Ada"
    assert rows[0]["metadata"] == ('{"vip":true}' if file_format == "csv" else {"vip": True})


def test_json_is_one_array_with_an_object_per_line(api, cards):
    export = made(api, format="json")

    lines = file_text(export).splitlines()

    assert lines[0] == "[" and lines[-1] == "]"
    assert len(lines) == 5 + 2


def test_an_export_with_nothing_to_hold_is_an_empty_file_of_its_format(api):
    csv_export, json_export = made(api), made(api, format="json")

    assert file_text(csv_export) == ",".join(CARD_COLUMNS) + "\r\n"
    assert file_text(json_export) == "[]\n"
    assert csv_export.records_count == json_export.records_count == 0


# ---------------------------------------------------------------------------- filters


def listed_ids(api, params: dict) -> list[str]:
    response = api.get("/api/gift_cards", {**params, "page[size]": 25})
    assert response.status_code == 200, response.doc
    return [card["id"] for card in response.doc["data"]]


def test_filters_select_the_rows_the_list_route_selects(api, cards):
    early = timezone.now() - timedelta(days=10)
    GiftCard.objects.filter(pk__in=[cards[0].pk, cards[3].pk]).update(created_at=early)
    since = (early + timedelta(days=1)).isoformat()
    cases = [
        ({"status_eq": "active"}, {"filter[q][status_eq]": "active"}),
        ({"status": "active"}, {"filter[status]": "active"}),
        ({"status_in": ["active", "redeemed"]}, {"filter[q][status_in]": "active,redeemed"}),
        ({"created_at_gt": since}, {"filter[q][created_at_gt]": since}),
        (
            {"created_at_lt": since, "status_not_eq": "inactive"},
            {"filter[q][created_at_lt]": since, "filter[q][status_not_eq]": "inactive"},
        ),
        ({"metadata_jcont": {"tier": "gold"}}, {"filter[q][metadata_jcont]": '{"tier":"gold"}'}),
        ({"balance_cents_gteq": 5_000}, {"filter[q][balance_cents_gteq]": "5000"}),
        ({"single_use_false": True}, {"filter[q][single_use_false]": "true"}),
        ({"reference_start": "ref-"}, {"filter[q][reference_start]": "ref-"}),
    ]
    for filters, params in cases:
        export = made(api, filters=filters)

        exported = [row["id"] for row in file_rows(export)]

        assert exported == listed_ids(api, params), filters
        assert exported, f"{filters} should select something"
    assert len({tuple(listed_ids(api, params)) for _, params in cases}) > 3


def test_a_ledger_export_filters_by_moment_and_kind(api, make_card):
    till = Actor.system("till")
    first = make_card(balance_cents=5_000)
    services.card_debit(card=first, amount_cents=100, actor=till, order_reference="early")
    between = timezone.now()
    second = make_card(balance_cents=5_000)
    services.card_debit(card=second, amount_cents=200, actor=till, order_reference="late")
    services.card_recharge(card=second, amount_cents=300, actor=till)

    export = made(
        api,
        resource_type="balance_logs",
        filters={"kind_in": ["debit", "recharge"], "created_at_gteq": between.isoformat()},
    )

    rows = file_rows(export)
    assert [(row["kind"], row["order_reference"]) for row in rows] == [
        ("debit", "late"),
        ("recharge", ""),
    ]
    assert {row["card_id"] for row in rows} == {second.pk}


# ---------------------------------------------------------------------------- codes


def test_full_codes_are_written_when_asked_for_and_recorded_as_a_reveal(
    api, api_key, cards, caplog
):
    caplog.set_level(logging.WARNING, logger="giftcards.audit")

    export = made(api, include_codes=True)
    url = link(api, export.pk)
    response = download(api_key[1], url)

    rows = file_rows(export)
    codes_by_id = {card.pk: GiftCard.objects.get(pk=card.pk).code for card in cards}
    assert {row["id"]: row["code"] for row in rows} == codes_by_id
    assert response.status_code == 200
    assert (export.include_codes, export.api_key_id, export.actor_name) == (
        True,
        api_key[0].pk,
        api_key[0].name,
    )
    audit = [r for r in caplog.records if r.name == "giftcards.audit"]
    assert [r.levelno for r in audit] == [logging.WARNING] * 3  # asked, written, downloaded
    said = " ".join(r.getMessage() for r in audit)
    assert export.pk in said and api_key[0].name in said
    assert not any(code in said or code.replace("-", "") in said for code in codes_by_id.values())


def test_an_export_without_codes_logs_no_reveal(api, cards, caplog):
    caplog.set_level(logging.WARNING, logger="giftcards.audit")

    made(api)

    assert not [r for r in caplog.records if r.name == "giftcards.audit"]


# ---------------------------------------------------------------------------- download


def test_the_link_streams_the_file_to_a_key_of_the_owning_business_and_mode(api, api_key, cards):
    export = made(api)

    response = download(api_key[1], link(api, export.pk), Accept="text/csv")

    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content).decode() == file_text(export)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (f'attachment; filename="gift_cards-{export.pk}.csv"')
    assert response["Cache-Control"] == "no-store"


def test_a_json_export_downloads_as_json(api, api_key, cards):
    export = made(api, format="json")

    response = download(api_key[1], link(api, export.pk))

    assert response["Content-Type"] == "application/json"
    assert len(parse("json", b"".join(response.streaming_content).decode())) == 5


def test_the_link_is_a_404_for_another_business_or_mode_and_a_401_without_a_key(
    api, other_api, test_mode_api, cards
):
    export = made(api)
    url = link(api, export.pk)

    for secret in (other_api.secret, test_mode_api.secret):
        found = refusal(download(secret, url), 404)
        assert "No exports resource" in found["detail"]
        assert other_api.get(f"{URL}/{export.pk}").status_code == 404
    refusal(download(None, url), 401)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"),
        lambda url: url.replace("expires=", "expires=9"),
        lambda url: url.split("&signature=")[0],
        lambda url: url.split("?")[0],
    ],
    ids=["signature", "expires", "no-signature", "no-parameters"],
)
def test_a_tampered_link_is_a_403(api, api_key, cards, tamper):
    export = made(api)

    found = refusal(download(api_key[1], tamper(link(api, export.pk))), 403)

    assert (found["code"], found["meta"]["error"]) == ("FORBIDDEN", "invalid_signature")


def test_a_link_for_another_export_is_a_403(api, api_key, cards):
    first, second = made(api), made(api, format="json")
    url = link(api, first.pk).replace(first.pk, second.pk)

    refusal(download(api_key[1], url), 403)


def test_unknown_query_parameters_on_a_link_are_400s(api, api_key, cards):
    export = made(api)

    found = refusal(download(api_key[1], link(api, export.pk) + "&include=tags"), 400)

    assert found["source"] == {"parameter": "include"}


def test_an_expired_link_is_gone(api, api_key, cards, monkeypatch):
    export = made(api)
    url = link(api, export.pk)
    ends = export.expires_at.replace(microsecond=0)

    monkeypatch.setattr(timezone, "now", lambda: ends - timedelta(seconds=1))
    assert download(api_key[1], url).status_code == 200
    monkeypatch.setattr(timezone, "now", lambda: ends)
    found = refusal(download(api_key[1], url), 410)

    assert (found["code"], found["title"]) == ("GONE", "Gone")
    assert found["meta"]["error"] == "link_expired"
    assert api.get(f"{URL}/{export.pk}").doc["data"]["attributes"]["attachment_url"] is None


def test_the_purge_removes_expired_files_and_their_links(api, api_key, cards, folder):
    kept, expired = made(api), made(api)
    url = link(api, expired.pk)
    Export.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert len(stored_files(folder)) == 2

    assert work.purge() == 1

    assert stored_files(folder) == [folder / kept.file_name]
    expired.refresh_from_db()
    assert expired.purged_at is not None
    assert api.get(f"{URL}/{expired.pk}").doc["data"]["attributes"]["attachment_url"] is None
    Export.objects.filter(pk=expired.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    assert refusal(download(api_key[1], url), 410)["meta"]["error"] == "link_expired"
    assert work.purge() == 0


def test_a_beat_schedule_runs_the_sweep_and_the_purge(settings):
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert {"giftcards.exports.tasks.sweep", "giftcards.exports.tasks.purge"} <= tasks_scheduled


# ---------------------------------------------------------------------------- the worker


def test_a_crash_mid_file_leaves_the_export_runnable_and_never_half_completed(
    api, cards, folder, monkeypatch
):
    export_id = created(api)

    def broken(table, out):
        writers.write_csv(tables.Table(table.columns, itertools.islice(table.rows, 2)), out)
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setitem(writers.WRITERS, "csv", broken)
        export = Export.objects.get(pk=export_id)
        with pytest.raises(OSError, match="disk full"):
            work.run(export.pk, export.lease_token)

    export.refresh_from_db()
    assert export.status == JobStatus.IN_PROGRESS
    assert (export.completed_at, export.records_count, export.file_name) == (None, None, "")
    assert stored_files(folder) == []
    assert api.get(f"{URL}/{export_id}").doc["data"]["attributes"]["attachment_url"] is None
    assert work.drain() == 0  # its lease still runs

    Export.objects.filter(pk=export_id).update(leased_until=timezone.now() - timedelta(1))
    assert work.drain() == 1

    export.refresh_from_db()
    assert (export.status, export.records_count) == (JobStatus.COMPLETED, 5)
    assert len(file_rows(export)) == 5


def test_an_export_whose_runs_keep_dying_is_given_up_not_retried_forever(
    api, cards, folder, monkeypatch, settings
):
    settings.BULK_JOB_MAX_ATTEMPTS = 2
    export_id = created(api)

    def broken(table, out):
        raise OSError("disk full")

    monkeypatch.setitem(writers.WRITERS, "csv", broken)
    for _ in range(2):
        Export.objects.filter(pk=export_id).update(leased_until=timezone.now() - timedelta(1))
        with pytest.raises(OSError, match="disk full"):
            work.drain()
    Export.objects.filter(pk=export_id).update(leased_until=timezone.now() - timedelta(1))

    assert work.drain() == 0  # given up instead of queued a third time

    export = Export.objects.get(pk=export_id)
    assert (export.status, export.attempts) == (JobStatus.INTERRUPTED, 2)
    assert export.interrupted_at is not None


def test_a_crash_after_storing_leaves_a_file_that_deleting_the_export_removes(
    api, cards, folder, monkeypatch
):
    export_id = created(api)
    real_put = storage.put

    def put_then_die(name, content):
        real_put(name, content)
        raise ConnectionError("database gone")

    with monkeypatch.context() as patched:
        patched.setattr(storage, "put", put_then_die)
        export = Export.objects.get(pk=export_id)
        with pytest.raises(ConnectionError):
            work.run(export.pk, export.lease_token)
    assert Export.objects.get(pk=export_id).status == JobStatus.IN_PROGRESS
    Export.objects.filter(pk=export_id).update(leased_until=timezone.now() - timedelta(1))
    work.drain()
    assert len(stored_files(folder)) == 2  # the dead run's file and the completed one

    assert api.delete(f"{URL}/{export_id}").status_code == 204

    assert stored_files(folder) == []


def test_a_message_delivered_twice_writes_once(api, cards, folder):
    export = Export.objects.get(pk=created(api))
    token = export.lease_token

    assert work.run(export.pk, token) == "completed"
    assert work.run(export.pk, token) == "not_held"
    assert len(stored_files(folder)) == 1


def test_a_run_that_lost_its_lease_stops_and_keeps_no_file(api, cards, folder, monkeypatch):
    monkeypatch.setattr(tables, "CHUNK_SIZE", 2)
    export = Export.objects.get(pk=created(api))
    real = writers.WRITERS["csv"]
    other_run = new_public_id()

    def taken_over_meanwhile(table, out):
        # A sweep gave the export to another run while this one stalled.
        Export.objects.filter(pk=export.pk).update(lease_token=other_run)
        return real(table, out)

    monkeypatch.setitem(writers.WRITERS, "csv", taken_over_meanwhile)

    assert work.run(export.pk, export.lease_token) == "lost"

    export.refresh_from_db()
    assert (export.status, export.lease_token) == (JobStatus.IN_PROGRESS, other_run)
    assert stored_files(folder) == []


def test_a_lost_message_is_queued_again_by_the_sweep_once_its_lease_runs_out(api, cards):
    export_id = created(api)
    assert work.drain() == 0  # the message may still come

    Export.objects.filter(pk=export_id).update(leased_until=timezone.now() - timedelta(1))
    assert work.drain() == 1

    assert Export.objects.get(pk=export_id).status == JobStatus.COMPLETED


def test_the_worker_costs_one_query_per_chunk_whatever_the_rows(api, make_card, monkeypatch):
    monkeypatch.setattr(tables, "CHUNK_SIZE", 5)

    def queries_of_a_run() -> int:
        export = Export.objects.get(pk=created(api))
        with CaptureQueriesContext(connection) as captured:
            assert work.run(export.pk, export.lease_token) == "completed"
        return len(captured.captured_queries)

    for _ in range(5):
        make_card()
    small = queries_of_a_run()
    for _ in range(20):
        make_card()
    large = queries_of_a_run()

    # take, read the export, the rows, a lease renewal per chunk, before storing, complete
    assert small <= 7, small
    assert large - small == 4  # 25 rows are 4 more chunks of 5 than 5 rows


# ---------------------------------------------------------------------------- interrupt, delete


def test_interrupt_stops_a_pending_export_and_its_worker(api, cards, folder):
    export = Export.objects.get(pk=created(api))
    body = resource("exports", {"_interrupt": True}, id_=export.pk)

    response = api.patch(f"{URL}/{export.pk}", body)

    assert response.status_code == 200, response.doc
    attributes = response.doc["data"]["attributes"]
    assert attributes["status"] == "interrupted" and attributes["interrupted_at"]
    assert work.run(export.pk, export.lease_token) == "not_held"
    assert stored_files(folder) == []


def test_interrupt_mid_run_keeps_no_file(api, cards, folder, monkeypatch):
    monkeypatch.setattr(tables, "CHUNK_SIZE", 2)
    export = Export.objects.get(pk=created(api))
    real = writers.WRITERS["csv"]

    def interrupted_meanwhile(table, out):
        export_services.export_interrupt(export=export, actor=Actor.system("api"))
        return real(table, out)

    monkeypatch.setitem(writers.WRITERS, "csv", interrupted_meanwhile)

    assert work.run(export.pk, export.lease_token) == "lost"

    export.refresh_from_db()
    assert export.status == JobStatus.INTERRUPTED and export.records_count is None
    assert stored_files(folder) == []


def test_a_finished_export_cannot_be_interrupted_and_nothing_else_changes(api, cards):
    export = made(api)
    path = f"{URL}/{export.pk}"

    found = error(api.patch(path, resource("exports", {"_interrupt": True}, id_=export.pk)), 422)
    assert (found["code"], found["source"]["pointer"]) == (
        "VALIDATION_ERROR",
        "/data/attributes/_interrupt",
    )
    assert found["meta"]["error"] == "export_finished"
    for attributes in ({"format": "json"}, {"_interrupt": False}, {"reference": "x"}):
        assert api.patch(path, resource("exports", attributes, id_=export.pk)).status_code == 422
    assert Export.objects.get(pk=export.pk).status == JobStatus.COMPLETED


def test_only_a_finished_export_is_deleted_and_its_file_with_it(api, cards, folder):
    pending = created(api)
    done = made(api)

    found = error(api.delete(f"{URL}/{pending}"), 409)
    assert (found["code"], found["meta"]["error"]) == ("CONFLICT", "export_not_finished")
    assert api.delete(f"{URL}/{done.pk}").status_code == 204

    assert not Export.objects.filter(pk=done.pk).exists()
    assert stored_files(folder) == []
    assert api.get(f"{URL}/{done.pk}").status_code == 404


# ---------------------------------------------------------------------------- listing


def test_exports_are_listed_filtered_and_sorted_per_business_and_mode(
    api, other_api, test_mode_api, cards
):
    csv_done = made(api)
    json_pending = created(api, format="json", resource_type="balance_logs")
    created(other_api)
    created(test_mode_api)

    everything = api.get(URL).doc
    assert [row["id"] for row in everything["data"]] == [csv_done.pk, json_pending]
    assert everything["meta"]["record_count"] == 2
    only = api.get(URL, {"filter[q][status_eq]": "completed"}).doc["data"]
    assert [row["id"] for row in only] == [csv_done.pk]
    ledger = api.get(URL, {"filter[resource_type]": "balance_logs"}).doc["data"]
    assert [row["id"] for row in ledger] == [json_pending]
    newest_first = api.get(URL, {"sort": "-created_at"}).doc["data"]
    assert [row["id"] for row in newest_first] == [json_pending, csv_done.pk]
    assert api.get(URL, {"filter[q][colour_eq]": "x"}).status_code == 400
    assert api.get(URL, {"sort": "file_name"}).status_code == 400


def test_a_list_of_exports_costs_the_same_queries_for_one_or_many(
    api, django_assert_max_num_queries
):
    made(api)
    with CaptureQueriesContext(connection) as captured:
        assert api.get(URL).status_code == 200
    one = len(captured)  # now: the log is cleared by the requests below
    for _ in range(9):
        made(api)

    with django_assert_max_num_queries(one):
        assert len(api.get(URL).doc["data"]) == 10

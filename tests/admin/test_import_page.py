"""The staff admin's imports: a manager uploads a file, sees a dry run's counts and reasons
before anything is written, and imports the same rows once; everyone who reads cards reads
the imports of their own business."""

from __future__ import annotations

import csv
import io
import json
import threading
import time

import pytest
from django.contrib.admin.utils import quote
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client as HttpClient
from django.urls import reverse

from clients.models import Client
from clients.tenancy import Actor
from giftcards.imports import jobs
from giftcards.models import BalanceLog, GiftCard, Import, OutboxEvent
from tests.giftcards.imports.test_api import SEED_LISTED, code_for, jsonapi_rows, seed_rows

UPLOAD = reverse("admin:giftcards_import_upload")
LIST = reverse("admin:giftcards_import_changelist")
CARDS = reverse("admin:giftcards_giftcard_changelist")
REFRESH = '<meta http-equiv="refresh" content="3">'
# The list's queries, measured at 8 on SQLite and PostgreSQL (the session, the user and its
# permissions, the counts, the page of imports with their businesses), plus one spare: a
# constant, whatever the number of imports on the page.
LIST_QUERIES = 9


def detail_url(job) -> str:
    return reverse("admin:giftcards_import_change", args=[quote(job.pk)])


def preview_url(job) -> str:
    return reverse("admin:giftcards_import_preview", args=[quote(job.pk)])


def confirm_url(job) -> str:
    return reverse("admin:giftcards_import_confirm", args=[quote(job.pk)])


def upload(client, name: str, content: str | bytes, **fields):
    data = content.encode() if isinstance(content, str) else content
    body = {"file": SimpleUploadedFile(name, data), "shape": "auto", "resource_type": "gift_cards"}
    return client.post(UPLOAD, {**body, **fields})


def written() -> tuple[int, int, int, int]:
    return (
        GiftCard.objects.count(),
        BalanceLog.objects.count(),
        OutboxEvent.objects.count(),
        Client.objects.count(),
    )


def the_preview() -> Import:
    return Import.objects.get(dry_run=True)


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.fixture
def viewer(make_staff):
    return make_staff("viewer")


@pytest.fixture
def mixed_rows(make_card):
    """Four rows: two new cards, one with a negative balance, one whose card exists."""
    rows = jsonapi_rows(4)
    rows[1]["balance_cents"] = -5
    make_card(code=rows[3]["code"])  # already here: the import skips it
    return rows


@pytest.fixture
def previewed(manager, login, mixed_rows):
    """A manager's client that uploaded the mixed file, and the preview page it was sent to."""
    client = login(manager)
    before = written()
    response = upload(client, "cards.json", json.dumps(mixed_rows))
    assert response.status_code == 302, response.content
    assert response["Location"] == preview_url(the_preview())
    return client, client.get(response["Location"]), before


# ---------------------------------------------------------------------------- the preview


def test_a_preview_of_a_mixed_file_writes_nothing_and_counts_each_kind_of_row(previewed):
    _, page, before = previewed
    html = page.content.decode()

    preview = the_preview()
    assert written() == before
    assert preview.status == "completed"
    assert (
        preview.inputs_size,
        preview.created_count,
        preview.skipped_count,
        preview.errors_count,
    ) == (4, 2, 1, 1)
    assert '<dd data-testid="import-created">2</dd>' in html
    assert '<dd data-testid="import-skipped">1</dd>' in html
    assert '<dd data-testid="import-refused">1</dd>' in html
    assert "<td>1</td><td>balance_cents:" in html  # the bad row and its reason
    assert "Already imported" in html  # the existing card's row, as a warning
    assert 'value="Import 2 rows"' in html
    assert REFRESH not in html
    assert not Import.objects.filter(dry_run=False).exists()


def test_the_preview_is_the_dry_run_of_an_import_recorded_with_its_file(previewed, manager):
    preview = the_preview()

    assert (preview.dry_run, preview.mode, preview.user, preview.actor_name) == (
        True,
        "live",
        manager,
        manager.username,
    )
    assert preview.reference == "cards.json"
    assert len(preview.inputs) == 4


# ---------------------------------------------------------------------------- confirming


def test_confirming_starts_one_import_of_the_same_rows_which_a_worker_completes(previewed):
    client, _, before = previewed
    preview = the_preview()

    response = client.post(confirm_url(preview))

    job = Import.objects.get(dry_run=False)
    assert response.status_code == 302
    assert response["Location"] == detail_url(job)
    assert job.inputs == preview.inputs
    assert job.status == "pending"
    assert written() == before  # the worker imports, not the request
    running = client.get(detail_url(job)).content.decode()
    assert REFRESH in running
    assert "0 of 4" in running

    jobs.drain()

    job.refresh_from_db()
    assert job.status == "completed"
    assert (job.created_count, job.skipped_count, job.errors_count) == (
        preview.created_count,
        preview.skipped_count,
        preview.errors_count,
    )
    assert GiftCard.objects.count() == before[0] + 2
    done = client.get(detail_url(job)).content.decode()
    assert REFRESH not in done
    assert '<dd data-testid="import-created">2</dd>' in done
    assert "<td>1</td><td>balance_cents:" in done
    assert "Started from" in done


def test_a_double_submit_starts_one_import(previewed):
    client, _, _ = previewed
    preview = the_preview()

    first = client.post(confirm_url(preview))
    second = client.post(confirm_url(preview))

    job = Import.objects.get(dry_run=False)
    assert first["Location"] == second["Location"] == detail_url(job)
    assert "already imported" in client.get(second["Location"]).content.decode()
    assert 'value="Import 2 rows"' not in client.get(preview_url(preview)).content.decode()


@pytest.mark.django_db(transaction=True)
def test_two_confirms_racing_on_two_connections_start_one_import(
    business, roles, make_staff, monkeypatch
):
    browser = HttpClient()
    browser.force_login(make_staff("manager"))
    upload(browser, "cards.json", json.dumps(jsonapi_rows(3)))
    preview = the_preview()
    cookie = browser.cookies["sessionid"].value
    start = jobs.start

    def start_slowly(**kwargs):  # widen the window in which the two requests overlap
        time.sleep(0.1)
        return start(**kwargs)

    monkeypatch.setattr(jobs, "start", start_slowly)
    answers = []

    def click():
        tab = HttpClient()
        tab.cookies["sessionid"] = cookie
        try:
            answers.append(tab.post(confirm_url(preview))["Location"])
        finally:
            connection.close()

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()

    job = Import.objects.get(dry_run=False)
    assert answers == [detail_url(job)] * 2


def test_confirming_is_a_post(previewed):
    client, _, _ = previewed

    assert client.get(confirm_url(the_preview())).status_code == 405
    assert not Import.objects.filter(dry_run=False).exists()


def test_a_preview_with_nothing_to_create_offers_no_import(manager, login, make_card):
    rows = jsonapi_rows(1)
    make_card(code=rows[0]["code"])
    client = login(manager)

    page = client.get(upload(client, "cards.json", json.dumps(rows))["Location"])
    refused = client.post(confirm_url(the_preview()))

    assert "Nothing to import" in page.content.decode()
    assert refused.status_code == 302
    assert not Import.objects.filter(dry_run=False).exists()


# ---------------------------------------------------------------------------- shapes


def test_a_csv_file_is_previewed_and_imported(manager, login, tenant):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["code", "balance_cents", "initial_balance_cents", "reference"])
    for n in range(3):
        writer.writerow([code_for(n), 900, 1_000, f"c-{n}"])
    writer.writerow([code_for(3), "lots", 1_000, "c-3"])
    client = login(manager)

    page = client.get(upload(client, "export.CSV", out.getvalue())["Location"])
    preview = the_preview()
    client.post(confirm_url(preview))
    jobs.drain()

    assert preview.format == "csv"
    assert (preview.created_count, preview.errors_count) == (3, 1)
    assert "<td>3</td><td>balance_cents:" in page.content.decode()
    card = GiftCard.objects.for_tenant(tenant).get(reference="c-1")
    assert (card.code, card.balance_cents) == (code_for(1), 900)


@pytest.mark.parametrize("shape", ["timetap", "auto"])
def test_a_seed_000_file_is_previewed_without_writing_its_clients(manager, login, shape):
    client = login(manager)
    before = written()

    upload(client, "timetap-export.json", json.dumps(seed_rows(5)), shape=shape)

    preview = the_preview()
    assert written() == before  # not even the clients its rows would make
    assert (preview.created_count, preview.errors_count) == (5, 0), preview.errors_log
    assert preview.metadata == ({"shape": "timetap"} if shape == "timetap" else {})
    client.post(confirm_url(preview))
    jobs.drain()
    assert GiftCard.objects.filter(pk=seed_rows(5)[2]["giftCardUUId"]).exists()
    # The old clientId is the client's reference (an input never sets an id).
    assert Client.objects.filter(reference=str(seed_rows(1)[0]["clientId"])).exists()


def test_a_timetap_file_with_another_shape_of_row_refuses_that_row(manager, login):
    client = login(manager)

    upload(client, "t.json", json.dumps([SEED_LISTED, jsonapi_rows(1)[0]]), shape="timetap")

    preview = the_preview()
    assert (preview.created_count, preview.errors_count) == (1, 1)


def test_recipients_are_previewed_too(manager, login):
    client = login(manager)
    rows = [{"email": "ann@example.com"}, {"email": "not an email"}]

    upload(client, "people.json", json.dumps(rows), resource_type="gift_card_recipients")

    preview = the_preview()
    assert (preview.resource_type, preview.created_count, preview.errors_count) == (
        "gift_card_recipients",
        1,
        1,
    )


# ---------------------------------------------------------------------------- form errors


@pytest.mark.parametrize(
    ("name", "content", "fields", "message"),
    [
        ("cards.json", "[{'code': 1}", {}, "not valid JSON"),
        ("cards.json", '{"code": "ABCD"}', {}, "JSON array"),
        ("cards.json", "[]", {}, "no rows"),
        ("cards.json", '[{"reference": NaN}]', {}, "not valid JSON"),
        ("cards.json", '[{"reference": "a\\u0000b"}]', {}, "NUL"),
        ("cards.json", '[{"balance_cents": 1e999}]', {}, "finite"),
        ("cards.json", b"\xff\xfe[]", {}, "not UTF-8"),
        ("cards.csv", "code,balance_cents\n", {}, "no rows"),
        ("cards.csv", "code\nab\x00cd\n", {}, "NUL"),
        ("cards.json", "[{}]", {"resource_type": "gift_card_recipients", "shape": "timetap"}, ""),
        ("cards.json", json.dumps([{}] * 10_001), {}, "At most 10000 rows"),
    ],
)
def test_a_file_that_cannot_be_read_is_a_form_error(manager, login, name, content, fields, message):
    response = upload(login(manager), name, content, **fields)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert message in response.content.decode()
    assert not Import.objects.exists()


def test_a_file_over_the_size_limit_is_a_form_error(manager, login, settings):
    settings.IMPORTS_MAX_BODY_BYTES = 1_000
    content = json.dumps(jsonapi_rows(10))
    assert len(content) > 1_000

    response = upload(login(manager), "cards.json", content)

    assert response.status_code == 200
    assert "at most 1000" in response.content.decode().replace("\xa0", " ")
    assert not Import.objects.exists()


# ---------------------------------------------------------------------------- who may


@pytest.fixture
def an_import(tenant):
    job = jobs.start(
        tenant=tenant,
        actor=Actor.system("api"),
        resource_type="gift_cards",
        inputs=[{"balance_cents": -5}],
    )
    jobs.drain()
    return job


def test_viewers_read_the_imports_but_cannot_import(viewer, login, an_import, previewed):
    client = login(viewer)

    listed = client.get(LIST)
    shown = client.get(detail_url(an_import))

    assert listed.status_code == 200
    assert an_import.pk in listed.content.decode()
    assert "Import cards" not in listed.content.decode()
    assert shown.status_code == 200
    assert "<td>0</td>" in shown.content.decode()  # its refused row
    assert "Import cards" not in client.get(CARDS).content.decode()
    assert client.get(UPLOAD).status_code == 403
    assert upload(client, "cards.json", "[{}]").status_code == 403
    assert client.get(preview_url(the_preview())).status_code == 403
    assert client.post(confirm_url(the_preview())).status_code == 403
    assert not Import.objects.filter(dry_run=False, user=viewer).exists()


def test_cashiers_cannot_import(make_staff, login):
    client = login(make_staff("cashier"))

    assert client.get(UPLOAD).status_code == 403
    assert "Import cards" not in client.get(CARDS).content.decode()


def test_managers_find_the_page_from_the_card_list_and_the_imports(manager, login):
    client = login(manager)

    assert f'href="{UPLOAD}"' in client.get(CARDS).content.decode()
    assert f'href="{UPLOAD}"' in client.get(LIST).content.decode()
    assert client.get(UPLOAD).status_code == 200


def test_imports_are_never_added_changed_or_deleted_here(manager, login, an_import):
    client = login(manager)

    assert client.get(reverse("admin:giftcards_import_add")).status_code == 403
    assert client.post(detail_url(an_import), {"status": "pending"}).status_code == 403
    delete = reverse("admin:giftcards_import_delete", args=[quote(an_import.pk)])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Import.objects.get(pk=an_import.pk).status == "completed"


def test_an_import_page_shows_the_first_50_errors_and_warnings_by_row(tenant, viewer, login):
    rows = jsonapi_rows(60)
    for row in rows:
        row["status"] = "lost"
    job = jobs.start(
        tenant=tenant, actor=Actor.system("api"), resource_type="gift_cards", inputs=rows
    )
    jobs.drain()

    html = login(viewer).get(detail_url(job)).content.decode()

    assert "Refused rows (the first 50 of 60)" in html
    assert "<td>49</td><td>status:" in html
    assert "<td>50</td>" not in html
    assert "Please correct" not in html  # a read-only page, no form error
    assert REFRESH not in html


def test_another_business_import_and_preview_are_404(make_staff, login, other_business, manager):
    b_manager = make_staff("manager", business=other_business, username="b-manager")
    b_client = login(b_manager)
    upload(b_client, "b.json", json.dumps(jsonapi_rows(2)))
    b_preview = the_preview()
    client = login(manager)

    assert client.get(detail_url(b_preview)).status_code == 404
    assert client.get(preview_url(b_preview)).status_code == 404
    assert client.post(confirm_url(b_preview)).status_code == 404
    assert b_preview.pk not in client.get(LIST).content.decode()
    assert not Import.objects.filter(dry_run=False).exists()


def test_another_managers_preview_is_theirs_to_confirm(make_staff, login, previewed):
    colleague = login(make_staff("manager", username="colleague"))

    assert colleague.get(detail_url(the_preview())).status_code == 200
    assert colleague.get(preview_url(the_preview())).status_code == 404
    assert colleague.post(confirm_url(the_preview())).status_code == 404
    assert not Import.objects.filter(dry_run=False).exists()


def test_a_staff_user_without_a_business_cannot_import(superuser, login):
    response = login(superuser).get(UPLOAD)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


# ---------------------------------------------------------------------------- the list


@pytest.mark.parametrize("count", [1, 30])
def test_the_list_reads_a_constant_number_of_queries(
    count, tenant, manager, login, django_assert_max_num_queries
):
    for n in range(count):
        jobs.start(
            tenant=tenant,
            actor=Actor.system("api"),
            resource_type="gift_cards",
            inputs=jsonapi_rows(2),
            reference=f"batch-{n}",
        )
    client = login(manager)

    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(LIST)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == count

"""Outages answer 503 with Retry-After in each part's own format, in DEBUG and in production,
logged on one line; unexpected errors on /api/ are JSON:API documents with status "500".

The database fails at the edge: every cursor of the connection raises, as psycopg does when
the server refuses or has dropped the connection."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import OperationalError, ProgrammingError, connection
from django.test import Client

from tests.giftcards.jsonapi.conftest import JsonApiClient
from tests.giftcards.plain_api.helpers import api_client

REFUSED = 'connection to server at "127.0.0.1", port 5432 failed: Connection refused'


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def fail_cursors():
    """fail_cursors(error): from then on every cursor of the connection raises `error`. Undone
    before the test database is rolled back (the `monkeypatch` fixture would be undone after)."""
    patch = pytest.MonkeyPatch()

    def fail(error: Exception) -> None:
        def cursor(*args, **kwargs):
            raise error

        patch.setattr(connection, "cursor", cursor)
        patch.setattr(connection, "chunked_cursor", cursor)

    yield fail
    patch.undo()


@pytest.fixture
def database_down(fail_cursors):
    return lambda: fail_cursors(OperationalError(REFUSED))


def outage_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def assert_one_line(caplog, text: str) -> None:
    (record,) = outage_records(caplog)
    assert record.getMessage().startswith(text), record.getMessage()
    assert "Connection refused" in record.getMessage()
    assert not record.exc_info


def test_jsonapi_answers_a_jsonapi_503(debug, api_key, database_down, caplog):
    api = JsonApiClient(api_key[1])  # validates the document against the JSON:API schema
    database_down()

    response = api.get("/api/gift_cards")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    (problem,) = response.doc["errors"]
    assert problem["status"] == "503"
    assert (problem["code"], problem["meta"]["error"]) == (
        "SERVICE_UNAVAILABLE",
        "service_unavailable",
    )
    assert problem["title"] == "Service unavailable"
    assert_one_line(caplog, "Database unavailable on GET /api/gift_cards")


def test_plain_api_answers_its_own_503(debug, api_key, database_down, caplog):
    api = api_client(api_key[1])
    database_down()

    response = api.post("/payments", {"giftCardUUId": "x" * 22, "amount": "1"}, format="json")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["errors"] == [
        {"field": None, "code": "service_unavailable", "message": body["detail"]}
    ]
    assert_one_line(caplog, "Database unavailable on POST /payments")


def test_the_balance_page_answers_an_html_503(debug, db, database_down, caplog):
    client = Client()
    database_down()

    response = client.post("/balance", {"code": "ABCD-EFGH-JKLM"})

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    assert "Temporarily unavailable" in response.content.decode()
    assert_one_line(caplog, "Database unavailable on POST /balance")


def test_the_admin_answers_an_html_503_when_its_middleware_meets_the_outage(
    debug, admin_user, database_down, caplog
):
    """The session and the user are loaded by middleware, before any view: Django turns that
    error into a 500 (the debug page in DEBUG) that the outage middleware replaces."""
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    database_down()

    response = client.get("/admin/")

    html = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Temporarily unavailable" in html
    assert "Traceback" not in html
    assert_one_line(caplog, "Database unavailable on /admin/")


def test_an_unexpected_error_on_the_jsonapi_is_a_jsonapi_500_in_production(
    settings, api_key, fail_cursors
):
    settings.DEBUG = False
    api = JsonApiClient(api_key[1])
    api.client.raise_request_exception = False
    fail_cursors(ProgrammingError("column gift_cards.nope does not exist"))

    response = api.get("/api/gift_cards")

    assert response.status_code == 500
    (problem,) = response.doc["errors"]
    assert problem["status"] == "500"
    assert (problem["code"], problem["meta"]["error"]) == ("INTERNAL_SERVER_ERROR", "server_error")
    assert "nope" not in json.dumps(response.doc)


def test_an_unexpected_error_elsewhere_keeps_its_format_in_production(
    settings, api_key, admin_user, fail_cursors
):
    settings.DEBUG = False
    plain = api_client(api_key[1])
    plain.raise_request_exception = False
    admin = Client(raise_request_exception=False)
    admin.force_login(admin_user)
    fail_cursors(ProgrammingError("column gift_cards.nope does not exist"))

    response = plain.get("/payments/giftCard/" + "x" * 22)
    page = admin.get("/admin/")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


# ---------------------------------------------------------------------------- admin pages


def test_the_admins_404_page_wears_the_admins_look(admin_user):
    staff = Client()
    staff.force_login(admin_user)

    response = staff.get("/admin/no-such-page/")

    assert response.status_code == 404
    names = [template.name for template in response.templates]
    assert "admin/404.html" in names and "admin/base_site.html" in names
    page = response.content.decode()
    assert 'id="header"' in page and "Page not found" in page
    assert 'class="gc-nav"' in page  # the staff menu of every admin page
    assert 'href="/admin/"' in page


def test_the_admins_500_page_wears_the_admins_look(settings, admin_user, fail_cursors):
    settings.DEBUG = False
    staff = Client(raise_request_exception=False)
    staff.force_login(admin_user)
    fail_cursors(ProgrammingError("column gift_cards.nope does not exist"))

    response = staff.get("/admin/")

    assert response.status_code == 500
    page = response.content.decode()
    assert 'id="header"' in page and "Server error" in page
    assert "nope" not in page
    assert "via email" not in page  # Django's own text promises mail nobody sends


def test_outside_the_admin_404s_keep_their_formats(api_key):
    plain = api_client(api_key[1])

    assert plain.get("/nowhere").json() == {"detail": "Not found."}
    assert plain.get("/api/nowhere").json()["errors"][0]["status"] == "404"
    balance = Client().get("/balance/nowhere")
    assert balance.status_code == 404
    assert 'id="header"' not in balance.content.decode()

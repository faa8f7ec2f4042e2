"""Every answer carries a request id (the caller's when sane, else a new one) and every log
line written while the request is handled carries the same id, as JSON lines when
LOG_FORMAT=json."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from django.test import Client as HttpClient

from giftcards_project.observability.logs import (
    JsonFormatter,
    PlainFormatter,
    RequestIdFilter,
    request_id,
)

NEW_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def log_lines():
    """What the root logger's handler writes, formatted as LOG_FORMAT=json formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_an_answer_carries_a_new_request_id(db):
    first = HttpClient().get("/healthz")
    second = HttpClient().get("/healthz")

    assert NEW_ID.match(first["X-Request-ID"])
    assert NEW_ID.match(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize(
    "sent",
    [
        "lb-7f3a9c",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "a.b:c_d-e",
        "x" * 200,
    ],
)
def test_a_sane_incoming_request_id_is_honoured(db, sent):
    response = HttpClient().get("/healthz", HTTP_X_REQUEST_ID=sent)

    assert response["X-Request-ID"] == sent


@pytest.mark.parametrize(
    "sent",
    [
        "x" * 201,  # too long
        "abc\x01def",  # a control character
        "abc\x1b[31mred",
        "two words",
        'quote"d',
        "a,b",
        "id=1;evil",
        "ünïcode",
        "",
    ],
)
def test_an_insane_incoming_request_id_is_replaced(db, sent):
    response = HttpClient().get("/healthz", HTTP_X_REQUEST_ID=sent)

    assert NEW_ID.match(response["X-Request-ID"])


def test_every_json_line_of_one_request_carries_its_id(redis_down, api, log_lines):
    """With the cache down, a lookup of an unknown card logs twice while it is handled: the
    throttle's warning (it fails open), then Django's log of the 404, written after the
    middleware has returned."""
    response = api.get("/giftcards/" + "A" * 22, HTTP_X_REQUEST_ID="probe-42")
    lines = log_lines()

    assert response.status_code == 404
    assert response["X-Request-ID"] == "probe-42"
    loggers = [line["logger"] for line in lines]
    assert "giftcards.outages" in loggers and "django.request" in loggers
    assert {line["request_id"] for line in lines} == {"probe-42"}
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= line.keys()


def test_a_generated_id_is_the_one_in_the_lines_and_the_header(redis_down, api, log_lines):
    response = api.get("/giftcards/" + "A" * 22, HTTP_X_REQUEST_ID="not sane")
    lines = log_lines()

    assert NEW_ID.match(response["X-Request-ID"])
    assert len(lines) >= 2
    assert {line["request_id"] for line in lines} == {response["X-Request-ID"]}


def test_no_id_outlives_its_request(db, log_lines):
    HttpClient().get("/readyz", HTTP_X_REQUEST_ID="gone-after")
    logging.getLogger("giftcards").warning("between requests")

    assert request_id.get() is None
    assert log_lines()[-1]["request_id"] is None


def test_json_lines_leave_out_the_request_object_and_redact_code_filters(log_lines):
    request_id.set("r-1")
    try:
        logging.getLogger("django.request").warning(
            "Not Found: %s",
            "/api/gift_cards?filter[code_eq]=K7QM-X2PD-9RTA-WF3H-NB6C",
            extra={"request": object(), "status_code": 404},
        )
    finally:
        request_id.set(None)
    (line,) = log_lines()

    assert "K7QM" not in json.dumps(line)
    assert line["message"] == "Not Found: /api/gift_cards?filter[code_eq]=[redacted]"
    assert line["status_code"] == 404
    assert "request" not in line


def test_plain_lines_show_the_id_after_the_logger_within_a_request():
    record = logging.LogRecord("giftcards", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "r-9"
    outside = logging.LogRecord("giftcards", logging.INFO, __file__, 1, "hello", None, None)
    outside.request_id = None

    assert PlainFormatter().format(record).endswith(" INFO giftcards [r-9] hello")
    assert PlainFormatter().format(outside).endswith(" INFO giftcards hello")

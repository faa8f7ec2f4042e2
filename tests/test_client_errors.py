"""A client's mistake or probe (a Host header not served, too many form fields, ...) is one
WARNING line naming it, never an ERROR with a traceback."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import SuspiciousOperation
from django.test import Client

from giftcards_project.client_errors import SUSPICIOUS_OPERATIONS


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def client_error_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("django.security", "django.request"))]


def assert_one_warning_line(caplog, logger: str, text: str) -> None:
    records = client_error_records(caplog)
    assert [r.name for r in records] == [logger], records
    (record,) = records
    assert record.levelno == logging.WARNING
    assert record.levelname == "WARNING"
    assert record.exc_info is None and record.exc_text is None
    line = logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)
    assert "\n" not in line and "Traceback" not in line
    assert text in line, line


@pytest.mark.django_db
def test_a_host_header_not_served_is_one_warning_line(caplog):
    with caplog.at_level(logging.INFO):
        response = Client().get("/healthz", headers={"host": "evil.example"})

    assert response.status_code == 400
    assert_one_warning_line(
        caplog, "django.security.DisallowedHost", "Invalid HTTP_HOST header: 'evil.example'"
    )


@pytest.mark.django_db
def test_too_many_form_fields_is_one_warning_line(caplog, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    body = "&".join(f"f{i}=1" for i in range(10))

    with caplog.at_level(logging.INFO):
        response = Client().post("/balance", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert_one_warning_line(
        caplog, "django.security.TooManyFieldsSent", "DATA_UPLOAD_MAX_NUMBER_FIELDS"
    )


def test_every_kind_of_suspicious_operation_has_its_logger_filtered():
    import django.contrib.admin.exceptions
    import django.contrib.sessions.exceptions  # noqa: F401 (their SuspiciousOperations)

    kinds = _subclasses(SuspiciousOperation) | {SuspiciousOperation}
    django_own = {cls.__name__ for cls in kinds if cls.__module__.startswith("django.")}
    assert django_own <= set(SUSPICIOUS_OPERATIONS)
    for name in SUSPICIOUS_OPERATIONS:
        filters = logging.getLogger(f"django.security.{name}").filters
        assert any(type(f).__name__ == "OneLineClientErrors" for f in filters), name


def test_a_suspicious_operation_a_view_raises_is_a_warning_too(caplog):
    """Whatever the kind: the base class's logger is filtered like its children's."""
    record = logging.LogRecord(
        "django.security.SuspiciousOperation", logging.ERROR, __file__, 1, "odd", None, None
    )
    record.status_code = 400
    logger = logging.getLogger("django.security.SuspiciousOperation")
    assert all(f.filter(record) for f in logger.filters)
    assert record.levelno == logging.WARNING

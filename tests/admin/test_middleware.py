"""giftcards.middleware: admin pages in the staff user's business's time zone, and refused
requests logged as one line instead of a traceback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.contrib.admin.utils import quote
from django.urls import reverse

from clients.services import business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.models import Status

# The end of 31 January 2031 in Tokyo (UTC+9) is 14:59:59 UTC that day.
TOKYO_END_OF_DAY = datetime(2031, 1, 31, 14, 59, 59, tzinfo=UTC)


@pytest.fixture
def tokyo(db):
    return business_create(name="Tokyo Tea", currency_code="JPY", timezone="Asia/Tokyo")


@pytest.fixture
def tokyo_card(tokyo):
    return services.card_issue(
        tenant=Tenant(business=tokyo, mode=Mode.LIVE),
        actor=Actor.system("tester"),
        balance_cents=5_000,
        status=Status.ACTIVE,
        expires_at=TOKYO_END_OF_DAY,
    )


def change_url(card):
    return reverse("admin:giftcards_giftcard_change", args=[quote(card.pk)])


def attribute_form(**values):
    return {
        "metadata": "{}",
        "rechargeable": "on",
        "distribute_discount": "on",
        "ledger-TOTAL_FORMS": "0",
        "ledger-INITIAL_FORMS": "0",
        **values,
    }


def test_the_middleware_runs_after_authentication():
    order = settings.MIDDLEWARE
    assert order.index("giftcards.middleware.BusinessTimezoneMiddleware") > order.index(
        "django.contrib.auth.middleware.AuthenticationMiddleware"
    )


def test_the_card_page_shows_expiry_in_the_business_zone(tokyo, tokyo_card, make_staff, login):
    manager = make_staff("manager", business=tokyo, username="tokyo-manager")

    response = login(manager).get(change_url(tokyo_card))

    html = response.content.decode()
    form = response.context["adminform"].form
    assert form["expires_at"].value().astimezone(tokyo.tzinfo).hour == 23
    assert 'name="expires_at_0" value="2031-01-31"' in html
    assert 'name="expires_at_1" value="23:59:59"' in html
    assert '2031-01-31 23:59 <span class="gc-zone">Asia/Tokyo</span>' in html
    assert "Date and time in Asia/Tokyo." in html


def test_expiry_typed_on_the_card_page_is_read_in_the_business_zone(
    tokyo, tokyo_card, make_staff, login
):
    manager = make_staff("manager", business=tokyo, username="tokyo-manager")

    login(manager).post(
        change_url(tokyo_card),
        attribute_form(expires_at_0="2031-02-01", expires_at_1="09:00:00"),
    )

    tokyo_card.refresh_from_db()
    assert tokyo_card.expires_at == datetime(2031, 2, 1, 0, 0, tzinfo=UTC)


def test_a_superuser_without_a_business_stays_in_utc(tokyo_card, superuser, login):
    html = login(superuser).get(change_url(tokyo_card)).content.decode()

    assert 'name="expires_at_1" value="14:59:59"' in html
    assert '<span class="gc-zone">UTC</span>' in html


@pytest.mark.parametrize(("path", "zone"), [("/healthz", "UTC"), ("/admin/", "Asia/Tokyo")])
def test_only_admin_pages_change_zone(path, zone, tokyo, make_staff):
    from django.test import RequestFactory
    from django.utils import timezone

    from giftcards.middleware import BusinessTimezoneMiddleware

    request = RequestFactory().get(path)
    request.user = make_staff("manager", business=tokyo, username="tokyo-manager")
    seen = []
    BusinessTimezoneMiddleware(lambda r: seen.append(timezone.get_current_timezone_name()))(request)

    assert seen == [zone]
    assert timezone.get_current_timezone_name() == "UTC"  # restored afterwards


# ---------------------------------------------------------------------------- logging


def test_a_403_is_logged_as_one_line_without_a_traceback(make_staff, login, make_card, caplog):
    card = make_card()
    cashier = login(make_staff("cashier"))
    url = reverse("admin:giftcards_giftcard_act", args=[quote(card.pk), "adjust"])

    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = cashier.post(url, {"new_balance": "1", "reason": "x"})

    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None and record.exc_text is None
    assert record.getMessage().startswith("Forbidden (Permission denied): /admin/")
    assert "PermissionDenied" in record.getMessage()
    assert "\n" not in logging.Formatter().format(record)


def test_a_server_error_keeps_its_traceback(caplog):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        with caplog.at_level(logging.ERROR, logger="django.request"):
            logging.getLogger("django.request").error(
                "Internal Server Error: %s",
                "/admin/",
                exc_info=True,
                extra={"status_code": 500},
            )

    record = caplog.records[-1]
    assert record.exc_info is not None
    assert "RuntimeError: boom" in logging.Formatter().format(record)

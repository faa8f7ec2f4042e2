"""Staff login lockout: repeated failures lock a username, and an address, across processes,
for a cool-off time; the right password does not get through a lock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client as HttpClient
from django.utils import timezone

from tests.admin.conftest import PASSWORD

LOGIN = "/admin/login/?next=/admin/"
WRONG = "not the password"


def attempt(username: str, password: str, address: str = "203.0.113.7"):
    """One login through the admin's form, from a fresh client (a new process, a new browser)."""
    client = HttpClient(REMOTE_ADDR=address)
    return client.post(LOGIN, {"username": username, "password": password})


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


def test_the_right_password_logs_in(manager):
    assert logged_in(attempt(manager.username, PASSWORD))


def test_five_failures_lock_the_username_even_for_the_right_password(manager, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(manager.username, WRONG).status_code == 200  # the form again
    assert attempt(manager.username, WRONG).status_code == 429  # the last one allowed

    locked = attempt(manager.username, PASSWORD, address="198.51.100.9")

    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()


def test_failures_from_one_address_lock_other_usernames_from_it(manager, make_staff, settings):
    other = make_staff("viewer", username="someone-else")
    for number in range(settings.AXES_FAILURE_LIMIT):
        attempt(f"guess-{number}", WRONG, address="192.0.2.50")

    assert attempt(other.username, PASSWORD, address="192.0.2.50").status_code == 429
    assert logged_in(attempt(other.username, PASSWORD, address="192.0.2.51"))


def test_an_ipv6_client_is_locked_across_its_slash_64(manager, settings):
    for number in range(settings.AXES_FAILURE_LIMIT):
        attempt(f"guess-{number}", WRONG, address=f"2001:db8:1:2::{number + 1:x}")

    assert attempt(manager.username, PASSWORD, address="2001:db8:1:2::ffff").status_code == 429
    assert logged_in(attempt(manager.username, PASSWORD, address="2001:db8:1:3::1"))


def test_fewer_failures_than_the_limit_then_success_resets_the_count(manager, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(manager.username, WRONG)
    assert logged_in(attempt(manager.username, PASSWORD))

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(manager.username, WRONG)
    assert logged_in(attempt(manager.username, PASSWORD))


def test_the_lock_lifts_after_the_cool_off(manager, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(manager.username, WRONG)
    assert attempt(manager.username, PASSWORD).status_code == 429

    # The cool-off passes: the failures now lie further back than it.
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )

    assert logged_in(attempt(manager.username, PASSWORD))


def test_the_lock_is_kept_in_the_database_for_every_process(manager, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(manager.username, WRONG)

    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"
    assert AccessAttempt.objects.filter(
        username=manager.username, failures_since_start__gte=settings.AXES_FAILURE_LIMIT
    ).exists()

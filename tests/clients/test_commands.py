"""create_business and create_api_key: what an operator types and what a script reads back."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from clients.models import ApiKey, Business, IdempotencyRecord

pytestmark = pytest.mark.django_db


def run(*args, **options) -> str:
    """The command's stdout; its chatter goes to stderr so scripts can read the last line."""
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue()


def last_line(output: str) -> str:
    return output.rstrip("\n").splitlines()[-1]


# ------------------------------------------------------------------ create_business


def test_create_business_prints_the_id_alone_on_the_last_line():
    output = run("create_business", "Corner Bakery")

    business = Business.objects.get()
    assert last_line(output) == str(business.pk)
    assert business.name == "Corner Bakery"
    assert (business.currency_code, business.locale, business.timezone) == ("USD", "en_US", "UTC")


def test_create_business_stores_currency_locale_and_timezone():
    output = run(
        "create_business",
        "Bäckerei Müller",
        "--currency=eur",
        "--locale=de_DE",
        "--timezone=Europe/Berlin",
    )

    business = Business.objects.get(pk=int(last_line(output)))
    assert business.name == "Bäckerei Müller"
    assert business.currency_code == "EUR"
    assert business.locale == "de_DE"
    assert business.timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--currency", "XYZ", "currency_code"),
        ("--currency", "DOLLARS", "currency_code"),
        ("--currency", "", "currency_code"),
        ("--locale", "xx_QQ", "locale"),
        ("--locale", "en-US-not-a-locale", "locale"),
        ("--timezone", "Mars/Olympus_Mons", "timezone"),
        ("--timezone", "", "timezone"),
    ],
)
def test_create_business_refuses_bad_settings_and_creates_nothing(option, value, named):
    with pytest.raises(CommandError) as raised:
        run("create_business", "Corner Bakery", f"{option}={value}")

    assert named in str(raised.value)
    assert not Business.objects.exists()


def test_create_business_refuses_a_blank_name():
    with pytest.raises(CommandError, match="name"):
        run("create_business", "   ")

    assert not Business.objects.exists()


def test_create_business_refuses_an_overlong_name():
    with pytest.raises(CommandError, match="name"):
        run("create_business", "x" * 201)

    assert not Business.objects.exists()


# ------------------------------------------------------------------ create_api_key


def test_create_api_key_prints_a_secret_that_authenticates_as_that_business(business):
    output = run("create_api_key", f"--business={business.pk}", "--name=till-2")

    secret = last_line(output)
    api_key = ApiKey.objects.get_from_key(secret)
    assert api_key.business == business
    assert api_key.mode == "live"
    assert api_key.name == "till-2"
    assert api_key.tenant.business == business
    assert ApiKey.objects.count() == 1


def test_create_api_key_in_test_mode(business):
    output = run("create_api_key", f"--business={business.pk}", "--name=sandbox", "--mode=test")

    api_key = ApiKey.objects.get_from_key(last_line(output))
    assert (api_key.business, api_key.mode) == (business, "test")


def test_create_api_key_secret_is_not_stored(business):
    secret = last_line(run("create_api_key", f"--business={business.pk}", "--name=till-2"))

    stored = ApiKey.objects.values().get()
    assert all(secret.partition(".")[2] not in str(value) for value in stored.values())


def test_create_api_key_for_unknown_business_is_refused(business):
    with pytest.raises(CommandError, match=str(business.pk + 1000)):
        run("create_api_key", f"--business={business.pk + 1000}", "--name=till-2")

    assert not ApiKey.objects.exists()


def test_create_api_key_refuses_an_unknown_mode(business):
    with pytest.raises(CommandError, match="mode"):
        run("create_api_key", f"--business={business.pk}", "--name=till-2", "--mode=prod")

    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 51])
def test_create_api_key_refuses_a_bad_name(business, name):
    with pytest.raises(CommandError, match="name"):
        run("create_api_key", f"--business={business.pk}", f"--name={name}")

    assert not ApiKey.objects.exists()


def test_create_api_key_requires_business_and_name():
    with pytest.raises(CommandError):
        run("create_api_key", "--name=till-2")
    with pytest.raises(CommandError):
        run("create_api_key", "--business=1")


# ------------------------------------------------------------------ purge_idempotency_records


def test_purge_keeps_recent_records_and_deletes_old_ones(api_key):
    def record(key: str, age_hours: int) -> None:
        row = IdempotencyRecord.objects.create(
            api_key=api_key[0],
            key=key,
            request_hash="h",
            status_code=201,
            response_body="{}",
            content_type="application/json",
        )
        created = timezone.now() - timedelta(hours=age_hours)
        IdempotencyRecord.objects.filter(pk=row.pk).update(created_at=created)

    record("fresh", 1)
    record("a-day", 25)
    record("old", 100)

    output = run("purge_idempotency_records")

    assert "Deleted 1 " in output
    assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"fresh", "a-day"}
    run("purge_idempotency_records", "--older-than-hours", "24")
    assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"fresh"}


def test_purge_refuses_to_forget_keys_younger_than_a_day():
    with pytest.raises(CommandError, match="at least 24 hours"):
        run("purge_idempotency_records", "--older-than-hours", "2")

"""giftcards.dates: the service accepts moments from 0001-01-02T00:00:00Z to
9999-12-31T00:00:00Z, the ones every time zone can show; outside it (or where a UTC offset
pushes a moment out of Python's datetimes) both APIs, their filters and the services answer
a precise 400 instead of an OverflowError."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone as django_timezone

from clients.services import api_key_create, business_create, client_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import dates, exceptions, services
from giftcards.models import GiftCard, Status
from tests.giftcards.jsonapi.conftest import JsonApiClient, resource
from tests.giftcards.jsonapi.helpers import error, patch_card
from tests.giftcards.plain_api.helpers import api_client, card_body

LATEST_MS = 253402214400000  # 9999-12-31T00:00:00Z
PYTHON_MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z


@pytest.fixture
def api(api_key):
    return JsonApiClient(api_key[1])


@pytest.fixture
def tokyo(db):
    return business_create(name="Tokyo Tea", currency_code="JPY", timezone="Asia/Tokyo")


@pytest.fixture
def tokyo_jsonapi(tokyo):
    return JsonApiClient(api_key_create(business=tokyo, name="t", mode=Mode.LIVE)[1])


def zone_business(zone: str):
    return business_create(name=f"Shop in {zone}", currency_code="USD", timezone=zone)


def plain_client_of(business):
    api = api_client(api_key_create(business=business, name="p", mode=Mode.LIVE)[1])
    customer = client_create(
        tenant=Tenant(business=business, mode=Mode.LIVE),
        actor=Actor.system("t"),
        first_name="A",
        last_name="B",
    )
    return api, customer


# ---------------------------------------------------------------------------- the range


def test_every_zone_can_show_both_ends_of_the_range_and_the_moment_before_them():
    one = dt.timedelta(microseconds=1)
    for name in zoneinfo.available_timezones():
        zone = zoneinfo.ZoneInfo(name)
        for moment in (dates.EARLIEST, dates.EARLIEST - one, dates.LATEST, dates.LATEST - one):
            moment.astimezone(zone).date()  # raises OverflowError if not


@pytest.mark.parametrize(
    "moment,accepted",
    [
        (dates.EARLIEST, True),
        (dates.EARLIEST - dt.timedelta(microseconds=1), False),
        (dates.LATEST, True),
        (dates.LATEST + dt.timedelta(microseconds=1), False),
        (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone(-dt.timedelta(hours=23))), False),
        (dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=23, minutes=59))), False),
        (dt.datetime(9999, 12, 31, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))), True),
        (dt.datetime(2030, 1, 1), True),
    ],
)
def test_in_range(moment, accepted):
    assert dates.in_range(moment) is accepted


# ---------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    "parameter,value",
    [
        ("filter[q][created_at_lt]", "9999-12-31T23:59:59-23:59"),
        ("filter[q][expires_at_gt]", "0001-01-01T00:00:00+23:59"),
        ("filter[q][updated_at_gteq]", "9999-12-31T23:59:59-01:00"),
        ("filter[q][created_at_gt]", "0001-01-01"),
        ("filter[q][created_at_lteq]", "9999-12-31T12:00:00Z"),
        ("filter[q][expires_at_in]", "2030-01-01T00:00:00Z,9999-12-31T23:59:59-23:59"),
        ("filter[created_at]", "0001-01-01T00:00:00+23:59"),
    ],
)
def test_a_datetime_filter_outside_the_range_is_a_400(api, make_card, parameter, value):
    make_card()

    response = api.get("/api/gift_cards", params={parameter: value})

    found = error(response, 400)
    assert found["source"] == {"parameter": parameter}
    assert dates.RANGE_TEXT in found["detail"]


@pytest.mark.parametrize("path", ["/api/gift_card_recipients", "/api/markets", "/api/tags"])
def test_other_resources_refuse_such_filters_too(api, path):
    response = api.get(path, params={"filter[q][created_at_gt]": "0001-01-01T00:00:00+23:59"})

    assert error(response, 400)["source"] == {"parameter": "filter[q][created_at_gt]"}


def test_filters_at_the_ends_of_the_range_are_accepted(api, make_card):
    make_card()
    low, high = "0001-01-02T00:00:00Z", "9999-12-31T09:00:00+09:00"

    response = api.get(
        "/api/gift_cards",
        params={"filter[q][created_at_gteq]": low, "filter[q][created_at_lteq]": high},
    )

    assert response.status_code == 200
    assert len(response.doc["data"]) == 1


# ---------------------------------------------------------------------------- JSON:API


@pytest.mark.parametrize(
    "expires_at",
    [
        "9999-12-31T23:00:00Z",
        "9999-12-31T00:00:00.000001Z",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T23:59:59Z",
        "0001-01-01T00:00:00+23:59",
    ],
)
def test_a_jsonapi_expiry_outside_the_range_is_a_400(tokyo_jsonapi, expires_at):
    document = resource("gift_cards", {"balance_cents": 100, "expires_at": expires_at})

    response = tokyo_jsonapi.post("/api/gift_cards", document)

    found = error(response, 422)
    assert found["source"] == {"pointer": "/data/attributes/expires_at"}
    assert dates.RANGE_TEXT in found["detail"]
    assert GiftCard.objects.count() == 0


def test_a_jsonapi_update_to_an_expiry_outside_the_range_changes_nothing(tokyo_jsonapi):
    created = tokyo_jsonapi.post("/api/gift_cards", resource("gift_cards", {"balance_cents": 1}))
    card_id = created.doc["data"]["id"]

    response = patch_card(tokyo_jsonapi, card_id, {"expires_at": "9999-12-31T23:00:00Z"})

    assert error(response, 422)["source"] == {"pointer": "/data/attributes/expires_at"}
    assert GiftCard.objects.get(pk=card_id).expires_at is None


def test_a_jsonapi_expiry_at_the_end_of_the_range_is_shown_by_both_apis(tokyo, tokyo_jsonapi):
    document = resource("gift_cards", {"balance_cents": 100, "expires_at": "9999-12-31T00:00:00Z"})

    created = tokyo_jsonapi.post("/api/gift_cards", document)

    assert created.status_code == 201, created.doc
    assert created.doc["data"]["attributes"]["expires_at"] == "9999-12-31T00:00:00Z"
    plain, _ = plain_client_of(tokyo)
    shown = plain.get(f"/giftcards/{created.doc['data']['id']}")
    assert shown.status_code == 200
    assert shown.json()["expireDate"] == "9999-12-31"


# ---------------------------------------------------------------------------- plain API


def fields_named(body: dict) -> list[str]:
    """The fields a plain error body names: DRF's keys, each repeated with its code in `errors`."""
    fields = [key for key in body if key != "errors"]
    assert sorted({error["field"] for error in body["errors"]}) == sorted(fields), body
    assert all(error["code"] for error in body["errors"]), body
    return fields


@pytest.mark.parametrize(
    "zone,expire_date",
    [
        ("Asia/Tokyo", PYTHON_MAX_MS),
        ("Asia/Tokyo", LATEST_MS + 1),
        ("UTC", PYTHON_MAX_MS),
        ("Pacific/Honolulu", "9999-12-30"),
        ("UTC", "9999-12-31"),
        ("Pacific/Kiritimati", LATEST_MS),
        ("Asia/Tokyo", "0001-01-01"),
    ],
)
def test_a_plain_expiry_outside_the_range_is_a_400(db, zone, expire_date):
    api, customer = plain_client_of(zone_business(zone))

    response = api.post("/giftcards", card_body(customer, expireDate=expire_date), format="json")

    assert response.status_code == 400, response.content
    assert fields_named(response.json()) == ["expireDate"]
    assert GiftCard.objects.count() == 0


@pytest.mark.parametrize("field", ["purchaseDate"])
def test_a_plain_moment_after_the_range_is_a_400(field, db):
    api, customer = plain_client_of(zone_business("Asia/Tokyo"))

    response = api.post("/giftcards", card_body(customer, **{field: PYTHON_MAX_MS}), format="json")

    assert response.status_code == 400
    assert fields_named(response.json()) == [field]


def test_a_payment_date_after_the_range_is_a_400(db):
    business = zone_business("Asia/Tokyo")
    api, customer = plain_client_of(business)
    card = api.post("/giftcards", card_body(customer), format="json").json()

    response = api.post(
        "/payments",
        {"giftCardUUId": card["giftCardUUId"], "amount": "1", "paymentDate": PYTHON_MAX_MS},
        format="json",
    )

    assert response.status_code == 400
    assert fields_named(response.json()) == ["paymentDate"]


@pytest.mark.parametrize(
    "zone,expire_date,status,shown",
    [
        ("UTC", "9999-12-30", "Active", "9999-12-30"),
        ("Asia/Tokyo", "9999-12-30", "Active", "9999-12-30"),
        ("Pacific/Kiritimati", LATEST_MS - 15 * 3_600_000, "Active", "9999-12-30"),
        ("Asia/Tokyo", "2000-01-01", "Expired", "2000-01-01"),
    ],
)
def test_plain_expiries_inside_the_range_are_kept_and_shown(db, zone, expire_date, status, shown):
    api, customer = plain_client_of(zone_business(zone))
    body = card_body(customer, expireDate=expire_date, status=status)

    created = api.post("/giftcards", body, format="json")

    assert created.status_code == 201, created.content
    card_id = created.json()["giftCardUUId"]
    assert api.get(f"/giftcards/{card_id}").json()["expireDate"] == shown


# ---------------------------------------------------------------------------- services


@pytest.mark.parametrize("name", ["expires_at", "purchase_date"])
def test_the_services_refuse_moments_outside_the_range(tenant, actor, make_card, name):
    beyond = dt.datetime(9999, 12, 31, 23, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))

    with pytest.raises(exceptions.InvalidValue) as issued:
        services.card_issue(
            tenant=tenant, actor=actor, balance_cents=1, status=Status.ACTIVE, **{name: beyond}
        )
    card = make_card()
    before = getattr(card, name)
    with pytest.raises(exceptions.InvalidValue) as updated:
        services.card_update(card=card, actor=actor, **{name: dates.EARLIEST - dt.timedelta(1)})

    assert issued.value.subject == updated.value.subject == name
    assert GiftCard.objects.count() == 1
    card.refresh_from_db()
    assert getattr(card, name) == before


def test_staff_pages_write_a_moment_with_its_zone():
    moment = dt.datetime(2026, 12, 7, 10, 4, 30, tzinfo=dt.UTC)

    assert dates.moment(moment) == "2026-12-07 10:04 UTC"
    with django_timezone.override("Europe/Berlin"):
        assert dates.moment(moment) == "2026-12-07 11:04 CET"
        assert dates.moment(moment, seconds=True) == "2026-12-07 11:04:30 CET"
    assert dates.moment(moment.replace(month=7)) == "2026-07-07 10:04 UTC"
    summer = dates.moment(moment.replace(month=7), zoneinfo.ZoneInfo("Europe/Berlin"))
    assert summer == "2026-07-07 12:04 CEST"
    assert dates.moment(dt.datetime(1, 1, 2, tzinfo=dt.UTC)) == "0001-01-02 00:00 UTC"
    assert dates.moment(None) == "—"

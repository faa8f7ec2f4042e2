"""Plain API gift cards: the seed's request and object, create, read, update, soft delete,
expiry in the business's time zone, and the ledger rows each call writes."""

from __future__ import annotations

import datetime as dt
import re
import time
import zoneinfo

import pytest
from rest_framework.test import APIClient

from clients.services import api_key_create, business_create, client_create
from clients.tenancy import Mode, Tenant
from giftcards import services
from giftcards.models import BalanceLog, GiftCard, Status
from tests.giftcards.plain_api.helpers import api_client, balance, card_body, ledger, snapshot

# The seed's own POST /giftcards request example, byte for byte; only its ids are replaced.
SEED_REQUEST = """{
    "active": true,
    "amount": "25",
    "balanceAmount": "25",
    "businessId": 43111,
    "clientId": 5146945,
    "purchaseDate": 1681963200000,
    "status": "Active"
}"""
SEED_FIELDS = {
    "active",
    "amount",
    "balanceAmount",
    "businessId",
    "clientId",
    "createdDate",
    "createdUser",
    "expireDate",
    "giftCardUUId",
    "modifiedDate",
    "modifiedUser",
    "purchaseDate",
    "status",
}
PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def now_ms() -> int:
    return int(time.time() * 1000)


def update(api, card: dict, **changes):
    """POST /giftcards with the card as a GET returned it, plus `changes`."""
    return api.post("/giftcards", {**card, **changes}, format="json")


def pay(api, card_id: str, amount="5"):
    return api.post("/payments", {"giftCardUUId": card_id, "amount": amount}, format="json")


# ---------------------------------------------------------------------------- create


def test_seed_request_example_creates_a_card_shaped_like_the_seed_object(api, customer):
    body = SEED_REQUEST.replace("43111", str(customer.business_id)).replace(
        "5146945", str(customer.pk)
    )
    before = now_ms()

    response = api.post("/giftcards", body, content_type="application/json")

    assert response.status_code == 201, response.content
    card = response.json()
    assert set(card) == SEED_FIELDS
    assert card["active"] is True
    assert card["amount"] == 25 and type(card["amount"]) is int
    assert card["balanceAmount"] == 25 and type(card["balanceAmount"]) is int
    assert card["businessId"] == customer.business_id and type(card["businessId"]) is int
    assert card["clientId"] == customer.pk and type(card["clientId"]) is int
    for date_field in ("createdDate", "modifiedDate"):
        assert type(card[date_field]) is int
        assert before - 1000 <= card[date_field] <= now_ms() + 1000
    assert card["purchaseDate"] == 1681963200000
    assert card["createdUser"] == card["modifiedUser"] == "pos-1"
    assert card["expireDate"] is None
    assert isinstance(card["giftCardUUId"], str) and PUBLIC_ID.match(card["giftCardUUId"])
    assert card["status"] == "Active"
    # Purchased and activated at once: the plain API has no draft.
    stored = GiftCard.objects.get(pk=card["giftCardUUId"])
    assert stored.status == Status.ACTIVE
    assert (stored.initial_balance_cents, stored.balance_cents) == (2500, 2500)
    assert ledger(card["giftCardUUId"]) == [("issue", 2500)]


def test_created_user_is_the_api_key_name_whatever_the_body_says(api, customer):
    body = card_body(customer, createdUser="Mallory", modifiedUser="Mallory")

    response = api.post("/giftcards", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["createdUser"] == "pos-1"
    assert response.json()["modifiedUser"] == "pos-1"
    assert GiftCard.objects.get(pk=response.json()["giftCardUUId"]).created_by == "pos-1"


def test_expire_date_is_a_yyyy_mm_dd_string_when_set(create_card):
    card = create_card(expireDate="2031-01-31")

    assert card["expireDate"] == "2031-01-31"


def test_fractional_amounts_are_numbers_in_major_units(create_card):
    card = create_card(amount="25.5", balanceAmount=25.5)

    assert card["amount"] == 25.5 and card["balanceAmount"] == 25.5
    assert ledger(card["giftCardUUId"]) == [("issue", 2550)]


def test_balance_above_amount_on_create_is_refused(api, customer):
    before = snapshot()

    response = api.post(
        "/giftcards", card_body(customer, amount="25", balanceAmount="25.01"), format="json"
    )

    assert response.status_code == 400
    assert "balanceAmount" in response.json()
    assert snapshot() == before


def test_create_with_balance_below_amount_writes_issue_and_adjustment(create_card):
    card = create_card(amount=50, balanceAmount=40)

    assert (card["amount"], card["balanceAmount"]) == (50, 40)
    assert ledger(card["giftCardUUId"]) == [("issue", 5000), ("adjustment", -1000)]
    assert balance(card["giftCardUUId"]) == 4000


# ---------------------------------------------------------------------------- read


def test_get_returns_the_card_as_created(api, create_card):
    card = create_card()

    response = api.get(f"/giftcards/{card['giftCardUUId']}")

    assert response.status_code == 200
    assert response.json() == card


@pytest.mark.parametrize("slash", ["", "/"])
def test_paths_work_with_and_without_trailing_slash(api, customer, slash):
    created = api.post(f"/giftcards{slash}", card_body(customer), format="json")
    assert created.status_code == 201, created.content
    card_id = created.json()["giftCardUUId"]

    assert api.get(f"/giftcards/{card_id}{slash}").status_code == 200
    assert api.get(f"/giftcards/client/{customer.pk}{slash}").status_code == 200
    assert api.get(f"/clients{slash}").status_code == 200
    assert api.get(f"/clients/{customer.pk}{slash}").status_code == 200
    paid = api.post(f"/payments{slash}", {"giftCardUUId": card_id, "amount": 5}, format="json")
    assert paid.status_code == 201, paid.content
    assert api.get(f"/payments/giftCard/{card_id}{slash}").status_code == 200
    assert api.delete(f"/payments/{paid.json()['paymentId']}{slash}").status_code == 200
    assert api.delete(f"/giftcards/{card_id}{slash}").status_code == 200


def test_client_list_has_only_that_clients_cards_oldest_first(api, create_card, tenant, actor):
    someone_else = client_create(tenant=tenant, actor=actor, first_name="Zed", last_name="Z")
    first = create_card(amount=10, balanceAmount=10)
    create_card(client=someone_else)
    second = create_card(amount=20, balanceAmount=20)

    response = api.get(f"/giftcards/client/{first['clientId']}")

    assert response.status_code == 200
    assert [c["giftCardUUId"] for c in response.json()] == [
        first["giftCardUUId"],
        second["giftCardUUId"],
    ]


# ---------------------------------------------------------------------------- update


def test_update_without_balance_change_writes_no_ledger_row(api, create_card):
    card = create_card()

    response = update(api, card, purchaseDate=1690000000000)

    assert response.status_code == 200, response.content
    assert response.json()["purchaseDate"] == 1690000000000
    assert response.json()["balanceAmount"] == 25
    assert response.json()["giftCardUUId"] == card["giftCardUUId"]
    assert ledger(card["giftCardUUId"]) == [("issue", 2500)]
    assert GiftCard.objects.count() == 1


def test_update_echoing_a_get_response_verbatim_changes_nothing(api, create_card):
    card = create_card()
    got = api.get(f"/giftcards/{card['giftCardUUId']}").json()

    response = api.post("/giftcards", got, format="json")

    assert response.status_code == 200, response.content
    assert ledger(card["giftCardUUId"]) == [("issue", 2500)]
    assert response.json()["balanceAmount"] == 25


def test_update_with_balance_change_writes_one_adjustment_for_the_difference(api, create_card):
    card = create_card()

    lower = update(api, card, balanceAmount="20.25")
    higher = update(api, card, balanceAmount=30)

    assert lower.status_code == 200, lower.content
    assert lower.json()["balanceAmount"] == 20.25
    assert lower.json()["amount"] == 25
    assert higher.status_code == 200, higher.content
    assert higher.json()["balanceAmount"] == 30
    assert ledger(card["giftCardUUId"]) == [
        ("issue", 2500),
        ("adjustment", -475),
        ("adjustment", 975),
    ]
    assert balance(card["giftCardUUId"]) == 3000
    entry = BalanceLog.objects.filter(card_id=card["giftCardUUId"]).last()
    assert entry.balance_after_cents == 3000
    assert entry.actor_name == "pos-1"


def test_update_with_a_different_amount_is_refused(api, create_card):
    card = create_card()
    before = snapshot()

    response = update(api, card, amount=30, balanceAmount=30)

    assert response.status_code == 400
    assert "amount" in response.json()
    assert snapshot() == before


def test_update_sets_modified_user_to_the_api_key_name(api, create_card, business):
    card = create_card()
    manager_secret = api_key_create(business=business, name="back-office")[1]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {manager_secret}")

    response = update(api, card, balanceAmount=10, modifiedUser="Mallory")

    assert response.status_code == 200, response.content
    assert response.json()["createdUser"] == "pos-1"
    assert response.json()["modifiedUser"] == "back-office"


def test_update_of_an_unknown_card_id_is_refused_naming_the_field(api, create_card):
    card = create_card()
    before = snapshot()

    response = update(api, card, giftCardUUId="A" * 22)

    assert response.status_code == 400
    assert "giftCardUUId" in response.json()
    assert snapshot() == before


# ---------------------------------------------------------------------------- delete


def test_soft_delete_returns_the_card_deleted_and_keeps_its_ledger(api, create_card):
    card = create_card()

    response = api.delete(f"/giftcards/{card['giftCardUUId']}")

    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["status"] == "Deleted"
    assert response.json()["giftCardUUId"] == card["giftCardUUId"]
    assert response.json()["balanceAmount"] == 25
    assert ledger(card["giftCardUUId"]) == [("issue", 2500)]
    assert GiftCard.objects.filter(pk=card["giftCardUUId"]).exists()


def test_deleted_card_leaves_the_client_list_but_is_still_readable(api, create_card):
    kept = create_card()
    deleted = create_card()
    api.delete(f"/giftcards/{deleted['giftCardUUId']}")

    listed = api.get(f"/giftcards/client/{kept['clientId']}")
    single = api.get(f"/giftcards/{deleted['giftCardUUId']}")

    assert [c["giftCardUUId"] for c in listed.json()] == [kept["giftCardUUId"]]
    assert single.status_code == 200
    assert single.json()["status"] == "Deleted"
    assert single.json()["active"] is False


def test_deleted_card_refuses_payments(api, create_card):
    card = create_card()
    api.delete(f"/giftcards/{card['giftCardUUId']}")
    before = snapshot()

    response = pay(api, card["giftCardUUId"])

    assert response.status_code == 422
    assert "giftCardUUId" in response.json()
    assert snapshot() == before


def test_writing_status_deleted_soft_deletes(api, create_card):
    card = create_card()

    response = update(api, card, status="Deleted")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "Deleted"
    assert response.json()["active"] is False
    assert api.get(f"/giftcards/client/{card['clientId']}").json() == []
    assert ledger(card["giftCardUUId"]) == [("issue", 2500)]


# ---------------------------------------------------------------------------- expiry


def test_writing_status_expired_expires_the_card_and_refuses_payments(api, create_card):
    card = create_card()

    response = update(api, card, status="Expired")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "Expired"
    assert response.json()["expireDate"] is not None
    assert api.get(f"/giftcards/{card['giftCardUUId']}").json()["status"] == "Expired"
    before = snapshot()
    refused = pay(api, card["giftCardUUId"])
    assert refused.status_code == 422
    assert "giftCardUUId" in refused.json()
    assert snapshot() == before
    assert ledger(card["giftCardUUId"]) == [("issue", 2500)]


def test_creating_a_card_with_status_expired_makes_it_expired(api, create_card):
    card = create_card(status="Expired")

    assert card["status"] == "Expired"
    assert pay(api, card["giftCardUUId"]).status_code == 422


def test_expire_date_round_trips_in_the_business_time_zone(ny_api, ny_customer):
    response = ny_api.post(
        "/giftcards", card_body(ny_customer, expireDate="2030-06-15"), format="json"
    )

    assert response.status_code == 201, response.content
    card = response.json()
    assert card["expireDate"] == "2030-06-15"
    assert ny_api.get(f"/giftcards/{card['giftCardUUId']}").json()["expireDate"] == "2030-06-15"
    # Valid through the end of that day in New York (EDT, UTC-4).
    stored = GiftCard.objects.get(pk=card["giftCardUUId"]).expires_at
    assert stored == dt.datetime(2030, 6, 16, 4, 0, tzinfo=dt.UTC)


def test_expire_date_accepts_epoch_milliseconds_as_the_day_in_the_business_zone(
    ny_api, ny_customer
):
    # 2030-06-16 02:00 UTC is still 2030-06-15 (22:00) in New York.
    moment = int(dt.datetime(2030, 6, 16, 2, 0, tzinfo=dt.UTC).timestamp() * 1000)

    response = ny_api.post("/giftcards", card_body(ny_customer, expireDate=moment), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["expireDate"] == "2030-06-15"


def test_card_is_usable_on_its_expiry_day_and_refused_after_it(ny_api, ny_customer, freeze):
    card = ny_api.post(
        "/giftcards",
        card_body(ny_customer, expireDate="2030-06-15", amount=50, balanceAmount=50),
        format="json",
    ).json()
    card_id = card["giftCardUUId"]

    freeze(dt.datetime(2030, 6, 15, 23, 59, 59, tzinfo=NEW_YORK))
    last_minute = pay(ny_api, card_id, amount=10)
    status_on_the_day = ny_api.get(f"/giftcards/{card_id}").json()["status"]

    freeze(dt.datetime(2030, 6, 16, 0, 0, 1, tzinfo=NEW_YORK))
    next_day = pay(ny_api, card_id, amount=10)
    status_after = ny_api.get(f"/giftcards/{card_id}").json()["status"]

    assert last_minute.status_code == 201, last_minute.content
    assert status_on_the_day == "Active"
    assert next_day.status_code == 422
    assert "giftCardUUId" in next_day.json()
    assert status_after == "Expired"
    assert ledger(card_id) == [("issue", 5000), ("debit", -1000)]


def test_moving_expire_date_forward_makes_an_expired_card_usable_again(api, create_card):
    card = create_card()
    expired = update(api, card, status="Expired").json()

    response = update(api, expired, status="Active", expireDate="2099-12-31")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "Active"
    assert pay(api, card["giftCardUUId"]).status_code == 201


def test_writing_active_on_an_expired_card_without_a_later_date_is_refused(api, create_card):
    card = create_card()
    expired = update(api, card, status="Expired").json()
    before = snapshot()

    response = update(api, expired, status="Active")

    assert response.status_code == 400, response.content
    assert "status" in response.json()
    assert "expireDate" in " ".join(response.json()["status"])
    assert snapshot() == before


def test_an_expired_card_sent_back_as_it_was_read_stays_expired(api, create_card):
    card = create_card()
    expired = update(api, card, status="Expired").json()

    response = update(api, expired, balanceAmount="20")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "Expired"
    assert response.json()["expireDate"] == expired["expireDate"]


# ---------------------------------------------------------------------------- dates and reuse


@pytest.mark.parametrize(
    "moment",
    [
        1681963200000,  # the seed's own purchaseDate
        1079919129416,  # 2004-03-22T01:32:09.416Z
        2193528273693,  # 2039-07-06T01:24:33.693Z
    ],
)
def test_purchase_date_round_trips_to_the_millisecond(api, create_card, moment):
    card = create_card(purchaseDate=moment)

    assert card["purchaseDate"] == moment
    assert api.get(f"/giftcards/{card['giftCardUUId']}").json()["purchaseDate"] == moment


def test_a_spent_card_topped_up_through_balance_amount_can_pay_again(api, create_card):
    """The plain API shows such a card as "Active" with a balance: it must be payable."""
    card = create_card()
    assert pay(api, card["giftCardUUId"], amount="25").status_code == 201
    spent = api.get(f"/giftcards/{card['giftCardUUId']}").json()

    topped_up = update(api, spent, balanceAmount="10")
    payment = pay(api, card["giftCardUUId"], amount="5")

    assert topped_up.status_code == 200, topped_up.content
    assert topped_up.json()["status"] == "Active"
    assert topped_up.json()["balanceAmount"] == 10
    assert payment.status_code == 201, payment.content
    assert ledger(card["giftCardUUId"]) == [
        ("issue", 2500),
        ("debit", -2500),
        ("adjustment", 1000),
        ("debit", -500),
    ]


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Africa/Cairo", "2027-04-29"),  # clocks jump from 00:00 to 01:00 on 2027-04-30
        ("America/Santiago", "2027-09-04"),  # and on 2027-09-05 there
        ("America/New_York", "2027-03-13"),  # DST starts at 02:00: no gap at midnight
    ],
)
def test_expire_date_before_a_midnight_dst_change_round_trips(db, actor, zone, day):
    shop = business_create(name="Zoned", timezone=zone)
    owner = client_create(tenant=Tenant(business=shop, mode=Mode.LIVE), actor=actor)
    api = api_client(api_key_create(business=shop, name="zoned-pos")[1])

    created = api.post("/giftcards", card_body(owner, expireDate=day), format="json")
    echoed = update(api, created.json())

    assert created.status_code == 201, created.content
    assert created.json()["expireDate"] == day
    # Echoing the card back (as clients do to update it) must not move its expiry.
    assert echoed.json()["expireDate"] == day


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/nope", "/giftcards/x/y/z", "/giftCards/client/1"])
def test_unknown_paths_are_json_404s_in_debug_too(api, settings, debug, path):
    settings.DEBUG = debug

    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/payments/1/returns", "/nope", "/giftcards/x/y/z"])
def test_writes_to_unknown_paths_are_json_404s_not_csrf_pages(api_key, method, path):
    """An API client has no CSRF cookie: a write to a path no view serves is a plain 404."""
    client = APIClient(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")

    response = getattr(client, method)(path, {"amount": "3"}, format="json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_if_match_refuses_an_update_based_on_a_stale_read(api, create_card):
    """The plain API requires balanceAmount on every update: sent back from a read made
    before a payment, it would undo the payment. If-Match with the read's ETag prevents it."""
    card = create_card(amount="100", balanceAmount="100")
    read = api.get(f"/giftcards/{card['giftCardUUId']}")
    stale_etag = read["ETag"]
    assert pay(api, card["giftCardUUId"], amount="30").status_code == 201
    before = snapshot()

    stale = api.post(
        "/giftcards",
        {**read.json(), "clientId": card["clientId"]},
        format="json",
        HTTP_IF_MATCH=stale_etag,
    )

    assert stale.status_code == 412, stale.content
    assert "changed since you read it" in stale.json()["detail"]
    assert snapshot() == before
    fresh = api.get(f"/giftcards/{card['giftCardUUId']}")
    assert fresh["ETag"] != stale_etag
    ok = api.post("/giftcards", fresh.json(), format="json", HTTP_IF_MATCH=fresh["ETag"])
    assert ok.status_code == 200, ok.content
    assert ok.json()["balanceAmount"] == 70
    assert ok["ETag"]


@pytest.mark.parametrize(
    "purchase_date",
    [None, dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)],
    ids=["draft without a purchase date", "purchase date with microseconds"],
)
def test_a_card_sent_back_as_read_is_a_no_op(api, customer, tenant, actor, purchase_date):
    """Cards made elsewhere (JSON:API drafts, services) read back through this API: posting
    the GET body unchanged writes nothing."""
    card = services.card_issue(
        tenant=tenant,
        actor=actor,
        balance_cents=2_500,
        client=customer,
        status=Status.DRAFT if purchase_date is None else Status.ACTIVE,
        purchase_date=purchase_date,
    )
    read = api.get(f"/giftcards/{card.pk}").json()
    versions = card.versions.count()

    response = api.post("/giftcards", read, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == read
    assert card.versions.count() == versions


def test_new_card_still_needs_a_purchase_date(api, customer):
    response = api.post("/giftcards", card_body(customer, purchaseDate=None), format="json")
    assert response.status_code == 400
    assert "purchaseDate" in response.json()

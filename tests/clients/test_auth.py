"""ApiKeyAuthentication and tenant scoping, through a tiny DRF API (tests/clients/urls.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clients.models import ApiKey
from clients.services import api_key_create, api_key_revoke
from clients.tenancy import Mode, Tenant
from giftcards.models import GiftCard

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.clients.urls")]


def client_for(secret: str | None = None, header: str | None = None) -> APIClient:
    client = APIClient()
    if header is None and secret is not None:
        header = f"Bearer {secret}"
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def listed_ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return set(response.json()["ids"])


@pytest.fixture
def secret(api_key):
    return api_key[1]


@pytest.fixture
def other_secret(other_business):
    return api_key_create(business=other_business, name="shop-pos", mode=Mode.LIVE)[1]


@pytest.fixture
def test_secret(business):
    return api_key_create(business=business, name="pos-sandbox", mode=Mode.TEST)[1]


@pytest.fixture
def other_tenant(other_business):
    return Tenant(business=other_business, mode=Mode.LIVE)


@pytest.fixture
def test_tenant(business):
    return Tenant(business=business, mode=Mode.TEST)


# ------------------------------------------------------------------ business scoping


def test_key_lists_only_its_own_business_cards(secret, other_secret, make_card, other_tenant):
    mine = make_card()
    theirs = make_card(tenant=other_tenant)

    assert listed_ids(client_for(secret).get("/cards")) == {mine.pk}
    assert listed_ids(client_for(other_secret).get("/cards")) == {theirs.pk}


def test_other_business_card_is_404_not_403(secret, make_card, other_tenant):
    theirs = make_card(tenant=other_tenant)

    response = client_for(secret).get(f"/cards/{theirs.pk}")

    assert response.status_code == 404
    assert GiftCard.objects.filter(pk=theirs.pk).exists()


def test_own_card_is_fetched_by_id(secret, make_card):
    mine = make_card()

    response = client_for(secret).get(f"/cards/{mine.pk}")

    assert response.status_code == 200
    assert response.json() == {"id": mine.pk}


def test_unknown_card_id_is_the_same_404_as_another_business_card(secret, make_card, other_tenant):
    theirs = make_card(tenant=other_tenant)
    client = client_for(secret)

    other = client.get(f"/cards/{theirs.pk}")
    unknown = client.get("/cards/AAAAAAAAAAAAAAAAAAAAAA")

    assert other.status_code == unknown.status_code == 404
    assert other.json() == unknown.json()


# ------------------------------------------------------------------ mode scoping


def test_test_key_never_sees_live_cards(test_secret, make_card, test_tenant):
    live = make_card()
    sandbox = make_card(tenant=test_tenant)
    client = client_for(test_secret)

    assert listed_ids(client.get("/cards")) == {sandbox.pk}
    assert client.get(f"/cards/{live.pk}").status_code == 404
    assert client.get(f"/cards/{sandbox.pk}").status_code == 200


def test_live_key_never_sees_test_cards(secret, make_card, test_tenant):
    live = make_card()
    sandbox = make_card(tenant=test_tenant)
    client = client_for(secret)

    assert listed_ids(client.get("/cards")) == {live.pk}
    assert client.get(f"/cards/{sandbox.pk}").status_code == 404
    assert client.get(f"/cards/{live.pk}").status_code == 200


def test_for_tenant_filters_business_and_mode(make_card, tenant, test_tenant, other_tenant):
    live = make_card()
    sandbox = make_card(tenant=test_tenant)
    theirs = make_card(tenant=other_tenant)

    assert list(GiftCard.objects.for_tenant(tenant)) == [live]
    assert list(GiftCard.objects.for_tenant(test_tenant)) == [sandbox]
    assert list(GiftCard.objects.for_tenant(other_tenant)) == [theirs]


# ------------------------------------------------------------------ rejected keys


def assert_401(response) -> None:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_revoked_key_is_401(api_key, secret):
    assert client_for(secret).get("/cards").status_code == 200
    api_key_revoke(api_key=api_key[0])

    assert_401(client_for(secret).get("/cards"))


def test_expired_key_is_401(api_key, secret):
    ApiKey.objects.filter(pk=api_key[0].pk).update(
        expiry_date=timezone.now() - timedelta(seconds=1)
    )

    assert_401(client_for(secret).get("/cards"))


def test_key_with_future_expiry_still_works(api_key, secret):
    ApiKey.objects.filter(pk=api_key[0].pk).update(expiry_date=timezone.now() + timedelta(days=1))

    assert client_for(secret).get("/cards").status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer", id="keyword-only"),
        pytest.param("Bearer a b", id="two-keys"),
        pytest.param("Token x", id="other-scheme"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("Bearer nonsense", id="no-prefix-separator"),
        pytest.param("Bearer abcdefgh.wrong", id="unknown-prefix"),
        pytest.param("Bearer caf\u00e9.x", id="not-utf8"),
        pytest.param("Bearer abc\x00def.x", id="nul-byte"),
        pytest.param("Bearer " + "x" * 5000, id="very-long"),
    ],
)
def test_malformed_header_is_401_with_challenge(header, secret):
    assert_401(client_for(header=header).get("/cards"))


def test_wrong_secret_with_valid_prefix_is_401(api_key, secret):
    prefix = api_key[0].prefix
    assert secret.startswith(prefix + ".")

    assert_401(client_for(f"{prefix}.{'x' * 32}").get("/cards"))
    assert_401(client_for(f"{prefix}.").get("/cards"))
    assert_401(client_for(prefix).get("/cards"))


def test_no_header_is_401_with_challenge(make_card):
    make_card()

    assert_401(APIClient().get("/cards"))


def test_keyword_is_case_insensitive(secret):
    assert client_for(header=f"bearer {secret}").get("/cards").status_code == 200


# ------------------------------------------------------------------ what a key is


def test_stored_key_row_holds_only_prefix_and_hash(api_key, secret):
    stored = ApiKey.objects.filter(pk=api_key[0].pk).values().get()
    prefix, _, secret_part = secret.partition(".")

    assert stored["prefix"] == prefix
    assert stored["hashed_key"].startswith("sha512$$")
    for value in stored.values():
        assert secret_part not in str(value)
        assert secret not in str(value)


def test_request_user_is_the_key_with_its_name_business_and_mode(business, test_secret):
    response = client_for(test_secret).get("/me")

    assert response.status_code == 200
    assert response.json() == {"actor": "pos-sandbox", "business": business.pk, "mode": "test"}


def test_last_used_at_is_set_on_use(api_key, secret):
    assert ApiKey.objects.get(pk=api_key[0].pk).last_used_at is None
    before = timezone.now()

    assert client_for(secret).get("/cards").status_code == 200

    used = ApiKey.objects.get(pk=api_key[0].pk).last_used_at
    assert used is not None
    assert before <= used <= timezone.now()


def test_last_used_at_is_not_rewritten_on_every_request(api_key, secret):
    client = client_for(secret)
    client.get("/cards")
    first = ApiKey.objects.get(pk=api_key[0].pk).last_used_at

    client.get("/cards")

    assert ApiKey.objects.get(pk=api_key[0].pk).last_used_at == first


def test_failed_authentication_does_not_touch_last_used_at(api_key):
    assert_401(client_for(f"{api_key[0].prefix}.wrong").get("/cards"))

    assert ApiKey.objects.get(pk=api_key[0].pk).last_used_at is None


def test_write_through_a_key_records_the_key_name(secret, business):
    response = client_for(secret).post("/cards", {"balance_cents": 2_500}, format="json")

    assert response.status_code == 201, response.content
    card = GiftCard.objects.get(pk=response.json()["id"])
    assert card.business == business
    assert card.mode == Mode.LIVE
    assert card.created_by == "pos-1"
    assert card.ledger.get().actor_name == "pos-1"
    # DRF puts the key's principal on the Django request; the history must not take it for a
    # User (that was a ValueError, i.e. a 500, on every write through an API key).
    assert card.versions.get().history_user is None

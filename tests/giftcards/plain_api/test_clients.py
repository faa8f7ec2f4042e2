"""Plain API clients: create, update by clientId, soft delete, and the active list."""

from __future__ import annotations

from clients.models import Client
from tests.giftcards.plain_api.helpers import card_body, snapshot

CLIENT_FIELDS = {
    "clientId",
    "businessId",
    "firstName",
    "lastName",
    "fullName",
    "emailAddress",
    "cellPhone",
    "active",
    "createdDate",
    "createdUser",
    "modifiedDate",
    "modifiedUser",
}


def test_create_returns_the_client_with_every_field(api, business):
    response = api.post(
        "/clients",
        {
            "firstName": "Grace",
            "lastName": "Hopper",
            "emailAddress": "grace@example.com",
            "businessId": business.pk,
            "createdUser": "Mallory",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == CLIENT_FIELDS
    assert body["fullName"] == "Grace Hopper"
    assert body["businessId"] == business.pk
    assert body["createdUser"] == body["modifiedUser"] == "pos-1"
    assert body["cellPhone"] is None
    assert body["active"] is True
    assert type(body["createdDate"]) is int
    assert Client.objects.get(pk=body["clientId"]).email == "grace@example.com"


def test_update_by_client_id_changes_only_the_given_fields(api, customer):
    response = api.post(
        "/clients", {"clientId": customer.pk, "cellPhone": "+1 555 0100"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["cellPhone"] == "+1 555 0100"
    assert response.json()["firstName"] == "Ada"
    assert response.json()["modifiedUser"] == "pos-1"
    assert Client.objects.count() == 1


def test_echoing_a_get_response_is_accepted(api, customer):
    got = api.get(f"/clients/{customer.pk}").json()

    response = api.post("/clients", {**got, "lastName": "King"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["fullName"] == "Ada King"


def test_delete_is_soft_and_hides_the_client_from_the_list(api, customer):
    response = api.delete(f"/clients/{customer.pk}")

    assert response.status_code == 200
    assert response.json()["active"] is False
    assert Client.objects.filter(pk=customer.pk).exists()
    assert api.get("/clients").json() == []
    assert api.get(f"/clients/{customer.pk}").json()["active"] is False


def test_a_deleted_client_gets_no_new_card(api, customer):
    api.delete(f"/clients/{customer.pk}")
    before = snapshot()

    response = api.post("/giftcards", card_body(customer), format="json")

    assert response.status_code == 400
    assert "clientId" in response.json()
    assert snapshot() == before


def test_names_must_be_strings_not_numbers(api):
    before = snapshot()
    response = api.post("/clients", {"firstName": 123, "lastName": ["x"]}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"firstName", "lastName", "errors"}
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("firstName", "not_a_string"),
        ("lastName", "not_a_string"),
    }
    assert snapshot() == before

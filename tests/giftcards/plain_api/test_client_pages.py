"""GET /clients a page at a time (`page` from 1, `pageSize`), and GET /clients/count."""

from __future__ import annotations

import pytest

from clients.services import client_create, client_soft_delete
from giftcards.plain_api.serializers import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


@pytest.fixture
def five(tenant, actor):
    """Five active clients, and a deleted one that neither the list nor the count shows."""
    made = [
        client_create(tenant=tenant, actor=actor, first_name=f"C{n}", last_name="X")
        for n in range(6)
    ]
    client_soft_delete(client=made[2], actor=actor)
    return [client.pk for client in made if client.pk != made[2].pk]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [client["clientId"] for client in response.json()]


def test_pages_split_the_active_clients_oldest_first(api, five):
    assert ids(api.get("/clients", {"page": 1, "pageSize": 2})) == five[:2]
    assert ids(api.get("/clients", {"page": 2, "pageSize": 2})) == five[2:4]
    assert ids(api.get("/clients", {"page": 3, "pageSize": 2})) == five[4:]
    assert ids(api.get("/clients", {"page": 4, "pageSize": 2})) == []
    assert ids(api.get("/clients", {"pageSize": 3})) == five[:3]
    assert ids(api.get("/clients", {"page": 2})) == []  # 100 a page by default


def test_without_parameters_the_first_page_of_the_default_size(api, tenant, actor, five):
    for n in range(DEFAULT_PAGE_SIZE):
        client_create(tenant=tenant, actor=actor, first_name=f"D{n}", last_name="X")
    listed = ids(api.get("/clients"))
    assert len(listed) == DEFAULT_PAGE_SIZE
    assert listed[:5] == five
    assert len(ids(api.get("/clients", {"page": 2}))) == 5


def test_count_is_what_the_list_shows_over_all_pages(api, other_api, five, other_customer):
    response = api.get("/clients/count")
    assert response.status_code == 200
    assert response.json() == 5
    assert api.get("/clients/count/").json() == 5
    assert other_api.get("/clients/count").json() == 1


def test_count_and_pages_are_per_mode(test_mode_api, five):
    assert test_mode_api.get("/clients/count").json() == 0
    assert ids(test_mode_api.get("/clients")) == []


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"page": 0}, "page", "min_value"),
        ({"page": -1}, "page", "invalid"),
        ({"page": "x"}, "page", "invalid"),
        ({"page": "1.5"}, "page", "invalid"),
        ({"page": "²"}, "page", "invalid"),
        ({"page": 10**9 + 1}, "page", "max_value"),
        ({"page": "9" * 30}, "page", "invalid"),
        ({"page": ["1", "2"]}, "page", "invalid"),
        ({"pageSize": 0}, "pageSize", "min_value"),
        ({"pageSize": MAX_PAGE_SIZE + 1}, "pageSize", "max_value"),
        ({"pageSize": ""}, "pageSize", "invalid"),
    ],
)
def test_bad_page_parameters_are_400s_with_a_code(api, five, params, field, code):
    response = api.get("/clients", params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field, "errors"]
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]


def test_both_bad_parameters_are_named(api):
    response = api.get("/clients", {"page": 0, "pageSize": 1000})
    assert response.status_code == 400
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("page", "min_value"),
        ("pageSize", "max_value"),
    }


def test_the_largest_page_size_is_served(api, five):
    assert ids(api.get("/clients", {"pageSize": MAX_PAGE_SIZE})) == five


def test_a_page_costs_one_query_whatever_its_size(
    api, five, django_assert_max_num_queries, tenant, actor
):
    for n in range(20):
        client_create(tenant=tenant, actor=actor, first_name=f"E{n}", last_name="X")
    api.get("/clients", {"pageSize": 1})  # warm the key's cache
    with django_assert_max_num_queries(3) as small:
        api.get("/clients", {"pageSize": 1})
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(ids(api.get("/clients", {"pageSize": 25}))) == 25
    with django_assert_max_num_queries(len(small.captured_queries)):
        api.get("/clients/count")

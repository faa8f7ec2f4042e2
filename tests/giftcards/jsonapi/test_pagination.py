"""page[number]/page[size]: counts, links, and the edges."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest


def page_of(link: str) -> int:
    return int(parse_qs(urlparse(link).query)["page[number]"][0])


@pytest.fixture
def many_cards(make_card):
    return [make_card(reference=f"card-{n:02d}") for n in range(23)]


def test_empty_list(api):
    response = api.get("/api/gift_cards")
    assert response.status_code == 200
    assert response.doc["data"] == []
    assert response.doc["meta"] == {"record_count": 0, "page_count": 0}
    links = response.doc["links"]
    assert set(links) == {"first", "last"}
    assert page_of(links["first"]) == page_of(links["last"]) == 1


def test_first_middle_and_last_pages(api, many_cards):
    first = api.get("/api/gift_cards")
    assert len(first.doc["data"]) == 10
    assert first.doc["meta"] == {"record_count": 23, "page_count": 3}
    assert set(first.doc["links"]) == {"first", "last", "next"}
    assert page_of(first.doc["links"]["next"]) == 2
    assert page_of(first.doc["links"]["last"]) == 3

    middle = api.get("/api/gift_cards", {"page[number]": 2})
    assert set(middle.doc["links"]) == {"first", "last", "prev", "next"}
    assert (page_of(middle.doc["links"]["prev"]), page_of(middle.doc["links"]["next"])) == (1, 3)

    last = api.get("/api/gift_cards", {"page[number]": 3})
    assert len(last.doc["data"]) == 3
    assert set(last.doc["links"]) == {"first", "last", "prev"}

    ids = [item["id"] for page in (first, middle, last) for item in page.doc["data"]]
    assert ids == [card.pk for card in many_cards]


def test_a_page_beyond_the_end_is_empty(api, many_cards):
    response = api.get("/api/gift_cards", {"page[number]": 9})
    assert response.status_code == 200
    assert response.doc["data"] == []
    assert response.doc["meta"] == {"record_count": 23, "page_count": 3}
    assert "next" not in response.doc["links"]
    assert page_of(response.doc["links"]["prev"]) == 3


def test_links_keep_the_other_parameters(api, many_cards):
    response = api.get(
        "/api/gift_cards", {"page[size]": 5, "sort": "-created_at", "filter[status]": "active"}
    )
    query = parse_qs(urlparse(response.doc["links"]["next"]).query)
    assert query["page[size]"] == ["5"]
    assert query["sort"] == ["-created_at"]
    assert query["filter[status]"] == ["active"]
    assert query["page[number]"] == ["2"]


def test_page_size_25_is_the_maximum(api, make_card):
    for _ in range(26):
        make_card()
    response = api.get("/api/gift_cards", {"page[size]": 25})
    assert len(response.doc["data"]) == 25
    assert response.doc["meta"] == {"record_count": 26, "page_count": 2}
    response = api.get("/api/gift_cards", {"page[size]": 26})
    assert response.status_code == 400
    [problem] = response.doc["errors"]
    assert problem["source"]["parameter"] == "page[size]"
    assert "25" in problem["detail"]


@pytest.mark.parametrize(
    "parameter,value",
    [
        ("page[size]", "0"),
        ("page[size]", "-1"),
        ("page[size]", "ten"),
        ("page[number]", "0"),
        ("page[number]", "1.5"),
        ("page[offset]", "10"),
    ],
)
def test_bad_page_parameters(api, parameter, value):
    response = api.get("/api/gift_cards", {parameter: value})
    assert response.status_code == 400
    assert response.doc["errors"][0]["source"]["parameter"] == parameter


@pytest.mark.parametrize("path", ["/api/gift_card_recipients", "/api/markets", "/api/tags"])
def test_other_lists_paginate_the_same_way(api, path):
    response = api.get(path)
    assert response.doc["meta"] == {"record_count": 0, "page_count": 0}
    assert api.get(path, {"page[size]": 26}).status_code == 400

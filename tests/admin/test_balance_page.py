"""The public balance page: the masked code, balance, status and expiry of a live card; one
generic message for every miss; a throttle per client address that even the right code
cannot pass until the window is over."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clients.tenancy import Mode, Tenant
from giftcards import balance_page, services
from giftcards.models import Status

URL = "/balance"
CODE = "BLNC-CHCK-CODE-7Q2W"


@pytest.fixture
def card(make_card):
    return make_card(code=CODE, balance_cents=4_250, expires_at=timezone.now() + timedelta(days=40))


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by tests."""
    state = {"now": 1_899_999_620.0}  # 20 s into a 600 s window
    monkeypatch.setattr(balance_page, "now", lambda: state["now"])
    return state


@pytest.fixture
def small_limit(settings):
    settings.BALANCE_CHECK_ATTEMPTS = 3
    settings.BALANCE_CHECK_WINDOW = 600


def check(client, code, **extra):
    return client.post(URL, {"code": code}, **extra)


def test_the_page_has_a_labelled_csrf_protected_form(db):
    client = Client(enforce_csrf_checks=True)

    page = client.get(URL)
    refused = client.post(URL, {"code": CODE})

    html = page.content.decode()
    assert page.status_code == 200
    assert '<label for="id_code">Gift card code</label>' in html
    assert 'aria-describedby="code-help"' in html
    assert "csrfmiddlewaretoken" in html
    assert refused.status_code == 403
    assert reverse("balance-check") == "/balance"


@pytest.mark.parametrize("typed", [CODE, "blnc chck code 7q2w", "BLNCCHCKCODE7Q2W"])
def test_a_customer_sees_masked_code_balance_status_and_expiry(typed, client, card):
    response = check(client, typed)

    html = response.content.decode()
    assert response.status_code == 200
    card_result = response.context["card"]
    assert card_result["masked_code"] == "****7Q2W"
    assert card_result["balance"] == "$42.50"
    assert card_result["status"] == "Active"
    assert card_result["expires_on"] == card.expires_at.date()
    assert "****7Q2W" in html and "$42.50" in html
    assert CODE not in html and "BLNCCHCKCODE7Q2W" not in html
    assert "no-store" in response["Cache-Control"]


def test_expired_and_redeemed_cards_say_so(client, make_card, actor):
    make_card(code="OLDC-ARDC-ODE0-0001", expires_at=timezone.now() - timedelta(days=2))
    used = make_card(code="USED-CARD-CODE-0002", balance_cents=500)
    services.card_debit(card=used, amount_cents=500, actor=actor)

    assert check(client, "OLDC-ARDC-ODE0-0001").context["card"]["status"] == "Expired"
    assert check(client, "USED-CARD-CODE-0002").context["card"]["status"] == "Fully used"


def test_every_miss_gets_the_same_message(client, make_card, business, actor):
    deleted = make_card(code="GONE-CARD-CODE-0003")
    services.card_soft_delete(card=deleted, actor=actor)
    services.card_issue(
        tenant=Tenant(business=business, mode=Mode.TEST),
        actor=actor,
        balance_cents=100,
        code="TEST-MODE-CODE-0004",
        status=Status.ACTIVE,
    )

    answers = {
        code: check(client, code).content.decode()
        for code in ["NOPE-NOPE-NOPE-NOPE", "GONE-CARD-CODE-0003", "TEST-MODE-CODE-0004", "x"]
    }

    for html in answers.values():
        assert balance_page.NOT_FOUND in html.replace("&#x27;", "'")
        assert "****" not in html


def test_a_code_held_by_two_businesses_needs_the_business_link(client, tenant, other_tenant, actor):
    for owner in (tenant, other_tenant):
        services.card_issue(
            tenant=owner,
            actor=actor,
            balance_cents=1_000,
            code="SAME-CODE-TWO-SHOP",
            status=Status.ACTIVE,
        )

    anywhere = check(client, "SAME-CODE-TWO-SHOP")
    at_b = client.post(f"{URL}?business={other_tenant.business.pk}", {"code": "SAME-CODE-TWO-SHOP"})

    assert anywhere.context.get("card") is None
    assert at_b.context["card"]["business"] == "Other Shop"
    assert at_b.context["card"]["balance"] == "€10,00"
    assert "Other Shop" in client.get(f"{URL}?business={other_tenant.business.pk}").content.decode()
    assert client.get(f"{URL}?business=424242").status_code == 404


def test_business_link_does_not_find_another_businesses_card(client, card, other_business):
    response = client.post(f"{URL}?business={other_business.pk}", {"code": CODE})

    assert response.context.get("card") is None
    assert response.context["not_found"] == balance_page.NOT_FOUND


def test_after_the_limit_even_the_right_code_is_refused_until_the_window_passes(
    client, card, clock, small_limit
):
    for _ in range(3):
        assert check(client, "WRNG-WRNG-WRNG-WRNG").status_code == 200

    refused = check(client, CODE)

    assert refused.status_code == 429
    assert "card" not in refused.context
    assert "$42.50" not in refused.content.decode()
    assert int(refused["Retry-After"]) == 580
    assert "Too many attempts" in refused.content.decode()

    clock["now"] += 579
    assert check(client, CODE).status_code == 429
    clock["now"] += 1  # the next window

    allowed = check(client, CODE)
    assert allowed.status_code == 200
    assert allowed.context["card"]["balance"] == "$42.50"


def test_the_throttle_is_per_client_address(client, card, clock, small_limit):
    for _ in range(4):
        check(client, CODE, REMOTE_ADDR="203.0.113.7")

    assert check(client, CODE, REMOTE_ADDR="203.0.113.7").status_code == 429
    assert check(client, CODE, REMOTE_ADDR="203.0.113.8").status_code == 200


def test_an_ipv6_customer_is_counted_per_64(client, card, clock, small_limit):
    for host in range(1, 4):
        check(client, CODE, REMOTE_ADDR=f"2001:db8:1:2::{host}")

    assert check(client, CODE, REMOTE_ADDR="2001:db8:1:2:ffff::9").status_code == 429
    assert check(client, CODE, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200


def test_behind_trusted_proxies_the_forwarded_address_counts(
    client, card, clock, small_limit, settings
):
    settings.BALANCE_CHECK_TRUSTED_PROXIES = 1
    for _ in range(3):
        check(client, CODE, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.4")

    # A spoofed left-most entry does not give a fresh count: the proxy's own entry is used.
    spoofed = check(
        client, CODE, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.4"
    )
    other = check(client, CODE, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.5")

    assert spoofed.status_code == 429
    assert other.status_code == 200


def test_the_count_lives_in_the_shared_cache(client, card, clock, small_limit):
    from django.core.cache import cache

    check(client, CODE)
    verdict = balance_page.throttle_hit("127.0.0.1")  # what another process would see

    assert verdict.allowed
    keys = [key for key in cache._cache if "balance-check" in key]  # locmem in tests
    assert len(keys) == 1
    assert cache.get(keys[0].split(":", 2)[-1]) == 2


def test_an_empty_form_is_not_an_attempt(client, card, clock, small_limit):
    for _ in range(5):
        assert client.post(URL, {"code": ""}).status_code == 200

    assert check(client, CODE).context["card"]["balance"] == "$42.50"


def test_a_card_without_expiry_says_no_expiry_date_alone(client, make_card):
    make_card(code="NOEX-PIRY-CODE-0005")

    html = check(client, "NOEX-PIRY-CODE-0005").content.decode()

    assert "No expiry date" in html
    assert "Valid until" not in html


def test_a_deactivated_card_is_not_active_rather_than_not_activated_yet(client, make_card, actor):
    card = make_card(code="DEAC-TIVA-TEDC-0006")
    services.card_deactivate(card=card, actor=actor)
    make_card(code="INAC-TIVE-CARD-0007", status=Status.INACTIVE)

    for code in ("DEAC-TIVA-TEDC-0006", "INAC-TIVE-CARD-0007"):
        response = check(client, code)
        assert response.context["card"]["status"] == "Not active"
        assert not response.context["card"]["usable"]
        assert "Not activated yet" not in response.content.decode()


def test_on_redis_the_limit_holds_too(client, card, clock, small_limit, redis_cache):
    statuses = [check(client, CODE).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_with_the_cache_down_the_page_fails_closed_with_a_503(client, card, redis_down, caplog):
    response = check(client, CODE)

    html = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Cache-Control"] == "no-store"
    assert "Balance checks are unavailable right now" in html
    assert "$42.50" not in html
    assert "card" not in response.context
    (record,) = [r for r in caplog.records if r.levelno >= 30]
    assert record.getMessage().startswith("Cache unavailable on POST /balance")
    assert not record.exc_info
    assert client.get(URL).status_code == 200  # the form itself needs no cache


@pytest.mark.parametrize(
    "business",
    ["\u00b2", "\u0661\u0662", "\uff11", "1\u00b2", "9" * 23, "0", "-1", " 1", "1e3"],
)
def test_a_business_link_that_is_not_a_plain_id_is_a_404_like_an_unknown_one(client, business):
    response = client.get(URL, {"business": business})

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_business_id_in_other_digits_is_not_that_business(client, business):
    spellings = [
        "".join(chr(0x0660 + int(digit)) for digit in str(business.pk)),  # Arabic-Indic
        "".join(chr(0xFF10 + int(digit)) for digit in str(business.pk)),  # full-width
        f"{business.pk} ",
    ]

    answers = [client.get(URL, {"business": spelled}).status_code for spelled in spellings]

    assert answers == [404] * len(spellings)
    assert client.get(URL, {"business": str(business.pk)}).status_code == 200

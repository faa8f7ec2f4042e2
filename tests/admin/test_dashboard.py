"""The dashboard: liability per currency, cards by status, redemptions per day as an SVG
chart, and the cards about to expire, for the user's business only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.services import business_create
from clients.tenancy import Mode, Tenant
from giftcards import selectors, services
from giftcards.models import Status
from giftcards.staff_views import bar_chart


@pytest.fixture
def figures_setup(make_card, actor):
    now = timezone.now()
    usable = make_card(balance_cents=10_000)
    services.card_debit(card=usable, amount_cents=2_500, actor=actor)
    make_card(balance_cents=5_000, status=Status.INACTIVE)
    euros = make_card(balance_cents=7_000, currency_code="EUR")
    expired = make_card(balance_cents=9_999, expires_at=now - timedelta(days=1))
    soon = make_card(balance_cents=1_000, expires_at=now + timedelta(days=5))
    deleted = make_card(balance_cents=4_444)
    services.card_soft_delete(card=deleted, actor=actor)
    redeemed = make_card(balance_cents=300)
    services.card_debit(card=redeemed, amount_cents=300, actor=actor)
    return {"usable": usable, "euros": euros, "expired": expired, "soon": soon}


def test_dashboard_figures(business, figures_setup):
    figures = selectors.dashboard_figures(business=business, mode=Mode.LIVE)

    assert figures.liability == [
        {"currency_code": "EUR", "balance_cents": 7_000, "cards": 1},
        # 7,500 + 5,000 (inactive) + 1,000 (expiring soon): not expired, deleted or redeemed
        {"currency_code": "USD", "balance_cents": 13_500, "cards": 3},
    ]
    assert dict(figures.by_status) == {"draft": 0, "inactive": 1, "active": 4, "redeemed": 1}
    assert (figures.deleted, figures.expired) == (1, 1)
    assert figures.redeemed_by_day == {"USD": [0] * 29 + [2_800]}
    assert [card.pk for card in figures.expiring] == [figures_setup["soon"].pk]
    assert len(figures.days) == 30 and figures.days[-1] == timezone.now().date()


def test_redemptions_fall_on_the_business_days(db, actor):
    tokyo = business_create(name="Tokyo Tea", currency_code="JPY", timezone="Asia/Tokyo")
    card = services.card_issue(
        tenant=Tenant(business=tokyo, mode=Mode.LIVE),
        actor=actor,
        balance_cents=5_000,
        status=Status.ACTIVE,
    )
    services.card_debit(card=card, amount_cents=700, actor=actor)
    # 23:30 UTC on 1 March is 08:30 on 2 March in Tokyo.
    now = datetime(2030, 3, 1, 23, 30, tzinfo=UTC)
    from giftcards.models import BalanceLog

    BalanceLog.objects.create(
        card=card, kind="debit", amount_cents=-100, balance_after_cents=4_200, created_at=now
    )

    figures = selectors.dashboard_figures(business=tokyo, mode=Mode.LIVE, now=now)

    assert figures.days[-1].isoformat() == "2030-03-02"
    assert figures.redeemed_by_day["JPY"][-1] == 100


def test_dashboard_page_renders_the_chart_for_the_users_business(
    make_staff, login, figures_setup, other_business, actor
):
    other = services.card_issue(
        tenant=Tenant(business=other_business, mode=Mode.LIVE),
        actor=actor,
        balance_cents=123_456,
        status=Status.ACTIVE,
    )
    services.card_debit(card=other, amount_cents=99_900, actor=actor)

    response = login(make_staff("viewer")).get(reverse("staff-dashboard"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Acme Books" in html and "Other Shop" not in html
    assert 'data-testid="redeemed-chart"' in html
    assert html.count('class="gc-chart__bar"') == 30
    assert "$135.00" in html and "€70,00" in html
    assert "****" in html and figures_setup["soon"].masked_code in html
    assert "999,00" not in html and "1.234,56" not in html  # business B's figures


def test_staff_cannot_pick_another_business(make_staff, login, other_business):
    response = login(make_staff("manager")).get(
        reverse("staff-dashboard"), {"business": other_business.pk}
    )

    assert "Acme Books" in response.content.decode()
    assert "Other Shop" not in response.content.decode()


def test_superuser_picks_the_business(superuser, login, business, other_business):
    client = login(superuser)

    picked = client.get(reverse("staff-dashboard"), {"business": other_business.pk})
    missing = client.get(reverse("staff-dashboard"), {"business": 999_999})

    assert "Dashboard — Other Shop" in picked.content.decode()
    assert missing.status_code == 404


def test_bar_chart_scales_to_a_round_top():
    days = [timezone.now().date() - timedelta(days=i) for i in range(2, -1, -1)]

    chart = bar_chart("USD", days, [0, 3_700, 1_850])

    assert [tick["label"] for tick in chart["ticks"]] == [
        "$0.00",
        "$12.50",
        "$25.00",
        "$37.50",
        "$50.00",
    ]
    tall, half = chart["bars"][1], chart["bars"][2]
    assert chart["bars"][0]["height"] == 0
    assert tall["height"] == pytest.approx(2 * half["height"])


def test_liability_counts_only_live_cards_that_were_sold_and_can_be_used(
    business, make_card, actor
):
    now = timezone.now()
    sold = make_card(balance_cents=2_000)
    make_card(balance_cents=3_000, status=Status.INACTIVE)  # sold, to be activated: owed
    make_card(balance_cents=50_000, status=Status.DRAFT)  # printed, never sold: not owed
    make_card(
        balance_cents=40_000, status=Status.DRAFT, expires_at=now + timedelta(days=3)
    )  # nor is a draft about to expire
    make_card(balance_cents=7_000, expires_at=now - timedelta(days=1))  # expired
    gone = make_card(balance_cents=6_000)
    services.card_soft_delete(card=gone, actor=actor)
    test_tenant = Tenant(business=business, mode=Mode.TEST)
    make_card(tenant=test_tenant, balance_cents=9_000)
    soon = make_card(balance_cents=1_000, expires_at=now + timedelta(days=5))

    live = selectors.dashboard_figures(business=business, mode=Mode.LIVE)
    test = selectors.dashboard_figures(business=business, mode=Mode.TEST)

    assert live.liability == [{"currency_code": "USD", "balance_cents": 6_000, "cards": 3}]
    assert [card.pk for card in live.expiring] == [soon.pk]
    assert live.expiring_count == 1
    assert test.liability == []  # test-mode cards are not money
    assert dict(live.by_status)["draft"] == 2  # still counted as cards, just not as money
    assert sold.pk not in {card.pk for card in live.expiring}


def test_the_dashboard_says_why_test_mode_has_no_liability(make_staff, login, make_card, business):
    make_card(tenant=Tenant(business=business, mode=Mode.TEST), balance_cents=9_000)

    html = login(make_staff("viewer")).get(reverse("staff-dashboard"), {"mode": "test"})

    text = html.content.decode()
    assert "test-mode cards are not a liability" in text
    assert "$90.00" not in text


def test_the_expiring_link_lists_what_the_dashboard_counted(make_staff, login, make_card):
    now = timezone.now()
    soon = make_card(balance_cents=1_000, expires_at=now + timedelta(days=5))
    make_card(balance_cents=1_000, status=Status.DRAFT, expires_at=now + timedelta(days=5))
    client = login(make_staff("viewer"))
    page = client.get(reverse("staff-dashboard"))

    listed = client.get(page.context["expiring_url"]).context["cl"].result_list

    assert [card.pk for card in listed] == [soon.pk]

"""The dashboard's reports: the liability at the end of a picked day, and the expiry and
sales-and-redemptions CSV downloads, for the staff user's business only, codes masked."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.services import business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import reports, services
from giftcards.models import Market, Status

LOS_ANGELES = ZoneInfo("America/Los_Angeles")  # UTC-7 in March: a day ends at 07:00 UTC
DAY = date(2030, 3, 10)
NEXT = DAY + timedelta(days=1)
actor = Actor.system("reports-test")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOS_ANGELES)


@pytest.fixture
def clock(monkeypatch):
    """clock(moment): timezone.now() (the services' stamps, the dashboard's today) returns
    `moment` until told otherwise."""

    def set_clock(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment.astimezone(UTC))

    return set_clock


def downloaded(response) -> list[dict]:
    assert response.status_code == 200, response
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def text_of(response) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def shop(db, clock):
    """A Los Angeles business with sales, debits around midnight, a refund, cards expiring
    and expired; and another business (Other Shop) with a card of its own."""
    business = business_create(
        name="Sunset Books", currency_code="USD", timezone="America/Los_Angeles"
    )
    live = Tenant(business=business, mode=Mode.LIVE)
    downtown = Market.objects.create(
        business=business, mode=Mode.LIVE, name="Downtown", currency_code="USD"
    )

    def issue(cents, status=Status.ACTIVE, **kwargs):
        kwargs.setdefault("tenant", live)
        return services.card_issue(actor=actor, balance_cents=cents, status=status, **kwargs)

    clock(local(DAY, 9))
    cards = {
        "sold": issue(10_000, market=downtown, code="SUNSET-SOLD-CARD-0001"),
        "inactive": issue(5_000, status=Status.INACTIVE, code="SUNSET-INACTIVE-0002"),
        "draft": issue(7_000, status=Status.DRAFT, code="SUNSET-DRAFT-CARD-0003"),
        "test": issue(9_000, tenant=Tenant(business=business, mode=Mode.TEST)),
        "expiring": issue(
            3_000, expires_at=local(NEXT + timedelta(days=5), 0), code="SUNSET-SOON-0004"
        ),
        "expired": issue(4_000, expires_at=local(NEXT, 1), code="SUNSET-GONE-CARD-0005"),
        "expired_euros": issue(2_000, currency_code="EUR", expires_at=local(NEXT, 2)),
    }
    clock(local(DAY, 23, 30))  # 06:30 UTC on NEXT
    payment = services.card_debit(card=cards["sold"], amount_cents=1_000, actor=actor).entry
    clock(local(NEXT, 0, 30))
    services.card_debit(card=cards["sold"], amount_cents=500, actor=actor)
    services.card_refund(payment=payment, actor=actor, amount_cents=300)
    services.card_purchase(card=cards["draft"], actor=actor)  # sold on NEXT
    clock(local(NEXT, 12))
    other = business_create(name="Other Shop", currency_code="EUR", locale="de_DE")
    cards["other_card"] = services.card_issue(
        tenant=Tenant(business=other, mode=Mode.LIVE),
        actor=actor,
        balance_cents=123_456,
        status=Status.ACTIVE,
        code="OTHER-SHOP-SECRET-0099",
        expires_at=local(NEXT + timedelta(days=3), 0),
    )
    clock(local(NEXT, 18))
    return {"business": business, "other": other, "downtown": downtown, **cards}


# ---------------------------------------------------------------------------- the day picker


def test_the_dashboard_shows_the_liability_at_the_end_of_the_picked_day(shop, make_staff, login):
    viewer = make_staff("viewer", business=shop["business"])

    page = login(viewer).get(reverse("staff-dashboard"), {"as_of": DAY.isoformat()})

    html = page.content.decode()
    assert page.status_code == 200
    assert page.context["as_of"] == DAY
    rows = [
        (item["row"].currency_code, item["row"].market_name, item["row"].cards, item["formatted"])
        for item in page.context["as_of_rows"]
    ]
    assert rows == [
        # the two expired cards were still good at the end of DAY
        ("EUR", "", 1, "€20,00"),
        ("USD", "", 3, "$120.00"),  # 5,000 inactive + 3,000 + 4,000; not the draft
        ("USD", "Downtown", 1, "$90.00"),  # the 23:30 debit, not the 00:30 one
    ]
    assert 'data-testid="as-of-USD">$210.00<' in html
    assert "Other Shop" not in html and "1.234,56" not in html


def test_the_picker_defaults_to_today_in_the_business_zone(shop, make_staff, login):
    page = login(make_staff("viewer", business=shop["business"])).get(reverse("staff-dashboard"))

    assert page.context["as_of"] == NEXT  # 18:00 in Los Angeles, 01:00 UTC the day after
    assert 'value="2030-03-11"' in page.content.decode()
    totals = {row["currency_code"]: row["formatted"] for row in page.context["as_of_totals"]}
    # 5,000 + 3,000 + 8,800 (10,000 - 1,000 - 500 + 300) + 7,000 (the draft, sold on NEXT)
    assert totals == {"USD": "$238.00"}
    live = {row["currency_code"]: row["formatted"] for row in page.context["liability"]}
    assert live == totals  # nothing expires later today: the same as the live figure


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2030-02-30", "must be a day written YYYY-MM-DD"),
        ("next tuesday", "must be a day written YYYY-MM-DD"),
        ("2030-03-12", "has not begun yet in America/Los_Angeles"),
        ("0001-01-01", "Days must fall"),
    ],
)
def test_a_bad_day_shows_why_not_a_500(shop, make_staff, login, as_of, message):
    page = login(make_staff("viewer", business=shop["business"])).get(
        reverse("staff-dashboard"), {"as_of": as_of}
    )

    assert page.status_code == 200
    assert message in page.context["as_of_error"]
    assert 'data-testid="as-of-error"' in page.content.decode()
    assert page.context["figures"].liability  # the rest of the dashboard is still there


def test_the_picker_shows_only_the_users_business(shop, make_staff, login):
    other_staff = make_staff("manager", business=shop["other"])

    page = login(other_staff).get(
        reverse("staff-dashboard"),
        {"as_of": NEXT.isoformat(), "business": shop["business"].pk},
    )

    assert page.context["business"] == shop["other"]
    assert [(item["row"].balance_cents) for item in page.context["as_of_rows"]] == [123_456]
    assert "Sunset Books" not in page.content.decode()


def test_test_mode_has_no_liability_on_any_day(shop, make_staff, login):
    page = login(make_staff("viewer", business=shop["business"])).get(
        reverse("staff-dashboard"), {"as_of": DAY.isoformat(), "mode": "test"}
    )

    assert "as_of_rows" not in page.context
    assert "Test-mode cards are not a liability, on any day." in page.content.decode()


def test_the_picker_costs_one_query_whatever_the_number_of_cards(
    business, make_staff, login, make_card, django_assert_max_num_queries
):
    client = login(make_staff("viewer"))
    params = {"as_of": reports.today(business).isoformat()}
    make_card()
    client.get(reverse("staff-dashboard"))  # the session and permissions, as below
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("staff-dashboard"), params)
    with CaptureQueriesContext(connection) as refused:
        client.get(reverse("staff-dashboard"), {"as_of": "not a day"})
    for _ in range(25):
        make_card(balance_cents=500)

    with django_assert_max_num_queries(len(few)):
        page = client.get(reverse("staff-dashboard"), params)

    assert page.context["as_of_totals"][0]["cards"] == 26
    assert len(few) == len(refused) + 1  # the day's liability is one query


# ---------------------------------------------------------------------------- expiry report


def expiry(client, **params):
    params.setdefault("from", NEXT.isoformat())
    params.setdefault("to", (NEXT + timedelta(days=10)).isoformat())
    return client.get(reverse("staff-report-expiry"), params)


def test_the_expiry_report_lists_the_window_and_the_expired_cards_with_totals(
    shop, make_staff, login
):
    manager = make_staff("manager", business=shop["business"])

    response = expiry(login(manager))

    rows = downloaded(response)
    listed = [
        (row["section"], row["card"], row["currency"], row["cards"], row["balance"]) for row in rows
    ]
    assert listed == [
        ("expiring", shop["expired"].masked_code, "USD", "1", "40.00"),
        ("expiring", shop["expired_euros"].masked_code, "EUR", "1", "20.00"),
        ("expiring", shop["expiring"].masked_code, "USD", "1", "30.00"),
        ("expiring_total", "", "EUR", "1", "20.00"),
        ("expiring_total", "", "USD", "2", "70.00"),
        ("expired_with_balance", shop["expired"].masked_code, "USD", "1", "40.00"),
        ("expired_with_balance", shop["expired_euros"].masked_code, "EUR", "1", "20.00"),
        ("expired_with_balance_total", "", "EUR", "1", "20.00"),
        ("expired_with_balance_total", "", "USD", "1", "40.00"),
    ]
    assert rows[0]["expires_at"] == "2030-03-11T01:00:00-07:00"  # in the business's zone
    assert rows[0]["card_id"] == shop["expired"].pk
    assert 'filename="expiry-' in response["Content-Disposition"]


def test_the_expiry_report_never_holds_a_full_code_nor_another_business(shop, make_staff, login):
    client = login(make_staff("manager", business=shop["business"]))

    text = text_of(expiry(client, to="2030-12-31"))
    picked = text_of(expiry(client, business=shop["other"].pk, to="2030-12-31"))

    for code in ("SUNSET-SOON-0004", "SUNSET-GONE-CARD-0005", "SUNSET-SOLD-CARD-0001"):
        assert code not in text and code.replace("-", "") not in text
    assert "****0004" in text
    assert picked == text  # a staff user cannot pick another business
    assert shop["other_card"].pk not in text and shop["other_card"].masked_code not in text
    assert shop["other_card"].masked_code not in picked


def test_a_superuser_downloads_the_business_picked(shop, superuser, login):
    rows = downloaded(expiry(login(superuser), business=shop["other"].pk))

    assert [row["card_id"] for row in rows if row["section"] == "expiring"] == [
        shop["other_card"].pk
    ]


def test_the_downloads_are_for_users_who_may_export(shop, make_staff, login):
    for role in ("viewer", "cashier"):
        client = login(make_staff(role, business=shop["business"]))

        assert expiry(client).status_code == 403
        assert (
            client.get(
                reverse("staff-report-activity"), {"from": DAY.isoformat(), "to": DAY.isoformat()}
            ).status_code
            == 403
        )
        page = client.get(reverse("staff-dashboard"))
        assert reverse("staff-report-expiry") not in page.content.decode()

    page = login(make_staff("manager", business=shop["business"])).get(reverse("staff-dashboard"))
    assert reverse("staff-report-expiry") in page.content.decode()
    assert reverse("staff-report-activity") in page.content.decode()


def test_a_bad_window_goes_back_to_the_dashboard_with_the_reason(shop, make_staff, login):
    client = login(make_staff("manager", business=shop["business"]))

    backwards = expiry(client, **{"from": "2030-03-20", "to": "2030-03-10"}, mode="test")

    assert backwards.status_code == 302
    assert backwards["Location"] == reverse("staff-dashboard") + "?mode=test"
    page = client.get(backwards["Location"]).content.decode()
    assert "No expiry report: The range ends (2030-03-10) before it starts (2030-03-20)." in page

    garbage = expiry(client, **{"from": "soon"})

    assert garbage.status_code == 302
    assert "must be a day written YYYY-MM-DD" in client.get(garbage["Location"]).content.decode()


# ---------------------------------------------------------------------------- activity report


def activity(client, first=DAY, last=NEXT, **params):
    return client.get(
        reverse("staff-report-activity"),
        {"from": first.isoformat(), "to": last.isoformat(), **params},
    )


def test_sales_and_redemptions_fall_on_the_business_days(shop, make_staff, login):
    rows = downloaded(activity(login(make_staff("manager", business=shop["business"]))))

    figures = {
        (row["day"], row["currency"]): (
            row["cards_sold"],
            row["sold"],
            row["redemptions"],
            row["redeemed"],
            row["refunds"],
            row["refunded"],
            row["net_redeemed"],
        )
        for row in rows
    }
    assert figures == {
        # every live card sold (not the draft, not the test card) at 09:00; the debit at
        # 23:30, which is already NEXT in UTC
        ("2030-03-10", "EUR"): ("1", "20.00", "0", "0.00", "0", "0.00", "0.00"),
        ("2030-03-10", "USD"): ("4", "220.00", "1", "10.00", "0", "0.00", "10.00"),
        # the draft purchased at 00:30, the debit and the refund of 00:30
        ("2030-03-11", "EUR"): ("0", "0.00", "0", "0.00", "0", "0.00", "0.00"),
        ("2030-03-11", "USD"): ("1", "70.00", "1", "5.00", "1", "3.00", "2.00"),
    }
    assert list(rows[0]) == reports.ACTIVITY_HEADER


def test_the_activity_report_is_scoped_to_the_users_business(shop, make_staff, login):
    other_staff = make_staff("manager", business=shop["other"])

    rows = downloaded(activity(login(other_staff), business=shop["business"].pk, last=NEXT))

    assert {row["currency"] for row in rows} == {"EUR"}
    assert [row["sold_cents"] for row in rows] == ["0", "123456"]  # its own sale only


def test_the_activity_range_is_a_year_at_most(shop, make_staff, login):
    client = login(make_staff("manager", business=shop["business"]))

    too_long = activity(client, first=date(2029, 1, 1), last=date(2030, 1, 2))
    a_year = activity(client, first=date(2029, 3, 11), last=date(2030, 3, 11))

    assert too_long.status_code == 302
    assert "at most 366 days" in client.get(too_long["Location"]).content.decode()
    assert len(downloaded(a_year)) == 366 * 2


@pytest.mark.parametrize("report", ["staff-report-expiry", "staff-report-activity"])
def test_a_download_costs_the_same_queries_for_3_or_30_cards(
    report, business, make_staff, login, make_card, actor, django_assert_max_num_queries
):
    client = login(make_staff("manager"))
    today = reports.today(business)
    params = {
        "from": (today - timedelta(days=3)).isoformat(),
        "to": (today + timedelta(days=9)).isoformat(),
    }

    def cards(count: int) -> None:
        for _ in range(count):
            card = make_card(balance_cents=900, expires_at=timezone.now() + timedelta(days=2))
            services.card_debit(card=card, amount_cents=100, actor=actor)

    cards(3)
    text_of(client.get(reverse(report), params))  # session and permissions, as below
    with CaptureQueriesContext(connection) as few:
        text_of(client.get(reverse(report), params))
    cards(27)

    with django_assert_max_num_queries(len(few)):
        text = text_of(client.get(reverse(report), params))
    assert text.count("USD") >= 1

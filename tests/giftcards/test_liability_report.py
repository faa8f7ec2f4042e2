"""`liability_report` and `reports.liability_as_of`: what was owed at the end of a day in the
business's time zone, replayed from the ledger and the cards' history."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from clients.models import Business
from clients.services import business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import reports, selectors, services
from giftcards.models import BalanceLog, GiftCard, Market, Status

pytestmark = pytest.mark.django_db

AUCKLAND = ZoneInfo("Pacific/Auckland")  # UTC+13 in March: its days end at 11:00 UTC
LOS_ANGELES = ZoneInfo("America/Los_Angeles")  # UTC-7 in March: its days end at 07:00 UTC
DAY = date(2030, 3, 10)
NEXT = DAY + timedelta(days=1)
actor = Actor.system("reports-test")


def local(zone, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


@pytest.fixture
def clock(monkeypatch):
    """clock(moment): timezone.now() (what the services stamp ledger rows and the cards'
    history with) returns `moment` until told otherwise."""

    def set_clock(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment.astimezone(UTC))

    return set_clock


def run(*args) -> str:
    stdout = io.StringIO()
    call_command("liability_report", *args, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue()


def parsed(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def replayed(business, day: date) -> dict[tuple[str, int | None], tuple[int, int]]:
    """The liability at the end of `day` the slow way, with the history library's own as_of
    and a Python sum over each card's ledger: (currency, market id) -> (cards, cents)."""
    moment = datetime.combine(day + timedelta(days=1), datetime.min.time(), business.tzinfo)
    found: dict = defaultdict(lambda: [0, 0])
    for card in GiftCard.history.as_of(moment - timedelta(microseconds=1)):
        if card.business_id != business.pk or card.mode != Mode.LIVE:
            continue
        if card.status not in (Status.INACTIVE, Status.ACTIVE) or card.deleted_at is not None:
            continue
        if card.expires_at is not None and card.expires_at < moment:
            continue
        rows = BalanceLog.objects.filter(card_id=card.pk)
        total = found[(card.currency_code, card.market_id)]
        total[0] += 1
        total[1] += sum(row.amount_cents for row in rows if row.created_at < moment)
    return {key: tuple(value) for key, value in found.items()}


def computed(business, day: date) -> dict[tuple[str, int | None], tuple[int, int]]:
    return {
        (row.currency_code, row.market_id): (row.cards, row.balance_cents)
        for row in reports.liability_as_of(business=business, as_of=day)
    }


@pytest.fixture
def kiwi(db, clock):
    """An Auckland business with activity before, on and after DAY, each change made
    through the services at a frozen local time. Returns the business, its markets and
    cards by name."""
    business = business_create(name="Kiwi Books", currency_code="NZD", timezone="Pacific/Auckland")
    live = Tenant(business=business, mode=Mode.LIVE)
    cbd = Market.objects.create(business=business, mode=Mode.LIVE, name="CBD", currency_code="NZD")
    euro = Market.objects.create(
        business=business, mode=Mode.LIVE, name="Berlin", currency_code="EUR"
    )

    def issue(cents, status=Status.ACTIVE, **kwargs):
        kwargs.setdefault("tenant", live)
        return services.card_issue(actor=actor, balance_cents=cents, status=status, **kwargs)

    clock(local(AUCKLAND, DAY - timedelta(days=1), 10))
    cards = {
        "debited": issue(10_000, market=cbd),  # 23:30 and 00:30 debits below
        "inactive": issue(5_000, status=Status.INACTIVE),  # sold, not yet activated: owed
        "draft": issue(7_000, status=Status.DRAFT),  # never sold: not owed
        "test": issue(9_000, tenant=Tenant(business=business, mode=Mode.TEST)),  # not money
        # valid through DAY (it expires at the midnight that ends it): owed at its end
        "through_day": issue(3_000, expires_at=local(AUCKLAND, NEXT, 0)),
        "expired_noon": issue(4_000, expires_at=local(AUCKLAND, DAY, 12)),  # expired by then
        "euros": issue(2_000, market=euro),
        "deleted_after": issue(6_000),
        "redeemed_after": issue(2_500),
        "expired_after": issue(8_000, expires_at=local(AUCKLAND, DAY + timedelta(days=20), 0)),
        "purchased_after": issue(1_500, status=Status.DRAFT),
        "redeemed_on_day": issue(1_200),
        "market_after": issue(1_100),
    }

    clock(local(AUCKLAND, DAY, 20))
    services.card_debit(card=cards["redeemed_on_day"], amount_cents=1_200, actor=actor)
    clock(local(AUCKLAND, DAY, 23, 30))  # 10:30 UTC on DAY
    services.card_debit(card=cards["debited"], amount_cents=1_000, actor=actor)
    clock(local(AUCKLAND, NEXT, 0))  # midnight belongs to the day it starts
    services.card_debit(card=cards["euros"], amount_cents=100, actor=actor)
    clock(local(AUCKLAND, NEXT, 0, 30))  # 11:30 UTC, still DAY in UTC, the next day here
    services.card_debit(card=cards["debited"], amount_cents=500, actor=actor)
    services.card_debit(card=cards["redeemed_after"], amount_cents=2_500, actor=actor)
    services.card_recharge(card=cards["redeemed_on_day"], amount_cents=700, actor=actor)
    clock(local(AUCKLAND, NEXT, 1))
    services.card_soft_delete(card=cards["deleted_after"], actor=actor)
    services.card_expire_now(card=cards["expired_after"], actor=actor)
    services.card_purchase(card=cards["purchased_after"], actor=actor)
    services.card_update(card=cards["market_after"], actor=actor, market=cbd)
    clock(local(AUCKLAND, NEXT, 3))
    return {"business": business, "cbd": cbd, "euro": euro, **cards}


def test_the_liability_at_the_end_of_a_day_is_the_ledger_replayed_to_its_midnight(kiwi):
    business, cbd, euro = kiwi["business"], kiwi["cbd"], kiwi["euro"]

    figures = computed(business, DAY)

    assert figures == {
        # 10,000 less the 23:30 debit; the 00:30 one is the next day here
        ("NZD", cbd.pk): (1, 9_000),
        # inactive 5,000 + valid through DAY 3,000 + deleted, redeemed and expired only
        # after DAY 6,000 + 2,500 + 8,000 + moved into a market after DAY 1,100
        ("NZD", None): (6, 25_600),
        ("EUR", euro.pk): (1, 2_000),
    }
    assert figures == replayed(business, DAY)


def test_the_next_day_counts_what_happened_after_midnight(kiwi):
    business, cbd = kiwi["business"], kiwi["cbd"]

    figures = computed(business, NEXT)

    assert figures == {
        # 8,500 debited card + 1,100 moved here
        ("NZD", cbd.pk): (2, 9_600),
        # inactive 5,000 + purchased 1,500 + recharged back to active 700; the card valid
        # through DAY, the deleted, redeemed and expired ones are gone
        ("NZD", None): (3, 7_200),
        ("EUR", kiwi["euro"].pk): (1, 1_900),  # debited at the midnight that starts NEXT
    }
    assert figures == replayed(business, NEXT)


def test_the_day_before_had_only_the_first_sales(kiwi):
    business, cbd = kiwi["business"], kiwi["cbd"]

    figures = computed(business, DAY - timedelta(days=1))

    assert figures == {
        ("NZD", cbd.pk): (1, 10_000),
        # all but the draft, the test card and the card in a market, before any change;
        # the card that expired at noon on DAY was still good
        ("NZD", None): (8, 5_000 + 3_000 + 4_000 + 6_000 + 2_500 + 8_000 + 1_200 + 1_100),
        ("EUR", kiwi["euro"].pk): (1, 2_000),
    }
    assert figures == replayed(business, DAY - timedelta(days=1))
    assert computed(business, DAY - timedelta(days=2)) == {}


def test_the_command_writes_one_row_per_business_currency_and_market(kiwi, clock):
    angeleno = business_create(name="LA Shop", currency_code="USD", timezone="America/Los_Angeles")
    clock(local(LOS_ANGELES, DAY, 9))
    card = services.card_issue(
        tenant=Tenant(business=angeleno, mode=Mode.LIVE),
        actor=actor,
        balance_cents=4_000,
        status=Status.ACTIVE,
    )
    clock(local(LOS_ANGELES, DAY, 23, 30))  # 06:30 UTC on the next day
    services.card_debit(card=card, amount_cents=400, actor=actor)
    clock(local(LOS_ANGELES, NEXT, 0, 30))
    services.card_debit(card=card, amount_cents=40, actor=actor)
    clock(local(LOS_ANGELES, NEXT, 12))

    rows = parsed(run("--as-of", DAY.isoformat()))

    assert [tuple(row.values()) for row in rows] == [
        (
            str(kiwi["business"].pk),
            "Kiwi Books",
            "2030-03-10",
            "EUR",
            "Berlin",
            "1",
            "20.00",
            "2000",
        ),
        (str(kiwi["business"].pk), "Kiwi Books", "2030-03-10", "NZD", "", "6", "256.00", "25600"),
        (str(kiwi["business"].pk), "Kiwi Books", "2030-03-10", "NZD", "CBD", "1", "90.00", "9000"),
        (str(angeleno.pk), "LA Shop", "2030-03-10", "USD", "", "1", "36.00", "3600"),
    ]
    assert list(rows[0]) == reports.LIABILITY_HEADER


def test_the_command_reports_one_business_and_writes_a_file(kiwi, tmp_path):
    other = business_create(name="Other", currency_code="USD")
    services.card_issue(
        tenant=Tenant(business=other, mode=Mode.LIVE),
        actor=actor,
        balance_cents=100,
        status=Status.ACTIVE,
    )
    target = tmp_path / "liability.csv"

    printed = run("--as-of", NEXT.isoformat(), "--business", str(kiwi["business"].pk))
    run(
        "--as-of", NEXT.isoformat(), "--business", str(kiwi["business"].pk), "--output", str(target)
    )

    assert target.read_bytes().decode("utf-8") == printed
    assert {row["business"] for row in parsed(printed)} == {"Kiwi Books"}
    assert sum(int(row["liability_cents"]) for row in parsed(printed)) == 9_600 + 7_200 + 1_900


def test_a_business_that_owes_nothing_prints_only_the_header(kiwi):
    assert run("--as-of", "2020-01-01", "--business", str(kiwi["business"].pk)) == (
        ",".join(reports.LIABILITY_HEADER) + "\r\n"
    )


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2030-02-30", "YYYY-MM-DD"),
        ("20300310", "YYYY-MM-DD"),
        ("yesterday", "YYYY-MM-DD"),
        ("2030-03-10T00:00", "YYYY-MM-DD"),
        ("9999-12-31", "has not begun"),
        ("2030-03-12", "has not begun yet in Pacific/Auckland"),  # the clock is on NEXT
    ],
)
def test_the_command_refuses_a_bad_date(kiwi, as_of, message):
    with pytest.raises(CommandError, match=message):
        run("--as-of", as_of)


def test_the_command_refuses_an_unknown_business(kiwi):
    with pytest.raises(CommandError, match="no business with id 999999"):
        run("--as-of", DAY.isoformat(), "--business", "999999")


def test_the_first_days_are_out_of_range(kiwi):
    with pytest.raises(reports.ReportError, match="Days must fall"):
        reports.liability_as_of(business=kiwi["business"], as_of=date(1, 1, 1))


def test_as_of_today_matches_the_live_dashboard(business, make_card, actor):
    make_card(balance_cents=2_000)
    make_card(balance_cents=3_000, status=Status.INACTIVE)
    make_card(balance_cents=4_000, currency_code="EUR")
    make_card(balance_cents=5_000, status=Status.DRAFT)
    make_card(balance_cents=6_000, expires_at=timezone.now() - timedelta(days=1))
    spent = make_card(balance_cents=700)
    services.card_debit(card=spent, amount_cents=200, actor=actor)
    services.card_soft_delete(card=make_card(balance_cents=800), actor=actor)

    live = selectors.dashboard_figures(business=business).liability
    today = reports.liability_as_of(business=business, as_of=reports.today(business))

    assert [(row.currency_code, row.cards, row.balance_cents) for row in today] == [
        (row["currency_code"], row["cards"], row["balance_cents"]) for row in live
    ]


def test_one_query_whatever_the_number_of_cards(
    business, make_card, actor, django_assert_num_queries
):
    def spend(cards: int) -> None:
        for _ in range(cards):
            card = make_card(balance_cents=1_000)
            services.card_debit(card=card, amount_cents=100, actor=actor)

    spend(2)
    with django_assert_num_queries(1):
        few = reports.liability_as_of(business=business, as_of=reports.today(business))
    spend(40)
    with django_assert_num_queries(1):
        many = reports.liability_as_of(business=business, as_of=reports.today(business))

    assert (few[0].cards, many[0].cards) == (2, 42)
    assert many[0].balance_cents == 42 * 900


def test_the_command_costs_a_query_per_business_not_per_card(
    business, make_card, django_assert_max_num_queries
):
    for _ in range(30):
        make_card(balance_cents=1_000)

    with django_assert_max_num_queries(3):
        rows = parsed(run("--as-of", reports.today(business).isoformat()))

    assert rows[0]["cards"] == "30"


def test_every_business_report_leaves_out_one_whose_day_has_not_begun(kiwi, clock):
    """At 13:00 UTC on DAY it is already the next day in Auckland and still DAY in Los
    Angeles: asking for the next day reports Auckland and leaves Los Angeles out, saying so;
    asking for that one business alone is refused."""
    business_create(name="LA Books", currency_code="USD", timezone="America/Los_Angeles")
    clock(datetime(DAY.year, DAY.month, DAY.day, 13, tzinfo=UTC))
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("liability_report", "--as-of", NEXT.isoformat(), stdout=stdout, stderr=stderr)

    assert {row["business"] for row in parsed(stdout.getvalue())} == {"Kiwi Books"}
    assert "Left out LA Books" in stderr.getvalue()
    assert "has not begun yet in America/Los_Angeles" in stderr.getvalue()
    la = Business.objects.get(name="LA Books")
    with pytest.raises(CommandError, match="has not begun"):
        run("--as-of", NEXT.isoformat(), "--business", str(la.pk))

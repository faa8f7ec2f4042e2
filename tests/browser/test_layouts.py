"""The staff screens at a phone's (390 px), a till tablet's (820 px) and a laptop's (1366 px)
width: the page never scrolls sideways, the staff menu stays reachable (behind a Menu button
on phones), and the card list, the card page and the dashboard keep what staff need in view
and large enough to tap. Full-page screenshots go to test-artifacts/layout-*.png."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.admin.utils import quote
from django.utils import timezone
from playwright.sync_api import expect

from clients.services import client_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.models import Status

pytestmark = pytest.mark.django_db(transaction=True)

PHONE, TABLET, DESKTOP = 390, 820, 1366
WIDTHS = pytest.mark.parametrize(
    "width", [PHONE, TABLET, DESKTOP], ids=["phone-390", "tablet-820", "desktop-1366"]
)
TAP = 40  # the smallest height and width, in CSS pixels, of a primary action on a touch screen
MENU = ["Dashboard", "Gift cards", "Sell a card", "Ledger", "Clients", "API docs"]


@pytest.fixture
def cards(shop):
    """Six cards of one client with a long name and long references, so the list is wider
    than a phone; the first has a few ledger rows with long notes."""
    tenant = Tenant(business=shop, mode=Mode.LIVE)
    actor = Actor.system("browser")
    client = client_create(
        tenant=tenant,
        actor=actor,
        first_name="Maximiliana",
        last_name="Oppenheimer-Vandersloot",
        email="maximiliana.oppenheimer-vandersloot@example.com",
    )
    made = [
        services.card_issue(
            tenant=tenant,
            actor=actor,
            balance_cents=12_345 * (number + 1),
            code=f"LYOT-TEST-CARD-{number:04d}",
            status=Status.ACTIVE,
            client=client,
            reference=f"web-order-2024-{number:06d}-gift",
            expires_at=timezone.now() + timedelta(days=20 + number),
        )
        for number in range(6)
    ]
    for number in range(3):
        services.card_debit(
            card=made[0],
            amount_cents=1_000 + number,
            actor=actor,
            order_reference=f"POS-RECEIPT-{number:08d}",
            note="Redeemed at the front desk by the evening shift",
        )
    return made


@pytest.fixture
def at_width(browser, live_server, log_in, staff_user):
    """A manager's page in a browser window `width` CSS pixels wide."""
    contexts = []
    manager = staff_user("manager")

    def open_page(width: int):
        context = browser.new_context(
            viewport={"width": width, "height": 900}, base_url=live_server.url
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        log_in(page, manager)
        return page

    yield open_page
    for context in contexts:
        context.close()


def assert_no_sideways_scroll(page):
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[1], (
        f"the page is {widths[0]} px wide in a {widths[1]} px window ({page.url})"
    )


def assert_in_view(locator, width: int):
    """Visible and not cut off at the window's left or right edge."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (locator, box, width)


def assert_tappable(locator, width: int):
    assert_in_view(locator, width)
    box = locator.bounding_box()
    assert box["height"] >= TAP and box["width"] >= TAP, (locator, box)


def assert_primary(locator, width: int):
    """A primary action: in view everywhere, and a touch-sized target below desktop widths."""
    (assert_in_view if width == DESKTOP else assert_tappable)(locator, width)


def menu_links(page, width: int):
    """The staff menu, opened with its Menu button on a phone; returns the navigation."""
    nav = page.get_by_role("navigation", name="Staff menu")
    toggle = page.get_by_role("button", name="Menu")
    if width == PHONE:
        expect(nav.get_by_role("link", name="Gift cards")).to_be_hidden()
        assert_tappable(toggle, width)
        expect(toggle).to_have_attribute("aria-expanded", "false")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
    else:
        expect(toggle).to_be_hidden()
    return nav


@WIDTHS
def test_the_staff_menu_is_reachable_and_tappable(at_width, cards, screenshot, width):
    page = at_width(width)
    nav = menu_links(page, width)
    for name in MENU:
        link = nav.get_by_role("link", name=name, exact=True)
        assert_primary(link, width)
    assert_no_sideways_scroll(page)
    screenshot(page, f"layout-menu-{width}")

    if width == PHONE:  # Escape folds the menu again, and the button brings it back
        page.keyboard.press("Escape")
        expect(nav.get_by_role("link", name="Gift cards")).to_be_hidden()
        expect(page.get_by_role("button", name="Menu")).to_be_focused()
        page.get_by_role("button", name="Menu").click()
    nav.get_by_role("link", name="Gift cards", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/giftcards/giftcard/$"))


@WIDTHS
def test_the_admin_home_page_fits(at_width, cards, screenshot, width):
    page = at_width(width)
    for name in ["Open the dashboard", "Sell a card", "Find a card"]:
        button = page.locator(".gc-index-intro").get_by_role("link", name=name)
        assert_primary(button, width)
    assert_no_sideways_scroll(page)
    screenshot(page, f"layout-home-{width}")


@WIDTHS
def test_the_card_list_scrolls_its_table_not_the_page(at_width, cards, screenshot, width):
    page = at_width(width)
    page.goto("/admin/giftcards/giftcard/")
    screenshot(page, f"layout-card-list-{width}")
    assert_no_sideways_scroll(page)

    assert_in_view(page.locator("#searchbar"), width)
    search = page.locator("#changelist-search input[type=submit]")
    assert_primary(search, width)
    assert_primary(page.locator(".object-tools").get_by_role("link", name="Sell a card"), width)

    table = page.locator("#result_list")
    first_code = table.locator("tbody tr").first.locator(".field-code")
    for column in ["code", "status_badge", "balance"]:  # what a cashier reads, on the first screen
        assert_in_view(table.locator(f"thead th.column-{column}"), width)
    assert_in_view(first_code, width)
    expect(first_code).to_have_text("****0005")
    expect(table.locator("tbody tr").first.locator(".field-balance")).to_have_text("$740.70")

    results = page.locator("#changelist-form .results")
    filters = page.locator("#changelist-filter")
    if width == DESKTOP:  # every column fits; the filters are the usual sidebar
        assert results.evaluate("e => e.scrollWidth <= e.clientWidth")
        results_box = results.bounding_box()
        assert filters.bounding_box()["x"] >= results_box["x"] + results_box["width"]
        return

    # Narrower: the table scrolls inside its box, the code column stays put while it does,
    # and the filters come after the results instead of squeezing them.
    assert results.evaluate("e => e.scrollWidth > e.clientWidth")
    results.evaluate("e => { e.scrollLeft = e.scrollWidth }")
    assert results.evaluate("e => e.scrollLeft") > 0
    assert_in_view(first_code, width)
    assert_in_view(table.locator("thead th").last, width)  # the last column
    assert_no_sideways_scroll(page)
    screenshot(page, f"layout-card-list-scrolled-{width}")
    results_box, filters_box = results.bounding_box(), filters.bounding_box()
    assert filters_box["y"] >= results_box["y"] + results_box["height"]
    assert_in_view(filters.get_by_role("link", name="Redeemed"), width)


@WIDTHS
def test_the_card_page_keeps_balance_actions_and_ledger_usable(at_width, cards, screenshot, width):
    page = at_width(width)
    page.goto(f"/admin/giftcards/giftcard/{quote(cards[0].pk)}/change/")
    screenshot(page, f"layout-card-page-{width}")
    assert_no_sideways_scroll(page)

    assert_in_view(page.get_by_test_id("card-balance"), width)
    expect(page.get_by_test_id("card-balance")).to_have_text("$93.42")
    for action in ["debit", "recharge"]:
        form = page.locator(f"form[data-action={action}]")
        assert_primary(form.get_by_role("button"), width)
        assert_in_view(form.get_by_label("Amount"), width)
    assert_primary(page.get_by_role("button", name="Reveal full code"), width)
    assert_primary(page.locator(".submit-row input[name=_save]"), width)

    ledger = page.locator(".gc-ledger")
    expect(ledger.locator("tbody tr.has_original")).to_have_count(4)
    newest = ledger.locator("tbody tr.has_original").first
    assert_in_view(newest.locator(".field-time"), width)
    assert newest.bounding_box()["height"] < 80, "a ledger row should be a line or two"
    group = page.locator(".inline-group").filter(has=ledger)
    if width == PHONE:  # the ledger scrolls inside its group, never the page
        assert group.evaluate("e => e.scrollWidth > e.clientWidth")

    if width == PHONE:  # a cashier redeems with the phone's touch targets
        redeem = page.locator("form[data-action=debit]")
        redeem.get_by_label("Amount").fill("3.42")
        redeem.get_by_role("button", name="Redeem").click()
        expect(page.get_by_test_id("card-balance")).to_have_text("$90.00")
        assert_no_sideways_scroll(page)
        screenshot(page, f"layout-card-redeemed-{width}")


@WIDTHS
def test_the_dashboard_fits_its_figures_and_chart(at_width, cards, screenshot, width):
    page = at_width(width)
    menu_links(page, width).get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("redeemed-chart")).to_be_visible()
    screenshot(page, f"layout-dashboard-{width}")
    assert_no_sideways_scroll(page)

    assert_in_view(page.get_by_test_id("liability-USD"), width)
    expect(page.get_by_test_id("liability-USD")).to_have_text("$2,562.42")
    show = page.get_by_role("form", name="What the dashboard shows").get_by_role("button")
    assert_primary(show, width)
    chart = page.get_by_test_id("redeemed-chart")
    box = chart.bounding_box()
    assert box["width"] >= (540 if width == PHONE else 400) and box["height"] > 150
    assert_in_view(chart.locator("rect.gc-chart__bar").last, width)  # today, at any width
    expiring = page.locator("section[aria-labelledby=gc-expiring]")
    assert_in_view(expiring.get_by_role("link", name="****0000"), width)


STAFF_PAGES = [
    "/admin/",
    "/admin/dashboard/",
    "/admin/giftcards/giftcard/",
    "/admin/giftcards/giftcard/add/",
    "/admin/giftcards/balancelog/",
    "/admin/clients/client/",
]


def test_no_staff_page_scrolls_sideways_on_the_smallest_phone(at_width, cards, screenshot):
    page = at_width(360)
    card = f"/admin/giftcards/giftcard/{quote(cards[0].pk)}"
    for path in [*STAFF_PAGES, f"{card}/history/", f"{card}/change/"]:
        page.goto(path)
        assert_no_sideways_scroll(page)
    screenshot(page, "layout-card-page-360")

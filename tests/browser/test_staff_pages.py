"""The staff admin and the balance page in a real browser: a cashier finds a card by its
code and redeems part of it; a customer checks a balance; the dashboard draws its chart."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.utils import quote
from playwright.sync_api import expect

from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.models import BalanceLog, Status

pytestmark = pytest.mark.django_db(transaction=True)


def issue(shop, **kwargs):
    kwargs.setdefault("status", Status.ACTIVE)
    return services.card_issue(
        tenant=Tenant(business=shop, mode=Mode.LIVE), actor=Actor.system("browser"), **kwargs
    )


def test_cashier_finds_a_card_by_code_redeems_part_of_it_and_sees_the_ledger_row(
    page, log_in, staff_user, shop, screenshot
):
    cashier = staff_user("cashier")
    card = issue(shop, balance_cents=10_000, code="BRWS-TEST-CARD-0001", reference="gift-42")
    issue(shop, balance_cents=2_000, code="ANOT-HERC-ARDX-0002")

    log_in(page, cashier)
    page.get_by_role("navigation", name="Staff menu").get_by_role("link", name="Gift cards").click()
    screenshot(page, "admin-card-list")
    requested = []  # every URL the browser asks for, as access logs and history would hold it
    page.on("request", lambda request: requested.append((request.method, request.url)))
    page.locator("#searchbar").fill("brws test card 0001")  # as a customer reads it out
    page.locator("#searchbar").press("Enter")

    expect(page).to_have_url(re.compile(r"/admin/giftcards/giftcard/.+/change/$"))
    assert ("POST", f"{page.url.split('/admin/')[0]}/admin/giftcards/giftcard/find/") in requested
    assert not [url for _, url in requested if re.search(r"brws|BRWS|q=", url)], requested
    expect(page.get_by_test_id("card-balance")).to_have_text("$100.00")
    redeem = page.locator("form[data-action=debit]")
    redeem.get_by_label("Amount").fill("12.50")
    redeem.get_by_label("Order / receipt number").fill("POS-991")
    redeem.get_by_role("button", name="Redeem").click()

    expect(page.locator(".messagelist .success")).to_contain_text(
        "Redeemed $12.50; the balance is now $87.50"
    )
    expect(page.get_by_test_id("card-balance")).to_have_text("$87.50")
    newest = page.locator(".gc-ledger tbody tr").first
    expect(newest).to_contain_text("Debit")
    expect(newest).to_contain_text("-$12.50")
    expect(newest).to_contain_text("$87.50")
    expect(newest).to_contain_text("POS-991")
    expect(newest).to_contain_text(cashier.username)
    expect(page.locator("body")).not_to_contain_text("BRWS-TEST-CARD-0001")
    screenshot(page, "admin-card-redeemed")

    row = BalanceLog.objects.get(card=card, kind="debit")
    assert (row.amount_cents, row.balance_after_cents, row.user_id) == (-1_250, 8_750, cashier.pk)

    # Anything that is not a code (here a reference) is the usual search, in the URL.
    page.get_by_role("navigation", name="Staff menu").get_by_role("link", name="Gift cards").click()
    page.locator("#searchbar").fill("gift-42")
    page.locator("#searchbar").press("Enter")
    expect(page).to_have_url(re.compile(r"/admin/giftcards/giftcard/\?q=gift-42$"))
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#searchbar")).to_have_value("gift-42")

    # A mistyped code: a generic message, and neither the URL nor the page repeats it.
    page.locator("#searchbar").fill("BRWS-TEST-CARD-0009")
    page.locator("#searchbar").press("Enter")
    expect(page.locator(".messagelist .warning")).to_contain_text("No card matches")
    expect(page).to_have_url(re.compile(r"/admin/giftcards/giftcard/$"))
    expect(page.locator("#searchbar")).to_have_value("")
    expect(page.locator("body")).not_to_contain_text("BRWS-TEST")


def test_a_customer_checks_a_balance(page, shop, screenshot):
    issue(shop, balance_cents=4_250, code="CUST-OMER-CARD-7Q2W")

    page.goto("/balance")
    code = page.get_by_label("Gift card code")
    expect(code).to_be_focused()
    code.fill("cust omer card 7q2w")
    page.get_by_role("button", name="Check balance").click()

    result = page.get_by_test_id("card-result")
    expect(result).to_contain_text("****7Q2W")
    expect(page.get_by_test_id("balance")).to_have_text("$42.50")
    expect(page.get_by_test_id("status")).to_have_text("Active")
    expect(page.get_by_test_id("expiry")).to_have_text("No expiry date")
    expect(page.locator("body")).not_to_contain_text("CUST-OMER-CARD")
    screenshot(page, "balance-found")

    page.get_by_label("Gift card code").fill("WRNG-CODE-0000-0000")
    page.get_by_role("button", name="Check balance").click()
    expect(page.get_by_test_id("not-found")).to_contain_text("We could not find a gift card")
    expect(page.get_by_test_id("card-result")).to_have_count(0)
    screenshot(page, "balance-not-found")


def test_the_dashboard_draws_its_chart(page, log_in, staff_user, shop, screenshot):
    manager = staff_user("manager")
    card = issue(shop, balance_cents=20_000, code="DASH-BORD-CARD-0001")
    actor = Actor.for_user(manager)
    services.card_debit(card=card, amount_cents=3_500, actor=actor)
    services.card_debit(card=card, amount_cents=1_500, actor=actor)

    log_in(page, manager)
    page.get_by_role("navigation", name="Staff menu").get_by_role("link", name="Dashboard").click()

    chart = page.get_by_test_id("redeemed-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.gc-chart__bar")).to_have_count(30)
    tallest = chart.locator("rect.gc-chart__bar").last
    assert float(tallest.get_attribute("height")) > 0
    expect(page.get_by_test_id("liability-USD")).to_have_text("$150.00")
    expect(page.locator("figcaption")).to_contain_text("USD: $50.00 redeemed in 30 days.")
    box = chart.bounding_box()
    assert box["width"] > 400 and box["height"] > 100
    screenshot(page, "admin-dashboard")


def test_a_sale_shows_its_code_once_and_a_reload_sells_nothing(
    page, log_in, staff_user, shop, screenshot
):
    from giftcards.models import GiftCard

    cashier = staff_user("cashier")
    log_in(page, cashier)
    menu = page.get_by_role("navigation", name="Staff menu")
    menu.get_by_role("link", name="Sell a card").click()
    page.locator("#id_amount").fill("25")
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.get_by_role("button", name="Sell card").click()

    shown = page.get_by_label("Full gift card code")
    expect(shown).to_be_visible()
    card = GiftCard.objects.get()
    expect(shown).to_have_text(card.code)
    assert "/sold/" in page.url and card.code not in page.url
    screenshot(page, "admin-card-sold")

    page.reload()  # the sold page is a GET: a reload re-sends no sale and shows no code again
    # The admin escapes "_" in ids (as "_5F"), which public ids may hold.
    change_path = re.escape(f"/admin/giftcards/giftcard/{quote(card.pk)}/change/")
    expect(page).to_have_url(re.compile(rf"{change_path}$"))
    expect(page.locator(".messagelist")).to_contain_text("shown once")
    expect(page.locator("body")).not_to_contain_text(card.code)
    assert GiftCard.objects.count() == 1, posts
    assert card.ledger.count() == 1

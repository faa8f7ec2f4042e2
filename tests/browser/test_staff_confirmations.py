"""In a real browser: Deactivate and Delete on a card's page show a confirmation first and
change nothing until it is confirmed; a new API key's page can be reloaded without making a
second key or showing the secret again."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.utils import quote
from playwright.sync_api import expect

from clients.models import ApiKey
from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.models import GiftCard, Status

pytestmark = pytest.mark.django_db(transaction=True)


def issue(shop, **kwargs):
    return services.card_issue(
        tenant=Tenant(business=shop, mode=Mode.LIVE),
        actor=Actor.system("browser"),
        status=Status.ACTIVE,
        **kwargs,
    )


def card_path(card) -> str:
    return f"/admin/giftcards/giftcard/{quote(card.pk)}/change/"


@pytest.mark.parametrize(
    ("action", "button", "named", "done", "changed"),
    [
        (
            "deactivate",
            "Deactivate",
            ("Active", "Inactive"),
            "The card is now inactive.",
            lambda card: card.status == Status.INACTIVE,
        ),
        (
            "delete",
            "Delete card",
            ("Active", "Deleted · Active"),
            "The card is deleted",
            lambda card: card.is_deleted,
        ),
    ],
    ids=["deactivate", "delete"],
)
def test_a_card_action_that_takes_something_away_asks_first(
    action, button, named, done, changed, page, log_in, staff_user, shop, screenshot
):
    manager = staff_user("manager")
    card = issue(shop, balance_cents=4_000, code="CONF-IRMB-ROWS-PQ77")
    before = GiftCard.objects.filter(pk=card.pk).values().get()
    log_in(page, manager)
    page.goto(card_path(card))

    page.locator(f"form[data-action={action}]").get_by_role("button", name=button).click()

    confirm = page.get_by_test_id("confirm-action")
    expect(confirm).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/act/{action}/$"))
    status_row = page.get_by_test_id("confirm-changes").locator("tr[data-change=status]")
    expect(status_row.locator("td").first).to_have_text(named[0])
    expect(status_row.locator("td").last).to_have_text(named[1])
    expect(confirm).to_contain_text("****PQ77")
    expect(page.locator("body")).not_to_contain_text("CONF-IRMB-ROWS-PQ77")
    screenshot(page, f"admin-confirm-{action}")
    assert GiftCard.objects.filter(pk=card.pk).values().get() == before

    page.get_by_role("link", name="Cancel").click()  # back to the card, which is unchanged
    expect(page).to_have_url(re.compile(re.escape(card_path(card)) + "$"))
    assert GiftCard.objects.filter(pk=card.pk).values().get() == before

    page.locator(f"form[data-action={action}]").get_by_role("button", name=button).click()
    page.get_by_role("button", name=re.compile(r"^Confirm: ")).click()

    expect(page).to_have_url(re.compile(re.escape(card_path(card)) + "$"))
    expect(page.locator(".messagelist .success")).to_contain_text(done)
    assert changed(GiftCard.objects.get(pk=card.pk))
    screenshot(page, f"admin-confirmed-{action}")


def test_adjusting_a_balance_shows_before_and_after_and_the_reason(
    page, log_in, staff_user, shop, screenshot
):
    manager = staff_user("manager")
    card = issue(shop, balance_cents=4_000)
    log_in(page, manager)
    page.goto(card_path(card))
    adjust = page.locator("form[data-action=adjust]")
    adjust.get_by_label("New balance").fill("35")
    adjust.get_by_label("Reason").fill("Till miscount on 3 May")

    adjust.get_by_role("button", name="Adjust balance").click()

    balance_row = page.get_by_test_id("confirm-changes").locator("tr[data-change=balance]")
    expect(balance_row).to_contain_text("$40.00")
    expect(balance_row).to_contain_text("$35.00")
    expect(page.get_by_test_id("confirm-reason")).to_have_text("Till miscount on 3 May")
    screenshot(page, "admin-confirm-adjust")
    assert GiftCard.objects.get(pk=card.pk).balance_cents == 4_000

    page.get_by_role("button", name="Confirm: adjust balance").click()

    expect(page.get_by_test_id("card-balance")).to_have_text("$35.00")
    assert card.ledger.get(kind="adjustment").note == "Till miscount on 3 May"


def test_reloading_a_new_api_keys_page_makes_no_second_key(
    page, log_in, staff_user, shop, screenshot
):
    manager = staff_user("manager")
    log_in(page, manager)
    page.goto("/admin/clients/apikey/add/")
    page.get_by_label("Name").fill("front-till")
    page.get_by_role("button", name="Save", exact=True).click()

    secret = page.get_by_test_id("api-key-secret")
    expect(secret).to_be_visible()
    key = ApiKey.objects.get()
    shown = secret.inner_text()
    assert ApiKey.objects.get_from_key(shown).pk == key.pk
    assert re.search(r"/created/$", page.url)
    screenshot(page, "admin-api-key-created")

    page.reload()

    expect(page.get_by_test_id("api-key-secret-shown")).to_contain_text("already shown")
    expect(page.get_by_test_id("api-key-secret")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(shown)
    assert ApiKey.objects.count() == 1
    screenshot(page, "admin-api-key-reloaded")

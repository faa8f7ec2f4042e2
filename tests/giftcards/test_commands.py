"""load_demo and reconcile_ledger, run the way an operator or cron runs them."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.admin.utils import quote
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from clients.models import ApiKey, Business, Client, User
from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.management.commands.load_demo import DEMO_BUSINESS
from giftcards.models import BalanceLog, BalanceTransfer, GiftCard, Market, Status

pytestmark = pytest.mark.django_db


def run(*args, **options) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


def printed_key(output: str, mode: str) -> str:
    return re.search(rf"^\s+{mode}: (\S+)$", output, re.MULTILINE).group(1)


def printed_logins(output: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s+(\S+) / (\S+)\s+\(", output, re.MULTILINE)


def row_counts() -> dict[str, int]:
    models = [Business, User, Client, Market, GiftCard, BalanceLog]
    return {model.__name__: model.objects.count() for model in models}


# ------------------------------------------------------------------ load_demo


@pytest.fixture
def demo(settings):
    """The embedded set-up: DEBUG on, demo data loaded once; returns its stdout."""
    settings.DEBUG = True
    return run("load_demo")[0]


def test_load_demo_refuses_with_debug_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        run("load_demo")
    assert not Business.objects.exists()

    run("load_demo", "--force")

    assert Business.objects.filter(name=DEMO_BUSINESS).exists()


def test_load_demo_twice_duplicates_nothing(demo):
    before = row_counts()
    assert before["GiftCard"] > 0
    assert before["Client"] > 0

    output, _ = run("load_demo")

    assert row_counts() == before
    assert f"{before['GiftCard']} cards" in output


def test_demo_business_has_a_card_in_every_status_plus_deleted_and_expired(demo):
    business = Business.objects.get(name=DEMO_BUSINESS)
    cards = GiftCard.objects.filter(business=business, mode=Mode.LIVE)

    assert set(cards.values_list("status", flat=True)) == set(Status.values)
    assert cards.filter(deleted_at__isnull=False).exists()
    assert any(card.is_expired() for card in cards)
    assert cards.usable().exists()


def test_demo_data_reconciles_with_its_ledger(demo):
    output, _ = run("reconcile_ledger", "--no-progress")

    count = GiftCard.objects.count()
    assert f"Checked {count} cards: {count} reconcile, 0 differ." in output


def test_printed_live_key_authenticates_as_the_demo_business(demo):
    api_key = ApiKey.objects.get_from_key(printed_key(demo, "live"))

    assert api_key.business.name == DEMO_BUSINESS
    assert api_key.mode == Mode.LIVE
    assert not api_key.has_expired


def test_printed_test_key_is_a_test_mode_key(demo):
    api_key = ApiKey.objects.get_from_key(printed_key(demo, "test"))

    assert (api_key.business.name, api_key.mode) == (DEMO_BUSINESS, Mode.TEST)


@pytest.mark.urls("tests.clients.urls")
def test_printed_live_key_lists_the_demo_cards_over_http(demo):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {printed_key(demo, 'live')}")

    response = client.get("/cards")

    assert response.status_code == 200, response.content
    business = Business.objects.get(name=DEMO_BUSINESS)
    expected = GiftCard.objects.filter(business=business, mode=Mode.LIVE)
    assert set(response.json()["ids"]) == set(expected.values_list("pk", flat=True))


def test_rerun_prints_a_new_key_and_revokes_the_old_one(demo):
    first = printed_key(demo, "live")

    second = printed_key(run("load_demo")[0], "live")

    assert second != first
    assert ApiKey.objects.get_from_key(second).business.name == DEMO_BUSINESS
    assert ApiKey.objects.get(prefix=first.partition(".")[0]).revoked


def test_printed_staff_logins_work(demo):
    logins = printed_logins(demo)
    assert len(logins) >= 2

    business = Business.objects.get(name=DEMO_BUSINESS)
    for username, password in logins:
        user = User.objects.get(username=username)
        assert user.check_password(password), username
        assert user.is_staff and user.is_active
        assert user.is_superuser or user.business == business


def test_each_printed_staff_login_can_work_in_the_admin(demo, client):
    """A demo login that opens the admin must see the demo cards, not an empty page."""
    business = Business.objects.get(name=DEMO_BUSINESS)
    one_card = GiftCard.objects.filter(business=business, deleted_at__isnull=True).first()
    roles = dict(re.findall(r"^\s+(\S+) / \S+\s+\((\w+)", demo, re.MULTILINE))
    assert {"viewer", "cashier", "manager"} <= set(roles.values())

    for username, password in printed_logins(demo):
        login = client.post("/admin/login/", {"username": username, "password": password})
        assert login.status_code == 302, username
        changelist = client.get("/admin/giftcards/giftcard/")
        page = client.get(f"/admin/giftcards/giftcard/{quote(one_card.pk)}/change/")
        assert changelist.status_code == 200, username
        assert page.status_code == 200, username
        assert one_card.code_last4 in changelist.content.decode(), username
        client.logout()


def test_printed_logins_still_work_after_a_second_run(demo):
    output, _ = run("load_demo")

    for username, password in printed_logins(output):
        assert User.objects.get(username=username).check_password(password)


# ------------------------------------------------------------------ reconcile_ledger


def test_reconcile_clean_ledger_exits_normally_with_a_summary(make_card):
    card = make_card(balance_cents=5_000)
    make_card(balance_cents=0)

    services.card_debit(card=card, amount_cents=1_999, actor=Actor.system())

    output, _ = run("reconcile_ledger", "--no-progress")

    assert output.strip() == "Checked 2 cards: 2 reconcile, 0 differ."


def test_reconcile_with_no_cards():
    output, _ = run("reconcile_ledger")

    assert output.strip() == "Checked 0 cards: 0 reconcile, 0 differ."


def test_reconcile_lists_a_card_whose_cached_balance_was_corrupted(make_card):
    good = make_card(balance_cents=5_000)
    bad = make_card(balance_cents=5_000)
    GiftCard.objects.filter(pk=bad.pk).update(balance_cents=4_000)

    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 card"):
        call_command("reconcile_ledger", "--no-progress", stdout=stdout, stderr=stderr)

    output = stdout.getvalue()
    assert "Checked 2 cards: 1 reconcile, 1 differ." in output
    assert bad.pk in output
    assert good.pk not in output
    assert "balance 4000 but ledger sum 5000" in output
    assert bad.code not in output  # codes are masked outside the APIs


def test_reconcile_flags_a_changed_initial_balance(make_card):
    bad = make_card(balance_cents=5_000)
    GiftCard.objects.filter(pk=bad.pk).update(initial_balance_cents=6_000)

    stdout = io.StringIO()
    with pytest.raises(CommandError):
        call_command("reconcile_ledger", "--no-progress", stdout=stdout, stderr=io.StringIO())

    assert bad.pk in stdout.getvalue()


def test_reconcile_can_be_limited_to_one_business(make_card, other_business, actor):
    make_card()
    bad = make_card(tenant=Tenant(business=other_business, mode=Mode.LIVE), actor=actor)
    GiftCard.objects.filter(pk=bad.pk).update(balance_cents=1)
    mine = GiftCard.objects.exclude(pk=bad.pk).get().business_id

    output, _ = run("reconcile_ledger", f"--business={mine}", "--no-progress")

    assert output.strip() == "Checked 1 cards: 1 reconcile, 0 differ."
    with pytest.raises(CommandError):
        run("reconcile_ledger", f"--business={other_business.pk}", "--no-progress")


def test_reconcile_progress_bar_redraws_in_place(make_card):
    for _ in range(3):
        make_card()

    stdout, stderr = run("reconcile_ledger")

    assert "Checked 3 cards: 3 reconcile, 0 differ." in stdout
    assert "3/3" in stderr
    # tqdm redraws with "\r"; a newline after every redraw would scroll a terminal full of bars.
    assert stderr.count("\n") <= 1, repr(stderr)


def test_reconcile_passes_cards_that_moved_money_between_them(make_card, tenant):
    source, target = make_card(balance_cents=5_000), make_card(balance_cents=1_000)
    services.card_transfer(
        tenant=tenant, actor=Actor.system(), source=source, target=target, amount_cents=2_500
    )

    output, _ = run("reconcile_ledger", "--no-progress")

    assert output.strip() == "Checked 2 cards: 2 reconcile, 0 differ."


def test_reconcile_lists_a_transfer_without_its_two_ledger_rows(make_card, tenant):
    source, target = make_card(balance_cents=5_000), make_card(balance_cents=1_000)
    half = BalanceTransfer.objects.create(
        business=tenant.business,
        mode=tenant.mode,
        source=source,
        target=target,
        amount_cents=100,
        currency_code="USD",
    )

    stdout = io.StringIO()
    with pytest.raises(CommandError, match="1 transfer"):
        call_command("reconcile_ledger", "--no-progress", stdout=stdout, stderr=io.StringIO())

    assert f"transfer {half.pk}: 0 ledger row(s)" in stdout.getvalue()


def test_reconcile_reports_broken_transfers_even_when_a_card_differs(make_card, tenant):
    source, target = make_card(balance_cents=5_000), make_card(balance_cents=1_000)
    GiftCard.objects.filter(pk=source.pk).update(balance_cents=4_000)
    half = BalanceTransfer.objects.create(
        business=tenant.business,
        mode=tenant.mode,
        source=source,
        target=target,
        amount_cents=100,
        currency_code="USD",
    )

    stdout = io.StringIO()
    with pytest.raises(CommandError, match=r"1 card.*1 transfer"):
        call_command("reconcile_ledger", "--no-progress", stdout=stdout, stderr=io.StringIO())

    assert source.pk in stdout.getvalue() and half.pk in stdout.getvalue()

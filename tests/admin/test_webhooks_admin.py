"""Webhooks in the admin: managers only, their own business only; saves, deletes and the
disable/enable/reset actions go through giftcards.events.webhooks, whose refusals show next
to their field with nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from giftcards import services
from giftcards.admin.webhooks import CALLBACKS_ON_PAGE, SECRET_REVEALED
from giftcards.events import work
from giftcards.models import CircuitState, Delivery, EventCallback, Webhook
from tests.network_guard import stub_resolver


@pytest.fixture
def manager(make_staff):
    return make_staff("manager")


@pytest.fixture
def b_manager(make_staff, other_business):
    return make_staff("manager", business=other_business, username="b-manager")


@pytest.fixture
def hook(make_webhook):
    return make_webhook("gift_cards.balance_change", name="Till sync")


@pytest.fixture
def b_hook(make_webhook, other_tenant):
    return make_webhook("gift_cards.redeem", name="Other shop hook", tenant=other_tenant)


def url(view: str, *args) -> str:
    return reverse(f"admin:giftcards_webhook_{view}", args=args)


def texts(response, level: str) -> list[str]:
    return [str(m) for m in response.context["messages"] if m.level_tag == level]


def field_errors(response) -> dict[str, list[str]]:
    return {name: list(errs) for name, errs in response.context["adminform"].form.errors.items()}


def listed(response) -> list[Webhook]:
    return list(response.context["cl"].result_list)


def new_webhook(**fields) -> dict:
    return {
        "mode": "live",
        "name": "Till",
        "topic": "gift_cards.redeem",
        "reference": "",
        "reference_origin": "",
        "metadata": "{}",
        "_save": "Save",
        **fields,
    }


def changed_webhook(hook: Webhook, **fields) -> dict:
    return {
        "name": hook.name,
        "topic": hook.topic,
        "callback_url": hook.callback_url,
        "reference": hook.reference,
        "reference_origin": hook.reference_origin,
        "metadata": "{}",
        "_save": "Save",
        **fields,
    }


# ---------------------------------------------------------------------------- who


@pytest.mark.parametrize("role", [None, "viewer", "cashier"])
def test_only_managers_open_webhook_pages(role, make_staff, login, hook):
    client = login(make_staff(role))

    for target in (url("changelist"), url("add"), url("change", hook.pk), url("delete", hook.pk)):
        assert client.get(target).status_code == 403, target
    for target in (url("act", hook.pk, "disable"), url("reveal", hook.pk)):
        assert client.post(target).status_code == 403, target
    hook.refresh_from_db()
    assert not hook.is_disabled
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "cashier"])
def test_webhooks_are_not_in_the_menu_of_viewers_and_cashiers(role, make_staff, login):
    html = login(make_staff(role)).get(reverse("admin:index")).content.decode()

    assert url("changelist") not in html
    assert reverse("admin:giftcards_eventcallback_changelist") not in html
    assert reverse("admin:giftcards_delivery_changelist") not in html


def test_managers_find_webhooks_callbacks_and_deliveries_in_the_menu(manager, login):
    html = login(manager).get(reverse("admin:index")).content.decode()

    assert f'<a href="{url("changelist")}">Webhooks</a>' in html  # the staff menu
    assert reverse("admin:giftcards_eventcallback_changelist") in html
    assert reverse("admin:giftcards_delivery_changelist") in html


def test_a_manager_opens_the_list_the_form_and_a_page(manager, login, hook):
    client = login(manager)

    for target in (url("changelist"), url("add"), url("change", hook.pk)):
        assert client.get(target).status_code == 200, target


# ---------------------------------------------------------------------------- the list


def test_the_list_shows_the_webhooks_state(manager, login, hook):
    Webhook.objects.filter(pk=hook.pk).update(circuit_state="open", circuit_failure_count=30)

    response = login(manager).get(url("changelist"))

    html = response.content.decode()
    assert listed(response) == [hook]
    for shown in ("Till sync", "gift_cards.balance_change", hook.callback_url, "Open", "30"):
        assert shown in html


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"topic": "gift_cards.redeem"}, ["Redemptions"]),
        ({"circuit_state__exact": "open"}, ["Broken"]),
        ({"disabled": "yes"}, ["Paused"]),
        ({"disabled": "no"}, ["Broken", "Redemptions", "Till sync"]),
        ({"q": "redemptions"}, ["Redemptions"]),
        ({"q": "/paused"}, ["Paused"]),
    ],
)
def test_the_list_filters_and_searches(query, names, manager, login, make_webhook, receiver, actor):
    make_webhook(name="Till sync")
    make_webhook("gift_cards.redeem", name="Redemptions")
    broken = make_webhook(name="Broken")
    Webhook.objects.filter(pk=broken.pk).update(circuit_state=CircuitState.OPEN)
    paused = make_webhook(name="Paused", callback_url=f"{receiver.url}/paused")
    Webhook.objects.filter(pk=paused.pk).update(disabled_at=timezone.now())

    response = login(manager).get(url("changelist"), query)

    assert sorted(hook.name for hook in listed(response)) == names


def test_the_list_reads_the_same_number_of_queries_for_more_webhooks(manager, login, make_webhook):
    client = login(manager)
    make_webhook(name="one")
    client.get(url("changelist"))  # warm: sessions, content types
    with CaptureQueriesContext(connection) as one:
        client.get(url("changelist"))
    for n in range(4):
        make_webhook(name=f"more {n}")
    with CaptureQueriesContext(connection) as five:
        response = client.get(url("changelist"))

    assert len(listed(response)) == 5
    assert len(five) == len(one)


# ---------------------------------------------------------------------------- add and change


def test_a_manager_adds_a_webhook_of_their_business_with_a_secret(
    manager, login, business, receiver, loopback_http
):
    response = login(manager).post(url("add"), new_webhook(callback_url=receiver.url))

    assert response.status_code == 302
    hook = Webhook.objects.get()
    assert (hook.business_id, hook.mode, hook.name) == (business.pk, "live", "Till")
    assert (hook.topic, hook.callback_url) == ("gift_cards.redeem", receiver.url)
    assert hook.shared_secret.startswith("whsec_")


def test_the_business_of_a_new_webhook_is_the_managers_whatever_is_posted(
    manager, login, business, other_business, receiver, loopback_http
):
    login(manager).post(
        url("add"), new_webhook(callback_url=receiver.url, business=other_business.pk)
    )

    assert Webhook.objects.get().business_id == business.pk


@pytest.mark.parametrize(
    ("callback_url", "reason"),
    [
        ("http://10.1.2.3/hooks", "10.1.2.3 is a private address"),
        ("https://intranet.example.com/hooks", "10.0.0.7 is a private address"),
        ("https://meta.example.com/latest", "169.254.169.254 is a link-local address"),
        ("http://hooks.example.com/hooks", "starts with https://"),
        ("https://nowhere.example.com/hooks", "does not resolve"),
        ("ftp://hooks.example.com/", "starts with https://"),
    ],
)
def test_a_refused_callback_url_shows_why_next_to_it_and_nothing_is_written(
    callback_url, reason, manager, login
):
    names = {
        "intranet.example.com": ["10.0.0.7"],
        "meta.example.com": ["169.254.169.254"],
        "hooks.example.com": ["93.184.216.34"],
    }
    with stub_resolver(names):
        response = login(manager).post(url("add"), new_webhook(callback_url=callback_url))

    assert response.status_code == 200
    errors = field_errors(response)
    assert list(errors) == ["callback_url"]
    assert reason in errors["callback_url"][0]
    assert not Webhook.objects.exists()


def test_a_public_https_callback_url_is_accepted(manager, login):
    with stub_resolver({"hooks.example.com": ["93.184.216.34"]}):
        response = login(manager).post(
            url("add"), new_webhook(callback_url="https://hooks.example.com/giftcards")
        )

    assert response.status_code == 302
    assert Webhook.objects.get().callback_url == "https://hooks.example.com/giftcards"


def test_the_topic_is_a_choice_of_the_known_topics(manager, login, receiver, loopback_http):
    client = login(manager)

    page = client.get(url("add")).content.decode()
    response = client.post(
        url("add"), new_webhook(callback_url=receiver.url, topic="gift_cards.explode")
    )

    assert '<option value="gift_card_recipients.create">' in page
    assert list(field_errors(response)) == ["topic"]
    assert not Webhook.objects.exists()


def test_includes_the_topic_cannot_carry_are_refused_next_to_them(
    manager, login, receiver, loopback_http
):
    response = login(manager).post(
        url("add"),
        new_webhook(
            callback_url=receiver.url,
            topic="gift_card_recipients.create",
            include_resources=["market"],
        ),
    )

    assert list(field_errors(response)) == ["include_resources"]
    assert not Webhook.objects.exists()


def test_a_manager_changes_a_webhook_through_the_service(manager, login, hook, receiver):
    secret = hook.shared_secret

    response = login(manager).post(
        url("change", hook.pk),
        changed_webhook(
            hook,
            name="Till sync v2",
            callback_url=f"{receiver.url}/v2",
            include_resources=["market", "tags"],
        ),
    )

    assert response.status_code == 302
    hook.refresh_from_db()
    assert (hook.name, hook.callback_url) == ("Till sync v2", f"{receiver.url}/v2")
    assert hook.include_resources == ["market", "tags"]
    assert hook.shared_secret == secret  # never changes


def test_a_refused_change_shows_why_and_changes_nothing(manager, login, hook):
    before = Webhook.objects.values().get(pk=hook.pk)

    response = login(manager).post(
        url("change", hook.pk),
        changed_webhook(hook, name="renamed", callback_url="http://192.168.1.20/hooks"),
    )

    assert response.status_code == 200
    assert "192.168.1.20 is a private address" in field_errors(response)["callback_url"][0]
    assert Webhook.objects.values().get(pk=hook.pk) == before


# ---------------------------------------------------------------------------- the secret


def test_the_page_shows_the_secret_masked_but_its_last_4(manager, login, hook):
    html = login(manager).get(url("change", hook.pk)).content.decode()

    secret = hook.shared_secret
    assert f"****{secret[-4:]}" in html
    assert secret not in html
    assert secret[6:-4] not in html  # nothing of its random part but the last 4


def test_revealing_the_secret_is_recorded_and_never_cached(manager, login, hook):
    client = login(manager)

    response = client.post(url("reveal", hook.pk))

    assert response.status_code == 200
    assert hook.shared_secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    entry = LogEntry.objects.get()
    assert (entry.user_id, entry.object_id, entry.change_message) == (
        manager.pk,
        str(hook.pk),
        SECRET_REVEALED,
    )
    assert client.get(url("reveal", hook.pk)).status_code == 405  # a link cannot reveal it


# ---------------------------------------------------------------------------- actions


def test_disable_then_enable_from_the_page(manager, login, hook):
    client = login(manager)

    page = client.get(url("change", hook.pk)).content.decode()
    disabled = client.post(url("act", hook.pk, "disable"), follow=True)

    assert 'data-action="disable"' in page and 'data-action="enable"' not in page
    hook.refresh_from_db()
    assert hook.is_disabled
    assert disabled.redirect_chain == [(url("change", hook.pk), 302)]
    assert texts(disabled, "success") == [
        "Disabled 1 webhook(s): pending deliveries wait, and events make no deliveries for it "
        "until it is enabled again."
    ]
    assert 'data-action="enable"' in disabled.content.decode()

    enabled = client.post(url("act", hook.pk, "enable"), follow=True)

    hook.refresh_from_db()
    assert not hook.is_disabled
    assert texts(enabled, "success") == ["Enabled 1 webhook(s): what waited is sent now."]
    assert LogEntry.objects.filter(object_id=str(hook.pk)).count() == 2


def test_a_disabled_webhook_is_not_called_for_what_happens_meanwhile(
    manager, login, hook, make_card, receiver
):
    client = login(manager)
    client.post(url("act", hook.pk, "disable"))
    make_card()
    work.drain()
    client.post(url("act", hook.pk, "enable"))
    work.drain()

    assert receiver.received == []


def test_reset_circuit_closes_it_and_makes_what_waited_due(manager, login, hook, make_card):
    make_card()  # its issue makes a delivery for the hook
    work.fan_out(lambda kind, ids, token: None)  # fanned out, not called
    later = timezone.now() + timedelta(hours=3)
    Delivery.objects.update(next_attempt_at=later, lease_token="", leased_until=None)
    Webhook.objects.filter(pk=hook.pk).update(circuit_state="open", circuit_failure_count=30)

    response = login(manager).post(url("act", hook.pk, "reset_circuit"), follow=True)

    hook.refresh_from_db()
    assert (hook.circuit_state, hook.circuit_failure_count) == ("closed", 0)
    assert Delivery.objects.get().next_attempt_at <= timezone.now()
    assert texts(response, "success") == [
        "Reset the circuit of 1 webhook(s): what waited is sent now."
    ]


def test_page_actions_answer_only_post(manager, login, hook):
    response = login(manager).get(url("act", hook.pk, "disable"))

    assert response.status_code == 405
    hook.refresh_from_db()
    assert not hook.is_disabled


def test_an_unknown_page_action_is_a_404(manager, login, hook):
    assert login(manager).post(url("act", hook.pk, "explode")).status_code == 404


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("disable_webhooks", {}, {"disabled_at__isnull": False}),
        ("enable_webhooks", {"disabled_at": timezone.now()}, {"disabled_at__isnull": True}),
        (
            "reset_circuit_webhooks",
            {"circuit_state": "open", "circuit_failure_count": 30},
            {"circuit_state": "closed", "circuit_failure_count": 0},
        ),
    ],
)
def test_list_actions_change_the_selected_webhooks_of_the_business_only(
    action, before, after, manager, login, make_webhook, b_hook
):
    ours = [make_webhook(name="one"), make_webhook(name="two")]
    Webhook.objects.update(**before)

    response = login(manager).post(
        url("changelist"),
        {"action": action, "_selected_action": [hook.pk for hook in [*ours, b_hook]]},
    )

    assert response.status_code == 302
    assert set(Webhook.objects.filter(**after)) == set(ours)


# ---------------------------------------------------------------------------- the calls


def test_the_page_shows_the_latest_calls_newest_first_in_the_business_zone(
    manager, login, business, hook, make_card, actor, receiver
):
    business.timezone = "Asia/Tokyo"
    business.save()
    card = make_card(balance_cents=5_000)
    for _ in range(CALLBACKS_ON_PAGE + 1):
        services.card_debit(card=card, amount_cents=1, actor=actor)
    receiver.plan.statuses = [200, 500]  # the first call succeeds, every later one fails
    work.drain()
    newest = list(EventCallback.objects.order_by("-created_at", "-id")[:CALLBACKS_ON_PAGE])

    response = login(manager).get(url("change", hook.pk))

    rows = response.context["callbacks"]
    assert [row["callback"] for row in rows] == newest
    assert EventCallback.objects.count() > CALLBACKS_ON_PAGE
    html = response.content.decode()
    assert "times in Asia/Tokyo" in html
    first = timezone.localtime(newest[0].created_at, business.tzinfo)
    assert rows[0]["time"] == first.strftime("%Y-%m-%d %H:%M:%S JST")
    assert rows[0]["time"] in html
    assert "500" in html and "ms</td>" in html
    assert card.code not in html


# ---------------------------------------------------------------------------- deleting


def test_deleting_a_webhook_removes_its_deliveries_and_calls(manager, login, hook, make_card):
    make_card()
    work.drain()
    client = login(manager)

    confirm = client.get(url("delete", hook.pk))
    response = client.post(url("delete", hook.pk), {"post": "yes"})

    assert confirm.status_code == 200
    assert dict(confirm.context["model_count"]) == {
        "webhooks": 1,
        "deliveries": 1,
        "event callbacks": 1,
    }
    assert response.status_code == 302
    assert not Webhook.objects.exists()
    assert not Delivery.objects.exists() and not EventCallback.objects.exists()


def test_deleting_selected_webhooks_spares_another_business(manager, login, hook, b_hook):
    response = login(manager).post(
        url("changelist"),
        {"action": "delete_selected", "_selected_action": [hook.pk, b_hook.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert list(Webhook.objects.all()) == [b_hook]


# ---------------------------------------------------------------------------- scoping


def test_another_business_cannot_reach_a_webhook(b_manager, login, hook):
    client = login(b_manager)

    for target in (url("change", hook.pk), url("delete", hook.pk), url("history", hook.pk)):
        assert client.get(target).status_code == 404, target
    for target in (url("act", hook.pk, "disable"), url("reveal", hook.pk)):
        assert client.post(target).status_code == 404, target
    assert client.post(url("change", hook.pk), changed_webhook(hook, name="x")).status_code == 404
    assert client.post(url("delete", hook.pk), {"post": "yes"}).status_code == 404
    hook.refresh_from_db()
    assert (hook.name, hook.is_disabled) == ("Till sync", False)
    assert not LogEntry.objects.exists()


def test_another_business_neither_lists_nor_finds_a_webhook(b_manager, login, hook, b_hook):
    client = login(b_manager)

    assert listed(client.get(url("changelist"))) == [b_hook]
    assert listed(client.get(url("changelist"), {"q": "Till"})) == []
    assert listed(client.get(url("changelist"), {"q": "127.0.0.1"})) == [b_hook]


def test_a_superuser_sees_every_business(superuser, login, hook, b_hook):
    response = login(superuser).get(url("changelist"))

    assert set(listed(response)) == {hook, b_hook}

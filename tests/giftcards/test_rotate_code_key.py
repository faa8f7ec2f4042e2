"""`manage.py rotate_code_key` and lookups while old code keys are configured: cards made
under key A stay readable and findable under [B, A], the rotation moves them to B (also when
stopped half-way and run again), and afterwards B alone reads and finds every one."""

from __future__ import annotations

import importlib
import io
import threading

import pytest
from django.apps import apps
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import close_old_connections, connection, transaction
from django.test import Client as HttpClient
from django.urls import reverse

from clients.models import User
from giftcards import code_keys, codes, services
from giftcards.events import webhooks, work
from giftcards.models import EventCallback, GiftCard, Webhook
from tests.giftcards.jsonapi.conftest import JsonApiClient, resource

KEY_A = "code-key-a-" + "a" * 40
KEY_B = "code-key-b-" + "b" * 40
KEY_Z = "code-key-z-" + "z" * 40
CODES = [
    "ROTA-TE7K-QM2X",
    "BOOK-CLUB-4827",
    "COFFEE-LOVER-93",
    "SPRING-SALE-2025",
    "K7QM-X2PD-9RTA",
    "GIFT-FOR-MUM-58",
    "WINTER-GIFT-3Q",
]

roles_migration = importlib.import_module("clients.migrations.0003_staff_roles")


def use_keys(settings, current: str, *old: str) -> None:
    settings.GIFTCARD_CODE_KEY = current
    settings.GIFTCARD_CODE_OLD_KEYS = list(old)


def rotate(*args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("rotate_code_key", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def under_current_key(card_id: str) -> bool:
    code_hash, token = GiftCard.objects.values_list("code_hash", "code_encrypted").get(pk=card_id)
    code, current = codes.decrypt_noting_key(token)
    return current and code_hash == codes.lookup_hash(code)


@pytest.fixture
def manager(business, db):
    """A logged-in admin client of a manager of `business`."""
    roles_migration.create_roles(apps)
    user = User.objects.create_user(username="rotation-manager", is_staff=True, business=business)
    user.groups.add(Group.objects.get(name="manager"))
    client = HttpClient()
    client.force_login(user)
    return client


@pytest.fixture
def api(api_key):
    return JsonApiClient(api_key[1])


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def assert_found_everywhere(code: str, card_id: str, api, manager, business) -> None:
    """The card is found by its code through every lookup, and its code reads back."""
    assert GiftCard.objects.for_business(business).by_code(code.lower()).get().pk == card_id
    by_filter = api.get("/api/gift_cards", {"filter[code]": code})
    assert [item["id"] for item in by_filter.doc["data"]] == [card_id]
    assert by_filter.doc["data"][0]["attributes"]["code"] == code
    by_ransack = api.get("/api/gift_cards", {"filter[q][code_in]": f"{code},NOPE-NOPE-NOPE"})
    assert [item["id"] for item in by_ransack.doc["data"]] == [card_id]
    balance = HttpClient().post(reverse("balance-check"), {"code": code.lower()})
    assert GiftCard.objects.get(pk=card_id).masked_code in balance.content.decode()
    found = manager.post(reverse("admin:giftcards_giftcard_find"), {"q": code})
    assert found["Location"] == reverse("admin:giftcards_giftcard_change", args=[quote(card_id)])
    cache.clear()  # the lookups above count against the code-lookup throttles


def test_rotation_story_old_key_cards_stay_usable_and_end_under_the_new_key(
    settings, make_card, api, manager, business, monkeypatch
):
    use_keys(settings, KEY_A)
    cards = {code: make_card(code=code).pk for code in CODES}
    body = resource("gift_cards", {"balance_cents": 700, "code": "KEYED-CARD-7QX"})
    keyed = api.post("/api/gift_cards", body, **{"Idempotency-Key": "order-1"})
    assert keyed.status_code == 201
    cards["KEYED-CARD-7QX"] = keyed.doc["data"]["id"]

    # [B, A]: everything made under A still reads and is found, a new card is made under B.
    use_keys(settings, KEY_B, KEY_A)
    for code, card_id in cards.items():
        assert_found_everywhere(code, card_id, api, manager, business)
    replay = api.post("/api/gift_cards", body, **{"Idempotency-Key": "order-1"})
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == keyed.content
    taken = api.post(
        "/api/gift_cards", resource("gift_cards", {"balance_cents": 1, "code": CODES[0]})
    )
    assert taken.status_code == 409
    assert taken.doc["errors"][0]["code"] == "RECORD_NOT_UNIQUE"
    assert taken.doc["errors"][0]["meta"]["error"] == "duplicate_code"
    fresh = make_card(code="NEW-UNDER-B-4QZ")
    assert under_current_key(fresh.pk)
    assert not any(under_current_key(card_id) for card_id in cards.values())

    out, _ = rotate("--dry-run", "--no-progress")
    assert "Dry run: nothing was written." in out
    assert f"Gift cards: {len(cards) + 1} checked, {len(cards)} to re-encrypt, 1 already" in out
    assert "Idempotency records: 1 checked, 1 to re-encrypt, 0 already" in out
    assert not any(under_current_key(card_id) for card_id in cards.values())

    # Stopped half-way: the fault strikes in the second batch of three cards.
    real_encrypt, calls = codes.encrypt, []

    def failing_encrypt(text):
        calls.append(text)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_encrypt(text)

    monkeypatch.setattr(codes, "encrypt", failing_encrypt)
    with pytest.raises(KeyboardInterrupt):
        rotate("--batch-size", "3", "--no-progress")
    monkeypatch.setattr(codes, "encrypt", real_encrypt)
    first_batch = sorted([*cards.values(), fresh.pk])[:3]
    moved = [card_id for card_id in cards.values() if under_current_key(card_id)]
    assert sorted(moved) == [card_id for card_id in first_batch if card_id != fresh.pk]
    for code, card_id in cards.items():
        assert_found_everywhere(code, card_id, api, manager, business)

    out, err = rotate("--batch-size", "3")
    assert f"Gift cards: {len(cards) + 1} checked, {len(cards) - len(moved)} re-encrypted" in out
    assert f"{len(moved) + 1} already under the current key" in out
    assert "Idempotency records: 1 checked, 1 re-encrypted, 0 already" in out
    assert "Everything is under the current key: GIFTCARD_CODE_OLD_KEYS can be emptied." in out
    assert "re-encrypting cards" in err  # the progress bar
    assert all(under_current_key(card_id) for card_id in cards.values())

    # B alone: every code decrypts and is found; the keyed create still replays.
    use_keys(settings, KEY_B)
    for code, card_id in cards.items():
        assert GiftCard.objects.get(pk=card_id).code == code
        assert_found_everywhere(code, card_id, api, manager, business)
    replay = api.post("/api/gift_cards", body, **{"Idempotency-Key": "order-1"})
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == keyed.content
    with pytest.raises(CommandError, match="No old code keys"):
        rotate()


def test_rotation_refuses_rows_no_key_opens_and_writes_nothing(settings, make_card):
    use_keys(settings, KEY_A)
    readable = [make_card(code=code).pk for code in CODES[:3]]
    use_keys(settings, KEY_Z)
    stray = make_card(code="STRAY-CARD-8K2W")
    use_keys(settings, KEY_B, KEY_A)
    before = dict(GiftCard.objects.values_list("pk", "code_encrypted"))

    for args in ((), ("--dry-run",)):
        stderr = io.StringIO()
        with pytest.raises(CommandError, match="1 rows cannot be decrypted"):
            call_command("rotate_code_key", *args, stdout=io.StringIO(), stderr=stderr)
        assert f"gift card {stray.pk} (****8K2W, business {stray.business_id})" in (
            stderr.getvalue()
        )
        assert "STRAY-CARD" not in stderr.getvalue()

    assert dict(GiftCard.objects.values_list("pk", "code_encrypted")) == before
    assert not any(under_current_key(card_id) for card_id in readable)


def test_rotation_refuses_a_code_that_would_equal_another_cards_and_writes_nothing(
    settings, make_card
):
    """Two cards of one business with one code, written under two keys (issued while the old
    key was not configured): re-hashing would break the one-code-per-business rule."""
    use_keys(settings, KEY_A)
    old = make_card(code=CODES[0])
    others = [make_card(code=code).pk for code in CODES[1:4]]
    use_keys(settings, KEY_B)
    make_card(code=CODES[0].lower())
    use_keys(settings, KEY_B, KEY_A)
    stderr = io.StringIO()

    with pytest.raises(CommandError, match="equal the code of another card"):
        call_command("rotate_code_key", stdout=io.StringIO(), stderr=stderr)

    assert f"gift card {old.pk} (****QM2X, business {old.business_id})" in stderr.getvalue()
    assert not under_current_key(old.pk)
    assert not any(under_current_key(card_id) for card_id in others)  # its batch, rolled back


def test_rotation_refuses_to_run_without_old_keys(settings, make_card):
    use_keys(settings, KEY_B)
    make_card(code=CODES[0])
    with pytest.raises(CommandError, match="No old code keys are configured"):
        rotate()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_debit_during_rotation_keeps_its_balance(settings, tenant, actor):
    """The rotation writes only the code columns: a debit that holds the card's lock while
    the rotation reaches it is waited for, and its balance survives."""
    use_keys(settings, KEY_A)
    card = services.card_issue(
        tenant=tenant, actor=actor, balance_cents=10_000, status="active", code=CODES[0]
    )
    use_keys(settings, KEY_B, KEY_A)
    locked, release = threading.Event(), threading.Event()
    failures = []

    def debit():
        try:
            with transaction.atomic():
                services.card_debit(card=card.pk, tenant=tenant, actor=actor, amount_cents=2_500)
                locked.set()
                release.wait(10)  # the rotation's update waits for this lock meanwhile
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)
            locked.set()
        finally:
            close_old_connections()
            connection.close()

    worker = threading.Thread(target=debit)
    worker.start()
    assert locked.wait(10)
    rotation = threading.Thread(target=lambda: (rotate("--no-progress"), connection.close()))
    rotation.start()
    rotation.join(1)
    assert rotation.is_alive(), "the rotation did not wait for the debit's lock"
    release.set()
    worker.join(10)
    rotation.join(20)

    assert not failures
    card.refresh_from_db()
    assert card.balance_cents == 7_500
    assert sum(card.ledger.values_list("amount_cents", flat=True)) == 7_500
    assert under_current_key(card.pk)
    use_keys(settings, KEY_B)
    assert GiftCard.objects.get(pk=card.pk).code == CODES[0]


def test_rotation_does_not_clear_old_keys_when_a_row_was_written_under_one_meanwhile(
    settings, make_card, monkeypatch
):
    """A server still deployed with the old key as its current one issues a card while the
    rotation runs: the run says to run again instead of saying the old keys can go."""
    use_keys(settings, KEY_A)
    make_card(code=CODES[0])
    use_keys(settings, KEY_B, KEY_A)
    rotate_for_real = code_keys.code_key_rotate

    def rotation_with_a_stale_server(*args, **kwargs):
        done = rotate_for_real(*args, **kwargs)
        use_keys(settings, KEY_A)
        make_card(code=CODES[1])  # the stale server's sale
        use_keys(settings, KEY_B, KEY_A)
        return done

    monkeypatch.setattr(code_keys, "code_key_rotate", rotation_with_a_stale_server)

    with pytest.raises(CommandError, match="Old keys are still in use"):
        rotate("--no-progress")

    monkeypatch.undo()  # the stale server is redeployed with the new key
    out, _ = rotate("--no-progress")  # the run again: now everything is under the new key
    assert "GIFTCARD_CODE_OLD_KEYS can be emptied" in out


def test_webhook_secrets_and_callback_payloads_move_to_the_new_key_unchanged(
    settings, tenant, actor, make_card
):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    use_keys(settings, KEY_A)
    hook = webhooks.webhook_create(
        tenant=tenant, actor=actor, topic="gift_cards.create", callback_url="http://127.0.0.1:9/x"
    )
    secret = hook.shared_secret
    card = make_card(code=CODES[0])
    work.drain()  # nothing listens on port 9: a failed call, recorded with its payload
    callback = EventCallback.objects.get()
    payload = codes.decrypt(callback.payload_encrypted)
    assert CODES[0] in payload

    use_keys(settings, KEY_B, KEY_A)
    out, _ = rotate("--dry-run", "--no-progress")
    assert "Webhook secrets: 1 checked, 1 to re-encrypt, 0 already" in out
    assert "Event callback payloads: 1 checked, 1 to re-encrypt, 0 already" in out
    out, _ = rotate("--no-progress")
    assert "Webhook secrets: 1 checked, 1 re-encrypted" in out
    assert "Event callback payloads: 1 checked, 1 re-encrypted" in out

    use_keys(settings, KEY_B)
    hook.refresh_from_db()
    callback.refresh_from_db()
    assert hook.shared_secret == secret  # receivers keep verifying with what they have
    assert codes.decrypt(callback.payload_encrypted) == payload
    assert card.pk in payload


def test_rotation_refuses_a_webhook_secret_no_key_opens(settings, tenant, actor):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    use_keys(settings, KEY_Z)
    hook = webhooks.webhook_create(
        tenant=tenant, actor=actor, topic="gift_cards.create", callback_url="http://127.0.0.1:9/x"
    )
    use_keys(settings, KEY_B, KEY_A)
    with pytest.raises(CommandError, match="cannot be decrypted"):
        rotate("--no-progress")
    stored = Webhook.objects.get(pk=hook.pk).shared_secret_encrypted
    assert stored == hook.shared_secret_encrypted


def test_an_imports_inputs_move_to_the_new_key_and_one_without_inputs_is_left(
    settings, tenant, actor
):
    from giftcards.imports import jobs
    from giftcards.models import Import

    use_keys(settings, KEY_A)
    rows = [{"code": CODES[0], "balance_cents": 100}]
    job = jobs.start(tenant=tenant, actor=actor, resource_type="gift_cards", inputs=rows)
    Import.objects.create(  # a command's import: its file was never stored
        business=tenant.business, mode=tenant.mode, resource_type="gift_cards"
    )

    use_keys(settings, KEY_B, KEY_A)
    out, _ = rotate("--no-progress")

    assert "Import inputs: 1 checked, 1 re-encrypted" in out
    use_keys(settings, KEY_B)
    assert Import.objects.get(pk=job.pk).inputs == rows

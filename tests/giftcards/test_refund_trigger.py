"""The database's own refund rule holds against writers that skip the services (raw SQL, a
future bug) even when they race: on PostgreSQL the trigger takes the card's row lock before
it adds up the debit's refunds, so the second of two concurrent refunds sees the first."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction

from clients.tenancy import Actor
from giftcards import services
from giftcards.models import BalanceLog

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def raw_refund(card_id: str, payment_id: int, cents: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO giftcards_balancelog (card_id, kind, amount_cents, balance_after_cents,"
            " order_reference, refund_of_id, actor_name, note, created_at)"
            " VALUES (%s, 'refund', %s, 0, '', %s, 'raw sql', '', now())",
            [card_id, cents, payment_id],
        )


def test_two_raw_refunds_racing_cannot_both_exceed_the_debit(make_card):
    card = make_card(status="active", balance_cents=5_000)
    payment = services.card_debit(card=card, amount_cents=1_000, actor=Actor.system()).entry
    second: dict = {}
    waiting = threading.Event()

    def other_writer() -> None:
        try:
            with transaction.atomic():
                waiting.set()
                raw_refund(card.pk, payment.pk, 600)  # waits for the first writer's lock
            second["result"] = "committed"
        except IntegrityError as exc:
            second["result"] = str(exc)
        finally:
            connection.close()

    with transaction.atomic():
        raw_refund(card.pk, payment.pk, 600)
        thread = threading.Thread(target=other_writer)
        thread.start()
        waiting.wait(10)
        time.sleep(0.5)  # the other writer is now blocked on the card's row lock
        assert thread.is_alive(), "the second refund did not wait for the first"
    thread.join(30)

    assert "would exceed" in second["result"], second
    refunded = BalanceLog.objects.filter(refund_of=payment).values_list("amount_cents", flat=True)
    assert list(refunded) == [600]

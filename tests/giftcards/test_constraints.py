"""The database is the backstop: every constraint refuses a bad row even when no service runs.

Rows are written with queryset.update(), bulk_create() or raw SQL, which skip the services'
friendly checks, so only the database stands between them and the table. Each test also
writes the nearest good row, so a refusal cannot come from a mistake in the test itself.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from clients.models import ApiKey, Business, Client
from clients.tenancy import Mode
from giftcards import codes, dates
from giftcards.models import (
    BalanceLog,
    BalanceTransfer,
    GiftCard,
    GiftCardRecipient,
    LedgerImmutable,
    Market,
    Tag,
    new_public_id,
)

# ---------------------------------------------------------------------------- helpers


@contextmanager
def violates(*constraints: str):
    """The block must fail with an IntegrityError raised by one of `constraints`.

    PostgreSQL always names the constraint; SQLite names check constraints, partial and
    expression indexes, but reports a plain UNIQUE table constraint by its columns only.
    """
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        yield
    message = str(excinfo.value)
    if connection.vendor == "sqlite" and message.startswith("UNIQUE constraint failed"):
        return
    assert any(name in message for name in constraints), message


def bare_card(business: Business, **overrides) -> GiftCard:
    """A card row written with bulk_create: no service, no save(), no issue row."""
    code = overrides.pop("code", None) or codes.generate()
    fields = {
        "id": new_public_id(),
        "business": business,
        "mode": Mode.LIVE,
        "code_hash": codes.lookup_hash(code),
        "code_encrypted": codes.encrypt(code),
        "code_last4": codes.last4(code),
        "status": "active",
        "currency_code": "USD",
        "initial_balance_cents": 1_000,
        "balance_cents": 1_000,
    }
    fields.update(overrides)
    (card,) = GiftCard.objects.bulk_create([GiftCard(**fields)])
    return card


def insert_ledger_row(card_id: str, **overrides) -> int:
    """Insert a ledger row with raw SQL and return its id."""
    columns = {
        "card_id": card_id,
        "kind": "debit",
        "amount_cents": -100,
        "balance_after_cents": 900,
        "order_reference": "",
        "idempotency_key": None,
        "refund_of_id": None,
        "actor_name": "raw sql",
        "note": "",
        "created_at": connection.ops.adapt_datetimefield_value(timezone.now()),
    }
    columns.update(overrides)
    names = ", ".join(columns)
    placeholders = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO giftcards_balancelog ({names}) VALUES ({placeholders})",
            list(columns.values()),
        )
        return cursor.lastrowid if connection.vendor == "sqlite" else _last_ledger_id(cursor)


def _last_ledger_id(cursor) -> int:
    cursor.execute("SELECT max(id) FROM giftcards_balancelog")
    return cursor.fetchone()[0]


@pytest.fixture
def card(business):
    return bare_card(business)


# ---------------------------------------------------------------------------- GiftCard


def test_a_bare_card_row_is_accepted(card):
    assert GiftCard.objects.filter(pk=card.pk).exists()


def test_negative_balance_is_refused(card):
    GiftCard.objects.filter(pk=card.pk).update(balance_cents=0)
    with violates("giftcards_giftcard_balance_non_negative"):
        GiftCard.objects.filter(pk=card.pk).update(balance_cents=-1)


def test_balance_above_max_is_refused(card):
    GiftCard.objects.filter(pk=card.pk).update(balance_max_cents=1_000, balance_cents=1_000)
    with violates("giftcards_giftcard_balance_within_max"):
        GiftCard.objects.filter(pk=card.pk).update(balance_cents=1_001)


def test_balance_without_max_has_no_upper_bound(card):
    GiftCard.objects.filter(pk=card.pk).update(balance_max_cents=None, balance_cents=10**15)
    card.refresh_from_db()
    assert card.balance_cents == 10**15


@pytest.mark.parametrize("name", ["purchase_date", "expires_at"])
def test_moments_some_time_zone_cannot_show_are_refused(card, name):
    GiftCard.objects.filter(pk=card.pk).update(**{name: dates.LATEST})
    GiftCard.objects.filter(pk=card.pk).update(**{name: dates.EARLIEST})
    with violates(f"giftcards_giftcard_{name}_showable"):
        GiftCard.objects.filter(pk=card.pk).update(**{name: dates.LATEST + timedelta(seconds=1)})
    with violates(f"giftcards_giftcard_{name}_showable"):
        GiftCard.objects.filter(pk=card.pk).update(
            **{name: dates.EARLIEST - timedelta(microseconds=1)}
        )


@pytest.mark.postgres_only
def test_the_migration_moves_stored_unshowable_moments_to_the_nearest_accepted_one(business):
    """Rows stored before the range was enforced. The constraints are lifted to write them,
    inside the test's transaction (PostgreSQL's DDL is transactional: the rollback restores
    them)."""
    migration = importlib.import_module("giftcards.migrations.0004_showable_dates")
    with connection.schema_editor() as editor:
        for name in migration.FIELDS:
            (constraint,) = [
                c for c in GiftCard._meta.constraints if c.name.endswith(f"{name}_showable")
            ]
            editor.remove_constraint(GiftCard, constraint)
    late = bare_card(business)
    early = bare_card(business)
    fine = bare_card(business, expires_at=timezone.now())
    GiftCard.objects.filter(pk=late.pk).update(
        expires_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
        purchase_date=datetime(9999, 12, 31, 12, 0, tzinfo=UTC),
    )
    GiftCard.objects.filter(pk=early.pk).update(expires_at=datetime(1, 1, 1, 8, 0, tzinfo=UTC))

    migration.clamp(apps, None)

    moments = dict(GiftCard.objects.values_list("pk", "expires_at"))
    assert moments[late.pk] == dates.LATEST
    assert moments[early.pk] == dates.EARLIEST
    assert moments[fine.pk] == fine.expires_at
    assert GiftCard.objects.get(pk=late.pk).purchase_date == dates.LATEST


def test_negative_initial_balance_is_refused(card):
    GiftCard.objects.filter(pk=card.pk).update(initial_balance_cents=0)
    with violates("giftcards_giftcard_initial_balance_non_negative"):
        GiftCard.objects.filter(pk=card.pk).update(initial_balance_cents=-1)


@pytest.mark.parametrize("status", ["expired", "deleted", "ACTIVE", ""])
def test_unknown_card_status_is_refused(card, status):
    with violates("giftcards_giftcard_status_valid"):
        GiftCard.objects.filter(pk=card.pk).update(status=status)


@pytest.mark.parametrize("mode", ["prod", "LIVE", ""])
def test_unknown_card_mode_is_refused(card, mode):
    GiftCard.objects.filter(pk=card.pk).update(mode=Mode.TEST)
    with violates("giftcards_giftcard_mode_valid"):
        GiftCard.objects.filter(pk=card.pk).update(mode=mode)


@pytest.mark.parametrize("currency_code", ["usd", "US", "US1", "", "€UR"])
def test_malformed_card_currency_code_is_refused(card, currency_code):
    GiftCard.objects.filter(pk=card.pk).update(currency_code="EUR")
    with violates("giftcards_giftcard_currency_code_format"):
        GiftCard.objects.filter(pk=card.pk).update(currency_code=currency_code)


@pytest.mark.parametrize(
    "public_id",
    [
        "short",
        "rSnVGKkHSGCYfalfOuae1",  # 21 characters
        "rSnVGKkHSGCYfalfOuae1=",  # padding
        "rSnVGKkHSGCYfalfOuae/g",  # standard, not URL-safe, base64
        "",
    ],
)
def test_malformed_card_public_id_is_refused(business, public_id):
    bare_card(business, id="rSnVGKkHSGCYfalfOuae1g")
    with violates("giftcards_giftcard_id_format"):
        bare_card(business, id=public_id)


def test_overlong_card_public_id_is_refused(business):
    # PostgreSQL stops it at varchar(22), SQLite (no length limits) at the check constraint.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        bare_card(business, id="rSnVGKkHSGCYfalfOuae1gX")


def test_duplicate_code_in_one_business_is_refused(business):
    bare_card(business, code="SAME-CODE-2345")
    with violates("giftcards_giftcard_code_unique"):
        bare_card(business, code="same code 2345")  # the same code, normalised


def test_duplicate_code_across_modes_of_one_business_is_refused(business):
    bare_card(business, code="SAME-CODE-2345", mode=Mode.LIVE)
    with violates("giftcards_giftcard_code_unique"):
        bare_card(business, code="SAME-CODE-2345", mode=Mode.TEST)


def test_same_code_in_another_business_is_allowed(business, other_business):
    bare_card(business, code="SAME-CODE-2345")
    bare_card(other_business, code="SAME-CODE-2345", currency_code="EUR")
    assert GiftCard.objects.filter(code_hash=codes.lookup_hash("SAME-CODE-2345")).count() == 2


# ---------------------------------------------------------------------------- recipients


def test_duplicate_recipient_email_is_refused_case_insensitively(business):
    GiftCardRecipient.objects.bulk_create(
        [GiftCardRecipient(business=business, mode=Mode.LIVE, email="ann@example.com")]
    )
    with violates("giftcards_giftcardrecipient_email_unique"):
        GiftCardRecipient.objects.bulk_create(
            [GiftCardRecipient(business=business, mode=Mode.LIVE, email="Ann@Example.COM")]
        )


def test_same_recipient_email_in_other_mode_or_business_is_allowed(business, other_business):
    GiftCardRecipient.objects.bulk_create(
        [
            GiftCardRecipient(business=business, mode=Mode.LIVE, email="ann@example.com"),
            GiftCardRecipient(business=business, mode=Mode.TEST, email="ANN@example.com"),
            GiftCardRecipient(business=other_business, mode=Mode.LIVE, email="ann@example.com"),
        ]
    )
    assert GiftCardRecipient.objects.count() == 3


def test_unknown_recipient_mode_is_refused(business):
    (recipient,) = GiftCardRecipient.objects.bulk_create(
        [GiftCardRecipient(business=business, mode=Mode.LIVE, email="ann@example.com")]
    )
    with violates("giftcards_giftcardrecipient_mode_valid"):
        GiftCardRecipient.objects.filter(pk=recipient.pk).update(mode="prod")


# ---------------------------------------------------------------------------- markets, tags


def test_unknown_market_mode_is_refused(business):
    market = Market.objects.create(business=business, name="US", currency_code="USD")
    with violates("giftcards_market_mode_valid"):
        Market.objects.filter(pk=market.pk).update(mode="prod")


@pytest.mark.parametrize("currency_code", ["usd", "US", "", "EU1"])
def test_malformed_market_currency_code_is_refused(business, currency_code):
    market = Market.objects.create(business=business, name="US", currency_code="USD")
    with violates("giftcards_market_currency_code_format"):
        Market.objects.filter(pk=market.pk).update(currency_code=currency_code)


def test_duplicate_tag_name_is_refused(business):
    Tag.objects.create(business=business, mode=Mode.LIVE, name="summer")
    with violates("giftcards_tag_name_unique"):
        Tag.objects.bulk_create([Tag(business=business, mode=Mode.LIVE, name="summer")])


def test_same_tag_name_in_other_mode_or_business_is_allowed(business, other_business):
    Tag.objects.bulk_create(
        [
            Tag(business=business, mode=Mode.LIVE, name="summer"),
            Tag(business=business, mode=Mode.TEST, name="summer"),
            Tag(business=other_business, mode=Mode.LIVE, name="summer"),
        ]
    )
    assert Tag.objects.filter(name="summer").count() == 3


def test_unknown_tag_mode_is_refused(business):
    tag = Tag.objects.create(business=business, mode=Mode.LIVE, name="summer")
    with violates("giftcards_tag_mode_valid"):
        Tag.objects.filter(pk=tag.pk).update(mode="prod")


# ---------------------------------------------------------------------------- clients app


@pytest.mark.parametrize("currency_code", ["usd", "US", "", "12A"])
def test_malformed_business_currency_code_is_refused(business, currency_code):
    with violates("clients_business_currency_code_format"):
        Business.objects.filter(pk=business.pk).update(currency_code=currency_code)


def test_unknown_client_mode_is_refused(business):
    client = Client.objects.create(business=business, mode=Mode.TEST, first_name="Ann")
    with violates("clients_client_mode_valid"):
        Client.objects.filter(pk=client.pk).update(mode="prod")


def test_unknown_api_key_mode_is_refused(api_key):
    key, _secret = api_key
    ApiKey.objects.filter(pk=key.pk).update(mode=Mode.TEST)
    with violates("clients_apikey_mode_valid"):
        ApiKey.objects.filter(pk=key.pk).update(mode="prod")


# ---------------------------------------------------------------------------- ledger rows


def test_a_raw_ledger_row_is_accepted(card):
    row_id = insert_ledger_row(card.pk)
    assert BalanceLog.objects.get(pk=row_id).amount_cents == -100


@pytest.mark.parametrize("kind", ["bonus", "DEBIT", ""])
def test_unknown_ledger_kind_is_refused(card, kind):
    # An unknown kind also fails the sign rule, which has no branch for it; the engine
    # may report either constraint.
    with violates(
        "giftcards_balancelog_kind_valid", "giftcards_balancelog_amount_sign_matches_kind"
    ):
        insert_ledger_row(card.pk, kind=kind, amount_cents=100)


@pytest.mark.parametrize(
    ("kind", "amount_cents"),
    [
        ("issue", -1),
        ("debit", 0),
        ("debit", 100),
        ("recharge", 0),
        ("recharge", -100),
        ("refund", 0),
        ("refund", -100),
        ("adjustment", 0),
        ("pre_import", 0),
        ("pre_import", 100),
    ],
)
def test_ledger_amount_with_the_wrong_sign_for_its_kind_is_refused(card, kind, amount_cents):
    # A refund gives back a debit: it gets one, so that only the sign is wrong.
    link = {"refund_of_id": insert_ledger_row(card.pk)} if kind == "refund" else {}
    with violates("giftcards_balancelog_amount_sign_matches_kind"):
        insert_ledger_row(card.pk, kind=kind, amount_cents=amount_cents, **link)


@pytest.mark.parametrize(
    ("kind", "amount_cents"),
    [
        ("issue", 0),
        ("issue", 100),
        ("debit", -1),
        ("recharge", 1),
        ("adjustment", -1),
        ("adjustment", 1),
        ("pre_import", -1),
    ],
)
def test_ledger_amount_with_the_right_sign_for_its_kind_is_accepted(card, kind, amount_cents):
    insert_ledger_row(card.pk, kind=kind, amount_cents=amount_cents)
    assert BalanceLog.objects.filter(card=card, kind=kind, amount_cents=amount_cents).exists()


def test_negative_ledger_balance_after_is_refused(card):
    insert_ledger_row(card.pk, balance_after_cents=0)
    with violates("giftcards_balancelog_balance_after_non_negative"):
        insert_ledger_row(card.pk, balance_after_cents=-1)


@pytest.mark.parametrize(("kind", "amount_cents"), [("debit", -100), ("adjustment", 100)])
def test_refund_of_on_a_non_refund_row_is_refused(card, kind, amount_cents):
    debit_id = insert_ledger_row(card.pk)
    with violates("giftcards_balancelog_refund_of_only_on_refunds"):
        insert_ledger_row(card.pk, kind=kind, amount_cents=amount_cents, refund_of_id=debit_id)


def test_refunds_of_one_debit_may_be_partial_but_never_exceed_it(card):
    debit_id = insert_ledger_row(card.pk)  # 100 cents
    insert_ledger_row(card.pk, kind="refund", amount_cents=60, refund_of_id=debit_id)
    insert_ledger_row(card.pk, kind="refund", amount_cents=40, refund_of_id=debit_id)
    with violates("would exceed"):
        insert_ledger_row(card.pk, kind="refund", amount_cents=1, refund_of_id=debit_id)
    assert BalanceLog.objects.filter(refund_of_id=debit_id).count() == 2


def test_one_refund_larger_than_its_debit_is_refused(card):
    debit_id = insert_ledger_row(card.pk)
    with violates("would exceed"):
        insert_ledger_row(card.pk, kind="refund", amount_cents=101, refund_of_id=debit_id)


def test_a_refund_of_another_cards_debit_is_refused(business, card):
    debit_id = insert_ledger_row(bare_card(business).pk)
    with violates("its own card"):
        insert_ledger_row(card.pk, kind="refund", amount_cents=10, refund_of_id=debit_id)


def test_a_refund_of_a_row_that_is_not_a_debit_is_refused(card):
    recharge_id = insert_ledger_row(card.pk, kind="recharge", amount_cents=100)
    with violates("its own card"):
        insert_ledger_row(card.pk, kind="refund", amount_cents=10, refund_of_id=recharge_id)


def test_a_refund_that_gives_back_no_debit_is_refused(card):
    with violates("giftcards_balancelog_refunds_link_a_debit"):
        insert_ledger_row(card.pk, kind="refund", amount_cents=10)


# ---------------------------------------------------------------------------- transfers


@pytest.fixture
def transfer(business, card):
    """A transfer of 250 cents from `card` to another card, without its ledger rows."""
    return BalanceTransfer.objects.create(
        business=business,
        mode=Mode.LIVE,
        source=card,
        target=bare_card(business),
        amount_cents=250,
        currency_code="USD",
    )


def test_a_transfers_two_rows_are_accepted(transfer):
    insert_ledger_row(
        transfer.source_id, kind="transfer_out", amount_cents=-250, transfer_id=transfer.pk
    )
    insert_ledger_row(
        transfer.target_id, kind="transfer_in", amount_cents=250, transfer_id=transfer.pk
    )
    assert transfer.entries.count() == 2


@pytest.mark.parametrize(
    ("side", "kind", "amount_cents"),
    [
        ("source", "transfer_out", -249),  # not its amount
        ("target", "transfer_out", -250),  # out of the card money goes into
        ("source", "transfer_in", 250),  # into the card money leaves
        ("target", "transfer_in", 251),
    ],
)
def test_a_transfer_row_that_does_not_match_its_transfer_is_refused(
    transfer, side, kind, amount_cents
):
    card_id = transfer.source_id if side == "source" else transfer.target_id
    with violates("transfer's amount on its own card"):
        insert_ledger_row(card_id, kind=kind, amount_cents=amount_cents, transfer_id=transfer.pk)


def test_a_transfer_has_one_row_per_side(transfer):
    row = {"kind": "transfer_out", "amount_cents": -250, "transfer_id": transfer.pk}
    insert_ledger_row(transfer.source_id, **row)
    with violates("giftcards_balancelog_one_row_per_transfer_side"):
        insert_ledger_row(transfer.source_id, **row)


@pytest.mark.parametrize(("kind", "amount_cents"), [("transfer_out", -10), ("transfer_in", 10)])
def test_a_transfer_row_without_its_transfer_is_refused(card, kind, amount_cents):
    with violates("giftcards_balancelog_transfer_rows_link_a_transfer"):
        insert_ledger_row(card.pk, kind=kind, amount_cents=amount_cents)


def test_another_row_linked_to_a_transfer_is_refused(transfer):
    with violates(
        "giftcards_balancelog_transfer_rows_link_a_transfer", "transfer's amount on its own card"
    ):
        insert_ledger_row(transfer.source_id, transfer_id=transfer.pk)


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ({"amount_cents": 0}, "giftcards_balancetransfer_amount_positive"),
        ({"same_card": True}, "giftcards_balancetransfer_two_cards"),
        ({"currency_code": "usd"}, "giftcards_balancetransfer_currency_code_format"),
    ],
)
def test_a_transfer_row_that_breaks_a_rule_is_refused(business, card, change, constraint):
    fields = {"amount_cents": 100, "currency_code": "USD", **change}
    target = card if fields.pop("same_card", False) else bare_card(business)
    with violates(constraint):
        BalanceTransfer.objects.create(
            business=business, mode=Mode.LIVE, source=card, target=target, **fields
        )


def test_duplicate_idempotency_key_on_one_card_is_refused(card):
    insert_ledger_row(card.pk, idempotency_key="order-1")
    with violates("giftcards_balancelog_idempotency_key_unique"):
        insert_ledger_row(card.pk, idempotency_key="order-1")


def test_same_idempotency_key_on_another_card_is_allowed(business, card):
    other = bare_card(business)
    insert_ledger_row(card.pk, idempotency_key="order-1")
    insert_ledger_row(other.pk, idempotency_key="order-1")
    assert BalanceLog.objects.filter(idempotency_key="order-1").count() == 2


def test_many_rows_without_idempotency_key_are_allowed(card):
    insert_ledger_row(card.pk)
    insert_ledger_row(card.pk)
    assert BalanceLog.objects.filter(card=card, idempotency_key__isnull=True).count() == 2


def test_second_issue_row_of_a_card_is_refused(business, card):
    insert_ledger_row(card.pk, kind="issue", amount_cents=1_000, balance_after_cents=1_000)
    insert_ledger_row(
        bare_card(business).pk, kind="issue", amount_cents=1_000, balance_after_cents=1_000
    )
    with violates("giftcards_balancelog_one_issue_per_card"):
        insert_ledger_row(card.pk, kind="issue", amount_cents=0, balance_after_cents=0)


# ---------------------------------------------------------------------------- immutability


def _ledger_row_of(make_card) -> BalanceLog:
    return make_card(balance_cents=2_500).ledger.get()


@pytest.mark.parametrize(
    ("column", "value"),
    [("amount_cents", 1), ("balance_after_cents", 0), ("note", "edited"), ("kind", "recharge")],
)
def test_ledger_row_update_is_refused_by_the_database(make_card, column, value):
    row = _ledger_row_of(make_card)
    with (
        pytest.raises(IntegrityError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE giftcards_balancelog SET {column} = %s WHERE id = %s", [value, row.pk]
        )
    assert BalanceLog.objects.get(pk=row.pk).amount_cents == 2_500


@pytest.mark.postgres_only
def test_ledger_row_delete_is_refused_by_postgresql(make_card):
    row = _ledger_row_of(make_card)
    with (
        pytest.raises(IntegrityError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM giftcards_balancelog WHERE id = %s", [row.pk])
    assert BalanceLog.objects.filter(pk=row.pk).exists()


def test_saving_an_existing_ledger_row_raises_ledger_immutable(make_card):
    row = _ledger_row_of(make_card)
    row.note = "edited"
    with pytest.raises(LedgerImmutable):
        row.save()
    assert BalanceLog.objects.get(pk=row.pk).note == ""


def test_deleting_a_ledger_row_raises_ledger_immutable(make_card):
    row = _ledger_row_of(make_card)
    with pytest.raises(LedgerImmutable):
        row.delete()
    assert BalanceLog.objects.filter(pk=row.pk).exists()


def test_ledger_queryset_update_and_delete_raise_ledger_immutable(make_card):
    row = _ledger_row_of(make_card)
    with pytest.raises(LedgerImmutable):
        BalanceLog.objects.filter(pk=row.pk).update(note="edited")
    with pytest.raises(LedgerImmutable):
        BalanceLog.objects.filter(pk=row.pk).delete()
    assert BalanceLog.objects.get(pk=row.pk).note == ""

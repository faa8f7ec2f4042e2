"""Moving everything encrypted or hashed with an old code key to the current one
(`manage.py rotate_code_key`).

Tables holding such values: gift cards (code_encrypted, code_hash), idempotency records
(request_hash, response_body), and one encrypted column each in webhooks (the shared
secret) and event callbacks (the payload sent, which may hold a code). A survey reads every
row first and decides for each whether it is under the current key, under an old one, or
under none (then nothing is written). The rotation then walks each table in primary-key
order, one transaction per batch, and writes only the rows still under an old key and only
their key-bound columns: a card being debited at the same time keeps its balance (a lock
held by the debit makes the batch wait), and a run that stops half-way leaves whole batches
done, which the next run skips.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Protocol

from django.db import IntegrityError, connection, transaction

from clients.models import IdempotencyRecord
from giftcards import codes
from giftcards.models import EventCallback, GiftCard, Import, Webhook

BATCH_SIZE = 500


class Bar(Protocol):
    def update(self, n: int = 1) -> object: ...


#: Makes a progress bar for `total` rows of a table: (total, label) -> a context manager
#: giving an object with update(n) (a tqdm bar, say).
Progress = Callable[[int, str], AbstractContextManager[Bar]]


class _Silent:
    def update(self, n: int = 1) -> None:
        pass


def silent(total: int, label: str) -> AbstractContextManager[Bar]:
    return nullcontext(_Silent())


class RotationRefused(Exception):
    """Rows that no configured key opens, or that would collide once re-hashed: nothing of
    them is written."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


@dataclass
class TableCount:
    label: str
    total: int = 0
    current: int = 0  # under the current key: skipped
    old: int = 0  # under an old key: to re-encrypt
    unreadable: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- reading rows


def _card_rows(after: str = ""):
    return (
        GiftCard.objects.filter(pk__gt=after)
        .order_by("pk")
        .values_list("pk", "business_id", "code_last4", "code_hash", "code_encrypted")
    )


def _record_rows(after: int = 0):
    return (
        IdempotencyRecord.objects.filter(pk__gt=after)
        .order_by("pk")
        .values_list("pk", "key", "request_hash", "response_body")
    )


@dataclass(frozen=True)
class Sealed:
    """A table with one column that is only encrypted (no hash): `what` names a row."""

    label: str
    model: type
    column: str
    what: str
    start: int | str = 0  # below every primary key: 0, or "" for text keys

    def rows(self, after: int | str | None = None):
        """The rows that hold something sealed, after `after` in primary-key order."""
        rows = self.model.objects.exclude(**{self.column: ""})
        rows = rows.filter(pk__gt=self.start if after is None else after)
        return rows.order_by("pk").values_list("pk", self.column)


SEALED = (
    Sealed("Webhook secrets", Webhook, "shared_secret_encrypted", "webhook"),
    Sealed("Event callback payloads", EventCallback, "payload_encrypted", "event callback"),
    Sealed("Import inputs", Import, "inputs_encrypted", "import", start=""),
)


def _card_name(pk: str, business_id: int, last4: str) -> str:
    return f"gift card {pk} ({codes.mask(last4)}, business {business_id})"


def _card_state(code_hash: str, token: str) -> tuple[str, bool]:
    """The card's code, and whether both its columns are already under the current key."""
    code, current = codes.decrypt_noting_key(token)
    return code, current and code_hash == codes.lookup_hash(code)


def _record_state(request_hash: str, body: str) -> tuple[str, str, bool]:
    """The record's fingerprint and body, and whether both are under the current key (an
    empty body is a claim still running)."""
    fingerprint, current = codes.decrypt_noting_key(request_hash)
    text = ""
    if body:
        text, body_current = codes.decrypt_noting_key(body)
        current = current and body_current
    return fingerprint, text, current


def _in_batches(
    rows: Callable, start, write: Callable[[list[tuple]], int], bar: Bar, batch_size: int
) -> int:
    """Call `write` on the rows in primary-key order, a batch at a time, each batch read and
    written in one transaction and committed before the next is read. Returns the sum of
    what `write` returned."""
    done, after = 0, start
    while True:
        with transaction.atomic():
            batch = list(rows(after)[:batch_size])
            if not batch:
                return done
            done += write(batch)
        bar.update(len(batch))
        after = batch[-1][0]


# ---------------------------------------------------------------------------- survey


def survey(progress: Progress = silent) -> list[TableCount]:
    """Count, per table (cards, idempotency records, then SEALED's), the rows under the
    current key, under an old key, and under none."""
    cards = TableCount("Gift cards", total=GiftCard.objects.count())
    with progress(cards.total, "checking cards") as bar:
        for pk, business_id, last4, code_hash, token in _card_rows().iterator(chunk_size=2000):
            bar.update()
            try:
                _code, current = _card_state(code_hash, token)
            except codes.InvalidCode:
                cards.unreadable.append(_card_name(pk, business_id, last4))
                continue
            cards.current += current
            cards.old += not current

    records = TableCount("Idempotency records", total=IdempotencyRecord.objects.count())
    with progress(records.total, "checking idempotency records") as bar:
        for pk, key, request_hash, body in _record_rows().iterator(chunk_size=2000):
            bar.update()
            try:
                _fingerprint, _text, current = _record_state(request_hash, body)
            except codes.InvalidCode:
                records.unreadable.append(f"idempotency record {pk} (key {key!r})")
                continue
            records.current += current
            records.old += not current
    return [cards, records, *(_survey_sealed(sealed, progress) for sealed in SEALED)]


def _survey_sealed(sealed: Sealed, progress: Progress) -> TableCount:
    table = TableCount(sealed.label, total=sealed.rows().count())
    with progress(table.total, f"checking {sealed.label.lower()}") as bar:
        for pk, token in sealed.rows().iterator(chunk_size=2000):
            bar.update()
            try:
                _text, current = codes.decrypt_noting_key(token)
            except codes.InvalidCode:
                table.unreadable.append(f"{sealed.what} {pk}")
                continue
            table.current += current
            table.old += not current
    return table


def refuse_unreadable(*tables: TableCount) -> None:
    """Raise RotationRefused when the survey found rows that no configured key opens."""
    unreadable = [row for table in tables for row in table.unreadable]
    if unreadable:
        raise RotationRefused(
            f"{len(unreadable)} rows cannot be decrypted with any configured key: configure "
            "the key they were written with (GIFTCARD_CODE_OLD_KEYS) and run again. Nothing "
            "was written.",
            unreadable,
        )


# ---------------------------------------------------------------------------- rotation


def _update_code_columns(changed: list[tuple]) -> None:
    """UPDATE only code_hash and code_encrypted, by primary key, never a whole card: one
    statement run for each card (executemany; building bulk_update's CASE expressions costs
    several times as much)."""
    meta = GiftCard._meta
    quote = connection.ops.quote_name
    column = {name: quote(meta.get_field(name).column) for name in ("code_hash", "code_encrypted")}
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {column['code_hash']} = %s, "
        f"{column['code_encrypted']} = %s WHERE {quote(meta.pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            sql, [(code_hash, token, pk) for pk, _b, _l, code_hash, token in changed]
        )


def _rotate_cards(batch: list[tuple]) -> int:
    changed = []  # (pk, business_id, last4, new hash, new token)
    for pk, business_id, last4, code_hash, token in batch:
        try:
            code, current = _card_state(code_hash, token)
        except codes.InvalidCode:
            raise RotationRefused(
                "A card cannot be decrypted with any configured key; nothing of its batch was "
                "written.",
                [_card_name(pk, business_id, last4)],
            ) from None
        if not current:
            changed.append((pk, business_id, last4, codes.lookup_hash(code), codes.encrypt(code)))
    if changed:
        try:
            with transaction.atomic():
                _update_code_columns(changed)
        except IntegrityError:
            raise RotationRefused(
                "Re-hashed under the current key, these codes equal the code of another card of "
                "the same business; nothing of their batch was written.",
                _collisions(changed),
            ) from None
    return len(changed)


def _collisions(changed: list[tuple]) -> list[str]:
    return [
        _card_name(pk, business_id, last4)
        for pk, business_id, last4, code_hash, _token in changed
        if GiftCard.objects.filter(business_id=business_id, code_hash=code_hash)
        .exclude(pk=pk)
        .exists()
    ]


def _rotate_records(batch: list[tuple]) -> int:
    done = 0
    for pk, key, request_hash, body in batch:
        try:
            fingerprint, text, current = _record_state(request_hash, body)
        except codes.InvalidCode:
            raise RotationRefused(
                "An idempotency record cannot be decrypted with any configured key; nothing of "
                "its batch was written.",
                [f"idempotency record {pk} (key {key!r})"],
            ) from None
        if current:
            continue
        # Only if unchanged since read: a claim taken over meanwhile keeps what it has.
        done += IdempotencyRecord.objects.filter(
            pk=pk, request_hash=request_hash, response_body=body
        ).update(
            request_hash=codes.encrypt(fingerprint),
            response_body=codes.encrypt(text) if body else "",
        )
    return done


def _rotate_sealed(sealed: Sealed) -> Callable[[list[tuple]], int]:
    def rotate(batch: list[tuple]) -> int:
        done = 0
        for pk, token in batch:
            try:
                text, current = codes.decrypt_noting_key(token)
            except codes.InvalidCode:
                raise RotationRefused(
                    f"A {sealed.what} cannot be decrypted with any configured key; nothing of "
                    "its batch was written.",
                    [f"{sealed.what} {pk}"],
                ) from None
            if not current:
                # Only if unchanged since read.
                done += sealed.model.objects.filter(pk=pk, **{sealed.column: token}).update(
                    **{sealed.column: codes.encrypt(text)}
                )
        return done

    return rotate


@dataclass
class Rotation:
    """Each table's survey and how many of its rows were re-encrypted, in `survey`'s order."""

    tables: list[TableCount]
    rewritten: list[int] = field(default_factory=list)


def code_key_rotate(progress: Progress = silent, batch_size: int = BATCH_SIZE) -> Rotation:
    """Re-encrypt and re-hash, with the current key, every card, idempotency record, webhook
    secret and callback payload still under an old key.

    Raises RotationRefused, writing nothing, when a row opens with no configured key; and
    when re-hashed codes would collide with another card's (that batch is not written,
    earlier ones stay done).
    """
    tables = survey(progress)
    refuse_unreadable(*tables)
    rotation = Rotation(tables)
    cards, records, *sealed_tables = tables
    with progress(cards.total, "re-encrypting cards") as bar:
        rotation.rewritten.append(_in_batches(_card_rows, "", _rotate_cards, bar, batch_size))
    with progress(records.total, "re-encrypting idempotency records") as bar:
        rotation.rewritten.append(_in_batches(_record_rows, 0, _rotate_records, bar, batch_size))
    for sealed, table in zip(SEALED, sealed_tables, strict=True):
        with progress(table.total, f"re-encrypting {sealed.label.lower()}") as bar:
            rotate = _rotate_sealed(sealed)
            rotation.rewritten.append(
                _in_batches(sealed.rows, sealed.start, rotate, bar, batch_size)
            )
    return rotation

"""Importing cards and recipients from another system, a chunk of rows at a time.

A chunk is one transaction: its cards, their ledger rows, their history rows and their
events are written together with a few bulk INSERTs, or not at all. An imported card keeps
its code, its dates and its external identity; its ledger starts with an `issue` row of the
amount it was sold for and, when part of it was spent before, a `pre_import` row of that
part, so every imported card reconciles with its ledger.

Each row has a natural key: its code, else its `reference` and `reference_origin` (a seed
000 row's is its old `giftCardUUId`). A row whose key this tenant already has is skipped, so
running the same import twice creates nothing new; `seen` carries the keys of earlier chunks
of one run, which a dry run (its chunks are rolled back) would not find in the database.

A row that cannot be stored is refused with its reasons; the others go on. When a bulk
INSERT fails (another import took a code at the same moment), the chunk is redone a row at
a time, each in a savepoint, and only the row at fault is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from clients.models import Client
from clients.tenancy import Actor, Tenant
from giftcards import codes, dates
from giftcards.events import outbox, topics
from giftcards.imports.rows import CardRow, RecipientRow
from giftcards.models import (
    PUBLIC_ID_PATTERN,
    BalanceLog,
    GiftCard,
    GiftCardRecipient,
    Status,
    new_public_id,
)
from giftcards.services.cards import recipient_find_or_create
from giftcards_project.observability import metrics

Kind = BalanceLog.Kind
PUBLIC_ID = re.compile(PUBLIC_ID_PATTERN)
CREATED, SKIPPED, REFUSED = "created", "skipped", "refused"


@dataclass
class Outcome:
    """What became of one row: `card_id` is the card created, or the one it matched."""

    index: int
    result: str
    card_id: str | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Planned:
    row: CardRow
    code: str
    hashes: list[str]
    outcome: Outcome
    generated: bool = False  # the row had no code: one was drawn for it


def _code_key(hashes: list[str]) -> tuple[str, str]:
    return ("code", hashes[0])


def _reference_key(row: CardRow) -> tuple[str, str] | None:
    if row.reference and row.reference_origin:
        return ("reference", f"{row.reference_origin}\x00{row.reference}")
    return None


def import_cards(
    *,
    tenant: Tenant,
    actor: Actor,
    rows: list[CardRow],
    dry_run: bool = False,
    seen: MutableMapping[tuple[str, str], int] | None = None,
    note: str = "Imported.",
) -> list[Outcome]:
    """Create the cards of one chunk of rows (read by giftcards.imports.rows); returns an
    outcome per row, in order. With `dry_run` everything is checked, written and rolled back:
    the outcomes say what a real run would do."""
    seen = {} if seen is None else seen
    try:
        return _chunk(tenant, actor, rows, dry_run, dict(seen), seen, note)
    except IntegrityError:
        # Someone else wrote one of these keys meanwhile: row by row, each on its own.
        outcomes = []
        for row in rows:
            try:
                outcomes += _chunk(tenant, actor, [row], dry_run, dict(seen), seen, note)
            except IntegrityError as exc:
                outcomes.append(Outcome(row.index, REFUSED, errors=[_stored_error(exc)]))
        return outcomes


def _stored_error(exc: IntegrityError) -> str:
    return f"The row could not be stored: {str(exc).splitlines()[0][:200]}"


def _chunk(tenant, actor, rows, dry_run, seen_before, seen, note) -> list[Outcome]:
    now = timezone.now()
    plans: list[_Planned] = []
    outcomes: list[Outcome] = []
    for row in rows:
        outcome = Outcome(row.index, CREATED)
        outcomes.append(outcome)
        code = row.code
        if code is not None:
            try:
                codes.validate(code)
            except codes.InvalidCode as exc:
                outcome.result, outcome.errors = REFUSED, [f"code: {exc}"]
                continue
        else:
            code = codes.generate()
        for name in ("expires_at", "purchase_date", "created_at"):
            moment = getattr(row, name)
            if moment is not None and not dates.in_range(moment):
                outcome.result, outcome.errors = REFUSED, [f"{name}: {dates.MESSAGE}"]
        if outcome.result == REFUSED:
            continue
        plans.append(
            _Planned(row, code, codes.lookup_hashes(code), outcome, generated=row.code is None)
        )

    with transaction.atomic():
        _match_existing(tenant, plans, seen_before)
        plans = [plan for plan in plans if plan.outcome.result == CREATED]
        _choose_ids(tenant, plans)
        clients = _clients(tenant, actor, [plan.row for plan in plans], plans)
        recipients = _recipients(tenant, [plan.row for plan in plans])
        cards = [_card(tenant, actor, plan, now, clients, recipients) for plan in plans]
        ledger = [
            entry for card, plan in zip(cards, plans, strict=True)
            for entry in _ledger(card, plan.row, actor, now, note)
        ]  # fmt: skip
        with outbox.batched():
            _insert(GiftCard, [_columns(card) for card in cards])
            _insert(BalanceLog, ledger)
            metrics.money_moved(entry["kind"] for entry in ledger)
            _insert(GiftCard.history.model, _history(cards, actor, now, note))
            _record_events(cards, ledger)
        if dry_run:
            transaction.set_rollback(True)
    for card, plan in zip(cards, plans, strict=True):
        plan.outcome.card_id = card.pk
        for key in filter(None, (_code_key(plan.hashes), _reference_key(plan.row))):
            seen[key] = plan.row.index
    return outcomes


def _match_existing(tenant: Tenant, plans: list[_Planned], seen: dict) -> None:
    """Skip the rows whose natural key this tenant has (or an earlier row of this run had);
    refuse a code another mode of the business has (codes are unique per business)."""
    by_hash = {}
    for found in GiftCard.objects.filter(
        business=tenant.business,
        code_hash__in=[h for plan in plans for h in plan.hashes],
    ).values("id", "code_hash", "mode"):
        by_hash[found["code_hash"]] = found
    references = {plan.row.reference for plan in plans if _reference_key(plan.row)}
    by_reference = {
        ("reference", f"{origin}\x00{reference}"): pk
        for pk, reference, origin in GiftCard.objects.for_tenant(tenant)
        .filter(reference__in=references)
        .exclude(reference_origin="")
        .values_list("id", "reference", "reference_origin")
    }
    this_run: dict = {}
    for plan in plans:
        outcome, row = plan.outcome, plan.row
        found = next((by_hash[h] for h in plan.hashes if h in by_hash), None)
        if found is not None and plan.generated:
            # A drawn code that a card has is no match: draw another (a clash of that one
            # too is caught by the unique index, and the chunk is redone row by row).
            plan.code = codes.generate()
            plan.hashes = codes.lookup_hashes(plan.code)
            found = None
        keys = [key for key in (_code_key(plan.hashes), _reference_key(row)) if key]
        if found is not None and found["mode"] != tenant.mode:
            outcome.result = REFUSED
            outcome.errors = ["code: A card of this business in the other mode has this code."]
        elif found is not None:
            outcome.result, outcome.card_id = SKIPPED, found["id"]
            outcome.warnings = [f"Already imported: card {found['id']} has this code."]
        elif (reference := _reference_key(row)) in by_reference:
            outcome.result, outcome.card_id = SKIPPED, by_reference[reference]
            outcome.warnings = [
                f"Already imported: card {by_reference[reference]} has this reference and "
                "reference_origin."
            ]
        elif earlier := [
            seen.get(key, this_run.get(key)) for key in keys if key in seen or key in this_run
        ]:
            outcome.result = SKIPPED
            outcome.warnings = [f"The same card as row {earlier[0]} (same code or reference)."]
        else:
            this_run.update((key, row.index) for key in keys)


def _choose_ids(tenant: Tenant, plans: list[_Planned]) -> None:
    """Keep a row's old id when no card has it (ids are global); else a new one, said."""
    wanted = {plan.row.card_id for plan in plans if plan.row.card_id}
    taken = set(GiftCard.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    used: set[str] = set()
    for plan in plans:
        old = plan.row.card_id
        if old and PUBLIC_ID.match(old) and old not in taken and old not in used:
            plan.row.card_id = old
        else:
            if old:
                plan.outcome.warnings.append(
                    f"giftCardUUId {old} is not available here: the card gets a new id "
                    "(its reference keeps the old one)."
                )
            plan.row.card_id = new_public_id()
        used.add(plan.row.card_id)


CLIENT_ID_ORIGIN = "clientId"


def _clients(tenant: Tenant, actor: Actor, rows: list[CardRow], plans) -> dict:
    """Seed 000 rows' clients, found by id among the tenant's own (a file this service wrote),
    else by the old id they were imported with (`reference`), else by email, else created
    with that old id as their reference; returns (client_id, email) -> Client. An old id is
    never made a primary key: ids are one sequence for every business, and an input must not
    move it."""
    wanted = {(row.client_id, (row.client_email or "").lower()) for row in rows if row.client_id}
    if not wanted:
        return {}
    mine = Client.objects.for_tenant(tenant)
    by_id = {c.pk: c for c in mine.filter(pk__in=[pk for pk, _ in wanted])}
    by_reference = {
        int(c.reference): c
        for c in mine.filter(
            reference_origin=CLIENT_ID_ORIGIN, reference__in=[str(pk) for pk, _ in wanted]
        )
    }
    emails = [email for _, email in wanted if email]
    by_email = {}
    if emails:
        matching = mine.annotate(lower_email=Lower("email")).filter(lower_email__in=emails)
        by_email = {c.email.lower(): c for c in matching}
    made: dict[int, Client] = {}
    for pk, email in sorted(wanted):
        if pk in by_id or pk in by_reference or (email and email in by_email) or pk in made:
            continue
        made[pk] = Client(
            business=tenant.business,
            mode=tenant.mode,
            first_name="Imported",
            last_name=f"client {pk}",
            email=email,
            reference=str(pk),
            reference_origin=CLIENT_ID_ORIGIN,
            created_by=actor.name,
            modified_by=actor.name,
        )
    if made:
        Client.objects.bulk_create(made.values())
    return {
        (pk, email): by_id.get(pk) or by_reference.get(pk) or by_email.get(email) or made[pk]
        for pk, email in wanted
    }


def _recipients(tenant: Tenant, rows: list[CardRow]) -> dict[str, GiftCardRecipient]:
    emails = {row.recipient_email.strip().lower() for row in rows if row.recipient_email}
    if not emails:
        return {}
    mine = GiftCardRecipient.objects.for_tenant(tenant).annotate(lower_email=Lower("email"))
    found = {r.email.lower(): r for r in mine.filter(lower_email__in=emails)}
    for email in emails - set(found):
        found[email] = recipient_find_or_create(tenant=tenant, email=email)
    return found


def _card(tenant, actor, plan: _Planned, now, clients, recipients) -> GiftCard:
    row = plan.row
    expires_at = row.expires_at
    if row.expired and (expires_at is None or expires_at > now):
        expires_at = now  # "Expired": expired at the latest when imported
    purchase_date = row.purchase_date
    if purchase_date is None and row.status != Status.DRAFT:
        purchase_date = row.created_at or now
    client = clients.get((row.client_id, (row.client_email or "").lower()))
    recipient = recipients.get((row.recipient_email or "").strip().lower())
    return GiftCard(
        id=row.card_id,
        business=tenant.business,
        mode=tenant.mode,
        code_hash=plan.hashes[0],
        code_encrypted=codes.encrypt(plan.code),
        code_last4=codes.last4(plan.code),
        status=row.status,
        deleted_at=now if row.deleted else None,
        currency_code=row.currency_code,
        initial_balance_cents=row.initial_cents,
        balance_cents=row.balance_cents,
        balance_max_cents=row.balance_max_cents,
        single_use=row.single_use,
        rechargeable=row.rechargeable,
        distribute_discount=row.distribute_discount,
        image_url=row.image_url,
        purchase_date=purchase_date,
        expires_at=expires_at,
        reference=row.reference,
        reference_origin=row.reference_origin,
        metadata=row.metadata,
        client=client,
        recipient=recipient,
        created_at=row.created_at or now,
        updated_at=now,
        created_by=row.created_by or actor.name,
        modified_by=actor.name,
    )


def _insert(model, rows: list[dict]) -> None:
    """INSERT rows (column -> value, every concrete column but an auto id) with one prepared
    statement run for every row. Django's bulk_create spent most of an import's time turning
    values into SQL (on PostgreSQL, arrays for UNNEST, escaped element by element in Python)
    and building model instances; this costs a fraction of that."""
    if not rows:
        return
    fields = [
        one
        for one in model._meta.concrete_fields
        if one.get_internal_type() not in ("AutoField", "BigAutoField")
    ]
    adapt = connection.ops.adapt_datetimefield_value
    converters = []
    for one in fields:
        kind = one.get_internal_type()
        if kind == "DateTimeField":
            converters.append(lambda value: None if value is None else adapt(value))
        elif kind == "JSONField":
            converters.append(json.dumps)
        else:
            converters.append(None)
    columns = [one.column for one in fields]
    values = [
        [
            row[column] if convert is None else convert(row[column])
            for column, convert in zip(columns, converters, strict=True)
        ]
        for row in rows
    ]
    quote = connection.ops.quote_name
    statement = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(map(quote, columns))}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(statement, values)


def _columns(row) -> dict:
    return {one.column: getattr(row, one.attname) for one in row._meta.concrete_fields}


def _history(cards: list[GiftCard], actor: Actor, now, note: str) -> list[dict]:
    """The cards' first historical rows, as django-simple-history writes them."""
    model = GiftCard.history.model
    tracked = [field.attname for field in model.tracked_fields]
    return [
        {
            **{name: getattr(card, name) for name in tracked},
            "history_date": now,
            "history_change_reason": note[:100],
            "history_type": "+",
            "history_relation_id": card.pk,
            "history_user_id": actor.user.pk if actor.user else None,
        }
        for card in cards
    ]


def _ledger(card: GiftCard, row: CardRow, actor: Actor, now, note: str) -> Iterable[dict]:
    """Its ledger's first rows: the amount it was sold for, and what was spent before."""
    common = {
        "card_id": card.pk,
        "order_reference": "",
        "idempotency_key": None,
        "refund_of_id": None,
        "transfer_id": None,
        "actor_name": actor.name,
        "user_id": actor.user.pk if actor.user else None,
        "api_key_id": actor.api_key.pk if actor.api_key else None,
        "created_at": now,
    }
    yield {
        **common,
        "kind": Kind.ISSUE,
        "amount_cents": row.initial_cents,
        "balance_after_cents": row.initial_cents,
        "note": note,
        "occurred_at": row.created_at,
    }
    if row.spent_cents:
        yield {
            **common,
            "kind": Kind.PRE_IMPORT,
            "amount_cents": -row.spent_cents,
            "balance_after_cents": row.balance_cents,
            "note": "Spent before the card was imported.",
            "occurred_at": None,
        }


def _record_events(cards: list[GiftCard], ledger: list[dict]) -> None:
    """One `gift_cards.create` per card, its data saying it was imported and where its
    ledger starts (`issue`, and `pre_import` when part was spent before): the state it
    arrives in, not a change of balance, so no `balance_change` is recorded."""
    rows_of: dict[str, list[dict]] = {}
    for entry in ledger:
        rows_of.setdefault(entry["card_id"], []).append(
            {
                "kind": entry["kind"],
                "amount_cents": entry["amount_cents"],
                "balance_after_cents": entry["balance_after_cents"],
            }
        )
    for card in cards:
        facts = outbox.card_facts(card, imported=True, ledger_entries=rows_of.get(card.pk, []))
        outbox.record(card, (topics.CARD_CREATE, facts))


# ---------------------------------------------------------------------------- recipients


def import_recipients(
    *,
    tenant: Tenant,
    actor: Actor,
    rows: list[RecipientRow],
    dry_run: bool = False,
    seen: MutableMapping[tuple[str, str], int] | None = None,
) -> list[Outcome]:
    """Create the recipients of one chunk; an email this tenant has (case-insensitive) is
    skipped."""
    from giftcards import catalogue, exceptions

    seen = {} if seen is None else seen
    outcomes = []
    with transaction.atomic():
        mine = GiftCardRecipient.objects.for_tenant(tenant).annotate(lower_email=Lower("email"))
        wanted = [row.email.lower() for row in rows]
        existing = {r.email.lower(): r.pk for r in mine.filter(lower_email__in=wanted)}
        for row in rows:
            key = ("email", row.email.lower())
            if key[1] in existing:
                outcomes.append(
                    Outcome(
                        row.index,
                        SKIPPED,
                        str(existing[key[1]]),
                        warnings=[
                            f"Already imported: recipient {existing[key[1]]} has this email."
                        ],
                    )
                )
                continue
            if key in seen:
                outcomes.append(
                    Outcome(
                        row.index,
                        SKIPPED,
                        warnings=[f"The same recipient as row {seen[key]} (same email)."],
                    )
                )
                continue
            try:
                with transaction.atomic():
                    made = catalogue.recipient_create(
                        tenant=tenant,
                        actor=actor,
                        email=row.email,
                        first_name=row.first_name,
                        last_name=row.last_name,
                        reference=row.reference,
                        reference_origin=row.reference_origin,
                        metadata=row.metadata,
                    )
            except exceptions.GiftCardError as exc:
                name = f"{exc.subject}: " if exc.subject else ""
                outcomes.append(Outcome(row.index, REFUSED, errors=[f"{name}{exc.message}"]))
                continue
            seen[key] = row.index
            outcomes.append(Outcome(row.index, CREATED, str(made.pk)))
        if dry_run:
            transaction.set_rollback(True)
    return outcomes

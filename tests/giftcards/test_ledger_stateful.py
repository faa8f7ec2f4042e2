"""Random sequences of balance and status operations on one card, checked against a model.

A Hypothesis state machine issues one card per example and drives it only through
`giftcards.services`. A pure-Python model predicts, from SPEC sections 3 and 4, whether each
operation succeeds and what balance and status follow; a refused operation must name a
reason the model also sees and must change nothing. After every step the ledger invariants
are checked against the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from clients.services import business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import exceptions, services
from giftcards.models import BalanceLog, GiftCard, Status

# Set by the test before the machine runs: fixtures are function-scoped, the machine is not.
TENANT: Tenant | None = None
ACTOR = Actor.system("state-machine")

IDEMPOTENCY_KEYS = st.one_of(st.none(), st.sampled_from(["key-a", "key-b", "key-c"]))
ISSUABLE = [Status.DRAFT, Status.INACTIVE, Status.ACTIVE]


@dataclass
class Debit:
    entry_id: int
    amount_cents: int
    refunded_cents: int = 0

    @property
    def remaining(self) -> int:
        return self.amount_cents - self.refunded_cents


@dataclass
class CardModel:
    """What the card should look like, according to the specification."""

    balance: int
    status: str
    balance_max: int | None
    single_use: bool
    rechargeable: bool
    deleted: bool = False
    expired: bool = False
    ledger_rows: int = 1  # the issue row
    debits: list[Debit] = field(default_factory=list)
    # idempotency key -> (kind, signed amount, ledger entry id) of the operation that used it
    keys: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    def fits(self, balance: int) -> bool:
        return self.balance_max is None or balance <= self.balance_max


@dataclass(frozen=True)
class Snapshot:
    balance: int
    status: str
    ledger_rows: int
    deleted: bool
    expires_at: object
    balance_max: int | None


class LedgerMachine(RuleBasedStateMachine):
    card_id: str
    model: CardModel

    # ------------------------------------------------------------------ helpers

    def snapshot(self) -> Snapshot:
        card = GiftCard.objects.get(pk=self.card_id)
        return Snapshot(
            balance=card.balance_cents,
            status=card.status,
            ledger_rows=BalanceLog.objects.filter(card_id=self.card_id).count(),
            deleted=card.deleted_at is not None,
            expires_at=card.expires_at,
            balance_max=card.balance_max_cents,
        )

    def attempt(self, reasons: set[type[exceptions.GiftCardError]], call):
        """Run `call`; it must succeed iff `reasons` is empty, and a refusal changes nothing.

        Returns the call's result, or None when it was (rightly) refused.
        """
        before = self.snapshot()
        try:
            result = call()
        except exceptions.GiftCardError as exc:
            assert reasons, f"refused although the model allows it: {exc!r}"
            assert type(exc) in reasons, f"{exc!r} is none of the expected {reasons}"
            assert self.snapshot() == before, "a refused operation changed the card or ledger"
            return None
        assert not reasons, f"succeeded although the model expected one of {reasons}"
        return result

    def replay_or_conflict(self, key: str | None, kind: str, signed_amount: int):
        """The model's view of an idempotency key: ('replay', entry id), ('conflict', None)
        or None when the key is new (or absent)."""
        if key is None or key not in self.model.keys:
            return None
        used_kind, used_amount, entry_id = self.model.keys[key]
        if used_kind == kind and used_amount == signed_amount:
            return ("replay", entry_id)
        return ("conflict", None)

    def record(self, change: services.BalanceChange, kind: str, signed_amount: int, key):
        entry = change.entry
        assert entry is not None
        assert not change.replayed
        assert entry.kind == kind
        assert entry.amount_cents == signed_amount
        self.model.balance += signed_amount
        self.model.ledger_rows += 1
        assert entry.balance_after_cents == self.model.balance
        if key is not None:
            self.model.keys[key] = (kind, signed_amount, entry.pk)
        return entry

    def check_replay(self, change, entry_id: int) -> None:
        assert change is not None
        assert change.replayed
        assert change.entry is not None and change.entry.pk == entry_id

    # ------------------------------------------------------------------ set-up

    @initialize(
        balance=st.integers(min_value=0, max_value=20_000),
        headroom=st.one_of(st.none(), st.integers(min_value=0, max_value=10_000)),
        # Mostly multi-use and rechargeable, or most sequences die after their first debit.
        single_use=st.sampled_from([False, False, False, True]),
        rechargeable=st.sampled_from([True, True, True, False]),
        # Active twice as often as the others: most money rules need an active card.
        status=st.one_of(st.just(Status.ACTIVE), st.sampled_from(ISSUABLE)),
    )
    def issue(self, balance, headroom, single_use, rechargeable, status):
        assert TENANT is not None, "the test sets TENANT before running the machine"
        balance_max = None if headroom is None else max(balance + headroom, 1)
        card = services.card_issue(
            tenant=TENANT,
            actor=ACTOR,
            balance_cents=balance,
            balance_max_cents=balance_max,
            single_use=single_use,
            rechargeable=rechargeable,
            status=status,
        )
        self.card_id = card.pk
        self.model = CardModel(
            balance=balance,
            status=status,
            balance_max=balance_max,
            single_use=single_use,
            rechargeable=rechargeable,
        )

    # ------------------------------------------------------------------ money

    def usable(self) -> bool:
        return not (self.model.deleted or self.model.expired)

    def can_recharge(self) -> bool:
        m = self.model
        reusable = m.status == Status.REDEEMED and not m.single_use
        return self.usable() and m.rechargeable and (m.status == Status.ACTIVE or reusable)

    def room(self) -> int:
        m = self.model
        return 10_000 if m.balance_max is None else m.balance_max - m.balance

    def do_debit(self, amount: int, key: str | None) -> None:
        m = self.model
        prior = self.replay_or_conflict(key, BalanceLog.Kind.DEBIT, -amount)
        if amount <= 0:  # refused before the card is even looked at
            prior, reasons = None, {exceptions.InvalidAmount}
        elif prior is not None:
            reasons = {exceptions.IdempotencyConflict} if prior[0] == "conflict" else set()
        else:
            reasons = set()
            if m.deleted:
                reasons.add(exceptions.CardDeleted)
            if m.status != Status.ACTIVE:
                reasons.add(exceptions.CardNotActive)
            if m.expired:
                reasons.add(exceptions.CardExpired)
            if amount > m.balance:
                reasons.add(exceptions.InsufficientBalance)
        change = self.attempt(
            reasons,
            lambda: services.card_debit(
                card=self.card_id,
                tenant=TENANT,
                amount_cents=amount,
                actor=ACTOR,
                idempotency_key=key,
            ),
        )
        if change is None:
            return
        if prior is not None:
            self.check_replay(change, prior[1])
            return
        entry = self.record(change, BalanceLog.Kind.DEBIT, -amount, key)
        m.debits.append(Debit(entry_id=entry.pk, amount_cents=amount))
        if m.balance == 0 or m.single_use:
            m.status = Status.REDEEMED

    def do_recharge(self, amount: int, key: str | None) -> None:
        m = self.model
        prior = self.replay_or_conflict(key, BalanceLog.Kind.RECHARGE, amount)
        if amount <= 0:
            prior, reasons = None, {exceptions.InvalidAmount}
        elif prior is not None:
            reasons = {exceptions.IdempotencyConflict} if prior[0] == "conflict" else set()
        else:
            reasons = set()
            if m.deleted:
                reasons.add(exceptions.CardDeleted)
            if not m.rechargeable:
                reasons.add(exceptions.NotRechargeable)
            reusable = m.status == Status.REDEEMED and not m.single_use
            if m.status != Status.ACTIVE and not reusable:
                reasons.add(exceptions.CardNotActive)
            if m.expired:
                reasons.add(exceptions.CardExpired)
            if not m.fits(m.balance + amount):
                reasons.add(exceptions.BalanceMaxExceeded)
        change = self.attempt(
            reasons,
            lambda: services.card_recharge(
                card=self.card_id,
                tenant=TENANT,
                amount_cents=amount,
                actor=ACTOR,
                idempotency_key=key,
            ),
        )
        if change is None:
            return
        if prior is not None:
            self.check_replay(change, prior[1])
            return
        self.record(change, BalanceLog.Kind.RECHARGE, amount, key)
        m.status = Status.ACTIVE

    # The rules below come in pairs: one draws any amount (mostly refusals, whatever the
    # state), the other only runs when the model says it can succeed, so that sequences get
    # deep enough to reach redemption, re-activation, refunds and replays.

    @rule(amount=st.integers(min_value=-100, max_value=25_000), key=IDEMPOTENCY_KEYS)
    def debit_any(self, amount, key):
        self.do_debit(amount, key)

    @precondition(
        lambda self: self.usable() and self.model.status == Status.ACTIVE and self.model.balance > 0
    )
    @rule(data=st.data(), key=IDEMPOTENCY_KEYS)
    def debit_within_balance(self, data, key):
        balance = self.model.balance
        amount = data.draw(
            st.one_of(st.just(balance), st.integers(min_value=1, max_value=balance)),
            label="amount",
        )
        self.do_debit(amount, key)

    @rule(amount=st.integers(min_value=-100, max_value=25_000), key=IDEMPOTENCY_KEYS)
    def recharge_any(self, amount, key):
        self.do_recharge(amount, key)

    @precondition(lambda self: self.can_recharge() and self.room() > 0)
    @rule(data=st.data(), key=IDEMPOTENCY_KEYS)
    def recharge_within_max(self, data, key):
        room = self.room()
        amount = data.draw(
            st.one_of(st.just(room), st.integers(min_value=1, max_value=room)), label="amount"
        )
        self.do_recharge(amount, key)

    @precondition(lambda self: bool(self.model.keys))
    @rule(data=st.data())
    def reuse_idempotency_key(self, data):
        """Replay an earlier operation with its key, or misuse the key for another one."""
        key = data.draw(st.sampled_from(sorted(self.model.keys)), label="key")
        kind, signed_amount, _entry_id = self.model.keys[key]
        amount = abs(signed_amount)
        if data.draw(st.booleans(), label="other amount"):
            amount += 1
        if data.draw(st.booleans(), label="other kind"):
            kind = (
                BalanceLog.Kind.RECHARGE if kind == BalanceLog.Kind.DEBIT else BalanceLog.Kind.DEBIT
            )
        if kind == BalanceLog.Kind.DEBIT:
            self.do_debit(amount, key)
        else:
            self.do_recharge(amount, key)

    @rule(data=st.data())
    def adjust(self, data):
        m = self.model
        new_balance = data.draw(
            st.one_of(
                st.just(m.balance),
                st.just(0),
                st.integers(min_value=0, max_value=(m.balance_max or 20_000) + 2_000),
            ),
            label="new_balance",
        )
        reasons = set()
        if m.deleted:
            reasons.add(exceptions.CardDeleted)
        if new_balance != m.balance and not m.fits(new_balance):
            reasons.add(exceptions.BalanceMaxExceeded)
        change = self.attempt(
            reasons,
            lambda: services.card_adjust(
                card=self.card_id,
                tenant=TENANT,
                new_balance_cents=new_balance,
                actor=ACTOR,
                note="recount",
            ),
        )
        if change is None:
            return
        if new_balance == m.balance:
            assert change.entry is None, "an adjustment to the same balance writes nothing"
            return
        # An adjustment never changes the status (SPEC 3: allowed in any status).
        self.record(change, BalanceLog.Kind.ADJUSTMENT, new_balance - m.balance, None)

    @precondition(lambda self: bool(self.model.debits))
    @rule(data=st.data())
    def refund(self, data):
        """A part of a debit, or all that remains of it (None), as SPEC 11 allows."""
        m = self.model
        debit = data.draw(st.sampled_from(m.debits), label="debit")
        part = data.draw(
            st.one_of(st.none(), st.integers(min_value=1, max_value=debit.amount_cents + 50)),
            label="part",
        )
        amount = debit.remaining if part is None else part
        reasons = set()
        if m.deleted:
            reasons.add(exceptions.CardDeleted)
        if debit.remaining == 0:
            reasons.add(exceptions.AlreadyRefunded)
        elif amount > debit.remaining:
            reasons.add(exceptions.RefundExceedsPayment)
        if not m.fits(m.balance + amount):
            reasons.add(exceptions.BalanceMaxExceeded)
        payment = BalanceLog.objects.get(pk=debit.entry_id)
        change = self.attempt(
            reasons,
            lambda: services.card_refund(
                payment=payment, amount_cents=part, actor=ACTOR, note="returned"
            ),
        )
        if change is None:
            return
        entry = self.record(change, BalanceLog.Kind.REFUND, amount, None)
        assert entry.refund_of_id == debit.entry_id
        debit.refunded_cents += amount
        if m.status == Status.REDEEMED:
            m.status = Status.ACTIVE

    # ------------------------------------------------------------------ statuses

    @rule(trigger=st.sampled_from(["purchase", "activate", "deactivate"]))
    def transition(self, trigger):
        call, sources, target = {
            "purchase": (services.card_purchase, {Status.DRAFT}, Status.INACTIVE),
            # A draft card may be activated directly (purchased and activated in one step).
            "activate": (services.card_activate, {Status.DRAFT, Status.INACTIVE}, Status.ACTIVE),
            "deactivate": (services.card_deactivate, {Status.ACTIVE}, Status.INACTIVE),
        }[trigger]
        m = self.model
        reasons = set()
        if m.deleted:
            reasons.add(exceptions.CardDeleted)
        if m.status not in sources:
            reasons.add(exceptions.IllegalTransition)
        card = self.attempt(reasons, lambda: call(card=self.card_id, tenant=TENANT, actor=ACTOR))
        if card is not None:
            m.status = target
            assert card.purchase_date is not None

    # ------------------------------------------------------------------ attributes

    # Deleting, restoring and expiring again would only dilute the sequences with no-ops
    # (a repeated delete or expiry is a documented no-op, exercised once per example).
    @precondition(lambda self: not self.model.deleted)
    @rule()
    def soft_delete(self):
        self.attempt(
            set(), lambda: services.card_soft_delete(card=self.card_id, tenant=TENANT, actor=ACTOR)
        )
        self.model.deleted = True

    @precondition(lambda self: self.model.deleted)
    @rule()
    def restore(self):
        self.attempt(
            set(), lambda: services.card_restore(card=self.card_id, tenant=TENANT, actor=ACTOR)
        )
        self.model.deleted = False

    @precondition(lambda self: not self.model.expired)
    @rule()
    def expire_now(self):
        self.attempt(
            set(), lambda: services.card_expire_now(card=self.card_id, tenant=TENANT, actor=ACTOR)
        )
        self.model.expired = True

    @precondition(lambda self: self.model.expired)
    @rule(days=st.integers(min_value=1, max_value=365))
    def extend_expiry(self, days):
        expires_at = timezone.now() + timedelta(days=days)
        self.attempt(
            set(),
            lambda: services.card_update(
                card=self.card_id, tenant=TENANT, actor=ACTOR, expires_at=expires_at
            ),
        )
        self.model.expired = False

    @rule(new_max=st.one_of(st.none(), st.integers(min_value=1, max_value=30_000)))
    def set_balance_max(self, new_max):
        m = self.model
        reasons = set()
        if new_max is not None and new_max < m.balance:
            reasons.add(exceptions.BalanceMaxExceeded)
        card = self.attempt(
            reasons,
            lambda: services.card_update(
                card=self.card_id, tenant=TENANT, actor=ACTOR, balance_max_cents=new_max
            ),
        )
        if card is not None:
            m.balance_max = new_max

    # ------------------------------------------------------------------ invariants

    @invariant()
    def ledger_matches_card(self):
        card = GiftCard.objects.get(pk=self.card_id)
        rows = list(BalanceLog.objects.filter(card_id=self.card_id).order_by("id"))
        assert card.balance_cents >= 0
        assert rows, "every card has its issue row"
        assert rows[0].kind == BalanceLog.Kind.ISSUE
        assert rows[0].amount_cents == card.initial_balance_cents
        assert card.balance_cents == sum(row.amount_cents for row in rows)
        assert rows[-1].balance_after_cents == card.balance_cents
        running = 0
        for row in rows:
            running += row.amount_cents
            assert row.balance_after_cents == running, f"broken chain at {row}"
        if card.balance_max_cents is not None:
            assert card.balance_cents <= card.balance_max_cents
        debits = {row.pk: -row.amount_cents for row in rows if row.kind == BalanceLog.Kind.DEBIT}
        refunded = {}
        for row in rows:
            if row.kind == BalanceLog.Kind.REFUND:
                assert row.refund_of_id in debits, "a refund gives back a debit of its card"
                refunded[row.refund_of_id] = refunded.get(row.refund_of_id, 0) + row.amount_cents
        assert all(total <= debits[pk] for pk, total in refunded.items())

    @invariant()
    def card_matches_model(self):
        m = self.model
        card = GiftCard.objects.get(pk=self.card_id)
        assert card.balance_cents == m.balance
        assert card.status == m.status
        assert card.is_deleted == m.deleted
        assert card.is_expired() == m.expired
        assert card.balance_max_cents == m.balance_max
        assert BalanceLog.objects.filter(card_id=self.card_id).count() == m.ledger_rows


def test_ledger_state_machine(db):
    global TENANT
    business = business_create(name="State Machine Books", currency_code="USD")
    TENANT = Tenant(business=business, mode=Mode.LIVE)
    try:
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=80,
                stateful_step_count=40,
                deadline=None,
                database=None,  # no .hypothesis/ directory in the shared checkout
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            ),
        )
    finally:
        TENANT = None

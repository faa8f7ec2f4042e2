"""What the storm left behind, checked against what the clients saw.

Each ledger row is found by its operation's tag and put down to the attempt that made it:
the one that was in flight when the row was stamped (the server stamps rows with the clock
the client reads; an attempt without an answer may still have been in flight afterwards).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.chaos.storm import (
    CODE_LOOKUP,
    JSONAPI_DEBIT,
    JSONAPI_RECHARGE,
    MONEY_KINDS,
    PLAIN_DEBIT,
    PLAIN_REFUND,
    Attempt,
    Card,
    Operation,
)

DATABASE_ERRORS = re.compile(
    r"terminating connection due to administrator command|server closed the connection"
    r"|the connection is (?:closed|lost)|consuming input failed|connection already closed",
    re.IGNORECASE,
)
EXPECTED_KIND = {
    PLAIN_DEBIT: "debit",
    JSONAPI_DEBIT: "debit",
    JSONAPI_RECHARGE: "recharge",
    PLAIN_REFUND: "refund",
}


SERVER_ERROR = "ERROR django.request Internal Server Error"


def server_errors(server_log: str) -> Counter:
    """The server's 500s by where the database failed them: while authenticating the key
    (the request's first queries: where a pooled connection that died in between fails when
    nothing checks it), or later in the request."""
    found: Counter = Counter()
    for record in server_log.split(SERVER_ERROR)[1:]:
        record = record.split(" ERROR ", 1)[0]  # up to the next error record
        if not DATABASE_ERRORS.search(record):
            found["not a database connection error"] += 1
        elif "in authenticate" in record:
            found["database failed while authenticating"] += 1
        else:
            found["database failed later in the request"] += 1
    return found


@dataclass
class Check:
    name: str
    passed: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class Verdict:
    checks: list[Check]
    figures: dict[str, object]
    histogram: Counter
    outcomes: Counter  # per operation: how it ended, and whether its money moved

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def ledger_rows(business_id: int) -> list[dict]:
    from giftcards.models import BalanceLog

    rows = BalanceLog.objects.filter(card__business_id=business_id).exclude(kind="issue")
    return list(
        rows.order_by("id").values(
            "id",
            "kind",
            "card_id",
            "amount_cents",
            "note",
            "order_reference",
            "refund_of_id",
            "idempotency_key",
            "created_at",
        )
    )


def _tag_of(row: dict) -> tuple:
    if row["kind"] == "refund":
        return ("refund", row["refund_of_id"])
    if row["note"]:
        return ("note", row["note"])
    return ("order", row["order_reference"])


def _tag_of_operation(operation: Operation) -> tuple:
    if operation.kind == PLAIN_REFUND:
        return ("refund", operation.payment_id)
    if operation.kind == PLAIN_DEBIT:
        return ("note", operation.tag)
    return ("order", operation.tag)


def committer(operation: Operation, row: dict) -> Attempt | None:
    """The attempt that wrote `row`: in flight when it was stamped; among several (only an
    attempt without an answer can overlap the next), a fresh success first."""
    stamped = row["created_at"].timestamp()
    started = [a for a in operation.attempts if a.sent <= stamped]
    in_flight = [a for a in started if a.status is None or stamped <= a.done]
    candidates = in_flight or started[-1:]
    for prefer in (lambda a: a.ok and not a.replayed, lambda a: a.status is None):
        chosen = [a for a in candidates if prefer(a)]
        if chosen:
            return chosen[-1]
    return candidates[-1] if candidates else None


def _expected_amount(operation: Operation) -> int:
    sign = -1 if operation.kind in (PLAIN_DEBIT, JSONAPI_DEBIT) else 1
    return sign * operation.amount_cents


def operation_problems(operation: Operation, rows: list[dict]) -> dict[str, list[str]]:
    """Problems of one operation, by check name."""
    found: dict[str, list[str]] = {}
    name = f"#{operation.number} {operation.kind} ({operation.tag})"
    successes = [a for a in operation.attempts if a.ok]
    if len(rows) > 1:
        found.setdefault("moved at most once", []).append(
            f"{name}: {len(rows)} ledger rows ({len(operation.attempts)} attempts)"
        )
    for row in rows:
        if row["kind"] != EXPECTED_KIND[operation.kind] or row["card_id"] != operation.card_id:
            found.setdefault("moved at most once", []).append(
                f"{name}: row {row['id']} is a {row['kind']} of card {row['card_id']}"
            )
        elif row["amount_cents"] != _expected_amount(operation):
            found.setdefault("moved at most once", []).append(
                f"{name}: row {row['id']} moved {row['amount_cents']}"
            )
        keyed_row = operation.kind != PLAIN_REFUND  # the refund's key is its payment
        if operation.key and keyed_row and not row["idempotency_key"]:
            found.setdefault("moved at most once", []).append(
                f"{name}: row {row['id']} does not carry the request's key"
            )
        attempt = committer(operation, row)
        if attempt is None:
            found.setdefault("every row is a storm request's", []).append(
                f"{name}: row {row['id']} was written before any of its requests was sent"
            )
        elif attempt.status is not None and attempt.status >= 500:
            found.setdefault("no 5xx after a committed move", []).append(
                f"{name}: row {row['id']} committed, the client got {attempt.status}"
            )
        elif attempt.status is not None and not attempt.ok:
            found.setdefault("no refusal after a committed move", []).append(
                f"{name}: row {row['id']} committed, the client got {attempt.status}"
            )
    if successes and len(rows) != 1:
        found.setdefault("every 2xx has its ledger row", []).append(
            f"{name}: {len(successes)} 2xx answers, {len(rows)} ledger rows"
        )
    if rows and operation.kind in (PLAIN_DEBIT, PLAIN_REFUND):
        expected = rows[0]["id"] if operation.kind == PLAIN_DEBIT else operation.payment_id
        for attempt in successes:
            body = attempt.json()
            named = body.get("paymentId") if isinstance(body, dict) else None
            if named != expected:
                found.setdefault("every 2xx has its ledger row", []).append(
                    f"{name}: a 2xx names payment {named}, not {expected}"
                )
    return found


def _outcome(operation: Operation, rows: list[dict]) -> str:
    last = operation.attempts[-1]
    moved = "moved" if rows else "nothing moved"
    if any(a.ok for a in operation.attempts):
        return f"acknowledged, {moved}"
    if last.status is None:
        return f"no answer, {moved}"
    if last.in_progress:
        return f"key still in use (409) at the end, {moved}"
    return f"{last.status}, {moved}"


def _lookup_problems(operation: Operation) -> list[str]:
    problems = []
    for attempt in operation.attempts:
        if attempt.status is not None and 400 <= attempt.status < 500:
            problems.append(f"#{operation.number} {operation.query[:40]}...: {attempt.status}")
        if not attempt.ok:
            continue
        body = attempt.json() or {}
        ids = [item.get("id") for item in body.get("data", [])]
        if operation.card_id not in ids:
            problems.append(f"#{operation.number} {operation.query[:40]}...: not found")
    return problems


def _access_log_problems(access_log: Path, cards: list[Card], lookups: int) -> list[str]:
    from giftcards.codes import normalise

    text = access_log.read_text(errors="replace") if access_log.exists() else ""
    if not text.strip():
        return [f"the access log {access_log} is empty"]
    problems = [
        f"card {card.id}'s code is in the access log"
        for card in cards
        if card.code in text or normalise(card.code) in text
    ]
    if lookups and "[redacted]" not in text:
        problems.append("code lookups were sent but no [redacted] value is in the access log")
    return problems


def reconcile(business_id: int) -> tuple[int, str]:
    """Cards whose balance is not initial + their ledger (reconcile_ledger's verdict)."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = io.StringIO()
    with contextlib.suppress(CommandError):  # it lists the cards that differ, then raises
        call_command("reconcile_ledger", business=business_id, no_progress=True, stdout=out)
    report = out.getvalue().strip()
    differ = re.search(r"(\d+) differ", report)
    return (int(differ.group(1)) if differ else -1), report


def judge(
    *,
    operations: list[Operation],
    business_id: int,
    cards: list[Card],
    faults,
    access_log: Path,
    server_log: Path,
) -> Verdict:
    rows = ledger_rows(business_id)
    by_tag: dict[tuple, list[dict]] = {}
    for row in rows:
        by_tag.setdefault(_tag_of(row), []).append(row)

    names = [
        "every card reconciles",
        "every 2xx has its ledger row",
        "no 5xx after a committed move",
        "no refusal after a committed move",
        "moved at most once",
        "every row is a storm request's",
        "code filters found their cards",
        "no gift card code in the access log",
        "faults were injected",
        "every kind of move was acknowledged",
    ]
    problems: dict[str, list[str]] = {name: [] for name in names}
    histogram: Counter = Counter()
    outcomes: Counter = Counter()
    claimed: set[tuple] = set()
    acknowledged: Counter = Counter()
    for operation in operations:
        for attempt in operation.attempts:
            histogram[str(attempt.status) if attempt.status else "no answer"] += 1
        if operation.kind == CODE_LOOKUP:
            problems["code filters found their cards"] += _lookup_problems(operation)
            continue
        tag = _tag_of_operation(operation)
        claimed.add(tag)
        mine = by_tag.get(tag, [])
        for check, found in operation_problems(operation, mine).items():
            problems[check] += found
        outcomes[f"{operation.kind}: {_outcome(operation, mine)}"] += 1
        if any(a.ok for a in operation.attempts):
            acknowledged[operation.kind] += 1
    strays = [row for tag, tagged in by_tag.items() if tag not in claimed for row in tagged]
    problems["every row is a storm request's"] += [
        f"row {row['id']} ({row['kind']} {row['amount_cents']}) matches no request"
        for row in strays
    ]
    differ, report = reconcile(business_id)
    if differ != 0:
        problems["every card reconciles"].append(report)
    lookups = sum(1 for op in operations if op.kind == CODE_LOOKUP)
    problems["no gift card code in the access log"] += _access_log_problems(
        access_log, cards, lookups
    )
    if not faults.kills:
        problems["faults were injected"].append("no worker was killed")
    if not faults.backends_terminated:
        problems["faults were injected"].append("no database backend was terminated")
    for kind in MONEY_KINDS:
        if not acknowledged[kind]:
            problems["every kind of move was acknowledged"].append(f"no {kind} got a 2xx")

    attempts = [a for op in operations for a in op.attempts]
    money = [op for op in operations if op.kind != CODE_LOOKUP]
    no_answer_committed = sum(
        1
        for op in money
        for row in by_tag.get(_tag_of_operation(op), [])
        if (attempt := committer(op, row)) is not None and attempt.status is None
    )
    server_text = server_log.read_text(errors="replace") if server_log.exists() else ""
    figures = {
        "operations": len(operations),
        "requests sent": len(attempts),
        "keyed operations": sum(1 for op in money if op.key),
        "keyed operations sent more than once": sum(
            1 for op in money if op.key and len(op.attempts) > 1
        ),
        "replayed answers (Idempotent-Replayed)": sum(1 for a in attempts if a.replayed),
        "no answer": sum(1 for a in attempts if a.status is None),
        "no answer, the move committed": no_answer_committed,
        "5xx": sum(1 for a in attempts if a.status is not None and a.status >= 500),
        "5xx after a committed move": len(problems["no 5xx after a committed move"]),
        "ledger rows written": len(rows),
        "workers killed (kill -9)": len(faults.kills),
        "backend termination rounds": faults.termination_rounds,
        "backends terminated": faults.backends_terminated,
        "cards out of balance": differ,
        **{f"500s logged: {cause}": n for cause, n in sorted(server_errors(server_text).items())},
    }
    checks = [Check(name, not problems[name], problems[name]) for name in names]
    return Verdict(checks=checks, figures=figures, histogram=histogram, outcomes=outcomes)

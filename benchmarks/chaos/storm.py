"""The storm: client threads sending a bounded, seeded mix of money moves through both APIs,
recording every attempt; a connection that drops (a worker killed under it) is "no answer".

Each operation carries a tag that the service writes into the ledger row it causes, so the
verdict can find that row: the plain API's payment `comment` (the row's note), the JSON:API's
`_order_reference` (the row's order reference), and for a refund the payment it refunds (the
row's `refund_of`).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

JSONAPI = "application/vnd.api+json"
PLAIN_DEBIT = "plain debit"
PLAIN_REFUND = "plain refund"
JSONAPI_DEBIT = "jsonapi debit"
JSONAPI_RECHARGE = "jsonapi recharge"
CODE_LOOKUP = "code lookup"
MONEY_KINDS = (PLAIN_DEBIT, PLAIN_REFUND, JSONAPI_DEBIT, JSONAPI_RECHARGE)
WEIGHTS = {
    PLAIN_DEBIT: 32,
    JSONAPI_DEBIT: 28,
    JSONAPI_RECHARGE: 18,
    PLAIN_REFUND: 16,
    CODE_LOOKUP: 6,
}
IN_PROGRESS_MARKERS = (b"idempotency_key_in_use", b"still being processed")


@dataclass
class Attempt:
    sent: float  # time.time(), the clock the server stamps ledger rows with
    done: float = 0.0
    status: int | None = None  # None: no answer (connection refused, reset, timed out)
    error: str = ""
    replayed: bool = False
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def in_progress(self) -> bool:
        return self.status == 409 and any(marker in self.body for marker in IN_PROGRESS_MARKERS)

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Operation:
    number: int
    kind: str
    card_id: str
    amount_cents: int
    tag: str
    key: str | None  # Idempotency-Key, or None
    payment_id: int | None = None  # the payment a refund gives back
    query: str = ""
    attempts: list[Attempt] = field(default_factory=list)


@dataclass(frozen=True)
class Card:
    id: str
    code: str
    rechargeable: bool


class Planner:
    """Hands out operations to the client threads until the budget or the time is spent.
    Refunds are of payments the plain API acknowledged, each payment refunded by one
    operation."""

    def __init__(self, cards: list[Card], *, run: str, operations: int, seconds: float, seed):
        self.cards = cards
        self.rechargeable = [card for card in cards if card.rechargeable]
        self.run = run
        self.budget = operations
        self.deadline = time.monotonic() + seconds
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.issued: list[Operation] = []
        self.payments: list[tuple[int, str, int]] = []  # acknowledged, not yet refunded

    def next(self) -> Operation | None:
        with self.lock:
            if len(self.issued) >= self.budget or time.monotonic() >= self.deadline:
                return None
            operation = self._draw(len(self.issued) + 1)
            self.issued.append(operation)
            return operation

    def paid(self, payment_id: int, card_id: str, amount_cents: int) -> None:
        with self.lock:
            self.payments.append((payment_id, card_id, amount_cents))

    def _draw(self, number: int) -> Operation:
        rng = self.random
        kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        if kind == PLAIN_REFUND and not self.payments:
            kind = PLAIN_DEBIT
        keyed = rng.random() < 0.6
        key = f"chaos-{self.run}-{number}" if keyed else None
        if kind == CODE_LOOKUP:
            found = rng.sample(self.cards, 2)
            query = rng.choice(
                [
                    f"filter[code]={found[0].code}",
                    f"filter[q][code_eq]={found[0].code}",
                    f"filter%5Bq%5D%5Bcode_in%5D={found[0].code},{found[1].code}",
                ]
            )
            return Operation(number, kind, found[0].id, 0, "", None, query=query)
        if kind == PLAIN_REFUND:
            payment_id, card_id, amount = self.payments.pop(rng.randrange(len(self.payments)))
            tag = f"refund of {payment_id}"
            return Operation(number, kind, card_id, amount, tag, key, payment_id=payment_id)
        if kind == JSONAPI_RECHARGE:
            card, amount = rng.choice(self.rechargeable), rng.randint(100, 2_000)
        else:
            card, amount = rng.choice(self.cards), rng.randint(1, 2_500)
        prefix = "P" if kind == PLAIN_DEBIT else "J"
        query = ""
        if kind != PLAIN_DEBIT:
            # The full document, a sparse one, and one with included tags (a read of its own).
            query = rng.choice(["", "fields[gift_cards]=balance_cents", "include=tags"])
        return Operation(
            number, kind, card.id, amount, f"{prefix}-{self.run}-{number}", key, None, query
        )


class Client:
    """One request per connection to the server on 127.0.0.1:`port`."""

    def __init__(self, port: int, secret: str, timeout: float = 20.0):
        self.port = port
        self.secret = secret
        self.timeout = timeout

    def request(self, operation: Operation) -> Attempt:
        method, path, body, media_type = self._shape(operation)
        headers = {"Authorization": f"Bearer {self.secret}", "Accept": media_type}
        if body is not None:
            headers["Content-Type"] = media_type
        if operation.key:
            headers["Idempotency-Key"] = operation.key
        attempt = Attempt(sent=time.time())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            attempt.body = response.read()
            attempt.status = response.status
            attempt.replayed = response.getheader("Idempotent-Replayed") == "true"
        except (OSError, http.client.HTTPException) as exc:  # reset, refused, timed out
            attempt.error = type(exc).__name__
        finally:
            connection.close()
            attempt.done = time.time()
        return attempt

    @staticmethod
    def _shape(operation: Operation) -> tuple[str, str, bytes | None, str]:
        kind = operation.kind
        if kind == PLAIN_DEBIT:
            cents = operation.amount_cents
            body = {
                "giftCardUUId": operation.card_id,
                "amount": f"{cents // 100}.{cents % 100:02d}",
                "comment": operation.tag,
            }
            return "POST", "/payments", json.dumps(body).encode(), "application/json"
        if kind == PLAIN_REFUND:
            return "DELETE", f"/payments/{operation.payment_id}", None, "application/json"
        if kind == CODE_LOOKUP:
            return "GET", f"/api/gift_cards?{operation.query}", None, JSONAPI
        sign = -1 if kind == JSONAPI_DEBIT else 1
        document = {
            "data": {
                "type": "gift_cards",
                "id": operation.card_id,
                "attributes": {
                    "_balance_change_cents": sign * operation.amount_cents,
                    "_order_reference": operation.tag,
                },
            }
        }
        path = f"/api/gift_cards/{operation.card_id}"
        if operation.query:
            path += f"?{operation.query}"
        return "PATCH", path, json.dumps(document).encode(), JSONAPI


def perform(operation: Operation, client: Client, rng: random.Random, retries: int) -> None:
    """Send an operation; with a key, retry what got no final answer (no answer, a 5xx, a
    409 for a key still in use) and now and then resend a success (it must be replayed).
    Without a key nothing is resent: a retry could move the money twice."""
    resent_success = False
    for _ in range(1 + retries):
        attempt = client.request(operation)
        operation.attempts.append(attempt)
        if operation.key is None:
            return
        unanswered = attempt.status is None or attempt.status >= 500 or attempt.in_progress
        if unanswered:
            time.sleep(0.1 + rng.random() * 0.4)
            continue
        if attempt.ok and not resent_success and rng.random() < 0.3:
            resent_success = True
            continue
        return


def storm(
    planner: Planner,
    client: Client,
    *,
    threads: int,
    retries: int,
    seed,
    on_done: Callable[[Operation], None] | None = None,
) -> list[Operation]:
    """Run the planner's operations on `threads` client threads; every operation issued."""

    def work(index: int) -> None:
        rng = random.Random(f"{seed}-{index}")
        while (operation := planner.next()) is not None:
            perform(operation, client, rng, retries)
            if operation.kind == PLAIN_DEBIT:
                payment = next((a.json() for a in operation.attempts if a.ok), None)
                if isinstance(payment, dict) and isinstance(payment.get("paymentId"), int):
                    planner.paid(payment["paymentId"], operation.card_id, operation.amount_cents)
            if on_done is not None:
                on_done(operation)

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return planner.issued

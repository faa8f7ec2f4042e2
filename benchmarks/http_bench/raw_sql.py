"""The floor: a debit as two SQL statements in one transaction, straight through psycopg (one
connection per client thread), with no HTTP, no Django and no history row."""

from __future__ import annotations

import threading

import psycopg

DEBIT = (
    "UPDATE giftcards_giftcard SET balance_cents = balance_cents - %s"
    " WHERE id = %s AND balance_cents >= %s AND status = 'active' RETURNING balance_cents"
)
LEDGER_ROW = (
    "INSERT INTO giftcards_balancelog (card_id, kind, amount_cents, balance_after_cents,"
    " order_reference, actor_name, note, created_at)"
    " VALUES (%s, 'debit', %s, %s, '', 'raw-sql', '', now())"
)


class RawSqlDebits:
    def __init__(self, url: str):
        self.url = url
        self.local = threading.local()
        self.connections: list[psycopg.Connection] = []
        self.lock = threading.Lock()

    def _connection(self) -> psycopg.Connection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = psycopg.connect(self.url, autocommit=True)
            self.local.connection = connection
            with self.lock:
                self.connections.append(connection)
        return connection

    def debit(self, card_id: str, cents: int) -> bool:
        """True when the card had the funds and is active; then one ledger row was written."""
        connection = self._connection()
        with connection.transaction():
            row = connection.execute(DEBIT, (cents, card_id, cents)).fetchone()
            if row is None:
                return False
            connection.execute(LEDGER_ROW, (card_id, -cents, row[0]))
            return True

    def close(self) -> None:
        for connection in self.connections:
            connection.close()

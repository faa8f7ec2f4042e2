"""Waking the workers after a commit that recorded events.

A kick queues one dispatch task, delayed by `KICK_INTERVAL`, and the process then queues no
other for that long: the delayed task starts after every event committed in the meantime
and fans them out together, and an event committed later kicks again. A busy server so
queues a few messages a second, not one per money move. A kick that cannot reach the broker
is logged and not retried for `BROKER_BACKOFF` seconds (money keeps moving; the sweep fans
the events out once the broker answers).
"""

from __future__ import annotations

import logging
import threading
import time

KICK_INTERVAL = 0.1
BROKER_BACKOFF = 10.0
logger = logging.getLogger(__name__)

_lock = threading.Lock()
_quiet_until = 0.0


def kick() -> None:
    """After a commit: have the outbox fanned out soon. Never raises."""
    global _quiet_until
    now = time.monotonic()
    with _lock:
        if now < _quiet_until:
            return
        _quiet_until = now + KICK_INTERVAL
    try:
        from giftcards.events import tasks

        tasks.dispatch.apply_async(countdown=KICK_INTERVAL)
    except Exception as exc:  # any broker failure: the sweep covers it
        with _lock:
            _quiet_until = time.monotonic() + BROKER_BACKOFF
        logger.warning(
            "Could not queue the event dispatch (%s: %s); events wait for the next sweep.",
            type(exc).__name__,
            exc,
        )


def kick_sweep() -> None:
    """Have everything due queued soon (after a circuit reset, a webhook enabled, an e-mail
    asked for again). Never raises: without a broker the periodic sweep does it."""
    try:
        from giftcards.events import tasks

        tasks.sweep.apply_async()
    except Exception as exc:
        logger.warning(
            "Could not queue a sweep (%s: %s); the periodic sweep will run it.",
            type(exc).__name__,
            exc,
        )


def reset() -> None:
    """Forget the last kick (tests)."""
    global _quiet_until
    with _lock:
        _quiet_until = 0.0

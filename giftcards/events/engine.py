"""Waking the workers after a commit that recorded events, without ever making a request
wait for the broker.

A kick only raises a flag; a daemon thread of the process (started on the first kick, again
after a fork) publishes: one dispatch task, delayed by `KICK_INTERVAL`, then it sleeps that
long before it looks at the flag again. The delayed task starts after every event committed
in the meantime and fans them out together, and a kick during the sleep is published right
after it, so every event is announced and a busy process queues at most a few messages a
second. A broker that fails or hangs holds only that thread (a failure is logged and the
thread waits `BROKER_BACKOFF` before trying again); money keeps moving, and the sweep fans
the events out once the broker answers. `kick_sweep` asks the same thread for a sweep, and
`kick_imports` for the import sweep.
"""

from __future__ import annotations

import logging
import os
import threading
import time

KICK_INTERVAL = 0.1
BROKER_BACKOFF = 10.0
logger = logging.getLogger(__name__)

_lock = threading.Lock()
_wanted = threading.Event()
_asked = {"dispatch": False, "sweep": False, "imports": False}
_thread: dict[str, object] = {"pid": None}


def kick() -> None:
    """After a commit: have the outbox fanned out soon. Never blocks, never raises."""
    _ask("dispatch")


def kick_sweep() -> None:
    """Have everything due queued soon (a circuit reset, a webhook enabled, an e-mail asked
    for again). Never blocks, never raises: without a broker the periodic sweep does it."""
    _ask("sweep")


def kick_imports() -> None:
    """After a commit that created an import: have it queued soon. Never blocks, never raises:
    without a broker the periodic import sweep queues it."""
    _ask("imports")


def _ask(what: str) -> None:
    with _lock:
        _asked[what] = True
        if _thread["pid"] != os.getpid():  # none yet, or the parent's before a fork
            _thread["pid"] = os.getpid()
            threading.Thread(target=_publisher, name="events-kick", daemon=True).start()
    _wanted.set()


def _publisher() -> None:
    while True:
        _wanted.wait()
        _wanted.clear()
        with _lock:
            asked = [what for what, flag in _asked.items() if flag]
            for what in asked:
                _asked[what] = False
        try:
            publish(asked)
        except Exception as exc:  # any broker failure: the sweep covers it
            logger.warning(
                "Could not queue %s (%s: %s); events wait for the next sweep.",
                " and ".join(asked),
                type(exc).__name__,
                exc,
            )
            time.sleep(BROKER_BACKOFF)
        else:
            time.sleep(KICK_INTERVAL)


def publish(asked: list[str]) -> None:
    """Queue what was asked for: a delayed dispatch, a sweep, the import sweep."""
    from giftcards.events import tasks

    if "dispatch" in asked:
        tasks.dispatch.apply_async(countdown=KICK_INTERVAL)
    if "sweep" in asked:
        tasks.sweep.apply_async()
    if "imports" in asked:
        from giftcards.imports import tasks as import_tasks

        import_tasks.sweep.apply_async()

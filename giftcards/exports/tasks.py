"""Celery tasks of exports (thin wrappers over giftcards.exports.work), and `announce`, which
queues a new export's run after its commit without a request ever waiting for the broker.

`announce` only hands the message to a daemon thread of the process (started on first use,
again after a fork), which publishes it; a broker that fails or hangs holds only that thread
(a failure is logged and the thread waits BROKER_BACKOFF before the next message), and the
export waits for the sweep, which queues it once its queue lease runs out.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time

from celery import shared_task

from giftcards.exports import work

BROKER_BACKOFF = 10.0
logger = logging.getLogger(__name__)

_outbox: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
_lock = threading.Lock()
_thread: dict[str, int | None] = {"pid": None}


@shared_task(name="giftcards.exports.tasks.run")
def run(export_id: str, token: str) -> str:
    """Write one export (queued by `announce` or the sweep)."""
    return work.run(export_id, token)


@shared_task(name="giftcards.exports.tasks.sweep")
def sweep() -> int:
    """Queue the exports whose lease ran out (every EXPORTS_SWEEP_SECONDS, by beat)."""
    return work.queue_due()


@shared_task(name="giftcards.exports.tasks.purge")
def purge() -> int:
    """Remove files whose download link expired (every five minutes, by beat)."""
    return work.purge()


def celery_queue(export_id: str, token: str) -> None:
    run.apply_async((export_id, token))


def announce(export_id: str, token: str) -> None:
    """After a commit: have the export run soon. Never blocks, never raises."""
    _outbox.put((export_id, token))
    with _lock:
        if _thread["pid"] != os.getpid():  # none yet, or the parent's before a fork
            _thread["pid"] = os.getpid()
            threading.Thread(target=_publisher, name="exports-announce", daemon=True).start()


def _publisher() -> None:
    while True:
        export_id, token = _outbox.get()
        try:
            celery_queue(export_id, token)
        except Exception as exc:  # any broker failure: the sweep covers it
            logger.warning(
                "Could not queue export %s (%s: %s); it waits for the sweep.",
                export_id,
                type(exc).__name__,
                exc,
            )
            time.sleep(BROKER_BACKOFF)

"""`celery` for the processes that tests and benchmarks start: kept on this machine
(tests/network_guard.py), its broker keys under the run's prefix when CELERY_KEY_PREFIX is set.

    python -m tests.celery_guarded -A giftcards_project worker ...   # any celery arguments

The prefix (kombu's `global_keyprefix`) covers every key the run writes: its queue, its
bindings, its unacknowledged messages (a killed worker's included), so runs sharing a Redis
database never see each other's messages, and each deletes its own keys and only those
(benchmarks/celery_stack.py). The process stops itself when the one that started it is gone
(a test run killed before its fixtures could stop it).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from tests import network_guard


def _stop_when_orphaned(parent: int) -> None:
    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)  # a warm shutdown takes the pool with it
        time.sleep(10)
        if os.getpgrp() == os.getpid():  # its own group (benchmarks/celery_stack.py)
            os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def main() -> None:
    network_guard.install()
    _stop_when_orphaned(os.getppid())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "giftcards_project.settings")
    from benchmarks import celery_stack

    prefix = os.environ.get(celery_stack.KEY_PREFIX, "")
    if prefix:
        celery_stack.isolate_keys(prefix)
    from celery.__main__ import main as celery

    sys.argv[0] = "celery"
    celery()


if __name__ == "__main__":
    main()

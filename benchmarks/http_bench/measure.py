"""How the figures are taken: A and B interleaved, fixed request counts, time caps, medians."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from benchmarks.http_bench.client import Reply

Call = Callable[[int], Reply | bool]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass
class Samples:
    cpu_ms: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # requests/s of each round
    done: int = 0
    failed: int = 0
    statuses: set[int] = field(default_factory=set)
    capped: bool = False  # the time cap stopped it before its count

    def record(self, reply: Reply | bool) -> None:
        self.done += 1
        if isinstance(reply, bool):
            self.failed += not reply
            return
        self.seconds.append(reply.seconds)
        if reply.cpu_ms is not None:
            self.cpu_ms.append(reply.cpu_ms)
        if not reply.ok:
            self.failed += 1
            self.statuses.add(reply.status)


def sequential(calls: dict[str, Call], repeats: int, cap_seconds: float) -> dict[str, Samples]:
    """One request at a time, the variants alternating (in an order that turns around every
    repeat, ABBA), `repeats` times each or until the time cap."""
    samples = {name: Samples() for name in calls}
    names = list(calls)
    deadline = time.monotonic() + cap_seconds
    for repeat in range(repeats):
        if time.monotonic() > deadline:
            for taken in samples.values():
                taken.capped = True
            break
        for name in names if repeat % 2 == 0 else reversed(names):
            samples[name].record(calls[name](repeat))
    return samples


class Load:
    """Rounds of concurrent requests on a fixed pool of client threads."""

    def __init__(self, threads: int):
        self.threads = threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-client")

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def _round(self, call: Call, first: int, count: int, samples: Samples, deadline: float):
        lock = threading.Lock()

        def worker(offset: int) -> None:
            mine = []
            for index in range(first + offset, first + count, self.threads):
                if time.monotonic() > deadline:
                    samples.capped = True
                    break
                mine.append(call(index))
            with lock:
                for reply in mine:
                    samples.record(reply)

        before = samples.done
        started = time.perf_counter()
        list(self.pool.map(worker, range(self.threads)))
        wall = time.perf_counter() - started
        samples.rates.append((samples.done - before) / wall)

    def rounds(
        self, calls: dict[str, Call], per_round: int, rounds: int, cap_seconds: float
    ) -> dict[str, Samples]:
        """`rounds` rounds of `per_round` requests per variant, the variants taking turns (in
        an order that turns around every round); stops early at the time cap."""
        samples = {name: Samples() for name in calls}
        names = list(calls)
        deadline = time.monotonic() + cap_seconds
        for number in range(rounds):
            if time.monotonic() > deadline:
                for taken in samples.values():
                    taken.capped = True
                break
            for name in names if number % 2 == 0 else reversed(names):
                self._round(calls[name], number * per_round, per_round, samples[name], deadline)
        return samples

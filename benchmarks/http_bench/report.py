"""The compact table printed at the end."""

from __future__ import annotations

from benchmarks.http_bench.measure import Samples, median, p95


def _ratio(numerator: float, denominator: float) -> str:
    if not denominator or numerator != numerator or denominator != denominator:
        return "   n/a"
    return f"{numerator / denominator:5.2f}x"


def _failed(samples: Samples, who: str = "") -> str:
    """Notes on a figure: requests that failed, or a time cap that cut the count short."""
    who = f"{who} " if who else ""
    note = ""
    if samples.failed:
        statuses = ",".join(str(status) for status in sorted(samples.statuses))
        note += f"  ({who}{samples.failed} failed {statuses})"
    if samples.capped:
        note += f"  ({who}time cap: {samples.done} requests)"
    return note


def reads_table(rows: list[tuple]) -> list[str]:
    """rows: (read, cpu samples {service, baseline}, rate samples {service, baseline})"""
    lines = [
        "Reads: server CPU ms per request (median), baseline/service (1.00x = as fast as the "
        "hand-written view), latency ms one at a time (median), requests/s (median of rounds)",
        f"  {'read':<28} {'service':>8} {'baseline':>8} {'base/svc':>9} {'goal':>6}"
        f" {'svc ms':>7} {'base ms':>7} {'svc req/s':>10} {'base req/s':>10}",
    ]
    for read, cpu, rates in rows:
        service, baseline = median(cpu["service"].cpu_ms), median(cpu["baseline"].cpu_ms)
        walls = [median(cpu[side].seconds) * 1000 for side in ("service", "baseline")]
        lines.append(
            f"  {read.name:<28} {service:8.2f} {baseline:8.2f} {_ratio(baseline, service):>9}"
            f" {read.goal:5.2f}x {walls[0]:7.2f} {walls[1]:7.2f}"
            f" {median(rates['service'].rates):10.1f} {median(rates['baseline'].rates):10.1f}"
            f"{_failed(cpu['service'], 'service')}{_failed(cpu['baseline'], 'baseline')}"
            f"{_failed(rates['service'], 'service')}{_failed(rates['baseline'], 'baseline')}"
        )
    return lines


def debits_table(hot: dict[str, Samples], spread: dict[str, Samples], threads: int) -> list[str]:
    lines = [
        f"Debits/s ({threads} client threads; median of rounds), server CPU ms per debit "
        "(median, spread), and service/baseline rate ratios",
        f"  {'variant':<26} {'hot card':>9} {'spread':>9} {'CPU ms':>7}"
        f" {'hot/hand':>9} {'spread/hand':>11} {'hot/SQL':>8} {'spread/SQL':>10}",
    ]
    hand, sql = "hand-written Django", "raw SQL (psycopg)"
    for variant in hot:
        hot_rate, spread_rate = median(hot[variant].rates), median(spread[variant].rates)
        cpu = median(spread[variant].cpu_ms)
        line = (
            f"  {variant:<26} {hot_rate:9.1f} {spread_rate:9.1f}"
            f" {'' if cpu != cpu else f'{cpu:7.2f}':>7}"
        )
        if variant not in (hand, sql):
            line += (
                f" {_ratio(hot_rate, median(hot[hand].rates)):>9}"
                f" {_ratio(spread_rate, median(spread[hand].rates)):>11}"
                f" {_ratio(hot_rate, median(hot[sql].rates)):>8}"
                f" {_ratio(spread_rate, median(spread[sql].rates)):>10}"
            )
        lines.append(line + _failed(hot[variant], "hot") + _failed(spread[variant], "spread"))
    return lines


def latency_table(samples: dict[str, Samples], log_cpu: float) -> list[str]:
    lines = [
        "JSON:API debit latency (one at a time), ms: median / p95; server CPU ms (median)",
        f"  {'response':<24} {'1 row':>17} {'10,000 rows':>17} {'10k/1':>7}",
    ]
    for response in ("sparse", "full"):
        one, big = samples[f"1 row, {response}"], samples[f"10k rows, {response}"]
        label = "fields=balance_cents" if response == "sparse" else "full document"
        cells = []
        for taken in (one, big):
            ms = [seconds * 1000 for seconds in taken.seconds]
            cells.append(f"{median(ms):7.1f} / {p95(ms):7.1f}")
        ratio = _ratio(median(big.seconds), median(one.seconds))
        lines.append(
            f"  {label:<24} {cells[0]:>17} {cells[1]:>17} {ratio:>7}"
            f"   CPU {median(one.cpu_ms):.1f} vs {median(big.cpu_ms):.1f}"
            f"{_failed(one, '1 row')}{_failed(big, '10k')}"
        )
    one, big = samples["1 row, full"], samples["10k rows, full"]
    growth = median(big.cpu_ms) - median(one.cpu_ms)
    lines.append(
        f"  full document, 1 -> 10,000 rows: {growth:.1f} ms more server CPU; rendering the "
        f"log alone (read, build, encode; in process): {log_cpu:.1f} ms; {_ratio(growth, log_cpu)}"
    )
    return lines

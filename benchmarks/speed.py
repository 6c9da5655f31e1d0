"""Speed: ml4t-backtest's own TargetWeightExecutor against rebalancing.ml4t, same books.

Each book: N assets with prices U(5, 500), half of them held (random weights summing to
0.9), targets over 80% of the names summing to 0.95, thresholds 0, fractional shares, no
costs. Every timed call gets a freshly built, identical broker (building it is not timed).
Prints the median of repeated runs per size (garbage collection paused inside each timed
call, as timeit does), and ours/theirs; then where our preview's time goes (reading the
broker, planning, building the dicts) beside ml4t's whole preview; then bare
``compute_trades`` per size, and its peak memory per asset at the largest size
(tracemalloc).

    python benchmarks/speed.py            # 10, 100, 1,000 and 5,000 assets
    python benchmarks/speed.py --quick    # a smoke run: small sizes, few repeats

Needs the extra: pip install 'rebalancing[ml4t]'.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import ml4t.backtest as theirs
from ml4t.backtest import Broker, OrderSide
from ml4t.backtest.config import RebalanceMode

import rebalancing
from rebalancing import ml4t as ours
from rebalancing._ml4t_orders import preview_rows
from rebalancing.ml4t import snapshot_from_broker

WHEN = datetime(2024, 1, 2, 16, 0, tzinfo=UTC)
CASH = 10_000_000.0


def book(size: int, seed: int = 7) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Prices, held quantities and target weights for ``size`` assets."""
    rng = random.Random(seed + size)
    names = [f"S{i:05d}" for i in range(size)]
    prices = {name: round(rng.uniform(5.0, 500.0), 2) for name in names}
    held = rng.sample(names, max(1, size // 2))
    raw = [rng.random() for _ in held]
    holdings = {
        name: 0.9 * CASH * r / sum(raw) / prices[name] for name, r in zip(held, raw, strict=True)
    }
    chosen = rng.sample(names, max(1, int(size * 0.8)))
    raw = [rng.random() for _ in chosen]
    targets = {name: 0.95 * r / sum(raw) for name, r in zip(chosen, raw, strict=True)}
    return prices, holdings, targets


def broker_for(prices: dict[str, float], holdings: dict[str, float]) -> Broker:
    """A fresh broker at the book's prices, holding the book's positions."""
    broker = Broker(initial_cash=CASH)
    volumes = dict.fromkeys(prices, 1e12)
    broker._update_time(WHEN, prices, prices, prices, prices, volumes, {})  # noqa: SLF001
    for asset, quantity in holdings.items():
        broker.submit_order(asset, quantity, OrderSide.BUY)
    broker._process_orders()  # noqa: SLF001 - how ml4t fills within a bar
    return broker


def config_for(module: Any, mode: Any) -> Any:
    return module.RebalanceConfig(
        min_trade_value=0.0,
        min_weight_change=0.0,
        allow_fractional=True,
        rebalance_mode=mode,
    )


def median_seconds(run: Any, setup: Any, repeats: int) -> float:
    """Median wall time of ``run(setup())`` over ``repeats`` runs (setup not timed)."""
    times = []
    for _ in range(repeats):
        state = setup()
        gc.collect()
        gc.disable()  # as timeit does: no collector pauses inside the timed call
        try:
            start = time.perf_counter()
            run(state)
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return statistics.median(times)


def measure(size: int, repeats: int, slow_repeats: int) -> list[tuple[str, float, float]]:
    """(label, theirs, ours) seconds for each operation at ``size`` assets."""
    prices, holdings, targets = book(size)
    data = {asset: {"close": price} for asset, price in prices.items()}

    def setup() -> Broker:
        return broker_for(prices, holdings)

    rows = []
    for label, mode, method in (
        ("preview", RebalanceMode.SNAPSHOT, "preview"),
        ("execute SNAPSHOT", RebalanceMode.SNAPSHOT, "execute"),
        ("execute INCREMENTAL", RebalanceMode.INCREMENTAL, "execute"),
    ):
        results = []
        for module in (theirs, ours):
            executor = module.TargetWeightExecutor(config_for(module, mode))
            call = getattr(executor, method)
            slow = module is theirs and mode is RebalanceMode.INCREMENTAL and size >= 1_000
            results.append(
                median_seconds(
                    lambda b, call=call: call(targets, data, b),
                    setup,
                    slow_repeats if slow else repeats,
                )
            )
        rows.append((label, results[0], results[1]))
    return rows


def measure_core(size: int, repeats: int) -> float:
    """Median seconds of bare compute_trades on the book's snapshot."""
    prices, holdings, targets = book(size)
    data = {asset: {"close": price} for asset, price in prices.items()}
    snapshot = snapshot_from_broker(broker_for(prices, holdings), data)
    config = rebalancing.RebalanceConfig(
        min_trade_value=0.0, min_weight_change=0.0, allow_fractional=True
    )
    return median_seconds(
        lambda _: rebalancing.compute_trades(snapshot, targets, config), lambda: None, repeats
    )


def measure_parts(size: int, repeats: int) -> tuple[float, float, float, float]:
    """Where our preview's time goes: seconds of reading the broker, of planning (the
    adapter's config, bare ``compute_trades``) and of building the preview dicts from the
    plan; and ml4t's whole preview, for scale."""
    prices, holdings, targets = book(size)
    data = {asset: {"close": price} for asset, price in prices.items()}
    broker = broker_for(prices, holdings)
    executor = ours.TargetWeightExecutor(config_for(ours, RebalanceMode.SNAPSHOT))
    names = list(targets)
    snapshot = snapshot_from_broker(broker, data, assets=names)
    config = executor._core_config(broker, snapshot)  # noqa: SLF001 - the adapter's own
    plan = rebalancing.compute_trades(snapshot, targets, config)
    reading = median_seconds(
        lambda _: snapshot_from_broker(broker, data, assets=names), lambda: None, repeats
    )
    planning = median_seconds(
        lambda _: rebalancing.compute_trades(snapshot, targets, config), lambda: None, repeats
    )
    rows = median_seconds(lambda _: preview_rows(plan), lambda: None, repeats)
    theirs_executor = theirs.TargetWeightExecutor(config_for(theirs, RebalanceMode.SNAPSHOT))
    whole = median_seconds(
        lambda b: theirs_executor.preview(targets, data, b),
        lambda: broker_for(prices, holdings),
        repeats,
    )
    return reading, planning, rows, whole


def measure_memory(size: int) -> tuple[float, float]:
    """Bytes per asset of bare compute_trades: (peak while planning, kept by the plan).

    tracemalloc counts Python's allocations and numpy's buffers; the snapshot and targets
    exist before and are not counted. A warm-up call comes first.
    """
    prices, holdings, targets = book(size)
    data = {asset: {"close": price} for asset, price in prices.items()}
    snapshot = snapshot_from_broker(broker_for(prices, holdings), data)
    config = rebalancing.RebalanceConfig(
        min_trade_value=0.0, min_weight_change=0.0, allow_fractional=True
    )
    rebalancing.compute_trades(snapshot, targets, config)
    gc.collect()
    tracemalloc.start()
    try:
        plan = rebalancing.compute_trades(snapshot, targets, config)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del plan
    return peak / size, kept / size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    args = parser.parse_args()
    sizes = [10, 100] if args.quick else [10, 100, 1_000, 5_000]
    repeats, slow_repeats = (3, 1) if args.quick else (9, 3)

    print(f"{'assets':>6}  {'operation':<20} {'theirs ms':>11} {'ours ms':>10} {'ours/theirs':>12}")
    incremental: dict[int, float] = {}
    for size in sizes:
        for label, their_s, our_s in measure(size, repeats, slow_repeats):
            ratio = our_s / their_s
            timings = f"{their_s * 1e3:>11.2f} {our_s * 1e3:>10.2f} {ratio:>11.2f}x"
            print(f"{size:>6}  {label:<20} {timings}")
            if label == "execute INCREMENTAL":
                incremental[size] = our_s
    print()
    print("where our preview's time goes (ms): read the broker, plan, build the dicts")
    print(f"{'assets':>6}  {'read':>8} {'plan':>8} {'dicts':>8}  {'ml4t preview':>13}")
    for size in sizes:
        parts = measure_parts(size, repeats)
        print(f"{size:>6}  " + " ".join(f"{part * 1e3:>8.2f}" for part in parts[:3]), end="")
        print(f"  {parts[3] * 1e3:>13.2f}")
    print()
    print(f"{'assets':>6}  {'compute_trades ms':>18}")
    for size in sizes:
        print(f"{size:>6}  {measure_core(size, repeats) * 1e3:>18.2f}")
    size = sizes[-1]
    peak, kept = measure_memory(size)
    print()
    print(f"compute_trades memory at {size:,} assets: peak {peak:,.0f} B an asset, ", end="")
    print(f"the plan keeps {kept:,.0f} B an asset (orders and decisions not yet read)")
    if 1_000 in incremental and 5_000 in incremental:
        growth = incremental[5_000] / incremental[1_000]
        print()
        print(f"ours INCREMENTAL time at 5,000 / at 1,000 assets: {growth:.2f} (linear is 5)")


if __name__ == "__main__":
    main()

"""Speed of CLOSEST's allocation step: ``closest_holdings`` on books where cash binds.

The items are the ones the planner builds: ``compute_trades`` runs once with
``Rounding.CLOSEST`` and the call it makes to ``closest_holdings`` is recorded, then that
call is timed on its own (best and median of ``--repeat`` runs). Books, each at 20, 100
and 500 names, $100k, thresholds and costs off, every one binding (rounding every asset
to nearest overdraws):

- ``cash``: from all cash, every target k + f shares with f >= 0.5;
- ``held``: a fully invested whole-share book moved to new targets (sells fund buys);
- ``dear/cash``, ``dear/held``: $2-50 names with one to three at $800-3,000, from cash
  and from a held book.

Usage (from the repository root; needs only the package)::

    python benchmarks/closest_speed.py               # the table
    python benchmarks/closest_speed.py --profile 500 # cProfile of the 500-name held book
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import math
import pstats
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from _books import fully_invested

from rebalancing import PortfolioSnapshot, RebalanceConfig, compute_trades
from rebalancing._allocation import closest_holdings
from rebalancing._config import Rounding

SIZES = (20, 100, 500)
CAPITAL = 100_000.0

#: Thresholds off, as in benchmarks/allocation.py, so every target is sized.
CONFIG = RebalanceConfig(min_trade_value=0.0, min_weight_change=0.0, rounding=Rounding.CLOSEST)
#: (items, budget, keyword arguments) of one call to closest_holdings.
Call = tuple[list[Any], float, dict[str, float]]


#: The planner modules that may call closest_holdings (the planner has moved it before).
CALLERS = ("rebalancing._plan", "rebalancing._closest_funding")


def planner_call(snapshot: PortfolioSnapshot, weights: dict[str, float]) -> Call | None:
    """The call CLOSEST makes to closest_holdings on this book; None if it makes none."""
    calls: list[Call] = []

    def record(items: Any, budget: float, **kwargs: float) -> list[float]:
        calls.append((list(items), budget, kwargs))
        return closest_holdings(items, budget, **kwargs)

    callers = []
    for name in CALLERS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "closest_holdings"):
            callers.append(module)
            module.closest_holdings = record
    try:
        compute_trades(snapshot, weights, CONFIG)
    finally:
        for module in callers:
            module.closest_holdings = closest_holdings
    return calls[0] if calls else None


def _prices(rng: random.Random, n: int, dear: int) -> list[float]:
    if dear:
        cheap = [round(rng.uniform(2.0, 50.0), 2) for _ in range(n - dear)]
        return [round(rng.uniform(800.0, 3000.0), 2) for _ in range(dear)] + cheap
    # Log-normal from about $2 to $3,000, as in benchmarks/allocation.py.
    return [
        round(min(max(math.exp(rng.gauss(math.log(60.0), 1.3)), 2.0), 3000.0), 2) for _ in range(n)
    ]


def _weights(rng: random.Random, n: int) -> list[float]:
    raw = [rng.expovariate(1.0) for _ in range(n)]
    total = math.fsum(raw)
    return [w / total for w in raw]


def from_cash(rng: random.Random, n: int, dear: int = 0) -> tuple[PortfolioSnapshot, dict]:
    """All cash; every target k + f shares with f >= 0.5, so nearest always overdraws."""
    prices = dict(zip((f"A{i:03d}" for i in range(n)), _prices(rng, n, dear), strict=True))
    units = {
        a: math.floor(CAPITAL / n / p * rng.uniform(0.3, 1.7)) + rng.uniform(0.5, 0.999)
        for a, p in prices.items()
    }
    equity = math.fsum(u * prices[a] for a, u in units.items())
    weights = {a: u * prices[a] / equity for a, u in units.items()}
    return PortfolioSnapshot(equity, {}, prices), weights


def from_held(rng: random.Random, n: int, dear: int = 0) -> tuple[PortfolioSnapshot, dict]:
    """A fully invested whole-share book (old weights) moved to new targets summing to 1."""
    names = [f"A{i:03d}" for i in range(n)]
    prices = dict(zip(names, _prices(rng, n, dear), strict=True))
    old = zip(names, _weights(rng, n), strict=True)
    positions, cash = fully_invested(prices, old, CAPITAL)
    weights = dict(zip(names, _weights(rng, n), strict=True))
    return PortfolioSnapshot(cash, positions, prices), weights


BOOKS: dict[str, Callable[[random.Random, int], tuple[PortfolioSnapshot, dict]]] = {
    "cash": from_cash,
    "held": from_held,
    "dear/cash": lambda rng, n: from_cash(rng, n, dear=1 + n % 3),
    "dear/held": lambda rng, n: from_held(rng, n, dear=1 + n % 3),
}


def binding_call(book: str, n: int) -> Call:
    """The first seed's book of this kind and size on which cash binds."""
    for seed in range(100):
        snapshot, weights = BOOKS[book](random.Random(f"{book}-{n}-{seed}"), n)
        call = planner_call(snapshot, weights)
        if call is not None:
            return call
    msg = f"no binding {book} book of {n} names in 100 seeds"
    raise RuntimeError(msg)


def time_call(call: Call, repeat: int) -> tuple[float, float]:
    """Best and median seconds of one closest_holdings call."""
    items, budget, kwargs = call
    run = closest_holdings
    seconds = []
    for _ in range(repeat):
        began = time.perf_counter()
        run(items, budget, **kwargs)
        seconds.append(time.perf_counter() - began)
    return min(seconds), statistics.median(seconds)


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=50, help="runs per call (default 50)")
    parser.add_argument("--profile", type=int, metavar="N", help="profile the N-name held book")
    args = parser.parse_args()
    if args.profile:
        items, budget, kwargs = binding_call("held", args.profile)
        run = closest_holdings
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.repeat):
            run(items, budget, **kwargs)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return
    print(f"closest_holdings per call, best / median of {args.repeat} runs")
    print(f"{'book':10} {'n':>4} {'items':>5} {'best':>10} {'median':>10}")
    for book in BOOKS:
        for n in SIZES:
            call = binding_call(book, n)
            best, median = time_call(call, args.repeat)
            print(f"{book:10} {n:>4} {len(call[0]):>5} {_fmt(best):>10} {_fmt(median):>10}")


if __name__ == "__main__":
    main()

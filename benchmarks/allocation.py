"""Allocation quality: how close whole-share rounding lands to target, against the optimum.

Compares, on a seeded grid of books, the final holdings of

- ``DOWN``: ``compute_trades`` with ``Rounding.DOWN`` (truncate, water-fill when short);
- ``CLOSEST``: ``compute_trades`` with ``Rounding.CLOSEST``;
- ``closest_buys``: the allocation routine called directly (sells rounded to nearest,
  their proceeds fund the buys), i.e. what ``CLOSEST`` does once it is wired in;
- ``pypfopt``: PyPortfolioOpt's ``DiscreteAllocation.greedy_portfolio``;
- ``optimum``: the exact integer optimum of ``min sum_i |p_i q_i - w_i E|`` subject to the
  cash budget, from ``scipy.optimize.milp`` (its status is checked: every case must be
  proven optimal).

Both our modes run with ``min_trade_value=0`` and ``min_weight_change=0`` and no costs, so
the final holdings are comparable. The error of a mode is the L1 distance in value between
its final holdings and the targets, relative to the optimum's.

Grid: n in 5, 20, 100, 500 names; capital $5k, $25k, $100k, $1M; from all cash and from an
existing whole-share book; with and without a 5% cash target; two seeds (16 cases per seed
and n). Stress family: every target's share count has a fractional part >= 0.5 and the
targets sum to 1, so rounding to nearest always overdraws and the budget binds.

Usage (from the repository root)::

    pip install -e . -r benchmarks/requirements.txt
    python benchmarks/allocation.py            # full grid, a few minutes
    python benchmarks/allocation.py --quick    # one seed, fewer timings
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pypfopt.discrete_allocation import DiscreteAllocation
from scipy import optimize, sparse

from rebalancing import PortfolioSnapshot, RebalanceConfig, compute_trades
from rebalancing._allocation import BuyItem, closest_buys
from rebalancing._config import Rounding
from rebalancing._plan import round_nearest

SIZES = (5, 20, 100, 500)
CAPITALS = (5_000.0, 25_000.0, 100_000.0, 1_000_000.0)
CASH_TARGET = 0.05
AT_OPTIMUM = 1e-9  # relative tolerance for "at the optimum"


@dataclass(frozen=True)
class Case:
    """One book: prices, target weights, starting holdings and cash."""

    family: str
    n: int
    capital: float
    from_book: bool
    cash_target: float
    prices: dict[str, float]
    weights: dict[str, float]
    positions: dict[str, float]
    cash: float

    @property
    def equity(self) -> float:
        return self.cash + math.fsum(q * self.prices[a] for a, q in self.positions.items())


@dataclass
class Outcome:
    """Final holdings and cash of one method on one case."""

    holdings: dict[str, float]
    cash: float
    seconds: float


@dataclass
class Tally:
    """Per-(family, n, method) statistics."""

    ratios: list[float] = field(default_factory=list)
    binding_ratios: list[float] = field(default_factory=list)
    leftover: list[float] = field(default_factory=list)
    overdraws: int = 0
    seconds: list[float] = field(default_factory=list)


def _names(n: int) -> list[str]:
    return [f"A{i:03d}" for i in range(n)]


def _prices(rng: random.Random, n: int) -> dict[str, float]:
    """Log-normal prices from about $2 to $3,000 (a few expensive names matter most)."""
    return {
        name: round(min(max(math.exp(rng.gauss(math.log(60.0), 1.3)), 2.0), 3000.0), 2)
        for name in _names(n)
    }


def _weights(rng: random.Random, n: int, total: float) -> dict[str, float]:
    raw = [rng.expovariate(1.0) for _ in range(n)]
    scale = total / math.fsum(raw)
    return {name: w * scale for name, w in zip(_names(n), raw, strict=True)}


def grid_cases(seeds: Sequence[int]) -> list[Case]:
    cases = []
    for seed in seeds:
        for n in SIZES:
            for capital in CAPITALS:
                for from_book in (False, True):
                    for cash_target in (0.0, CASH_TARGET):
                        rng = random.Random(f"{seed}-{n}-{capital}-{from_book}-{cash_target}")
                        prices = _prices(rng, n)
                        weights = _weights(rng, n, 1.0 - cash_target)
                        positions: dict[str, float] = {}
                        cash = capital
                        if from_book:
                            old = _weights(rng, n, 0.97)
                            for name, w in old.items():
                                units = math.floor(w * capital / prices[name])
                                if units > 0:
                                    positions[name] = float(units)
                                    cash -= units * prices[name]
                        cases.append(
                            Case(
                                "grid",
                                n,
                                capital,
                                from_book,
                                cash_target,
                                prices,
                                weights,
                                positions,
                                cash,
                            )
                        )
    return cases


def stress_cases(seeds: Sequence[int]) -> list[Case]:
    """Every target is k + f shares with f >= 0.5; targets sum to 1: nearest overdraws."""
    cases = []
    for seed in seeds:
        for n in SIZES:
            for capital in CAPITALS:
                for variant in range(2):
                    rng = random.Random(f"stress-{seed}-{n}-{capital}-{variant}")
                    prices = _prices(rng, n)
                    units = {
                        name: math.floor(capital / n / p * rng.uniform(0.3, 1.7))
                        + rng.uniform(0.5, 0.999)
                        for name, p in prices.items()
                    }
                    equity = math.fsum(u * prices[a] for a, u in units.items())
                    weights = {a: u * prices[a] / equity for a, u in units.items()}
                    cases.append(
                        Case("stress", n, capital, False, 0.0, prices, weights, {}, equity)  # noqa: FBT003
                    )
    return cases


# -- methods -------------------------------------------------------------------------------


def _config(rounding: Rounding) -> RebalanceConfig:
    return RebalanceConfig(min_trade_value=0.0, min_weight_change=0.0, rounding=rounding)


def _snapshot(case: Case) -> PortfolioSnapshot:
    return PortfolioSnapshot(case.cash, case.positions, case.prices)


def via_compute_trades(rounding: Rounding) -> Callable[[Case], Outcome]:
    config = _config(rounding)

    def run(case: Case) -> Outcome:
        snap = _snapshot(case)
        began = time.perf_counter()
        plan = compute_trades(snap, case.weights, config)
        seconds = time.perf_counter() - began
        holdings = {d.asset: float(d.projected_quantity) for d in plan.decisions}
        return Outcome(holdings, plan.projected_cash, seconds)

    return run


def build_items(case: Case) -> tuple[list[str], list[BuyItem], dict[str, float], float]:
    """What the planner hands closest_buys: buys at nearest rounding, sells done first."""
    equity = case.equity
    cash = case.cash
    held: dict[str, float] = {}
    names: list[str] = []
    items: list[BuyItem] = []
    for asset in sorted(case.prices):
        price = case.prices[asset]
        start = case.positions.get(asset, 0.0)
        desired = case.weights.get(asset, 0.0) * equity / price
        nearest = round_nearest(start, desired, 1.0)
        if nearest < start:
            cash += (start - nearest) * price
            held[asset] = nearest
        elif nearest > start:
            names.append(asset)
            items.append(BuyItem(start, desired, nearest, 1.0, price, 0.0))
            held[asset] = start
        else:
            held[asset] = start
    return names, items, held, cash


def via_closest_buys(case: Case) -> Outcome:
    names, items, held, cash = build_items(case)
    began = time.perf_counter()
    quantities = closest_buys(items, cash, cost_rate=0.0, cost_per_order=0.0)
    seconds = time.perf_counter() - began
    for asset, item, q in zip(names, items, quantities, strict=True):
        held[asset] = item.start + q
        cash -= q * item.unit_value
    return Outcome(held, cash, seconds)


def via_pypfopt(case: Case) -> Outcome:
    equity = case.equity
    weights = {a: w for a, w in case.weights.items() if w > 0.0}
    prices = pd.Series(case.prices)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        allocation = DiscreteAllocation(weights, prices, total_portfolio_value=equity)
        shares, leftover = allocation.greedy_portfolio()
    seconds = time.perf_counter() - began
    holdings = {a: float(shares.get(a, 0)) for a in case.prices}
    return Outcome(holdings, float(leftover), seconds)


def via_milp(case: Case) -> Outcome:
    """The exact optimum: integer final holdings, sum p*q <= equity - cash floor (0)."""
    names = sorted(case.prices)
    n = len(names)
    equity = case.equity
    p = np.array([case.prices[a] for a in names])
    goal = np.array([case.weights.get(a, 0.0) * equity for a in names])
    # x = [q_0..q_{n-1}, t_0..t_{n-1}], minimise sum t, t >= |p q - goal|.
    c = np.concatenate([np.zeros(n), np.ones(n)])
    eye = sparse.identity(n, format="csr")
    pq = sparse.diags(p, format="csr")
    upper = sparse.hstack([pq, -eye])  # p q - t <= goal
    lower = sparse.hstack([pq, eye])  # p q + t >= goal
    budget = sparse.csr_matrix(np.concatenate([p, np.zeros(n)]))
    constraints = [
        optimize.LinearConstraint(upper, -np.inf, goal),
        optimize.LinearConstraint(lower, goal, np.inf),
        optimize.LinearConstraint(budget, -np.inf, equity),
    ]
    top = np.floor(goal / p) + 1.0
    bounds = optimize.Bounds(np.zeros(2 * n), np.concatenate([top, np.full(n, np.inf)]))
    integrality = np.concatenate([np.ones(n), np.zeros(n)])
    began = time.perf_counter()
    result = optimize.milp(
        c,
        constraints=constraints,
        integrality=integrality,
        bounds=bounds,
        options={"mip_rel_gap": 1e-9, "time_limit": 60.0},
    )
    seconds = time.perf_counter() - began
    if result.status != 0:
        msg = f"MILP not proven optimal ({result.status}: {result.message}) for {case.n} names"
        raise RuntimeError(msg)
    quantities = np.round(result.x[:n])
    holdings = dict(zip(names, quantities.tolist(), strict=True))
    return Outcome(holdings, equity - float(p @ quantities), seconds)


def l1_error(case: Case, holdings: dict[str, float]) -> float:
    equity = case.equity
    assets = set(case.prices)
    return math.fsum(
        abs(holdings.get(a, 0.0) * case.prices[a] - case.weights.get(a, 0.0) * equity)
        for a in assets
    )


def nearest_fits(case: Case) -> bool:
    _, items, _, cash = build_items(case)
    return math.fsum((i.nearest - i.start) * i.unit_value for i in items) <= cash


# -- report --------------------------------------------------------------------------------

METHODS: dict[str, Callable[[Case], Outcome]] = {
    "DOWN": via_compute_trades(Rounding.DOWN),
    "CLOSEST": via_compute_trades(Rounding.CLOSEST),
    "closest_buys": via_closest_buys,
    "pypfopt": via_pypfopt,
}
OURS = ("DOWN", "CLOSEST", "closest_buys")


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]


def evaluate(cases: list[Case]) -> None:
    tallies: dict[tuple[str, int, str], Tally] = {}
    milp_seconds: dict[tuple[str, int], list[float]] = {}
    counts: dict[tuple[str, int], list[int]] = {}
    for case in cases:
        optimum = via_milp(case)
        best = l1_error(case, optimum.holdings)
        floor_tol = 1e-6 * case.equity
        binding = not nearest_fits(case)
        key = (case.family, case.n)
        milp_seconds.setdefault(key, []).append(optimum.seconds)
        count = counts.setdefault(key, [0, 0])
        count[0] += 1
        count[1] += binding
        scale = 1e-9 * case.equity
        for name, method in METHODS.items():
            outcome = method(case)
            error = l1_error(case, outcome.holdings)
            tally = tallies.setdefault((case.family, case.n, name), Tally())
            ratio = (error + scale) / (best + scale)
            tally.ratios.append(ratio)
            if binding:
                tally.binding_ratios.append(ratio)
            tally.leftover.append((outcome.cash - case.cash_target * case.equity) / case.equity)
            tally.overdraws += outcome.cash < -floor_tol
            tally.seconds.append(outcome.seconds)
    header = (
        f"{'family':7} {'n':>4} {'method':13} {'cases':>5} {'bind':>4} {'mean':>7} {'p90':>7} "
        f"{'max':>7} {'b.mean':>7} {'b.max':>7} {'at opt':>7} {'left bp':>8} {'overdr':>6} "
        f"{'time':>9}"
    )
    print(header)
    print("-" * len(header))
    for (family, n), (total, binding) in counts.items():
        for name in METHODS:
            t = tallies[(family, n, name)]
            at_opt = sum(r <= 1.0 + AT_OPTIMUM for r in t.ratios) / len(t.ratios)
            b_mean = statistics.fmean(t.binding_ratios) if t.binding_ratios else float("nan")
            b_max = max(t.binding_ratios) if t.binding_ratios else float("nan")
            print(
                f"{family:7} {n:>4} {name:13} {total:>5} {binding:>4} "
                f"{statistics.fmean(t.ratios):>7.4f} {_p90(t.ratios):>7.4f} {max(t.ratios):>7.3f} "
                f"{b_mean:>7.4f} {b_max:>7.3f} {at_opt:>7.0%} "
                f"{statistics.fmean(t.leftover) * 1e4:>8.1f} {t.overdraws:>6} "
                f"{_fmt(statistics.median(t.seconds)):>9}"
            )
        print(
            f"{family:7} {n:>4} {'optimum(milp)':13} {total:>5} {binding:>4} {'1.0000':>7} "
            f"{'':>7} {'':>7} {'':>7} {'':>7} {'':>7} {'':>8} {'':>6} "
            f"{_fmt(statistics.median(milp_seconds[(family, n)])):>9}"
        )
    print()
    print("ratio = L1(final holdings value - target value) / optimum's; b.* = cases where")
    print("nearest rounding overdraws (the budget binds); left bp = mean (cash - cash target)")
    print("/ equity in basis points; time = median per case.")
    print()
    ours_overdraws = sum(tallies[k].overdraws for k in tallies if k[2] in OURS)
    print(f"overdraws by our modes: {ours_overdraws}")


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _best_of(fn: Callable[[], object], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - began)
    return best


def timings(repeat: int) -> None:
    """Rounding-step and whole-plan times at 500 names."""
    fits = next(c for c in grid_cases([0]) if c.n == 500 and c.cash_target > 0 and nearest_fits(c))
    binds = next(c for c in stress_cases([0]) if c.n == 500 and c.capital == 100_000.0)
    print("timings at 500 names (best of", repeat, "runs)")
    for label, case in (("nearest fits", fits), ("budget binds", binds)):
        _, items, _, cash = build_items(case)
        step = _best_of(
            lambda items=items, cash=cash: closest_buys(
                items, cash, cost_rate=0.0, cost_per_order=0.0
            ),
            repeat,
        )
        snap = _snapshot(case)
        whole = {}
        for rounding in (Rounding.DOWN, Rounding.CLOSEST):
            config = _config(rounding)
            whole[rounding] = _best_of(
                lambda snap=snap, case=case, config=config: compute_trades(
                    snap, case.weights, config
                ),
                repeat,
            )
        ratio = whole[Rounding.CLOSEST] / whole[Rounding.DOWN]
        print(
            f"  {label:13} rounding step (closest_buys) {_fmt(step):>9}   compute_trades: "
            f"DOWN {_fmt(whole[Rounding.DOWN])}, CLOSEST {_fmt(whole[Rounding.CLOSEST])} "
            f"({ratio:.2f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one seed, fewer timing runs")
    args = parser.parse_args()
    seeds = [0] if args.quick else [0, 1]
    cases = grid_cases(seeds) + stress_cases(seeds)
    print(f"{len(cases)} cases ({'quick' if args.quick else 'full'})\n")
    evaluate(cases)
    print()
    timings(repeat=20 if args.quick else 100)


if __name__ == "__main__":
    main()

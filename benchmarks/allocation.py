"""Allocation quality: how close whole-share rounding lands to target, against the optimum.

Compares, on a seeded grid of books, the final holdings of

- ``DOWN``: ``compute_trades`` with ``Rounding.DOWN`` (truncate, water-fill when short);
- ``CLOSEST``: ``compute_trades`` with ``Rounding.CLOSEST``;
- ``OPTIMAL``: ``compute_trades`` with ``Rounding.OPTIMAL`` (needs scipy, the extra
  ``rebalancing[optimal]``), which must land on the optimum below in every case;
- ``pypfopt``: PyPortfolioOpt's ``DiscreteAllocation.greedy_portfolio``;
- ``optimum``: the exact integer optimum of ``min sum_i |p_i q_i - w_i E|`` subject to the
  cash budget, from ``scipy.optimize.milp`` (its status is checked: every case must be
  proven optimal).

Both our modes run with ``min_trade_value=0`` and ``min_weight_change=0`` and no costs, so
the final holdings are comparable. The error of a mode is the L1 distance in value between
its final holdings and the targets, relative to the optimum's.

Families:

- ``grid``: n in 5, 20, 100, 500 names; capital $5k, $25k, $100k, $1M; from all cash and
  from an existing whole-share book; with and without a 5% cash target; two seeds (16
  cases per seed and n).
- ``stress``: every target's share count has a fractional part >= 0.5 and the targets sum
  to 1, so rounding to nearest always overdraws and the budget binds.
- ``held``: books that already hold positions, fully invested (cash below one share of
  the dearest name), moved to new targets that sum to 1: sells fund the buys and cash
  binds, as in real accounts.
- ``wide``: 9 to 30 names from cash, binding as in ``stress``: more buys than CLOSEST's
  exact search (8) takes on.
- ``issue``: the books quoted in issue 12 (three names already held; PyPortfolioOpt's
  9-name max-Sharpe book with $25,056).

For each family and size: the mean, p99 and worst ratio to the optimum (the "gap"), the
share of cases at the optimum, overdraws and the median time per plan.

Usage (from the repository root)::

    pip install -e . -r benchmarks/requirements.txt
    python benchmarks/allocation.py            # full grid, a few minutes
    python benchmarks/allocation.py --quick    # one seed, fewer timings, no 500-name books
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
from _books import fully_invested
from closest_speed import planner_call, time_call
from pypfopt.discrete_allocation import DiscreteAllocation
from scipy import optimize, sparse

from rebalancing import PortfolioSnapshot, RebalanceConfig, compute_trades
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


def held_cases(seeds: Sequence[int], sizes: Sequence[int] = SIZES) -> list[Case]:
    """A fully invested whole-share book (old weights) moved to new targets summing to 1."""
    cases = []
    for seed in seeds:
        for n in sizes:
            for capital in CAPITALS:
                for variant in range(2):
                    rng = random.Random(f"held-{seed}-{n}-{capital}-{variant}")
                    prices = _prices(rng, n)
                    old = _weights(rng, n, 1.0)
                    positions, cash = fully_invested(prices, old.items(), capital)
                    weights = _weights(rng, n, 1.0)
                    cases.append(
                        Case("held", n, capital, True, 0.0, prices, weights, positions, cash)  # noqa: FBT003
                    )
    return cases


def wide_cases(seeds: Sequence[int], per_seed: int = 24) -> list[Case]:
    """9 to 30 names from cash, every target k + f shares with f >= 0.5: the budget binds."""
    cases = []
    for seed in seeds:
        for variant in range(per_seed):
            rng = random.Random(f"wide-{seed}-{variant}")
            n = rng.randint(9, 30)
            capital = rng.choice(CAPITALS)
            cases.append(_binding_case("wide", rng, n, capital))
    return cases


def issue_cases() -> list[Case]:
    """The books quoted in issue 12."""
    three = Case(
        "issue",
        3,
        2_000.0,
        True,  # noqa: FBT003
        0.0,
        {"A": 10.0, "B": 10.0, "C": 10.0},
        {"A": 0.253, "B": 0.254, "C": 0.493},
        {"A": 100.0, "B": 100.0},
        0.0,
    )
    prices = {
        "GOOG": 1019.97,
        "AAPL": 172.44,
        "FB": 166.32,
        "BABA": 175.36,
        "AMZN": 1427.05,
        "BBY": 70.91,
        "MA": 172.36,
        "PFE": 35.79,
        "SBUX": 59.42,
    }
    raw = [0.038354, 0.068899, 0.206031, 0.073146, 0.040329, 0.013235, 0.353487, 0.195702]
    weights = dict(zip(prices, [*raw, 0.010816], strict=True))
    nine = Case("issue", 9, 25_056.0, False, 0.0, prices, weights, {}, 25_056.0)  # noqa: FBT003
    return [three, nine]


def _binding_case(family: str, rng: random.Random, n: int, capital: float) -> Case:
    prices = _prices(rng, n)
    units = {
        name: math.floor(capital / n / p * rng.uniform(0.3, 1.7)) + rng.uniform(0.5, 0.999)
        for name, p in prices.items()
    }
    equity = math.fsum(u * prices[a] for a, u in units.items())
    weights = {a: u * prices[a] / equity for a, u in units.items()}
    return Case(family, n, capital, False, 0.0, prices, weights, {}, equity)  # noqa: FBT003


def stress_cases(seeds: Sequence[int]) -> list[Case]:
    """Every target is k + f shares with f >= 0.5; targets sum to 1: nearest overdraws."""
    cases = []
    for seed in seeds:
        for n in SIZES:
            for capital in CAPITALS:
                for variant in range(2):
                    rng = random.Random(f"stress-{seed}-{n}-{capital}-{variant}")
                    cases.append(_binding_case("stress", rng, n, capital))
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
    """Whether every holding rounded to nearest fits the cash (sells fund buys)."""
    equity = case.equity
    flows = [case.cash]
    for asset, price in case.prices.items():
        start = case.positions.get(asset, 0.0)
        nearest = round_nearest(start, case.weights.get(asset, 0.0) * equity / price, 1.0)
        flows.append((start - nearest) * price)
    return math.fsum(flows) >= 0.0


# -- report --------------------------------------------------------------------------------

METHODS: dict[str, Callable[[Case], Outcome]] = {
    "DOWN": via_compute_trades(Rounding.DOWN),
    "CLOSEST": via_compute_trades(Rounding.CLOSEST),
    "OPTIMAL": via_compute_trades(Rounding.OPTIMAL),
    "pypfopt": via_pypfopt,
}
OURS = ("DOWN", "CLOSEST", "OPTIMAL")


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def _bucket(case: Case) -> str:
    return "9-30" if case.family == "wide" else str(case.n)


def evaluate(cases: list[Case]) -> bool:
    """Print the table; return whether OPTIMAL reached the optimum in every case."""
    tallies: dict[tuple[str, str, str], Tally] = {}
    milp_seconds: dict[tuple[str, str], list[float]] = {}
    counts: dict[tuple[str, str], list[int]] = {}
    for case in cases:
        optimum = via_milp(case)
        best = l1_error(case, optimum.holdings)
        floor_tol = 1e-6 * case.equity
        binding = not nearest_fits(case)
        key = (case.family, _bucket(case))
        milp_seconds.setdefault(key, []).append(optimum.seconds)
        count = counts.setdefault(key, [0, 0])
        count[0] += 1
        count[1] += binding
        scale = 1e-9 * case.equity
        for name, method in METHODS.items():
            outcome = method(case)
            error = l1_error(case, outcome.holdings)
            tally = tallies.setdefault((*key, name), Tally())
            ratio = (error + scale) / (best + scale)
            tally.ratios.append(ratio)
            if binding:
                tally.binding_ratios.append(ratio)
            tally.leftover.append((outcome.cash - case.cash_target * case.equity) / case.equity)
            tally.overdraws += outcome.cash < -floor_tol
            tally.seconds.append(outcome.seconds)
    header = (
        f"{'family':7} {'n':>5} {'method':13} {'cases':>5} {'bind':>4} {'mean':>7} {'p99':>7} "
        f"{'worst':>7} {'at opt':>7} {'left bp':>8} {'overdr':>6} {'time/plan':>10}"
    )
    print(header)
    print("-" * len(header))
    for (family, n), (total, binding) in counts.items():
        for name in METHODS:
            t = tallies[(family, n, name)]
            at_opt = sum(r <= 1.0 + AT_OPTIMUM for r in t.ratios) / len(t.ratios)
            print(
                f"{family:7} {n:>5} {name:13} {total:>5} {binding:>4} "
                f"{statistics.fmean(t.ratios):>7.4f} {_p99(t.ratios):>7.4f} "
                f"{max(t.ratios):>7.3f} {at_opt:>7.0%} "
                f"{statistics.fmean(t.leftover) * 1e4:>8.1f} {t.overdraws:>6} "
                f"{_fmt(statistics.median(t.seconds)):>10}"
            )
        print(
            f"{family:7} {n:>5} {'optimum(milp)':13} {total:>5} {binding:>4} {'1.0000':>7} "
            f"{'':>7} {'':>7} {'':>7} {'':>8} {'':>6} "
            f"{_fmt(statistics.median(milp_seconds[(family, n)])):>10}"
        )
    print()
    print("gap = L1(final holdings value - target value) / the optimum's (1 = optimal);")
    print("mean, p99 and worst over the cases; bind = cases where nearest rounding overdraws;")
    print("left bp = mean (cash - cash target) / equity in basis points; time = median per plan.")
    print()
    ours_overdraws = sum(tallies[k].overdraws for k in tallies if k[2] in OURS)
    print(f"overdraws by our modes: {ours_overdraws}")
    optimal = [r for k, t in tallies.items() if k[2] == "OPTIMAL" for r in t.ratios]
    missed = sum(r > 1.0 + AT_OPTIMUM for r in optimal)
    print(f"OPTIMAL off the optimum (ratio > 1 + {AT_OPTIMUM:g}): {missed} of {len(optimal)} cases")
    return missed == 0 and ours_overdraws == 0


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


def timings(repeat: int, sizes: Sequence[int]) -> None:
    """Rounding-step and whole-plan times at each size, nearest fitting and binding."""
    print(f"time per plan (best of {repeat} runs; OPTIMAL best of {max(repeat // 10, 2)})")
    for n in sizes:
        fits = next(
            c for c in grid_cases([0]) if c.n == n and c.cash_target > 0 and nearest_fits(c)
        )
        binds = next(c for c in stress_cases([0]) if c.n == n and c.capital == 100_000.0)
        held = next(c for c in held_cases([0], [n]) if c.capital == 100_000.0)
        for label, case in (("nearest fits", fits), ("budget binds", binds), ("held", held)):
            # The allocation step alone: the call CLOSEST makes to closest_holdings.
            call = planner_call(_snapshot(case), case.weights)
            step = _fmt(time_call(call, repeat)[0]) if call is not None else "not called"
            snap = _snapshot(case)
            whole = {}
            for rounding in (Rounding.DOWN, Rounding.CLOSEST, Rounding.OPTIMAL):
                config = _config(rounding)
                runs = max(repeat // 10, 2) if rounding is Rounding.OPTIMAL else repeat
                whole[rounding] = _best_of(
                    lambda snap=snap, case=case, config=config: compute_trades(
                        snap, case.weights, config
                    ),
                    runs,
                )
            print(
                f"  n={n:<4} {label:13} closest_holdings {step:>10}   compute_trades: "
                f"DOWN {_fmt(whole[Rounding.DOWN]):>9}, "
                f"CLOSEST {_fmt(whole[Rounding.CLOSEST]):>9}, "
                f"OPTIMAL {_fmt(whole[Rounding.OPTIMAL]):>9}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="one seed, fewer timing runs, no 500-name books"
    )
    args = parser.parse_args()
    seeds = [0] if args.quick else [0, 1]
    sizes = SIZES[:-1] if args.quick else SIZES
    cases = [
        *grid_cases(seeds),
        *stress_cases(seeds),
        *held_cases(seeds, sizes),
        *wide_cases(seeds),
        *issue_cases(),
    ]
    cases = [c for c in cases if c.n in sizes or c.family in ("wide", "issue")]
    print(f"{len(cases)} cases ({'quick' if args.quick else 'full'})\n")
    ok = evaluate(cases)
    print()
    timings(repeat=20 if args.quick else 50, sizes=(20, 100, 500))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

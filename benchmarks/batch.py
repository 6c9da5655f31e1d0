# ruff: noqa: SLF001 - the stage timings call plan_table's private steps one by one
"""Speed and memory of planning many accounts: plan_table against a loop, and on Dask.

The book: N accounts of 20 assets each (drawn from 25 names), whole-unit quantities
U(0, 300), cash U(0, 20,000), one model portfolio of 20 names at 0.95/20 each, prices
U(5, 500), default RebalanceConfig. Everything below runs in one process, one after the
other, so the ratios are same-run ratios:

- loop: ``compute_trades(PortfolioSnapshot(cash, positions, prices), model)`` for each
  account, plans kept, from per-account dicts made beforehand (not timed): the cheapest
  loop a user can write, and what the issue measured;
- loop from tables: the same, starting from the DataFrames (pandas groupby) and ending
  with the two tables, as a user replacing plan_table would write it;
- plan_table: DataFrames in, DataFrames out;
- where plan_table's time goes: reading and checking the tables, laying every account
  out as rows, planning them (the core, all accounts of a chunk at once), the columns of
  the two tables, writing them (each timed alone);
- memory per account-asset: the two result tables (pandas, deep) and the plans a loop
  keeps (tracemalloc, on a tenth of the accounts);
- rebalancing.dask.plan_table on a distributed.LocalCluster of 1 and 2 worker processes
  (one thread each), the input put on the cluster first, cluster start-up not timed:
  the result kept on the workers, and gathered to the client.

    python benchmarks/batch.py                    # 100,000 accounts
    python benchmarks/batch.py --accounts 10000   # a quick run
    python benchmarks/batch.py --no-dask --profile

Needs: pip install -e '.[dask,polars]'. Times are wall-clock seconds (and the process's
CPU seconds where one process does all the work): other processes on the machine slow
the wall clock, not the CPU time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import time
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd

import rebalancing
from rebalancing import PortfolioSnapshot, compute_trades, plan_table
from rebalancing import _batch as batch
from rebalancing._batch_input import Table
from rebalancing._plan import plan_table_rows

ASSETS_PER_ACCOUNT = 20
UNIVERSE = 25


def make_book(accounts: int, seed: int = 1) -> dict[str, Any]:
    """Holdings and cash tables, prices and the model, built with numpy."""
    rng = np.random.default_rng(seed)
    names = np.array([f"S{i:03d}" for i in range(UNIVERSE)], dtype=object)
    prices = {
        str(n): float(round(p, 2))
        for n, p in zip(names, rng.uniform(5, 500, UNIVERSE), strict=True)
    }
    model = {str(n): 0.95 / 20 for n in names[:20]}
    ids = np.array([f"acct{i:07d}" for i in range(accounts)], dtype=object)
    picks = np.argsort(rng.random((accounts, UNIVERSE)), axis=1)[:, :ASSETS_PER_ACCOUNT]
    holdings = pd.DataFrame(
        {
            "account": np.repeat(ids, ASSETS_PER_ACCOUNT),
            "asset": names[picks.ravel()],
            "quantity": rng.integers(0, 300, accounts * ASSETS_PER_ACCOUNT).astype(float),
        }
    )
    cash = pd.DataFrame({"account": ids, "cash": rng.uniform(0, 20_000, accounts)})
    return {"holdings": holdings, "cash": cash, "prices": prices, "model": model}


def timed(run: Any) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds) of ``run()``."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def per_account_inputs(
    book: dict[str, Any],
) -> list[tuple[float, dict[str, float], dict[str, float]]]:
    """(cash, positions, prices) per account, as a loop would be handed them."""
    holdings, prices, model = book["holdings"], book["prices"], book["model"]
    cash = dict(zip(book["cash"]["account"], book["cash"]["cash"], strict=True))
    rows: dict[str, dict[str, float]] = {}
    for account, asset, quantity in zip(
        holdings["account"].tolist(),
        holdings["asset"].tolist(),
        holdings["quantity"].tolist(),
        strict=True,
    ):
        rows.setdefault(account, {})[asset] = quantity
    inputs = []
    for account in sorted(cash):
        positions = rows.get(account, {})
        needed = {a: prices[a] for a in (*positions, *model)}
        inputs.append((cash[account], positions, needed))
    return inputs


def loop(inputs: list[Any], model: dict[str, float]) -> list[Any]:
    return [compute_trades(PortfolioSnapshot(c, p, q), model) for c, p, q in inputs]


def loop_from_tables(book: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a user writes without plan_table: groupby, a plan per account, rows out."""
    prices, model = book["prices"], book["model"]
    cash = dict(zip(book["cash"]["account"], book["cash"]["cash"], strict=True))
    orders, decisions = [], []
    for account, group in book["holdings"].groupby("account", sort=True):
        positions = dict(zip(group["asset"], group["quantity"], strict=True))
        needed = {a: prices[a] for a in (*positions, *model)}
        plan = compute_trades(PortfolioSnapshot(cash[account], positions, needed), model)
        orders.extend(
            (
                account,
                o.asset,
                o.side.value,
                o.quantity,
                o.price,
                o.value,
                o.estimated_cost,
                o.action.value,
            )
            for o in plan.orders
        )
        decisions.extend(
            (account, d.asset, d.price, d.current_quantity, d.current_weight, d.requested_weight,
             d.target_weight, d.projected_quantity, d.projected_weight,
             d.skip_reason and d.skip_reason.value, ",".join(d.adjustments))
            for d in plan.decisions
        )  # fmt: skip
    return (
        pd.DataFrame(orders, columns=list(batch.ORDER_COLUMNS)),
        pd.DataFrame(decisions, columns=list(batch.DECISION_COLUMNS)),
    )


def run_plan_table(book: dict[str, Any]) -> tuple[Any, Any]:
    return plan_table(book["holdings"], book["model"], prices=book["prices"], cash=book["cash"])


def stages(book: dict[str, Any]) -> dict[str, float]:
    """CPU seconds of each part of plan_table, timed as plan_table runs them (in chunks)."""
    config = rebalancing.RebalanceConfig()
    clock = time.process_time
    gc.collect()
    start = clock()
    table = Table(book["holdings"], book["model"], book["prices"], book["cash"])
    spent = {"read and check tables": clock() - start}
    spent.update({"lay out rows": 0.0, "plan (the core)": 0.0, "columns of the tables": 0.0})
    parts = []
    count = len(table.accounts)
    step = table.accounts_per(batch._ROWS_CHUNK)
    for first in range(0, count, step):
        stop = min(first + step, count)
        start = clock()
        rows, assets = table.rows(first, stop)
        middle = clock()
        planned = plan_table_rows(rows, config)
        late = clock()
        parts.append(batch._batch_columns(*planned, first, assets))
        spent["lay out rows"] += middle - start
        spent["plan (the core)"] += late - middle
        spent["columns of the tables"] += clock() - late
    start = clock()
    batch._write(table, [p[0] for p in parts], batch.ORDER_COLUMNS)
    batch._write(table, [p[1] for p in parts], batch.DECISION_COLUMNS)
    spent["write the tables"] = clock() - start
    return spent


def profile(book: dict[str, Any], top: int) -> str:
    """cProfile of plan_table, by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_plan_table(book)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def table_bytes(frames: tuple[pd.DataFrame, pd.DataFrame]) -> int:
    return sum(int(f.memory_usage(index=True, deep=True).sum()) for f in frames)


def plans_bytes(inputs: list[Any], model: dict[str, float]) -> int:
    """Bytes allocated and kept by a loop's plans (tracemalloc), snapshots excluded."""
    snapshots = [PortfolioSnapshot(c, p, q) for c, p, q in inputs]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    plans = [compute_trades(s, model) for s in snapshots]
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del plans
    return after - before


def dask_seconds(book: dict[str, Any], workers: int, partitions: int) -> tuple[float, float, float]:
    """(start-up, plan kept on the cluster, plan gathered) wall seconds on a LocalCluster.

    The input is put on the cluster first (not timed), as it is when read there (say
    ``dd.read_parquet``). "Kept": the result is computed and left on the workers (as
    before writing it out from there); "gathered": it is also brought back as two pandas
    DataFrames.
    """
    import dask  # noqa: PLC0415
    import dask.dataframe as dd  # noqa: PLC0415
    from distributed import Client, LocalCluster, wait  # noqa: PLC0415

    import rebalancing.dask  # noqa: PLC0415

    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        up = time.perf_counter() - start
        holdings = client.persist(dd.from_pandas(book["holdings"], npartitions=partitions))
        cash = client.persist(dd.from_pandas(book["cash"], npartitions=partitions))
        wait([holdings, cash])
        begin = time.perf_counter()
        orders, decisions = rebalancing.dask.plan_table(
            holdings, book["model"], prices=book["prices"], cash=cash
        )
        wait(client.persist([orders, decisions]))
        kept = time.perf_counter() - begin
        begin = time.perf_counter()
        orders, decisions = rebalancing.dask.plan_table(
            holdings, book["model"], prices=book["prices"], cash=cash
        )
        dask.compute(orders, decisions)
        return up, kept, time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile plan_table on a tenth")
    args = parser.parse_args()
    n = args.accounts
    cells = n * ASSETS_PER_ACCOUNT
    book = make_book(n)
    model = book["model"]
    print(f"{n:,} accounts x {ASSETS_PER_ACCOUNT} assets ({cells:,} holdings rows)\n")

    inputs = per_account_inputs(book)
    # Warm up both ways on 200 accounts first (imports, the frame libraries' first-call
    # set-up, about 0.1 s): the table shows each one's steady pace.
    warm = make_book(200, seed=2)
    loop(per_account_inputs(warm), warm["model"])
    run_plan_table(warm)
    plans, loop_wall, loop_cpu = timed(lambda: loop(inputs, model))
    del plans
    gc.collect()
    (o, d), ours_wall, ours_cpu = timed(lambda: run_plan_table(book))
    del o, d
    # Once more: the first call of this size also pays for fresh memory from the system
    # (page faults, about 0.8 s at 100,000 accounts); a process that plans again does not.
    (o, d), again_wall, again_cpu = timed(lambda: run_plan_table(book))
    _, naive_wall, naive_cpu = timed(lambda: loop_from_tables(book))
    print(f"{'':<44}{'wall s':>9}{'CPU s':>9}{'accounts/s (CPU)':>18}")
    for label, wall, cpu in (
        ("loop of compute_trades (dicts ready)", loop_wall, loop_cpu),
        ("loop from tables to tables (pandas groupby)", naive_wall, naive_cpu),
        ("plan_table", ours_wall, ours_cpu),
        ("plan_table again (memory reused)", again_wall, again_cpu),
    ):
        print(f"{label:<44}{wall:>9.2f}{cpu:>9.2f}{n / cpu:>18,.0f}")
    print(f"\nplan_table speed-up over the loop (CPU): {loop_cpu / ours_cpu:.2f}x"
          f" (target 20x; {loop_cpu / again_cpu:.2f}x again);"
          f" over the loop from tables: {naive_cpu / ours_cpu:.2f}x")  # fmt: skip

    print("\nwhere plan_table's CPU time goes (its steps, timed one by one as it runs them):")
    parts = stages(book)
    total = sum(parts.values())
    for label, seconds in parts.items():
        print(
            f"  {label:<24}{seconds:>8.2f} s {100 * seconds / total:>5.1f}%"
            f"  {1e6 * seconds / n:>7.1f} us/account"
        )

    rows = len(d)
    result = table_bytes((o, d))
    sample = inputs[: max(n // 10, 1)]
    kept = plans_bytes(sample, model)
    sample_cells = sum(len(p) for _, p, _ in sample)
    print("\nmemory per account-asset:")
    print(f"  plan_table result (orders + decisions, pandas deep): {result / cells:,.0f} bytes"
          f" ({result / 2**20:,.0f} MiB; {rows:,} decision rows,"
          f" {len(o):,} order rows)")  # fmt: skip
    print(
        f"  plans a loop keeps (tracemalloc, {len(sample):,} accounts):"
        f" {kept / sample_cells:,.0f} bytes"
    )

    if args.profile:
        print("\ncProfile of plan_table on a tenth of the accounts:")
        small = make_book(max(n // 10, 1))
        print(profile(small, 25))

    if not args.no_dask:
        print("\nrebalancing.dask.plan_table on a LocalCluster, input on the cluster (wall s):")
        for workers in (1, 2):
            up, kept, gathered = dask_seconds(book, workers, partitions=8)
            print(f"  {workers} worker process(es): {kept:>6.2f} s result kept on the cluster"
                  f" ({n / kept:,.0f} accounts/s), {gathered:>6.2f} s gathered to the client"
                  f" (cluster start-up {up:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()

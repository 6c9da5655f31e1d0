"""Plan many accounts on a Dask cluster: :func:`plan_table` on Dask DataFrames.

The same :func:`rebalancing.plan_table`, run once per partition: holdings (and cash, and
per-account targets) are shuffled by account so that each account's rows meet in one
partition, and each partition is planned by the local ``plan_table`` (the planner of
:func:`~rebalancing.compute_trades`, all the partition's accounts in one pass). Small
inputs (prices, a model portfolio) are computed once and sent to every partition.

Needs the extra: ``pip install 'rebalancing[dask]'``. ``import rebalancing`` never imports
Dask.
"""

from __future__ import annotations

from typing import Any

from ._batch import _one_config
from ._batch import plan_table as _plan_table
from ._config import RebalanceConfig
from ._validation import is_mapping
from .exceptions import InvalidSnapshotError

__all__ = ["plan_table"]


def _dask() -> tuple[Any, Any]:
    """``(dask, dask.dataframe)``, or an ImportError naming the extra."""
    try:
        import dask  # noqa: PLC0415 - optional, imported on use
        import dask.dataframe as dd  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - the dask session has it installed
        msg = "rebalancing.dask needs Dask: pip install 'rebalancing[dask]'"
        raise ImportError(msg) from exc
    return dask, dd


def plan_table(
    holdings: Any,
    targets: Any,
    *,
    prices: Any,
    cash: Any = None,
    config: RebalanceConfig | None = None,
) -> tuple[Any, Any]:
    """:func:`rebalancing.plan_table` on Dask DataFrames: lazy ``(orders, decisions)``.

    Args:
        holdings: A Dask DataFrame with the columns ``account, asset, quantity``, in any
            partitioning (it is shuffled by account).
        targets: A model (mapping, or a pandas or Dask table ``asset, weight``) or a
            pandas or Dask DataFrame ``account, asset, weight`` (shuffled by account).
        prices: A mapping asset -> price, or a pandas or Dask table ``asset, price``
            (computed once: it is small).
        cash: ``None``, a mapping account -> cash, or a pandas or Dask DataFrame
            ``account, cash`` (shuffled by account like ``holdings``).
        config: One :class:`~rebalancing.RebalanceConfig` for every account.

    Returns:
        Two Dask DataFrames with the columns of :func:`rebalancing.plan_table`; each
        partition holds whole accounts, sorted, and every account's orders in submission
        order. Compute both at once (``dask.compute(orders, decisions)``) so each
        partition is planned once.

    Errors are those of :func:`rebalancing.plan_table`, raised when the result is
    computed.
    """
    dask, dd = _dask()
    chosen = _one_config(config)
    if not isinstance(holdings, dd.DataFrame):
        msg = f"holdings must be a Dask DataFrame, got {type(holdings).__name__}"
        raise InvalidSnapshotError(msg)
    account_dtype = holdings.dtypes["account"]
    local_prices = _small(prices, dd)
    if _is_pandas(targets) and "account" in targets.columns:
        targets = dd.from_pandas(targets, npartitions=1)  # per account: shuffled too
    per_account = isinstance(targets, dd.DataFrame) and "account" in targets.columns
    local_targets = None if per_account else _small(targets, dd)
    cash_frame = _cash_frame(cash, account_dtype, dd)
    count = max(holdings.npartitions, 1)
    frames = [holdings]
    if cash_frame is not None:
        frames.append(cash_frame)
    if per_account:
        frames.append(targets.astype({"account": account_dtype}))
    # Hash-partitioned on the same column and dtype into the same number of partitions:
    # partition i of each frame holds the same accounts.
    parts = [frame.shuffle(on="account", npartitions=count).to_delayed() for frame in frames]
    plan = dask.delayed(_plan_partition, nout=2, pure=True)
    results = []
    for index in range(count):
        holding = parts[0][index]
        cash_part = parts[1][index] if cash_frame is not None else None
        target_part = parts[-1][index] if per_account else local_targets
        results.append(plan(holding, target_part, local_prices, cash_part, chosen))
    meta_targets = targets._meta if per_account else local_targets  # noqa: SLF001
    meta_cash = None if cash_frame is None else cash_frame._meta  # noqa: SLF001
    orders_meta, decisions_meta = _plan_table(
        holdings._meta,  # noqa: SLF001 - Dask's empty frame of the right dtypes
        meta_targets,
        prices=local_prices,
        cash=meta_cash,
        config=chosen,
    )
    orders = dd.from_delayed([r[0] for r in results], meta=orders_meta, verify_meta=False)
    decisions = dd.from_delayed([r[1] for r in results], meta=decisions_meta, verify_meta=False)
    return orders, decisions


def _plan_partition(
    holdings: Any, targets: Any, prices: Any, cash: Any, config: RebalanceConfig
) -> tuple[Any, Any]:
    """The local plan_table on one partition (whole accounts)."""
    return _plan_table(holdings, targets, prices=prices, cash=cash, config=config)


def _small(table: Any, dd: Any) -> Any:
    """A small input (prices, a model) as a local object: Dask frames are computed."""
    if isinstance(table, dd.DataFrame):
        return table.compute()
    return table


def _is_pandas(table: object) -> bool:
    return type(table).__module__.startswith("pandas") and type(table).__name__ == "DataFrame"


def _cash_frame(cash: Any, account_dtype: Any, dd: Any) -> Any:
    """Cash as a Dask DataFrame whose account column has the holdings' dtype, or None."""
    if cash is None:
        return None
    if is_mapping(cash):
        import pandas as pd  # noqa: PLC0415 - Dask brings pandas

        frame = pd.DataFrame({"account": list(cash.keys()), "cash": list(cash.values())})
        cash = dd.from_pandas(frame, npartitions=1)
    elif _is_pandas(cash):
        cash = dd.from_pandas(cash, npartitions=1)
    if not isinstance(cash, dd.DataFrame):
        msg = (
            "cash must be None, a mapping, or a pandas or Dask DataFrame, "
            f"got {type(cash).__name__}"
        )
        raise InvalidSnapshotError(msg)
    return cash.astype({"account": account_dtype})

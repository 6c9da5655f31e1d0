"""Many accounts at once: :func:`compute_trades_many` and :func:`plan_table`.

Both plan their accounts together, as the rows of one book, with the very stages
:func:`~rebalancing.compute_trades` runs (``_plan.plan_rows``): there is no second
planner, so a batch plan is always exactly the plans of its accounts. Everything is
validated, all of it, before any account is planned.

``plan_table``'s tables are read and validated in ``_batch_input``; this module plans
them and builds the output columns. Text columns stay integer codes into their
categories (accounts, assets, sides...) until the frame library writes them, so no
Python object is made per row. pandas and polars are imported only when a table is read
or written, so ``import rebalancing`` never needs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

import numpy as np

from ._assemble import Assembled, adjustment_tuples
from ._batch_input import Table, target_book
from ._book import ADJUSTMENTS, Book, flag
from ._config import RebalanceConfig, Rounding
from ._milp import require_scipy
from ._plan import compute_trades, plan_many, plan_table_rows
from ._result import RebalancePlan, SkipReason
from ._rounding import ACTIONS, SKIPS
from ._sizing import Lines
from ._snapshot import PortfolioSnapshot, Side
from ._tables import Column, write_frame
from ._validation import is_mapping
from .exceptions import (
    InvalidConfigError,
    InvalidSnapshotError,
    InvalidTargetsError,
    RebalancingError,
)

__all__ = ["DECISION_COLUMNS", "ORDER_COLUMNS", "compute_trades_many", "plan_table"]

#: Columns of the orders table, in order.
ORDER_COLUMNS = (
    "account",
    "asset",
    "side",
    "quantity",
    "price",
    "value",
    "estimated_cost",
    "action",
)
#: Columns of the decisions table, in order.
DECISION_COLUMNS = (
    "account",
    "asset",
    "price",
    "current_quantity",
    "current_weight",
    "requested_weight",
    "target_weight",
    "projected_quantity",
    "projected_weight",
    "skip_reason",
    "adjustments",
)
#: Accounts planned between two conversions of their plans to columns. Small, so the
#: plans' objects mostly die before the garbage collector promotes them to its oldest
#: generation (whose full scans then stay rare): 32 was 20-25% faster than 256 at
#: 20,000 accounts, and per-chunk numpy overhead is still negligible.
_CHUNK = 32
#: Holdings rows planned together as one book (``plan_table``): enough that numpy's
#: per-call cost vanishes, few enough that a chunk's columns stay in the processor's
#: cache (2,500 accounts of 20 assets, about 100,000 rows counting holdings and targets,
#: were 25% faster than 20,000 accounts on this machine).
_ROWS_CHUNK = 100_000


# -- compute_trades_many ---------------------------------------------------------------


def compute_trades_many(
    snapshots: Iterable[PortfolioSnapshot],
    targets: Mapping[str, float] | Iterable[Mapping[str, float]],
    config: RebalanceConfig | Iterable[RebalanceConfig | None] | None = None,
) -> tuple[RebalancePlan, ...]:
    """Plan many accounts: one :class:`RebalancePlan` per snapshot, in order.

    Each plan is exactly ``compute_trades(snapshot, its_targets, its_config)``. The
    accounts that share a config are planned together in one pass of the planner
    (``Rounding.OPTIMAL`` one at a time), and everything is validated first, so a bad
    snapshot, target or config anywhere raises before any account is planned.

    Args:
        snapshots: The accounts (any iterable of :class:`PortfolioSnapshot`).
        targets: One mapping asset -> weight for every account (a model portfolio), or
            an iterable of mappings, one per snapshot.
        config: One config for every account (``None``: ``RebalanceConfig()``), or an
            iterable of configs (or ``None``), one per snapshot: a configuration sweep.

    Returns:
        A tuple of plans, the i-th for the i-th snapshot.

    Raises:
        InvalidSnapshotError: an item of ``snapshots`` is not a snapshot.
        InvalidTargetsError: a weight is bad, or there are not as many target mappings
            as snapshots; the message names ``targets[i]``.
        InvalidConfigError: a config is not a :class:`RebalanceConfig`, or there are not
            as many configs as snapshots.

    >>> from rebalancing import PortfolioSnapshot, compute_trades_many
    >>> prices = {"AAA": 100.0, "BBB": 50.0}
    >>> accounts = [
    ...     PortfolioSnapshot(10_000.0, {}, prices),
    ...     PortfolioSnapshot(0.0, {"AAA": 100}, prices),
    ... ]
    >>> plans = compute_trades_many(accounts, {"AAA": 0.5, "BBB": 0.5})
    >>> [[(o.side.value, o.asset, o.quantity) for o in plan] for plan in plans]
    [[('buy', 'AAA', 50), ('buy', 'BBB', 100)], [('sell', 'AAA', 50), ('buy', 'BBB', 100)]]
    """
    accounts = _snapshots(snapshots)
    books = _books(targets, len(accounts))
    configs = _configs(config, len(accounts))
    for chosen in dict.fromkeys(configs):
        require_scipy(chosen)
    groups: dict[RebalanceConfig, list[int]] = {}
    for index, chosen in enumerate(configs):
        groups.setdefault(chosen, []).append(index)
    plans: list[RebalancePlan | None] = [None] * len(accounts)
    for chosen, members in groups.items():
        planned = plan_many([accounts[i] for i in members], [books[i] for i in members], chosen)
        if planned is None:  # an account overflows: plan them alone, to say which
            planned = [_plan_one(accounts[i], books[i], chosen, f"snapshots[{i}]") for i in members]
        for index, plan in zip(members, planned, strict=True):
            plans[index] = plan
    return tuple(plan for plan in plans if plan is not None)


def _plan_one(
    snapshot: PortfolioSnapshot, book: dict[str, float], config: RebalanceConfig, where: str
) -> RebalancePlan:
    """``compute_trades`` for one account of a batch; its errors name the account."""
    try:
        return compute_trades(snapshot, book, config)
    except RebalancingError as exc:  # an overflow: only found while planning
        raise type(exc)(f"{where}: {exc}") from exc


def _snapshots(snapshots: object) -> tuple[PortfolioSnapshot, ...]:
    if isinstance(snapshots, PortfolioSnapshot | str | bytes | Mapping) or not isinstance(
        snapshots, Iterable
    ):
        msg = (
            "snapshots must be an iterable of PortfolioSnapshot (a list, a tuple...), "
            f"got {type(snapshots).__name__}"
        )
        raise InvalidSnapshotError(msg)
    accounts = tuple(snapshots)
    for index, snapshot in enumerate(accounts):
        if not isinstance(snapshot, PortfolioSnapshot):
            msg = f"snapshots[{index}] must be a PortfolioSnapshot, got {type(snapshot).__name__}"
            raise InvalidSnapshotError(msg)
    return accounts


def _books(targets: object, count: int) -> list[dict[str, float]]:
    if is_mapping(targets):
        return [target_book(targets, "targets")] * count
    if isinstance(targets, str | bytes) or not isinstance(targets, Iterable):
        msg = (
            "targets must be a mapping asset -> weight (one model for every snapshot) or an "
            f"iterable of such mappings (one per snapshot), got {type(targets).__name__}"
        )
        raise InvalidTargetsError(msg)
    books = tuple(targets)
    if len(books) != count:
        msg = (
            f"targets has {len(books)} mappings for {count} snapshots: give one per "
            "snapshot, or a single mapping for all"
        )
        raise InvalidTargetsError(msg)
    return [target_book(book, f"targets[{index}]") for index, book in enumerate(books)]


def _one_config(config: object, label: str = "config") -> RebalanceConfig:
    if config is None:
        return RebalanceConfig()
    if isinstance(config, RebalanceConfig):
        return config
    msg = f"{label} must be a RebalanceConfig or None, got {type(config).__name__} {config!r}"
    raise InvalidConfigError(msg)


def _configs(config: object, count: int) -> list[RebalanceConfig]:
    if config is None or isinstance(config, RebalanceConfig):
        return [_one_config(config)] * count
    if isinstance(config, str | bytes | Mapping) or not isinstance(config, Iterable):
        msg = (
            "config must be a RebalanceConfig, None, or an iterable of them (one per "
            f"snapshot), got {type(config).__name__} {config!r}"
        )
        raise InvalidConfigError(msg)
    configs = tuple(config)
    if len(configs) != count:
        msg = f"config has {len(configs)} configs for {count} snapshots: give one per snapshot"
        raise InvalidConfigError(msg)
    return [_one_config(item, f"config[{index}]") for index, item in enumerate(configs)]


# -- plan_table: planning and writing ---------------------------------------------------

#: The numbers of an order, and of a decision, read in one call per object and turned
#: into a 2-d float array in one numpy call (None -> NaN).
_ORDER_NUMBERS = attrgetter("quantity", "price", "estimated_cost", "multiplier")
_ORDER_TEXT = attrgetter("asset", "side", "action")
_DECISION_NUMBERS = attrgetter(*DECISION_COLUMNS[2:9])  # price ... projected_weight
_DECISION_TEXT = attrgetter("asset", "skip_reason", "adjustments")


def plan_table(
    holdings: Any,
    targets: Any,
    *,
    prices: Any,
    cash: Any = None,
    config: RebalanceConfig | None = None,
) -> tuple[Any, Any]:
    """Plan every account of a long holdings table: ``(orders, decisions)`` tables.

    Each account gets the plan :func:`~rebalancing.compute_trades` gives its snapshot:
    cash from ``cash``, positions from its ``holdings`` rows, and the prices of its held
    and targeted assets. The accounts are planned together, as rows of one book (no
    snapshot or plan objects are built). Every input is validated, all of it, before any
    account is planned. See the docs page *Many accounts* for every rule.

    Args:
        holdings: A pandas or polars DataFrame with the columns ``account, asset,
            quantity`` (one row per account and asset; other columns are ignored).
        targets: One model for every account: a mapping asset -> weight or a table with
            ``asset, weight``; or a weight per account: a table with ``account, asset,
            weight`` that has rows for every account.
        prices: A mapping asset -> price or a table ``asset, price``. Every held asset
            needs one; a targeted asset without one is skipped (``no_price``).
        cash: A mapping account -> cash or a table ``account, cash`` with a row for every
            account in ``holdings`` (accounts only here hold just cash); ``None``: every
            account has no cash.
        config: One :class:`RebalanceConfig` for every account.

    Returns:
        ``(orders, decisions)``, DataFrames of the kind of ``holdings``. ``orders`` has
        the columns ``account, asset, side, quantity, price, value, estimated_cost,
        action``, accounts sorted, each account's orders in submission order;
        ``decisions`` has one row per account and asset (sorted) with ``price,
        current_quantity, current_weight, requested_weight, target_weight,
        projected_quantity, projected_weight, skip_reason, adjustments``.

    Raises:
        InvalidSnapshotError: a bad holdings, cash or prices row (missing account,
            bad asset name, a number that is not finite, a duplicate row, an account
            without a cash row); the message names the row, account, asset and column.
        MissingPriceError: a held asset has no price.
        InvalidTargetsError: a bad targets row, or an account without targets.
        InvalidConfigError: ``config`` is not a :class:`RebalanceConfig`.
    """
    chosen = _one_config(config)
    table = Table(holdings, targets, prices, cash)
    require_scipy(chosen)
    order_parts: list[dict[str, Any]] = []
    decision_parts: list[dict[str, Any]] = []
    count = len(table.accounts)
    columnar = chosen.rounding is not Rounding.OPTIMAL
    step = table.accounts_per(_ROWS_CHUNK) if columnar else _CHUNK
    for start in range(0, count, step):
        stop = min(start + step, count)
        chunk = table.rows(start, stop) if columnar else None
        planned = None if chunk is None else plan_table_rows(chunk[0], chosen)
        if chunk is not None and planned is not None:
            parts = _batch_columns(*planned, start, chunk[1])
        else:  # OPTIMAL, or an account overflows (planned alone, its error names it)
            accounts = table.snapshots(start, stop)
            plans = [
                _plan_one(snapshot, book, chosen, f"account {a!r}")
                for a, snapshot, book in accounts
            ]
            parts = _columns(plans, start, table.asset_code)
        order_parts.append(parts[0])
        decision_parts.append(parts[1])
    return (
        _write(table, order_parts, ORDER_COLUMNS),
        _write(table, decision_parts, DECISION_COLUMNS),
    )


# Text columns are kept as codes (integer arrays) into their categories until they are
# written: accounts into ``Table.accounts``, assets into ``Table.universe``, sides,
# actions and skip reasons into the arrays below, adjustments as their bits.

#: Text of a side by ``sign > 0``, an action by its code, a skip by its code (0, no
#: reason, is "at target" for an asset without orders; the last, None, an asset traded).
_SIDE_TEXT = np.array([Side.SELL.value, Side.BUY.value], dtype=object)
_ACTION_TEXT = np.array([action.value for action in ACTIONS], dtype=object)
_SKIP_TEXT = np.array(
    [*((reason or SkipReason.AT_TARGET).value for reason in SKIPS), None], dtype=object
)
_TRADED = len(SKIPS)
#: Codes of a plan's enum members (and None, the skip reason of a traded asset).
_CODE: dict[Any, int] = {
    Side.SELL: 0,
    Side.BUY: 1,
    **{action: code for code, action in enumerate(ACTIONS)},
    **{reason: code for code, reason in enumerate(SKIPS) if reason is not None},
    None: _TRADED,
}


def _columns(
    plans: list[RebalancePlan], first: int, asset_code: dict[str, int]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plans of the accounts from ``first`` on, as order and decision columns."""

    def codes(values: Iterable[Any], code: Mapping[Any, int]) -> Any:
        return np.fromiter(map(code.__getitem__, values), dtype=np.int64)

    def account_codes(counts: list[int]) -> Any:
        return np.repeat(np.arange(first, first + len(plans)), counts)

    orders = [order for plan in plans for order in plan.orders]
    decisions = [decision for plan in plans for decision in plan.decisions]
    numbers = np.array(list(map(_ORDER_NUMBERS, orders)), dtype=np.float64).reshape(-1, 4)
    asset, side, action = list(zip(*map(_ORDER_TEXT, orders), strict=True)) or [()] * 3
    quantity, price, cost, multiplier = numbers.T
    order_columns = {
        "account": account_codes([len(plan.orders) for plan in plans]),
        "asset": codes(asset, asset_code),
        "side": codes(side, _CODE),
        "quantity": quantity,
        "price": price,
        "value": quantity * price * multiplier,
        "estimated_cost": cost,
        "action": codes(action, _CODE),
    }
    numbers = np.array(list(map(_DECISION_NUMBERS, decisions)), dtype=np.float64).reshape(-1, 7)
    columns = list(zip(*map(_DECISION_TEXT, decisions), strict=True)) or [()] * 3
    assets, skips, adjustments = columns
    decision_columns = {
        "account": account_codes([len(plan.decisions) for plan in plans]),
        "asset": codes(assets, asset_code),
        **dict(zip(DECISION_COLUMNS[2:9], numbers.T, strict=True)),
        "skip_reason": codes(skips, _CODE),
        "adjustments": np.fromiter(
            (sum(map(flag, chosen)) for chosen in adjustments), dtype=np.int64
        ),
    }
    return order_columns, decision_columns


def _batch_columns(
    book: Book, lines: Lines, done: Assembled, first: int, asset: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Order and decision columns of the accounts from ``first`` on, off the planner's."""
    row = done.row
    price = book.price[row]
    skips = lines.skip.copy()
    skips[row] = _TRADED
    # Codes as small as they fit: the tables' text is gathered from them at the end.
    account = (book.account + first).astype(np.int32)
    asset = asset.astype(np.int32)
    order_columns = {
        "account": account[row],
        "asset": asset[row],
        "side": (done.sign > 0.0).astype(np.int8),
        "quantity": done.quantity,
        "price": price,
        "value": done.quantity * price * book.multiplier[row],
        "estimated_cost": done.cost,
        "action": done.action,
    }
    decision_columns = {
        "account": account,
        "asset": asset,
        "price": book.price,
        "current_quantity": book.current,
        "current_weight": done.current_weight,
        "requested_weight": book.requested,
        "target_weight": lines.target,
        "projected_quantity": done.projected,
        "projected_weight": done.projected_weight,
        "skip_reason": skips,
        "adjustments": lines.adjust.astype(np.int8),
    }
    return order_columns, decision_columns


def _write(table: Table, parts: list[dict[str, Any]], names: tuple[str, ...]) -> Any:
    """The table of the columns ``names``: numbers as they are, text from its codes."""
    columns: dict[str, Column] = {}
    for name in names:
        values = np.concatenate([part[name] for part in parts]) if parts else np.zeros(0, int)
        if name == "account":
            columns[name] = Column(table.accounts, "native", table.account_dtype, values)
        elif name == "asset":
            columns[name] = Column(table.universe, "str", codes=values)
        elif name == "adjustments":
            text = [",".join(chosen) for chosen in adjustment_tuples(list(range(_ALL_BITS)))]
            columns[name] = Column(np.array(text, dtype=object), "str", codes=values)
        elif name in _CATEGORIES:
            columns[name] = Column(_CATEGORIES[name], "str", codes=values)
        else:
            columns[name] = Column(values.astype(np.float64, copy=False), "float")
    return write_frame(table.kind, columns)


_CATEGORIES = {"side": _SIDE_TEXT, "action": _ACTION_TEXT, "skip_reason": _SKIP_TEXT}
#: Every set of adjustments, as bits: the categories of the adjustments column.
_ALL_BITS = 1 << len(ADJUSTMENTS)

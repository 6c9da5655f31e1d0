"""Targets and per-asset facts as columns: the first stages of the pipeline.

:func:`validate_targets` checks every weight before anything is decided;
:func:`constrain` clamps, caps and scales them (each change recorded as a bit of
:attr:`Book.adjust`); :func:`read_book` lays out what the planner knows of each asset
(price, unit value, increment, position, target, pending orders) in arrays over the
sorted universe of assets that are targeted, held or pending.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ._config import RebalanceConfig
from ._result import Adjustment
from ._rounding import NOISE, Floats, Index
from ._snapshot import PendingOrder, PortfolioSnapshot, pending_by_asset
from ._validation import check_name, mapping_items, plain_numbers, to_number
from .exceptions import InvalidTargetsError

__all__ = [
    "ADJUSTMENTS",
    "Accounts",
    "Book",
    "Rows",
    "constrain",
    "flag",
    "read_book",
    "rows_from_snapshots",
    "validate_targets",
]

#: Adjustments as bits of a column, in the order the pipeline makes them.
ADJUSTMENTS = (
    Adjustment.SHORT_CLAMPED,
    Adjustment.CAPPED,
    Adjustment.LEVERAGE_SCALED,
    Adjustment.CASH_ACCOUNT,
    Adjustment.CASH_BUFFER,
    Adjustment.PENDING_REPLACED,
    Adjustment.CASH_LIMITED,
)


_BITS = {adjustment: 1 << bit for bit, adjustment in enumerate(ADJUSTMENTS)}


def flag(adjustment: Adjustment) -> int:
    """The bit of ``adjustment`` in an adjustments column."""
    return _BITS[adjustment]


#: Equity at or below this share of cash + gross position value (or this many units of
#: currency) is treated as non-positive: weights against it would be noise.
_EQUITY_NOISE = 1e-9


def validate_targets(target_weights: object) -> dict[str, float]:
    """Check every target before anything is decided; return them sorted by asset."""
    plain = plain_numbers(target_weights, positive=False)
    if plain is not None:
        return plain
    checked: dict[str, float] = {}
    for key, raw in mapping_items(target_weights, "target_weights", InvalidTargetsError):
        asset = check_name(key, "target_weights key", InvalidTargetsError)
        if type(raw) is float and raw - raw == 0.0:
            checked[asset] = raw  # the common case, checked fast
        else:
            checked[asset] = to_number(raw, f"target_weights[{asset!r}]", InvalidTargetsError)
    return dict(sorted(checked.items()))


def constrain(
    requested: Floats,
    account: Index,
    config: RebalanceConfig,
    *,
    margin: npt.NDArray[np.bool_],
) -> tuple[Floats, npt.NDArray[np.int64]]:
    """Clamp shorts, cap |w|, scale each account to its gross cap, then the cash buffer.

    ``requested`` holds the targeted rows' weights and ``account`` their accounts. In a
    cash account (``margin`` False) the gross cap is at most 1: a book that asks for more
    (PyPortfolioOpt's cleaned weights often sum to 1.00001) is scaled to 1. Shorting
    borrows too, so a cash account clamps short targets to 0 whatever ``allow_short``
    says.

    Returns the effective weights and each one's adjustment bits.
    """
    weight = requested.copy()
    adjust = np.zeros(len(weight), dtype=np.int64)
    clamped = weight < 0.0
    if config.allow_short:
        clamped &= ~margin[account]
    weight[clamped] = 0.0
    adjust[clamped] |= flag(Adjustment.SHORT_CLAMPED)
    cap = config.max_single_weight
    capped = np.abs(weight) > cap
    weight[capped] = np.copysign(cap, weight[capped])
    adjust[capped] |= flag(Adjustment.CAPPED)
    gross = np.bincount(account, np.abs(weight), minlength=len(margin))
    limit = math.inf if config.max_gross_leverage is None else config.max_gross_leverage
    cash_cap = ~margin & (limit > 1.0)
    caps = np.where(cash_cap, 1.0, limit)
    live = weight != 0.0
    over = live & (gross > caps)[account]
    owners = account[over]
    weight[over] *= caps[owners] / gross[owners]
    scaled = np.where(cash_cap, flag(Adjustment.CASH_ACCOUNT), flag(Adjustment.LEVERAGE_SCALED))
    adjust[over] |= scaled[owners]
    if config.cash_buffer > 0.0:
        live = weight != 0.0  # a weight scaling took to 0 (5e-324 * 0.5) has no buffer
        weight[live] *= 1.0 - config.cash_buffer
        adjust[live] |= flag(Adjustment.CASH_BUFFER)
    return weight, adjust


class Accounts(NamedTuple):
    """Per-account facts, one element per account."""

    cash: Floats
    #: Cash plus the value of every position, summed exactly (as the snapshot's).
    equity: Floats
    #: Whether equity is positive beyond float noise (weights mean something).
    positive: npt.NDArray[np.bool_]
    #: Whether the account may borrow (cash < 0, gross > 1) and short.
    margin: npt.NDArray[np.bool_]
    #: The account's rows are ``start[a]:start[a + 1]``.
    start: Index


class Rows(NamedTuple):
    """The raw inputs of one or many accounts, one row per account and asset.

    Rows are sorted by account, then asset name. Built from snapshots
    (:func:`rows_from_snapshots`) or straight from tables (``plan_table``).
    """

    assets: Sequence[str]
    account: Index
    #: NaN where there is no price (a targeted asset may lack one).
    price: Floats
    multiplier: Floats
    #: The asset's own lot size, NaN where it has none.
    lot: Floats
    current: Floats
    #: NaN where the asset is not targeted.
    requested: Floats
    #: Pending orders by row, only for rows that have some.
    pending: dict[int, list[PendingOrder]]
    cash: Floats
    equity: Floats
    margin: npt.NDArray[np.bool_]
    fractional: npt.NDArray[np.bool_]


class Book(NamedTuple):
    """What the planner knows of each row (account and asset), as columns."""

    assets: Sequence[str]
    account: Index
    #: Reference price (NaN where the snapshot has none) and whether there is one.
    price: Floats
    priced: npt.NDArray[np.bool_]
    multiplier: Floats
    #: Price times multiplier (0 without a price).
    unit_value: Floats
    #: Unit or lot the holding moves by; 0 for a fractional holding.
    increment: Floats
    #: Whether quantities are whole numbers (sent as ``int``).
    whole: npt.NDArray[np.bool_]
    current: Floats
    targeted: npt.NDArray[np.bool_]
    #: The weight asked for (NaN where not targeted) and the one aimed at.
    requested: Floats
    target: Floats
    #: Adjustment bits (see :data:`ADJUSTMENTS`).
    adjust: npt.NDArray[np.int64]
    #: Pending orders that execute as placed, or are entries kept with them, and the
    #: resting ones (stops, take-profits, limits away from the market): row -> orders,
    #: only for rows that have some.
    working: dict[int, list[PendingOrder]]
    resting: dict[int, list[PendingOrder]]
    #: The row's account's equity, whether it is positive, and whether it may short.
    equity: Floats
    positive: npt.NDArray[np.bool_]
    can_short: npt.NDArray[np.bool_]
    #: Whether kept working orders count as exposure when sizing.
    counts_pending: bool
    accounts: Accounts


def _column(mapping: Mapping[str, float], assets: list[str], default: float) -> list[float]:
    if not mapping:
        return [default] * len(assets)
    return list(map(mapping.get, assets, itertools.repeat(default)))


def rows_from_snapshots(
    snapshots: Sequence[PortfolioSnapshot], targets: Sequence[dict[str, float]]
) -> Rows:
    """Lay snapshots and their (validated, sorted) targets out as rows."""
    assets: list[str] = []
    sizes, price, multiplier, lot, current, requested = [], [], [], [], [], []
    pending: dict[int, list[PendingOrder]] = {}
    for snapshot, book in zip(snapshots, targets, strict=True):
        by_asset = pending_by_asset(snapshot.pending_orders)
        # Each part is sorted already: the sort only merges them.
        names = sorted(dict.fromkeys([*book, *snapshot.held, *by_asset]))
        if by_asset:
            first = len(assets)
            for at, name in enumerate(names):
                if name in by_asset:
                    pending[first + at] = by_asset[name]
        assets.extend(names)
        sizes.append(len(names))
        price.extend(_column(snapshot.prices, names, math.nan))
        multiplier.extend(_column(snapshot.multipliers, names, 1.0))
        lot.extend(_column(snapshot.lot_sizes, names, math.nan))
        current.extend(_column(snapshot.positions, names, 0.0))
        requested.extend(_column(book, names, math.nan))
    return Rows(
        assets=assets,
        account=np.repeat(np.arange(len(sizes)), sizes),
        price=np.array(price, dtype=np.float64),
        multiplier=np.array(multiplier, dtype=np.float64),
        lot=np.array(lot, dtype=np.float64),
        current=np.array(current, dtype=np.float64),
        requested=np.array(requested, dtype=np.float64),
        pending=pending,
        cash=np.array([s.cash for s in snapshots], dtype=np.float64),
        equity=np.array([s.equity for s in snapshots], dtype=np.float64),
        margin=np.array([s.margin for s in snapshots], dtype=bool),
        fractional=np.array([s.fractional for s in snapshots], dtype=bool),
    )


def read_book(rows: Rows, config: RebalanceConfig) -> Book:
    """Derive what the planner knows of each row: unit values, increments, targets."""
    account, count = rows.account, len(rows.cash)
    price = rows.price
    priced = ~np.isnan(price)
    unit_value = np.where(priced, price * rows.multiplier, 0.0)
    if config.round_lots:
        default = np.full(len(price), float(config.lot_size))
    else:
        fractional = rows.fractional if config.allow_fractional is None else None
        if fractional is None:
            default = np.full(len(price), 0.0 if config.allow_fractional else 1.0)
        else:
            default = np.where(fractional[account], 0.0, 1.0)
    increment = np.where(np.isnan(rows.lot), default, rows.lot)
    whole = (increment > 0.0) & (increment == np.floor(increment))
    requested = rows.requested
    targeted = ~np.isnan(requested)
    target = np.zeros(len(price))
    adjust = np.zeros(len(price), dtype=np.int64)
    target[targeted], adjust[targeted] = constrain(
        requested[targeted], account[targeted], config, margin=rows.margin
    )
    current = rows.current
    gross = np.bincount(account, np.abs(current * unit_value), minlength=count)
    equity = rows.equity
    # Equity lost in the float noise of its parts is no equity to weigh against.
    positive = equity > np.maximum(_EQUITY_NOISE * (np.abs(rows.cash) + gross), _EQUITY_NOISE)
    working: dict[int, list[PendingOrder]] = {}
    resting: dict[int, list[PendingOrder]] = {}
    for i, orders in rows.pending.items():
        held, aim = current[i], target[i]
        # Kept resting entries (orders that add to the position if they fill, such as a
        # dip buy) go with the working orders of an asset the targets hold: counted when
        # pending orders are (so the plan plus every kept order that may fill never
        # exceeds the target), their cash set aside either way. Resting exits (stops,
        # take-profits) never count.
        keeps_entries = not config.cancel_before_rebalance and targeted[i] and abs(aim) > NOISE
        toward = held if held != 0.0 else aim
        for order in orders:
            works = order.executes_as_placed(float(price[i]))
            if works or (keeps_entries and order.side.sign * toward > 0.0):
                working.setdefault(i, []).append(order)
            else:
                resting.setdefault(i, []).append(order)
    start = np.searchsorted(account, np.arange(count + 1))
    return Book(
        assets=rows.assets,
        account=account,
        price=price,
        priced=priced,
        multiplier=rows.multiplier,
        unit_value=unit_value,
        increment=increment,
        whole=whole,
        current=current,
        targeted=targeted,
        requested=requested,
        target=target,
        adjust=adjust,
        working=working,
        resting=resting,
        equity=equity[account],
        positive=positive[account],
        can_short=(rows.margin & config.allow_short)[account],
        counts_pending=not config.cancel_before_rebalance and config.account_for_pending,
        accounts=Accounts(
            cash=rows.cash, equity=equity, positive=positive, margin=rows.margin, start=start
        ),
    )

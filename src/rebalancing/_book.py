"""Targets and per-asset facts as columns: the first stages of the pipeline.

:func:`validate_targets` checks every weight before anything is decided;
:func:`constrain` clamps, caps and scales them (each change recorded as a bit of
:attr:`Book.adjust`); :func:`read_book` lays out what the planner knows of each asset
(price, unit value, increment, position, target, pending orders) in arrays over the
sorted universe of assets that are targeted, held or pending.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ._config import RebalanceConfig
from ._result import Adjustment
from ._rounding import NOISE, Floats
from ._snapshot import PendingOrder, PortfolioSnapshot, pending_by_asset
from ._validation import check_name, mapping_items, to_number
from .exceptions import InvalidTargetsError

__all__ = ["ADJUSTMENTS", "Book", "constrain", "flag", "read_book", "validate_targets"]

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
    checked: dict[str, float] = {}
    for key, raw in mapping_items(target_weights, "target_weights", InvalidTargetsError):
        asset = check_name(key, "target_weights key", InvalidTargetsError)
        if type(raw) is float and raw - raw == 0.0:
            checked[asset] = raw  # the common case, checked fast
        else:
            checked[asset] = to_number(raw, f"target_weights[{asset!r}]", InvalidTargetsError)
    return dict(sorted(checked.items()))


def constrain(
    requested: Floats, config: RebalanceConfig, *, margin: bool
) -> tuple[Floats, npt.NDArray[np.int64]]:
    """Clamp shorts, cap |w|, scale to the gross cap, then apply the cash buffer.

    ``requested`` holds the targeted assets' weights. In a cash account (``margin``
    False) the gross cap is at most 1: a book that asks for more (PyPortfolioOpt's
    cleaned weights often sum to 1.00001) is scaled to 1. Shorting borrows too, so a
    cash account clamps short targets to 0 whatever ``allow_short`` says.

    Returns the effective weights and each one's adjustment bits.
    """
    weight = requested.copy()
    adjust = np.zeros(len(weight), dtype=np.int64)
    if not (config.allow_short and margin):
        clamped = weight < 0.0
        weight[clamped] = 0.0
        adjust[clamped] |= flag(Adjustment.SHORT_CLAMPED)
    cap = config.max_single_weight
    capped = np.abs(weight) > cap
    weight[capped] = np.copysign(cap, weight[capped])
    adjust[capped] |= flag(Adjustment.CAPPED)
    gross = math.fsum(np.abs(weight).tolist())
    limit, scaled = config.max_gross_leverage, Adjustment.LEVERAGE_SCALED
    if not margin and (limit is None or limit > 1.0):
        limit, scaled = 1.0, Adjustment.CASH_ACCOUNT
    live = weight != 0.0
    if limit is not None and gross > limit:
        weight[live] *= limit / gross
        adjust[live] |= flag(scaled)
    if config.cash_buffer > 0.0:
        weight[live] *= 1.0 - config.cash_buffer
        adjust[live] |= flag(Adjustment.CASH_BUFFER)
    return weight, adjust


class Book(NamedTuple):
    """What the planner knows of each asset, one array element per asset (sorted)."""

    assets: list[str]
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
    #: resting ones (stops, take-profits, limits away from the market): asset index ->
    #: orders, only for assets that have some.
    working: dict[int, list[PendingOrder]]
    resting: dict[int, list[PendingOrder]]
    cash: float
    equity: float
    #: Whether equity is positive beyond float noise (weights mean something).
    positive: bool
    fractional: bool
    #: Whether kept working orders count as exposure when sizing.
    counts_pending: bool
    #: Shorting borrows, so only a margin account may short.
    allow_short: bool


def _column(mapping: Mapping[str, float], assets: list[str], default: float) -> Floats:
    if not mapping:
        return np.full(len(assets), default)
    get = mapping.get
    return np.array([get(asset, default) for asset in assets], dtype=np.float64)


def read_book(
    snapshot: PortfolioSnapshot, targets: dict[str, float], config: RebalanceConfig
) -> Book:
    """Lay the snapshot and the (validated, sorted) targets out as columns."""
    pending = pending_by_asset(snapshot.pending_orders)
    positions = snapshot.positions
    assets = sorted(set(targets).union(snapshot.held, pending))
    price = _column(snapshot.prices, assets, math.nan)
    priced = ~np.isnan(price)
    multiplier = _column(snapshot.multipliers, assets, 1.0)
    unit_value = np.where(priced, price * multiplier, 0.0)
    current = _column(positions, assets, 0.0)
    fractional = snapshot.fractional if config.allow_fractional is None else config.allow_fractional
    default = float(config.lot_size) if config.round_lots else (0.0 if fractional else 1.0)
    increment = _column(snapshot.lot_sizes, assets, default)
    whole = (increment > 0.0) & (increment == np.floor(increment))
    requested = _column(targets, assets, math.nan)
    targeted = ~np.isnan(requested)
    target = np.zeros(len(assets))
    adjust = np.zeros(len(assets), dtype=np.int64)
    target[targeted], adjust[targeted] = constrain(
        requested[targeted], config, margin=snapshot.margin
    )
    equity = snapshot.equity
    gross = math.fsum(np.abs(current * unit_value).tolist())
    # Equity lost in the float noise of its parts is no equity to weigh against.
    positive = equity > max(_EQUITY_NOISE * (abs(snapshot.cash) + gross), _EQUITY_NOISE)
    working: dict[int, list[PendingOrder]] = {}
    resting: dict[int, list[PendingOrder]] = {}
    if pending:
        index = {asset: i for i, asset in enumerate(assets)}
        for asset, orders in pending.items():
            i = index[asset]
            held, aim = current[i], target[i]
            # Kept resting entries (orders that add to the position if they fill, such
            # as a dip buy) go with the working orders of an asset the targets hold:
            # counted when pending orders are (so the plan plus every kept order that
            # may fill never exceeds the target), their cash set aside either way.
            # Resting exits (stops, take-profits) never count.
            keeps_entries = not config.cancel_before_rebalance and targeted[i] and abs(aim) > NOISE
            toward = held if held != 0.0 else aim
            for order in orders:
                works = order.executes_as_placed(float(price[i]))
                if works or (keeps_entries and order.side.sign * toward > 0.0):
                    working.setdefault(i, []).append(order)
                else:
                    resting.setdefault(i, []).append(order)
    return Book(
        assets=assets,
        price=price,
        priced=priced,
        multiplier=multiplier,
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
        cash=snapshot.cash,
        equity=equity,
        positive=positive,
        fractional=fractional,
        counts_pending=not config.cancel_before_rebalance and config.account_for_pending,
        allow_short=config.allow_short and snapshot.margin,
    )

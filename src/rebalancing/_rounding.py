"""Rounding to units, the legs a trade splits into, and the trade thresholds, on columns.

Pure functions of numpy arrays, one element per asset. An ``increment`` of 0 means a
fractional (continuous) holding; otherwise it is the unit or lot the holding moves by.
The scalar :func:`round_holding` and :func:`round_nearest` are the same rules for one
asset (the CLI explains a skip with them).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._allocation import FLOAT_NOISE
from ._config import RebalanceConfig
from ._result import Action, SkipReason
from ._snapshot import Side

__all__ = [
    "NOISE",
    "Floats",
    "Index",
    "Legs",
    "holding_down",
    "holding_nearest",
    "legs_of",
    "round_holding",
    "round_nearest",
    "threshold_codes",
    "whole_units",
]

Floats = npt.NDArray[np.float64]
Index = npt.NDArray[np.intp]
Codes = npt.NDArray[np.int8]

#: Weight changes below this (fraction of equity) are floating-point noise, not trades.
NOISE = 1e-9
#: Tolerance when a budget cut (with its margin) is divided into whole units or lots.
UNIT_EPS = 1e-9

#: Skip reasons as small integers in a column: 0 is "no reason" (the asset trades).
SKIPS: tuple[SkipReason | None, ...] = (None, *SkipReason)
SKIP = {reason: np.int8(code) for code, reason in enumerate(SKIPS) if reason is not None}
#: The actions of a trade leg as small integers (a close is a leg of its own).
ACTIONS = (Action.OPEN, Action.INCREASE, Action.REDUCE, Action.CLOSE)


#: Action codes in :attr:`Legs.action` (plain ints: numpy compares them fast), the
#: index of the action in :data:`ACTIONS`.
OPEN, INCREASE, REDUCE, CLOSE = range(4)


def whole_units(ratio: Floats, tolerance: float = FLOAT_NOISE) -> Floats:
    """``ratio`` with float noise (3 * 0.1 / 0.1) snapped to whole numbers.

    The library's one snapping rule (``_allocation.snap_whole`` on columns): relative to
    the ratio, float noise by default; a budget cut with its float margin passes the
    wider :data:`UNIT_EPS`.
    """
    whole = np.round(ratio)
    close = np.abs(ratio - whole) <= tolerance * np.maximum(1.0, np.abs(ratio))
    return np.where(close, whole, ratio)


def holding_down(current: Floats, desired: Floats, increment: Floats) -> Floats:
    """The final holding ``Rounding.DOWN`` aims for, per asset.

    Reachable from ``current`` by whole increments (or by an exact close to 0), on the
    same side as ``desired`` and never larger than it: the closest such holding.
    """
    moves = (increment > 0.0) & (desired != current)
    out = desired.copy()
    if not moves.any():
        return out
    held_now, wanted, step = current[moves], desired[moves], increment[moves]
    sign = np.where(wanted > 0.0, 1.0, -1.0)
    size, held = np.abs(wanted), sign * held_now
    # Flat or on the other side: close exactly, then open whole increments.
    opened = sign * np.floor(whole_units(size / step)) * step
    grown = sign * (held + np.floor(whole_units((size - held) / step)) * step)
    remaining = held - np.ceil(whole_units((held - size) / step)) * step
    # A sell that would cross zero closes exactly instead.
    shrunk = np.where(remaining < step * UNIT_EPS, 0.0, sign * remaining)
    out[moves] = np.where(held <= 0.0, opened, np.where(size >= held, grown, shrunk))
    return out


def holding_nearest(current: Floats, desired: Floats, increment: Floats) -> Floats:
    """The reachable holding nearest ``desired`` (``Rounding.CLOSEST`` before funding).

    An exact half rounds toward the smaller holding (spending less).
    """
    moves = (increment > 0.0) & (desired != current)
    out = desired.copy()
    if not moves.any():
        return out
    held_now, wanted, step = current[moves], desired[moves], increment[moves]
    sign = np.where(wanted > 0.0, 1.0, -1.0)
    held, size = sign * held_now, np.abs(wanted)
    fresh = sign * np.ceil(whole_units(size / step) - 0.5) * step
    candidate = held + np.ceil(whole_units((size - held) / step) - 0.5) * step
    # Closing is exact from any holding: from 2 units off a grid of 10, 0 is nearer 0.1
    # than 2 (a tie goes to the close, the smaller holding).
    closes = (candidate < 0.0) | (size <= np.abs(candidate - size))
    from_held = np.where(closes, 0.0, sign * candidate)
    out[moves] = np.where((held < 0.0) | (wanted == 0.0), fresh, from_held)
    return out


def _one(rule: object, current: float, desired: float, increment: float | None) -> float:
    columns = (np.array([current]), np.array([desired]), np.array([increment or 0.0]))
    return float(rule(*columns)[0])  # type: ignore[operator]


def round_holding(current: float, desired: float, increment: float | None) -> float:
    """:func:`holding_down` for one asset (``increment`` None: fractional)."""
    return _one(holding_down, current, desired, increment)


def round_nearest(current: float, desired: float, increment: float | None) -> float:
    """:func:`holding_nearest` for one asset (``increment`` None: fractional)."""
    return _one(holding_nearest, current, desired, increment)


class Legs:
    """The orders from each asset's ``start`` to its ``final`` holding.

    A reversal (or a close) has a closing leg of exactly the start, on the other side of
    it, and a reversal an opening leg of the final holding. Any other move is one leg
    (``trade``), snapped to whole increments so a whole-unit buy from a fractional
    holding is still a whole number.
    """

    __slots__ = ("action", "close", "close_sign", "trade", "trade_sign")

    def __init__(self, start: Floats, final: Floats, increment: Floats) -> None:
        moves = final != start
        closes = moves & (start != 0.0) & ((final == 0.0) | ((final > 0.0) != (start > 0.0)))
        size = np.abs(final - start)
        step = increment > 0.0
        if step.any():
            size[step] = np.round(whole_units(size[step] / increment[step])) * increment[step]
        #: Quantity of the closing leg (0: none), and its side: +1 buy, -1 sell.
        self.close = np.where(closes, np.abs(start), 0.0)
        self.close_sign = -np.sign(start)
        #: Quantity of the other leg (0: none), its side and its action code (:data:`OPEN`, ...).
        self.trade = np.where(closes, np.abs(final), np.where(moves, size, 0.0))
        self.trade_sign = np.where(closes, np.sign(final), np.sign(final - start))
        grows = np.abs(final) > np.abs(start)
        action = np.where(grows, np.int8(INCREASE), np.int8(REDUCE))
        action[closes | (start == 0.0)] = OPEN
        self.action = action

    def bought(self) -> Floats:
        """Quantity of each asset's buy that is not a close (the buys funding may cut)."""
        return np.where(self.trade_sign > 0.0, self.trade, 0.0)

    def as_list(self, index: int) -> list[tuple[Side, float, Action]]:
        """One asset's legs as (side, quantity, action) tuples, the close first."""
        legs = []
        if self.close[index] > 0.0:
            side = Side.BUY if self.close_sign[index] > 0.0 else Side.SELL
            legs.append((side, float(self.close[index]), Action.CLOSE))
        if self.trade[index] > 0.0:
            side = Side.BUY if self.trade_sign[index] > 0.0 else Side.SELL
            legs.append((side, float(self.trade[index]), ACTIONS[self.action[index]]))
        return legs

    def sides(self, index: int) -> set[int]:
        """The sides (+1, -1) of one asset's legs."""
        sides = set()
        if self.close[index] > 0.0:
            sides.add(int(self.close_sign[index]))
        if self.trade[index] > 0.0:
            sides.add(int(self.trade_sign[index]))
        return sides


def legs_of(start: Floats, final: Floats, increment: Floats) -> Legs:
    """The :class:`Legs` from ``start`` to ``final``."""
    return Legs(start, final, increment)


def threshold_codes(
    value: Floats, target: Floats, equity: float | Floats, config: RebalanceConfig
) -> Codes:
    """Why a trade of each notional is not due (a :data:`SKIP` code), or 0 when it is.

    A trade is due when its weight change is at least ``min_weight_change`` (or, with a
    ``relative_band``, that share of the target) and its value at least
    ``min_trade_value``; a change within float noise of 0 never is.
    """
    change = value / equity
    small = change < config.min_weight_change
    band = config.relative_band
    if band is not None:
        small &= change < band * np.abs(target)
    codes = np.where(value < config.min_trade_value, SKIP[SkipReason.TRADE_VALUE_TOO_SMALL], 0)
    codes = np.where(small | (change <= NOISE), SKIP[SkipReason.WEIGHT_CHANGE_TOO_SMALL], codes)
    return codes.astype(np.int8)

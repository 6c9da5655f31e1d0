"""Shared rules of whole-unit rounding: float noise in unit counts, and DOWN's even cut.

Pure: no I/O, clock or globals. :func:`snap_whole` is the library's one rule for float
noise in a count of whole units (the planner, ``Rounding.CLOSEST``'s repair and
``Rounding.OPTIMAL`` all use it); :func:`cash_slack` its one rule for float noise in a
cash budget (``Rounding.DOWN``'s cut and ``Rounding.CLOSEST``'s repair both fit their
buys within it); :func:`water_level` is ``Rounding.DOWN``'s even cut of buys that
overdraw (every buy cut by the same amount of value).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "CASH_NOISE",
    "FLOAT_NOISE",
    "GAIN_EPS",
    "UNIT_EPS",
    "cash_slack",
    "cash_slack_of",
    "snap_margin",
    "snap_whole",
    "water_level",
]

#: Relative float noise of a quantity divided into whole units or lots.
FLOAT_NOISE = 1e-12
#: Tolerance when dividing a quantity into whole increments.
UNIT_EPS = 1e-9
#: Float noise in a sum of cash, relative to the account's size (see :func:`cash_slack`).
CASH_NOISE = 1e-12
#: Relative improvement below which a change of holdings is float noise, not a gain.
GAIN_EPS = 1e-9


def snap_whole(ratio: float, tolerance: float = FLOAT_NOISE) -> float:
    """``ratio`` with float noise (3 * 0.1 / 0.1) snapped to the whole number.

    The one snapping rule of the library. ``tolerance`` is relative to the ratio: float
    noise by default, a few parts in 1e16 (a wider default once snapped 255,219,920.98
    units up to 255,219,921, over the target). A budget cut with its float margin
    passes the wider ``UNIT_EPS``.
    """
    whole = round(ratio)
    if abs(ratio - whole) <= tolerance * max(1.0, abs(ratio)):
        return float(whole)
    return ratio


def snap_margin(ratio: float) -> float:
    """``ratio`` with a budget's float margin (54.999999995) snapped to the whole number."""
    return snap_whole(ratio, UNIT_EPS)


def cash_slack(
    cash: npt.NDArray[np.float64], equity: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """How far buys may overspend the cash above the floor: float noise, no more.

    The one budget rule of ``Rounding.DOWN`` and ``Rounding.CLOSEST``: buys fit when the
    cash they use, summed exactly, is at most the cash above the floor plus
    :data:`CASH_NOISE` times the account's size (the larger of its cash and equity, at
    least 1). 90 units at $1.10 and a $1 fee fit $100, as they do in decimal, though in
    binary floating point they cost 100.00000000000001. One value per account.
    """
    return CASH_NOISE * np.maximum(np.maximum(np.abs(cash), np.abs(equity)), 1.0)


def cash_slack_of(cash: float, equity: float) -> float:
    """:func:`cash_slack` of one account."""
    return CASH_NOISE * max(abs(cash), abs(equity), 1.0)


def water_level(values: list[float], budget: float, rate: float, fixed: float) -> float:
    """Level L with sum over v > L of ((v - L) * (1 + rate) + fixed) == budget.

    ``values`` are sorted in decreasing order. Returns the largest value (fund nothing)
    when even one buy cannot be afforded.
    """
    if budget <= 0.0 or not values:
        return values[0] if values else 0.0
    running = 0.0
    level = values[0]
    for count, value in enumerate(values, start=1):
        running += value
        level = (running - (budget - count * fixed) / (1.0 + rate)) / count
        following = values[count] if count < len(values) else 0.0
        if level >= following:
            break
    return max(level, 0.0) if level < values[0] else values[0]

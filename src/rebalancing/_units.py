"""Shared rules of whole-unit rounding: float noise in unit counts, and DOWN's even cut.

Pure: no I/O, clock or globals. :func:`snap_whole` is the library's one rule for float
noise in a count of whole units (the planner, ``Rounding.CLOSEST``'s repair and
``Rounding.OPTIMAL`` all use it); :func:`water_level` is ``Rounding.DOWN``'s even cut of
buys that overdraw (every buy cut by the same amount of value).
"""

from __future__ import annotations

__all__ = ["FLOAT_NOISE", "GAIN_EPS", "UNIT_EPS", "snap_margin", "snap_whole", "water_level"]

#: Relative float noise of a quantity divided into whole units or lots.
FLOAT_NOISE = 1e-12
#: Tolerance when dividing a quantity into whole increments.
UNIT_EPS = 1e-9
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

"""The holdings one asset may take in ``Rounding.CLOSEST``'s repair, as a path of moves.

Pure: no I/O, clock or globals. An item (:class:`HoldingItem`) may end at its start, at
whole increments between ``low`` and ``high`` (any amount if fractional), or at 0 by
selling it all. :func:`paths` lists those holdings from the cheapest (in cash) up to the
nearest as points joined by moves; a run of increments that all change error and cash
alike is one move taken ``count`` times, so a path has a handful of moves however many
units it spans. The repair (:mod:`._closest_repair`) and the exact search
(:mod:`._closest_search`) walk these paths.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

from ._units import UNIT_EPS as _UNIT_EPS
from ._units import snap_margin

__all__ = ["HoldingItem", "Move", "cash_use", "convex", "error_at", "paths"]


class HoldingItem(NamedTuple):
    """One asset the joint repair may move: where it is, where it aims, how far it may go.

    Attributes:
        start: The holding before the plan, in units (``>= 0``).
        desired: The exact target holding in units (``> 0``).
        low: The lowest holding it may end at (``<= start``, ``>= 0``); 0 sells it all,
            exactly, even when ``start`` is not a whole number of increments.
        high: The highest holding it may end at (``>= start``): the nearest above
            ``start``, or ``start``.
        down: The holding ``Rounding.DOWN`` gives it (``start`` when DOWN sends nothing).
        increment: Unit or lot size; ``None`` for a fractional (continuous) holding.
        unit_value: Price times multiplier (``> 0``).
        min_value: A trade must be worth at least this (selling it all too).
    """

    start: float
    desired: float
    low: float
    high: float
    down: float
    increment: float | None
    unit_value: float
    min_value: float


#: A move along an item's path: (count, holding per unit, cash per unit, error per unit,
#: divisible). The path runs from the item's cheapest holding up to its nearest.
Move = tuple[int, float, float, float, bool]
#: An item's path: its points, its moves, the cash its first point uses and whether it
#: is :func:`convex`.
_Path = tuple[list[float], list[Move], float, bool]


def cash_use(item: HoldingItem, holding: float, rate: float, fixed: float) -> float:
    """Cash the trade to ``holding`` uses: a buy spends, a sell frees (negative)."""
    trade = (holding - item.start) * item.unit_value
    if trade > 0.0:
        return trade * (1.0 + rate) + fixed
    if trade < 0.0:
        return trade * (1.0 - rate) + fixed
    return 0.0


def error_at(item: HoldingItem, holding: float) -> float:
    return abs(holding - item.desired) * item.unit_value


def paths(
    items: Sequence[HoldingItem], rate: float, fixed: float
) -> tuple[list[list[float]], list[list[Move]], list[float], list[bool]]:
    """The holdings each item may take, cheapest first, as points joined by moves.

    Holdings above the target on the sell side (but the nearest) add error and cost
    cash, so a path stops there; the no-trade holding ``start`` is its own point, and
    so is a close. Between two points of one run every increment is allowed (any
    amount, if fractional) and changes error and cash alike, so the run is one move
    repeated ``count`` times (or taken in part).

    A whole buy or sell with no fixed cost, no threshold block and no close from off the
    grid (most items of a large book) has at most three moves, built directly; the
    others are built by :func:`_whole_path` and :func:`_fractional_path`.

    Returns:
        Per item: its points, its moves, the cash its first point uses and whether its
        path is :func:`convex`.
    """
    all_points: list[list[float]] = []
    all_moves: list[list[Move]] = []
    bases: list[float] = []
    convexes: list[bool] = []
    cost_up = 1.0 + rate
    for item in items:
        start, _, _, _, _, increment, unit_value, min_value = item
        if increment is None or fixed != 0.0:
            path = _item_path(item, rate, fixed)
        else:
            step = increment * unit_value
            # Most items: a whole buy or sell with no threshold block, built directly.
            gap, below, k_low, k_high, closes = _grid(item)
            if closes or min_value > step or (k_low != 0 and k_high != 0):
                path = _item_path(item, rate, fixed)
            elif k_low == 0:
                path = _buy_path(start, increment, step, step * cost_up, gap, below, k_high)
            else:
                path = _sell_path(start, increment, unit_value, rate, gap, below, k_low)
        all_points.append(path[0])
        all_moves.append(path[1])
        bases.append(path[2])
        convexes.append(path[3])
    return all_points, all_moves, bases, convexes


def _item_path(item: HoldingItem, rate: float, fixed: float) -> _Path:
    """One item's path, the cash its first point uses and whether it is convex."""
    start, _, _, _, _, increment, unit_value, min_value = item
    if increment is None:
        points, moves = _fractional_path(item, rate, fixed)
        return points, moves, cash_use(item, points[0], rate, fixed), convex(moves)
    step = increment * unit_value
    block = 1
    if min_value > step:
        block = math.ceil(snap_margin(min_value / step))
    gap, below, k_low, k_high, closes = _grid(item)
    if block > 1 or fixed != 0.0 or closes or (k_low != 0 and k_high != 0):
        steps = (gap, below, k_low, k_high, block, closes)
        points, moves = _whole_path(item, rate, fixed, steps)
        return points, moves, cash_use(item, points[0], rate, fixed), convex(moves)
    if k_low == 0:
        return _buy_path(start, increment, step, step * (1.0 + rate), gap, below, k_high)
    return _sell_path(start, increment, unit_value, rate, gap, below, k_low)


def _grid(item: HoldingItem) -> tuple[float, int, int, int, bool]:
    """Where a whole item's target and bounds lie on its grid of increments from ``start``.

    Returns the target in increments (snapped), the last step at or below it, ``low``
    and ``high`` in whole steps (``low`` 0 when not below ``start``), and whether the
    item may close from off the grid (0 is then its own point).
    """
    start, desired, low, high, _, increment, unit_value, min_value = item
    assert increment is not None  # noqa: S101 - whole items only
    gap, below = _snapped((desired - start) / increment)
    k_low = round((low - start) / increment) if low < start else 0
    k_high = round((high - start) / increment) if high > start else 0
    closes = False
    if low == 0.0 < start:
        # Selling it all is exact: from a holding off the grid, 0 is its own point.
        closes = start * unit_value >= min_value
        k_low = _snapped(-start / increment)[1] + 1  # the lowest above 0
        if start + (k_low - 1) * increment >= 0.0:
            k_low -= 1  # 0 is on the grid
            closes = False
    return gap, below, k_low, k_high, closes


def _snapped(ratio: float) -> tuple[float, int]:
    """``ratio`` snapped as :func:`snap_margin` does, and its floor (one per item: inline)."""
    below = math.floor(ratio)
    tolerance = _UNIT_EPS * (ratio if ratio > 1.0 else (-ratio if ratio < -1.0 else 1.0))
    if ratio - below <= tolerance:
        return float(below), below
    if below + 1 - ratio <= tolerance:
        return float(below + 1), below + 1
    return ratio, below


def _buy_path(  # noqa: PLR0917 - once per item: positional arguments are cheaper
    start: float, increment: float, step: float, cost: float, gap: float, below: int, k_high: int
) -> _Path:
    """The path of a whole buy (or nothing) with no fixed cost and no threshold block.

    Its first step is one more unit of its run: a run up to the target and the
    round-up, at most two moves, convex unless the round-up saves more per dollar.
    (``step`` and ``cost``: the value and the cash of one increment; ``gap``, ``below``
    and ``k_high``: the target, the last step at or below it and the highest step.)
    """
    bulk = below if below < k_high else k_high  # noqa: FURB136 - cheaper than min() here
    if bulk < 1:
        if k_high < 1:
            return [start], [], 0.0, True
        error = (abs(gap - k_high) - abs(gap)) * step
        return [start, start + k_high * increment], [(1, increment, cost, error, False)], 0.0, True
    run: Move = (bulk, increment, cost, -step, False)
    if k_high == bulk:
        return [start, start + bulk * increment], [run], 0.0, True
    error = (abs(gap - k_high) - abs(gap - bulk)) * step
    points = [start, start + bulk * increment, start + k_high * increment]
    # As :func:`convex` finds it: the round-up saves no more per dollar than the run.
    is_convex = error >= 0.0 or -error / cost <= step / cost
    return points, [run, (1, increment, cost, error, False)], 0.0, is_convex


def _sell_path(  # noqa: PLR0917 - once per item: positional arguments are cheaper
    start: float,
    increment: float,
    unit_value: float,
    rate: float,
    gap: float,
    below: int,
    k_low: int,
) -> _Path:
    """The path of a whole sell with no fixed cost and no threshold block.

    A run up to the target from the lowest holding, the part above it, and the jump
    back to not trading: at most three moves. (``gap``, ``below`` and ``k_low``: the
    target in increments, the last step at or below it and the lowest step, below 0.)
    """
    step = increment * unit_value
    cost = step * (1.0 - rate)
    top = min(-1, below + 1)
    at = k_low
    points = [start + at * increment]
    moves: list[Move] = []
    bulk = min(below, top)
    if bulk > at:
        moves.append((bulk - at, increment, cost, -step, False))
        at = bulk
        points.append(start + at * increment)
    if top > at:
        error = (abs(gap - top) - abs(gap - at)) * step if top == at + 1 else step
        moves.append((top - at, increment, cost, error, False))
        at = top
        points.append(start + at * increment)
    moves.append((1, -at * increment, -at * cost, (abs(gap) - abs(gap - at)) * step, False))
    points.append(start)
    # The cash the lowest holding frees (never above ``start``), as :func:`cash_use`
    # finds it with no fixed cost.
    trade = (points[0] - start) * unit_value
    return points, moves, trade * (1.0 - rate) if trade < 0.0 else 0.0, convex(moves)


def _fractional_path(
    item: HoldingItem, rate: float, fixed: float
) -> tuple[list[float], list[Move]]:
    """:func:`paths` of a fractional item."""
    points, joined = _fractional_points(item)
    moves: list[Move] = []
    for index, (a, b) in enumerate(itertools.pairwise(points)):
        dc = cash_use(item, b, rate, fixed) - cash_use(item, a, rate, fixed)
        de = error_at(item, b) - error_at(item, a)
        moves.append((1, b - a, dc, de, joined[index]))
    return points, moves


def _fractional_points(item: HoldingItem) -> tuple[list[float], list[bool]]:
    """Points of a fractional item's path, and whether each is joined to the next."""
    start, desired, low, high = item.start, item.desired, item.low, item.high
    reach = item.min_value / item.unit_value
    runs: list[tuple[float, float]] = []
    sell_top = min(start - reach, max(desired, low))
    if low < start and low <= sell_top and sell_top >= 0.0:
        runs.append((max(low, 0.0), sell_top))
    if high > start and start + reach <= high:
        runs.append((start + reach, high))
    keyed: dict[float, bool] = {start: False}
    for first, last in runs:
        for key in sorted({first, last, min(max(desired, first), last)}):
            keyed[key] = key != last
    points = sorted(keyed)
    return points, [keyed[point] for point in points]


def _whole_path(
    item: HoldingItem, rate: float, fixed: float, steps: tuple[float, int, int, int, int, bool]
) -> tuple[list[float], list[Move]]:
    """:func:`paths` of a whole item, in steps ``k`` from ``start`` (one flat pass).

    ``steps``: the target in increments from ``start``, the last step at or below it,
    the lowest and highest step allowed, the smallest step the threshold allows, and
    whether 0 (selling it all) is a point of its own, off the grid.
    """
    gap, below, k_low, k_high, block, closes = steps
    start = item.start
    increment = item.increment or 0.0
    step = increment * item.unit_value
    keys: list[int] = []
    joined: list[bool] = []
    sell_top = min(-block, below + 1)
    for first, last, present in (
        (k_low, sell_top, k_low <= sell_top),
        (0, 0, True),
        (block, k_high, k_high >= block),
    ):
        if not present:
            continue
        keys.append(first)
        joined.append(first != last)
        for k in (below, below + 1):
            if first < k < last:
                keys.append(k)
                joined.append(True)
        if last != first:
            keys.append(last)
            joined.append(False)
    buy_cost, sell_cost = step * (1.0 + rate), step * (1.0 - rate)

    def cash(k: int) -> float:
        if k > 0:
            return k * buy_cost + fixed
        if k < 0:
            return k * sell_cost + fixed
        return 0.0

    moves: list[Move] = []
    for index in range(len(keys) - 1):
        a, b = keys[index], keys[index + 1]
        if joined[index] and b - a > 1:
            de = -step if b <= gap else step
            moves.append((b - a, increment, buy_cost if a > 0 else sell_cost, de, False))
        else:
            de = (abs(gap - b) - abs(gap - a)) * step
            moves.append((1, (b - a) * increment, cash(b) - cash(a), de, False))
    points = [start + k * increment for k in keys]
    if closes and points[0] > 0.0:
        sold = -start * item.unit_value * (1.0 - rate) + fixed  # the cash of selling it all
        error = abs(gap - keys[0]) * step - item.desired * item.unit_value
        moves.insert(0, (1, points[0], cash(keys[0]) - sold, error, False))
        points.insert(0, 0.0)
    return points, moves


def convex(moves: list[Move]) -> bool:
    """Whether the moves that lower the error come first, by falling error per dollar."""
    ratio = math.inf
    for _, _, dc, de, _ in moves:
        if de >= 0.0:
            ratio = -1.0  # no later move may lower the error
            continue
        if dc <= 0.0 or -de / dc > ratio:
            return False
        ratio = -de / dc
    return True

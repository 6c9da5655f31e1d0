"""The holdings one asset may take in ``Rounding.CLOSEST``'s repair, as a path of moves.

Pure: no I/O, clock or globals. An item (:class:`HoldingItem`) may end at its start, at
whole increments between ``low`` and ``high`` (any amount if fractional), or at 0 by
selling it all. :func:`path` lists those holdings from the cheapest (in cash) up to the
nearest as points joined by moves; a run of increments that all change error and cash
alike is one move taken ``count`` times, so a path has a handful of moves however many
units it spans. The repair (:mod:`._closest_repair`) and the exact search
(:mod:`._closest_search`) walk these paths.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

from ._allocation import snap_margin

__all__ = ["HoldingItem", "Move", "cash_use", "convex", "error_at", "path"]


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


def path(item: HoldingItem, rate: float, fixed: float) -> tuple[list[float], list[Move]]:
    """The holdings an item may take, cheapest first, as points joined by moves.

    Holdings above the target on the sell side (but the nearest) add error and cost
    cash, so the path stops there; the no-trade holding ``start`` is its own point, and
    so is a close. Between two points of one run every increment is allowed (any
    amount, if fractional) and changes error and cash alike, so the run is one move
    repeated ``count`` times (or taken in part).
    """
    if item.increment is not None:
        return whole_path(item, item.increment, rate, fixed)
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
    if low < start and low <= sell_top and sell_top > 0.0:
        runs.append((max(low, 0.0), sell_top))
    if high > start and start + reach <= high:
        runs.append((start + reach, high))
    keyed: dict[float, bool] = {start: False}
    for first, last in runs:
        for key in sorted({first, last, min(max(desired, first), last)}):
            keyed[key] = key != last
    points = sorted(keyed)
    return points, [keyed[point] for point in points]


def whole_path(
    item: HoldingItem, increment: float, rate: float, fixed: float
) -> tuple[list[float], list[Move]]:
    """:func:`path` of a whole item, in steps ``k`` from ``start`` (one flat pass)."""
    start = item.start
    step = increment * item.unit_value
    block = 1
    if item.min_value > step:
        block = math.ceil(snap_margin(item.min_value / step))
    gap = snap_margin((item.desired - start) / increment)
    below = math.floor(gap)  # the last step at or below the target
    # ``low`` and ``high`` are whole steps from ``start``, or ``low`` is 0.
    k_low = round((item.low - start) / increment) if item.low < start else 0
    k_high = round((item.high - start) / increment) if item.high > start else 0
    # Selling it all is exact: from a holding off the grid, 0 is its own point.
    closes = item.low == 0.0 < start and start * item.unit_value >= item.min_value
    if item.low == 0.0 < start:
        k_low = math.floor(snap_margin(-start / increment)) + 1  # the lowest holding above 0
        if start + (k_low - 1) * increment >= 0.0:
            k_low -= 1  # 0 is on the grid
            closes = False
    if block == 1 and fixed == 0.0 and not closes and (k_low == 0 or k_high == 0):
        return _simple_path(item, increment, rate, (gap, below, k_low, k_high))
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


def _simple_path(
    item: HoldingItem, increment: float, rate: float, steps: tuple[float, int, int, int]
) -> tuple[list[float], list[Move]]:
    """:func:`whole_path` of a buy or a sell with no fixed cost and no threshold block.

    Then the first step of a buy is one more unit of its run, and a run of sells
    ends in the jump back to not trading: at most three moves, built directly.
    """
    gap, below, k_low, k_high = steps
    start = item.start
    step = increment * item.unit_value
    if k_low == 0:  # a buy (or nothing)
        cost = step * (1.0 + rate)
        bulk = min(below, k_high)
        if bulk < 1:
            if k_high < 1:
                return [start], []
            error = (abs(gap - k_high) - abs(gap)) * step
            return [start, start + k_high * increment], [(1, increment, cost, error, False)]
        run: Move = (bulk, increment, cost, -step, False)
        if k_high == bulk:
            return [start, start + bulk * increment], [run]
        error = (abs(gap - k_high) - abs(gap - bulk)) * step
        return (
            [start, start + bulk * increment, start + k_high * increment],
            [run, (1, increment, cost, error, False)],
        )
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

"""Whole-unit holdings closest to target within a cash budget (``Rounding.CLOSEST``).

Pure: no I/O, clock or globals. The planner calls :func:`closest_holdings` when the
holdings nearest the targets do not fit the cash it may spend; :func:`water_level` is
``Rounding.DOWN``'s even cut of buys that overdraw, and :func:`snap_whole` the library's
one rule for float noise in a count of whole units.

The problem, per item ``i`` (final holding ``h_i``: ``start_i`` plus whole increments
between ``low_i`` and ``high_i``, or 0, any amount if fractional)::

    minimise   sum_i |h_i - desired_i| * unit_value_i
    subject to sum_i cash_i(h_i) <= budget
               |h_i - start_i| * unit_value_i >= min_value_i  or  h_i == start_i

where a buy spends ``value * (1 + cost_rate) + cost_per_order`` and a sell frees
``value * (1 - cost_rate) - cost_per_order``. The objective is separable, so the nearest
holdings are exactly optimal whenever they fit. When they do not, a repair:

1. each item's allowed holdings form a path from its cheapest holding up to its nearest,
   in runs of equal moves (every increment below the target saves its value in error);
2. a greedy takes moves in order of error saved per dollar while the cash lasts;
3. exchanges give up the moves elsewhere that add the least error per dollar freed, to
   afford a move that saves more, then the greedy runs again, until nothing improves;
4. with at most :data:`_JOINT_EXACT_ITEMS` items, all whole, a branch and bound over the
   holdings, starting from the repair's answer (so it can only improve on it) and
   pruning with the convex relaxation, proves the optimum unless it runs out of its
   :data:`_JOINT_EXACT_NODES` budget, then the best found stands;
5. the cash is summed exactly and single units are given back while float drift
   overdraws; if ``Rounding.DOWN``'s holdings are as close, they are the answer.

Ties are broken by the item's position, so the same items give the same answer.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

__all__ = [
    "FLOAT_NOISE",
    "HoldingItem",
    "closest_holdings",
    "snap_whole",
    "water_level",
]

#: Relative float noise of a quantity divided into whole units or lots.
FLOAT_NOISE = 1e-12
#: Tolerance when dividing a quantity into whole increments.
_UNIT_EPS = 1e-9
#: Relative improvement below which an exchange is float noise, not a gain.
_GAIN_EPS = 1e-9
#: Cash left, relative to the budget, above which float drift cannot overdraw.
_DRIFT = 1e-7


def snap_whole(ratio: float, tolerance: float = FLOAT_NOISE) -> float:
    """``ratio`` with float noise (3 * 0.1 / 0.1) snapped to the whole number.

    The one snapping rule of the library. ``tolerance`` is relative to the ratio: float
    noise by default, a few parts in 1e16 (a wider default once snapped 255,219,920.98
    units up to 255,219,921, over the target). A budget cut with its float margin
    passes the wider ``_UNIT_EPS``.
    """
    whole = round(ratio)
    if abs(ratio - whole) <= tolerance * max(1.0, abs(ratio)):
        return float(whole)
    return ratio


def _snap(ratio: float) -> float:
    """``ratio`` with a budget's float margin (54.999999995) snapped to the whole number."""
    return snap_whole(ratio, _UNIT_EPS)


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


# -- sells and buys together (``Rounding.CLOSEST`` when the cash binds) ---------------------


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


#: Most items the exact search takes on (all whole); larger problems keep the repair.
_JOINT_EXACT_ITEMS = 40
#: Holdings the exact search may try before it settles for the best found so far.
_JOINT_EXACT_NODES = 4_000
#: Exchanges tried after the greedy; each strictly lowers the error.
_JOINT_EXCHANGES = 24
#: How many of the most valuable moves that do not fit an exchange tries to afford:
#: on small books, and past :data:`_JOINT_EXACT_ITEMS` items (where every walk costs
#: a pass over them, and cheap units leave little cash idle).
_JOINT_WANTED = 16
_JOINT_WANTED_LARGE = 4

#: A move along an item's path: (count, holding per unit, cash per unit, error per unit,
#: divisible). The path runs from the item's cheapest holding up to its nearest.
_Move = tuple[int, float, float, float, bool]
#: A move an item can give up: (error added per dollar freed, item, move, units, cash
#: freed per unit, error added per unit).
_Release = tuple[float, int, int, float, float, float]


def _cash_use(item: HoldingItem, holding: float, rate: float, fixed: float) -> float:
    """Cash the trade to ``holding`` uses: a buy spends, a sell frees (negative)."""
    trade = (holding - item.start) * item.unit_value
    if trade > 0.0:
        return trade * (1.0 + rate) + fixed
    if trade < 0.0:
        return trade * (1.0 - rate) + fixed
    return 0.0


def _error_at(item: HoldingItem, holding: float) -> float:
    return abs(holding - item.desired) * item.unit_value


def _path(item: HoldingItem, rate: float, fixed: float) -> tuple[list[float], list[_Move]]:
    """The holdings an item may take, cheapest first, as points joined by moves.

    Holdings above the target on the sell side (but the nearest) add error and cost
    cash, so the path stops there; the no-trade holding ``start`` is its own point, and
    so is a close. Between two points of one run every increment is allowed (any
    amount, if fractional) and changes error and cash alike, so the run is one move
    repeated ``count`` times (or taken in part).
    """
    if item.increment is not None:
        return _whole_path(item, item.increment, rate, fixed)
    points, joined = _fractional_points(item)
    moves: list[_Move] = []
    for index, (a, b) in enumerate(itertools.pairwise(points)):
        dc = _cash_use(item, b, rate, fixed) - _cash_use(item, a, rate, fixed)
        de = _error_at(item, b) - _error_at(item, a)
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


def _whole_path(
    item: HoldingItem, increment: float, rate: float, fixed: float
) -> tuple[list[float], list[_Move]]:
    """:func:`_path` of a whole item, in steps ``k`` from ``start`` (one flat pass)."""
    start = item.start
    step = increment * item.unit_value
    block = 1
    if item.min_value > step:
        block = math.ceil(_snap(item.min_value / step))
    gap = _snap((item.desired - start) / increment)
    below = math.floor(gap)  # the last step at or below the target
    # ``low`` and ``high`` are whole steps from ``start``, or ``low`` is 0.
    k_low = round((item.low - start) / increment) if item.low < start else 0
    k_high = round((item.high - start) / increment) if item.high > start else 0
    # Selling it all is exact: from a holding off the grid, 0 is its own point.
    closes = item.low == 0.0 < start and start * item.unit_value >= item.min_value
    if item.low == 0.0 < start:
        k_low = math.floor(_snap(-start / increment)) + 1  # the lowest holding above 0
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

    moves: list[_Move] = []
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
) -> tuple[list[float], list[_Move]]:
    """:func:`_whole_path` of a buy or a sell with no fixed cost and no threshold block.

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
        run: _Move = (bulk, increment, cost, -step, False)
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
    moves: list[_Move] = []
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


def _convex(moves: list[_Move]) -> bool:
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


class _Joint:
    """Working state of the joint repair: where each item stands on its path.

    Item ``i`` holds ``points[i][at[i]] + part[i] * step`` of its move ``at[i]``: every
    earlier move is taken in full, ``part[i]`` units (a fraction if divisible) of this one.
    """

    __slots__ = (
        "at",
        "blocked",
        "budget",
        "convex",
        "fixed",
        "items",
        "left",
        "moves",
        "part",
        "points",
        "rate",
        "scale",
        "settled",
    )

    def __init__(
        self, items: Sequence[HoldingItem], budget: float, rate: float, fixed: float
    ) -> None:
        self.items = items
        self.rate, self.fixed, self.budget = rate, fixed, budget
        self.points: list[list[float]] = []
        self.moves: list[list[_Move]] = []
        base = []
        #: Whether an item's moves that lower the error come first, each saving no more
        #: per dollar than the one before: then its next moves are simply its next one.
        self.convex: list[bool] = []
        for item in items:
            increment = item.increment
            if increment is None:
                points, moves = _path(item, rate, fixed)
            else:
                points, moves = _whole_path(item, increment, rate, fixed)
            self.points.append(points)
            self.moves.append(moves)
            base.append(_cash_use(item, points[0], rate, fixed))
            self.convex.append(_convex(moves))
        self.at = [0] * len(items)
        self.part: list[float] = [0.0] * len(items)
        self.left = budget - math.fsum(base)
        #: The size of the sums behind ``left``: its float drift is far below 1e-7 of it.
        self.scale = abs(budget) + math.fsum(map(abs, base))
        #: Items whose next moves did not fit in the last greedy (the only ones left with
        #: moves that lower the error).
        self.blocked: list[int] = []
        #: Whether every item is where the greedy may start from (nothing to settle).
        self.settled = True

    def holding(self, index: int) -> float:
        at, part = self.at[index], self.part[index]
        points = self.points[index]
        if part == 0.0:
            return points[at]
        return points[at] + part * self.moves[index][at][1]

    def holdings(self) -> list[float]:
        return [self.holding(index) for index in range(len(self.items))]

    # -- greedy ---------------------------------------------------------------------------

    def prefix(self, index: int) -> tuple[float, int, float, float] | None:
        """The next moves of an item that lower the error most per dollar, taken together.

        Returns:
            (error saved per dollar, last move, cash, error change), or None if no
            further move lowers the error.
        """
        moves = self.moves[index]
        at = self.at[index]
        if self.convex[index]:
            if at >= len(moves):
                return None
            count, _, dc, de, _ = moves[at]
            if de >= 0.0:
                return None
            units = count - self.part[index]
            return (-de / dc, at, units * dc, units * de)
        cash = error = 0.0
        best: tuple[float, int, float, float] | None = None
        part = self.part[index]
        for position in range(at, len(moves)):
            count, _, dc, de, _ = moves[position]
            units = count - part if position == at else count
            cash += units * dc
            error += units * de
            if error < 0.0:
                ratio = -error / cash if cash > 0.0 else math.inf
                if best is None or ratio > best[0]:
                    best = (ratio, position, cash, error)
        return best

    def settle(self) -> None:
        """Undo every move that added error without saving cash (the search may leave one)."""
        for index in range(len(self.items)):
            while True:
                found = self.release(index, self.at[index], self.part[index])
                if found is None:
                    break
                move, units, dc, de = found
                if de <= 0.0 or dc < 0.0:
                    break
                self.at[index], self.part[index] = move, 0.0
                self.left += units * dc

    def greedy(self) -> None:
        """Take moves in order of error saved per dollar while the cash lasts."""
        if not self.settled:
            self.settle()
        self.settled = False
        self.blocked = []
        heap: list[tuple[float, int, int, float]] = []
        for index in range(len(self.items)):
            found = self.prefix(index)
            if found is not None:
                heap.append((-found[0], index, found[1], found[2]))
        heapq.heapify(heap)
        while heap:
            _, index, last, cash = heapq.heappop(heap)
            if cash <= self.left:
                self.left -= cash
                self.at[index] = last + 1
                self.part[index] = 0.0
                found = self.prefix(index)
                if found is not None:
                    heapq.heappush(heap, (-found[0], index, found[1], found[2]))
            else:
                self.partial(index, last)
                self.blocked.append(index)

    def partial(self, index: int, last: int) -> None:
        """Take what fits of an item's next moves, if that lowers the error."""
        moves = self.moves[index]
        at, part, left = self.at[index], self.part[index], self.left
        saved = (at, part, left)
        error = 0.0
        for position in range(at, last + 1):
            count, _, dc, de, divisible = moves[position]
            units = count - part
            if dc > 0.0 and units * dc > left:
                if divisible:
                    take = left / dc
                else:
                    take = float(math.floor(_snap(left / dc)))
                    if take * dc > left:  # snapped up past the cash: one fewer
                        take = max(take - 1.0, 0.0)
                    if take * dc > left:  # units beyond float precision: none
                        take = 0.0
                left -= take * dc
                error += take * de
                at, part = position, part + take
                break
            left -= units * dc
            error += units * de
            at, part = position + 1, 0.0
        if error < 0.0 and (at, part) != saved[:2]:
            if at < len(moves) and part >= moves[at][0]:
                at, part = at + 1, 0.0
            self.at[index], self.part[index], self.left = at, part, left

    # -- exchanges ------------------------------------------------------------------------

    def release(self, index: int, at: int, part: float) -> tuple[int, float, float, float] | None:
        """The move an item gives up next from (at, part): (move, units, cash, error)."""
        moves = self.moves[index]
        if part > 0.0:
            _, _, dc, de, _ = moves[at]
            return at, part, dc, de
        if at == 0:
            return None
        count, _, dc, de, _ = moves[at - 1]
        return at - 1, float(count), dc, de

    def exchange(self) -> bool:
        """Give up moves elsewhere to afford one that lowers the error more.

        Returns:
            Whether an exchange was made.
        """
        wanted = []
        for index in self.blocked:
            found = self.prefix(index)
            if found is not None and found[2] > self.left:
                wanted.append((-found[3], index, found[1], found[2]))
        if not wanted:
            return False
        large = len(self.items) > _JOINT_EXACT_ITEMS
        wanted = heapq.nlargest(_JOINT_WANTED_LARGE if large else _JOINT_WANTED, wanted)
        # Releases in order of error added per dollar freed, each item's last move first.
        chunks = []
        for index in range(len(self.items)):
            chunk = self._release_chunk(index, self.at[index], self.part[index])
            if chunk is not None:
                chunks.append(chunk)
        heapq.heapify(chunks)
        best: tuple[float, int, int, float, dict[int, tuple[int, float]]] | None = None
        for gain, target, last, cost in wanted:
            if best is not None and gain <= best[0]:
                break
            walked = self._walk(list(chunks), cost - self.left, target, gain)
            if walked is None:
                continue
            loss, levels, freed = walked
            net = gain - loss
            if net > _GAIN_EPS * max(gain, 1.0) and (best is None or net > best[0]):
                best = (net, target, last, cost - freed, levels)
        if best is None:
            return False
        _, target, last, _, levels = best
        before = (list(self.at), list(self.part), self.left, self.error())
        for index, (at, part) in levels.items():
            self.at[index], self.part[index] = at, part
        self.at[target], self.part[target] = last + 1, 0.0
        self.left = self.budget - self.spent()
        self.trim()
        if self.left < 0.0 or self.error() >= before[3]:
            # Float noise left it over budget, and what it gave back lost the gain.
            self.at, self.part, self.left = before[0], before[1], before[2]
            return False
        return True

    def trim(self) -> None:
        """Give back single units while the exact sum overdraws.

        Each time the unit that covers the overdraft for the least error (or, if none
        does, the dearest). The running cash drifts by float noise; an exchange or the
        greedy can end a few 1e-11 over the budget, which one cheap unit covers.
        """
        while self.left < 0.0:
            best: tuple[bool, float, int, int, float] | None = None
            for index in range(len(self.items)):
                found = self.release(index, self.at[index], self.part[index])
                if found is None or found[2] <= 0.0:
                    continue
                move, units, dc, de = found
                # Covering units first, by the error they add; else the most cash.
                key = (dc < -self.left, -de if dc >= -self.left else -dc)
                if best is None or key < best[:2]:
                    best = (*key, index, move, units)
            if best is None:
                return
            _, _, index, move, units = best
            self.at[index], self.part[index] = move, max(units - 1.0, 0.0)
            self.left = self.budget - self.spent()

    def _release_chunk(self, index: int, at: int, part: float) -> _Release | None:
        """The next move an item can give up, keyed by error added per dollar freed."""
        found = self.release(index, at, part)
        if found is None:
            return None
        move, units, dc, de = found
        if dc <= 0.0:
            return None  # undoing it frees no cash
        return (-de / dc, index, move, units, dc, -de)

    def _walk(
        self,
        chunks: list[_Release],
        need: float,
        skip: int,
        gain: float,
    ) -> tuple[float, dict[int, tuple[int, float]], float] | None:
        """Free ``need`` for the least error: (error added, new states, cash freed).

        Moves are undone in order of error added per dollar freed; the last one is the
        one that completes the need for the least error (a big cheap move can free far
        more than is missing, a dearer small one just enough). None when no way of
        freeing ``need`` adds less error than ``gain``.
        """
        freed = loss = 0.0
        levels: dict[int, tuple[int, float]] = {}
        moves = self.moves
        best: tuple[float, dict[int, tuple[int, float]], float] | None = None
        while chunks:
            key, index, move, units, dc, added = heapq.heappop(chunks)
            if index == skip:
                continue
            lack = need - freed
            if best is not None and loss + lack * key >= best[0]:
                break  # every later chunk adds at least this much per dollar
            divisible = moves[index][move][4]
            if units * dc >= lack:
                take = lack / dc if divisible else float(math.ceil(_snap(lack / dc)))
                take = min(take, units)
                total = loss + take * added
                if total < gain and (best is None or total < best[0]):
                    completed = dict(levels)
                    completed[index] = (move, units - take)
                    best = (total, completed, freed + take * dc)
                continue
            freed += units * dc
            loss += units * added
            levels[index] = (move, 0.0)
            if loss >= gain:
                break
            chunk = self._release_chunk(index, move, 0.0)
            if chunk is not None:
                heapq.heappush(chunks, chunk)
        return best

    def spent(self) -> float:
        """Cash the current holdings use, summed exactly."""
        rate, fixed = self.rate, self.fixed
        return math.fsum(
            _cash_use(item, self.holding(index), rate, fixed)
            for index, item in enumerate(self.items)
        )

    def error(self) -> float:
        return math.fsum(
            _error_at(item, self.holding(index)) for index, item in enumerate(self.items)
        )

    # -- exact search ---------------------------------------------------------------------

    def exact(self) -> None:
        """Replace the holdings by a proven optimum when the search finishes in time.

        See :class:`_JointSearch`. The repair's answer is the first best, so the result
        is never worse than it.
        """
        items = self.items
        order = sorted(
            range(len(items)),
            key=lambda i: (-(items[i].increment or 0.0) * items[i].unit_value, i),
        )
        search = _JointSearch(
            [self.items[i] for i in order],
            [self.points[i] for i in order],
            [self.moves[i] for i in order],
            self.rate,
            self.fixed,
        )
        found = search.run(self.budget, self.error(), [self.holding(i) for i in order])
        if found is None:
            return
        for k, index in enumerate(order):
            holding = found[k]
            points = self.points[index]
            # Place the item on its path: at a point, or inside the run below it.
            at = max(j for j, point in enumerate(points) if point <= holding)
            self.at[index] = at
            self.part[index] = 0.0
            if points[at] != holding:
                self.part[index] = float(round((holding - points[at]) / self.moves[index][at][1]))
        self.left = self.budget - self.spent()


class _JointSearch:
    """Branch and bound over the holdings of a few whole items.

    Depth-first over the items (dearest move first), each from the top of its path
    down; a branch is cut when its error so far plus the relaxation of the items left
    (their lower convex hulls of error against cash, filled by slope) cannot beat the
    best found. Inside a run below the target, once the bound fails it fails for every
    holding further down (each unit frees less cash than the error it adds can be won
    back), so the rest of the run is skipped.
    """

    __slots__ = (
        "base_cash",
        "base_error",
        "best",
        "chosen",
        "cum_cost",
        "cum_gain",
        "fixed",
        "found",
        "items",
        "moves",
        "nodes",
        "points",
        "rate",
        "steepest",
    )

    def __init__(
        self,
        items: list[HoldingItem],
        points: list[list[float]],
        moves: list[list[_Move]],
        rate: float,
        fixed: float,
    ) -> None:
        self.items, self.points, self.moves = items, points, moves
        self.rate, self.fixed = rate, fixed
        count = len(items)
        self.base_cash = [0.0] * (count + 1)
        self.base_error = [0.0] * (count + 1)
        self.cum_cost: list[list[float]] = [[] for _ in range(count + 1)]
        self.cum_gain: list[list[float]] = [[] for _ in range(count + 1)]
        self.steepest = [0.0] * (count + 1)
        segments: list[tuple[float, float, float]] = []
        for k in range(count - 1, -1, -1):
            item = items[k]
            hull = _hull([(_cash_use(item, h, rate, fixed), _error_at(item, h)) for h in points[k]])
            self.base_cash[k] = self.base_cash[k + 1] + hull[0][0]
            self.base_error[k] = self.base_error[k + 1] + hull[0][1]
            for (c0, e0), (c1, e1) in itertools.pairwise(hull):
                segments.append(((e0 - e1) / (c1 - c0), c1 - c0, e0 - e1))
            segments.sort(reverse=True)
            self.steepest[k] = segments[0][0] if segments else 0.0
            cost = gain = 0.0
            costs, gains = [], []
            for _, c, g in segments:
                cost += c
                gain += g
                costs.append(cost)
                gains.append(gain)
            self.cum_cost[k], self.cum_gain[k] = costs, gains
        self.best = math.inf
        self.found: list[float] | None = None
        self.chosen = [0.0] * count
        self.nodes = 0

    def bound(self, k: int, cash: float) -> float:
        """Least error items ``k..`` can reach with ``cash``, in the relaxation."""
        spare = cash - self.base_cash[k]
        if spare < 0.0:
            return math.inf
        costs = self.cum_cost[k]
        position = bisect.bisect_left(costs, spare)
        if position >= len(costs):
            return self.base_error[k] - (self.cum_gain[k][-1] if costs else 0.0)
        gains = self.cum_gain[k]
        before_cost = costs[position - 1] if position else 0.0
        before_gain = gains[position - 1] if position else 0.0
        share = (spare - before_cost) / (costs[position] - before_cost)
        return self.base_error[k] - before_gain - share * (gains[position] - before_gain)

    def run(self, budget: float, error: float, held: list[float]) -> list[float] | None:
        """Holdings better than ``held`` (with ``error``) within ``budget``; None if none."""
        self.best = error * (1.0 - _GAIN_EPS) - _GAIN_EPS
        self.search(0, budget, 0.0)
        if self.found is None or self.found == held:
            return None
        rate, fixed = self.rate, self.fixed
        spent = math.fsum(
            _cash_use(item, h, rate, fixed) for item, h in zip(self.items, self.found, strict=True)
        )
        if spent > budget:
            return None  # float noise in the running cash: keep the repair's answer
        return self.found

    def search(self, k: int, cash: float, error: float) -> None:
        """Try every holding of item ``k`` that may lead below the best error."""
        chosen = self.chosen
        item, points, moves = self.items[k], self.points[k], self.moves[k]
        # The last item's best holding is found directly; the leaf is there.
        rate, fixed, bound = self.rate, self.fixed, self.bound
        if k == len(chosen) - 1:
            self._last(k, cash, error)
            return
        steepest, reserve = self.steepest[k + 1], self.base_cash[k + 1]
        for at in range(len(points) - 1, -1, -1):
            candidates: Iterator[float] = iter((points[at],))
            if at < len(moves) and moves[at][0] > 1:
                candidates = self._run(k, at, cash, error, steepest)
            for holding in candidates:
                self.nodes += 1
                if self.nodes > _JOINT_EXACT_NODES:
                    return
                use = _cash_use(item, holding, rate, fixed)
                if cash - use < reserve:
                    continue  # even the items left freeing all they can would not pay
                after = error + _error_at(item, holding)
                if after + bound(k + 1, cash - use) < self.best:
                    chosen[k] = holding
                    self.search(k + 1, cash - use, after)

    def _last(self, k: int, cash: float, error: float) -> None:
        """The last item: its best holding within ``cash``, found directly.

        Inside a run the error moves one way, so its best holding is an end of the run
        or the highest one the cash reaches.
        """
        item, rate, fixed = self.items[k], self.rate, self.fixed
        points, moves = self.points[k], self.moves[k]
        best: tuple[float, float] | None = None
        for at, point in enumerate(points):
            self.nodes += 1
            candidates = [point]
            if at < len(moves) and moves[at][0] > 1 and moves[at][2] > 0.0:
                count, step, dc, _, _ = moves[at]
                base = _cash_use(item, point, rate, fixed)
                units = min(count - 1, math.floor((cash - base) / dc))
                if units > 0:
                    candidates.append(point + units * step)
            for holding in candidates:
                if _cash_use(item, holding, rate, fixed) <= cash:
                    after = _error_at(item, holding)
                    if best is None or after < best[0]:
                        best = (after, holding)
        if best is not None and error + best[0] < self.best:
            self.chosen[k] = best[1]
            self.best = (error + best[0]) * (1.0 - _GAIN_EPS) - _GAIN_EPS
            self.found = list(self.chosen)

    def _run(self, k: int, at: int, cash: float, error: float, steepest: float) -> Iterator[float]:
        """Holdings of the run from point ``at`` up (top first, the point itself last)."""
        item, rate, fixed = self.items[k], self.rate, self.fixed
        count, step, dc, de, _ = self.moves[k][at]
        first = self.points[k][at]
        top = count - 1
        base = _cash_use(item, first, rate, fixed)
        room = cash - self.base_cash[k + 1]  # what the items left may free counts too
        if dc > 0.0 and base + top * dc > room:
            top = min(top, math.floor((room - base) / dc))
        # Below the target every unit given up frees less than it costs in error.
        skips = de < 0.0 and steepest * dc <= -de
        for units in range(top, 0, -1):
            holding = first + units * step
            if skips:
                use = base + units * dc
                after = error + _error_at(item, holding)
                if after + self.bound(k + 1, cash - use) >= self.best:
                    break
            yield holding
        yield first


def _hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Lower convex hull of (cash, error) from the cheapest point to the least error."""
    ordered = sorted(points)
    hull: list[tuple[float, float]] = []
    for point in ordered:
        while len(hull) >= 2:
            (c0, e0), (c1, e1) = hull[-2], hull[-1]
            if (e1 - e0) * (point[0] - c0) >= (point[1] - e0) * (c1 - c0):
                hull.pop()
            else:
                break
        hull.append(point)
    least = min(range(len(hull)), key=lambda i: (hull[i][1], i))
    return hull[: least + 1]


def _down_holdings(
    items: Sequence[HoldingItem], budget: float, rate: float, fixed: float
) -> list[float]:
    """What ``Rounding.DOWN`` funds: sells to ``down``, buys truncated and water-filled."""
    holdings = [min(item.start, item.down) for item in items]
    spent = math.fsum(
        _cash_use(item, h, rate, fixed) for item, h in zip(items, holdings, strict=True)
    )
    wants = sorted(
        (
            ((item.down - item.start) * item.unit_value, index)
            for index, item in enumerate(items)
            if item.down > item.start
        ),
        key=lambda want: (-want[0], want[1]),
    )
    left = budget - spent
    while wants:
        level = water_level([value for value, _ in wants], left, rate, fixed)
        bought = []
        for value, index in wants:
            item = items[index]
            amount = value - level
            quantity = amount / item.unit_value if amount > 0.0 else 0.0
            if item.increment is not None:
                quantity = math.floor(_snap(quantity / item.increment)) * item.increment
            if quantity > 0.0 and quantity * item.unit_value >= item.min_value:
                bought.append((value, index, quantity))
        if len(bought) == len(wants):
            for _, index, quantity in bought:
                holdings[index] = items[index].start + quantity
            break
        wants = [(value, index) for value, index, _ in bought]
    return holdings


def closest_holdings(
    items: Sequence[HoldingItem],
    budget: float,
    *,
    cost_rate: float,
    cost_per_order: float,
) -> list[float]:
    """Final holdings closest to target that fit ``budget``: sells and buys together.

    Minimises ``sum_i |h_i - desired_i| * unit_value_i`` over holdings ``h_i`` between
    ``low_i`` and ``high_i`` (``start_i`` plus whole increments, or 0), each trade worth
    at least ``min_value_i``, subject to the cash the trades use (buys ``value * (1 +
    cost_rate) + cost_per_order``, sells free ``value * (1 - cost_rate) -
    cost_per_order``) staying within ``budget``. Exact when the
    holdings nearest the targets fit, and for up to :data:`_JOINT_EXACT_ITEMS` whole
    items when the search ends within its node budget; otherwise a greedy by error
    saved per dollar, then exchanges. Never further from target than what
    ``Rounding.DOWN`` funds with the same budget.

    Args:
        items: The assets, in a fixed order (ties are broken by position).
        budget: Cash the trades may use in all, costs included (the sells add to it).
        cost_rate: Estimated cost per unit of traded value.
        cost_per_order: Estimated fixed cost per order.

    Returns:
        One final holding per item. When even selling every item as far as it may go
        does not fit, the sells closest to target and no buys.

    >>> items = [
    ...     HoldingItem(100.0, 50.6, 50.0, 100.0, 50.0, 1.0, 10.0, 0.0),
    ...     HoldingItem(100.0, 50.8, 50.0, 100.0, 50.0, 1.0, 10.0, 0.0),
    ...     HoldingItem(0.0, 98.6, 0.0, 99.0, 98.0, 1.0, 10.0, 0.0),
    ... ]
    >>> closest_holdings(items, 0.0, cost_rate=0.0, cost_per_order=0.0)
    [51.0, 51.0, 98.0]
    """
    rate, fixed = cost_rate, cost_per_order
    joint = _Joint(items, budget, rate, fixed)
    if joint.left < 0.0:
        return _at_least_down(items, budget, _no_buys(joint), rate=rate, fixed=fixed)
    nearest = _nearest(joint)
    if math.fsum(_cash_use(i, h, rate, fixed) for i, h in zip(items, nearest, strict=True)) <= (
        budget
    ):
        return nearest
    joint.greedy()
    for _ in range(_JOINT_EXCHANGES):
        if not joint.exchange():
            break
        joint.greedy()
    small = len(items) <= _JOINT_EXACT_ITEMS
    if small and all(item.increment is not None for item in items):
        joint.exact()
        joint.greedy()
    if joint.left <= _DRIFT * joint.scale:
        joint.left = budget - joint.spent()  # the running cash may drift: sum it exactly
        joint.trim()
    result = joint.holdings() if joint.left >= 0.0 else _no_buys(joint)
    return _at_least_down(items, budget, result, rate=rate, fixed=fixed)


def _at_least_down(
    items: Sequence[HoldingItem],
    budget: float,
    result: list[float],
    *,
    rate: float,
    fixed: float,
) -> list[float]:
    """``result``, or DOWN's holdings if they are at least as close to target.

    On a tie DOWN's answer wins: its buys are cut evenly (water-filled), also closest in
    squared error. Like DOWN, its sells are sent whatever cash they bring, but its buys
    must fit the budget by an exact sum.
    """
    if all(
        abs(h - item.desired) <= abs(item.down - item.desired)
        for item, h in zip(items, result, strict=True)
    ):
        return result  # every item as close as DOWN's before its buys are cut: no closer
    down = _down_holdings(items, budget, rate, fixed)
    buys = any(h > item.start for item, h in zip(items, down, strict=True))
    if (
        buys
        and math.fsum(_cash_use(item, h, rate, fixed) for item, h in zip(items, down, strict=True))
        > budget
    ):
        return result
    error = math.fsum(_error_at(i, h) for i, h in zip(items, result, strict=True))
    down_error = math.fsum(_error_at(i, h) for i, h in zip(items, down, strict=True))
    if down_error <= error * (1.0 + _GAIN_EPS):
        return down
    return result


def _closeness(item: HoldingItem, holding: float) -> tuple[float, float]:
    """Sort key: closest to target first, the smaller holding (spending less) on a tie."""
    return (_error_at(item, holding), holding)


def _nearest(joint: _Joint) -> list[float]:
    """Each item at the point of its path closest to target (the cheaper on a tie)."""
    holdings = []
    for item, points in zip(joint.items, joint.points, strict=True):
        # The points rise, so the distance to target falls, then rises: look either side.
        desired = item.desired
        above = bisect.bisect_left(points, desired)
        if above == len(points):
            holdings.append(points[-1])
        elif above and desired - points[above - 1] <= points[above] - desired:
            holdings.append(points[above - 1])
        else:
            holdings.append(points[above])
    return holdings


def _no_buys(joint: _Joint) -> list[float]:
    """Every sell at its point closest to target, no buys: for a budget nothing fits.

    Sells are sent as DOWN sends them, even when a fixed cost takes more than they bring.
    """
    holdings = []
    for item, points in zip(joint.items, joint.points, strict=True):
        selling = [h for h in points if h <= item.start]
        holdings.append(min(selling, key=functools.partial(_closeness, item)))
    return holdings

"""Whole-unit buys closest to target within a cash budget (``Rounding.CLOSEST``).

Pure: no I/O, clock or globals. The planner calls :func:`closest_buys` when the buys it
wants at nearest rounding do not fit the cash it may spend.

The problem, per buy ``i`` (holding ``start + q``, ``q`` in whole increments)::

    minimise   sum_i |start_i + q_i - desired_i| * unit_value_i
    subject to sum_i (q_i * unit_value_i * (1 + cost_rate) + cost_per_order * [q_i > 0])
                   <= budget
               q_i * unit_value_i >= min_value_i  or  q_i == 0

The objective is separable and convex per asset, so rounding each buy to the nearest
increment is exactly optimal whenever it fits. When it does not, a repair:

1. start from what ``Rounding.DOWN`` funds: every buy truncated below its target, cut by
   the same amount of value across buys when even that overdraws (so the result is never
   further from target than ``DOWN`` with the same budget);
2. give fractional buys (no increment) what they still lack: every unit of value there
   lowers the error by the most a dollar can;
3. top up one increment at a time where the error falls most per dollar (a heap), larger
   steps first among equals;
4. exchange: give up the cheapest units (or a marginal round-up) elsewhere to afford a
   step that lowers the error more, then top up again, until nothing improves.

Ties are broken by the item's position, so the same items give the same answer.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["BuyItem", "closest_buys", "water_level"]

#: Tolerance when dividing a quantity into whole increments.
_UNIT_EPS = 1e-9
#: Relative improvement below which an exchange is float noise, not a gain.
_GAIN_EPS = 1e-9
#: Rounds of exchange and top-up; each strictly lowers the error, this only bounds time.
_MAX_EXCHANGES = 64
#: How many of the most valuable unaffordable steps try a release across several items.
_WALK_TRIES = 8


class BuyItem(NamedTuple):
    """One buy the planner wants: where it starts, where it aims, how it is sized.

    Attributes:
        start: The holding the buy starts from, in units (``>= 0``).
        desired: The exact target holding in units (``> start``).
        nearest: The reachable holding nearest ``desired`` (``start + k * increment``).
        increment: Unit or lot size; ``None`` for a fractional (continuous) buy.
        unit_value: Price times multiplier (``> 0``).
        min_value: A buy must be worth at least this, or be 0.
    """

    start: float
    desired: float
    nearest: float
    increment: float | None
    unit_value: float
    min_value: float


def _snap(ratio: float) -> float:
    """``ratio`` with float noise (54.999999995) snapped to the whole number."""
    whole = round(ratio)
    if abs(ratio - whole) <= _UNIT_EPS * max(1.0, abs(ratio)):
        return float(whole)
    return ratio


class _Problem:
    """Working state: units bought per whole item, value bought per fractional item."""

    __slots__ = (
        "blocks",
        "costs",
        "fixed",
        "gaps",
        "items",
        "left",
        "rate",
        "steps",
        "tops",
        "units",
        "values",
        "whole",
    )

    def __init__(self, items: Sequence[BuyItem], budget: float, rate: float, fixed: float) -> None:
        self.items = items
        self.rate = rate
        self.fixed = fixed
        self.left = budget
        count = len(items)
        #: Indices of whole-unit items.
        self.whole: list[int] = []
        #: Value of one increment, its cost, the target in increments, the nearest count,
        #: the smallest non-zero count the threshold allows.
        self.steps = [0.0] * count
        self.costs = [0.0] * count
        self.gaps = [0.0] * count
        self.tops = [0] * count
        self.blocks = [1] * count
        self.units = [0] * count
        #: Value bought for fractional items.
        self.values = [0.0] * count
        for index, item in enumerate(items):
            if item.increment is None:
                self.gaps[index] = max(item.desired - item.start, 0.0) * item.unit_value
                continue
            step = item.increment * item.unit_value
            self.whole.append(index)
            self.steps[index] = step
            self.costs[index] = step * (1.0 + rate)
            self.gaps[index] = (item.desired - item.start) / item.increment
            top = round(_snap((item.nearest - item.start) / item.increment))
            self.tops[index] = max(top, 0)
            self.blocks[index] = max(1, math.ceil(_snap(item.min_value / step)))

    # -- values of a state ---------------------------------------------------------------

    def error(self, index: int, units: int) -> float:
        """Distance to target of a whole item holding ``units`` increments, in value."""
        return abs(self.gaps[index] - units) * self.steps[index]

    def spend(self, index: int, units: int) -> float:
        """Cash a whole item's buy of ``units`` increments costs."""
        if units == 0:
            return 0.0
        return units * self.costs[index] + self.fixed

    def next_move(self, index: int) -> tuple[int, float, float] | None:
        """The next top-up of a whole item: (units after, cost, error reduction)."""
        units = self.units[index]
        after = self.blocks[index] if units == 0 else units + 1
        if after > self.tops[index]:
            return None
        gain = self.error(index, units) - self.error(index, after)
        if gain <= 0.0:
            return None
        return after, self.spend(index, after) - self.spend(index, units), gain

    def last_move(self, index: int) -> tuple[int, float, float] | None:
        """Undoing a whole item's last step: (units after, cash freed, error added)."""
        units = self.units[index]
        if units == 0:
            return None
        after = units - 1 if units - 1 >= self.blocks[index] else 0
        freed = self.spend(index, units) - self.spend(index, after)
        return after, freed, self.error(index, after) - self.error(index, units)

    # -- steps ---------------------------------------------------------------------------

    def start_down(self) -> None:
        """What ``Rounding.DOWN`` funds: truncated buys, water-filled when they overdraw."""
        items, rate, fixed = self.items, self.rate, self.fixed
        needs: list[tuple[float, int]] = []
        for index, item in enumerate(items):
            if item.increment is None:
                value = self.gaps[index]
            else:
                units = min(math.floor(_snap(self.gaps[index])), self.tops[index])
                value = units * self.steps[index] if units > 0 else 0.0
            if value > 0.0 and value >= item.min_value:
                needs.append((value, index))
        total = math.fsum(value * (1.0 + rate) + fixed for value, _ in needs)
        if total <= self.left:
            for value, index in needs:
                self._assign(index, value)
            self.left -= total
            return
        alive = sorted(needs, key=lambda need: (-need[0], need[1]))
        level = 0.0
        while alive:
            level = water_level([value for value, _ in alive], self.left, rate, fixed)
            survivors = [
                (value, index)
                for value, index in alive
                if self._fundable(index, value - level) > 0.0
                and self._fundable(index, value - level) >= items[index].min_value
            ]
            if len(survivors) == len(alive):
                break
            alive = survivors
        spent = []
        for value, index in alive:
            amount = self._fundable(index, value - level)
            self._assign(index, amount)
            spent.append(amount * (1.0 + rate) + fixed)
        self.left -= math.fsum(spent)

    def _fundable(self, index: int, amount: float) -> float:
        """Largest buy worth at most ``amount``: whole increments, or exact if fractional."""
        if amount <= 0.0:
            return 0.0
        step = self.steps[index]
        if step == 0.0:
            return amount
        return math.floor(_snap(amount / step)) * step

    def _assign(self, index: int, value: float) -> None:
        step = self.steps[index]
        if step == 0.0:
            self.values[index] = value
        else:
            self.units[index] = round(value / step)

    def fill_fractional(self) -> None:
        """Give fractional buys what they still lack, largest shortfall first."""
        items, rate, fixed = self.items, self.rate, self.fixed
        short = [
            (self.gaps[index] - self.values[index], index)
            for index, item in enumerate(items)
            if item.increment is None and self.values[index] < self.gaps[index]
        ]
        short.sort(key=lambda entry: (-entry[0], entry[1]))
        for lack, index in short:
            if self.left <= 0.0:
                return
            entry = fixed if self.values[index] == 0.0 else 0.0
            amount = min(lack, (self.left - entry) / (1.0 + rate))
            if amount <= 0.0 or self.values[index] + amount < items[index].min_value:
                continue
            self.values[index] += amount
            self.left -= amount * (1.0 + rate) + entry

    def top_up(self) -> None:
        """Add increments where the error falls most per dollar while cash lasts."""
        units, gaps, steps, costs = self.units, self.gaps, self.steps, self.costs
        heap: list[tuple[float, float, int]] = []
        for index in self.whole:
            move = self.next_move(index)
            if move is not None:
                heap.append((-round(move[2] / move[1], 12), -move[2], index))
        heapq.heapify(heap)
        fixed = self.fixed
        while heap:
            index = heapq.heappop(heap)[2]
            held = units[index]
            after = self.blocks[index] if held == 0 else held + 1
            cost = after * costs[index] + fixed if held == 0 else costs[index]
            if cost > self.left:
                continue  # later steps of this item cost as much: it is done
            units[index] = after
            self.left -= cost
            if after < self.tops[index]:
                gap, step = gaps[index], steps[index]
                gain = (abs(gap - after) - abs(gap - after - 1)) * step
                if gain > 0.0:
                    cost = costs[index]
                    heapq.heappush(heap, (-round(gain / cost, 12), -gain, index))

    def exchange(self) -> bool:
        """Give up steps elsewhere to afford one that lowers the error more.

        For the steps that do not fit and would lower the error most, free the missing
        cash by giving up steps in order of error added per dollar freed (marginal
        round-ups first, then whole units of the cheapest holdings, then value of
        fractional buys). The exchange with the largest net gain is made.

        Returns:
            Whether an exchange was made.
        """
        wanted: list[tuple[float, int, int, float]] = []
        for index in self.whole:
            move = self.next_move(index)
            if move is not None and move[1] > self.left:
                wanted.append((move[2], -index, move[0], move[1]))
        if not wanted:
            return False
        wanted = heapq.nlargest(_WALK_TRIES, wanted)
        order = _Chunks(self._chunks())
        best: tuple[float, int, int, list[tuple[int, float]]] | None = None
        for gain, negative_index, after, cost in wanted:
            index = -negative_index
            if best is not None and gain <= best[0]:
                break  # gains only fall from here; no release costs less than nothing
            walked = self._walk(order, cost - self.left, index)
            if walked is None:
                continue
            net = gain - walked[0]
            if net <= _GAIN_EPS * max(self.steps[index], 1.0):
                continue
            if best is None or net > best[0]:
                best = (net, index, after, walked[1])
        if best is None:
            return False
        _, index, after, releases = best
        for other, level in releases:
            self.left += self._release(other, level)
        self.left -= self.spend(index, after) - self.spend(index, self.units[index])
        self.units[index] = after
        return True

    def _chunks(self) -> list[tuple[float, float, int, int, int, float, float]]:
        """Steps that can be given up, keyed by error added per dollar freed.

        Each is (error per dollar, unit cost, item, -units held before, count, cash freed
        per unit, error added per unit); ``count`` is -1 for part of a fractional buy's
        value (per dollar of value), -2 for all of it and -3 for a whole item's last
        block. An item's steps are keyed so they come in the order they can be undone.
        """
        chunks: list[tuple[float, float, int, int, int, float, float]] = []
        fixed = self.fixed
        units_of, blocks, gaps, costs, steps = (
            self.units,
            self.blocks,
            self.gaps,
            self.costs,
            self.steps,
        )
        for index in self.whole:
            units = units_of[index]
            if units == 0:
                continue
            block, gap, cost, step = blocks[index], gaps[index], costs[index], steps[index]
            key = 0.0
            if units > gap and units - 1 >= block:
                # A round-up above target: undoing it adds little error.
                loss = (abs(gap - units + 1) - abs(gap - units)) * step
                key = round(loss / cost, 12)
                chunks.append((key, cost, index, -units, 1, cost, loss))
                units -= 1
            if units > block:
                key = max(key, round(step / cost, 12))
                chunks.append((key, cost, index, -units, units - block, cost, step))
                units = block
            spend = units * cost + fixed
            loss = (gap - abs(gap - units)) * step
            key = max(key, round(loss / spend, 12))
            chunks.append((key, spend, index, -units, -3, spend, loss))
        rate = self.rate
        for index, value in enumerate(self.values):
            if value <= 0.0:
                continue
            room = value - self.items[index].min_value
            if room > 0.0:
                key = round(1.0 / (1.0 + rate), 12)
                chunks.append((key, 0.0, index, 0, -1, room + room * rate, room))
            spend = value * (1.0 + rate) + fixed
            chunks.append((round(value / spend, 12), spend, index, 0, -2, spend, value))
        return chunks

    def _walk(
        self, order: _Chunks, need: float, skip: int
    ) -> tuple[float, list[tuple[int, float]]] | None:
        """Free ``need`` by giving up chunks in order; (error added, releases) or None.

        A release is (item, units after) for a whole item, (item, value after) for a
        fractional one.
        """
        freed = 0.0
        loss = 0.0
        levels: dict[int, float] = {}
        rate = self.rate
        position = 0
        while True:
            chunk = order.get(position)
            if chunk is None:
                return None
            position += 1
            _, _, index, negative_start, count, per_cash, per_loss = chunk
            start = -negative_start
            if index == skip:
                continue
            if count in {-1, -2}:
                if index in levels:
                    continue  # part of this fractional buy is already given up
            elif levels.get(index, self.units[index]) != start:
                continue  # an earlier step of this item is still held: not reachable
            lack = need - freed
            if count == -1:
                amount = min(per_cash, lack)
                freed += amount
                loss += amount / (1.0 + rate)
                levels[index] = self.values[index] - amount / (1.0 + rate)
            elif count == -2:
                freed += per_cash
                loss += per_loss
                levels[index] = 0.0
            elif count == -3:
                freed += per_cash
                loss += per_loss
                levels[index] = 0
            else:
                take = min(count, max(1, math.ceil(_snap(lack / per_cash))))
                freed += take * per_cash
                loss += take * per_loss
                levels[index] = start - take
            if freed >= need:
                return loss, list(levels.items())

    def _release(self, other: int, level: float) -> float:
        """Set item ``other`` to ``level`` (units, or value if fractional); cash freed."""
        if self.items[other].increment is None:
            before = self.values[other]
            self.values[other] = level
            spent_before = before * (1.0 + self.rate) + (self.fixed if before > 0.0 else 0.0)
            spent_after = level * (1.0 + self.rate) + (self.fixed if level > 0.0 else 0.0)
            return spent_before - spent_after
        units = round(level)
        released = self.spend(other, self.units[other]) - self.spend(other, units)
        self.units[other] = units
        return released

    def result(self) -> list[float]:
        quantities = []
        for index, item in enumerate(self.items):
            if item.increment is None:
                value = self.values[index]
                quantities.append(value / item.unit_value if value > 0.0 else 0.0)
            else:
                quantities.append(self.units[index] * item.increment)
        return quantities


class _Chunks:
    """Releasable steps in increasing order of error per dollar, sorted only as needed."""

    __slots__ = ("heap", "ordered")

    def __init__(self, chunks: list[tuple[float, float, int, int, int, float, float]]) -> None:
        heapq.heapify(chunks)
        self.heap = chunks
        self.ordered: list[tuple[float, float, int, int, int, float, float]] = []

    def get(self, position: int) -> tuple[float, float, int, int, int, float, float] | None:
        """The chunk at ``position`` in order, or None past the end."""
        while len(self.ordered) <= position:
            if not self.heap:
                return None
            self.ordered.append(heapq.heappop(self.heap))
        return self.ordered[position]


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


def closest_buys(
    items: Sequence[BuyItem],
    budget: float,
    *,
    cost_rate: float,
    cost_per_order: float,
) -> list[float]:
    """Buy quantities whose final holdings are closest to target within ``budget``.

    Minimises ``sum_i |start_i + q_i - desired_i| * unit_value_i`` subject to
    ``sum_i (q_i * unit_value_i * (1 + cost_rate) + cost_per_order * [q_i > 0]) <=
    budget``, each ``q_i`` a multiple of its increment, worth at least ``min_value`` or 0.
    Exact when the nearest holdings fit; otherwise the repair described in the module
    docstring, never further from target than truncation water-filled to the budget.

    Args:
        items: The buys, in a fixed order (ties are broken by position).
        budget: Cash the buys may spend, costs included.
        cost_rate: Estimated cost per unit of traded value.
        cost_per_order: Estimated fixed cost per order.

    Returns:
        One quantity per item, in units: ``>= 0``, a multiple of the item's increment.

    >>> items = [BuyItem(0.0, 1.6, 2.0, 1.0, 100.0, 0.0), BuyItem(0.0, 2.7, 3.0, 1.0, 30.0, 0.0)]
    >>> closest_buys(items, 300.0, cost_rate=0.0, cost_per_order=0.0)
    [2.0, 3.0]
    """
    rate, fixed = cost_rate, cost_per_order
    wanted = []
    spent = []
    for item in items:
        quantity = item.nearest - item.start
        if quantity <= 0.0 or quantity * item.unit_value < item.min_value:
            quantity = 0.0
        wanted.append(quantity)
        if quantity > 0.0:
            value = quantity * item.unit_value
            spent.append(value * (1.0 + rate) + fixed)
    if math.fsum(spent) <= budget:
        return wanted
    problem = _Problem(items, budget, rate, fixed)
    problem.start_down()
    problem.fill_fractional()
    problem.top_up()
    for _ in range(_MAX_EXCHANGES):
        if not problem.exchange():
            break
        problem.fill_fractional()
        problem.top_up()
    quantities = problem.result()
    return _within(items, quantities, budget, rate, fixed)


def _within(
    items: Sequence[BuyItem], quantities: list[float], budget: float, rate: float, fixed: float
) -> list[float]:
    """Guard against float drift: shrink the last buys until the exact sum fits."""

    def total() -> float:
        return math.fsum(
            q * item.unit_value * (1.0 + rate) + fixed
            for q, item in zip(quantities, items, strict=True)
            if q > 0.0
        )

    excess = total() - budget
    position = len(quantities) - 1
    while excess > 0.0 and position >= 0:
        item = items[position]
        quantity = quantities[position]
        if quantity > 0.0:
            if item.increment is None:
                cut = min(quantity, excess / (item.unit_value * (1.0 + rate)) * (1 + 1e-9))
                quantity -= cut
            else:
                quantity = max(quantity - item.increment, 0.0)
            if quantity * item.unit_value < item.min_value:
                quantity = 0.0
            quantities[position] = quantity
            excess = total() - budget
        if quantities[position] <= 0.0:
            quantities[position] = 0.0
            position -= 1
    return quantities

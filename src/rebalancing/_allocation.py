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
3. top up where the error falls most per dollar, larger steps first among equals; the
   increments below target all lower the error at the same rate, so an item takes them
   in one go;
4. exchange: give up the cheapest units (or a marginal round-up) elsewhere to afford a
   step that lowers the error more, then top up again, until nothing improves. The
   releases are listed lazily in order (each holding's next one in a heap; the whole
   units below target, dearest per dollar, only when a walk gets that far; after the
   first top-up, its steps read backwards), and a walk stops once it adds as much error
   as its step would save;
5. with few buys (at most :data:`_EXACT_ITEMS`, all whole), a branch and bound over the
   whole quantities, starting from the repair's answer (so it can only improve on it)
   and pruning with the divisible relaxation; it proves the optimum unless it runs out
   of its :data:`_EXACT_NODES` budget, then the best found stands.

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
    "BuyItem",
    "HoldingItem",
    "closest_buys",
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
#: Rounds of exchange and top-up; each strictly lowers the error, this only bounds time.
_MAX_EXCHANGES = 64
#: How many of the most valuable unaffordable steps try a release across several items.
_WALK_TRIES = 8
#: Largest number of buys (all whole) the exact search takes on.
_EXACT_ITEMS = 8
#: Counts the exact search may try (about a microsecond each) before it settles for the
#: best found so far.
_EXACT_NODES = 1_000
#: Ratios are compared on a grid this fine, so float noise ties and position decides.
_KEY = 1e12
#: Cash left, relative to the budget, above which float drift cannot overdraw.
_DRIFT = 1e-7

#: A releasable step: (error per dollar, unit cost, item, -units held before, count, cash
#: freed per unit, error added per unit). ``count`` is -1 for part of a fractional buy's
#: value (per dollar of value), -2 for all of it and -3 for a whole item's last block.
_Chunk = tuple[int, float, int, int, int, float, float]


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


class _Problem:
    """Working state: units bought per whole item, value bought per fractional item.

    Per whole item: the value of one increment (``steps``), its cost (``costs``), the
    target in increments (``gaps``), the nearest count (``tops``), the smallest non-zero
    count the threshold allows (``blocks``) and the truncated count (``floors``). Per
    fractional item: the value it lacks (``gaps``).
    """

    __slots__ = (
        "blocks",
        "budget",
        "costs",
        "down",
        "fixed",
        "floors",
        "fractional",
        "gaps",
        "items",
        "left",
        "needs",
        "rate",
        "ready",
        "steps",
        "taken",
        "tops",
        "units",
        "values",
        "whole",
    )

    def __init__(  # noqa: PLR0915 - one flat pass over the items is the point
        self, items: Sequence[BuyItem], budget: float, rate: float, fixed: float
    ) -> None:
        self.items = items
        self.rate = rate
        self.fixed = fixed
        self.left = budget
        self.budget = budget
        count = len(items)
        self.whole: list[int] = []
        self.fractional: list[int] = []
        steps = [0.0] * count
        costs = [0.0] * count
        gaps = [0.0] * count
        tops = [0] * count
        blocks = [1] * count
        floors = [0] * count
        #: What ``Rounding.DOWN`` would buy: the items, and the value of each buy.
        needs: list[int] = []
        values: list[float] = []
        #: The first top-up step of each whole item once DOWN's buys are all funded.
        ready: list[tuple[int, float, int]] = []
        whole, fractional = self.whole, self.fractional
        grow = 1.0 + rate
        cheapest = math.inf
        scale, noise = _KEY, 1.0 - _UNIT_EPS
        per_cost = scale / grow  # keys of steps that save their value in error
        for index, (start, desired, nearest, increment, unit_value, min_value) in enumerate(items):
            if increment is None:
                value = desired - start
                value = value * unit_value if value > 0.0 else 0.0
                gaps[index] = value
                fractional.append(index)
                if value > 0.0 and value >= min_value:
                    needs.append(index)
                    values.append(value)
                continue
            step = increment * unit_value
            cost = step * grow
            whole.append(index)
            steps[index] = step
            costs[index] = cost
            gap = (desired - start) / increment
            gaps[index] = gap
            top = round((nearest - start) / increment)
            if top <= 0:
                continue
            tops[index] = top
            block = 1
            if min_value > step:
                block = blocks[index] = math.ceil(_snap(min_value / step))
            # Whole increments below the target, float noise snapped up.
            down = math.floor(gap) if gap > 0.0 else 0
            if gap - down >= (noise if gap <= 1.0 else 1.0 - _UNIT_EPS * gap):
                down += 1
            if down > top:  # noqa: PLR1730 - a comparison is cheaper than min() here
                down = top
            floors[index] = down
            if down > 0 and down * step >= min_value:
                needs.append(index)
                values.append(down * step)
                if down >= top:
                    continue
                # The round-up: from ``gap - down`` below target to ``1 - (gap - down)``
                # above it, for the cost of a step.
                short = gap - down
                if short > 0.5:
                    ready.append(
                        (
                            -int((short + short - 1.0) * per_cost + 0.5),
                            (1.0 - short - short) * step,
                            index,
                        )
                    )
                    if cost < cheapest:  # noqa: PLR1730 - cheaper than min() here
                        cheapest = cost
                continue
            if block > top:
                continue
            spend = block * cost + fixed
            gain = (abs(gap) - abs(gap - block)) * step
            if gain > 0.0:
                ready.append((-int(gain / spend * scale + 0.5), -gain, index))
                cheapest = min(cheapest, cost)
        self.needs = needs
        self.down = values
        self.steps, self.costs, self.gaps = steps, costs, gaps
        self.tops, self.blocks, self.floors = tops, blocks, floors
        self.units = [0] * count
        self.values = [0.0] * count
        self.ready: tuple[list[tuple[int, float, int]], float] | None = (ready, cheapest)
        #: The first top-up's steps in order, while they are all the round-ups held.
        self.taken: list[tuple[int, float, int]] | None = None

    # -- steps ---------------------------------------------------------------------------

    def start_down(self) -> None:
        """What ``Rounding.DOWN`` funds: truncated buys, water-filled when they overdraw."""
        rate, fixed, needs, down = self.rate, self.fixed, self.needs, self.down
        grow = 1.0 + rate
        total = math.fsum([value * grow + fixed for value in down])
        if total <= self.left:
            if self.fractional:
                values, steps = self.values, self.steps
                for index, value in zip(needs, down, strict=True):
                    if steps[index] == 0.0:
                        values[index] = value
            units, floors = self.units, self.floors
            for index in needs:
                units[index] = floors[index]
            self.left -= total
            return
        self.ready = None  # the truncated buys are cut: top-up steps start elsewhere
        items = self.items
        alive = sorted(zip(down, needs, strict=True), key=lambda need: (-need[0], need[1]))
        level = 0.0
        while alive:
            level = water_level([value for value, _ in alive], self.left, rate, fixed)
            survivors = []
            for value, index in alive:
                amount = self._fundable(index, value - level)
                if amount > 0.0 and amount >= items[index].min_value:
                    survivors.append((value, index))
            if len(survivors) == len(alive):
                break
            alive = survivors
        spent = []
        for value, index in alive:
            amount = self._fundable(index, value - level)
            step = self.steps[index]
            if step == 0.0:
                self.values[index] = amount
            else:
                self.units[index] = round(amount / step)
            spent.append(amount * grow + fixed)
        self.left -= math.fsum(spent)

    def _fundable(self, index: int, amount: float) -> float:
        """Largest buy worth at most ``amount``: whole increments, or exact if fractional."""
        if amount <= 0.0:
            return 0.0
        step = self.steps[index]
        if step == 0.0:
            return amount
        return math.floor(_snap(amount / step)) * step

    def fill_fractional(self) -> None:
        """Give fractional buys what they still lack, largest shortfall first."""
        if not self.fractional:
            return
        items, rate, fixed, values, gaps = self.items, self.rate, self.fixed, self.values, self.gaps
        short = [
            (gaps[index] - values[index], index)
            for index in self.fractional
            if values[index] < gaps[index]
        ]
        short.sort(key=lambda entry: (-entry[0], entry[1]))
        for lack, index in short:
            if self.left <= 0.0:
                return
            entry = fixed if values[index] == 0.0 else 0.0
            amount = min(lack, (self.left - entry) / (1.0 + rate))
            if amount <= 0.0 or values[index] + amount < items[index].min_value:
                continue
            values[index] += amount
            self.left -= amount * (1.0 + rate) + entry

    def _next_step(self, index: int) -> tuple[int, float] | None:
        """The units a whole item holds after its next top-up, and what that costs.

        The first step is the item's smallest allowed block and pays the fixed cost;
        ``None`` when the item is at its top (nearest) already.
        """
        held = self.units[index]
        top = self.tops[index]
        if held >= top:
            return None
        if held == 0:
            after = self.blocks[index]
            if after > top:
                return None
            return after, after * self.costs[index] + self.fixed
        return held + 1, self.costs[index]

    def _steps(self) -> tuple[list[tuple[int, float, int]], float]:
        """Each whole item's next top-up step, keyed by error saved per dollar.

        Returns:
            The steps as (-key, -error saved, item), and the least a step can cost.
        """
        units, gaps, steps = self.units, self.gaps, self.steps
        entries: list[tuple[int, float, int]] = []
        cheapest = math.inf
        for index in self.whole:
            move = self._next_step(index)
            if move is None:
                continue
            held = units[index]
            after, cost = move
            gap, step = gaps[index], steps[index]
            gain = (abs(gap - held) - abs(gap - after)) * step
            if gain > 0.0:
                entries.append((-int(gain / cost * _KEY + 0.5), -gain, index))
                cheapest = min(cheapest, self.costs[index])
        return entries, cheapest

    def top_up(self) -> None:
        """Add increments where the error falls most per dollar while cash lasts."""
        self.taken = None
        if self.ready is not None:
            entries, cheapest = self.ready
            self.ready = None
            if cheapest <= self.left:
                entries.sort()
                self._top_up_first(entries, cheapest)
            return
        entries, cheapest = self._steps()
        left = self.left
        if cheapest > left:
            return
        units, gaps, steps, costs = self.units, self.gaps, self.steps, self.costs
        tops, blocks, floors, fixed = self.tops, self.blocks, self.floors, self.fixed
        entries.sort()
        # Steps in order: the sorted first steps, merged with a heap of the later ones.
        later: list[tuple[int, float, int]] = []
        position, count = 0, len(entries)
        while left >= cheapest:
            if later and (position >= count or later[0] < entries[position]):
                index = heapq.heappop(later)[2]
            elif position < count:
                index = entries[position][2]
                position += 1
            else:
                break
            held = units[index]
            cost = costs[index]
            if held == 0:
                after = blocks[index]
                spend = after * cost + fixed
            else:
                after = held + 1
                spend = cost
            if spend > left:
                continue  # later steps of this item cost as much: it is done
            left -= spend
            # The increments up to the truncated target all lower the error by a whole
            # step: after one of them, the item stays first in line, so it takes them in
            # one go (after a threshold block, larger steps elsewhere may come first).
            more = min(floors[index] - after, int(left // cost)) if held else 0
            if more > 0:
                after += more
                left -= more * cost
                if left < 0.0:
                    after -= 1
                    left += cost
            units[index] = after
            if after < tops[index]:
                gap = gaps[index]
                gain = (abs(gap - after) - abs(gap - after - 1)) * steps[index]
                if gain > 0.0:
                    heapq.heappush(later, (-int(gain / cost * _KEY + 0.5), -gain, index))
        self.left = left

    def _top_up_first(self, entries: list[tuple[int, float, int]], cheapest: float) -> None:
        """The first top-up: from DOWN's truncation every item has one step left.

        That step takes it to its nearest count, so no item has a step after it.
        """
        units, costs, blocks, fixed = self.units, self.costs, self.blocks, self.fixed
        left = self.left
        for entry in entries:
            index = entry[2]
            held = units[index]
            if held:
                spend = costs[index]
                if spend <= left:
                    units[index] = held + 1
                    left -= spend
            else:
                after = blocks[index]
                spend = after * costs[index] + fixed
                if spend <= left:
                    units[index] = after
                    left -= spend
            if left < cheapest:
                break
        self.left = left
        if not self.fractional and fixed == 0.0:
            # Every holding above target got there by one of these steps, keyed as its
            # undoing is: read backwards, they are the cheapest releases in order.
            self.taken = entries

    def _wanted(self) -> list[tuple[float, int, int, float]]:
        """Steps that do not fit: (error reduction, -item, units after, cost)."""
        units, gaps, steps, left = self.units, self.gaps, self.steps, self.left
        wanted: list[tuple[float, int, int, float]] = []
        for index in self.whole:
            move = self._next_step(index)
            if move is None:
                continue
            held = units[index]
            after, cost = move
            if cost <= left:
                continue
            gap = gaps[index]
            gain = (abs(gap - held) - abs(gap - after)) * steps[index]
            if gain > 0.0:
                wanted.append((gain, -index, after, cost))
        return wanted

    def exchange(self) -> bool:
        """Give up steps elsewhere to afford one that lowers the error more.

        For the steps that do not fit and would lower the error most, free the missing
        cash by giving up steps in order of error added per dollar freed (marginal
        round-ups first, then whole units of the cheapest holdings, then value of
        fractional buys). The exchange with the largest net gain is made.

        Returns:
            Whether an exchange was made.
        """
        wanted = self._wanted()
        if not wanted:
            return False
        wanted = heapq.nlargest(_WALK_TRIES, wanted)
        left = self.left
        order = _Chunks(self, self.taken)
        self.taken = None
        best: tuple[float, int, int, list[tuple[int, float]]] | None = None
        for gain, negative_index, after, cost in wanted:
            index = -negative_index
            if best is not None and gain <= best[0]:
                break  # gains only fall from here; no release costs less than nothing
            walked = self._walk(order, cost - left, index, gain)
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
        held = self.units[index]
        spent = after * self.costs[index] + (self.fixed if held == 0 else 0.0)
        self.left -= spent - held * self.costs[index]
        self.units[index] = after
        return True

    def chunks(self, *, deferred: bool) -> list[_Chunk]:
        """The first step each holding can give up, keyed by error added per dollar freed.

        The later steps of a whole item come from :meth:`next_chunk` once this one is
        taken in order: an item's steps are keyed so they come in the order they can be
        undone. Fractional buys list both of theirs. Whole units below target cost the
        most error per dollar; those keyed no lower than :meth:`deferred_key` are
        listed apart (``deferred``), only when a walk gets that far.
        """
        chunks: list[_Chunk] = []
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
            block, gap = blocks[index], gaps[index]
            if units > gap and units - 1 >= block:
                if not deferred:
                    # A round-up above target: undoing it adds little error.
                    cost, step = costs[index], steps[index]
                    loss = (abs(gap - units + 1) - abs(gap - units)) * step
                    key = int(loss / cost * _KEY + 0.5)
                    chunks.append((key, cost, index, -units, 1, cost, loss))
            elif (units > block or (fixed == 0.0 and units <= gap)) is deferred:
                chunks.append(self.below(index, units, 0))
        if deferred:
            return chunks
        rate = self.rate
        for index in self.fractional:
            value = self.values[index]
            if value <= 0.0:
                continue
            room = value - self.items[index].min_value
            if room > 0.0:
                key = int(1.0 / (1.0 + rate) * _KEY + 0.5)
                chunks.append((key, 0.0, index, 0, -1, room + room * rate, room))
            spend = value * (1.0 + rate) + fixed
            key = int(value / spend * _KEY + 0.5)
            chunks.append((key, spend, index, 0, -2, spend, value))
        return chunks

    def deferred_key(self) -> int:
        """A key no deferred chunk is below: a whole step's error per dollar, less noise."""
        return int(1.0 / (1.0 + self.rate) * _KEY + 0.5) - 2

    def below(self, index: int, units: int, key: int) -> _Chunk:
        """The step a whole item holding ``units`` (none above target) gives up next."""
        block, cost, step = self.blocks[index], self.costs[index], self.steps[index]
        if units > block:
            own = int(step / cost * _KEY + 0.5)
            return (max(own, key), cost, index, -units, units - block, cost, step)
        gap = self.gaps[index]
        spend = units * cost + self.fixed
        loss = (gap - abs(gap - units)) * step
        own = int(loss / spend * _KEY + 0.5)
        return (max(own, key), spend, index, -units, -3, spend, loss)

    def next_chunk(self, chunk: _Chunk) -> _Chunk | None:
        """The step an item gives up after ``chunk``, or None after its last."""
        key, _, index, negative_start, count, _, _ = chunk
        if count < 0:
            return None
        return self.below(index, -negative_start - count, key)

    def _walk(
        self, order: _Chunks, need: float, skip: int, gain: float
    ) -> tuple[float, list[tuple[int, float]]] | None:
        """Free ``need`` by giving up chunks in order; (error added, releases) or None.

        A release is (item, units after) for a whole item, (item, value after) for a
        fractional one. None too once the error added reaches ``gain``: such a walk
        cannot pay for the step.
        """
        freed = 0.0
        loss = 0.0
        levels: dict[int, float] = {}
        grow = 1.0 + self.rate
        units_of = self.units
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
            elif levels.get(index, units_of[index]) != start:
                continue  # an earlier step of this item is still held: not reachable
            lack = need - freed
            if count == -1:
                amount = min(per_cash, lack)
                freed += amount
                loss += amount / grow
                levels[index] = self.values[index] - amount / grow
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
            if loss >= gain:
                return None

    def _release(self, other: int, level: float) -> float:
        """Set item ``other`` to ``level`` (units, or value if fractional); cash freed."""
        grow, fixed = 1.0 + self.rate, self.fixed
        if self.items[other].increment is None:
            before = self.values[other]
            self.values[other] = level
            spent_before = before * grow + (fixed if before > 0.0 else 0.0)
            spent_after = level * grow + (fixed if level > 0.0 else 0.0)
            return spent_before - spent_after
        units = round(level)
        held = self.units[other]
        cost = self.costs[other]
        spent_before = held * cost + (fixed if held > 0 else 0.0)
        spent_after = units * cost + (fixed if units > 0 else 0.0)
        self.units[other] = units
        return spent_before - spent_after

    def exact(self) -> None:
        """Replace the whole units by a proven optimum (few whole buys, no fractional).

        See :class:`_Search`. The repair's answer is the first best, so the result is
        never worse than it.
        """
        whole = sorted(self.whole, key=lambda index: (-self.steps[index], index))
        search = _Search(
            [
                (self.steps[i], self.costs[i], self.gaps[i], self.tops[i], self.blocks[i])
                for i in whole
            ],
            self.fixed,
            self.rate,
        )
        if not search.ready:
            return
        held = [self.units[index] for index in whole]
        found = search.run(self.budget, held)
        if found is None:
            return
        units, spent = found
        for k, index in enumerate(whole):
            self.units[index] = units[k]
        self.left = self.budget - spent

    def result(self) -> list[float]:
        """One quantity per item, in units."""
        units, items = self.units, self.items
        if not self.fractional:
            return [held * item[3] for held, item in zip(units, items, strict=True)]  # type: ignore[operator]
        values = self.values
        quantities = []
        for index, item in enumerate(items):
            increment = item.increment
            if increment is None:
                value = values[index]
                quantities.append(value / item.unit_value if value > 0.0 else 0.0)
            else:
                quantities.append(units[index] * increment)
        return quantities


class _Chunks:
    """Releasable steps in increasing order of error per dollar, listed only as needed.

    A heap holds each holding's next step; taking one in order lists the one after it.
    The whole units below target join the heap only when every step left is keyed at
    least as high as theirs can be. When the top-up's steps (``taken``) are all the
    holdings above target, the first steps come from them, read backwards, instead.
    """

    __slots__ = ("cursor", "deferred", "heap", "ordered", "problem", "taken")

    def __init__(self, problem: _Problem, taken: list[tuple[int, float, int]] | None) -> None:
        self.problem = problem
        self.taken = taken
        if taken is None:
            self.heap = problem.chunks(deferred=False)
            heapq.heapify(self.heap)
            self.cursor = -1
        else:
            self.heap = []
            self.cursor = len(taken) - 1
        self.ordered: list[_Chunk] = []
        #: Key from which on the deferred chunks must be in the heap (None once they are).
        self.deferred: int | None = problem.deferred_key()

    def _source(self) -> _Chunk | None:
        """The next first step from ``taken``, or None when they are used up."""
        taken = self.taken
        if taken is None:
            return None
        problem = self.problem
        units_of, gaps, blocks = problem.units, problem.gaps, problem.blocks
        cursor = self.cursor
        while cursor >= 0:
            index = taken[cursor][2]
            units = units_of[index]
            gap = gaps[index]
            if units > gap:
                self.cursor = cursor
                if units - 1 >= blocks[index]:
                    cost, step = problem.costs[index], problem.steps[index]
                    loss = (abs(gap - units + 1) - abs(gap - units)) * step
                    key = int(loss / cost * _KEY + 0.5)
                    return (key, cost, index, -units, 1, cost, loss)
                return problem.below(index, units, 0)
            cursor -= 1
        self.cursor = -1
        self.taken = None
        return None

    def get(self, position: int) -> _Chunk | None:
        """The chunk at ``position`` in order, or None past the end."""
        ordered = self.ordered
        if position < len(ordered):
            return ordered[position]
        heap = self.heap
        problem = self.problem
        while len(ordered) <= position:
            source = self._source()
            if self.deferred is not None and (
                (not heap or heap[0][0] >= self.deferred)
                and (source is None or source[0] >= self.deferred)
            ):
                self.deferred = None
                heap.extend(problem.chunks(deferred=True))
                heapq.heapify(heap)
            if source is not None and (not heap or source < heap[0]):
                chunk = source
                self.cursor -= 1
            elif heap:
                chunk = heapq.heappop(heap)
            else:
                return None
            ordered.append(chunk)
            following = problem.next_chunk(chunk)
            if following is not None:
                heapq.heappush(heap, following)
        return ordered[position]


class _Search:
    """Branch and bound over whole quantities, for a few whole items.

    Depth-first over the items (in the order given, dearest step first), each from its
    nearest count down; a branch is cut when its error so far plus the divisible
    relaxation of the items left cannot beat the best found. The relaxation drops fixed
    costs, thresholds and integrality: funding an item up to its truncated target saves
    a whole step of error per step bought (the best rate there is), its round-up saves
    less; so the relaxation fills the truncated targets first, then the round-ups by rate.
    """

    __slots__ = (
        "best",
        "blocks",
        "chosen",
        "costs",
        "fixed",
        "floor_cost",
        "floor_error",
        "floor_spend",
        "floors",
        "gaps",
        "most_released",
        "nodes",
        "per_unit",
        "ready",
        "steps",
        "tops",
        "units",
        "ups",
    )

    def __init__(
        self, items: list[tuple[float, float, float, int, int]], fixed: float, rate: float
    ) -> None:
        count = len(items)
        self.steps = [item[0] for item in items]
        self.costs = [item[1] for item in items]
        self.gaps = [item[2] for item in items]
        self.tops = [item[3] for item in items]
        self.blocks = [item[4] for item in items]
        self.floors = [
            min(max(math.floor(gap), 0), top) for gap, top in zip(self.gaps, self.tops, strict=True)
        ]
        #: The relaxation assumes one round-up at most (nearest is next to the target).
        self.ready = all(
            top <= floor + 1 for top, floor in zip(self.tops, self.floors, strict=True)
        )
        self.fixed, self.per_unit = fixed, 1.0 / (1.0 + rate)
        # Per suffix k..: cost of the truncated targets, error there, and the round-ups
        # as (error saved per dollar, cost, error saved), best first.
        self.floor_cost = [0.0] * (count + 1)
        self.floor_error = [0.0] * (count + 1)
        self.ups: list[list[tuple[float, float, float]]] = [[] for _ in range(count + 1)]
        for k in range(count - 1, -1, -1):
            gap, step, floor, cost = self.gaps[k], self.steps[k], self.floors[k], self.costs[k]
            self.floor_cost[k] = self.floor_cost[k + 1] + floor * cost
            self.floor_error[k] = self.floor_error[k + 1] + abs(gap - floor) * step
            ups = list(self.ups[k + 1])
            if self.tops[k] > floor:
                gain = (abs(gap - floor) - abs(gap - self.tops[k])) * step
                if gain > 0.0:
                    ups.append((gain / cost, cost, gain))
            ups.sort(reverse=True)
            self.ups[k] = ups
        # The cash an optimum frees by cutting items below their truncated targets is
        # less than the truncated targets' cost, less the budget, plus every round-up,
        # plus the dearest step back up: with more left over, a step back would lower
        # the error. Here without the budget, which :meth:`run` takes off.
        self.floor_spend = [0.0] * count
        most, dearest = 0.0, 0.0
        for k in range(count):
            floor, top, cost, block = self.floors[k], self.tops[k], self.costs[k], self.blocks[k]
            if floor >= block and floor > 0:
                self.floor_spend[k] = floor * cost + fixed
            most += top * cost + fixed if top else 0.0  # truncated target and round-up
            dearest = max(dearest, block * cost + fixed, cost)
        self.most_released = most + dearest
        self.best = math.inf
        self.units: list[int] = []
        self.chosen = [0] * count
        self.nodes = 0

    def bound(self, k: int, cash: float) -> float:
        """Least error items ``k..`` can reach with ``cash``, in the relaxation."""
        short = self.floor_cost[k] - cash
        if short >= 0.0:
            return self.floor_error[k] + short * self.per_unit
        spare = -short
        error = self.floor_error[k]
        for _, cost, gain in self.ups[k]:
            if cost >= spare:
                return error - gain * spare / cost
            error -= gain
            spare -= cost
        return error

    def run(self, budget: float, held: list[int]) -> tuple[list[int], float] | None:
        """Counts better than ``held`` within ``budget``, and their cost; None if none."""
        count = len(held)
        steps, costs, gaps, fixed = self.steps, self.costs, self.gaps, self.fixed
        error = math.fsum(abs(gaps[k] - held[k]) * steps[k] for k in range(count))
        # The error a branch must get below: the best so far, less float noise.
        self.best = error * (1.0 - 1e-12) - 1e-12
        self.units = list(held)
        self.most_released -= budget
        self.search(0, budget, 0.0, 0.0)
        if self.units == held:
            return None
        spent = math.fsum(
            units * cost + fixed for units, cost in zip(self.units, costs, strict=True) if units
        )
        if spent > budget:
            return None  # float noise in the running cash: keep the repair's answer
        return self.units, spent

    def search(self, k: int, cash: float, error: float, released: float) -> None:
        """Try every count of item ``k`` that may lead below the best error.

        ``released`` is the cash freed so far by items cut below their truncated target.
        """
        chosen = self.chosen
        if k == len(chosen):
            self.best = error * (1.0 - 1e-12) - 1e-12
            self.units = list(chosen)
            return
        gap, step, cost, block = self.gaps[k], self.steps[k], self.costs[k], self.blocks[k]
        fixed, bound, most = self.fixed, self.bound, self.most_released
        floor_spend = self.floor_spend[k]
        units = self.tops[k]
        if cash < fixed + units * cost:
            units = math.floor((cash - fixed) / cost) if cash > fixed else 0
        floor = self.floors[k]
        while units >= block:
            self.nodes += 1
            if self.nodes > _EXACT_NODES:
                return  # out of time: the best found so far stands
            spend = units * cost + fixed
            if spend > cash:
                units -= 1
                continue
            freed = released + floor_spend - spend if spend < floor_spend else released
            if freed > 0.0 and freed >= most:
                return  # cutting this item further frees more cash than an optimum does
            after = error + abs(gap - units) * step
            if after + bound(k + 1, cash - spend) < self.best:
                chosen[k] = units
                self.search(k + 1, cash - spend, after, freed)
            elif units <= floor:
                break  # fewer units only add error faster than the cash can remove it
            units -= 1
        chosen[k] = 0
        freed = released + floor_spend
        if freed > 0.0 and freed >= most:
            return
        after = error + abs(gap) * step
        if after + bound(k + 1, cash) < self.best:
            self.search(k + 1, cash, after, freed)


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
    Exact when the nearest holdings fit, and for at most eight whole buys unless their
    search runs out of its budget; otherwise the repair described in the module docstring,
    never further from target than truncation water-filled to the budget.

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
    grow = 1.0 + rate
    wanted = []
    spent = []
    for start, _, nearest, _, unit_value, min_value in items:
        quantity = nearest - start
        if quantity <= 0.0 or quantity * unit_value < min_value:
            quantity = 0.0
        else:
            spent.append(quantity * unit_value * grow + fixed)
        wanted.append(quantity)
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
    if not problem.fractional and len(problem.whole) <= _EXACT_ITEMS:
        problem.exact()
    quantities = problem.result()
    if problem.left > _DRIFT * abs(budget):
        return quantities  # float drift in the running cash is far smaller than this
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

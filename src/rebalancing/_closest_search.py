"""Exact search for ``Rounding.CLOSEST``: branch and bound over a few whole items' holdings.

Pure: no I/O, clock or globals. The repair (:mod:`._closest_repair`) hands it the paths
of at most :data:`EXACT_ITEMS` whole items and its own answer; the search returns better
holdings within the budget, or None. It counts the holdings it tries, not time, so the
same items always give the same answer.
"""

from __future__ import annotations

import bisect
import itertools
import math

from ._closest_path import HoldingItem, Move, cash_use, error_at
from ._units import GAIN_EPS

__all__ = ["EXACT_ITEMS", "JointSearch"]

#: Most items the exact search takes on (all whole); larger problems keep the repair.
EXACT_ITEMS = 40
#: Holdings the exact search may try before it settles for the best found so far.
_EXACT_NODES = 4_000
#: A run of units above a point: (count, holding per unit, cash per unit).
_Run = tuple[int, float, float]
#: The last item as every leaf reads it: start, desired, unit value, 1 + cost rate,
#: 1 - cost rate, fixed cost, and per point (point, cash, error, run above it or None).
_Leaf = tuple[
    float, float, float, float, float, float, list[tuple[float, float, float, _Run | None]]
]


class JointSearch:
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
        "leaf",
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
        moves: list[list[Move]],
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
            hull = _hull([(cash_use(item, h, rate, fixed), error_at(item, h)) for h in points[k]])
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
        self.leaf: _Leaf | None = None

    def run(self, budget: float, error: float, held: list[float]) -> list[float] | None:
        """Holdings better than ``held`` (with ``error``) within ``budget``; None if none."""
        self.best = error * (1.0 - GAIN_EPS) - GAIN_EPS
        self.search(0, budget, 0.0)
        if self.found is None or self.found == held:
            return None
        rate, fixed = self.rate, self.fixed
        spent = math.fsum(
            cash_use(item, h, rate, fixed) for item, h in zip(self.items, self.found, strict=True)
        )
        if spent > budget:
            return None  # float noise in the running cash: keep the repair's answer
        return self.found

    def search(self, k: int, cash: float, error: float) -> None:  # noqa: PLR0915 - hot loop, inline
        """Try every holding of item ``k`` that may lead below the best error.

        The hot loop of the search: :func:`cash_use` and :func:`error_at` are written out
        inline (the same arithmetic, so the same answers). The bound that prunes a holding
        is the relaxation of the items after it: the least error they reach with the cash
        left, each taking its moves in order of error saved per dollar and the last move
        a fraction (``cum_cost`` and ``cum_gain`` hold the running sums).
        """
        chosen = self.chosen
        # The last item's best holding is found directly; the leaf is there.
        if k == len(chosen) - 1:
            self._last(k, cash, error)
            return
        start, desired, _, _, _, _, value, _ = self.items[k]
        points, moves = self.points[k], self.moves[k]
        grow, shrink, fixed = 1.0 + self.rate, 1.0 - self.rate, self.fixed
        steepest, reserve = self.steepest[k + 1], self.base_cash[k + 1]
        costs, gains = self.cum_cost[k + 1], self.cum_gain[k + 1]
        floor_error = self.base_error[k + 1]
        least = floor_error - (gains[-1] if costs else 0.0)  # every item left at its best
        ends = len(costs)
        search, bisect_left = self.search, bisect.bisect_left
        for at in range(len(points) - 1, -1, -1):
            first = points[at]
            units = 0
            if at < len(moves) and moves[at][0] > 1:
                # A run from ``first`` up: its holdings top first, ``first`` itself last.
                count, step, dc, de, _ = moves[at]
                units = count - 1
                trade = (first - start) * value
                if trade > 0.0:
                    base = trade * grow + fixed
                elif trade < 0.0:
                    base = trade * shrink + fixed
                else:
                    base = 0.0
                room = cash - reserve  # what the items left may free counts too
                if dc > 0.0 and base + units * dc > room:
                    units = max(min(units, math.floor((room - base) / dc)), 0)
                # Below the target every unit given up frees less than it costs in error.
                skips = de < 0.0 and steepest * dc <= -de
            while units >= 0:
                if units:
                    holding = first + units * step
                    if skips:
                        # The bound at ``base + units * dc``: once it fails, it fails for
                        # every holding further down the run.
                        spare = cash - (base + units * dc) - reserve
                        if spare < 0.0:
                            units = 0  # not even the items left pay: on to ``first``
                            continue
                        after = error + abs(holding - desired) * value
                        position = bisect_left(costs, spare)
                        if position >= ends:
                            relaxed = least
                        else:
                            cost = costs[position - 1] if position else 0.0
                            gain = gains[position - 1] if position else 0.0
                            share = (spare - cost) / (costs[position] - cost)
                            relaxed = floor_error - gain - share * (gains[position] - gain)
                        if after + relaxed >= self.best:
                            units = 0
                            continue
                else:
                    holding = first
                units -= 1
                self.nodes += 1
                if self.nodes > _EXACT_NODES:
                    return
                trade = (holding - start) * value
                if trade > 0.0:
                    use = trade * grow + fixed
                elif trade < 0.0:
                    use = trade * shrink + fixed
                else:
                    use = 0.0
                left = cash - use
                if left < reserve:
                    continue  # even the items left freeing all they can would not pay
                after = error + abs(holding - desired) * value
                spare = left - reserve
                position = bisect_left(costs, spare)
                if position >= ends:
                    relaxed = least
                else:
                    cost = costs[position - 1] if position else 0.0
                    gain = gains[position - 1] if position else 0.0
                    share = (spare - cost) / (costs[position] - cost)
                    relaxed = floor_error - gain - share * (gains[position] - gain)
                if after + relaxed < self.best:
                    chosen[k] = holding
                    search(k + 1, left, after)

    def _last(self, k: int, cash: float, error: float) -> None:
        """The last item: its best holding within ``cash``, found directly.

        Inside a run the error moves one way, so its best holding is an end of the run
        or the highest one the cash reaches. Each point's cash and error are the same at
        every leaf: they are worked out once (:meth:`_leaf`).
        """
        if self.leaf is None:
            self.leaf = self._leaf(k)
        start, desired, value, grow, shrink, fixed, ends = self.leaf
        best = math.inf
        holding = 0.0
        for point, use, after, run in ends:
            self.nodes += 1
            if use <= cash and after < best:
                best, holding = after, point
            if run is not None:
                count, step, dc = run
                units = min(count - 1, math.floor((cash - use) / dc))
                if units > 0:
                    top = point + units * step
                    trade = (top - start) * value
                    if trade > 0.0:
                        spent = trade * grow + fixed
                    elif trade < 0.0:
                        spent = trade * shrink + fixed
                    else:
                        spent = 0.0
                    if spent <= cash:
                        reached = abs(top - desired) * value
                        if reached < best:
                            best, holding = reached, top
        if best < math.inf and error + best < self.best:
            self.chosen[k] = holding
            self.best = (error + best) * (1.0 - GAIN_EPS) - GAIN_EPS
            self.found = list(self.chosen)

    def _leaf(self, k: int) -> _Leaf:
        """The last item's points, with their cash, error and the run above each."""
        item, rate, fixed = self.items[k], self.rate, self.fixed
        points, moves = self.points[k], self.moves[k]
        ends = []
        for at, point in enumerate(points):
            run: _Run | None = None
            if at < len(moves) and moves[at][0] > 1 and moves[at][2] > 0.0:
                count, step, dc, _, _ = moves[at]
                run = (count, step, dc)
            ends.append((point, cash_use(item, point, rate, fixed), error_at(item, point), run))
        return item.start, item.desired, item.unit_value, 1.0 + rate, 1.0 - rate, fixed, ends


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

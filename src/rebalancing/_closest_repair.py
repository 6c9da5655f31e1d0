"""The greedy and exchange repair of ``Rounding.CLOSEST``: where each item stands on its path.

Pure: no I/O, clock or globals. :class:`Joint` holds every item's position on its path
(:mod:`._closest_path`) and the cash left; :func:`._closest.closest_holdings` drives it:
a greedy by error saved per dollar, exchanges that give up moves elsewhere to afford one
that saves more (:mod:`._closest_exchange`), the exact search (:mod:`._closest_search`) on
small books, and a trim of single units while float drift overdraws.

A book of at least :data:`~._closest_columns.COLUMN_ITEMS` items keeps its paths in
arrays too (:class:`~._closest_columns.Columns`): the passes over every item (where the
items stand, the cash and error of that, the first greedy, the next moves, the wanted
moves and the releases of an exchange) are numpy expressions of the same arithmetic, so
the answers are the same to the last bit, and an item's moves are made into tuples only
when a step visits it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence

import numpy as np

from ._closest_columns import COLUMN_ITEMS, Columns, Lazy, State, column_paths
from ._closest_exchange import exchange
from ._closest_path import HoldingItem, Move, paths
from ._closest_search import JointSearch
from ._units import snap_margin

__all__ = ["Joint"]

#: A move the first greedy gives back: item, move, cash, cash per unit, divisible.
_Given = tuple[int, int, float, float, bool]


class Joint:
    """Working state of the joint repair: where each item stands on its path.

    Item ``i`` holds ``points[i][at[i]] + part[i] * step`` of its move ``at[i]``: every
    earlier move is taken in full, ``part[i]`` units (a fraction if divisible) of this one.
    """

    __slots__ = (
        "at",
        "blocked",
        "budget",
        "cached",
        "columns",
        "convex",
        "fixed",
        "fresh",
        "items",
        "left",
        "moves",
        "part",
        "points",
        "rate",
        "scale",
        "settled",
        "slack",
    )

    def __init__(
        self,
        items: Sequence[HoldingItem],
        budget: float,
        rate: float,
        fixed: float,
        slack: float = 0.0,
    ) -> None:
        self.items = items
        self.rate, self.fixed, self.budget = rate, fixed, budget
        #: The float noise ``budget`` holds: whole units may spend it, a part of a
        #: divisible move may not.
        self.slack = slack
        #: Per item: the points and moves of its path, and whether its moves that lower
        #: the error come first, each saving no more per dollar than the one before
        #: (then its next moves are simply its next one).
        self.points: list[list[float]] | Lazy[list[float]]
        self.moves: list[list[Move]] | Lazy[list[Move]]
        #: A large book's paths as arrays, for the passes over every item (None when
        #: the book is small: numpy's cost per call outweighs what it saves there).
        self.columns: Columns | None = None
        #: :meth:`state` as an exchange left it, current until anything moves.
        self.cached: State | None = None
        if len(items) >= COLUMN_ITEMS:
            self.columns, bases, self.convex = column_paths(items, rate, fixed)
            base = bases[bases != 0.0].tolist()  # the sums below need no zeros
            self.points = Lazy(len(items), self.columns.points_of)
            self.moves = Lazy(len(items), self.columns.moves_of)
        else:
            self.points, self.moves, base, self.convex = paths(items, rate, fixed)
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
        #: Whether every item is at the start of its path (the greedy has not run).
        self.fresh = True

    def holding(self, index: int) -> float:
        at, part = self.at[index], self.part[index]
        points = self.points[index]
        if part == 0.0:
            return points[at]
        return points[at] + part * self.moves[index][at][1]

    def holdings(self) -> list[float]:
        """Every item's holding (:meth:`holding`, in one pass)."""
        if self.columns is not None:
            holdings: list[float] = self.columns.holdings(self.state()).tolist()
            return holdings
        return [
            points[at] if part == 0.0 else points[at] + part * moves[at][1]
            for points, moves, at, part in zip(
                self.points, self.moves, self.at, self.part, strict=True
            )
        ]

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

    def settle(self) -> State | None:
        """Undo every move that added error without saving cash (the search may leave one).

        One pass over the items, giving back what :meth:`release` would.

        Returns:
            On a large book where nothing was undone, :meth:`state` (still current).
        """
        all_at, all_part = self.at, self.part
        indices: Iterable[int] = range(len(all_at))
        if self.columns is not None:  # only the items whose last move must be undone
            state = self.state()
            indices = self.columns.unsettled(state)
            if not indices:
                return state
        for index in indices:
            moves = self.moves[index]
            at, part = all_at[index], all_part[index]
            while part > 0.0 or at > 0:
                move = at if part > 0.0 else at - 1
                count, _, dc, de, _ = moves[move]
                if de <= 0.0 or dc < 0.0:
                    break
                self.left += (part if part > 0.0 else count) * dc
                at, part = move, 0.0
            all_at[index], all_part[index] = at, part
        return None

    def state(self) -> State:
        """Where each item stands, as arrays (a large book's passes over every item).

        An exchange leaves the arrays it made when it moved nothing after making them
        (``cached``): the next pass takes them instead of making them again.
        """
        assert self.columns is not None  # noqa: S101 - large books only
        if self.cached is not None:
            state, self.cached = self.cached, None
            return state
        return self.columns.state(self.at, self.part)

    def greedy(self) -> None:
        """Take moves in order of error saved per dollar while the cash lasts.

        A convex item's next move is simply its next one: it is found inline, and when
        not one unit of it fits the item is blocked as it stands (taking part of it
        would change nothing).
        """
        state = None
        if not self.settled:
            state = self.settle()
        self.settled = False
        if self.fresh and all(self.convex):
            self.fresh = False
            self._first_greedy()
            return
        self.fresh = False
        blocked: list[int] = []
        self.blocked = blocked
        heap = self._next_moves(state)
        heapq.heapify(heap)
        at, part, all_moves, convex = self.at, self.part, self.moves, self.convex
        left = self.left
        while heap:
            _, index, last, cash = heapq.heappop(heap)
            if cash <= left:
                left -= cash
                at[index] = last + 1
                part[index] = 0.0
                moves = all_moves[index]
                if not convex[index]:
                    self.left = left
                    found = self.prefix(index)
                    if found is not None:
                        heapq.heappush(heap, (-found[0], index, found[1], found[2]))
                elif last + 1 < len(moves):
                    count, _, dc, de, _ = moves[last + 1]
                    if de < 0.0:
                        heapq.heappush(heap, (de / dc, index, last + 1, count * dc))
                continue
            if convex[index]:
                _, _, dc, _, divisible = all_moves[index][last]
                if dc > left and not divisible:
                    blocked.append(index)
                    continue
            self.left = left
            self.partial(index, last)
            left = self.left
            blocked.append(index)
        self.left = left

    def _next_moves(self, state: State | None = None) -> list[tuple[float, int, int, float]]:
        """Every item's next moves (:meth:`prefix`) as the greedy orders them.

        Args:
            state: A large book's :meth:`state`, if known to be current.

        Returns:
            (-error saved per dollar, item, last move, cash) per item that has any.
        """
        at, part, convex = self.at, self.part, self.convex
        if self.columns is not None:
            entries = self.columns.next_moves(self.state() if state is None else state)
            for index in self.columns.bent:
                found = self.prefix(index)
                if found is not None:
                    entries.append((-found[0], index, found[1], found[2]))
            return entries
        entries = []
        for index, moves in enumerate(self.moves):
            if not convex[index]:
                found = self.prefix(index)
                if found is not None:
                    entries.append((-found[0], index, found[1], found[2]))
                continue
            position = at[index]
            if position < len(moves):  # as prefix() finds it: the next move alone
                count, _, dc, de, _ = moves[position]
                if de < 0.0:
                    entries.append((de / dc, index, position, (count - part[index]) * dc))
        return entries

    def _first_greedy(self) -> None:
        """The greedy from the start of every (convex) path, worked out from the top.

        The greedy takes every move that lowers the error in one order (by error saved
        per dollar, then position), all of them while they fit: the moves it takes
        before the first that does not fit are the longest run of that order that fits.
        When the cash binds only a little, that run is most of the moves, so it is
        found from the other end: every item at the top of its moves that lower the
        error, the last moves in the order given back until the rest fits. The greedy
        then goes on through the moves given back, in order, as it would have.
        """
        if self.columns is not None:
            left, given = self._given_back(self.columns)
        else:
            left, given = self._given_back_one_by_one()
        at = self.at
        blocked: list[int] = []
        self.blocked = blocked
        stopped: set[int] = set()
        for index, move, use, dc, divisible in reversed(given):
            if index in stopped:
                continue
            if use <= left:
                left -= use
                at[index] = move + 1
                continue
            stopped.add(index)
            blocked.append(index)
            if dc <= left or divisible:
                self.left = left
                self.partial(index, move)
                left = self.left
        self.left = left

    def _given_back_one_by_one(self) -> tuple[float, list[_Given]]:
        """Every item at its top, the last moves given back until the rest fits.

        Returns:
            The cash left and the moves given back, in order.
        """
        at, all_moves = self.at, self.moves
        cash: list[float] = []
        heap: list[tuple[float, int, int, float]] = []
        for index, moves in enumerate(all_moves):
            top = 0
            for count, _, dc, de, _ in moves:
                if de >= 0.0:
                    break
                cash.append(count * dc)
                top += 1
            if top:
                at[index] = top
                count, _, dc, de, _ = moves[top - 1]
                # The order reversed: the last move first.
                heap.append((-(de / dc), -index, 1 - top, count * dc))
        heapq.heapify(heap)
        left = self.left - math.fsum(cash)
        given: list[_Given] = []
        while left < 0.0 and heap:
            _, negative, back, use = heapq.heappop(heap)
            index, move = -negative, -back
            left += use
            moves = all_moves[index]
            given.append((index, move, use, moves[move][2], moves[move][4]))
            at[index] = move
            if move:
                count, _, dc, de, _ = moves[move - 1]
                heapq.heappush(heap, (-(de / dc), negative, back + 1, count * dc))
            if left >= 0.0:
                # The running sum drifts: what is kept must fit by an exact sum (a move
                # given back too many is taken again below, as the greedy would).
                left = self.left - math.fsum([*cash, *(-move[2] for move in given)])
        return left, given

    def _given_back(self, columns: Columns) -> tuple[float, list[_Given]]:
        """:meth:`_given_back_one_by_one` on a large book, in arrays.

        The convex paths give each item's moves back last first, so the heap's order is
        simply every move that lowers the error sorted (:meth:`Columns.falling`), and
        the running cash its cumulative sum (numpy's is sequential, as the loop's).
        """
        tops, uses, rows, moves, ordered, costs, every = columns.falling()
        cash = uses.tolist()
        left = self.left - math.fsum(cash)
        taken = 0
        while left < 0.0 and taken < len(ordered):
            running = np.cumsum(np.concatenate(([left], ordered[taken:])))[1:]
            fits = np.flatnonzero(running >= 0.0)
            if not fits.size:
                left, taken = float(running[-1]), len(ordered)
                break
            taken += int(fits[0]) + 1
            # The running sum drifts: an exact sum, as above (of the moves kept: the
            # same sum as of all less those given back, exactly).
            left = self.left - math.fsum(ordered[taken:].tolist())
        rows, moves, ordered = rows[:taken], moves[:taken], ordered[:taken]
        np.minimum.at(tops, rows, moves)  # each item's last move given back
        self.at = tops.tolist()
        given = zip(
            rows.tolist(),
            moves.tolist(),
            ordered.tolist(),
            costs[:taken].tolist(),
            every[:taken].tolist(),
            strict=True,
        )
        return left, list(given)

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
                    take = max(left - self.slack, 0.0) / dc
                else:
                    take = float(math.floor(snap_margin(left / dc)))
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

        See :func:`._closest_exchange.exchange`.

        Returns:
            Whether an exchange was made.
        """
        return exchange(self)

    def trim(self) -> None:
        """Give back single units while the exact sum overdraws.

        Each time the unit that covers the overdraft for the least error (or, if none
        does, the dearest). The running cash drifts by float noise; an exchange or the
        greedy can end a few 1e-11 over the budget, which one cheap unit covers.
        """
        if self.left < 0.0:
            self.cached = None  # units move
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
            uncovered, _, index, move, units = best
            given = 1.0
            if uncovered:
                # No unit covers the overdraft: this one stays the choice until the
                # overdraft is less than a unit, so give those units back at once (a
                # book of 1e13 units would otherwise loop 1e13 times).
                cash = self.release(index, self.at[index], self.part[index])[2]  # type: ignore[index]
                given = max(min(math.ceil(-self.left / cash) - 1.0, units), 1.0)
            self.at[index], self.part[index] = move, max(units - given, 0.0)
            self.left = self.budget - self.spent()

    def spent(self) -> float:
        """Cash the current holdings use, summed exactly."""
        if self.columns is not None:
            holdings = self.columns.holdings(self.state())
            return self.columns.cash_of(holdings, self.rate, self.fixed)
        return self.cash(self.holdings())

    def cash(self, holdings: list[float]) -> float:
        """Cash the trades to ``holdings`` use (as :func:`cash_use` finds it), summed exactly."""
        grow, shrink, fixed = 1.0 + self.rate, 1.0 - self.rate, self.fixed
        trades = [
            (holding - item[0]) * item[6]  # (holding - start) * unit_value
            for item, holding in zip(self.items, holdings, strict=True)
        ]
        return math.fsum(
            [
                trade * grow + fixed if trade > 0.0 else trade * shrink + fixed
                for trade in trades
                if trade != 0.0
            ]
        )

    def error(self, state: State | None = None) -> float:
        """Distance to target of the current holdings (as :func:`error_at` finds it).

        Args:
            state: A large book's :meth:`state`, if known to be current.
        """
        if self.columns is not None:
            holdings = self.columns.holdings(self.state() if state is None else state)
            return self.columns.error_of(holdings)
        return math.fsum(
            [
                abs(holding - item[1]) * item[6]  # |holding - desired| * unit_value
                for item, holding in zip(self.items, self.holdings(), strict=True)
            ]
        )

    # -- exact search ---------------------------------------------------------------------

    def exact(self) -> None:
        """Replace the holdings by a proven optimum when the search finishes in time.

        See :class:`JointSearch`. The repair's answer is the first best, so the result
        is never worse than it.
        """
        items = self.items
        order = sorted(
            range(len(items)),
            key=lambda i: (-(items[i].increment or 0.0) * items[i].unit_value, i),
        )
        search = JointSearch(
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

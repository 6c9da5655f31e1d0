"""A large book's paths as arrays, for the passes of ``Rounding.CLOSEST``'s repair over every item.

Pure: no I/O, clock or globals. On a book of at least :data:`COLUMN_ITEMS` items the
repair (:mod:`._closest_repair`) builds its paths with :func:`column_paths`: the simple
items (whole, no fixed cost, no threshold block, no close from off the grid: most of a
large book) all at once, as :func:`._closest_path.paths` builds them one by one, the
others by the same per-item code. Besides the paths it returns :class:`Columns`, every
path padded into one array per field, so that the passes over every item (holdings,
cash, error, the nearest points, the greedy's first heap, the exchanges' releases) are
numpy expressions. The arithmetic is the per-item code's, operation for operation, and
sums stay exact (:func:`math.fsum`), so the answers are the same to the last bit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from ._closest_path import HoldingItem, Move, _item_path
from ._units import UNIT_EPS as _UNIT_EPS

__all__ = ["COLUMN_ITEMS", "Columns", "Lazy", "Releases", "State", "column_paths"]

#: Books of at least this many items keep their paths in arrays too: on fewer, numpy's
#: cost per call outweighs the per-item loops it saves (benchmarks/closest_speed.py's
#: books: the arrays win on all of them at 200 items, on few at 150).
COLUMN_ITEMS = 200
#: Steps from ``start`` beyond which an item is left to the per-item code (numpy counts
#: in int64, Python's integers have no bound).
_COLUMN_STEPS = 2.0**52
#: The float spacing at 1 (twice the unit roundoff).
_EPS = 2.0**-52

_Floats = npt.NDArray[np.float64]
_Ints = npt.NDArray[np.int64]
_Mask = npt.NDArray[np.bool_]
_T = TypeVar("_T")
#: Where each item stands (``Joint.at`` and ``Joint.part``) as arrays.
State = tuple[_Ints, _Floats]


class Columns:
    """Every item and its path as arrays: row ``i`` is item ``i``.

    ``points[i, :sizes[i] + 1]`` are its points (padded with ``inf``); ``count``,
    ``step``, ``cash`` and ``error`` its moves' fields (padded with 0, one column more
    than the longest path has moves, so a holding at the top of its path, and the move
    before the first, index -1, read 0).
    :meth:`moves_of` and :meth:`points_of` give one item's as the per-item code has them.
    """

    __slots__ = (
        "bent",
        "cash",
        "convex",
        "count",
        "desired",
        "divisible",
        "down",
        "error",
        "made_moves",
        "made_points",
        "points",
        "rows",
        "sizes",
        "split",
        "start",
        "step",
        "unit_value",
    )

    def __init__(self, table: _Floats, width: int) -> None:
        count = len(table)
        self.start, self.desired = table[:, 0], table[:, 1]
        self.down, self.unit_value = table[:, 4], table[:, 6]
        self.rows = np.arange(count)
        self.sizes: _Ints = np.zeros(count, dtype=np.int64)
        self.points: _Floats = np.full((count, width + 1), math.inf)
        self.count, self.step, self.cash, self.error = np.zeros((4, count, width + 1))
        self.divisible: _Mask = np.zeros((count, width + 1), dtype=np.bool_)
        #: Whether any move is divisible (of a fractional item).
        self.split = False
        self.convex: _Mask = np.ones(count, dtype=np.bool_)
        #: The items' moves and points made so far (:meth:`moves_of`, :meth:`points_of`).
        self.made_moves: dict[int, list[Move]] = {}
        self.made_points: dict[int, list[float]] = {}
        #: The items whose paths are not convex.
        self.bent: list[int] = []

    def place(self, rows: _Ints, slot: int | _Ints, move: tuple[_Floats, ...]) -> None:
        """Write one move (count, holding, cash and error per unit) of ``rows`` at ``slot``."""
        self.count[rows, slot], self.step[rows, slot] = move[0], move[1]
        self.cash[rows, slot], self.error[rows, slot] = move[2], move[3]

    def fill(self, row: int, points: list[float], moves: list[Move]) -> None:
        """Write one item's path, built by the per-item code."""
        self.sizes[row] = len(moves)
        self.points[row, : len(points)] = points
        for slot, (count, step, cash, error, divisible) in enumerate(moves):
            self.count[row, slot], self.step[row, slot] = count, step
            self.cash[row, slot], self.error[row, slot] = cash, error
            self.divisible[row, slot] = divisible
            self.split |= divisible

    def moves_of(self, row: int) -> list[Move]:
        """One item's moves, as :func:`._closest_path.paths` gives them (made once)."""
        moves = self.made_moves.get(row)
        if moves is None:  # (the items built one by one, divisible or not, are made)
            count, step, cash, error = (
                self.count.item,
                self.step.item,
                self.cash.item,
                self.error.item,
            )
            moves = [
                (int(count(row, j)), step(row, j), cash(row, j), error(row, j), False)
                for j in range(self.sizes.item(row))
            ]
            self.made_moves[row] = moves
        return moves

    def points_of(self, row: int) -> list[float]:
        """One item's points, as :func:`._closest_path.paths` gives them (made once)."""
        points = self.made_points.get(row)
        if points is None:
            points = self.points[row, : int(self.sizes[row]) + 1].tolist()
            self.made_points[row] = points
        return points

    # -- passes over every item -----------------------------------------------------------

    def state(self, at: list[int], part: list[float]) -> State:
        """The repair's ``at`` and ``part`` (where each item stands) as arrays."""
        count = len(at)
        return np.fromiter(at, np.int64, count), np.fromiter(part, np.float64, count)

    def holdings(self, state: State) -> _Floats:
        """Every item's holding: ``Joint.holding`` of each."""
        at_, part_ = state
        points = self.points[self.rows, at_]
        return np.where(part_ == 0.0, points, points + part_ * self.step[self.rows, at_])

    def cash_of(self, holdings: _Floats, rate: float, fixed: float) -> float:
        """Cash the trades to ``holdings`` use, summed exactly: ``Joint.cash``."""
        return math.fsum(self._uses(holdings, rate, fixed).tolist())

    def fits(self, holdings: _Floats, rate: float, fixed: float, budget: float) -> bool:
        """Whether :meth:`cash_of` ``holdings`` is within ``budget``.

        Summed exactly only near the budget: numpy's sum is off by less than ``margin``
        (the size of the sum times the unit roundoff times the number of terms), so past
        it the exact sum is on the same side of the budget by more than its float
        spacing, and rounds there too.
        """
        uses = self._uses(holdings, rate, fixed)
        total = float(uses.sum())
        margin = (len(uses) + 2) * _EPS * (float(np.abs(uses).sum()) + abs(budget))
        if abs(total - budget) > margin:
            return total < budget
        return math.fsum(uses.tolist()) <= budget

    def _uses(self, holdings: _Floats, rate: float, fixed: float) -> _Floats:
        """The cash each trade to ``holdings`` uses (``cash_use``), the trades made only."""
        trades: _Floats = (holdings - self.start) * self.unit_value
        trades = trades[trades != 0.0]
        if rate == 0.0 and fixed == 0.0:  # each use is its trade, exactly
            return trades
        uses: _Floats = np.where(
            trades > 0.0, trades * (1.0 + rate) + fixed, trades * (1.0 - rate) + fixed
        )
        return uses

    def error_of(self, holdings: _Floats) -> float:
        """Distance to target of ``holdings``, summed exactly: ``Joint.error``."""
        return math.fsum(self.errors(holdings).tolist())

    def errors(self, holdings: _Floats) -> _Floats:
        """Each item's distance to target (``error_at``) at ``holdings``."""
        errors: _Floats = np.abs(holdings - self.desired) * self.unit_value
        return errors

    @staticmethod
    def no_less(errors: _Floats, than: _Floats) -> bool:
        """Whether ``errors`` sum, exactly, to at least what ``than`` sum to.

        Summed exactly only when the two are close: numpy's sums are off by less than
        ``margin`` (as in :meth:`fits`; the errors are not negative).
        """
        total, other = float(errors.sum()), float(than.sum())
        margin = (len(errors) + 2) * _EPS * (total + other)
        if abs(total - other) > margin:
            return total > other
        return math.fsum(errors.tolist()) >= math.fsum(than.tolist())

    def nearest(self) -> _Floats:
        """Each item at the point of its path closest to target (the cheaper on a tie)."""
        rows, points, desired, top = self.rows, self.points, self.desired, self.sizes
        above = (points < desired[:, None]).sum(axis=1)  # bisect_left: the points rise
        lower = points[rows, np.maximum(above - 1, 0)]
        upper = points[rows, np.minimum(above, top)]
        cheaper = (above > 0) & (desired - lower <= upper - desired)
        return np.where(above > top, points[rows, top], np.where(cheaper, lower, upper))

    def no_closer(self, holdings: _Floats) -> bool:
        """Whether every item of ``holdings`` is at least as close to target as DOWN's."""
        desired = self.desired
        return bool(np.all(np.abs(holdings - desired) <= np.abs(self.down - desired)))

    def falling(self) -> tuple[_Ints, _Floats, _Ints, _Ints, _Floats, _Floats, _Mask]:
        """Every move at the start of a path that lowers the error, for the first greedy.

        Returns:
            How many such moves each item has, their cash (count times cash per unit,
            item after item), and their items, positions and cash in the order the
            first greedy gives them back: by error saved per dollar, the item's position
            reversed, the last move first (the heap's tuples, ``Joint._first_greedy``),
            with their cash per unit and whether each is divisible.
        """
        leading = np.logical_and.accumulate(self.error < 0.0, axis=1)
        rows, moves = np.nonzero(leading)
        # Reversed, ties stay the later item first, its later move first: a stable sort.
        rows, moves = rows[::-1], moves[::-1]
        cash = self.cash[rows, moves]
        uses = self.count[rows, moves] * cash
        order = np.argsort(-(self.error[rows, moves] / cash), kind="stable")
        rows, moves = rows[order], moves[order]
        every = self.divisible[rows, moves] if self.split else np.zeros(len(rows), np.bool_)
        return leading.sum(axis=1), uses, rows, moves, uses[order], cash[order], every

    def unsettled(self, state: State) -> list[int]:
        """Items whose last move taken adds error without saving cash (``Joint.settle``)."""
        at_, part_ = state
        inside = part_ > 0.0
        move = np.where(inside, at_, at_ - 1)
        # An item at the start of its path reads the padding (move -1): no error, passed.
        cash, error = self.cash[self.rows, move], self.error[self.rows, move]
        return np.flatnonzero((error > 0.0) & (cash >= 0.0)).tolist()

    def next_moves(self, state: State) -> list[tuple[float, int, int, float]]:
        """``Joint._next_moves`` of the convex items: each one's next move, if it saves."""
        at_, part_ = state
        error = self.error[self.rows, at_]
        rows = np.flatnonzero(self.convex & (at_ < self.sizes) & (error < 0.0))
        at_ = at_[rows]
        cash = self.cash[rows, at_]
        uses = (self.count[rows, at_] - part_[rows]) * cash
        saved = (error[rows] / cash).tolist()
        return list(zip(saved, rows.tolist(), at_.tolist(), uses.tolist(), strict=True))

    def wanted(
        self, state: State, blocked: list[int], left: float
    ) -> tuple[list[tuple[float, int, int, float]], list[int]]:
        """``Joint.exchange``'s wanted moves of the blocked convex items; the other items.

        A convex item's next moves are its next one (``Joint.prefix``): wanted when it
        lowers the error and costs more than ``left``, as (error saved, item, move,
        cash).
        """
        every = np.array(blocked)
        bent = ~self.convex[every]
        rows = every[~bent] if self.bent else every
        at_, part_ = state[0][rows], state[1][rows]
        inside = at_ < self.sizes[rows]
        at_ = np.where(inside, at_, 0)
        error = self.error[rows, at_]
        units = self.count[rows, at_] - part_
        cash, saved = units * self.cash[rows, at_], -(units * error)
        keep = inside & (error < 0.0) & (cash > left)
        wanted = zip(
            saved[keep].tolist(),
            rows[keep].tolist(),
            at_[keep].tolist(),
            cash[keep].tolist(),
            strict=True,
        )
        others: list[int] = every[bent].tolist() if self.bent else []
        return list(wanted), others

    def releases(self, state: State) -> Releases:
        """``Joint.exchange``'s releases: each item's last move taken, if undoing it frees cash.

        Sorted as their tuples sort (:class:`Releases`).
        """
        at_, part_ = state
        inside = part_ > 0.0
        move = np.where(inside, at_, at_ - 1)
        cash = self.cash[self.rows, move]
        rows = np.flatnonzero(cash > 0.0)  # (the start of a path reads the padding: no cash)
        move, cash = move[rows], cash[rows]
        added = -self.error[rows, move]
        key = added / cash
        order = np.argsort(key, kind="stable")  # as the tuples sort: the items rise
        rows, move, cash, added = rows[order], move[order], cash[order], added[order]
        units = np.where(inside[rows], part_[rows], self.count[rows, move])
        every = self.divisible[rows, move] if self.split else np.zeros(len(rows), np.bool_)
        return Releases((key[order], rows, move, units, cash, added, every))


class Releases:
    """A large book's releases, sorted, made into tuples a block at a time (:meth:`more`).

    Each is (error added per dollar freed, item, move, units, cash per unit, error added
    per unit, divisible), as ``Joint.exchange`` makes them; the walks read the first few
    in order (often a dozen of hundreds), so most are never made.
    """

    __slots__ = ("chunks", "fields", "made")

    def __init__(self, fields: tuple[npt.NDArray[Any], ...]) -> None:
        self.fields = fields
        #: The releases made so far, in order.
        self.chunks: list[tuple[float, int, int, float, float, float, bool]] = []
        self.made = 0

    def more(self) -> bool:
        """Make the next block of releases (as many as are made already, at least 16).

        Returns:
            Whether there were any left to make.
        """
        made = self.made
        if made == len(self.fields[0]):
            return False
        end = made + max(made, 16)
        self.chunks += zip(*(field[made:end].tolist() for field in self.fields), strict=True)
        self.made = min(end, len(self.fields[0]))
        return True


class Lazy(Generic[_T]):
    """A read-only list of ``count`` values, each made by ``make(index)`` when asked for."""

    __slots__ = ("count", "make")

    def __init__(self, count: int, make: Callable[[int], _T]) -> None:
        self.count, self.make = count, make

    def __getitem__(self, index: int) -> _T:
        if not 0 <= index < self.count:
            raise IndexError(index)
        return self.make(index)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[_T]:
        return map(self.make, range(self.count))


def column_paths(
    items: Sequence[HoldingItem], rate: float, fixed: float
) -> tuple[Columns, _Floats, list[bool]]:
    """:func:`._closest_path.paths` of a large book as :class:`Columns`.

    The simple items (see the module docstring) are built column by column, in the
    arithmetic of ``_grid``, ``_buy_path`` and ``_sell_path``; the others one by one.

    Returns:
        The paths, the cash each first point uses and whether each path is convex.
    """
    count = len(items)
    # A fractional item's increment, None, reads NaN.
    flat = np.fromiter(itertools.chain.from_iterable(items), np.float64, 8 * count)
    table = flat.reshape(count, 8)
    start, desired, low, high, _, increment, unit_value, min_value = table.T
    fractional = np.isnan(increment)
    whole = ~fractional if fractional.any() else None
    if whole is not None:
        increment = np.where(whole, increment, 1.0)
    # _grid(), every item at once.
    gap, below = _snapped((desired - start) / increment)
    k_low = np.where(low < start, np.rint((low - start) / increment), 0.0)
    k_high = np.where(high > start, np.rint((high - start) / increment), 0.0)
    step = increment * unit_value
    simple = (min_value <= step) & ((k_low == 0.0) | (k_high == 0.0))
    sells_all = (low == 0.0) & (start > 0.0)
    if sells_all.any():
        k_all = _snapped(-start / increment)[1] + 1.0
        on_grid = start + (k_all - 1.0) * increment >= 0.0
        k_low = np.where(sells_all, np.where(on_grid, k_all - 1.0, k_all), k_low)
        closes = sells_all & (start * unit_value >= min_value) & ~on_grid
        simple = (min_value <= step) & ~closes & ((k_low == 0.0) | (k_high == 0.0))
    if whole is not None:
        simple &= whole
    if fixed != 0.0:
        simple[:] = False
    if count and max(np.abs(gap).max(), -k_low.min(), k_high.max()) >= _COLUMN_STEPS:
        simple &= np.maximum(np.abs(gap), np.maximum(-k_low, k_high)) < _COLUMN_STEPS
    buys = np.flatnonzero(simple & (k_low == 0.0))
    sells = np.flatnonzero(simple & (k_low != 0.0))
    others = np.flatnonzero(~simple).tolist()
    built = {row: _item_path(items[row], rate, fixed) for row in others}
    width = max(3, *(len(path[1]) for path in built.values())) if built else 3
    columns = Columns(table, width)
    bases = np.zeros(count)
    convexes = np.ones(count, dtype=np.bool_)
    fields = np.array((start, increment, step, gap, below, k_high, k_low, unit_value))
    if buys.size:
        convexes[buys] = _buys(columns, buys, fields[:, buys], rate)
    if sells.size:
        bases[sells], convexes[sells] = _sells(columns, sells, fields[:, sells], rate)
    for row, path in built.items():
        columns.fill(row, path[0], path[1])
        columns.made_points[row], columns.made_moves[row] = path[0], path[1]
        bases[row], convexes[row] = path[2], path[3]
    columns.convex = convexes
    columns.bent = np.flatnonzero(~convexes).tolist()
    return columns, bases, convexes.tolist()


def _snapped(ratio: _Floats) -> tuple[_Floats, _Floats]:
    """``_closest_path._snapped`` of every ratio: the ratios snapped, and their floors."""
    below = np.floor(ratio)
    # As the scalar code: the ratio's size above 1 or below -1, else 1.
    tolerance = _UNIT_EPS * np.maximum(np.abs(ratio), 1.0)
    down = ratio - below <= tolerance
    up = ~down & (below + 1.0 - ratio <= tolerance)
    below += up
    return np.where(down | up, below, ratio), below


def _buys(columns: Columns, rows: _Ints, fields: _Floats, rate: float) -> _Mask:
    """``_buy_path`` of every simple buy, written into ``columns``: whether each is convex.

    ``fields``: per buy (a column each), its start, increment, the value of one, the
    target and the last step at or below it in increments from start, and the highest.

    A run up to the target and the round-up (two moves), one of them, or nothing.
    """
    start, increment, step, gap, below, k_high, _, _ = fields
    cost = step * (1.0 + rate)
    bulk = np.where(below < k_high, below, k_high)
    single = bulk < 1.0  # no run up to the target: the round-up alone, or nothing
    top = start + k_high * increment
    first = np.where(single, top, start + bulk * increment)
    counts = np.where(single, 1.0, bulk)
    errors = np.where(single, (np.abs(gap - k_high) - np.abs(gap)) * step, -step)
    round_up = (np.abs(gap - k_high) - np.abs(gap - bulk)) * step
    two = ~single & (k_high != bulk)
    none = single & (k_high < 1.0)
    # As :func:`._closest_path.convex` finds it: the round-up saves no more per dollar.
    is_convex: _Mask = ~two | (round_up >= 0.0) | (-round_up / cost <= step / cost)
    columns.sizes[rows] = np.where(none, 0, np.where(two, 2, 1))
    columns.points[rows, 0] = start
    columns.points[rows[~none], 1] = first[~none]
    columns.points[rows[two], 2] = top[two]
    columns.place(rows[~none], 0, (counts[~none], increment[~none], cost[~none], errors[~none]))
    columns.place(rows[two], 1, (np.ones(two.sum()), increment[two], cost[two], round_up[two]))
    return is_convex


def _sells(columns: Columns, rows: _Ints, fields: _Floats, rate: float) -> tuple[_Floats, _Mask]:
    """``_sell_path`` of every simple sell, written into ``columns``: bases and convexity.

    ``fields`` as :func:`_buys` takes them, with the lowest step and the unit value.

    A run up to the target from the lowest holding, the part above it (each may be
    missing) and the jump back to not trading.
    """
    start, increment, step, gap, below, _, k_low, unit_value = fields
    cost = step * (1.0 - rate)
    top = np.minimum(-1.0, below + 1.0)
    bulk = np.minimum(below, top)
    run = bulk > k_low
    at = np.where(run, bulk, k_low)
    above = top > at
    rise = np.where(top == at + 1.0, (np.abs(gap - top) - np.abs(gap - at)) * step, step)
    top_at = np.where(above, top, at)
    back = (np.ones(len(rows)), -top_at * increment, -top_at * cost)
    back_error = (np.abs(gap) - np.abs(gap - top_at)) * step
    lowest = start + k_low * increment
    middle, upper = start + at * increment, start + top_at * increment
    trade = (lowest - start) * unit_value
    bases = np.where(trade < 0.0, trade * (1.0 - rate), 0.0)
    slots = ((run, cost, -step), (above, cost, rise), (np.ones_like(run), back[2], back_error))
    # Moves and points in order: the run (if any), the part above (if any), the jump back.
    second, last = run.astype(np.int64), run.astype(np.int64) + above
    columns.sizes[rows] = last + 1
    columns.points[rows, 0] = lowest
    columns.points[rows[run], 1] = middle[run]
    columns.points[rows[above], second[above] + 1] = upper[above]
    columns.points[rows, last + 1] = start
    columns.place(rows[run], 0, ((bulk - k_low)[run], increment[run], cost[run], -step[run]))
    columns.place(
        rows[above], second[above], ((top - at)[above], increment[above], cost[above], rise[above])
    )
    columns.place(rows, last, (*back, back_error))
    return bases, _convex(slots)


def _convex(slots: Sequence[tuple[_Mask, _Floats, _Floats]]) -> _Mask:
    """:func:`._closest_path.convex` of every item, from its moves' (present, cash, error)."""
    result = np.ones(len(slots[0][0]), dtype=np.bool_)
    ratio = np.full(len(result), math.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for present, cash, error in slots:
            rising = error >= 0.0
            saves = -error / cash
            result &= ~(present & ~rising & ((cash <= 0.0) | (saves > ratio)))
            ratio = np.where(present, np.where(rising, -1.0, saves), ratio)
    return result

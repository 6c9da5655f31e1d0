"""The exchanges of ``Rounding.CLOSEST``'s repair: give up moves to afford one that saves more.

Pure: no I/O, clock or globals. :meth:`._closest_repair.Joint.exchange` runs
:func:`exchange` on itself after each greedy: the moves that did not fit and would lower
the error most are each tried against walks that free their cash for the least error
added (:func:`_walk`), the best that gains is made, and the cash is summed exactly again.
A large book's wanted moves and releases come from its arrays
(:class:`~._closest_columns.Columns`), sorted; a small book's releases are a heap.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ._closest_search import EXACT_ITEMS
from ._units import GAIN_EPS
from ._units import UNIT_EPS as _UNIT_EPS

if TYPE_CHECKING:
    from ._closest_columns import Releases, State
    from ._closest_repair import Joint

__all__ = ["exchange"]

#: How many of the most valuable moves that do not fit an exchange tries to afford:
#: on small books, and past :data:`EXACT_ITEMS` items (where every walk costs
#: a pass over them, and cheap units leave little cash idle).
_WANTED = 16
_WANTED_LARGE = 4
#: Blocked items from which a large book finds their next moves in arrays (on fewer,
#: numpy's cost per call outweighs the per-item code).
_MANY_BLOCKED = 32
#: A move an item can give up: (error added per dollar freed, item, move, units, cash
#: freed per unit, error added per unit, divisible).
_Release = tuple[float, int, int, float, float, float, bool]
_Floats = npt.NDArray[np.float64]


def exchange(joint: Joint) -> bool:
    """Give up moves elsewhere to afford one that lowers the error more.

    Args:
        joint: The repair, after a greedy (its blocked items are the moves wanted).

    Returns:
        Whether an exchange was made.
    """
    if not joint.blocked:
        return False
    blocked: Iterable[int] = joint.blocked
    wanted: list[tuple[float, int, int, float]] = []
    state = None
    if joint.columns is not None:
        state = joint.state()
        if len(joint.blocked) >= _MANY_BLOCKED:  # the convex items' next moves at once
            wanted, blocked = joint.columns.wanted(state, joint.blocked, joint.left)
    for index in blocked:
        found = joint.prefix(index)
        if found is not None and found[2] > joint.left:
            wanted.append((-found[3], index, found[1], found[2]))
    if not wanted:
        joint.cached = state
        return False
    large = len(joint.items) > EXACT_ITEMS
    wanted = heapq.nlargest(_WANTED_LARGE if large else _WANTED, wanted)
    # Releases in order of error added per dollar freed, each item's last move first:
    # a large book's sorted in arrays, a small book's a heap (copied for each walk).
    releases, heap = None, []
    if joint.columns is not None and state is not None:
        releases = joint.columns.releases(state)
    else:
        heap = _release_heap(joint)
    best: tuple[float, int, int, float, dict[int, tuple[int, float]]] | None = None
    for gain, target, last, cost in wanted:
        if best is not None and gain <= best[0]:
            break
        walked = _walk(joint, releases, list(heap), cost - joint.left, target, gain)
        if walked is None:
            continue
        loss, levels, freed = walked
        net = gain - loss
        if net > GAIN_EPS * max(gain, 1.0) and (best is None or net > best[0]):
            best = (net, target, last, cost - freed, levels)
    if best is None:
        joint.cached = state
        return False
    _, target, last, _, levels = best
    before = (list(joint.at), list(joint.part), joint.left)
    if joint.columns is not None and state is not None:
        errors = joint.columns.errors(joint.columns.holdings(state))
    else:
        error = joint.error()
    levels[target] = (last + 1, 0.0)
    for index, (at, part) in levels.items():
        joint.at[index], joint.part[index] = at, part
    if joint.columns is not None and state is not None:
        worse = joint.columns.no_less(_fit_columns(joint, state, levels), errors)
    else:
        worse = _fit(joint) >= error
    if joint.left < 0.0 or worse:
        # Float noise left it over budget, and what it gave back lost the gain.
        joint.at, joint.part, joint.left = before[0], before[1], before[2]
        joint.cached = state
        return False
    return True


def _release_heap(joint: Joint) -> list[_Release]:
    """Every item's last move taken, if undoing it frees cash, as a heap."""
    chunks: list[_Release] = []
    for index, (moves, at, part) in enumerate(zip(joint.moves, joint.at, joint.part, strict=True)):
        if part > 0.0:  # the move it stands inside: the units of it taken
            _, _, dc, de, divisible = moves[at]
            units = part
        elif at > 0:  # the last move taken in full
            at -= 1  # noqa: PLW2901 - the move given up
            count, _, dc, de, divisible = moves[at]
            units = float(count)
        else:
            continue
        if dc > 0.0:  # undoing it frees cash
            chunks.append((-de / dc, index, at, units, dc, -de, divisible))
    heapq.heapify(chunks)
    return chunks


def _fit(joint: Joint) -> float:
    """Sum the cash left exactly and :meth:`Joint.trim` while it overdraws: the error then."""
    joint.left = joint.budget - joint.spent()
    joint.trim()
    return joint.error()


def _fit_columns(joint: Joint, state: State, moved: dict[int, tuple[int, float]]) -> _Floats:
    """:func:`_fit` of a large book: each item's error then.

    Args:
        joint: The repair, its items moved.
        state: :meth:`Joint.state` before the items ``moved`` moved.
        moved: The items an exchange moved, and where to.
    """
    assert joint.columns is not None  # noqa: S101 - large books only
    at, part = state[0].copy(), state[1].copy()
    rows = list(moved)
    at[rows] = [moved[row][0] for row in rows]
    part[rows] = [moved[row][1] for row in rows]
    holdings = joint.columns.holdings((at, part))
    joint.left = joint.budget - joint.columns.cash_of(holdings, joint.rate, joint.fixed)
    if joint.left >= 0.0:  # nothing to trim: the holdings stand
        joint.cached = (at, part)
        return joint.columns.errors(holdings)
    joint.trim()
    return joint.columns.errors(joint.columns.holdings(joint.state()))


def _walk(  # noqa: PLR0915, PLR0917 - the exchanges' hot loop, written out
    joint: Joint,
    releases: Releases | None,
    pushed: list[_Release],
    need: float,
    skip: int,
    gain: float,
) -> tuple[float, dict[int, tuple[int, float]], float] | None:
    """Free ``need`` for the least error: (error added, new states, cash freed).

    Moves are undone in order of error added per dollar freed; the last one is the
    one that completes the need for the least error (a big cheap move can free far
    more than is missing, a dearer small one just enough). None when no way of
    freeing ``need`` adds less error than ``gain``. The releases (each item's last
    move taken) are a large book's sorted ``releases`` or a small book's heap
    ``pushed``, which the moves before join as they come.
    """
    freed = loss = 0.0
    levels: dict[int, tuple[int, float]] = {}
    all_moves = joint.moves
    best: tuple[float, dict[int, tuple[int, float]], float] | None = None
    chunks: list[_Release] = [] if releases is None else releases.chunks
    position, end = 0, len(chunks)
    lack = need  # need - freed
    bound = gain  # the error to beat: gain, then the best total found
    while True:
        if position == end and releases is not None and releases.more():
            end = len(chunks)
        if pushed and (position == end or pushed[0] < chunks[position]):
            key, index, move, units, dc, added, divisible = heapq.heappop(pushed)
        elif position < end:
            key, index, move, units, dc, added, divisible = chunks[position]
            position += 1
        else:
            break
        if index == skip:
            continue
        if loss + lack * key >= bound:
            break  # every later chunk adds at least this much per dollar: no better
        if units * dc >= lack:
            take = lack / dc
            if not divisible:  # whole units: as many as cover the lack
                # snap_margin() written out (take > 0): this loop is hot.
                whole = round(take)
                if abs(take - whole) <= _UNIT_EPS * (max(1.0, take)):
                    take = float(whole)
                else:
                    take = float(math.ceil(take))
            if take > units:  # noqa: PLR1730 - cheaper than min() in this loop
                take = units
            total = loss + take * added
            if total < bound:
                completed = dict(levels)
                completed[index] = (move, units - take)
                best = (total, completed, freed + take * dc)
                bound = total
            continue
        freed += units * dc
        lack = need - freed
        loss += units * added
        levels[index] = (move, 0.0)
        if loss >= gain:
            break
        if move > 0:  # the move before, given up next (if undoing it frees cash)
            count, _, dc, de, divisible = all_moves[index][move - 1]
            if dc > 0.0:
                release = (-de / dc, index, move - 1, float(count), dc, -de, divisible)
                heapq.heappush(pushed, release)
    return best

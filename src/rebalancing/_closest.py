"""Whole-unit holdings closest to target within a cash budget (``Rounding.CLOSEST``).

Pure: no I/O, clock or globals. The planner calls :func:`closest_holdings` when the
holdings nearest the targets do not fit the cash it may spend: it repairs sells and buys
together. The steps live beside it: paths in :mod:`._closest_path`, the greedy and
exchanges in :mod:`._closest_repair`, the exact search in :mod:`._closest_search`; a
large book (:data:`~._closest_columns.COLUMN_ITEMS` items or more) also keeps its paths in
arrays (:mod:`._closest_columns`) for the passes over every item, with the same answers.

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
4. with at most :data:`EXACT_ITEMS` (40) items, all whole, a branch and bound over the
   holdings, starting from the repair's answer (so it can only improve on it) and
   pruning with the convex relaxation, proves the optimum unless it runs out of its
   node budget, then the best found stands;
5. the cash is summed exactly and single units are given back while float drift
   overdraws; if ``Rounding.DOWN``'s holdings are as close, they are the answer.

Ties are broken by the item's position, so the same items give the same answer.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Sequence

from ._closest_path import HoldingItem, cash_use, error_at
from ._closest_repair import Joint
from ._closest_search import EXACT_ITEMS
from ._units import GAIN_EPS, snap_whole, water_level

__all__ = ["HoldingItem", "closest_holdings"]

#: Exchanges tried after the greedy; each strictly lowers the error.
_EXCHANGES = 24
#: Cash left, relative to the budget, above which float drift cannot overdraw.
_DRIFT = 1e-7


def _down_holdings(
    items: Sequence[HoldingItem], budget: float, rate: float, fixed: float, slack: float = 0.0
) -> list[float]:
    """What ``Rounding.DOWN`` funds: sells to ``down``, buys truncated and water-filled.

    Fractional buys leave ``budget``'s float ``slack`` unspent, as DOWN's do. Buys are
    dropped by DOWN's rule (:func:`~._funding._water_fill`): first those that the whole
    budget could not fund alone, then as few of the smallest as it takes for the rest to
    be bought (two equal buys that do not both fit: the first is bought, not neither).
    """
    holdings = [min(item.start, item.down) for item in items]
    spent = math.fsum(
        cash_use(item, h, rate, fixed) for item, h in zip(items, holdings, strict=True)
    )
    left = budget - spent

    def bought(index: int, amount: float) -> float:
        """The buy of ``items[index]`` worth at most ``amount``, or 0 when not sent."""
        item = items[index]
        quantity = amount / item.unit_value if amount > 0.0 else 0.0
        if item.increment is not None:
            quantity = math.floor(snap_whole(quantity / item.increment)) * item.increment
        return quantity if quantity > 0.0 and quantity * item.unit_value >= item.min_value else 0.0

    def fill(wants: list[tuple[float, int]]) -> list[float]:
        values = [value for value, _ in wants]
        level = water_level(values, left, rate, fixed)
        exact = water_level(values, left - slack, rate, fixed) if slack else level
        return [
            bought(index, value - (level if items[index].increment is not None else exact))
            for value, index in wants
        ]

    alone = (left - fixed) / (1.0 + rate)
    wants = sorted(
        (
            ((item.down - item.start) * item.unit_value, index)
            for index, item in enumerate(items)
            if item.down > item.start
        ),
        key=lambda want: (-want[0], want[1]),
    )
    wants = [(value, index) for value, index in wants if bought(index, min(value, alone)) > 0.0]
    quantities = fill(wants)
    short = [k for k, quantity in enumerate(quantities) if quantity == 0.0]
    if short:
        # Dropping a buy frees cash for the rest: the fewest smallest, by bisection.
        def without(count: int) -> list[tuple[float, int]]:
            gone = set(short[len(short) - count :])
            return [want for k, want in enumerate(wants) if k not in gone]

        low, high = 1, len(short)
        while low < high:
            middle = (low + high) // 2
            if all(fill(without(middle))):
                high = middle
            else:
                low = middle + 1
        wants = without(low)
        quantities = fill(wants)
    for (_, index), quantity in zip(wants, quantities, strict=True):
        if quantity > 0.0:
            holdings[index] = items[index].start + quantity
    return holdings


def closest_holdings(
    items: Sequence[HoldingItem],
    budget: float,
    *,
    cost_rate: float,
    cost_per_order: float,
    slack: float = 0.0,
) -> list[float]:
    """Final holdings closest to target that fit ``budget``: sells and buys together.

    Minimises ``sum_i |h_i - desired_i| * unit_value_i`` over holdings ``h_i`` between
    ``low_i`` and ``high_i`` (``start_i`` plus whole increments, or 0), each trade worth
    at least ``min_value_i``, subject to the cash the trades use (buys ``value * (1 +
    cost_rate) + cost_per_order``, sells free ``value * (1 - cost_rate) -
    cost_per_order``) staying within ``budget``. Exact when the
    holdings nearest the targets fit, and for up to :data:`EXACT_ITEMS` whole
    items when the search ends within its node budget; otherwise a greedy by error
    saved per dollar, then exchanges. Never further from target than what
    ``Rounding.DOWN`` funds with the same budget.

    Args:
        items: The assets, in a fixed order (ties are broken by position).
        budget: Cash the trades may use in all, costs included (the sells add to it).
        cost_rate: Estimated cost per unit of traded value.
        cost_per_order: Estimated fixed cost per order.
        slack: The float noise ``budget`` holds (the planner's
            :func:`~rebalancing._units.cash_slack`): whole units may spend it, a
            fractional holding is cut to ``budget - slack``.

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
    joint = Joint(items, budget, rate, fixed, slack)
    if joint.left < 0.0:
        return _at_least_down(items, budget, _no_buys(joint), rate=rate, fixed=fixed, slack=slack)
    columns = joint.columns
    if columns is not None:  # a large book: in arrays
        near = columns.nearest()
        if columns.fits(near, rate, fixed, budget):
            nearest: list[float] = near.tolist()
            return nearest
    else:
        nearest = _nearest(joint)
        if joint.cash(nearest) <= budget:
            return nearest
    joint.greedy()
    for _ in range(_EXCHANGES):
        if not joint.exchange():
            break
        joint.greedy()
    small = len(items) <= EXACT_ITEMS
    if small and all(item.increment is not None for item in items):
        joint.exact()
        joint.greedy()
    if joint.left <= _DRIFT * joint.scale:
        joint.left = budget - joint.spent()  # the running cash may drift: sum it exactly
        joint.trim()
    no_closer = None
    if joint.left < 0.0:
        result = _no_buys(joint)
    elif columns is not None:
        held = columns.holdings(joint.state())
        result, no_closer = held.tolist(), columns.no_closer(held)
    else:
        result = joint.holdings()
    return _at_least_down(
        items, budget, result, rate=rate, fixed=fixed, slack=slack, no_closer=no_closer
    )


def _at_least_down(
    items: Sequence[HoldingItem],
    budget: float,
    result: list[float],
    *,
    rate: float,
    fixed: float,
    slack: float = 0.0,
    no_closer: bool | None = None,
) -> list[float]:
    """``result``, or DOWN's holdings if they are at least as close to target.

    On a tie DOWN's answer wins: its buys are cut evenly (water-filled), also closest in
    squared error. Like DOWN, its sells are sent whatever cash they bring, but its buys
    must fit the budget by an exact sum. ``no_closer``: whether no item of ``result``
    is closer to target than DOWN's holding, if known (a large book finds it in arrays).
    """
    if no_closer:
        return result
    if no_closer is None and all(
        abs(h - desired) <= abs(down - desired)
        for (_, desired, _, _, down, _, _, _), h in zip(items, result, strict=True)
    ):
        return result  # every item as close as DOWN's before its buys are cut: no closer
    down = _down_holdings(items, budget, rate, fixed, slack)
    if any(h > item.start for item, h in zip(items, down, strict=True)):
        uses = [cash_use(item, h, rate, fixed) for item, h in zip(items, down, strict=True)]
        if math.fsum(uses) > budget:
            return result
    error = math.fsum(error_at(i, h) for i, h in zip(items, result, strict=True))
    down_error = math.fsum(error_at(i, h) for i, h in zip(items, down, strict=True))
    if down_error <= error * (1.0 + GAIN_EPS):
        return down
    return result


def _closeness(item: HoldingItem, holding: float) -> tuple[float, float]:
    """Sort key: closest to target first, the smaller holding (spending less) on a tie."""
    return (error_at(item, holding), holding)


def _nearest(joint: Joint) -> list[float]:
    """Each item at the point of its path closest to target (the cheaper on a tie)."""
    holdings = []
    for item, points in zip(joint.items, joint.points, strict=True):
        # The points rise, so the distance to target falls, then rises: look either side.
        desired = item[1]
        above = bisect.bisect_left(points, desired)
        if above == len(points):
            holdings.append(points[-1])
        elif above and desired - points[above - 1] <= points[above] - desired:
            holdings.append(points[above - 1])
        else:
            holdings.append(points[above])
    return holdings


def _no_buys(joint: Joint) -> list[float]:
    """Every sell at its point closest to target, no buys: for a budget nothing fits.

    Sells are sent as DOWN sends them, even when a fixed cost takes more than they bring.
    """
    holdings = []
    for item, points in zip(joint.items, joint.points, strict=True):
        selling = [h for h in points if h <= item.start]
        holdings.append(min(selling, key=functools.partial(_closeness, item)))
    return holdings

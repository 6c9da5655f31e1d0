"""``Rounding.CLOSEST`` when cash binds: sells and buys repaired together.

Every buy, and every long that sells or holds at its nearest, becomes an item of one
budget problem (:func:`~rebalancing._allocation.closest_holdings`): a buy may be cut
back, a long may sell down to free cash. The answer is written back as final holdings.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ._allocation import HoldingItem, closest_holdings
from ._book import Book
from ._closest_search import EXACT_ITEMS
from ._config import RebalanceConfig, TradeDirection
from ._result import SkipReason
from ._rounding import (
    NOISE,
    SKIP,
    UNIT_EPS,
    Floats,
    Index,
    Legs,
    holding_down,
    threshold_codes,
    whole_units,
)
from ._sizing import Lines, round_trades, set_buys, with_orders

__all__ = ["fund_closest"]


def fund_closest(
    book: Book,
    config: RebalanceConfig,
    lines: Lines,
    legs: Legs,
    *,
    budget: Floats,
    slack: Floats,
    accounts: Index,
) -> Lines:
    """Repair sells and buys together to the holdings closest to target that fit.

    ``budget`` is each account's cash above its floor after every sell and kept pending
    order; ``accounts`` are those whose buys do not fit. The cash the items' sells bring
    now is taken out of the budget, since the repair chooses them again.
    closest_holdings keeps to it by an exact sum: it holds each account's float
    ``slack`` (:func:`~rebalancing._units.cash_slack`, the rule DOWN keeps to too).
    """
    binding = np.zeros(len(budget), dtype=bool)
    binding[accounts] = True
    # Accounts already below their floor only sell as before: a new sale there would only
    # lift the cash, not pay for a buy.
    funds = binding & (budget >= 0.0)
    chosen, items = _items(book, config, lines, legs, binding, funds=funds)
    rate, fixed = config.cost_rate, config.cost_per_order
    owners = book.account[chosen].tolist()
    proceeds: dict[int, list[float]] = {}
    for i, owner in zip(chosen.tolist(), owners, strict=True):
        for quantity, sign in (
            (legs.close[i], legs.close_sign[i]),
            (legs.trade[i], legs.trade_sign[i]),
        ):
            if quantity > 0.0 and sign < 0.0:
                value = float(quantity * book.unit_value[i])
                proceeds.setdefault(owner, []).append(value - (rate * value + fixed))
    holdings: list[float] = []
    deeper: list[HoldingItem] = []
    bounds = np.searchsorted(book.account[chosen], np.stack([accounts, accounts + 1]))
    for a, first, last in zip(accounts.tolist(), *bounds.tolist(), strict=True):
        mine = _deepen_sells(
            book, config, lines, chosen[first:last], items[first:last], funds=bool(funds[a])
        )
        left = float(budget[a]) - math.fsum(proceeds.get(a, ()))
        holdings.extend(
            closest_holdings(
                mine, left, cost_rate=rate, cost_per_order=fixed, slack=float(slack[a])
            )
        )
        deeper.extend(mine)
    return _set_holdings(book, config, lines, legs, chosen=chosen, items=deeper, holdings=holdings)


def _min_buy_value(config: RebalanceConfig, target: Floats, equity: Floats) -> Floats:
    """Smallest trade value the thresholds let through, per asset."""
    change = np.full(len(target), config.min_weight_change)
    if config.relative_band is not None:
        change = np.minimum(change, config.relative_band * np.abs(target))
    return np.maximum(np.maximum(config.min_trade_value, change * equity), NOISE * equity)


def _down_holding(
    book: Book, config: RebalanceConfig, lines: Lines, chosen: Index, start: Floats
) -> Floats:
    """The holdings DOWN rounds to from ``start``, or ``start`` where that is not sent.

    A targeted asset rounded to 0 is checked against the thresholds like any trade.
    """
    unit_value = book.unit_value[chosen]
    down = holding_down(start, lines.desired[chosen], book.increment[chosen])
    equity = book.equity[chosen]
    down = np.where(np.abs(down) * unit_value <= NOISE * equity, 0.0, down)
    value = np.abs(down - start) * unit_value
    due = threshold_codes(value, lines.target[chosen], equity, config) == 0
    return np.where((down == start) | ~due, start, down)


def _items(
    book: Book,
    config: RebalanceConfig,
    lines: Lines,
    legs: Legs,
    binding: npt.NDArray[np.bool_],
    *,
    funds: npt.NDArray[np.bool_],
) -> tuple[Index, list[HoldingItem]]:
    """The assets of the repair and their items; the others keep their legs.

    Buys (from the holding, or from 0 after a reversal's close) may be cut back to their
    holding; longs selling or held at their nearest may sell down to where DOWN would
    unless the plan may not sell (held ones only where ``funds``: the account is not below
    its floor already). :func:`_deepen_sells` lets both go further down.
    Shorts, closes and blocked or untargeted assets keep their legs.
    """
    chosen = np.flatnonzero(lines.active & lines.sized & binding[book.account])
    close, trade = legs.close[chosen], legs.trade[chosen]
    count = (close > 0.0).astype(int) + (trade > 0.0)
    buying = (trade > 0.0) & (legs.trade_sign[chosen] > 0.0)
    exposure, desired, final = lines.exposure[chosen], lines.desired[chosen], lines.final[chosen]
    start = np.where(buying & (count == 2), 0.0, exposure)
    down = _down_holding(book, config, lines, chosen, start)
    selling = ~buying & (start > 0.0) & (desired > 0.0) & (count <= 1)
    if config.direction is TradeDirection.BUY_ONLY:
        selling &= count > 0  # the plan may not sell
    low = np.minimum(final, down)
    # A long held at its nearest is an item too: selling it deeper may fund a buy (not
    # with orders kept working: a sell would cross a kept pending buy).
    kept = with_orders(lines.kept, chosen)
    selling &= (low < start) | ((count == 0) & ~kept & funds[book.account[chosen]])
    minimum = _min_buy_value(config, lines.target[chosen], book.equity[chosen])
    picked = buying | selling
    items = []
    for at in np.flatnonzero(picked):
        i = chosen[at]
        step = float(book.increment[i])
        first = float(start[at])
        if buying[at]:
            bounds = (first, float(final[at]), max(first, min(float(down[at]), float(final[at]))))
        else:
            bounds = (float(low[at]), first, float(down[at]))
        items.append(
            HoldingItem(
                first,
                float(desired[at]),
                *bounds,
                step or None,
                float(book.unit_value[i]),
                float(minimum[at]),
            )
        )
    return chosen[picked], items


def _deepen_sells(
    book: Book,
    config: RebalanceConfig,
    lines: Lines,
    chosen: Index,
    items: list[HoldingItem],
    *,
    funds: bool,
) -> list[HoldingItem]:
    """Let each long sell below its target by as much value as the dearest step.

    Selling below target adds error dollar for dollar, but it can pay for a step that
    saves more and does not fit in the cash left (keeping one unit of a $900 holding that
    is 0.75 units over target, say): no more than the dearest step. Longs that sell or
    hold go deeper, and so do held longs the plan buys more of, unless it may not sell
    (``BUY_ONLY``) or the account has more items than the exact search takes
    (:data:`~._closest_search.EXACT_ITEMS`): selling 1 of 2 units of $13 that want 4
    pays for a $97 unit that saves more.
    """
    dearest = max(((item.increment or 0.0) * item.unit_value for item in items), default=0.0)
    # Buys too in books the exact search covers; on larger ones cheap units leave little
    # cash idle, and a release from every buy would double the repair's time.
    may_sell = (
        funds and config.direction is not TradeDirection.BUY_ONLY and len(items) <= EXACT_ITEMS
    )
    deeper = []
    for i, item in zip(chosen.tolist(), items, strict=True):
        increment = item.increment
        # A buy may be cut below its holding too (a sell), where the plan may sell. No
        # item with orders kept working goes deeper: the sale would cross a kept pending
        # buy, or with a kept pending sell leave a short.
        free = item.start > 0.0 and not lines.kept.get(i)
        if increment is not None and free and (item.high == item.start or may_sell):
            steps = math.ceil(dearest / (increment * item.unit_value))
            low = max(item.low - steps * increment, 0.0)
            if low == 0.0:
                value = np.array([item.start * item.unit_value])
                target = lines.target[i : i + 1]
                equity = book.equity[i : i + 1]
                if threshold_codes(value, target, equity, config)[0] != 0:
                    low = item.low  # selling it all would be too small a trade
            item = item._replace(low=low)  # noqa: PLW2901 - the same item, deeper
        deeper.append(item)
    return deeper


def _set_holdings(
    book: Book,
    config: RebalanceConfig,
    lines: Lines,
    legs: Legs,
    *,
    chosen: Index,
    items: list[HoldingItem],
    holdings: list[float],
) -> Lines:
    """Give each asset the legs that reach its holding (from its item's start)."""
    buys, bought, moved, at_down = [], [], [], []
    for i, item, holding in zip(chosen.tolist(), items, holdings, strict=True):
        if item.high > item.start and holding >= item.start:  # a buy, maybe cut back
            buys.append(i)
            bought.append(max(holding - item.start, 0.0))
        elif holding == lines.final[i]:
            continue
        elif holding == item.down:
            at_down.append(i)
        else:
            moved.append((i, holding))
    if buys:
        where = np.array(buys)
        quantity = np.array(bought)
        step = book.increment[where]
        stepped = step > 0.0
        quantity[stepped] = np.round(whole_units(quantity[stepped] / step[stepped])) * step[stepped]
        lines = set_buys(lines, legs, where, quantity)
    if moved:
        final, skip = lines.final.copy(), lines.skip.copy()
        for i, holding in moved:
            final[i] = holding
        # Held where the closest holding is the position itself: the sell rounds to none.
        where = np.array([i for i, _ in moved])
        held = where[final[where] == lines.exposure[where]]
        step = book.increment[held]
        nearest = (step > 0.0) & (
            np.abs(lines.desired[held] - final[held]) <= step * (0.5 + UNIT_EPS)
        )
        skip[held[nearest]] = SKIP[SkipReason.ROUNDS_TO_ZERO]
        lines = lines._replace(final=final, skip=skip)
    if at_down:
        # Rounded as DOWN would: that also replaces a pending buy it would cross.
        where = np.array(at_down)
        final = lines.final.copy()
        final[where] = lines.exposure[where]
        lines = round_trades(book, config, lines._replace(final=final), where, down=True)
    return lines

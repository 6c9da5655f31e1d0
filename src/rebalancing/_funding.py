"""Funding: sells first, then buys only as far as cash above the floor allows.

:func:`cash_floor` is the cash the buys may not go below. :func:`fund` cuts the buys of a
:class:`~rebalancing._sizing.Lines` back when they do not fit: ``Rounding.DOWN`` by one
water level (every buy cut by the same value, the most under-weight funded first),
``Rounding.CLOSEST`` by the joint repair of :mod:`rebalancing._closest_funding`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from ._allocation import water_level
from ._book import Book
from ._closest_funding import fund_closest
from ._config import RebalanceConfig, Rounding
from ._rounding import Floats, Index, Legs, legs_of, threshold_codes, whole_units
from ._sizing import Lines, cancel_when_blocked, round_trades, set_buys
from ._snapshot import PendingOrder, Side
from ._sums import exact_sums
from ._units import cash_slack

__all__ = [
    "account_cash",
    "cash_floor",
    "fund",
    "fundable",
    "funding",
    "leg_flows",
    "pending_flows",
    "settle_pending_buys",
]


#: Share of the account a fractional buy cut by the cash leaves unspent: a broker sums a
#: fill's value and commission its own way, and the last bits differ (ml4t-backtest ended
#: a fully spent $100,000 account at -1.5e-11 of cash).
BROKER_NOISE = 1e-10


def cash_floor(book: Book, config: RebalanceConfig) -> Floats:
    """Each account's cash floor: the buys may not take its cash below it.

    The cash buffer, or what the targets imply if lower; 0 where equity is not positive.
    """
    accounts = book.accounts
    count = len(accounts.cash)
    # Holdings a sleeve leaves alone do not lower the floor: only the targets may ask to
    # borrow.
    targeted = book.targeted
    implied = 1.0 - exact_sums(book.target[targeted], book.account[targeted], count)
    floor = np.minimum(config.cash_buffer, implied)
    # A cash account never borrows, not even float noise.
    floor = np.where(accounts.margin, floor, np.maximum(floor, 0.0))
    return np.where(accounts.positive, floor * accounts.equity, 0.0)


def pending_flows(
    book: Book, config: RebalanceConfig, kept: Iterable[tuple[int, Iterable[PendingOrder]]]
) -> tuple[list[int], list[float]]:
    """Cash effect of kept working pending orders (they will fill), after their costs.

    Returns each flow's row and the flows.
    """
    rows, flows = [], []
    rate, fixed = config.cost_rate, config.cost_per_order
    for i, orders in kept:
        price, multiplier = float(book.price[i]), float(book.multiplier[i])
        for order in orders:
            value = order.quantity * order.execution_price(price) * multiplier
            rows.append(i)
            flows.append(-order.side.sign * value - (rate * value + fixed))
    return rows, flows


def leg_flows(book: Book, config: RebalanceConfig, legs: Legs, *, buys: bool) -> Floats:
    """Cash each leg brings (sells, closes) and, with ``buys``, takes, after costs.

    Two per row, the closing leg's flow and the other leg's (0 where no such leg).
    """
    rate, fixed = config.cost_rate, config.cost_per_order
    close = legs.close * book.unit_value
    trade = legs.trade * book.unit_value
    flows = np.where(legs.close > 0.0, -legs.close_sign * close - (rate * close + fixed), 0.0)
    counted = legs.trade > 0.0
    if not buys:
        counted &= legs.trade_sign < 0.0
    others = np.where(counted, -legs.trade_sign * trade - (rate * trade + fixed), 0.0)
    return np.column_stack([flows, others]).reshape(-1)


def account_cash(
    book: Book, config: RebalanceConfig, lines: Lines, legs: Legs, *, buys: bool
) -> Floats:
    """Each account's cash after its kept pending orders, legs and their estimated costs.

    ``buys``: every leg, else only sells and closes. Summed exactly.
    """
    rows, pending = pending_flows(book, config, lines.kept.items())
    account = book.account
    count = len(book.accounts.cash)
    values = np.concatenate([leg_flows(book, config, legs, buys=buys), pending])
    owners = np.concatenate([np.repeat(account, 2), account[rows]])
    return exact_sums(values, owners, count, base=book.accounts.cash)


def funding(book: Book, config: RebalanceConfig, lines: Lines) -> tuple[Floats, Legs]:
    """Each account's cash for buys, after sells, closes, kept pending orders and costs.

    Closes are never cut, so their cash counts here like a sell's (a close of a short
    takes cash).
    """
    legs = legs_of(lines.exposure, lines.final, book.increment)
    return account_cash(book, config, lines, legs, buys=False), legs


def fund(
    book: Book, config: RebalanceConfig, lines: Lines, floor: Floats
) -> tuple[Lines, Legs | None]:
    """Cut buys back so each account's projected cash stays at or above its ``floor``.

    Both modes keep to one budget: the cash above the floor plus its float noise
    (:func:`~rebalancing._units.cash_slack`), so they agree on what fits.
    Returns the lines, and their legs when funding left them as they were.
    """
    lines, available, legs = settle_pending_buys(book, config, lines, floor)
    bought = legs.bought()
    needs = np.flatnonzero(bought > 0.0)
    if not len(needs):
        return lines, legs
    values = bought[needs] * book.unit_value[needs]
    rate, fixed = config.cost_rate, config.cost_per_order
    count = len(floor)
    owners = book.account[needs]
    total = exact_sums(values + (rate * values + fixed), owners, count)
    slack = cash_slack(book.accounts.cash, book.accounts.equity)
    spare = available - floor + slack
    binding = (total > spare) & (np.bincount(owners, minlength=count) > 0)
    if not binding.any():
        return lines, legs
    accounts = np.flatnonzero(binding)
    if config.rounding is Rounding.CLOSEST:
        # CLOSEST's repair sizes longs; an account that buys back part of a short is cut
        # by DOWN's water fill instead (the repair left such a cover at float dust).
        covers = np.zeros(count, dtype=bool)
        covers[owners[lines.final[needs] < 0.0]] = True
        repaired = accounts[~covers[accounts]]
        if len(repaired):
            trial = fund_closest(
                book, config, lines, legs, budget=spare, slack=slack, accounts=repaired
            )
            # A holding the repair moves to DOWN's may cancel a kept pending sell whose
            # cash it counted (with the plan's sell it would leave a short). An account
            # that then ends below its floor is cut by DOWN's water fill instead.
            after = legs_of(trial.exposure, trial.final, book.increment)
            over = account_cash(book, config, trial, after, buys=True) < floor - slack
            if over[repaired].any():
                covers[repaired[over[repaired]]] = True
                repaired = accounts[~covers[accounts]]
                trial = (
                    fund_closest(
                        book, config, lines, legs, budget=spare, slack=slack, accounts=repaired
                    )
                    if len(repaired)
                    else lines
                )
            lines = trial
        accounts = accounts[covers[accounts]]
        if not len(accounts):
            return lines, None
    bounds = np.searchsorted(owners, np.stack([accounts, accounts + 1]))
    rows, quantities = [], []
    for a, first, last in zip(accounts.tolist(), *bounds.tolist(), strict=True):
        mine = needs[first:last]
        rows.append(mine)
        cash = (float(spare[a]), float(slack[a]))
        quantities.append(
            _water_fill(book, config, lines, mine, values=values[first:last], cash=cash)
        )
    return set_buys(lines, legs, np.concatenate(rows), np.concatenate(quantities)), None


def settle_pending_buys(
    book: Book,
    config: RebalanceConfig,
    lines: Lines,
    floor: Floats,
    *,
    short: npt.NDArray[np.bool_] | None = None,
) -> tuple[Lines, Floats, Legs]:
    """Cancel counted pending buys past the target in accounts short of their ``floor``.

    Every mode does this before its buys are sized to the cash (see
    :func:`_cancel_overshooting_buys`). ``short``: the accounts known to end short (OPTIMAL
    learns it from its answer), else those whose sells and kept orders leave less than
    the floor. Returns the lines, and each account's cash for buys with their legs
    (:func:`funding`), after the cancels.
    """
    available, legs = funding(book, config, lines)
    if short is None:
        short = available < floor
    if short.any():
        cancelled = _cancel_overshooting_buys(book, config, lines, short)
        if cancelled is not lines:
            lines = cancelled
            available, legs = funding(book, config, lines)
    return lines, available, legs


def _cancel_overshooting_buys(
    book: Book, config: RebalanceConfig, lines: Lines, short: npt.NDArray[np.bool_]
) -> Lines:
    """Cancel counted pending buys that go past the target, when cash is short.

    Overshooting by less than a trade the thresholds would send counts as at target, so
    such a pending buy is kept; but not with cash the account does not have (a dip buy of
    one unit above a fully invested cash account). A cancel is not a trade: the
    thresholds do not apply to it. Only accounts that are ``short`` of their floor.
    Returns ``lines`` itself when nothing was cancelled.
    """
    if not book.counts_pending:
        return lines
    picked = [
        i
        for i, orders in lines.kept.items()
        if lines.sized[i] and short[book.account[i]] and any(o.side is Side.BUY for o in orders)
    ]
    if not picked:
        return lines
    chosen = np.array(picked)
    legs = legs_of(lines.exposure[chosen], lines.final[chosen], book.increment[chosen])
    reached = lines.exposure[chosen] + legs.close_sign * legs.close + legs.trade_sign * legs.trade
    # The pending buys themselves go past the target (not a round-up of the plan's own,
    # which the funding cuts like any buy): the same pending orders kept in every mode.
    desired = lines.desired[chosen]
    over = (reached > desired) & (lines.exposure[chosen] > desired) & (reached > 0.0)
    if not over.any():
        return lines
    chosen = chosen[over]
    kept, cancels = dict(lines.kept), dict(lines.cancels)
    exposure, final, skip = lines.exposure.copy(), lines.final.copy(), lines.skip.copy()
    gone: dict[int, tuple[PendingOrder, ...]] = {}
    for i in chosen.tolist():
        gone[i] = tuple(o for o in kept[i] if o.side is Side.BUY)
        cancels[i] = cancels.get(i, ()) + tuple(o.order_id for o in gone[i])
        kept[i] = tuple(o for o in kept[i] if o.side is not Side.BUY)
        exposure[i] -= math.fsum(o.quantity for o in gone[i])
        final[i] = exposure[i]
        skip[i] = 0
    # Sized again from what is left: a buy it still needs is funded (or cut, and then
    # said to be cash-limited) like any other; where the direction blocks that buy
    # (SELL_ONLY), the cancels stand.
    lines = lines._replace(exposure=exposure, final=final, skip=skip, kept=kept, cancels=cancels)
    return cancel_when_blocked(round_trades(book, config, lines, chosen, down=False), gone)


def fundable(book: Book, chosen: Index, amount: Floats) -> Floats:
    """Largest buy quantities worth at most ``amount``, in whole increments."""
    quantity = amount / book.unit_value[chosen]
    step = book.increment[chosen]
    stepped = step > 0.0
    if stepped.any():
        # Snap float noise (2.9999999999999996 units) up: the budget's slack absorbs it.
        units = np.floor(whole_units(quantity[stepped] / step[stepped]))
        quantity[stepped] = units * step[stepped]
    return np.maximum(quantity, 0.0)


def _water_fill(
    book: Book,
    config: RebalanceConfig,
    lines: Lines,
    needs: Index,
    *,
    values: Floats,
    cash: tuple[float, float],
) -> Floats:
    """One account's buy quantities: every buy is cut by the same amount of value.

    The most under-weight is funded first. ``cash``: the cash the buys may use, float
    slack included, and that slack: whole units may use it; fractional buys are cut to
    the cash less :data:`BROKER_NOISE` of the account, so the broker's own arithmetic
    (a fill's value and commission, summed its way) cannot take the cash below zero.

    Minimises the distance to target (L1 and L2) for the cash there is. When cut buys
    end below a threshold or round to nothing, buys that could not be funded even alone
    are dropped, then as few of the smallest as it takes for the rest, given the cash
    they free, to be due. Ties are broken by asset name.
    """
    rate, fixed = config.cost_rate, config.cost_per_order
    budget, slack = cash
    order = np.lexsort((needs, -values))  # largest first, as water_level wants
    needs, values = needs[order], values[order]
    target, equity = lines.target, book.equity

    def due(which: Index, amount: Floats) -> npt.NDArray[np.bool_]:
        quantity = fundable(book, needs[which], amount)
        value = quantity * book.unit_value[needs[which]]
        codes = threshold_codes(value, target[needs[which]], equity[needs[which]], config)
        return np.equal(codes, 0)

    def level_of(which: Index) -> float:
        return water_level(values[which].tolist(), budget, rate, fixed)

    # A buy that is not due even with the whole budget to itself (one unit costs more)
    # can never be funded: drop it first, whatever its size.
    everyone = np.arange(len(needs))
    alone = (budget - fixed) / (1.0 + rate)
    alive = everyone[due(everyone, np.minimum(values, alone))]
    level = level_of(alive)
    short = alive[~due(alive, values[alive] - level)]
    if len(short):
        # Dropping a buy frees cash for the rest, so drop as few as will do, smallest
        # first. Whether the rest are all due only improves as more are dropped, so the
        # fewest is found by bisection: O(n log n), not one pass per drop.
        def without(count: int) -> Index:
            return np.setdiff1d(alive, short[len(short) - count :], assume_unique=True)

        low, high = 1, len(short)
        while low < high:
            middle = (low + high) // 2
            kept = without(middle)
            level = level_of(kept)
            if due(kept, values[kept] - level).all():
                high = middle
            else:
                low = middle + 1
        alive = without(low)
        level = level_of(alive)
    # Checked again at the final level: never send a buy below a threshold.
    funded = alive[due(alive, values[alive] - level)]
    wanted = np.zeros(len(needs))
    wanted[funded] = values[funded] - level
    fractional = funded[book.increment[needs[funded]] <= 0.0]
    if len(fractional):
        reserve = BROKER_NOISE * max(abs(float(equity[needs[0]])), 1.0)
        exact = water_level(values[funded].tolist(), budget - slack - reserve, rate, fixed)
        wanted[fractional] = values[fractional] - exact
        # The reserve may take a buy funded to the threshold's edge below it: none then.
        wanted[fractional[~due(fractional, wanted[fractional])]] = 0.0
    quantity = np.empty(len(needs))
    quantity[order] = fundable(book, needs, wanted)  # back in the caller's order
    return quantity

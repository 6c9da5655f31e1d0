"""The last stages: settle resting orders, then lay the plan out as columns.

:func:`settle_resting` cancels resting orders (stops, limits away from the market) that
could misfire once the plan fills. :func:`assemble` turns the final
:class:`~rebalancing._sizing.Lines` into a :class:`~rebalancing.RebalancePlan` whose
orders and decisions are :class:`PlanColumns`, built into objects only when read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ._book import ADJUSTMENTS, Book
from ._config import RebalanceConfig
from ._funding import pending_flows
from ._result import Action, Adjustment, Decision, Order, RebalancePlan, SkipReason
from ._rounding import (
    ACTIONS,
    CLOSE,
    NOISE,
    REDUCE,
    SKIP,
    SKIPS,
    UNIT_EPS,
    Floats,
    Index,
    Legs,
    legs_of,
)
from ._sizing import Lines
from ._snapshot import Side
from ._sums import exact_sums
from ._validation import integral

__all__ = [
    "Assembled",
    "PlanColumns",
    "adjustment_tuples",
    "assemble",
    "plans",
    "settle_resting",
]


def settle_resting(book: Book, config: RebalanceConfig, lines: Lines) -> Lines:
    """Cancel resting orders (stops, limits away from the market) that could misfire.

    A resting order is kept when it would only shrink the projected position (a
    stop-loss, a take-profit no larger than the position). Otherwise it is cancelled
    when the plan cancels working orders, when pending orders are counted, when the
    asset is being closed, or when it would open a short in an account that may not
    short.

    A direction blocks trades, not cancels: an asset it blocks is settled too where the
    plan may cancel its orders (pending orders counted, or a target of 0), from the
    position its kept orders leave. A take-profit buy of a short that a counted pending
    buy turns long would otherwise stay, and add to a position already at its target.
    """
    if not book.resting:
        return lines
    cancels = dict(lines.cancels)
    blocked = lines.skip == SKIP[SkipReason.DIRECTION]
    chosen = np.array(
        [
            i
            for i in book.resting
            if lines.active[i]
            or (blocked[i] and (book.counts_pending or abs(lines.target[i]) <= NOISE))
        ],
        dtype=np.intp,
    )
    if not len(chosen):
        return lines
    legs = legs_of(lines.exposure[chosen], lines.final[chosen], book.increment[chosen])
    traded = legs.close_sign * legs.close + legs.trade_sign * legs.trade
    for at, i in enumerate(chosen.tolist()):
        price = float(book.price[i])
        # Only what surely fills: a kept entry (a dip buy) may never fill, and an exit
        # sized against it could then open a short.
        sure = math.fsum(
            o.signed_quantity for o in lines.kept.get(i, ()) if o.executes_as_placed(price)
        )
        projected = book.current[i] + sure + float(traded[at])
        for order in book.resting[i]:
            if projected * order.side.sign < 0.0:
                keep = order.quantity <= abs(projected) * (1 + UNIT_EPS)
            else:
                # It would add to the projected position. Counted pending orders mean
                # the plan already reaches the target, so it would go past it (a
                # take-profit on a long that the plan reverses to short): cancelled.
                opens_short = order.side is Side.SELL and not book.can_short[i]
                keep = (
                    not config.cancel_before_rebalance
                    and not book.counts_pending
                    and not opens_short
                    and abs(lines.target[i]) > NOISE
                )
            if not keep:
                cancels[i] = (*cancels.get(i, ()), order.order_id)
    return lines._replace(cancels=cancels)


def adjustment_tuples(codes: list[int]) -> list[tuple[Adjustment, ...]]:
    """:attr:`Decision.adjustments` of each ``adjust`` code (bits of :data:`ADJUSTMENTS`)."""
    decoded = {
        code: tuple(a for bit, a in enumerate(ADJUSTMENTS) if code >> bit & 1)
        for code in set(codes)
    }
    return [decoded[code] for code in codes]


class PlanColumns(NamedTuple):
    """A plan's orders (in submission order) and per-asset decisions, as columns."""

    assets: Sequence[str]
    # One element per order: the asset (an index into ``assets``), the side (+1 buy,
    # -1 sell), the quantity, the action (an index into ``ACTIONS``) and the estimated cost.
    asset: npt.NDArray[np.intp]
    sign: Floats
    quantity: Floats
    action: npt.NDArray[np.int8]
    cost: Floats
    # One element per asset.
    price: Floats
    multiplier: Floats
    whole: npt.NDArray[np.bool_]
    current: list[float]
    pending: list[float]
    current_weight: list[float]
    requested: Floats
    target: list[float]
    projected: list[float]
    projected_weight: list[float]
    skip: npt.NDArray[np.int8]
    adjust: npt.NDArray[np.int64]
    #: Ids of the pending orders each asset cancels, by asset index.
    cancels: dict[int, tuple[str, ...]]

    def sent_quantities(self) -> list[float]:
        """Each order's quantity as sent, in submission order.

        An ``int`` for a whole-unit asset when it is a whole number (as
        :attr:`Order.quantity`), else the float: the one place that rule lives.
        """
        if not self.whole.any():  # fractional shares everywhere: the floats as they are
            quantities: list[float] = self.quantity.tolist()
            return quantities
        whole = self.whole.tolist()
        return [
            integral(quantity) if whole[i] else quantity
            for i, quantity in zip(self.asset.tolist(), self.quantity.tolist(), strict=True)
        ]

    def order_rows(self) -> list[tuple[int, Side, float, Action]]:
        """Each order as ``(asset index, side, quantity as sent, action)``, in order.

        Reads the columns with ``tolist()``, without building :class:`Order` values.
        """
        return [
            (i, Side.BUY if sign > 0 else Side.SELL, quantity, ACTIONS[action])
            for i, sign, quantity, action in zip(
                self.asset.tolist(),
                self.sign.tolist(),
                self.sent_quantities(),
                self.action.tolist(),
                strict=True,
            )
        ]

    def traded_value(self) -> float:
        """Sum of the orders' values: :attr:`RebalancePlan.traded_value`, without objects.

        Each value is ``quantity * price * multiplier`` with the quantity as sent
        (:attr:`Order.value`), summed in submission order, so the figure is the same
        float.
        """
        price = self.price.tolist()
        multiplier = self.multiplier.tolist()
        total: float = sum(
            quantity * price[i] * multiplier[i]
            for i, quantity in zip(self.asset.tolist(), self.sent_quantities(), strict=True)
        )
        return total

    def skip_reasons(self, trades: set[int] | None = None) -> list[SkipReason | None]:
        """Each asset's :attr:`Decision.skip_reason`: ``None`` when it has an order.

        Args:
            trades: The indexes of the assets that have orders, when already known.
        """
        traded = set(self.asset.tolist()) if trades is None else trades
        return [
            None if i in traded else (SKIPS[code] or SkipReason.AT_TARGET)
            for i, code in enumerate(self.skip.tolist())
        ]

    def adjustments(self) -> list[tuple[Adjustment, ...]]:
        """Each asset's :attr:`Decision.adjustments`, decoded from its ``adjust`` bits."""
        return adjustment_tuples(self.adjust.tolist())

    def build(self) -> tuple[tuple[Order, ...], tuple[Decision, ...]]:
        """The frozen :class:`Order` and :class:`Decision` values of the plan."""
        assets = self.assets
        price = self.price.tolist()
        multiplier = self.multiplier.tolist()
        by_asset: dict[int, list[Order]] = {}
        orders = []
        for (i, side, quantity, action), cost in zip(
            self.order_rows(), self.cost.tolist(), strict=True
        ):
            order = Order(
                asset=assets[i],
                side=side,
                quantity=quantity,
                price=price[i],
                action=action,
                multiplier=multiplier[i],
                estimated_cost=cost,
            )
            orders.append(order)
            by_asset.setdefault(i, []).append(order)
        decisions = []
        for i, (asset, requested, skip, adjustments) in enumerate(
            zip(
                assets,
                self.requested.tolist(),
                self.skip_reasons(set(by_asset)),
                self.adjustments(),
                strict=True,
            )
        ):
            decisions.append(
                Decision(
                    asset=asset,
                    price=None if math.isnan(price[i]) else price[i],
                    current_quantity=self.current[i],
                    pending_quantity=self.pending[i],
                    current_weight=self.current_weight[i],
                    requested_weight=None if math.isnan(requested) else requested,
                    target_weight=self.target[i],
                    orders=tuple(by_asset.get(i, ())),
                    cancels=self.cancels.get(i, ()),
                    projected_quantity=self.projected[i],
                    projected_weight=self.projected_weight[i],
                    skip_reason=skip,
                    adjustments=adjustments,
                )
            )
        return tuple(orders), tuple(decisions)


class Assembled(NamedTuple):
    """Every account's orders, decisions and figures, as columns over all of them."""

    # One element per order, sorted by account, then submission order: the row it is
    # for, its side (+1 buy, -1 sell), quantity, action code and estimated cost.
    row: Index
    sign: Floats
    quantity: Floats
    action: npt.NDArray[np.int8]
    cost: Floats
    #: The account's orders are ``order_start[a]:order_start[a + 1]``.
    order_start: Index
    # One element per row.
    pending: Floats
    current_weight: Floats
    projected: Floats
    projected_weight: Floats
    # One element per account.
    projected_cash: Floats
    estimated_costs: Floats
    turnover: Floats
    floor: Floats


def assemble(
    book: Book, config: RebalanceConfig, lines: Lines, floor: Floats, legs: Legs | None = None
) -> Assembled:
    """The plan of every account: orders in submission order, decisions and figures.

    Risk-reducing orders go before risk-increasing ones; within each, sells (which raise
    cash) first; ties by asset name. ``legs`` are the lines' legs when already known.
    """
    if legs is None:
        legs = legs_of(lines.exposure, lines.final, book.increment)
    closes = np.flatnonzero(legs.close > 0.0)
    trades = np.flatnonzero(legs.trade > 0.0)
    row = np.concatenate([closes, trades])
    sign = np.concatenate([legs.close_sign[closes], legs.trade_sign[trades]])
    quantity = np.concatenate([legs.close[closes], legs.trade[trades]])
    action = np.concatenate([np.full(len(closes), CLOSE, np.int8), legs.action[trades]])
    risky = action < REDUCE  # OPEN, INCREASE
    owner = book.account[row]
    order = np.lexsort((row, sign > 0.0, risky, owner))
    row, sign, quantity, action = row[order], sign[order], quantity[order], action[order]
    owner = owner[order]
    value = quantity * book.unit_value[row]
    cost = config.cost_rate * value + config.cost_per_order
    traded = np.zeros(len(book.assets))
    np.add.at(traded, row, sign * quantity)
    pending = np.zeros(len(book.assets))
    for i, orders in lines.kept.items():
        pending[i] = math.fsum(o.signed_quantity for o in orders)
    projected = book.current + pending + traded
    projected = np.where(np.abs(projected) <= np.abs(book.current) * UNIT_EPS, 0.0, projected)
    accounts = book.accounts
    count = len(accounts.cash)
    rows, flows = pending_flows(book, config, lines.kept.items())
    cash = exact_sums(
        np.concatenate([-sign * value - cost, flows]),
        np.concatenate([owner, book.account[rows]]),
        count,
        base=accounts.cash,
    )
    sent = quantity * book.price[row] * book.multiplier[row]
    positive = book.positive

    def weight_of(values: Floats) -> Floats:
        return np.where(positive, values / np.where(positive, book.equity, 1.0), 0.0)

    traded_value = exact_sums(sent, owner, count)
    return Assembled(
        row=row,
        sign=sign,
        quantity=quantity,
        action=action,
        cost=cost,
        order_start=np.searchsorted(owner, np.arange(count + 1)),
        pending=pending,
        current_weight=weight_of(book.current * book.unit_value),
        projected=projected,
        projected_weight=weight_of(projected * book.unit_value),
        projected_cash=cash,
        estimated_costs=exact_sums(cost, owner, count),
        turnover=np.where(
            accounts.positive, traded_value / np.where(accounts.positive, accounts.equity, 1.0), 0.0
        ),
        floor=floor,
    )


def plans(book: Book, lines: Lines, done: Assembled) -> list[RebalancePlan]:
    """One :class:`RebalancePlan` per account, its columns a slice of ``done``'s."""
    accounts = book.accounts
    starts = accounts.start.tolist()
    order_starts = done.order_start.tolist()
    cancels_by: dict[int, dict[int, tuple[str, ...]]] = {}
    for i, ids in sorted(lines.cancels.items()):
        if ids:
            cancels_by.setdefault(int(book.account[i]), {})[i] = ids
    figures = zip(
        accounts.cash.tolist(),
        accounts.equity.tolist(),
        done.projected_cash.tolist(),
        done.floor.tolist(),
        done.estimated_costs.tolist(),
        done.turnover.tolist(),
        strict=True,
    )
    result = []
    for a, (cash, equity, projected_cash, floor, costs, turnover) in enumerate(figures):
        first, last = starts[a], starts[a + 1]
        begin, end = order_starts[a], order_starts[a + 1]
        projected = done.projected[first:last]
        held = np.flatnonzero(projected != 0.0)
        names = book.assets[first:last]
        weights = done.projected_weight[first:last]
        cancels = {i - first: ids for i, ids in cancels_by.get(a, {}).items()}
        columns = PlanColumns(
            assets=names,
            asset=done.row[begin:end] - first,
            sign=done.sign[begin:end],
            quantity=done.quantity[begin:end],
            action=done.action[begin:end],
            cost=done.cost[begin:end],
            price=book.price[first:last],
            multiplier=book.multiplier[first:last],
            whole=book.whole[first:last],
            current=book.current[first:last].tolist(),
            pending=done.pending[first:last].tolist(),
            current_weight=done.current_weight[first:last].tolist(),
            requested=book.requested[first:last],
            target=lines.target[first:last].tolist(),
            projected=projected.tolist(),
            projected_weight=weights.tolist(),
            skip=lines.skip[first:last],
            adjust=lines.adjust[first:last],
            cancels=cancels,
        )
        result.append(
            RebalancePlan(
                orders=None,
                cancels=tuple(i for key in sorted(cancels) for i in cancels[key]),
                decisions=None,
                equity=equity,
                cash=cash,
                projected_cash=projected_cash,
                cash_floor=floor,
                estimated_costs=costs,
                turnover=turnover,
                projected_weights=MappingProxyType(
                    dict(
                        zip([names[i] for i in held.tolist()], weights[held].tolist(), strict=True)
                    )
                ),
                columns=columns,
            )
        )
    return result

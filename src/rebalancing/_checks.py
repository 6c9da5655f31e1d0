"""Invariant checks of a plan (the check half of :mod:`rebalancing.testing`).

:func:`check_plan` is an oracle written independently of the planner: it derives what
every invariant of DESIGN.md requires from the inputs alone and compares the plan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NoReturn, cast

import attrs

from ._config import RebalanceConfig, Rounding, TradeDirection
from ._result import Action, Order, RebalancePlan, SkipReason
from ._snapshot import PendingOrder, PortfolioSnapshot, Side

__all__ = ["check_plan"]

#: Relative float tolerance of every comparison in :func:`check_plan`.
_REL = 1e-9
#: Weight changes below this fraction of equity are noise (the core's ``NOISE``).
_NOISE = 1e-9
_LEFT_ALONE = frozenset(
    {SkipReason.NOT_TARGETED, SkipReason.DIRECTION, SkipReason.NON_POSITIVE_EQUITY}
)


def _fail(msg: str) -> NoReturn:
    raise AssertionError(msg)


def _close(a: float, b: float, scale: float = 0.0) -> bool:
    return abs(a - b) <= _REL * max(abs(a), abs(b), scale, 1e-300)


def _is_multiple(quantity: float, increment: float) -> bool:
    ratio = quantity / increment
    return abs(ratio - round(ratio)) <= 1e-6 * max(1.0, abs(ratio))


def _effective_targets(
    target_weights: Mapping[str, float], config: RebalanceConfig, *, margin: bool
) -> dict[str, float]:
    """The weights aimed at after short clamp, single cap, gross cap and cash buffer.

    A cash account (``margin=False``) never shorts and never holds more than 1.
    """
    effective: dict[str, float] = {}
    for asset, raw in target_weights.items():
        weight = float(raw)
        if weight < 0.0 and not (config.allow_short and margin):
            weight = 0.0
        if abs(weight) > config.max_single_weight:
            weight = math.copysign(config.max_single_weight, weight)
        effective[asset] = weight
    gross = math.fsum(abs(w) for w in effective.values())
    limit = config.max_gross_leverage
    if not margin:
        limit = 1.0 if limit is None else min(limit, 1.0)
    if limit is not None and gross > limit:
        effective = {asset: w * (limit / gross) for asset, w in effective.items()}
    return {asset: w * (1.0 - config.cash_buffer) for asset, w in effective.items()}


@attrs.define
class _Asset:
    """What the checker knows about one asset, from the inputs and the plan."""

    name: str
    current: float
    price: float | None
    unit_value: float
    increment: float | None
    targeted: bool
    requested: float | None
    target: float
    working: list[PendingOrder]
    resting: list[PendingOrder]
    orders: list[Order] = attrs.Factory(list)


class _Checker:
    """One run of :func:`check_plan`; every ``_check_*`` method is one invariant."""

    def __init__(
        self,
        snapshot: PortfolioSnapshot,
        targets: Mapping[str, float],
        config: RebalanceConfig,
        plan: RebalancePlan,
    ) -> None:
        self.snap, self.config, self.plan = snapshot, config, plan
        self._check_shape()
        self.targets = {asset: float(w) for asset, w in targets.items()}
        self.equity = snapshot.equity
        gross = math.fsum(abs(snapshot.value_of(asset)) for asset in snapshot.held)
        # Equity lost in the float noise of its parts counts as non-positive.
        self.positive = self.equity > max(_NOISE * (abs(snapshot.cash) + gross), _NOISE)
        fractional = config.allow_fractional
        self.fractional = snapshot.fractional if fractional is None else fractional
        self.cancelled = set(plan.cancels)
        self.pending = {order.order_id: order for order in snapshot.pending_orders}
        effective = _effective_targets(self.targets, config, margin=snapshot.margin)
        #: Shorting borrows: only a margin account may short, whatever the config says.
        self.allow_short = config.allow_short and snapshot.margin
        keeps_pending = not config.cancel_before_rebalance
        universe = set(self.targets) | set(snapshot.held)
        universe |= {order.asset for order in snapshot.pending_orders}
        self.assets: dict[str, _Asset] = {}
        for name in sorted(universe):
            price = snapshot.prices.get(name)
            lot = snapshot.lot_sizes.get(name)
            if lot is None and config.round_lots:
                lot = float(config.lot_size)
            if lot is None and not self.fractional:
                lot = 1.0
            current = snapshot.positions.get(name, 0.0)
            unit_value = 0.0 if price is None else price * snapshot.multiplier(name)
            target = effective.get(name, 0.0)
            if name not in self.targets and not config.close_untargeted and self.positive:
                target = current * unit_value / self.equity
            orders = [o for o in snapshot.pending_orders if o.asset == name]
            # Kept with the working orders (counted when they are, cash set aside either
            # way): resting entries, which add to the position if they fill (a dip buy;
            # from flat, toward the target), of an asset held at a non-zero target.
            entries = keeps_pending and name in self.targets and abs(target) > _NOISE
            toward = current if current != 0.0 else target
            working = [
                o
                for o in orders
                if price is not None
                and (o.executes_as_placed(price) or (entries and o.side.sign * toward > 0.0))
            ]
            self.assets[name] = _Asset(
                name=name,
                current=current,
                price=price,
                unit_value=unit_value,
                increment=lot,
                targeted=name in self.targets,
                requested=self.targets.get(name),
                target=target,
                working=working,
                resting=[o for o in orders if o not in working],
            )
        self.scale = max(
            1.0,
            abs(self.equity),
            abs(snapshot.cash),
            *(abs(a.current) * a.unit_value for a in self.assets.values()),
            *(o.value for o in plan.orders if isinstance(o, Order) and math.isfinite(o.value)),
        )

    def run(self) -> None:
        self._check_figures()
        self._check_orders()
        self._check_decisions()
        self._check_cancels()
        self._check_projection()
        self._check_cash_floor()
        self._check_thresholds()
        self._check_shorts()
        self._check_direction()
        self._check_closes()
        self._check_rounding_and_caps()
        self._check_kept_orders_never_overshoot()
        self._check_skip_reasons()

    # -- helpers ---------------------------------------------------------------------

    def _kept_working(self, asset: _Asset) -> list[PendingOrder]:
        return [o for o in asset.working if o.order_id not in self.cancelled]

    def _kept_resting(self, asset: _Asset) -> list[PendingOrder]:
        return [o for o in asset.resting if o.order_id not in self.cancelled]

    def _net(self, orders: list[Order]) -> float:
        return math.fsum(o.signed_quantity for o in orders)

    def _projected(self, asset: _Asset) -> float:
        """Position after the orders and every kept working pending order fill."""
        kept = math.fsum(o.signed_quantity for o in self._kept_working(asset))
        return asset.current + kept + self._net(asset.orders)

    def _counts_pending(self) -> bool:
        return not self.config.cancel_before_rebalance and self.config.account_for_pending

    def _planned(self, asset: _Asset) -> float:
        """The holding the plan aims at: orders plus the pending orders it counts."""
        if self._counts_pending():
            return self._projected(asset)
        return asset.current + self._net(asset.orders)

    def _left_alone(self, asset: _Asset) -> bool:
        decision = self._decision(asset.name)
        return decision.skip_reason in _LEFT_ALONE

    def _decision(self, name: str) -> Any:
        return self.decisions[name]

    def _qty_tol(self, asset: _Asset) -> float:
        sizes = [abs(asset.current), *(o.quantity for o in asset.orders)]
        sizes += [o.quantity for o in asset.working]
        return _REL * max([1e-12, *sizes])

    # -- invariants --------------------------------------------------------------------

    def _check_shape(self) -> None:
        plan: object = self.plan
        if not isinstance(plan, RebalancePlan):
            _fail(f"plan must be a RebalancePlan, got {type(plan).__name__}")
        for field, kind in (("orders", Order), ("decisions", object), ("cancels", str)):
            value = getattr(plan, field)
            if not isinstance(value, tuple) or not all(isinstance(v, kind) for v in value):
                _fail(f"plan.{field} must be a tuple of {kind.__name__}, got {value!r}")
        if list(plan) != list(plan.orders) or len(plan) != len(plan.orders):
            _fail("iterating the plan must give exactly plan.orders")

    def _check_figures(self) -> None:
        plan = self.plan
        for field in ("equity", "cash", "projected_cash", "cash_floor", "estimated_costs"):
            value = getattr(plan, field)
            if not isinstance(value, float | int) or not math.isfinite(value):
                _fail(f"plan.{field} must be a finite number, got {value!r}")
        if not math.isfinite(plan.turnover):
            _fail(f"plan.turnover must be finite, got {plan.turnover!r}")
        for asset, weight in plan.projected_weights.items():
            if not math.isfinite(weight):
                _fail(f"plan.projected_weights[{asset!r}] must be finite, got {weight!r}")
        if plan.equity != self.equity:
            _fail(f"plan.equity {plan.equity!r} != the snapshot's equity {self.equity!r}")
        if plan.cash != self.snap.cash:
            _fail(f"plan.cash {plan.cash!r} != the snapshot's cash {self.snap.cash!r}")
        costs = math.fsum(o.estimated_cost for o in plan.orders)
        if not _close(plan.estimated_costs, costs, self.scale):
            _fail(f"plan.estimated_costs {plan.estimated_costs!r} != sum of order costs {costs!r}")
        traded = math.fsum(o.value for o in plan.orders)
        turnover = traded / self.equity if self.positive else 0.0
        if not _close(plan.turnover, turnover, 1.0):
            _fail(f"plan.turnover {plan.turnover!r} != traded value / equity {turnover!r}")

    def _check_orders(self) -> None:
        config, snap = self.config, self.snap
        for order in self.plan.orders:
            where = f"order {order!r}"
            asset = self.assets.get(order.asset)
            if asset is None or asset.price is None:
                _fail(f"{where} trades {order.asset!r}, which is not targeted, held or pending")
            quantity = order.quantity
            if (
                isinstance(quantity, bool)
                or not isinstance(quantity, int | float)
                or not math.isfinite(quantity)
                or quantity <= 0
            ):
                _fail(f"{where}: quantity must be a finite number > 0, got {quantity!r}")
            side, action = cast("object", order.side), cast("object", order.action)
            if not isinstance(side, Side) or not isinstance(action, Action):
                _fail(f"{where}: side and action must be Side and Action members")
            if order.price != asset.price or order.multiplier != snap.multiplier(order.asset):
                _fail(f"{where}: price and multiplier must be the snapshot's for {order.asset!r}")
            cost = config.cost_rate * order.value + config.cost_per_order
            if not _close(order.estimated_cost, cost, 1.0):
                _fail(f"{where}: estimated_cost {order.estimated_cost!r} != {cost!r}")
            whole = asset.increment is not None and asset.increment == int(asset.increment)
            if whole and quantity == int(quantity) and type(quantity) is not int:
                _fail(f"{where}: a whole-unit quantity must be a Python int, got {quantity!r}")
            if order.action is not Action.CLOSE and asset.increment is not None:
                if not _is_multiple(quantity, asset.increment):
                    _fail(
                        f"{where}: quantity {quantity!r} is not a multiple of the increment "
                        f"{asset.increment!r} of {order.asset!r}"
                    )
                if whole and type(quantity) is not int:
                    _fail(f"{where}: whole-unit quantity must be a Python int, got {quantity!r}")
            asset.orders.append(order)
        keys = [
            (0 if o.action.reduces_risk else 1, 0 if o.side is Side.SELL else 1, o.asset)
            for o in self.plan.orders
        ]
        if keys != sorted(keys):
            _fail(
                "orders must be submitted risk-reducing first, then risk-increasing; sells "
                f"before buys within each; ties by asset name; got {self.plan.orders!r}"
            )
        for asset in self.assets.values():
            actions = [o.action for o in asset.orders]
            reversal = actions == [Action.CLOSE, Action.OPEN]
            if len(actions) > 1 and not (reversal and asset.orders[0].side is asset.orders[1].side):
                _fail(
                    f"{asset.name!r} has orders {asset.orders!r}: more than one order is only "
                    "allowed for a reversal (a close, then an open on the same side)"
                )

    def _check_decisions(self) -> None:
        plan = self.plan
        names = [d.asset for d in plan.decisions]
        if names != sorted(set(names)):
            _fail(f"decisions must be unique and sorted by asset, got {names!r}")
        if set(names) != set(self.assets):
            missing = sorted(set(self.assets) - set(names))
            extra = sorted(set(names) - set(self.assets))
            _fail(
                "every targeted, held or pending asset needs exactly one decision: "
                f"missing {missing!r}, unexpected {extra!r}"
            )
        self.decisions = {d.asset: d for d in plan.decisions}
        flattened = [o for d in plan.decisions for o in d.orders]
        if sorted(map(repr, flattened)) != sorted(map(repr, plan.orders)):
            _fail("the decisions' orders must be exactly the plan's orders")
        for name, asset in self.assets.items():
            decision = self.decisions[name]
            where = f"decision for {name!r}"
            if list(decision.orders) != asset.orders:
                _fail(f"{where}: orders {decision.orders!r} != the plan's {asset.orders!r}")
            if (decision.skip_reason is None) != bool(decision.orders):
                _fail(
                    f"{where}: skip_reason must be None exactly when the asset trades, got "
                    f"{decision.skip_reason!r} with {len(decision.orders)} orders"
                )
            reason = cast("object", decision.skip_reason)
            if reason is not None and not isinstance(reason, SkipReason):
                _fail(f"{where}: skip_reason must be a SkipReason, got {decision.skip_reason!r}")
            if decision.current_quantity != asset.current or decision.price != asset.price:
                _fail(f"{where}: current quantity and price must be the snapshot's")
            if decision.requested_weight != asset.requested:
                _fail(
                    f"{where}: requested_weight {decision.requested_weight!r} != "
                    f"the target {asset.requested!r}"
                )
            if not _close(decision.target_weight, asset.target, 1.0):
                _fail(
                    f"{where}: target_weight {decision.target_weight!r} != the effective "
                    f"target {asset.target!r} (after clamp, caps and cash buffer)"
                )
            for field in ("current_weight", "projected_weight", "projected_quantity"):
                if not math.isfinite(getattr(decision, field)):
                    _fail(f"{where}: {field} must be finite, got {getattr(decision, field)!r}")

    def _check_cancels(self) -> None:
        cancels = self.plan.cancels
        if len(set(cancels)) != len(cancels):
            _fail(f"plan.cancels repeats an order id: {cancels!r}")
        unknown = sorted(set(cancels) - set(self.pending))
        if unknown:
            _fail(f"plan.cancels names order ids that are not pending: {unknown!r}")
        by_decision = [c for d in self.plan.decisions for c in d.cancels]
        if sorted(by_decision) != sorted(cancels):
            _fail("plan.cancels must be exactly the decisions' cancels")
        for name, asset in self.assets.items():
            decision = self.decisions[name]
            own = {o.order_id for o in asset.working + asset.resting}
            if not set(decision.cancels) <= own:
                _fail(
                    f"decision for {name!r} cancels orders of another asset: {decision.cancels!r}"
                )
            if self._left_alone(asset):
                # A direction blocks trades, not cancels: counted pending orders that
                # would take the asset past its target may go.
                may_cancel = decision.skip_reason is SkipReason.DIRECTION and self._counts_pending()
                own_working = {o.order_id for o in asset.working}
                if decision.orders or not (
                    not decision.cancels or (may_cancel and set(decision.cancels) <= own_working)
                ):
                    _fail(
                        f"{name!r} is left alone ({decision.skip_reason}) but the plan "
                        "trades it or cancels its orders"
                    )
                continue
            if self.config.cancel_before_rebalance and self._kept_working(asset):
                kept = [o.order_id for o in self._kept_working(asset)]
                _fail(
                    f"cancel_before_rebalance is set but working orders {kept!r} of {name!r} "
                    "are kept"
                )
            projected = self._projected(asset)
            if abs(asset.target) > _NOISE and self._counts_pending():
                for order in self._kept_working(asset):
                    crossing = [o for o in decision.orders if o.side is not order.side]
                    if crossing:
                        _fail(
                            f"{name!r}: the plan {crossing[0].side.value}s while its counted "
                            f"pending {order.side.value} {order.order_id!r} is kept: "
                            "crossed orders (cancel the pending order instead)"
                        )
            if abs(asset.target) <= _NOISE:
                # Dropped from the targets: only working orders that close part of the
                # position may stay; everything else is cancelled, never left to fill.
                room = abs(asset.current)
                for order in self._kept_working(asset):
                    if order.side.sign * asset.current >= 0.0:
                        _fail(
                            f"{name!r} is being closed but its pending {order.side.value} "
                            f"{order.order_id!r} is kept and would add to the position"
                        )
                    room -= order.quantity
                if room < -self._qty_tol(asset):
                    _fail(f"{name!r} is being closed but kept pending orders overshoot zero")
                if self._kept_resting(asset):
                    kept_ids = [o.order_id for o in self._kept_resting(asset)]
                    _fail(f"{name!r} is being closed but resting orders {kept_ids!r} are kept")
            for order in self._kept_resting(asset):
                shrinks = projected * order.side.sign < 0.0 and order.quantity <= abs(projected) * (
                    1 + 1e-9
                )
                if self.config.cancel_before_rebalance and not shrinks:
                    _fail(
                        f"cancel_before_rebalance is set but resting order {order.order_id!r} "
                        f"of {name!r} is kept though it does not only shrink the position"
                    )

    def _check_projection(self) -> None:
        plan, equity = self.plan, self.equity
        flows = [self.snap.cash]
        rate, fixed = self.config.cost_rate, self.config.cost_per_order
        for asset in self.assets.values():
            flows.extend(-o.side.sign * o.value - o.estimated_cost for o in asset.orders)
            multiplier = self.snap.multiplier(asset.name)
            for order in self._kept_working(asset):
                assert asset.price is not None  # noqa: S101 - working orders have prices
                value = order.quantity * order.execution_price(asset.price) * multiplier
                flows.append(-order.side.sign * value - (rate * value + fixed))
            projected = self._projected(asset)
            decision = self.decisions[asset.name]
            tol = self._qty_tol(asset)
            if abs(decision.projected_quantity - projected) > tol:
                _fail(
                    f"decision for {asset.name!r}: projected_quantity "
                    f"{decision.projected_quantity!r} != position + kept pending + orders "
                    f"= {projected!r}"
                )
            if self.positive and asset.price is not None:
                weight = projected * asset.unit_value / equity
                shown = plan.projected_weights.get(asset.name, 0.0)
                if (
                    abs(shown - weight)
                    > _REL * max(1.0, abs(weight)) + tol * asset.unit_value / equity
                ):
                    _fail(f"projected weight of {asset.name!r} is {shown!r}, expected {weight!r}")
        extra = set(plan.projected_weights) - set(self.assets)
        if extra:
            _fail(f"plan.projected_weights has assets outside the plan: {sorted(extra)!r}")
        cash = math.fsum(flows)
        if not _close(plan.projected_cash, cash, self.scale):
            _fail(
                f"plan.projected_cash {plan.projected_cash!r} != cash after orders, kept "
                f"pending orders and estimated costs {cash!r}"
            )
        self.projected_cash = cash

    def _floor(self) -> float:
        if not self.positive:
            return 0.0
        # Holdings a sleeve leaves alone do not lower the floor: only targets may borrow.
        implied = 1.0 - math.fsum(a.target for a in self.assets.values() if a.targeted)
        floor = min(self.config.cash_buffer, implied)
        # A cash account never borrows: its floor is never below zero.
        return (floor if self.snap.margin else max(floor, 0.0)) * self.equity

    def _check_cash_floor(self) -> None:
        floor = self._floor()
        if not _close(self.plan.cash_floor, floor, self.scale):
            _fail(
                f"plan.cash_floor {self.plan.cash_floor!r} != the floor the config "
                f"implies {floor!r}"
            )
        buys = [o for o in self.plan.orders if o.side is Side.BUY and o.action is not Action.CLOSE]
        if buys and self.projected_cash < floor - _REL * self.scale:
            _fail(
                f"projected cash {self.projected_cash!r} is below the cash floor {floor!r} "
                f"after buys {buys!r}: a buy is sent that cannot be funded"
            )

    def _due(self, asset: _Asset, value: float) -> bool:
        config = self.config
        slack = 1.0 + _REL
        if value * slack < config.min_trade_value:
            return False
        change = value * slack / self.equity
        band = config.relative_band
        if change <= _NOISE:
            return False
        return change >= config.min_weight_change or (
            band is not None and change >= band * abs(asset.target)
        )

    def _check_thresholds(self) -> None:
        for asset in self.assets.values():
            for order in asset.orders:
                if order.action is Action.CLOSE:
                    continue
                if not self.positive:
                    _fail(f"equity is {self.equity!r} <= 0 so only closes may trade, got {order!r}")
                if not self._due(asset, order.value):
                    _fail(
                        f"order {order!r} (value {order.value!r}, weight change "
                        f"{order.value / self.equity!r}) is below the thresholds and not a close"
                    )

    def _check_closes(self) -> None:
        for asset in self.assets.values():
            kept = self._kept_working(asset) if self._counts_pending() else []
            exposure = asset.current + math.fsum(o.signed_quantity for o in kept)
            closes = [o for o in asset.orders if o.action is Action.CLOSE]
            for order in closes:
                exact = order.quantity == abs(exposure)
                if not exact and not (
                    kept and abs(order.quantity - abs(exposure)) <= self._qty_tol(asset)
                ):
                    _fail(
                        f"close {order!r} must send exactly the held quantity {abs(exposure)!r} "
                        "(minus kept pending orders that close part of it)"
                    )
                if order.side.sign * exposure >= 0.0:
                    _fail(f"close {order!r} is on the wrong side of the position {exposure!r}")
            decision = self.decisions[asset.name]
            if (
                abs(asset.target) <= _NOISE
                and asset.price is not None
                and not self._left_alone(asset)
                and exposure != 0.0
                and not closes
                and abs(exposure) > self._qty_tol(asset)
            ):
                _fail(
                    f"{asset.name!r} has target 0 but its position {asset.current!r} is not "
                    f"closed (skip reason {decision.skip_reason!r})"
                )
            if (
                abs(asset.target) <= _NOISE
                and asset.orders
                and any(o.action is not Action.CLOSE for o in asset.orders)
            ):
                _fail(
                    f"{asset.name!r} has target 0, so its only order is a close: {asset.orders!r}"
                )

    def _check_rounding_and_caps(self) -> None:
        config, equity = self.config, self.equity
        if not self.positive:
            return
        cap = config.max_single_weight
        allowances = 0.0
        gross = 0.0
        for asset in self.assets.values():
            planned = self._planned(asset) if asset.orders else self._projected(asset)
            weight = planned * asset.unit_value / equity
            gross += abs(weight)
            if not asset.orders:
                # Untraded assets keep their weight; caps bind only the assets that trade.
                held_target = 0.0 if self._left_alone(asset) else abs(asset.target)
                allowances += max(0.0, abs(weight) - held_target)
                continue
            wanted = asset.target * equity / asset.unit_value
            step = asset.increment or 0.0
            slack = _REL * max(abs(wanted), abs(planned), 1e-300) + self._qty_tol(asset)
            if config.rounding is not Rounding.DOWN:  # CLOSEST, OPTIMAL: one step over
                slack += step
                allowances += step * asset.unit_value / equity
            if planned * wanted < 0.0 and abs(planned) > slack:
                _fail(
                    f"{asset.name!r} ends at {planned!r} on the other side of its target "
                    f"quantity {wanted!r}"
                )
            if abs(planned) > abs(wanted) + slack:
                _fail(
                    f"{asset.name!r} ends at {planned!r}, beyond its target quantity "
                    f"{wanted!r} ({config.rounding.value} rounding never goes over target)"
                )
            if abs(weight) > cap * (1 + _REL) + (slack * asset.unit_value / equity):
                _fail(f"{asset.name!r} ends at weight {weight!r}, above max_single_weight={cap!r}")
        limit = config.max_gross_leverage
        if limit is not None and gross > limit + allowances + 1e-9 * max(1.0, gross):
            _fail(f"gross weight after the trades {gross!r} exceeds max_gross_leverage={limit!r}")

    def _check_kept_orders_never_overshoot(self) -> None:
        """Counted pending orders: the plan plus every kept order that may fill stays in.

        Kept working orders, entries (a dip buy) and any resting order that adds to the
        projected position never take it past the target (or past the position, where a
        direction blocks the sell) by a trade the thresholds would send; and never by
        anything while the account ends below its cash floor (a cancel is free).
        """
        if not self._counts_pending() or not self.positive:
            return
        short_of_cash = self.projected_cash < self._floor() - _REL * self.scale
        for asset in self.assets.values():
            decision = self.decisions[asset.name]
            if abs(asset.target) <= _NOISE or asset.price is None:
                continue
            if decision.skip_reason in (SkipReason.NOT_TARGETED, SkipReason.NON_POSITIVE_EQUITY):
                continue
            reach = asset.current + self._net(asset.orders)
            reach += math.fsum(o.signed_quantity for o in self._kept_working(asset))
            reach += math.fsum(
                o.signed_quantity for o in self._kept_resting(asset) if o.side.sign * reach > 0.0
            )
            if reach * asset.target < 0.0:
                continue  # the other side of zero is _check_rounding_and_caps' business
            allowed = abs(asset.target) * self.equity / asset.unit_value
            if decision.skip_reason is SkipReason.DIRECTION:
                allowed = max(allowed, abs(asset.current))
            excess = (abs(reach) - allowed) * asset.unit_value
            slack = _REL * self.scale + self._qty_tol(asset) * asset.unit_value
            if self.config.rounding is not Rounding.DOWN:  # CLOSEST, OPTIMAL: one step over
                slack += (asset.increment or 0.0) * asset.unit_value
            kept = [o.order_id for o in self._kept_working(asset) + self._kept_resting(asset)]
            if excess > slack and self._due(asset, excess - slack):
                _fail(
                    f"{asset.name!r}: position, orders and the kept pending orders {kept!r} "
                    f"may fill to {reach!r}, beyond the target by {excess!r} of value"
                )
            buys = [o.order_id for o in self._kept_working(asset) if o.side is Side.BUY]
            if short_of_cash and excess > slack and buys and reach > 0.0:
                _fail(
                    f"{asset.name!r}: pending buys {buys!r} past the target are kept while "
                    f"projected cash {self.projected_cash!r} is below the floor"
                )

    def _check_shorts(self) -> None:
        if self.allow_short:
            return
        for asset in self.assets.values():
            for order in asset.orders:
                if order.side is Side.SELL and order.action in (Action.OPEN, Action.INCREASE):
                    _fail(f"{order!r} opens or increases a short but allow_short is False")
            if self._left_alone(asset):
                continue
            projected = self._projected(asset)
            # What surely fills: kept entries (a dip buy) may not, and a kept exit sized
            # against one could then open a short.
            sure = projected - math.fsum(
                o.signed_quantity
                for o in self._kept_working(asset)
                if not o.executes_as_placed(asset.price or 0.0)
            )
            if projected < -self._qty_tol(asset):
                _fail(
                    f"{asset.name!r} is projected at {projected!r} (short) although "
                    "allow_short is False"
                )
            for resting in self._kept_resting(asset):
                if resting.side is Side.SELL and resting.quantity > max(sure, 0.0) * (1 + _REL):
                    _fail(
                        f"resting sell {resting.order_id!r} of {asset.name!r} is kept but would "
                        f"open a short (projected {projected!r}) although allow_short is False"
                    )

    def _check_direction(self) -> None:
        direction = self.config.direction
        blocked = {TradeDirection.BUY_ONLY: Side.SELL, TradeDirection.SELL_ONLY: Side.BUY}
        side = blocked.get(direction)
        for order in self.plan.orders:
            if order.side is side:
                _fail(f"{order!r} is a {side.value} but direction is {direction.value}")

    def _gaps(self, asset: _Asset) -> list[float]:
        """Signed value gaps between the target and the plausible exposures."""
        kept = math.fsum(o.signed_quantity for o in self._kept_working(asset))
        desired = asset.target * self.equity
        return [
            desired - exposure * asset.unit_value
            for exposure in {asset.current, asset.current + kept}
        ]

    def _check_skip_reasons(self) -> None:
        config = self.config
        for asset in self.assets.values():
            reason = self.decisions[asset.name].skip_reason
            if reason is None:
                continue
            where = f"{asset.name!r} is skipped as {reason.value}"
            truth: dict[SkipReason, bool] = {
                SkipReason.NO_PRICE: asset.targeted and asset.price is None,
                SkipReason.NOT_TARGETED: not asset.targeted and not config.close_untargeted,
                SkipReason.NON_POSITIVE_EQUITY: (
                    not self.positive and abs(asset.target) > _NOISE and asset.price is not None
                ),
                SkipReason.DIRECTION: config.direction is not TradeDirection.BOTH,
                SkipReason.SHORT_NOT_ALLOWED: (
                    not self.allow_short and asset.requested is not None and asset.requested < 0.0
                ),
                SkipReason.CAPPED: (
                    asset.requested is not None and abs(asset.requested) > config.max_single_weight
                ),
            }
            for forced in (
                SkipReason.NO_PRICE,
                SkipReason.NOT_TARGETED,
                SkipReason.NON_POSITIVE_EQUITY,
            ):
                if (
                    truth[forced]
                    and reason is not forced
                    and not (forced is SkipReason.NON_POSITIVE_EQUITY and not asset.targeted)
                ):
                    _fail(f"{where}, but it must be {forced.value}")
            if reason in truth:
                if not truth[reason]:
                    _fail(f"{where}, which does not apply")
                continue
            if asset.price is None or not self.positive:
                if abs(asset.target) <= _NOISE and reason in (
                    SkipReason.AT_TARGET,
                    SkipReason.PENDING_COVERS,
                ):
                    continue
                _fail(f"{where}, but it has no price or equity is not positive")
            gaps = [abs(g) for g in self._gaps(asset)]
            step = (asset.increment or 0.0) * asset.unit_value
            noise = _NOISE * self.equity * (1 + 1e-6) + _REL * self.scale
            if reason in (SkipReason.AT_TARGET, SkipReason.PENDING_COVERS):
                if abs(asset.target) <= _NOISE:
                    ok = any(g <= _REL * self.scale for g in gaps)
                else:
                    ok = any(g <= noise for g in gaps)
                kept = self._kept_working(asset)
                if reason is SkipReason.PENDING_COVERS and kept and asset.increment is not None:
                    # Or within one increment: rounding makes the kept orders right.
                    covered = asset.current + math.fsum(o.signed_quantity for o in kept)
                    gap = abs(asset.target * self.equity - covered * asset.unit_value)
                    ok = ok or gap <= step * (1 + 1e-6)
                if reason is SkipReason.PENDING_COVERS and not kept:
                    ok = False
                if not ok:
                    _fail(f"{where} but it is {min(gaps)!r} away from its target value")
            elif reason is SkipReason.ROUNDS_TO_ZERO:
                if asset.increment is None or not any(g <= step * (1 + 1e-6) for g in gaps):
                    _fail(f"{where} but the trade {min(gaps)!r} exceeds one increment {step!r}")
            elif reason is SkipReason.WEIGHT_CHANGE_TOO_SMALL:
                if not any(self._below_weight(asset, max(0.0, g - step)) for g in gaps):
                    _fail(f"{where} but the trade {min(gaps)!r} passes min_weight_change")
            elif reason is SkipReason.TRADE_VALUE_TOO_SMALL:
                if not any(max(0.0, g - step) < config.min_trade_value * (1 + _REL) for g in gaps):
                    _fail(f"{where} but the trade {min(gaps)!r} passes min_trade_value")
            elif reason is SkipReason.CASH_LIMITED:
                self._check_cash_limited(asset, where)

    def _below_weight(self, asset: _Asset, value: float) -> bool:
        change = value / self.equity
        band = self.config.relative_band
        if change <= _NOISE * (1 + _REL):
            return True
        return change < self.config.min_weight_change * (1 + _REL) and not (
            band is not None and change > band * abs(asset.target) * (1 + _REL)
        )

    def _check_cash_limited(self, asset: _Asset, where: str) -> None:
        if self.config.direction is TradeDirection.SELL_ONLY:
            _fail(f"{where} but the plan may not buy at all")
        if not any(g > 0.0 for g in self._gaps(asset)):
            _fail(f"{where} but it needs no buy")
        # If every cut buy could have been sent whole, nothing needed cutting.
        rate, fixed = self.config.cost_rate, self.config.cost_per_order
        available = self.projected_cash - self._floor()
        needed = 0.0
        for other in self.assets.values():
            decision = self.decisions[other.name]
            cut = decision.skip_reason is SkipReason.CASH_LIMITED or any(
                a.value == "cash_limited" for a in decision.adjustments
            )
            if not cut:
                continue
            step = (other.increment or 0.0) * other.unit_value
            gap = (
                min(g for g in self._gaps(other) if g > 0.0)
                if any(g > 0.0 for g in self._gaps(other))
                else 0.0
            )
            # The buy the rounding would send uncut: whole steps of the gap, not more.
            whole = math.floor(gap / step + 1e-9) * step if step > 0.0 else gap
            sent = math.fsum(o.value for o in other.orders if o.side is Side.BUY)
            if not self._due(other, whole):
                return
            needed += (whole - sent) * (1 + rate) + (0.0 if sent else fixed)
        if available > needed + _REL * self.scale and needed > 0.0:
            _fail(
                f"{where} but {available!r} of cash above the floor was left, enough for "
                f"every cut buy ({needed!r})"
            )


def check_plan(
    snapshot: PortfolioSnapshot,
    target_weights: Mapping[str, float],
    config: RebalanceConfig | None,
    plan: RebalancePlan,
) -> None:
    """Assert that ``plan`` keeps every invariant of the library for these inputs.

    Checks, with a tiny float tolerance: the figures are finite and add up (equity,
    projected cash after kept pending orders and estimated costs, turnover, projected
    weights); every targeted, held or pending asset has exactly one decision with a true
    skip reason when it does not trade; orders are risk-reducing first, whole units are
    ``int`` and multiples of the increment; closes send exactly the held quantity; no
    order except a close is below the thresholds; buys never take projected cash below
    the cash floor; no position ends beyond its target quantity (one increment with
    ``Rounding.CLOSEST`` or ``OPTIMAL``) or above the caps; no short is planned unless allowed; the
    direction is respected; pending orders are cancelled or counted, never doubled, and
    never crossed by an order the other way.

    Args:
        snapshot: The snapshot the plan was computed from.
        target_weights: The targets it was computed for.
        config: The config (``None`` for the default).
        plan: What :func:`~rebalancing.compute_trades` (or your wrapper) returned.

    Raises:
        AssertionError: naming the invariant, the asset and the numbers that break it.
    """
    _Checker(snapshot, target_weights, config or RebalanceConfig(), plan).run()

"""Invariants of a plan's orders, decisions and cancels of pending orders.

Every order is well formed (side, action, the snapshot's price, whole units as ``int``,
multiples of the increment) and submitted risk-reducing first; every targeted, held or
pending asset has exactly one decision that agrees with the plan; cancels name pending
orders of their own asset, and kept pending orders are counted, never doubled, crossed or
left to take a position past its target.
"""

from __future__ import annotations

import math
from typing import cast

from ._checks_facts import NOISE, REL, Facts, close, fail, is_multiple
from ._config import Rounding
from ._result import Action, SkipReason
from ._snapshot import Side

__all__ = ["OrderChecks"]


class OrderChecks(Facts):
    """The order, decision and pending-order invariants of :func:`check_plan`."""

    def _check_orders(self) -> None:
        config, snap = self.config, self.snap
        for order in self.plan.orders:
            where = f"order {order!r}"
            asset = self.assets.get(order.asset)
            if asset is None or asset.price is None:
                fail(f"{where} trades {order.asset!r}, which is not targeted, held or pending")
            quantity = order.quantity
            if (
                isinstance(quantity, bool)
                or not isinstance(quantity, int | float)
                or not math.isfinite(quantity)
                or quantity <= 0
            ):
                fail(f"{where}: quantity must be a finite number > 0, got {quantity!r}")
            side, action = cast("object", order.side), cast("object", order.action)
            if not isinstance(side, Side) or not isinstance(action, Action):
                fail(f"{where}: side and action must be Side and Action members")
            if order.price != asset.price or order.multiplier != snap.multiplier(order.asset):
                fail(f"{where}: price and multiplier must be the snapshot's for {order.asset!r}")
            cost = config.cost_rate * order.value + config.cost_per_order
            if not close(order.estimated_cost, cost, 1.0):
                fail(f"{where}: estimated_cost {order.estimated_cost!r} != {cost!r}")
            whole = asset.increment is not None and asset.increment == int(asset.increment)
            if whole and quantity == int(quantity) and type(quantity) is not int:
                fail(f"{where}: a whole-unit quantity must be a Python int, got {quantity!r}")
            if order.action is not Action.CLOSE and asset.increment is not None:
                if not is_multiple(quantity, asset.increment):
                    fail(
                        f"{where}: quantity {quantity!r} is not a multiple of the increment "
                        f"{asset.increment!r} of {order.asset!r}"
                    )
                if whole and type(quantity) is not int:
                    fail(f"{where}: whole-unit quantity must be a Python int, got {quantity!r}")
            asset.orders.append(order)
        keys = [
            (0 if o.action.reduces_risk else 1, 0 if o.side is Side.SELL else 1, o.asset)
            for o in self.plan.orders
        ]
        if keys != sorted(keys):
            fail(
                "orders must be submitted risk-reducing first, then risk-increasing; sells "
                f"before buys within each; ties by asset name; got {self.plan.orders!r}"
            )
        for asset in self.assets.values():
            actions = [o.action for o in asset.orders]
            reversal = actions == [Action.CLOSE, Action.OPEN]
            if len(actions) > 1 and not (reversal and asset.orders[0].side is asset.orders[1].side):
                fail(
                    f"{asset.name!r} has orders {asset.orders!r}: more than one order is only "
                    "allowed for a reversal (a close, then an open on the same side)"
                )

    def _check_decisions(self) -> None:
        plan = self.plan
        names = [d.asset for d in plan.decisions]
        if names != sorted(set(names)):
            fail(f"decisions must be unique and sorted by asset, got {names!r}")
        if set(names) != set(self.assets):
            missing = sorted(set(self.assets) - set(names))
            extra = sorted(set(names) - set(self.assets))
            fail(
                "every targeted, held or pending asset needs exactly one decision: "
                f"missing {missing!r}, unexpected {extra!r}"
            )
        self.decisions = {d.asset: d for d in plan.decisions}
        flattened = [o for d in plan.decisions for o in d.orders]
        if sorted(map(repr, flattened)) != sorted(map(repr, plan.orders)):
            fail("the decisions' orders must be exactly the plan's orders")
        for name, asset in self.assets.items():
            decision = self.decisions[name]
            where = f"decision for {name!r}"
            if list(decision.orders) != asset.orders:
                fail(f"{where}: orders {decision.orders!r} != the plan's {asset.orders!r}")
            if (decision.skip_reason is None) != bool(decision.orders):
                fail(
                    f"{where}: skip_reason must be None exactly when the asset trades, got "
                    f"{decision.skip_reason!r} with {len(decision.orders)} orders"
                )
            reason = cast("object", decision.skip_reason)
            if reason is not None and not isinstance(reason, SkipReason):
                fail(f"{where}: skip_reason must be a SkipReason, got {decision.skip_reason!r}")
            if decision.current_quantity != asset.current or decision.price != asset.price:
                fail(f"{where}: current quantity and price must be the snapshot's")
            if decision.requested_weight != asset.requested:
                fail(
                    f"{where}: requested_weight {decision.requested_weight!r} != "
                    f"the target {asset.requested!r}"
                )
            if not close(decision.target_weight, asset.target, 1.0):
                fail(
                    f"{where}: target_weight {decision.target_weight!r} != the effective "
                    f"target {asset.target!r} (after clamp, caps and cash buffer)"
                )
            for field in ("current_weight", "projected_weight", "projected_quantity"):
                if not math.isfinite(getattr(decision, field)):
                    fail(f"{where}: {field} must be finite, got {getattr(decision, field)!r}")

    def _check_cancels(self) -> None:
        cancels = self.plan.cancels
        if len(set(cancels)) != len(cancels):
            fail(f"plan.cancels repeats an order id: {cancels!r}")
        unknown = sorted(set(cancels) - set(self.pending))
        if unknown:
            fail(f"plan.cancels names order ids that are not pending: {unknown!r}")
        by_decision = [c for d in self.plan.decisions for c in d.cancels]
        if sorted(by_decision) != sorted(cancels):
            fail("plan.cancels must be exactly the decisions' cancels")
        for name, asset in self.assets.items():
            decision = self.decisions[name]
            own = {o.order_id for o in asset.working + asset.resting}
            if not set(decision.cancels) <= own:
                fail(f"decision for {name!r} cancels orders of another asset: {decision.cancels!r}")
            if self._left_alone(asset):
                # A direction blocks trades, not cancels: counted pending orders that
                # would take the asset past its target may go, and on an asset with
                # target 0, counted or not, those that take it further from 0; so may
                # resting orders that would not only shrink the position the kept orders
                # surely leave (a take-profit buy of a short a pending buy turns long).
                may_cancel = decision.skip_reason is SkipReason.DIRECTION and (
                    self._counts_pending() or abs(asset.target) <= NOISE
                )
                cancellable = {o.order_id for o in asset.working}
                sure = asset.current + math.fsum(
                    o.signed_quantity
                    for o in self._kept_working(asset)
                    if o.executes_as_placed(asset.price or 0.0)
                )
                cancellable |= {
                    o.order_id
                    for o in asset.resting
                    if not (sure * o.side.sign < 0.0 and o.quantity <= abs(sure) * (1 + 1e-9))
                }
                if decision.orders or not (
                    not decision.cancels or (may_cancel and set(decision.cancels) <= cancellable)
                ):
                    fail(
                        f"{name!r} is left alone ({decision.skip_reason}) but the plan "
                        "trades it or cancels its orders"
                    )
                continue
            if self.config.cancel_before_rebalance and self._kept_working(asset):
                kept = [o.order_id for o in self._kept_working(asset)]
                fail(
                    f"cancel_before_rebalance is set but working orders {kept!r} of {name!r} "
                    "are kept"
                )
            projected = self._projected(asset)
            if abs(asset.target) > NOISE and self._counts_pending():
                for order in self._kept_working(asset):
                    crossing = [o for o in decision.orders if o.side is not order.side]
                    if crossing:
                        fail(
                            f"{name!r}: the plan {crossing[0].side.value}s while its counted "
                            f"pending {order.side.value} {order.order_id!r} is kept: "
                            "crossed orders (cancel the pending order instead)"
                        )
            if abs(asset.target) <= NOISE:
                # Dropped from the targets: only working orders that close part of the
                # position may stay; everything else is cancelled, never left to fill.
                room = abs(asset.current)
                for order in self._kept_working(asset):
                    if order.side.sign * asset.current >= 0.0:
                        fail(
                            f"{name!r} is being closed but its pending {order.side.value} "
                            f"{order.order_id!r} is kept and would add to the position"
                        )
                    room -= order.quantity
                if room < -self._qty_tol(asset):
                    fail(f"{name!r} is being closed but kept pending orders overshoot zero")
                if self._kept_resting(asset):
                    kept_ids = [o.order_id for o in self._kept_resting(asset)]
                    fail(f"{name!r} is being closed but resting orders {kept_ids!r} are kept")
            for order in self._kept_resting(asset):
                shrinks = projected * order.side.sign < 0.0 and order.quantity <= abs(projected) * (
                    1 + 1e-9
                )
                if self.config.cancel_before_rebalance and not shrinks:
                    fail(
                        f"cancel_before_rebalance is set but resting order {order.order_id!r} "
                        f"of {name!r} is kept though it does not only shrink the position"
                    )

    def _check_kept_orders_never_overshoot(self) -> None:
        """Counted pending orders: the plan plus every kept order that may fill stays in.

        Kept working orders, entries (a dip buy) and any resting order that adds to the
        projected position never take it past the target (or past the position, where a
        direction blocks the sell, or where the plan's own orders leave it) by a trade the
        thresholds would send; and never by
        anything while the account ends below its cash floor (a cancel is free).
        """
        if not self._counts_pending() or not self.positive:
            return
        short_of_cash = self.projected_cash < self._floor() - REL * self.scale
        for asset in self.assets.values():
            decision = self.decisions[asset.name]
            if abs(asset.target) <= NOISE or asset.price is None:
                continue
            if decision.skip_reason in (SkipReason.NOT_TARGETED, SkipReason.NON_POSITIVE_EQUITY):
                continue
            planned = asset.current + self._net(asset.orders)
            reach = planned + math.fsum(o.signed_quantity for o in self._kept_working(asset))
            reach += math.fsum(
                o.signed_quantity for o in self._kept_resting(asset) if o.side.sign * reach > 0.0
            )
            if reach * asset.target < 0.0:
                continue  # the other side of zero is _check_rounding_and_caps' business
            allowed = abs(asset.target) * self.equity / asset.unit_value
            if decision.skip_reason is SkipReason.DIRECTION:
                allowed = max(allowed, abs(asset.current))
            # Kept orders that only bring a position already past its target back toward
            # it (a short buying back while the plan's buy is cut for cash) push nothing.
            allowed = max(allowed, abs(planned))
            excess = (abs(reach) - allowed) * asset.unit_value
            slack = REL * self.scale + self._qty_tol(asset) * asset.unit_value
            if self.config.rounding is not Rounding.DOWN:  # CLOSEST, OPTIMAL: one step over
                slack += (asset.increment or 0.0) * asset.unit_value
            kept = [o.order_id for o in self._kept_working(asset) + self._kept_resting(asset)]
            if excess > slack and self._due(asset, excess - slack):
                fail(
                    f"{asset.name!r}: position, orders and the kept pending orders {kept!r} "
                    f"may fill to {reach!r}, beyond the target by {excess!r} of value"
                )
            buys = [o.order_id for o in self._kept_working(asset) if o.side is Side.BUY]
            # Short of cash, a pending buy past the target goes, however little it
            # overshoots: no rounding step or threshold excuses spending cash one lacks.
            exact = REL * self.scale + self._qty_tol(asset) * asset.unit_value
            if short_of_cash and excess > exact and buys and reach > 0.0:
                fail(
                    f"{asset.name!r}: pending buys {buys!r} past the target are kept while "
                    f"projected cash {self.projected_cash!r} is below the floor"
                )

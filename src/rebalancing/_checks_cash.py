"""Invariants of a plan's money: its figures, projected cash and the cash floor.

The figures (equity, cash, costs, turnover) are finite and add up; projected cash and
positions are what the orders, the kept pending orders and the estimated costs leave;
no buy takes projected cash below the floor; and an asset skipped as cash-limited really
was (the cash left could not have paid for every cut buy).
"""

from __future__ import annotations

import math

from ._checks_facts import REL, Asset, Facts, close, fail
from ._config import TradeDirection
from ._result import Action, SkipReason
from ._snapshot import Side

__all__ = ["CashChecks"]


class CashChecks(Facts):
    """The cash and funding invariants of :func:`check_plan`."""

    def _check_figures(self) -> None:
        plan = self.plan
        for field in ("equity", "cash", "projected_cash", "cash_floor", "estimated_costs"):
            value = getattr(plan, field)
            if not isinstance(value, float | int) or not math.isfinite(value):
                fail(f"plan.{field} must be a finite number, got {value!r}")
        if not math.isfinite(plan.turnover):
            fail(f"plan.turnover must be finite, got {plan.turnover!r}")
        for asset, weight in plan.projected_weights.items():
            if not math.isfinite(weight):
                fail(f"plan.projected_weights[{asset!r}] must be finite, got {weight!r}")
        if plan.equity != self.equity:
            fail(f"plan.equity {plan.equity!r} != the snapshot's equity {self.equity!r}")
        if plan.cash != self.snap.cash:
            fail(f"plan.cash {plan.cash!r} != the snapshot's cash {self.snap.cash!r}")
        costs = math.fsum(o.estimated_cost for o in plan.orders)
        if not close(plan.estimated_costs, costs, self.scale):
            fail(f"plan.estimated_costs {plan.estimated_costs!r} != sum of order costs {costs!r}")
        traded = math.fsum(o.value for o in plan.orders)
        turnover = traded / self.equity if self.positive else 0.0
        if not close(plan.turnover, turnover, 1.0):
            fail(f"plan.turnover {plan.turnover!r} != traded value / equity {turnover!r}")

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
                fail(
                    f"decision for {asset.name!r}: projected_quantity "
                    f"{decision.projected_quantity!r} != position + kept pending + orders "
                    f"= {projected!r}"
                )
            if self.positive and asset.price is not None:
                weight = projected * asset.unit_value / equity
                shown = plan.projected_weights.get(asset.name, 0.0)
                if (
                    abs(shown - weight)
                    > REL * max(1.0, abs(weight)) + tol * asset.unit_value / equity
                ):
                    fail(f"projected weight of {asset.name!r} is {shown!r}, expected {weight!r}")
        extra = set(plan.projected_weights) - set(self.assets)
        if extra:
            fail(f"plan.projected_weights has assets outside the plan: {sorted(extra)!r}")
        cash = math.fsum(flows)
        if not close(plan.projected_cash, cash, self.scale):
            fail(
                f"plan.projected_cash {plan.projected_cash!r} != cash after orders, kept "
                f"pending orders and estimated costs {cash!r}"
            )
        self.projected_cash = cash

    def _check_cash_floor(self) -> None:
        floor = self._floor()
        if not close(self.plan.cash_floor, floor, self.scale):
            fail(
                f"plan.cash_floor {self.plan.cash_floor!r} != the floor the config "
                f"implies {floor!r}"
            )
        buys = [o for o in self.plan.orders if o.side is Side.BUY and o.action is not Action.CLOSE]
        if buys and self.projected_cash < floor - REL * self.scale:
            fail(
                f"projected cash {self.projected_cash!r} is below the cash floor {floor!r} "
                f"after buys {buys!r}: a buy is sent that cannot be funded"
            )

    def _check_cash_limited(self, asset: Asset, where: str) -> None:
        if self.config.direction is TradeDirection.SELL_ONLY:
            fail(f"{where} but the plan may not buy at all")
        if not any(g > 0.0 for g in self._gaps(asset)):
            fail(f"{where} but it needs no buy")
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
            # The gap the planner sized: from the position, plus the kept pending orders
            # only when it counts them. (Counting an uncounted pending buy of 1 C made
            # the uncut buy of 4 C look like 3, and the $10.4 a whole-unit water fill
            # leaves look like enough for every cut buy.)
            kept = self._kept_working(other) if self._counts_pending() else []
            exposure = other.current + math.fsum(o.signed_quantity for o in kept)
            gap = max(0.0, other.target * self.equity - exposure * other.unit_value)
            # The buy the rounding would send uncut: whole steps of the gap, not more.
            whole = math.floor(gap / step + 1e-9) * step if step > 0.0 else gap
            sent = math.fsum(o.value for o in other.orders if o.side is Side.BUY)
            if not self._due(other, whole):
                return
            needed += (whole - sent) * (1 + rate) + (0.0 if sent else fixed)
        if available > needed + REL * self.scale and needed > 0.0:
            fail(
                f"{where} but {available!r} of cash above the floor was left, enough for "
                f"every cut buy ({needed!r})"
            )

"""What :func:`~rebalancing.testing.check_plan` derives from the inputs alone.

The oracle's facts, written independently of the planner: the effective targets (short
clamp, caps, cash buffer), one :class:`Asset` record per targeted, held or pending asset
(its increment, which pending orders work and which rest), the float tolerances, and the
arithmetic every invariant shares (projected positions, the cash floor, whether a trade is
due). The invariants themselves are the mixins of ``_checks_cash``, ``_checks_orders`` and
``_checks_positions``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NoReturn

import attrs

from ._config import RebalanceConfig
from ._result import Decision, Order, RebalancePlan, SkipReason
from ._snapshot import PendingOrder, PortfolioSnapshot

__all__ = ["LEFT_ALONE", "NOISE", "REL", "Asset", "Facts", "close", "fail", "is_multiple"]

#: Relative float tolerance of every comparison in :func:`check_plan`.
REL = 1e-9
#: Weight changes below this fraction of equity are noise (the core's ``NOISE``).
NOISE = 1e-9
#: The skip reasons of an asset the plan leaves alone (it neither trades nor cancels).
LEFT_ALONE = frozenset(
    {SkipReason.NOT_TARGETED, SkipReason.DIRECTION, SkipReason.NON_POSITIVE_EQUITY}
)


def fail(msg: str) -> NoReturn:
    """Report a broken invariant: an :class:`AssertionError` carrying ``msg``."""
    raise AssertionError(msg)


def close(a: float, b: float, scale: float = 0.0) -> bool:
    """Whether ``a`` and ``b`` agree within :data:`REL` of the larger (or ``scale``)."""
    return abs(a - b) <= REL * max(abs(a), abs(b), scale, 1e-300)


def is_multiple(quantity: float, increment: float) -> bool:
    """Whether ``quantity`` is a whole number of ``increment`` (within float noise)."""
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
class Asset:
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


class Facts:
    """The inputs of one :func:`check_plan` run, the facts derived from them, and helpers.

    ``decisions`` is filled by the decisions check and ``projected_cash`` by the
    projection check; the checks that run after them read both.
    """

    decisions: dict[str, Decision]
    projected_cash: float

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
        self.positive = self.equity > max(NOISE * (abs(snapshot.cash) + gross), NOISE)
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
        self.assets: dict[str, Asset] = {}
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
            entries = keeps_pending and name in self.targets and abs(target) > NOISE
            toward = current if current != 0.0 else target
            working = [
                o
                for o in orders
                if price is not None
                and (o.executes_as_placed(price) or (entries and o.side.sign * toward > 0.0))
            ]
            self.assets[name] = Asset(
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

    # -- helpers ---------------------------------------------------------------------

    def _kept_working(self, asset: Asset) -> list[PendingOrder]:
        return [o for o in asset.working if o.order_id not in self.cancelled]

    def _kept_resting(self, asset: Asset) -> list[PendingOrder]:
        return [o for o in asset.resting if o.order_id not in self.cancelled]

    def _net(self, orders: list[Order]) -> float:
        return math.fsum(o.signed_quantity for o in orders)

    def _projected(self, asset: Asset) -> float:
        """Position after the orders and every kept working pending order fill."""
        kept = math.fsum(o.signed_quantity for o in self._kept_working(asset))
        return asset.current + kept + self._net(asset.orders)

    def _counts_pending(self) -> bool:
        return not self.config.cancel_before_rebalance and self.config.account_for_pending

    def _planned(self, asset: Asset) -> float:
        """The holding the plan aims at: orders plus the pending orders it counts."""
        if self._counts_pending():
            return self._projected(asset)
        return asset.current + self._net(asset.orders)

    def _left_alone(self, asset: Asset) -> bool:
        decision = self._decision(asset.name)
        return decision.skip_reason in LEFT_ALONE

    def _decision(self, name: str) -> Any:
        return self.decisions[name]

    def _qty_tol(self, asset: Asset) -> float:
        sizes = [abs(asset.current), *(o.quantity for o in asset.orders)]
        sizes += [o.quantity for o in asset.working]
        return REL * max([1e-12, *sizes])

    def _floor(self) -> float:
        if not self.positive:
            return 0.0
        # Holdings a sleeve leaves alone do not lower the floor: only targets may borrow.
        implied = 1.0 - math.fsum(a.target for a in self.assets.values() if a.targeted)
        floor = min(self.config.cash_buffer, implied)
        # A cash account never borrows: its floor is never below zero.
        return (floor if self.snap.margin else max(floor, 0.0)) * self.equity

    def _due(self, asset: Asset, value: float) -> bool:
        config = self.config
        slack = 1.0 + REL
        if value * slack < config.min_trade_value:
            return False
        change = value * slack / self.equity
        band = config.relative_band
        if change <= NOISE:
            return False
        return change >= config.min_weight_change or (
            band is not None and change >= band * abs(asset.target)
        )

    def _gaps(self, asset: Asset) -> list[float]:
        """Signed value gaps between the target and the plausible exposures."""
        kept = math.fsum(o.signed_quantity for o in self._kept_working(asset))
        desired = asset.target * self.equity
        return [
            desired - exposure * asset.unit_value
            for exposure in {asset.current, asset.current + kept}
        ]

    def _below_weight(self, asset: Asset, value: float) -> bool:
        change = value / self.equity
        band = self.config.relative_band
        if change <= NOISE * (1 + REL):
            return True
        return change < self.config.min_weight_change * (1 + REL) and not (
            band is not None and change > band * abs(asset.target) * (1 + REL)
        )

    # -- the one check the facts need first -------------------------------------------

    def _check_shape(self) -> None:
        plan: object = self.plan
        if not isinstance(plan, RebalancePlan):
            fail(f"plan must be a RebalancePlan, got {type(plan).__name__}")
        for field, kind in (("orders", Order), ("decisions", object), ("cancels", str)):
            value = getattr(plan, field)
            if not isinstance(value, tuple) or not all(isinstance(v, kind) for v in value):
                fail(f"plan.{field} must be a tuple of {kind.__name__}, got {value!r}")
        if list(plan) != list(plan.orders) or len(plan) != len(plan.orders):
            fail("iterating the plan must give exactly plan.orders")

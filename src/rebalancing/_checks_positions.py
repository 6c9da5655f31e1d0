"""Invariants of the positions a plan leaves, and of the reasons it gives for skipping.

No order except a close is below the thresholds; closes send exactly the held quantity;
no position ends beyond its target quantity or above the caps; no short is planned unless
allowed; the direction is respected; and every skip reason is true of its asset.
"""

from __future__ import annotations

import math

from ._checks_cash import CashChecks
from ._checks_facts import NOISE, REL, Asset, fail
from ._config import Rounding, TradeDirection
from ._result import Action, Adjustment, SkipReason
from ._snapshot import Side

__all__ = ["PositionChecks"]


class PositionChecks(CashChecks):
    """The position, threshold and skip-reason invariants of :func:`check_plan`.

    A skip reason of cash-limited is checked by :class:`CashChecks`, hence the base.
    """

    def _check_thresholds(self) -> None:
        for asset in self.assets.values():
            for order in asset.orders:
                if order.action is Action.CLOSE:
                    continue
                if not self.positive:
                    fail(f"equity is {self.equity!r} <= 0 so only closes may trade, got {order!r}")
                if not self._due(asset, order.value):
                    fail(
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
                    fail(
                        f"close {order!r} must send exactly the held quantity {abs(exposure)!r} "
                        "(minus kept pending orders that close part of it)"
                    )
                if order.side.sign * exposure >= 0.0:
                    fail(f"close {order!r} is on the wrong side of the position {exposure!r}")
            decision = self.decisions[asset.name]
            if (
                abs(asset.target) <= NOISE
                and asset.price is not None
                and not self._left_alone(asset)
                and exposure != 0.0
                and not closes
                and abs(exposure) > self._qty_tol(asset)
            ):
                fail(
                    f"{asset.name!r} has target 0 but its position {asset.current!r} is not "
                    f"closed (skip reason {decision.skip_reason!r})"
                )
            if (
                abs(asset.target) <= NOISE
                and asset.orders
                and any(o.action is not Action.CLOSE for o in asset.orders)
            ):
                fail(f"{asset.name!r} has target 0, so its only order is a close: {asset.orders!r}")
            self._check_closed_keeps_only_closers(asset)

    def _check_closed_keeps_only_closers(self, asset: Asset) -> None:
        """A target of 0 keeps only pending orders that close part of the holding.

        Whatever the direction: a direction blocks the close, not the cancel of orders that
        would take the position further from 0.
        """
        if abs(asset.target) > NOISE or asset.price is None:
            return
        if self._decision(asset.name).skip_reason is SkipReason.NOT_TARGETED:
            return
        kept = self._kept_working(asset)
        away = [o.order_id for o in kept if o.side.sign * asset.current >= 0.0]
        closing = math.fsum(o.quantity for o in kept if o.side.sign * asset.current < 0.0)
        if away or closing > abs(asset.current) + self._qty_tol(asset):
            fail(
                f"{asset.name!r} has target 0 but keeps pending orders "
                f"{[o.order_id for o in kept]!r} beyond closing its position {asset.current!r}"
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
            slack = REL * max(abs(wanted), abs(planned), 1e-300) + self._qty_tol(asset)
            if config.rounding is not Rounding.DOWN:  # CLOSEST, OPTIMAL: one step over
                slack += step
                allowances += step * asset.unit_value / equity
            if planned * wanted < 0.0 and abs(planned) > slack:
                fail(
                    f"{asset.name!r} ends at {planned!r} on the other side of its target "
                    f"quantity {wanted!r}"
                )
            # A short's cover is a buy: the cash may cut it short of the target and the
            # cap. It is then held to no more than it was, like an untraded asset.
            if (
                planned < 0.0
                and asset.current < planned
                and Adjustment.CASH_LIMITED in self.decisions[asset.name].adjustments
            ):
                allowances += max(0.0, abs(weight) - abs(asset.target))
                continue
            if abs(planned) > abs(wanted) + slack:
                fail(
                    f"{asset.name!r} ends at {planned!r}, beyond its target quantity "
                    f"{wanted!r} ({config.rounding.value} rounding never goes over target)"
                )
            if abs(weight) > cap * (1 + REL) + (slack * asset.unit_value / equity):
                fail(f"{asset.name!r} ends at weight {weight!r}, above max_single_weight={cap!r}")
        limit = config.max_gross_leverage
        if limit is not None and gross > limit + allowances + 1e-9 * max(1.0, gross):
            fail(f"gross weight after the trades {gross!r} exceeds max_gross_leverage={limit!r}")

    def _check_shorts(self) -> None:
        if self.allow_short:
            return
        for asset in self.assets.values():
            for order in asset.orders:
                if order.side is Side.SELL and order.action in (Action.OPEN, Action.INCREASE):
                    fail(f"{order!r} opens or increases a short but allow_short is False")
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
                fail(
                    f"{asset.name!r} is projected at {projected!r} (short) although "
                    "allow_short is False"
                )
            for resting in self._kept_resting(asset):
                if resting.side is Side.SELL and resting.quantity > max(sure, 0.0) * (1 + REL):
                    fail(
                        f"resting sell {resting.order_id!r} of {asset.name!r} is kept but would "
                        f"open a short (projected {projected!r}) although allow_short is False"
                    )

    def _check_direction(self) -> None:
        direction = self.config.direction
        blocked = {TradeDirection.BUY_ONLY: Side.SELL, TradeDirection.SELL_ONLY: Side.BUY}
        side = blocked.get(direction)
        for order in self.plan.orders:
            if order.side is side:
                fail(f"{order!r} is a {side.value} but direction is {direction.value}")

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
                    not self.positive and abs(asset.target) > NOISE and asset.price is not None
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
                    fail(f"{where}, but it must be {forced.value}")
            if reason in truth:
                if not truth[reason]:
                    fail(f"{where}, which does not apply")
                continue
            if asset.price is None or not self.positive:
                if abs(asset.target) <= NOISE and reason in (
                    SkipReason.AT_TARGET,
                    SkipReason.PENDING_COVERS,
                ):
                    continue
                fail(f"{where}, but it has no price or equity is not positive")
            gaps = [abs(g) for g in self._gaps(asset)]
            step = (asset.increment or 0.0) * asset.unit_value
            noise = NOISE * self.equity * (1 + 1e-6) + REL * self.scale
            if reason in (SkipReason.AT_TARGET, SkipReason.PENDING_COVERS):
                if abs(asset.target) <= NOISE:
                    ok = any(g <= REL * self.scale for g in gaps)
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
                    fail(f"{where} but it is {min(gaps)!r} away from its target value")
            elif reason is SkipReason.ROUNDS_TO_ZERO:
                if asset.increment is None or not any(g <= step * (1 + 1e-6) for g in gaps):
                    fail(f"{where} but the trade {min(gaps)!r} exceeds one increment {step!r}")
            elif reason is SkipReason.WEIGHT_CHANGE_TOO_SMALL:
                if not any(self._below_weight(asset, max(0.0, g - step)) for g in gaps):
                    fail(f"{where} but the trade {min(gaps)!r} passes min_weight_change")
            elif reason is SkipReason.TRADE_VALUE_TOO_SMALL:
                if not any(max(0.0, g - step) < config.min_trade_value * (1 + REL) for g in gaps):
                    fail(f"{where} but the trade {min(gaps)!r} passes min_trade_value")
            elif reason is SkipReason.CASH_LIMITED:
                self._check_cash_limited(asset, where)

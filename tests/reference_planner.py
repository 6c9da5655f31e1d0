"""The planner as it was before the columnar core (issue 11): a reference model.

The tests check that the columnar core plans exactly what this one did on random books.
Kept as written then (OPTIMAL removed: the solver is checked against its own optimum).

validate -> constrain targets -> current exposure -> size -> thresholds and rounding ->
fund -> order. Every step is a function of its inputs only: no I/O, clock or globals.
Assets are processed in sorted order and sums use :func:`math.fsum`, so the key order of
the inputs never changes the plan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from rebalancing._allocation import (
    FLOAT_NOISE,
    HoldingItem,
    closest_holdings,
    snap_whole,
    water_level,
)
from rebalancing._config import RebalanceConfig, Rounding, TradeDirection
from rebalancing._funding import BROKER_NOISE
from rebalancing._result import Action, Adjustment, Decision, Order, RebalancePlan, SkipReason
from rebalancing._snapshot import PendingOrder, PortfolioSnapshot, Side, pending_by_asset
from rebalancing._validation import check_name, integral, mapping_items, to_number
from rebalancing.exceptions import InvalidConfigError, InvalidSnapshotError, InvalidTargetsError

__all__ = ["compute_trades"]

#: Weight changes below this (fraction of equity) are floating-point noise, not trades.
NOISE = 1e-9
#: Tolerance when a budget cut (with its margin) is divided into whole units or lots.
_UNIT_EPS = 1e-9
#: Equity at or below this share of cash + gross position value (or this many units of
#: currency) is treated as non-positive: weights against it would be noise.
_EQUITY_NOISE = 1e-9
#: Float noise a budget may be overspent by, relative to the larger of cash and equity
#: (at least 1): the one budget rule of DOWN and CLOSEST.
_CASH_NOISE = 1e-12


def compute_trades(
    snapshot: PortfolioSnapshot,
    target_weights: Mapping[str, float],
    config: RebalanceConfig | None = None,
) -> RebalancePlan:
    """Plan the orders that take ``snapshot`` to ``target_weights``.

    Args:
        snapshot: The account: cash, positions, prices, pending orders.
        target_weights: asset -> fraction of equity (any mapping, e.g. a dict or a pandas
            Series). Weights may sum to less than 1 (the rest stays cash) or, in a
            margin account, to more. Held assets that are missing, and explicit zeros,
            are closed.
        config: How to rebalance; ``None`` means ``RebalanceConfig()``.

    Returns:
        A frozen :class:`RebalancePlan`; iterate it for the orders in submission order.

    Raises:
        InvalidTargetsError: a weight is not a finite number or an asset name is bad.
        InvalidSnapshotError: ``snapshot`` is not a :class:`PortfolioSnapshot`.
        InvalidConfigError: ``config`` is not a :class:`RebalanceConfig`.

    >>> snap = PortfolioSnapshot(10_000.0, prices={"AAA": 100.0, "BBB": 50.0})
    >>> plan = compute_trades(snap, {"AAA": 0.5, "BBB": 0.3})
    >>> [(o.side.value, o.asset, o.quantity) for o in plan]
    [('buy', 'AAA', 50), ('buy', 'BBB', 60)]
    >>> plan.projected_cash
    2000.0
    """
    chosen: object = RebalanceConfig() if config is None else config
    if not isinstance(chosen, RebalanceConfig):
        msg = f"config must be a RebalanceConfig or None, got {type(chosen).__name__} {chosen!r}"
        raise InvalidConfigError(msg)
    account: object = snapshot
    if not isinstance(account, PortfolioSnapshot):
        msg = f"snapshot must be a PortfolioSnapshot, got {type(account).__name__}"
        raise InvalidSnapshotError(msg)
    targets = validate_targets(target_weights)
    if chosen.rounding is Rounding.OPTIMAL:
        msg = "the reference planner has no OPTIMAL"
        raise NotImplementedError(msg)
    try:
        plan: RebalancePlan | None = _Planner(account, targets, chosen).plan()
    except OverflowError:
        plan = None
    if plan is None or not _finite(plan):
        raise InvalidSnapshotError(_overflow_message(account, targets, chosen))
    return plan


#: Inputs larger than this are named when a plan overflows.
_HUGE = 1e100


def _finite(plan: RebalancePlan) -> bool:
    """Whether every figure of the plan is a finite number."""
    figures = [plan.projected_cash, plan.estimated_costs, plan.turnover, plan.cash_floor]
    figures.extend(order.value + order.estimated_cost for order in plan.orders)
    figures.extend(d.projected_weight for d in plan.decisions)
    return all(math.isfinite(figure) for figure in figures)


def _overflow_message(
    snapshot: PortfolioSnapshot, targets: Mapping[str, float], config: RebalanceConfig
) -> str:
    """Name the inputs so large that planning with them overflows."""
    named = [("cash", snapshot.cash)]
    for label, mapping in (
        ("positions", snapshot.positions),
        ("prices", snapshot.prices),
        ("multipliers", snapshot.multipliers),
        ("target_weights", targets),
    ):
        named.extend((f"{label}[{asset!r}]", value) for asset, value in mapping.items())
    named.extend(
        (f"pending order {o.order_id!r} quantity", o.quantity) for o in snapshot.pending_orders
    )
    named.extend(
        (f"RebalanceConfig.{field}", float(getattr(config, field)))
        for field in ("min_trade_value", "cost_per_order")
    )
    huge = [f"{label}={value!r}" for label, value in named if abs(value) > _HUGE]
    culprits = ", ".join(huge) or "the product of cash, quantities and prices"
    return f"planning overflows floating point: these inputs are too large: {culprits}"


def validate_targets(target_weights: object) -> dict[str, float]:
    """Check every target before anything is decided; return them sorted by asset."""
    checked: dict[str, float] = {}
    for key, raw in mapping_items(target_weights, "target_weights", InvalidTargetsError):
        asset = check_name(key, "target_weights key", InvalidTargetsError)
        if type(raw) is float and raw - raw == 0.0:
            checked[asset] = raw  # the common case, checked fast
        else:
            checked[asset] = to_number(raw, f"target_weights[{asset!r}]", InvalidTargetsError)
    return dict(sorted(checked.items()))


def constrain_targets(
    targets: Mapping[str, float], config: RebalanceConfig, *, margin: bool = True
) -> tuple[dict[str, float], dict[str, list[Adjustment]]]:
    """Clamp shorts, cap |w|, scale to the gross cap, then apply the cash buffer.

    In a cash account (``margin=False``) the gross cap is at most 1: a book that asks
    for more (PyPortfolioOpt's cleaned weights often sum to 1.00001) is scaled to 1.
    Shorting borrows too, so a cash account clamps short targets to 0 whatever
    ``allow_short`` says.
    """
    effective: dict[str, float] = {}
    notes: dict[str, list[Adjustment]] = {asset: [] for asset in targets}
    cap = config.max_single_weight
    shorts = config.allow_short and margin
    for asset, requested in targets.items():
        weight = requested
        if weight < 0.0 and not shorts:
            weight = 0.0
            notes[asset].append(Adjustment.SHORT_CLAMPED)
        if abs(weight) > cap:
            weight = math.copysign(cap, weight)
            notes[asset].append(Adjustment.CAPPED)
        effective[asset] = weight
    gross = math.fsum(abs(w) for w in effective.values())
    limit = config.max_gross_leverage
    scaled = Adjustment.LEVERAGE_SCALED
    if not margin and (limit is None or limit > 1.0):
        limit, scaled = 1.0, Adjustment.CASH_ACCOUNT
    if limit is not None and gross > limit:
        scale = limit / gross
        for asset, weight in effective.items():
            if weight != 0.0:
                effective[asset] = weight * scale
                notes[asset].append(scaled)
    if config.cash_buffer > 0.0:
        for asset, weight in effective.items():
            if weight != 0.0:
                effective[asset] = weight * (1.0 - config.cash_buffer)
                notes[asset].append(Adjustment.CASH_BUFFER)
    return effective, notes


def _units(quantity: float, increment: float, tolerance: float = FLOAT_NOISE) -> float:
    """``quantity / increment`` in whole units, float noise snapped (see ``snap_whole``)."""
    return snap_whole(quantity / increment, tolerance)


def round_holding(current: float, desired: float, increment: float | None) -> float:
    """The final holding ``Rounding.DOWN`` aims for.

    Reachable from ``current`` by whole ``increment``s (or by an exact close to 0), on
    the same side as ``desired`` and never larger than it: the closest such holding.
    """
    if increment is None or desired == current:
        return desired
    sign = 1.0 if desired > 0.0 else -1.0
    size, held = abs(desired), sign * current
    if held <= 0.0:
        # Flat or on the other side: close exactly, then open whole increments.
        return sign * math.floor(_units(size, increment)) * increment
    if size >= held:
        return sign * (held + math.floor(_units(size - held, increment)) * increment)
    steps = math.ceil(_units(held - size, increment))
    remaining = held - steps * increment
    if remaining < increment * _UNIT_EPS:
        return 0.0  # the sell would cross zero: close exactly instead
    return sign * remaining


def _half_down(units: float) -> float:
    """Nearest whole number; an exact half goes down (toward spending less)."""
    return float(math.ceil(units - 0.5))


def round_nearest(current: float, desired: float, increment: float | None) -> float:
    """The reachable holding nearest ``desired`` (``Rounding.CLOSEST`` before funding)."""
    if increment is None or desired == current:
        return desired
    sign = 1.0 if desired > 0.0 else -1.0
    held = sign * current
    size = abs(desired)
    if held < 0.0 or desired == 0.0:
        return sign * _half_down(_units(size, increment)) * increment
    candidate = held + _half_down(_units(size - held, increment)) * increment
    if candidate < 0.0:
        return 0.0
    return sign * candidate


class _Line:
    """Mutable working state for one asset while the plan is built."""

    __slots__ = (
        "active",
        "adjustments",
        "asset",
        "cancels",
        "current",
        "desired",
        "exposure",
        "final",
        "increment",
        "kept_working",
        "legs",
        "price",
        "requested",
        "resting",
        "skip",
        "target",
        "unit_value",
        "whole",
        "working",
    )

    def __init__(self, asset: str) -> None:
        self.asset = asset
        self.price: float | None = None
        self.unit_value = 0.0
        self.increment: float | None = None
        self.whole = False
        self.requested: float | None = None
        self.target = 0.0
        self.adjustments: list[Adjustment] = []
        self.current = 0.0
        self.exposure = 0.0
        self.desired = 0.0
        #: The holding the rounded legs reach, before funding (CLOSEST funding reads it).
        self.final = 0.0
        self.working: list[PendingOrder] = []
        self.resting: list[PendingOrder] = []
        self.kept_working: list[PendingOrder] = []
        self.cancels: list[str] = []
        self.legs: list[tuple[Side, float, Action]] = []
        self.skip: SkipReason | None = None
        #: False when the plan must not touch the asset (frozen, blocked, left alone).
        self.active = True


class _Planner:
    """One run of the pipeline. Holds derived inputs; every step reads and fills lines."""

    def __init__(
        self, snapshot: PortfolioSnapshot, targets: dict[str, float], config: RebalanceConfig
    ) -> None:
        self.snap = snapshot
        self.targets = targets
        self.config = config
        self.equity = snapshot.equity
        gross = math.fsum(abs(snapshot.value_of(asset)) for asset in snapshot.held)
        # Equity lost in the float noise of its parts is no equity to weigh against.
        self.positive = self.equity > max(
            _EQUITY_NOISE * (abs(snapshot.cash) + gross), _EQUITY_NOISE
        )
        fractional = config.allow_fractional
        self.fractional = snapshot.fractional if fractional is None else fractional
        #: Whether kept working orders count as exposure when sizing.
        self.counts_pending = not config.cancel_before_rebalance and config.account_for_pending
        #: Shorting borrows, so only a margin account may short.
        self.allow_short = config.allow_short and snapshot.margin
        self.lines: dict[str, _Line] = {}

    # -- steps -------------------------------------------------------------------------

    def plan(self) -> RebalancePlan:
        effective, notes = constrain_targets(self.targets, self.config, margin=self.snap.margin)
        self._build_lines(effective, notes)
        for line in self.lines.values():
            self._size(line)
        floor = self._cash_floor()
        self._fund(floor)
        for line in self.lines.values():
            self._settle_resting(line)
        return self._assemble(floor)

    def _build_lines(self, effective: dict[str, float], notes: dict[str, list[Adjustment]]) -> None:
        snap, config = self.snap, self.config
        pending = pending_by_asset(snap.pending_orders)
        universe = sorted(set(self.targets) | set(snap.held) | set(pending))
        for asset in universe:
            line = _Line(asset)
            line.current = snap.positions.get(asset, 0.0)
            price = snap.prices.get(asset)
            line.price = price
            if price is not None:
                line.unit_value = price * snap.multiplier(asset)
            lot = snap.lot_sizes.get(asset)
            if lot is None and config.round_lots:
                lot = float(config.lot_size)
            if lot is None and not self.fractional:
                lot = 1.0
            line.increment = lot
            line.whole = lot is not None and lot == int(lot)
            # Kept resting entries (orders that add to the position if they fill, such
            # as a dip buy) go with the working orders of an asset the targets hold:
            # counted when pending orders are (so the plan plus every kept order that
            # may fill never exceeds the target), their cash set aside either way.
            # Resting exits (stops, take-profits) never count.
            keeps_entries = (
                not config.cancel_before_rebalance
                and asset in self.targets
                and abs(effective[asset]) > NOISE
                and price is not None
            )
            toward = line.current if line.current != 0.0 else effective.get(asset, 0.0)
            for order in pending.get(asset, ()):
                works = price is not None and order.executes_as_placed(price)
                if works or (keeps_entries and order.side.sign * toward > 0.0):
                    line.working.append(order)
                else:
                    line.resting.append(order)
            if asset in self.targets:
                line.requested = self.targets[asset]
                line.target = effective[asset]
                line.adjustments = notes[asset]
            elif not config.close_untargeted:
                line.active = False
                line.skip = SkipReason.NOT_TARGETED
                line.kept_working = list(line.working)
                if self.positive:
                    line.target = line.current * line.unit_value / self.equity
            self.lines[asset] = line

    def _size(self, line: _Line) -> None:
        """Desired holding, exposure, rounding and thresholds for one asset."""
        if not line.active:
            return
        config = self.config
        if line.price is None:
            line.active = False
            line.skip = SkipReason.NO_PRICE
            return
        if abs(line.target) > NOISE and not self.positive:
            line.active = False
            line.skip = SkipReason.NON_POSITIVE_EQUITY
            line.kept_working = list(line.working)
            return
        if abs(line.target) <= NOISE:
            # A target within float noise of 0 (1e-16 from an optimizer) is a close.
            self._size_close(line)
            return
        line.desired = line.target * self.equity / line.unit_value
        if not math.isfinite(line.desired):
            msg = (
                f"target_weights[{line.asset!r}] = {line.requested!r} overflows: "
                f"equity {self.equity!r} (cash and positions) over the unit value "
                f"{line.unit_value!r} (prices[{line.asset!r}]) is too many units"
            )
            raise InvalidSnapshotError(msg)
        line.exposure = line.current
        if config.cancel_before_rebalance:
            line.cancels.extend(o.order_id for o in line.working)
        else:
            line.kept_working = list(line.working)
            if self.counts_pending:
                line.exposure += math.fsum(o.signed_quantity for o in line.working)
        self._round(line)

    def _round(self, line: _Line, *, down: bool = False) -> None:
        """Round and check the line's trade, then apply the direction and short rules.

        Never crosses a counted working order: if the trade (after rounding) points
        against one, the asset's working orders are cancelled and it is sized again from
        its position alone. This is decided before the trade direction may block the
        trade, so a BUY_ONLY plan still replaces a pending buy larger than the target.
        """
        self._round_and_check(line, pending_counted=line.exposure != line.current, down=down)
        replaced = self.counts_pending and any(
            order.side is not side for order in line.kept_working for side, _, _ in line.legs
        )
        overshooting: list[PendingOrder] = []
        if replaced:
            overshooting = line.kept_working
            line.cancels.extend(o.order_id for o in line.kept_working)
            line.kept_working = []
            line.exposure = line.current
            line.legs = []
            self._round_and_check(line, pending_counted=False, down=down)
        self._apply_direction(line)
        if replaced and line.active:
            line.adjustments.append(Adjustment.PENDING_REPLACED)
        elif replaced:
            # The direction blocks the trade, not the cancel: pending orders that would
            # take the asset past its target still go (the position stays as it is).
            line.cancels = [o.order_id for o in overshooting]
            line.kept_working = [o for o in line.working if o not in overshooting]
        if line.kept_working and not self.allow_short and line.active:
            self._no_short_from_pending(line)

    def _no_short_from_pending(self, line: _Line) -> None:
        """Cancel kept working sells that, with the plan's sells, would leave a short.

        Only possible when pending orders are kept but not counted
        (``account_for_pending=False``): the plan was sized as if they did not exist.
        """
        sold = math.fsum(q for side, q, _ in line.legs if side is Side.SELL)
        after = line.current - sold + math.fsum(o.signed_quantity for o in line.kept_working)
        if after >= -abs(line.current) * _UNIT_EPS:
            return
        sells = [o for o in line.kept_working if o.side is Side.SELL]
        line.kept_working = [o for o in line.kept_working if o.side is Side.BUY]
        line.cancels.extend(o.order_id for o in sells)

    def _size_close(self, line: _Line) -> None:
        """Target 0: close exactly, keeping pending orders that already close part of it."""
        closing: list[PendingOrder] = []
        room = abs(line.current)
        for order in line.working:
            if order.side.sign * line.current < 0.0 and order.quantity <= room * (1 + _UNIT_EPS):
                closing.append(order)
                room -= order.quantity
        kept = closing if self.counts_pending else []
        line.kept_working = kept
        line.cancels.extend(o.order_id for o in line.working if o not in kept)
        line.exposure = line.current + math.fsum(o.signed_quantity for o in kept)
        if abs(line.exposure) <= abs(line.current) * _UNIT_EPS:
            if kept:
                line.skip = SkipReason.PENDING_COVERS
            elif self._clamped_only(line):
                line.skip = SkipReason.SHORT_NOT_ALLOWED
            else:
                line.skip = SkipReason.AT_TARGET
            return
        side = Side.SELL if line.exposure > 0.0 else Side.BUY
        line.legs = [(side, abs(line.exposure), Action.CLOSE)]
        self._apply_direction(line)
        if not line.active:
            # The direction blocks the close, not the cancel of orders that would take
            # the position further from 0.
            line.cancels = [o.order_id for o in line.working if o not in closing]
            line.kept_working = closing

    def _clamped_only(self, line: _Line) -> bool:
        return Adjustment.SHORT_CLAMPED in line.adjustments

    def _due(self, line: _Line, value: float) -> bool:
        """Whether a trade of this notional passes the thresholds."""
        return self._threshold_reason(line, value) is None

    def _threshold_reason(self, line: _Line, value: float) -> SkipReason | None:
        """Why a trade of this notional is not due, or None when it is."""
        config = self.config
        change = value / self.equity
        band = config.relative_band
        if change <= NOISE:
            return SkipReason.WEIGHT_CHANGE_TOO_SMALL
        if change < config.min_weight_change and not (
            band is not None and change >= band * abs(line.target)
        ):
            return SkipReason.WEIGHT_CHANGE_TOO_SMALL
        if value < config.min_trade_value:
            return SkipReason.TRADE_VALUE_TOO_SMALL
        return None

    def _round_and_check(self, line: _Line, *, pending_counted: bool, down: bool) -> None:
        unit_value = line.unit_value
        raw_value = abs(line.desired - line.exposure) * unit_value
        if raw_value <= NOISE * self.equity:
            line.final = line.exposure
            line.skip = SkipReason.PENDING_COVERS if pending_counted else SkipReason.AT_TARGET
            self._explain_skip(line)
            return
        if self.config.rounding is not Rounding.DOWN and not down:  # CLOSEST, OPTIMAL
            final = round_nearest(line.exposure, line.desired, line.increment)
            if abs(final) * unit_value > self.config.max_single_weight * self.equity:
                # Rounding up may not break the single-weight cap.
                final = round_holding(line.exposure, line.desired, line.increment)
        else:
            final = round_holding(line.exposure, line.desired, line.increment)
        if abs(final) * unit_value <= NOISE * self.equity:
            final = 0.0  # a dust remainder is no holding: close exactly
        line.final = final
        legs = self._legs(line.exposure, final, line.increment)
        if not legs:
            line.final = line.exposure
            rounded = SkipReason.PENDING_COVERS if pending_counted else SkipReason.ROUNDS_TO_ZERO
            line.skip = self._threshold_reason(line, raw_value) or rounded
            self._explain_skip(line)
            return
        # A short in an account that may not short is closed whatever its size.
        forced = line.exposure < 0.0 and not self.allow_short
        reason = (
            None
            if forced
            else self._threshold_reason(line, abs(final - line.exposure) * unit_value)
        )
        if reason is not None:
            if self._down_is_closer(line, nearest=not down):
                # CLOSEST's nearest trade is too small, DOWN's is not and ends closer.
                self._round_and_check(line, pending_counted=pending_counted, down=True)
                return
            line.final = line.exposure
            line.skip = reason
            self._explain_skip(line)
            return
        if len(legs) == 2 and self._threshold_reason(line, legs[1][1] * unit_value) is not None:
            # A reversal whose opening leg is too small on its own: just close.
            legs = legs[:1]
            line.final = 0.0
        line.legs = legs

    def _down_is_closer(self, line: _Line, *, nearest: bool) -> bool:
        """Whether DOWN's trade passes the thresholds and ends closer than not trading.

        Only asked for CLOSEST's nearest trade once it failed them, so CLOSEST never
        ends further from target than DOWN because of a threshold.
        """
        if not nearest or self.config.rounding is not Rounding.CLOSEST:
            return False
        down = round_holding(line.exposure, line.desired, line.increment)
        if abs(down) * line.unit_value <= NOISE * self.equity:
            down = 0.0
        value = abs(down - line.exposure) * line.unit_value
        return (
            abs(down - line.desired) < abs(line.exposure - line.desired)
            and self._threshold_reason(line, value) is None
        )

    def _explain_skip(self, line: _Line) -> None:
        """Name the cap when it, not the threshold, is why nothing trades.

        (A clamped short is a close, which ``_size_close`` explains.)
        """
        if Adjustment.CAPPED in line.adjustments and line.requested is not None:
            uncapped = line.requested * self.equity - line.exposure * line.unit_value
            if self._due(line, abs(uncapped)):
                line.skip = SkipReason.CAPPED

    def _legs(
        self, start: float, final: float, increment: float | None = None
    ) -> list[tuple[Side, float, Action]]:
        """The orders from ``start`` to ``final``: a reversal is a close, then an open.

        A trade between two holdings an increment apart is snapped to whole increments,
        so a whole-unit buy from a fractional holding is still a whole number.
        """
        if final == start:
            return []
        if start != 0.0 and (final == 0.0 or (final > 0.0) != (start > 0.0)):
            legs = [(Side.SELL if start > 0.0 else Side.BUY, abs(start), Action.CLOSE)]
            if final != 0.0:
                legs.append((Side.BUY if final > 0.0 else Side.SELL, abs(final), Action.OPEN))
            return legs
        side = Side.BUY if final > start else Side.SELL
        size = abs(final - start)
        if increment is not None:
            size = round(_units(size, increment)) * increment
        if start == 0.0:
            return [(side, size, Action.OPEN)]
        action = Action.INCREASE if abs(final) > abs(start) else Action.REDUCE
        return [(side, size, action)]

    def _apply_direction(self, line: _Line) -> None:
        direction = self.config.direction
        if direction is TradeDirection.BOTH:
            return
        blocked = Side.SELL if direction is TradeDirection.BUY_ONLY else Side.BUY
        if any(side is blocked for side, _, _ in line.legs):
            line.legs = []
            line.skip = SkipReason.DIRECTION
            # Blocked assets are left exactly as they are, pending orders included.
            line.active = False
            line.cancels = []
            line.kept_working = list(line.working)

    def _cash_floor(self) -> float:
        """Cash the buys may not go below: the buffer, or what the targets imply if lower."""
        equity = self.equity
        if not self.positive:
            return 0.0
        # Holdings a sleeve leaves alone do not lower the floor: only the targets may
        # ask to borrow.
        implied = 1.0 - math.fsum(
            line.target for line in self.lines.values() if line.requested is not None
        )
        floor = min(self.config.cash_buffer, implied)
        if not self.snap.margin:
            floor = max(floor, 0.0)  # a cash account never borrows, not even float noise
        return floor * equity

    def _cost(self, value: float) -> float:
        return self.config.cost_rate * value + self.config.cost_per_order

    def _pending_flow(self, line: _Line) -> list[float]:
        """Cash effect of the working pending orders the plan keeps (they will fill)."""
        flows = []
        multiplier = self.snap.multiplier(line.asset)
        for order in line.kept_working:
            value = order.quantity * order.execution_price(line.price or 0.0) * multiplier
            flows.append(-order.side.sign * value - self._cost(value))
        return flows

    def _funding(self) -> tuple[float, list[tuple[_Line, float]]]:
        """Cash for buys, and each line's wanted buy value.

        Available cash is after sells, closes, kept pending orders and their estimated
        costs; closes are never cut, so they are not among the needs.
        """
        flows = [self.snap.cash]
        needs: list[tuple[_Line, float]] = []
        for line in self.lines.values():
            flows.extend(self._pending_flow(line))
            for side, quantity, action in line.legs:
                if side is Side.BUY and action is not Action.CLOSE:
                    continue
                value = quantity * line.unit_value
                flows.append(-side.sign * value - self._cost(value))
            bought = self._buy_quantity(line)
            if bought > 0.0:
                needs.append((line, bought * line.unit_value))
        return math.fsum(flows), needs

    def _fund(self, floor: float) -> None:
        """Cut buys back so projected cash stays at or above ``floor``."""
        available, needs = self._funding()
        if available < floor and self._cancel_overshooting_buys():
            available, needs = self._funding()
        if not needs:
            return
        total = math.fsum(value + self._cost(value) for _, value in needs)
        slack = _CASH_NOISE * max(abs(self.snap.cash), abs(self.equity), 1.0)
        if total <= available - floor + slack:
            return
        if self.config.rounding is Rounding.CLOSEST:
            self._fund_closest(available - floor + slack, needs, slack)
        else:
            self._water_fill(needs, available - floor + slack, slack)

    def _cancel_overshooting_buys(self) -> bool:
        """Cancel counted pending buys that go past the target, when cash is short.

        Overshooting by less than a trade the thresholds would send counts as at target,
        so such a pending buy is kept; but not with cash the account does not have (a
        dip buy of one unit above a fully invested cash account). A cancel is not a
        trade: the thresholds do not apply to it. Returns whether any was cancelled.
        """
        cancelled = False
        for line in self.lines.values():
            if not self.counts_pending or abs(line.target) <= NOISE or line.price is None:
                continue
            reached = line.exposure + math.fsum(side.sign * q for side, q, _ in line.legs)
            # The pending buys themselves go past the target, not a round-up of the
            # plan's own buy (nor its float noise), which the funding cuts like any buy.
            if reached <= line.desired or line.exposure <= line.desired or reached <= 0.0:
                continue
            buys = [o for o in line.kept_working if o.side is Side.BUY]
            if not buys:
                continue
            line.cancels.extend(o.order_id for o in buys)
            line.kept_working = [o for o in line.kept_working if o.side is not Side.BUY]
            line.exposure -= math.fsum(o.quantity for o in buys)
            # Sized again from what is left: a buy it still needs is funded (or cut, and
            # then said to be cash-limited) like any other.
            line.legs, line.skip = [], None
            self._round(line)
            if not line.active:
                # The direction blocks the buy that would replace them, not the cancel.
                line.cancels += [o.order_id for o in buys if o.order_id not in line.cancels]
                line.kept_working = [o for o in line.kept_working if o not in buys]
            cancelled = True
        return cancelled

    def _fund_closest(self, spare: float, needs: list[tuple[_Line, float]], slack: float) -> None:
        """Repair sells and buys together to the holdings closest to target that fit.

        Every buy, and every long that sells or holds at its nearest, is an item of one
        budget problem (see :func:`~rebalancing._allocation.closest_holdings`): a buy may
        be cut back, a long may sell down (see :meth:`_deepen_sells`) to free cash. The
        cash the items' sells bring now is taken out of the budget, since the repair
        chooses them again. ``needs`` (the buys) are all items. closest_holdings keeps to
        its budget (``spare``: the cash above the floor plus the float ``slack``) by an
        exact sum.
        """
        del needs  # every buy is an item
        chosen: list[tuple[_Line, HoldingItem]] = []
        proceeds: list[float] = []
        for line in self.lines.values():
            item = self._closest_item(line)
            if item is None:
                continue
            chosen.append((line, item))
            for side, quantity, _ in line.legs:
                if side is Side.SELL:
                    value = quantity * line.unit_value
                    proceeds.append(value - self._cost(value))
        chosen = self._deepen_sells(chosen)
        holdings = closest_holdings(
            [item for _, item in chosen],
            spare - math.fsum(proceeds),
            cost_rate=self.config.cost_rate,
            cost_per_order=self.config.cost_per_order,
            slack=slack,
        )
        for (line, item), holding in zip(chosen, holdings, strict=True):
            self._set_holding(line, item, holding)

    def _closest_item(self, line: _Line) -> HoldingItem | None:
        """The line as an item of CLOSEST's joint repair, or None when it stays as it is.

        Buys (from the holding, or from 0 after a reversal's close) may be cut back to
        their holding; longs selling or held at their nearest may sell down to where
        DOWN would (and :meth:`_deepen_sells` lets them go further) unless the plan may
        not sell. Shorts, closes and blocked or untargeted assets keep their legs.
        """
        if not line.active or line.price is None or abs(line.target) <= NOISE:
            return None
        increment, unit_value = line.increment, line.unit_value
        minimum = self._min_buy_value(line)
        buying = [leg for leg in line.legs if leg[0] is Side.BUY and leg[2] is not Action.CLOSE]
        if buying:
            start = 0.0 if len(line.legs) == 2 else line.exposure
            down = self._down_holding(line, start)
            return HoldingItem(
                start,
                line.desired,
                start,
                line.final,
                max(start, min(down, line.final)),
                increment,
                unit_value,
                minimum,
            )
        start = line.exposure
        if start <= 0.0 or line.desired <= 0.0 or len(line.legs) > 1:
            return None
        if not line.legs and self.config.direction is TradeDirection.BUY_ONLY:
            return None  # the plan may not sell
        down = self._down_holding(line, start)
        low = min(line.final, down)
        if low >= start:
            return None
        return HoldingItem(start, line.desired, low, start, down, increment, unit_value, minimum)

    def _deepen_sells(
        self, chosen: list[tuple[_Line, HoldingItem]]
    ) -> list[tuple[_Line, HoldingItem]]:
        """Let each sell go below its target by as much value as the dearest step.

        Selling below target adds error dollar for dollar, but it can pay for a step
        that saves more and does not fit in the cash left (keeping one unit of a $900
        holding that is 0.75 units over target, say): no more than the dearest step.
        """
        dearest = max(
            ((item.increment or 0.0) * item.unit_value for _, item in chosen), default=0.0
        )
        deeper = []
        for line, item in chosen:
            increment = item.increment
            if item.high == item.start and increment is not None:
                steps = math.ceil(dearest / (increment * item.unit_value))
                low = max(item.low - steps * increment, 0.0)
                if low == 0.0 and not self._due(line, item.start * item.unit_value):
                    low = item.low  # selling it all would be too small a trade
                item = item._replace(low=low)  # noqa: PLW2901 - the same item, deeper
            deeper.append((line, item))
        return deeper

    def _down_holding(self, line: _Line, start: float) -> float:
        """The holding DOWN rounds to from ``start``, or ``start`` if that is not sent.

        A targeted asset rounded to 0 is checked against the thresholds like any trade.
        """
        down = round_holding(start, line.desired, line.increment)
        if abs(down) * line.unit_value <= NOISE * self.equity:
            down = 0.0
        if down == start or not self._due(line, abs(down - start) * line.unit_value):
            return start
        return down

    def _set_holding(self, line: _Line, item: HoldingItem, holding: float) -> None:
        """Give the line the legs that reach ``holding`` (from the item's start)."""
        if item.high > item.start:  # a buy, maybe cut back
            quantity = holding - item.start
            if line.increment is not None:
                quantity = round(_units(quantity, line.increment)) * line.increment
            self._set_buy(line, max(quantity, 0.0))
            return
        if holding == line.final:
            return
        line.legs = []
        if holding == item.down:
            # Rounded as DOWN would: that also replaces a pending buy it would cross.
            self._round(line, down=True)
            return
        line.final = holding
        line.legs = self._legs(line.exposure, holding, line.increment)
        line.skip = None if line.legs else line.skip
        increment = line.increment
        # Held where the closest holding is the position itself: the sell rounds to none.
        if (
            not line.legs
            and increment is not None
            and abs(line.desired - holding) <= increment * (0.5 + _UNIT_EPS)
        ):
            line.skip = SkipReason.ROUNDS_TO_ZERO

    def _min_buy_value(self, line: _Line) -> float:
        """Smallest trade value the thresholds let through for this line."""
        config = self.config
        change = config.min_weight_change
        if config.relative_band is not None:
            change = min(change, config.relative_band * abs(line.target))
        return max(config.min_trade_value, change * self.equity, NOISE * self.equity)

    @staticmethod
    def _buy_quantity(line: _Line) -> float:
        return math.fsum(
            q for side, q, a in line.legs if side is Side.BUY and a is not Action.CLOSE
        )

    def _water_fill(self, needs: list[tuple[_Line, float]], budget: float, slack: float) -> None:
        """Fund the most under-weight first: every buy is cut by the same amount of value.

        ``budget`` holds the float ``slack``; fractional buys leave it unspent.

        Minimises the distance to target (L1 and L2) for the cash there is. When cut buys
        end below a threshold or round to nothing, buys that could not be funded even
        alone are dropped, then as few of the smallest as it takes for the rest, given
        the cash they free, to be due. Ties are broken by asset name.
        """
        rate, fixed = self.config.cost_rate, self.config.cost_per_order
        # water_level wants the values largest first.
        alive = sorted(needs, key=lambda item: (-item[1], item[0].asset))

        def level_of(kept: list[tuple[_Line, float]]) -> float:
            return water_level([value for _, value in kept], budget, rate, fixed)

        def due(item: tuple[_Line, float], level: float) -> bool:
            line, value = item
            return self._due(line, self._fundable_quantity(line, value - level) * line.unit_value)

        # A buy that is not due even with the whole budget to itself (one unit costs more)
        # can never be funded: drop it first, whatever its size.
        alone = (budget - fixed) / (1.0 + rate)
        alive = [item for item in alive if due(item, item[1] - min(item[1], alone))]
        level = level_of(alive)
        short = [item for item in alive if not due(item, level)]
        if short:
            # Dropping a buy frees cash for the rest, so drop as few as will do, smallest
            # first. Whether the rest are all due only improves as more are dropped, so
            # the fewest is found by bisection: O(n log n), not one pass per drop.
            def without(count: int) -> list[tuple[_Line, float]]:
                dropped = {id(item) for item in short[len(short) - count :]}
                return [item for item in alive if id(item) not in dropped]

            low, high = 1, len(short)
            while low < high:
                middle = (low + high) // 2
                kept = without(middle)
                level = level_of(kept)
                if all(due(item, level) for item in kept):
                    high = middle
                else:
                    low = middle + 1
            alive = without(low)
            level = level_of(alive)
        # Checked again at the final level: never send a buy below a threshold.
        funded = {item[0].asset for item in alive if due(item, level)}
        values = [value for line, value in alive if line.asset in funded]
        # Fractional buys leave BROKER_NOISE of the account for the broker's arithmetic.
        reserve = BROKER_NOISE * max(abs(self.equity), 1.0)
        exact = water_level(values, budget - slack - reserve, rate, fixed)
        for line, value in needs:
            at = level if line.increment is not None else exact
            wanted = value - at if line.asset in funded else 0.0
            if not self._due(line, self._fundable_quantity(line, wanted) * line.unit_value):
                wanted = 0.0  # the reserve took a buy at the threshold's edge below it
            self._set_buy(line, self._fundable_quantity(line, wanted))

    def _fundable_quantity(self, line: _Line, amount: float) -> float:
        """Largest buy quantity worth at most ``amount``, in whole increments."""
        quantity = amount / line.unit_value
        if line.increment is not None:
            # Snap float noise (2.9999999999999996 units) up; the budget's slack absorbs it.
            quantity = math.floor(_units(quantity, line.increment)) * line.increment
        return max(quantity, 0.0)

    def _set_buy(self, line: _Line, quantity: float) -> None:
        """Replace the line's buy leg by ``quantity`` (0 drops it)."""
        wanted = self._buy_quantity(line)
        if quantity >= wanted:
            return
        legs = [leg for leg in line.legs if not (leg[0] is Side.BUY and leg[2] is not Action.CLOSE)]
        action = next(a for s, _, a in line.legs if s is Side.BUY and a is not Action.CLOSE)
        if quantity > 0.0:
            legs.append((Side.BUY, quantity, action))
            line.adjustments.append(Adjustment.CASH_LIMITED)
        line.legs = legs
        if not legs:
            line.skip = SkipReason.CASH_LIMITED

    def _settle_resting(self, line: _Line) -> None:
        """Cancel resting orders (stops, limits away from the market) that could misfire.

        A resting order is kept when it would only shrink the projected position (a
        stop-loss, a take-profit no larger than the position). Otherwise it is cancelled
        when the plan cancels working orders, when pending orders are counted, when the
        asset is being closed, or when it would open a short in an account that may not
        short.

        A direction blocks trades, not cancels: an asset it blocks is settled too where the
        plan may cancel its orders (pending orders counted, or a target of 0).
        """
        blocked = line.skip is SkipReason.DIRECTION and (
            self.counts_pending or abs(line.target) <= NOISE
        )
        if not line.active and not blocked:
            return
        price = line.price or 0.0
        # Only what surely fills: a kept entry (a dip buy) may never fill, and an exit
        # sized against it could then open a short.
        projected = (
            line.current
            + math.fsum(o.signed_quantity for o in line.kept_working if o.executes_as_placed(price))
            + math.fsum(side.sign * q for side, q, _ in line.legs)
        )
        cancel_mode = self.config.cancel_before_rebalance
        for order in line.resting:
            if projected * order.side.sign < 0.0:
                keep = order.quantity <= abs(projected) * (1 + _UNIT_EPS)
            else:
                # It would add to the projected position. Counted pending orders mean the
                # plan already reaches the target, so it would go past it (a take-profit
                # on a long that the plan reverses to short): cancelled.
                opens_short = order.side is Side.SELL and not self.allow_short
                keep = (
                    not cancel_mode
                    and not self.counts_pending
                    and not opens_short
                    and abs(line.target) > NOISE
                )
            if not keep:
                line.cancels.append(order.order_id)

    # -- result ------------------------------------------------------------------------

    def _assemble(self, floor: float) -> RebalancePlan:
        equity = self.equity
        positive = self.positive

        def weight_of(value: float) -> float:
            return value / equity if positive else 0.0

        orders: list[Order] = []
        decisions: list[Decision] = []
        cancels: list[str] = []
        flows = [self.snap.cash]
        costs: list[float] = []
        projected_weights: dict[str, float] = {}
        multipliers = self.snap.multipliers
        for asset, line in self.lines.items():
            line_orders = []
            traded = 0.0
            multiplier = multipliers.get(asset, 1.0)
            for side, quantity, action in line.legs:
                sent = integral(quantity) if line.whole else quantity
                value = quantity * line.unit_value
                cost = self._cost(value)
                line_orders.append(
                    Order(
                        asset=asset,
                        side=side,
                        quantity=sent,
                        price=line.price or 0.0,
                        action=action,
                        multiplier=multiplier,
                        estimated_cost=cost,
                    )
                )
                if side is Side.BUY:
                    flows.append(-value - cost)
                    traded += quantity
                else:
                    flows.append(value - cost)
                    traded -= quantity
                costs.append(cost)
            pending_net = 0.0
            if line.kept_working:
                flows.extend(self._pending_flow(line))
                pending_net = math.fsum(o.signed_quantity for o in line.kept_working)
            projected = line.current + pending_net + traded
            if abs(projected) <= abs(line.current) * _UNIT_EPS:
                projected = 0.0
            orders.extend(line_orders)
            cancels.extend(line.cancels)
            projected_weight = weight_of(projected * line.unit_value)
            if projected != 0.0:
                projected_weights[asset] = projected_weight
            decisions.append(
                Decision(
                    asset=asset,
                    price=line.price,
                    current_quantity=line.current,
                    pending_quantity=pending_net,
                    current_weight=weight_of(line.current * line.unit_value),
                    requested_weight=line.requested,
                    target_weight=line.target,
                    orders=tuple(line_orders),
                    cancels=tuple(line.cancels),
                    projected_quantity=projected,
                    projected_weight=projected_weight,
                    skip_reason=None if line_orders else (line.skip or SkipReason.AT_TARGET),
                    adjustments=tuple(line.adjustments),
                )
            )
        orders.sort(key=_submission_key)
        estimated = math.fsum(costs)
        traded = math.fsum(order.value for order in orders)
        return RebalancePlan(
            orders=tuple(orders),
            cancels=tuple(cancels),
            decisions=tuple(decisions),
            equity=equity,
            cash=self.snap.cash,
            projected_cash=math.fsum(flows),
            cash_floor=floor,
            estimated_costs=estimated,
            turnover=weight_of(traded),
            projected_weights=MappingProxyType(projected_weights),
        )


def _submission_key(order: Order) -> tuple[int, int, str]:
    """Risk-reducing before risk-increasing; within each, sells (which raise cash) first."""
    return (0 if order.action.reduces_risk else 1, 0 if order.side is Side.SELL else 1, order.asset)

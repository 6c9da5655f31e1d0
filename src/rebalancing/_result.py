"""What :func:`compute_trades` returns: a :class:`RebalancePlan` of orders and decisions."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Protocol

import attrs

from ._snapshot import Side

__all__ = ["Action", "Adjustment", "Decision", "Order", "RebalancePlan", "SkipReason"]


class Action(enum.StrEnum):
    """What an order does to the position in its asset."""

    #: From flat to a position.
    OPEN = "open"
    #: Larger position, same side.
    INCREASE = "increase"
    #: Smaller position, same side.
    REDUCE = "reduce"
    #: To exactly zero: sends exactly the held quantity.
    CLOSE = "close"

    @property
    def reduces_risk(self) -> bool:
        """Whether the order makes the position smaller (these go first)."""
        return self in (Action.REDUCE, Action.CLOSE)


class SkipReason(enum.StrEnum):
    """Why an asset gets no order (:attr:`Decision.skip_reason`).

    The first three values are ml4t-backtest's own strings.
    """

    WEIGHT_CHANGE_TOO_SMALL = "weight_change_too_small"
    TRADE_VALUE_TOO_SMALL = "trade_value_too_small"
    ROUNDS_TO_ZERO = "rounds_to_zero_shares"
    #: Already at target (within 1e-9 of equity): nothing to do.
    AT_TARGET = "at_target"
    #: Working pending orders already take the asset to its target.
    PENDING_COVERS = "pending_order_covers"
    #: The asset is targeted but has no price.
    NO_PRICE = "no_price"
    #: A negative target in an account that may not short, and nothing held to close.
    SHORT_NOT_ALLOWED = "short_not_allowed"
    #: The trade would only move the asset past ``max_single_weight``.
    CAPPED = "capped"
    #: Not enough cash to fund the buy (after sells, costs and the cash floor).
    CASH_LIMITED = "cash_limited"
    #: Equity is zero or negative: weights have no meaning, so only closes are planned.
    NON_POSITIVE_EQUITY = "non_positive_equity"
    #: ``direction`` forbids the trade (a sell when buying only, a buy when selling only).
    DIRECTION = "direction_not_allowed"
    #: Held but not targeted while ``close_untargeted`` is off: left alone.
    NOT_TARGETED = "not_targeted"


class Adjustment(enum.StrEnum):
    """A change made to an asset's target or trade on the way (:attr:`Decision.adjustments`)."""

    #: A negative target became 0 because shorting is not allowed.
    SHORT_CLAMPED = "short_clamped"
    #: The absolute target was capped at ``max_single_weight``.
    CAPPED = "capped"
    #: The book was scaled down to ``max_gross_leverage``.
    LEVERAGE_SCALED = "leverage_scaled"
    #: The book was scaled to a gross weight of 1: a cash account does not borrow.
    CASH_ACCOUNT = "cash_account"
    #: The target was scaled by ``1 - cash_buffer``.
    CASH_BUFFER = "cash_buffer"
    #: The buy was made smaller than wanted because cash ran short.
    CASH_LIMITED = "cash_limited"
    #: Working pending orders opposed the trade and were cancelled instead of crossed.
    PENDING_REPLACED = "pending_replaced"


@attrs.frozen
class Order:
    """One order to send. ``quantity`` is > 0; whole units and lots are ``int``.

    ``value`` is ``quantity * price * multiplier`` (> 0); ``estimated_cost`` is
    ``cost_rate * value + cost_per_order``.
    """

    asset: str
    side: Side
    quantity: float
    price: float
    action: Action
    multiplier: float = 1.0
    estimated_cost: float = 0.0

    @property
    def value(self) -> float:
        """Notional of the order at its price (always > 0)."""
        return self.quantity * self.price * self.multiplier

    @property
    def signed_quantity(self) -> float:
        """Quantity with the sign of the side (> 0 buy, < 0 sell)."""
        return self.side.sign * self.quantity


@attrs.frozen
class Decision:
    """What was decided for one asset, and why.

    Every asset that is targeted, held or has a pending order gets exactly one decision.
    ``skip_reason`` is ``None`` when the asset trades.
    """

    asset: str
    #: Reference price, ``None`` when the snapshot has none.
    price: float | None
    #: Position before the plan (signed).
    current_quantity: float
    #: Working pending quantity that counts as exposure and is kept (signed).
    pending_quantity: float
    #: Position value / equity before the plan.
    current_weight: float
    #: The weight asked for, ``None`` when the asset was not targeted.
    requested_weight: float | None
    #: The weight aimed at after clamp, cap, leverage scaling and cash buffer.
    target_weight: float
    #: Orders for this asset, in submission order (two for a reversal).
    orders: tuple[Order, ...]
    #: Ids of this asset's pending orders to cancel.
    cancels: tuple[str, ...]
    #: Position after the orders and kept pending orders fill (signed).
    projected_quantity: float
    #: Projected position value / equity at the snapshot's prices.
    projected_weight: float
    skip_reason: SkipReason | None
    adjustments: tuple[Adjustment, ...] = ()

    @property
    def trade_quantity(self) -> float:
        """Net signed quantity of this asset's orders."""
        return sum(order.signed_quantity for order in self.orders)

    @property
    def trades(self) -> bool:
        """Whether any order is sent for this asset."""
        return bool(self.orders)


class PlanObjects(Protocol):
    """Where a plan's orders and decisions come from when they are first read."""

    def build(self) -> tuple[tuple[Order, ...], tuple[Decision, ...]]: ...


@attrs.frozen(eq=False, repr=False)
class RebalancePlan:
    """The result of :func:`compute_trades`: orders, cancels and one decision per asset.

    The plan *is* the order list: iterating yields the orders in submission order and
    ``len(plan)`` counts them. Cancel :attr:`cancels` before submitting the orders.
    All figures are at the snapshot's prices; ``projected_cash`` is after the orders, the
    kept working pending orders and every estimated cost.

    The planner keeps its orders and decisions as columns: :attr:`orders` and
    :attr:`decisions` build their frozen values when first read.
    """

    _orders: tuple[Order, ...] | None = attrs.field(alias="orders")
    cancels: tuple[str, ...]
    _decisions: tuple[Decision, ...] | None = attrs.field(alias="decisions")
    #: Equity of the snapshot (cash + positions).
    equity: float
    #: Cash before the plan.
    cash: float
    #: Cash after every order, kept pending order and estimated cost.
    projected_cash: float
    #: Lowest cash the buys may leave (the cash buffer, or what the targets imply).
    cash_floor: float
    #: Sum of the orders' estimated costs.
    estimated_costs: float
    #: Sum of the orders' values divided by equity (0 when equity <= 0).
    turnover: float
    #: asset -> projected weight for every asset with a projected position.
    projected_weights: Mapping[str, float]
    #: The planner's columns (None when orders and decisions were given as values).
    columns: PlanObjects | None = attrs.field(default=None, kw_only=True)

    @property
    def orders(self) -> tuple[Order, ...]:
        """The orders, in submission order."""
        if self._orders is None:
            self._build()
        return self._orders  # type: ignore[return-value]

    @property
    def decisions(self) -> tuple[Decision, ...]:
        """One decision per asset that is targeted, held or pending, sorted by asset."""
        if self._decisions is None:
            self._build()
        return self._decisions  # type: ignore[return-value]

    def _build(self) -> None:
        assert self.columns is not None  # noqa: S101 - the planner gives one or the other
        orders, decisions = self.columns.build()
        if self._orders is None:
            object.__setattr__(self, "_orders", orders)
        if self._decisions is None:
            object.__setattr__(self, "_decisions", decisions)

    def _values(self) -> tuple[object, ...]:
        """What equality and hashing compare (the fields of :data:`_PLAN_VALUES`)."""
        return tuple(getattr(self, name) for name in _PLAN_VALUES)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, RebalancePlan)  # noqa: S101 - for the type checker
        return (
            self._values() == other._values() and self.projected_weights == other.projected_weights
        )

    def __hash__(self) -> int:
        return hash((RebalancePlan, *self._values()))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as values: orders, decisions, figures, the weights as a dict, columns."""
        return _rebuild_plan, (*self._values(), dict(self.projected_weights), self.columns)

    def __repr__(self) -> str:
        names = (*_PLAN_VALUES, "projected_weights")
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"RebalancePlan({fields})"

    def __iter__(self) -> Iterator[Order]:
        return iter(self.orders)

    def __len__(self) -> int:
        return len(self.orders)

    def __getitem__(self, index: int) -> Order:
        return self.orders[index]

    @property
    def cash_before(self) -> float:
        """Alias of :attr:`cash`: cash before the plan."""
        return self.cash

    @property
    def traded_value(self) -> float:
        """Sum of the orders' values."""
        return sum(order.value for order in self.orders)

    def decision(self, asset: str) -> Decision:
        """The decision for ``asset``; ``KeyError`` if the plan does not cover it."""
        for decision in self.decisions:
            if decision.asset == asset:
                return decision
        raise KeyError(asset)


def _rebuild_plan(*values: Any) -> RebalancePlan:
    """A pickled :class:`RebalancePlan`.

    From its orders, cancels, decisions, figures, weights and the planner's columns.
    """
    *fields, weights, columns = values
    named = dict(zip(_PLAN_VALUES, fields, strict=True))
    return RebalancePlan(**named, projected_weights=MappingProxyType(weights), columns=columns)


#: What a plan's equality and hash compare, in order (and its repr shows, with the weights).
_PLAN_VALUES = (
    "orders",
    "cancels",
    "decisions",
    "equity",
    "cash",
    "projected_cash",
    "cash_floor",
    "estimated_costs",
    "turnover",
)

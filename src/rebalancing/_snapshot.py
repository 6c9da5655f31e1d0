"""The account as the core sees it: :class:`PortfolioSnapshot` and :class:`PendingOrder`.

Conventions, fixed once for the whole library:

- A *quantity* is signed: long > 0, short < 0, in units of the asset (shares, contracts,
  coins).
- A *price* is the reference price of one unit; a *multiplier* (default 1) turns a unit
  price into the value of one unit (futures contracts).
- *Value* of a position = quantity * price * multiplier (negative for shorts).
- *Equity* = cash + the sum of position values.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ._validation import (
    as_tuple,
    check_flag,
    check_name,
    enum_value,
    fail,
    number_map,
    to_number,
    to_positive,
)
from .exceptions import InvalidSnapshotError, MissingPriceError

__all__ = ["OrderKind", "PendingOrder", "PortfolioSnapshot", "Side"]

_EMPTY: Mapping[str, float] = MappingProxyType({})


class Side(enum.StrEnum):
    """Direction of an order."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1


class OrderKind(enum.StrEnum):
    """How a pending order executes.

    Only orders that execute as placed change exposure: market orders, and limit orders
    that are marketable at the reference price. Stops, trailing stops and resting limits
    (take-profits, dip buys) wait for a price that may never come.
    """

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


def _order_id(value: object) -> str:
    return check_name(value, "PendingOrder.order_id", InvalidSnapshotError)


def _order_asset(value: object) -> str:
    return check_name(value, "PendingOrder.asset", InvalidSnapshotError)


def _side(value: object) -> Side:
    return enum_value(Side, value, "PendingOrder.side", InvalidSnapshotError)


def _kind(value: object) -> OrderKind:
    return enum_value(OrderKind, value, "PendingOrder.kind", InvalidSnapshotError)


def _quantity(value: object) -> float:
    return to_positive(value, "PendingOrder.quantity", InvalidSnapshotError)


def _limit_price(value: object) -> float | None:
    if value is None:
        return None
    return to_positive(value, "PendingOrder.limit_price", InvalidSnapshotError)


def _stop_price(value: object) -> float | None:
    if value is None:
        return None
    return to_positive(value, "PendingOrder.stop_price", InvalidSnapshotError)


@attrs.frozen
class PendingOrder:
    """An order that was sent earlier and has not (fully) filled yet.

    Args:
        order_id: The broker's id, used in :attr:`RebalancePlan.cancels`.
        asset: The asset it trades.
        side: :attr:`Side.BUY` or :attr:`Side.SELL` (the strings ``"buy"``/``"sell"``
            are accepted).
        quantity: The quantity still to fill, > 0.
        kind: How it executes; only market orders and marketable limits count as
            exposure.
        limit_price: Required for ``LIMIT`` and ``STOP_LIMIT`` orders.
        stop_price: Required for ``STOP`` and ``STOP_LIMIT`` orders.

    Raises:
        InvalidSnapshotError: naming the field and the bad value.
    """

    order_id: str = attrs.field(converter=_order_id)
    asset: str = attrs.field(converter=_order_asset)
    side: Side = attrs.field(converter=_side)
    quantity: float = attrs.field(converter=_quantity)
    kind: OrderKind = attrs.field(default=OrderKind.MARKET, kw_only=True, converter=_kind)
    limit_price: float | None = attrs.field(default=None, kw_only=True, converter=_limit_price)
    stop_price: float | None = attrs.field(default=None, kw_only=True, converter=_stop_price)

    def __attrs_post_init__(self) -> None:
        needs_limit = self.kind in (OrderKind.LIMIT, OrderKind.STOP_LIMIT)
        needs_stop = self.kind in (OrderKind.STOP, OrderKind.STOP_LIMIT)
        where = f"PendingOrder {self.order_id!r} ({self.kind.value})"
        if needs_limit != (self.limit_price is not None):
            expected = "needs a limit_price" if needs_limit else "takes no limit_price"
            fail(InvalidSnapshotError, f"{where} {expected}, got limit_price={self.limit_price!r}")
        if needs_stop and self.stop_price is None:
            fail(InvalidSnapshotError, f"{where} needs a stop_price, got None")
        if self.kind in (OrderKind.MARKET, OrderKind.LIMIT) and self.stop_price is not None:
            fail(InvalidSnapshotError, f"{where} takes no stop_price, got {self.stop_price!r}")

    @property
    def signed_quantity(self) -> float:
        """Quantity with the sign of its side: > 0 for buys, < 0 for sells."""
        return self.side.sign * self.quantity

    def executes_as_placed(self, price: float) -> bool:
        """Whether the order fills as it stands at ``price`` (market, or a marketable limit).

        Such an order already counts as exposure; a stop, a trailing stop or a limit away
        from the market (a take-profit, a dip buy) does not.
        """
        if self.kind is OrderKind.MARKET:
            return True
        if self.kind is OrderKind.LIMIT:
            assert self.limit_price is not None  # noqa: S101 - guaranteed by validation
            if self.side is Side.BUY:
                return self.limit_price >= price
            return self.limit_price <= price
        return False

    def execution_price(self, price: float) -> float:
        """The unit price the order is expected to fill at.

        Its limit, else its stop (a triggered stop fills near it), else ``price``.
        """
        if self.limit_price is not None:
            return self.limit_price
        return self.stop_price if self.stop_price is not None else price


def _cash(value: object) -> float:
    return to_number(value, "cash", InvalidSnapshotError)


def _positions(value: object) -> Mapping[str, float]:
    return number_map(value, "positions", InvalidSnapshotError, positive=False)


def _prices(value: object) -> Mapping[str, float]:
    return number_map(value, "prices", InvalidSnapshotError, positive=True)


def _multipliers(value: object) -> Mapping[str, float]:
    return number_map(value, "multipliers", InvalidSnapshotError, positive=True)


def _lot_sizes(value: object) -> Mapping[str, float]:
    return number_map(value, "lot_sizes", InvalidSnapshotError, positive=True)


def _pending(value: object) -> tuple[PendingOrder, ...]:
    orders = as_tuple(value, "pending_orders", InvalidSnapshotError)
    seen: set[str] = set()
    for order in orders:
        if not isinstance(order, PendingOrder):
            kind = type(order).__name__
            msg = f"pending_orders must hold PendingOrder values, got {kind} {order!r}"
            raise InvalidSnapshotError(msg)
        if order.order_id in seen:
            msg = f"pending_orders has the order id {order.order_id!r} more than once"
            raise InvalidSnapshotError(msg)
        seen.add(order.order_id)
    return tuple(sorted(orders, key=lambda o: (o.asset, o.order_id)))


def _flag(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validate an account flag: True or False, nothing merely truthy (attrs validator)."""
    del instance
    check_flag(value, attribute.name, InvalidSnapshotError)


@attrs.frozen
class PortfolioSnapshot:
    """Everything the core knows about an account at one instant. Immutable.

    Args:
        cash: Cash balance; may be negative (a margin loan).
        positions: asset -> signed quantity (short < 0). Zero quantities are allowed and
            mean "not held".
        prices: asset -> reference price (> 0). Every held asset and every asset with a
            pending order needs one; a *targeted* asset without a price is skipped.
        multipliers: asset -> contract multiplier (> 0, default 1).
        lot_sizes: asset -> tradable increment (> 0). When given it always applies, and
            it overrides ``RebalanceConfig.lot_size``.
        pending_orders: orders sent earlier that have not filled; ids must be unique.
        fractional: whether the account can hold fractional units.
        margin: whether the account may borrow. A cash account (the default) never plans
            projected cash below zero (or the buffer) after estimated costs: a book whose
            gross weight is above 1 is scaled to 1. A margin account may hold negative
            cash and a gross weight above 1, up to ``RebalanceConfig.max_gross_leverage``.

    Raises:
        InvalidSnapshotError: a value is not a finite number of the right sign, a name is
            not a non-blank string, or an order id repeats.
        MissingPriceError: a held asset or one with a pending order has no price.

    >>> snap = PortfolioSnapshot(1_000.0, {"AAA": 10}, {"AAA": 50.0, "BBB": 20.0})
    >>> snap.equity
    1500.0
    """

    cash: float = attrs.field(converter=_cash)
    positions: Mapping[str, float] = attrs.field(default=_EMPTY, converter=_positions, hash=False)
    prices: Mapping[str, float] = attrs.field(default=_EMPTY, converter=_prices, hash=False)
    multipliers: Mapping[str, float] = attrs.field(
        default=_EMPTY, kw_only=True, converter=_multipliers, hash=False
    )
    lot_sizes: Mapping[str, float] = attrs.field(
        default=_EMPTY, kw_only=True, converter=_lot_sizes, hash=False
    )
    pending_orders: tuple[PendingOrder, ...] = attrs.field(
        default=(), kw_only=True, converter=_pending
    )
    fractional: bool = attrs.field(default=False, kw_only=True, validator=_flag)
    margin: bool = attrs.field(default=False, kw_only=True, validator=_flag)

    def __attrs_post_init__(self) -> None:
        unpriced = self.positions.keys() - self.prices.keys()
        for asset in sorted(unpriced):
            quantity = self.positions[asset]
            if quantity != 0.0:
                msg = (
                    f"positions[{asset!r}] = {quantity!r} is held but prices has no "
                    f"{asset!r}: every held asset needs a finite price > 0"
                )
                raise MissingPriceError(msg)
        for order in self.pending_orders:
            if order.asset not in self.prices:
                msg = (
                    f"pending order {order.order_id!r} trades {order.asset!r} but prices "
                    f"has no {order.asset!r}: every asset with a pending order needs a price"
                )
                raise MissingPriceError(msg)
        if not math.isfinite(self.equity):
            msg = f"equity (cash + positions * prices * multipliers) overflows: {self.equity!r}"
            raise InvalidSnapshotError(msg)

    def multiplier(self, asset: str) -> float:
        """The contract multiplier of ``asset`` (1 unless given)."""
        return self.multipliers.get(asset, 1.0)

    def value_of(self, asset: str) -> float:
        """Signed market value of the position in ``asset`` (0 when not held)."""
        quantity = self.positions.get(asset, 0.0)
        if quantity == 0.0:
            return 0.0
        return quantity * self.prices[asset] * self.multiplier(asset)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as the constructor's arguments (its read-only mappings as dicts)."""
        options = {
            "multipliers": dict(self.multipliers),
            "lot_sizes": dict(self.lot_sizes),
            "pending_orders": self.pending_orders,
            "fractional": self.fractional,
            "margin": self.margin,
        }
        return _rebuild_snapshot, (self.cash, dict(self.positions), dict(self.prices), options)

    @functools.cached_property
    def equity(self) -> float:
        """Cash plus the signed value of every position (computed once, exactly summed)."""
        prices, multipliers = self.prices, self.multipliers
        held = [(a, q) for a, q in self.positions.items() if q != 0.0]
        if multipliers:
            values = [q * prices[a] * multipliers.get(a, 1.0) for a, q in held]
        else:  # every multiplier is 1: q * p * 1.0 is q * p
            values = [q * prices[a] for a, q in held]
        try:
            return math.fsum([self.cash, *values])
        except OverflowError:  # fsum's partial sums overflow: the equity is not a number
            return math.inf

    @functools.cached_property
    def held(self) -> tuple[str, ...]:
        """Assets with a non-zero position, sorted (computed once)."""
        return tuple(a for a, q in self.positions.items() if q != 0.0)

    @classmethod
    def from_market_values(
        cls,
        cash: float,
        market_values: Mapping[str, float],
        prices: Mapping[str, float],
        **kwargs: Any,
    ) -> PortfolioSnapshot:
        """Build a snapshot from position *values* instead of quantities.

        Each quantity is ``value / (price * multiplier)``, so pass ``fractional=True``
        unless the values are whole multiples of the unit value.

        >>> snap = PortfolioSnapshot.from_market_values(0.0, {"AAA": 500.0}, {"AAA": 50.0})
        >>> snap.positions["AAA"]
        10.0
        """
        price_map = _prices(prices)
        multipliers = _multipliers(kwargs.get("multipliers", _EMPTY))
        positions: dict[str, float] = {}
        for asset, value in number_map(
            market_values, "market_values", InvalidSnapshotError, positive=False
        ).items():
            if asset not in price_map:
                msg = f"market_values[{asset!r}] = {value!r} needs a price; prices has no {asset!r}"
                raise MissingPriceError(msg)
            positions[asset] = value / (price_map[asset] * multipliers.get(asset, 1.0))
        return cls(cash, positions, price_map, **kwargs)


def pending_by_asset(orders: Iterable[PendingOrder]) -> dict[str, list[PendingOrder]]:
    """Group pending orders by asset (order within a group: by id)."""
    grouped: dict[str, list[PendingOrder]] = {}
    for order in orders:
        grouped.setdefault(order.asset, []).append(order)
    return grouped


def _rebuild_snapshot(
    cash: float, positions: dict[str, float], prices: dict[str, float], options: dict[str, Any]
) -> PortfolioSnapshot:
    """A pickled :class:`PortfolioSnapshot`, built (and validated) again."""
    return PortfolioSnapshot(cash, positions, prices, **options)

"""Reading an ml4t-backtest ``Broker`` for :mod:`rebalancing.ml4t`: strictly, into a snapshot.

Every read of the broker (its orders, positions and account policy too) goes through
:func:`read_attribute` and :func:`read_mapping`, so a release that renames or drops
something fails loudly with an :class:`~rebalancing.UnsupportedBrokerError` naming it and
the installed ml4t-backtest version, instead of being read as a default.
:func:`snapshot_from_broker` turns the broker and the bar into a
:class:`~rebalancing.PortfolioSnapshot`; :func:`estimate_costs` bounds the broker's
commission and slippage as the core's cost rates; :func:`initial_margin` and
:func:`policy_flag` read the account policy.

Imported by :mod:`rebalancing.ml4t`, which says how to install ml4t-backtest when it is
missing; importing this module directly without it raises a plain ImportError.
"""

from __future__ import annotations

import importlib.metadata
import math
import numbers
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from ml4t.backtest.config import ShareType  # type: ignore[import-untyped,import-not-found,unused-ignore]
from ml4t.backtest.models import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
    CombinedCommission,
    FixedSlippage,
    FuturesCommission,
    PercentageCommission,
    PercentageSlippage,
    PerShareCommission,
    TieredCommission,
)
from ml4t.backtest.types import OrderSide  # type: ignore[import-untyped,import-not-found,unused-ignore]

from ._snapshot import OrderKind, PendingOrder, PortfolioSnapshot, Side
from .exceptions import UnsupportedBrokerError

__all__ = [
    "MAX_ESTIMATED_COST_RATE",
    "ML4T_VERSION",
    "TESTED_ML4T_VERSIONS",
    "estimate_costs",
    "initial_margin",
    "policy_flag",
    "read_attribute",
    "read_mapping",
    "snapshot_from_broker",
    "unsupported",
]

# Documented in rebalancing.ml4t, which re-exports them: the tested release range (the
# extra pins the same), the installed release, and the cap on estimated cost rates.
TESTED_ML4T_VERSIONS = ">=0.1.0b5,<0.1.0b6"
try:
    ML4T_VERSION: str = importlib.metadata.version("ml4t-backtest")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - importable, not installed
    ML4T_VERSION = "unknown (not installed as a distribution)"
MAX_ESTIMATED_COST_RATE = 0.5

#: ml4t's order types, by their value, as the core's order kinds.
_KINDS: dict[str, OrderKind] = {
    "market": OrderKind.MARKET,
    "limit": OrderKind.LIMIT,
    "stop": OrderKind.STOP,
    "stop_limit": OrderKind.STOP_LIMIT,
    "trailing_stop": OrderKind.TRAILING_STOP,
}


def unsupported(what: str) -> UnsupportedBrokerError:
    """The error for something of the broker's that this adapter does not understand."""
    msg = (
        f"rebalancing.ml4t does not understand {what} (ml4t-backtest {ML4T_VERSION} is "
        f"installed; the adapter is tested with ml4t-backtest{TESTED_ML4T_VERSIONS}): "
        "install a tested version with pip install 'rebalancing[ml4t]'"
    )
    return UnsupportedBrokerError(msg)


def read_attribute(owner: Any, name: str, where: str = "broker") -> Any:
    """``owner.name``, or an error naming ``where.name`` and the installed ml4t version.

    Every read of the broker (and of its orders and positions) goes through here, so a
    release that renames or drops an attribute fails loudly instead of being read as a
    default.
    """
    try:
        return getattr(owner, name)
    except AttributeError:
        raise unsupported(f"{where}.{name}: there is no such attribute") from None


def read_mapping(owner: Any, name: str, where: str = "broker") -> Mapping[Any, Any]:
    """``owner.name``, which must be a mapping (the broker's price and position tables)."""
    value = read_attribute(owner, name, where)
    if not isinstance(value, Mapping):
        raise unsupported(f"{where}.{name}: expected a mapping, got {type(value).__name__}")
    return value


def _name(asset: Any) -> Any:
    """``asset`` as a plain ``str`` if it is a ``str`` of any subclass, else unchanged."""
    return str(asset) if isinstance(asset, str) else asset


def _usable(value: object) -> float | None:
    """``value`` as a price if it is a finite real number > 0, else ``None``."""
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    if not math.isfinite(number) or number <= 0.0:
        return None
    return number


def _close(data: Mapping[str, Any], asset: str) -> float | None:
    """The bar's close for ``asset`` if it is usable (the hot path of a snapshot)."""
    bar = data.get(asset)
    if bar is None:
        return None
    try:
        value = bar.get("close")
    except AttributeError:  # not a mapping: no bar
        return None
    if type(value) is float:
        return value if 0.0 < value < math.inf else None  # NaN fails both
    return _usable(value)


def _mark(broker: Any, asset: str) -> float | None:
    """The broker's last mark for ``asset``: current close, last close, position price."""
    for source in ("_current_prices", "_last_prices"):
        price = _usable(read_mapping(broker, source).get(asset))
        if price is not None:
            return price
    position = read_mapping(broker, "positions").get(asset)
    if position is not None:
        for attribute in ("current_price", "entry_price"):
            price = _usable(read_attribute(position, attribute, "Position"))
            if price is not None:
                return price
    return None


def _pending_order(order: Any) -> PendingOrder | None:
    """The broker's pending order as the core sees it, with its real kind.

    Raises:
        UnsupportedBrokerError: an order type or side this adapter does not know.
    """
    order_id = read_attribute(order, "order_id", "Order")
    quantity = float(read_attribute(order, "quantity", "Order"))
    if not quantity > 0.0:
        return None
    order_type = read_attribute(order, "order_type", "Order")
    kind = _KINDS.get(str(getattr(order_type, "value", order_type)))
    if kind is None:
        raise unsupported(f"the order type {order_type!r} of pending order {order_id!r}")
    side = read_attribute(order, "side", "Order")
    if side not in (OrderSide.BUY, OrderSide.SELL):
        raise unsupported(f"the side {side!r} of pending order {order_id!r}")
    needs_limit = kind in (OrderKind.LIMIT, OrderKind.STOP_LIMIT)
    needs_stop = kind in (OrderKind.STOP, OrderKind.STOP_LIMIT)
    limit = read_attribute(order, "limit_price", "Order") if needs_limit else None
    stop = read_attribute(order, "stop_price", "Order") if needs_stop else None
    if (needs_limit and limit is None) or (needs_stop and stop is None):
        # A known kind without its price: the broker will not fill it as placed, so it
        # is resting (never exposure); a trailing stop is the core's price-free kind.
        kind, limit, stop = OrderKind.TRAILING_STOP, None, None
    return PendingOrder(
        str(order_id),
        read_attribute(order, "asset", "Order"),
        Side.BUY if side == OrderSide.BUY else Side.SELL,
        quantity,
        kind=kind,
        limit_price=limit,
        stop_price=stop,
    )


def snapshot_from_broker(
    broker: Any,
    data: Mapping[str, Any],
    *,
    assets: Iterable[str] | None = None,
) -> PortfolioSnapshot:
    """Read an ml4t ``Broker`` and the current bar into a :class:`PortfolioSnapshot`.

    Prices come from one source: the bar's ``close`` in ``data``, or the broker's last
    mark when the bar has none (missing, ``None``, NaN or not > 0). Pending orders keep
    their real kind, so resting stops and take-profits do not count as exposure.

    Args:
        broker: An ml4t-backtest ``Broker`` (or anything with the same attributes).
        data: The bar: ``{asset: {"close": price, ...}}``.
        assets: Restrict prices to these assets (plus every held or pending one);
            ``None`` prices every asset in ``data``.

    Returns:
        The snapshot: cash, positions, prices, multipliers, pending orders,
        ``fractional`` from ``broker.share_type`` and ``margin`` from the broker's
        account policy (``broker.account.policy.allow_leverage``: a margin account may
        borrow; cash and crypto-style accounts may not).

    Raises:
        MissingPriceError: a held or pending asset has no price anywhere.
        UnsupportedBrokerError: the broker lacks an attribute the adapter reads, or has
            an order type, share type or account policy it does not know; the message
            names it and the installed ml4t-backtest version.
    """
    held = read_mapping(broker, "positions")
    try:
        quantities = {asset: float(position.quantity) for asset, position in held.items()}
    except AttributeError:  # say which attribute, and the installed version
        for position in held.values():
            read_attribute(position, "quantity", "Position")
        raise
    positions = {asset: quantity for asset, quantity in quantities.items() if quantity != 0}
    pending = [
        converted
        for order in read_attribute(broker, "pending_orders")
        if (converted := _pending_order(order)) is not None
    ]
    # Names may be any str subclass (numpy.str_ from an array of tickers): plain str here.
    names = data if assets is None else list(assets)  # an iterator is read once
    universe: set[str] = (
        set(names)
        if set(map(type, names)) <= {str}
        else {asset if type(asset) is str else _name(asset) for asset in names}
    )
    universe.update(positions)
    universe.update(order.asset for order in pending)
    prices: dict[str, float] = {}
    multipliers: dict[str, float] = {}
    # ml4t's multipliers come from contract specs: without any, every one is 1.
    has_specs = bool(read_mapping(broker, "_contract_specs"))
    get_multiplier = read_attribute(broker, "get_multiplier")
    for asset in sorted(universe):  # sorted: the snapshot then keeps the dict as it is
        price = _close(data, asset)
        if price is not None:
            prices[asset] = price
        elif (mark := _mark(broker, asset)) is not None:
            prices[asset] = mark
        if has_specs:
            multiplier = float(get_multiplier(asset))
            if multiplier != 1.0:
                multipliers[asset] = multiplier
    share_type = read_attribute(broker, "share_type")
    if share_type not in (ShareType.FRACTIONAL, ShareType.INTEGER):
        raise unsupported(f"broker.share_type {share_type!r}")
    return PortfolioSnapshot(
        float(read_attribute(broker, "cash")),
        positions,
        prices,
        multipliers=multipliers,
        pending_orders=pending,
        fractional=share_type == ShareType.FRACTIONAL,
        margin=_margin(broker),
    )


def initial_margin(broker: Any) -> float | None:
    """The account's initial margin rate in (0, 1]; None with per-contract margins.

    With a fixed margin schedule (futures), leverage differs per contract: no single cap.
    """
    policy = read_attribute(read_attribute(broker, "account"), "policy", "broker.account")
    if read_mapping(policy, "fixed_margin_schedule", "broker.account.policy"):
        return None
    raw = read_attribute(policy, "initial_margin", "broker.account.policy")
    initial = _usable(raw)
    if initial is None or initial > 1.0:
        raise unsupported(f"broker.account.policy.initial_margin {raw!r}")
    return initial


def policy_flag(broker: Any, name: str) -> bool:
    policy = read_attribute(read_attribute(broker, "account"), "policy", "broker.account")
    flag = read_attribute(policy, name, "broker.account.policy")
    if not isinstance(flag, bool):
        raise unsupported(f"broker.account.policy.{name} {flag!r}")
    return flag


def _margin(broker: Any) -> bool:
    """Whether the account may borrow (cash, or shares to short).

    ml4t's margin account (leverage) and its crypto account (short selling without
    leverage) may; its cash account may do neither.
    """
    return policy_flag(broker, "allow_leverage") or policy_flag(broker, "allow_short_selling")


def estimate_costs(
    broker: Any, snapshot: PortfolioSnapshot, assets: Iterable[str] | None = None
) -> tuple[float, float]:
    """Upper bounds for ``(cost_rate, cost_per_order)`` from the broker's cost models.

    Understood: ml4t's ``NoCommission``, ``PercentageCommission``, ``PerShareCommission``,
    ``CombinedCommission``, ``TieredCommission`` (its highest rate) and
    ``FuturesCommission``, with ``NoSlippage``, ``PercentageSlippage`` and
    ``FixedSlippage``. Per-share amounts become a rate at the cheapest unit among
    ``assets``. Any other model (e.g. volume-based slippage) adds nothing: set
    ``cost_rate`` in the config yourself.

    Args:
        broker: The ml4t ``Broker``.
        snapshot: Supplies prices and multipliers.
        assets: The assets to bound over; ``None`` means every priced asset.

    Returns:
        ``(cost_rate, cost_per_order)``, both >= 0.
    """
    names = snapshot.prices if assets is None else [a for a in assets if a in snapshot.prices]
    prices = [snapshot.prices[a] for a in names]
    if snapshot.multipliers:
        multipliers = [snapshot.multiplier(a) for a in names]
        unit_values = [p * m for p, m in zip(prices, multipliers, strict=True)]
    else:  # every multiplier is 1 (no contract specs): skip the lookups
        multipliers, unit_values = [], prices
    cheapest_unit = min(unit_values, default=math.inf)
    cheapest_price = min(prices, default=math.inf)
    # ml4t charges commission on quantity * price, without the multiplier.
    smallest_multiplier = min(multipliers, default=1.0)
    per_value = 1.0 / min(1.0, smallest_multiplier)

    slippage: Any = read_attribute(broker, "slippage_model")
    slip = 0.0
    if type(slippage) is PercentageSlippage:
        slip = float(slippage.rate)
    elif type(slippage) is FixedSlippage and prices:
        slip = float(slippage.amount) / cheapest_price

    commission: Any = read_attribute(broker, "commission_model")
    rate, fixed, per_unit = 0.0, 0.0, 0.0
    if type(commission) is PercentageCommission:
        rate = float(commission.rate)
    elif type(commission) is CombinedCommission:
        rate, fixed = float(commission.percentage), float(commission.fixed)
    elif type(commission) is TieredCommission:
        rate = max((float(r) for _, r in commission.tiers), default=0.0)
    elif type(commission) is PerShareCommission:
        per_unit, fixed = float(commission.per_share), float(commission.minimum)
    elif type(commission) is FuturesCommission:
        rate, fixed = float(commission.percentage), float(commission.per_trade)
        per_unit = float(commission.per_block)
    unit_rate = per_unit / cheapest_unit if unit_values and per_unit else 0.0
    # Commission is charged on the slipped fill price.
    cost_rate = max(slip + (rate * per_value) * (1.0 + slip) + unit_rate, 0.0)
    if cost_rate > MAX_ESTIMATED_COST_RATE:
        msg = (
            f"the broker's costs are estimated at {cost_rate:.4g} of the traded value "
            f"(commission {type(commission).__name__}, slippage {type(slippage).__name__}, "
            f"cheapest unit {cheapest_unit:.6g}); capped at MAX_ESTIMATED_COST_RATE = "
            f"{MAX_ESTIMATED_COST_RATE}, so buys of the dearest assets may still be "
            "rejected: keep assets whose per-unit fee is a large part of their price out of "
            "the targets, or pass RebalanceConfig(costs_from_broker=False, cost_rate=..., "
            "cost_per_order=...) with estimates of your own"
        )
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        cost_rate = MAX_ESTIMATED_COST_RATE
    return cost_rate, max(fixed, 0.0)

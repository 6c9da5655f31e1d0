"""Hypothesis strategies of valid inputs (the strategy half of :mod:`rebalancing.testing`).

Every strategy builds valid values directly (nothing is filtered away), takes keyword-only
bounds in Hypothesis's style and defaults to the widest domain the library accepts.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ._config import RebalanceConfig, Rounding, TradeDirection
from ._optimal import require_scipy
from ._snapshot import OrderKind, PendingOrder, PortfolioSnapshot, Side
from .exceptions import RebalancingError

__all__ = ["asset_names", "pending_orders", "rebalance_configs", "snapshots", "target_weights"]

_TICKERS = ("AAPL", "BRK.B", "ES", "EURUSD", "GLD", "MSFT", "SPY", "TLT", "XBT", "ZZZ")


# -- argument checks ---------------------------------------------------------------------


def _check_type(value: object, types: type | tuple[type, ...], name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, types):
        msg = f"{name}={value!r} has the wrong type {type(value).__name__}"
        raise InvalidArgument(msg)


def _check_size(min_size: int, max_size: int | None, what: str) -> None:
    _check_type(min_size, int, f"min_{what}")
    if min_size < 0:
        msg = f"min_{what}={min_size!r} must be >= 0"
        raise InvalidArgument(msg)
    if max_size is not None:
        _check_type(max_size, int, f"max_{what}")
        if max_size < min_size:
            msg = f"max_{what}={max_size!r} must be >= min_{what}={min_size!r}"
            raise InvalidArgument(msg)


def _check_range(low: float, high: float, names: tuple[str, str], *, positive: bool) -> None:
    for value, name in zip((low, high), names, strict=True):
        _check_type(value, (int, float), name)
        if not math.isfinite(value):
            msg = f"{name}={value!r} must be finite"
            raise InvalidArgument(msg)
        if positive and value <= 0:
            msg = f"{name}={value!r} must be > 0"
            raise InvalidArgument(msg)
    if high < low:
        msg = f"{names[1]}={high!r} must be >= {names[0]}={low!r}"
        raise InvalidArgument(msg)


def _check_flag(value: object, name: str, *, optional: bool = False) -> None:
    if not (isinstance(value, bool) or (optional and value is None)):
        msg = f"{name}={value!r} must be True or False" + (" or None" if optional else "")
        raise InvalidArgument(msg)


def _name_strategy(
    assets: Collection[str] | st.SearchStrategy[str] | None, name: str
) -> st.SearchStrategy[str] | None:
    """A strategy of asset names from ``assets``; ``None`` when the collection is empty."""
    if assets is None:
        return asset_names()
    if isinstance(assets, st.SearchStrategy):
        return assets
    if isinstance(assets, str) or not isinstance(assets, Collection):
        msg = f"{name}={assets!r} must be a collection of asset names or a strategy"
        raise InvalidArgument(msg)
    names = sorted(assets)
    for asset in names:
        if not isinstance(asset, str) or not asset or asset.strip() != asset:
            msg = f"{name} holds {asset!r}, which is not a valid asset name"
            raise InvalidArgument(msg)
    return st.sampled_from(names) if names else None


# -- strategies ---------------------------------------------------------------------------


def _normalise_name(text: str) -> str:
    return text.strip() or "X"


def asset_names() -> st.SearchStrategy[str]:
    """Valid asset names: mostly ticker-like, sometimes any non-blank unicode text.

    Returns:
        A strategy of strings without surrounding white space.
    """
    return st.one_of(
        st.sampled_from(_TICKERS),
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=8).map(
            _normalise_name
        ),
    )


def _order_ids() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(0, 10**6).map(lambda n: f"order-{n}"),
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=8).map(
            _normalise_name
        ),
    )


def _prices_near(reference: float | None) -> st.SearchStrategy[float]:
    if reference is None:
        return st.floats(1e-3, 1e6)
    return st.sampled_from([0.5, 0.9, 1.0, 1.1, 2.0]).map(lambda k: reference * k) | st.floats(
        reference * 0.5, reference * 2.0
    )


@st.composite
def _pending_order(
    draw: st.DrawFn,
    *,
    names: st.SearchStrategy[str],
    ids: st.SearchStrategy[str],
    prices: Mapping[str, float] | None,
    max_quantity: float,
    whole: bool,
    kinds: tuple[OrderKind, ...],
) -> PendingOrder:
    asset = draw(names)
    side = draw(st.sampled_from(Side))
    if whole:
        quantity: float = draw(st.integers(1, max(1, math.floor(max_quantity))))
    else:
        quantity = draw(
            st.floats(min(1e-3, max_quantity), max_quantity, allow_subnormal=False)
            | st.integers(1, max(1, math.floor(max_quantity))).map(float)
        )
    kind = draw(st.sampled_from(kinds))
    reference = None if prices is None else prices.get(asset)
    limit = stop = None
    if kind in (OrderKind.LIMIT, OrderKind.STOP_LIMIT):
        limit = draw(_prices_near(reference))
    if kind in (OrderKind.STOP, OrderKind.STOP_LIMIT) or (
        kind is OrderKind.TRAILING_STOP and draw(st.booleans())
    ):
        stop = draw(_prices_near(reference))
    return PendingOrder(
        draw(ids), asset, side, quantity, kind=kind, limit_price=limit, stop_price=stop
    )


def pending_orders(
    *,
    assets: Collection[str] | st.SearchStrategy[str] | None = None,
    prices: Mapping[str, float] | None = None,
    order_ids: st.SearchStrategy[str] | None = None,
    max_quantity: float = 1e6,
    whole_quantities: bool = False,
    kinds: Collection[OrderKind] | None = None,
) -> st.SearchStrategy[PendingOrder]:
    """Valid :class:`~rebalancing.PendingOrder` values.

    Args:
        assets: Names to draw the asset from (a collection or a strategy); default: any
            valid name, or the keys of ``prices`` when given.
        prices: Reference prices; limit and stop prices are then drawn near them, so
            both marketable and resting orders appear.
        order_ids: Strategy of order ids; default: any valid id.
        max_quantity: Largest remaining quantity (> 0).
        whole_quantities: Draw whole-unit quantities only.
        kinds: The :class:`~rebalancing.OrderKind` values to draw; default: all.

    Returns:
        A strategy of pending orders; limit and stop prices are set exactly when the
        order kind needs them.

    Raises:
        hypothesis.errors.InvalidArgument: for a bad bound or collection.
    """
    if assets is None and prices is not None:
        assets = list(prices)
    names = _name_strategy(assets, "assets")
    if names is None:
        msg = "assets is empty: a pending order needs an asset"
        raise InvalidArgument(msg)
    _check_range(max_quantity, max_quantity, ("max_quantity", "max_quantity"), positive=True)
    _check_flag(whole_quantities, "whole_quantities")
    if whole_quantities and max_quantity < 1:
        msg = f"max_quantity={max_quantity!r} must be >= 1 with whole_quantities"
        raise InvalidArgument(msg)
    chosen = tuple(OrderKind) if kinds is None else tuple(kinds)
    if not chosen or not all(isinstance(kind, OrderKind) for kind in chosen):
        msg = f"kinds={kinds!r} must be a non-empty collection of OrderKind"
        raise InvalidArgument(msg)
    return _pending_order(
        names=names,
        ids=_order_ids() if order_ids is None else order_ids,
        prices=prices,
        max_quantity=float(max_quantity),
        whole=whole_quantities,
        kinds=chosen,
    )


@st.composite
def _snapshot(draw: st.DrawFn, opts: dict[str, Any]) -> PortfolioSnapshot:
    assets = draw(
        st.lists(
            opts["names"], min_size=opts["min_assets"], max_size=opts["max_assets"], unique=True
        )
    )
    fractional = opts["fractional"]
    if fractional is None:
        fractional = draw(st.booleans())
    margin = opts["margin"]
    if margin is None:
        margin = draw(st.booleans())
    max_q = opts["max_quantity"]
    low_q = -max_q if opts["allow_shorts"] else 0.0
    quantities = st.one_of(
        st.just(0),
        st.integers(math.ceil(low_q), math.floor(max_q)),
        st.floats(low_q, max_q, allow_subnormal=False)
        if opts["allow_fractional_positions"]
        else st.integers(math.ceil(low_q), math.floor(max_q)).map(float),
    )
    prices: dict[str, float] = {}
    positions: dict[str, float] = {}
    multipliers: dict[str, float] = {}
    lot_sizes: dict[str, float] = {}
    for asset in assets:
        prices[asset] = draw(
            st.floats(opts["min_price"], opts["max_price"])
            | st.sampled_from([opts["min_price"], opts["max_price"]])
        )
        quantity = draw(quantities)
        if quantity != 0 or draw(st.booleans()):
            positions[asset] = quantity
        if opts["allow_multipliers"] and draw(st.booleans()):
            multipliers[asset] = draw(
                st.sampled_from([0.1, 5.0, 50.0, 100.0]) | st.floats(0.01, 1e3)
            )
        if opts["allow_lot_sizes"] and draw(st.booleans()):
            lot_sizes[asset] = draw(st.sampled_from([0.001, 0.01, 0.5, 1, 10, 100]))
    pending: list[PendingOrder] = []
    if opts["allow_pending"] and assets:
        count = draw(st.integers(0, 2 * len(assets)))
        ids = draw(st.lists(_order_ids(), min_size=count, max_size=count, unique=True))
        for order_id in ids:
            order = draw(
                pending_orders(
                    prices=prices,
                    order_ids=st.just(order_id),
                    max_quantity=max(max_q, 1.0),
                    whole_quantities=not fractional,
                )
            )
            pending.append(order)
    cash = draw(
        st.floats(opts["min_cash"], opts["max_cash"])
        | st.sampled_from([opts["min_cash"], opts["max_cash"]])
        | (st.just(0.0) if opts["min_cash"] <= 0.0 <= opts["max_cash"] else st.nothing())
    )
    return PortfolioSnapshot(
        cash,
        positions,
        prices,
        multipliers=multipliers,
        lot_sizes=lot_sizes,
        pending_orders=pending,
        fractional=fractional,
        margin=margin,
    )


def snapshots(
    *,
    assets: st.SearchStrategy[str] | None = None,
    min_assets: int = 0,
    max_assets: int = 8,
    min_price: float = 1e-3,
    max_price: float = 1e6,
    min_cash: float = -1e6,
    max_cash: float = 1e8,
    max_quantity: float = 1e6,
    allow_shorts: bool = True,
    allow_pending: bool = True,
    allow_multipliers: bool = True,
    allow_lot_sizes: bool = True,
    allow_fractional_positions: bool = True,
    fractional: bool | None = None,
    margin: bool | None = None,
) -> st.SearchStrategy[PortfolioSnapshot]:
    """Valid :class:`~rebalancing.PortfolioSnapshot` values.

    Every asset of the snapshot has a price; each may be held (long or short), flat, or
    listed with a zero quantity, and may have a multiplier, a lot size and pending orders
    of every kind (market, marketable and resting limits, stops).

    Args:
        assets: Strategy of asset names; default :func:`asset_names`.
        min_assets: Fewest priced assets (0 allows the empty book).
        max_assets: Most priced assets.
        min_price: Lowest price (> 0).
        max_price: Highest price.
        min_cash: Lowest cash balance (negative: a margin loan).
        max_cash: Highest cash balance.
        max_quantity: Largest absolute position and pending quantity.
        allow_shorts: Whether short (negative) positions appear.
        allow_pending: Whether pending orders appear.
        allow_multipliers: Whether contract multipliers other than 1 appear.
        allow_lot_sizes: Whether per-asset lot sizes appear.
        allow_fractional_positions: Whether positions with a fractional part appear
            (also in whole-unit accounts, as after a split); ``False``: whole numbers.
        fractional: The account's ``fractional`` flag; ``None`` draws both.
        margin: The account's ``margin`` flag (a cash account when ``False``); ``None``
            draws both.

    Returns:
        A strategy of snapshots.

    Raises:
        hypothesis.errors.InvalidArgument: for a bad bound.
    """
    _check_size(min_assets, max_assets, "assets")
    _check_range(min_price, max_price, ("min_price", "max_price"), positive=True)
    _check_range(min_cash, max_cash, ("min_cash", "max_cash"), positive=False)
    _check_range(max_quantity, max_quantity, ("max_quantity", "max_quantity"), positive=True)
    for flag, name in (
        (allow_shorts, "allow_shorts"),
        (allow_pending, "allow_pending"),
        (allow_multipliers, "allow_multipliers"),
        (allow_lot_sizes, "allow_lot_sizes"),
        (allow_fractional_positions, "allow_fractional_positions"),
    ):
        _check_flag(flag, name)
    _check_flag(fractional, "fractional", optional=True)
    _check_flag(margin, "margin", optional=True)
    given: object = assets
    if given is not None and not isinstance(given, st.SearchStrategy):
        msg = f"assets={assets!r} must be a strategy of asset names"
        raise InvalidArgument(msg)
    return _snapshot(
        {
            "names": asset_names() if assets is None else assets,
            "min_assets": min_assets,
            "max_assets": max_assets,
            "min_price": float(min_price),
            "max_price": float(max_price),
            "min_cash": float(min_cash),
            "max_cash": float(max_cash),
            "max_quantity": float(max_quantity),
            "allow_shorts": allow_shorts,
            "allow_pending": allow_pending,
            "allow_multipliers": allow_multipliers,
            "allow_lot_sizes": allow_lot_sizes,
            "allow_fractional_positions": allow_fractional_positions,
            "fractional": fractional,
            "margin": margin,
        }
    )


def _scale_to(weights: dict[str, float], max_gross: float) -> dict[str, float]:
    """Scale ``weights`` so the sum of their absolute values is at most ``max_gross``."""
    factor = max_gross / math.fsum(abs(w) for w in weights.values())
    while True:
        scaled = {asset: w * factor for asset, w in weights.items()}
        if math.fsum(abs(w) for w in scaled.values()) <= max_gross:
            return scaled
        factor = math.nextafter(factor, 0.0)


@st.composite
def _target_weights(
    draw: st.DrawFn,
    *,
    names: st.SearchStrategy[str] | None,
    min_size: int,
    max_size: int | None,
    max_weight: float,
    allow_shorts: bool,
    max_gross: float | None,
) -> dict[str, float]:
    if names is None:
        return {}
    keys = draw(st.lists(names, min_size=min_size, max_size=max_size, unique=True))
    magnitudes = st.one_of(
        st.just(0.0),
        st.just(max_weight),
        st.floats(0.0, max_weight),
        st.integers(1, 20).map(lambda n: max_weight / n),
    )
    weights: dict[str, float] = {}
    for asset in keys:
        weight = draw(magnitudes)
        if allow_shorts and draw(st.booleans()):
            weight = -weight
        weights[asset] = weight
    if max_gross is not None and math.fsum(abs(w) for w in weights.values()) > max_gross:
        weights = _scale_to(weights, max_gross)
    return weights


def target_weights(
    *,
    assets: Collection[str] | st.SearchStrategy[str] | None = None,
    min_size: int = 0,
    max_size: int | None = None,
    max_weight: float = 1.0,
    allow_shorts: bool = True,
    max_gross: float | None = None,
) -> st.SearchStrategy[dict[str, float]]:
    """Target weights: ``dict`` of asset -> finite weight.

    Args:
        assets: Names to draw keys from: a collection (e.g. ``snapshot.prices``) or a
            strategy; default :func:`asset_names` (so unpriced assets appear too).
        min_size: Fewest targeted assets.
        max_size: Most targeted assets; with a collection, at most its size.
        max_weight: Largest absolute weight (> 0).
        allow_shorts: Whether negative weights appear.
        max_gross: Upper bound of the sum of absolute weights (``1.0``: a fully funded
            long book); ``None``: no bound (leverage and shorts may exceed 1).

    Returns:
        A strategy of weight dicts; zeros, equal weights and the bounds themselves appear
        often.

    Raises:
        hypothesis.errors.InvalidArgument: for a bad bound.
    """
    names = _name_strategy(assets, "assets")
    _check_size(min_size, max_size, "size")
    if names is None and min_size > 0:
        msg = f"assets is empty, so min_size={min_size!r} cannot be met"
        raise InvalidArgument(msg)
    if isinstance(assets, Collection) and not isinstance(assets, st.SearchStrategy):
        limit = len(set(assets))
        if min_size > limit:
            msg = f"min_size={min_size!r} exceeds the {limit} distinct assets given"
            raise InvalidArgument(msg)
        max_size = limit if max_size is None else min(max_size, limit)
    elif max_size is None:
        max_size = 8
    _check_range(max_weight, max_weight, ("max_weight", "max_weight"), positive=True)
    _check_flag(allow_shorts, "allow_shorts")
    if max_gross is not None:
        _check_range(max_gross, max_gross, ("max_gross", "max_gross"), positive=True)
    return _target_weights(
        names=names,
        min_size=min_size,
        max_size=max_size,
        max_weight=float(max_weight),
        allow_shorts=allow_shorts,
        max_gross=None if max_gross is None else float(max_gross),
    )


def _plannable_roundings() -> list[Rounding]:
    """Every rounding mode, less ``OPTIMAL`` when scipy (its solver) is not installed."""
    try:
        require_scipy(RebalanceConfig(rounding=Rounding.OPTIMAL))
    except RebalancingError:
        return [Rounding.DOWN, Rounding.CLOSEST]
    return list(Rounding)


def _config_fields() -> dict[str, st.SearchStrategy[Any]]:
    band = st.floats(0.0, 1.0)
    return {
        "min_trade_value": st.sampled_from([0.0, 100.0]) | st.floats(0.0, 1e4),
        "min_weight_change": st.sampled_from([0.0, 0.01]) | st.floats(0.0, 0.2),
        "allow_fractional": st.sampled_from([None, True, False]),
        "round_lots": st.booleans(),
        "lot_size": st.sampled_from([1, 10, 100, 0.5, 0.01]),
        "allow_short": st.booleans(),
        "max_single_weight": st.just(1.0) | st.floats(0.01, 2.0),
        "max_gross_leverage": st.none() | st.floats(0.01, 4.0),
        "cancel_before_rebalance": st.booleans(),
        "account_for_pending": st.booleans(),
        "close_untargeted": st.booleans(),
        "cash_buffer": st.just(0.0) | st.floats(0.0, 1.0, exclude_max=True),
        "cost_rate": st.just(0.0) | st.floats(0.0, 0.05) | st.floats(0.0, 1.0, exclude_max=True),
        "cost_per_order": st.just(0.0) | st.floats(0.0, 100.0),
        "rounding": st.sampled_from(_plannable_roundings()),
        "relative_band": st.none() | band,
        "direction": st.sampled_from(TradeDirection),
    }


def rebalance_configs(**fields: Any) -> st.SearchStrategy[RebalanceConfig]:
    """Valid :class:`~rebalancing.RebalanceConfig` values drawn across every field.

    Args:
        **fields: Fix a field to a value (``allow_short=True``) or draw it from your own
            strategy (``cash_buffer=st.floats(0, 0.1)``); the others are drawn from their
            whole valid domain (thresholds often 0, costs often 0). ``rounding`` draws
            ``Rounding.OPTIMAL`` only where scipy is installed, so every drawn config can
            be planned.

    Returns:
        A strategy of configs.

    Raises:
        hypothesis.errors.InvalidArgument: for an unknown field or an invalid fixed value.
    """
    known = _config_fields()
    strategies = dict(known)
    for name, value in fields.items():
        if name not in known:
            msg = f"{name!r} is not a RebalanceConfig field; known: {sorted(known)}"
            raise InvalidArgument(msg)
        if isinstance(value, st.SearchStrategy):
            strategies[name] = value
            continue
        try:
            RebalanceConfig(**{name: value})
        except RebalancingError as exc:
            msg = f"{name}={value!r} is not a valid RebalanceConfig value: {exc}"
            raise InvalidArgument(msg) from None
        strategies[name] = st.just(value)
    return st.builds(RebalanceConfig, **strategies)

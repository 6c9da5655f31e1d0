"""Small books drawn from coarse grids, where rare rules meet.

``rebalancing.testing``'s strategies draw prices, quantities and weights from wide,
continuous ranges: good at float edges, poor at coincidences. The planner bugs that a
random search of small books found each needed three or four features at once: a pending
sell of a whole holding, not counted, beside a CLOSEST repair that binds; a target of 0
under ``BUY_ONLY`` with pending buys; a buy funded to exactly ``min_trade_value``. Drawn
from a few prices ($1 to $250), quantities and weights, with every kind of pending order
and every config switch, such books are common, and one to three names keep each plan
cheap enough for hundreds of examples.
"""

from __future__ import annotations

from hypothesis import strategies as st

from rebalancing import (
    OrderKind,
    PendingOrder,
    PortfolioSnapshot,
    RebalanceConfig,
    Rounding,
    Side,
    TradeDirection,
)

PRICES = (0.5, 1.0, 7.0, 10.0, 100.0, 250.0)
QUANTITIES = (1, 2, 3, 5, 10, 20)
FRACTIONS = (1.0, 0.5, 1.25)
CASH = (-100.0, 0.0, 50.0, 100.0, 300.0, 1_000.0)
WEIGHTS = (0.0, 0.05, 0.1, 0.22, 0.26, 0.3, 0.45, 0.6, 0.75)
#: Lot sizes and contract multipliers, mostly none.
LOTS = (None, None, None, 0.1, 5.0)
MULTIPLIERS = (None, None, None, None, 10.0)
#: A limit or stop away from the market, at it, or through it.
AWAY = (0.9, 1.0, 1.1)


@st.composite
def _pending(draw: st.DrawFn, order_id: str, prices: dict[str, float]) -> PendingOrder:
    asset = draw(st.sampled_from(sorted(prices)))
    side = draw(st.sampled_from(Side))
    quantity = draw(st.sampled_from(QUANTITIES[:4]))
    kind = draw(st.sampled_from(OrderKind))
    level = prices[asset] * draw(st.sampled_from(AWAY))
    if kind is OrderKind.MARKET:
        return PendingOrder(order_id, asset, side, quantity)
    if kind is OrderKind.LIMIT:
        return PendingOrder(order_id, asset, side, quantity, kind=kind, limit_price=level)
    limit = level * draw(st.sampled_from(AWAY)) if kind is OrderKind.STOP_LIMIT else None
    return PendingOrder(
        order_id, asset, side, quantity, kind=kind, stop_price=level, limit_price=limit
    )


@st.composite
def coarse_books(
    draw: st.DrawFn, roundings: tuple[Rounding, ...] = (Rounding.DOWN, Rounding.CLOSEST)
) -> tuple[PortfolioSnapshot, dict[str, float], RebalanceConfig]:
    """A snapshot of one to three names, targets over them, and a config."""
    margin = draw(st.booleans())
    fractional = draw(st.booleans())
    names = ("A", "B", "C")[: draw(st.integers(1, 3))]
    prices = {name: draw(st.sampled_from(PRICES)) for name in names}
    positions: dict[str, float] = {}
    for name in names:
        held = draw(st.sampled_from((0, *QUANTITIES)))
        if held and margin and draw(st.booleans()):
            held = -held
        positions[name] = held * (draw(st.sampled_from(FRACTIONS)) if fractional else 1)
    count = draw(st.integers(0, 3))
    pending = [draw(_pending(f"p{k}", prices)) for k in range(count)]
    lots = {name: draw(st.sampled_from(LOTS)) for name in names}
    multipliers = {name: draw(st.sampled_from(MULTIPLIERS)) for name in names}
    snapshot = PortfolioSnapshot(
        draw(st.sampled_from(CASH)),
        {name: held for name, held in positions.items() if held},
        prices,
        pending_orders=pending,
        fractional=fractional,
        margin=margin,
        lot_sizes={name: lot for name, lot in lots.items() if lot is not None},
        multipliers={name: m for name, m in multipliers.items() if m is not None},
    )
    weights = WEIGHTS + ((-0.2,) if margin else ())
    targets = {name: draw(st.sampled_from(weights)) for name in names if draw(st.booleans())}
    config = RebalanceConfig(
        min_trade_value=draw(st.sampled_from((0.0, 25.0, 150.0))),
        min_weight_change=draw(st.sampled_from((0.0, 0.01, 0.05))),
        cash_buffer=draw(st.sampled_from((0.0, 0.05))),
        cancel_before_rebalance=draw(st.booleans()),
        account_for_pending=draw(st.booleans()),
        close_untargeted=draw(st.booleans()),
        direction=draw(st.sampled_from(TradeDirection)),
        rounding=draw(st.sampled_from(roundings)),
        allow_short=margin and draw(st.booleans()),
        cost_rate=draw(st.sampled_from((0.0, 0.001))),
        cost_per_order=draw(st.sampled_from((0.0, 1.0))),
        max_single_weight=draw(st.sampled_from((1.0, 1.0, 0.4))),
        relative_band=draw(st.sampled_from((None, None, 0.25))),
    )
    return snapshot, targets, config

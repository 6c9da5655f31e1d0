"""Properties over random books on the real ml4t Broker: preview is what execute sends."""

import math

import attrs
from hypothesis import given
from hypothesis import strategies as st
from ml4t.backtest import OrderSide
from ml4t.backtest.config import RebalanceMode, ShareType
from ml4t.backtest.models import NoCommission, PercentageCommission
from ml4t_market import Market, sent

from rebalancing import Rounding
from rebalancing.ml4t import RebalanceConfig, TargetWeightExecutor

NAMES = [f"A{i}" for i in range(8)]
FREE = {"min_trade_value": 0.0, "min_weight_change": 0.0}


@st.composite
def books(draw):
    """A cash or margin broker with random prices and holdings, targets and config."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    prices = {n: draw(st.floats(5.0, 500.0).map(lambda p: round(p, 2))) for n in names}
    integer = draw(st.booleans())
    margin = draw(st.booleans())
    rate = draw(st.sampled_from([0.0, 0.0005, 0.001, 0.003]))
    held = draw(st.lists(st.sampled_from(names), unique=True))
    holdings = {n: draw(st.floats(0.01, 0.9 / max(len(held), 1))) for n in held}
    weights = st.floats(-0.2, 0.6)
    targets = {n: draw(weights) for n in draw(st.lists(st.sampled_from(names), unique=True))}
    config = RebalanceConfig(
        min_trade_value=draw(st.sampled_from([0.0, 100.0])),
        min_weight_change=draw(st.sampled_from([0.0, 0.01])),
        round_lots=draw(st.booleans()),
        lot_size=draw(st.sampled_from([1, 10, 100])),
        max_single_weight=draw(st.sampled_from([1.0, 0.3])),
        cancel_before_rebalance=draw(st.booleans()),
        allow_short=margin,
    )
    return prices, (integer, margin), rate, holdings, targets, config


def stand_up(prices, account, rate, holdings):
    """The broker with the holdings bought through its own fills."""
    integer, margin = account
    market = Market(
        prices,
        share_type=ShareType.INTEGER if integer else ShareType.FRACTIONAL,
        commission_model=PercentageCommission(rate=rate) if rate else NoCommission(),
        allow_leverage=margin,
        allow_short_selling=margin,
    )
    for asset, weight in holdings.items():
        quantity = weight * 100_000.0 / prices[asset]
        quantity = math.floor(quantity) if integer else quantity
        if quantity > 0:
            market.hold(asset, quantity)
    return market


class TestPreviewParity:
    """What preview shows is exactly what execute sends, and it all fills."""

    @given(books())
    def test_preview_rows_equal_execute(self, book):
        """Preview's orders, in submission order, are execute's orders; none is rejected.

        In a cash account the cash never goes negative and nothing ends short.
        """
        prices, account, rate, holdings, targets, config = book
        market = stand_up(prices, account, rate, holdings)
        executor = TargetWeightExecutor(config)

        rows = executor.preview(targets, market.data, market.broker)
        orders = executor.execute(targets, market.data, market.broker)
        market.fill()

        shown = sorted(
            (leg["seq"], leg["side"], row["asset"], leg["quantity"])
            for row in rows
            for leg in row["orders"]
        )
        assert [(s, a, q) for _, s, a, q in shown] == sent(orders)
        assert [] == market.rejected()
        if not config.allow_short:
            assert market.cash_ok()
            assert all(quantity > 0 for quantity in market.positions().values())

    @given(books())
    def test_net_shares_match(self, book):
        """Each row's net ``shares`` is the net signed quantity sent for its asset."""
        prices, account, rate, holdings, targets, config = book
        market = stand_up(prices, account, rate, holdings)
        executor = TargetWeightExecutor(config)

        rows = executor.preview(targets, market.data, market.broker)
        orders = executor.execute(targets, market.data, market.broker)

        net: dict[str, float] = {}
        for order in orders:
            sign = 1 if order.side == OrderSide.BUY else -1
            net[order.asset] = net.get(order.asset, 0) + sign * order.quantity
        assert net == {row["asset"]: row["shares"] for row in rows if row["orders"]}


class TestEveryMode:
    """SNAPSHOT, INCREMENTAL and HYBRID, rounding DOWN or CLOSEST, on the real broker."""

    @given(
        books(),
        st.sampled_from(list(RebalanceMode)),
        st.sampled_from([Rounding.DOWN, Rounding.CLOSEST]),
    )
    def test_nothing_is_rejected_and_a_cash_account_stays_solvent(self, book, mode, rounding):
        """Every order execute sends fills; in a cash account the cash never goes below
        zero and nothing ends short, whichever mode fills the sells before the buys."""
        prices, account, rate, holdings, targets, config = book
        market = stand_up(prices, account, rate, holdings)
        config = attrs.evolve(config, rebalance_mode=mode, rounding=rounding)
        executor = TargetWeightExecutor(config)

        executor.execute(targets, market.data, market.broker)
        market.fill()

        assert [] == market.rejected()
        if not config.allow_short:
            assert market.cash_ok()
            assert all(quantity > 0 for quantity in market.positions().values())


class TestDustTargets:
    """A target within float noise of zero on a held asset should close it exactly."""

    def test_noise_short_target_is_a_close(self):
        """{A: -2.2e-16} on a long holding sends the close only."""
        market = Market({"A": 5.0}, allow_leverage=True, allow_short_selling=True)
        market.hold("A", 10_000.0)
        executor = TargetWeightExecutor(RebalanceConfig(allow_short=True, **FREE))

        plan = executor.plan({"A": -2.220446049250313e-16}, market.data, market.broker)

        assert [("sell", "A", 10_000.0)] == [(o.side.value, o.asset, o.quantity) for o in plan]

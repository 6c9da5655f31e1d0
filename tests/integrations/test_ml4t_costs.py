"""Costs estimated from the broker's commission and slippage models keep every buy funded."""

from typing import ClassVar

import pytest
from ml4t.backtest import AssetClass, ContractSpec, OrderStatus
from ml4t.backtest.config import ShareType
from ml4t.backtest.models import (
    CombinedCommission,
    FixedSlippage,
    FuturesCommission,
    NoCommission,
    NoSlippage,
    PercentageCommission,
    PercentageSlippage,
    PerShareCommission,
    TieredCommission,
    VolumeShareSlippage,
)
from ml4t_market import Market

from rebalancing.ml4t import (
    MAX_ESTIMATED_COST_RATE,
    RebalanceConfig,
    TargetWeightExecutor,
    estimate_costs,
    snapshot_from_broker,
)

PRICES = {"A": 101.3, "B": 47.9, "C": 250.1, "D": 13.7, "E": 80.0}


def estimate(commission, slippage, prices=None, **broker):
    """The estimate for a broker with these models, over every asset of the bar."""
    market = Market(
        prices or PRICES, commission_model=commission, slippage_model=slippage, **broker
    )
    return estimate_costs(market.broker, snapshot_from_broker(market.broker, market.data))


class TestEstimates:
    """What each of ml4t's simple models is estimated at (an upper bound per order)."""

    @pytest.mark.parametrize(
        ("commission", "slippage", "expected"),
        [
            (NoCommission(), NoSlippage(), (0.0, 0.0)),
            (PercentageCommission(rate=0.001), NoSlippage(), (0.001, 0.0)),
            (CombinedCommission(percentage=0.002, fixed=1.5), NoSlippage(), (0.002, 1.5)),
            (TieredCommission(tiers=[(1e4, 0.003), (1e9, 0.001)]), NoSlippage(), (0.003, 0.0)),
            (PerShareCommission(per_share=0.0137, minimum=1.0), NoSlippage(), (0.001, 1.0)),
            (NoCommission(), PercentageSlippage(rate=0.002), (0.002, 0.0)),
            (NoCommission(), FixedSlippage(amount=0.0137), (0.001, 0.0)),
            (PercentageCommission(rate=0.001), PercentageSlippage(rate=0.01), (0.01101, 0.0)),
            (NoCommission(), VolumeShareSlippage(), (0.0, 0.0)),
        ],
    )
    def test_model(self, commission, slippage, expected):
        """Rates, per-share amounts at the cheapest unit (13.70), fixed fees per order."""
        rate, fixed = estimate(commission, slippage)

        assert expected == (pytest.approx(rate), pytest.approx(fixed))

    def test_futures_commission(self):
        """FuturesCommission: percentage of price * quantity, per contract, per trade."""
        spec = ContractSpec(symbol="ES", asset_class=AssetClass.FUTURE, multiplier=50.0)
        commission = FuturesCommission(per_trade=2.0, per_block=2.5, percentage=0.0001)

        rate, fixed = estimate(
            commission, NoSlippage(), prices={"ES": 5_000.0}, contract_specs={"ES": spec}
        )

        assert (pytest.approx(0.0001 + 2.5 / 250_000.0), 2.0) == (rate, fixed)

    def test_no_prices_no_per_unit_estimate(self):
        """With nothing priced, per-unit models add nothing."""
        market = Market({}, commission_model=PerShareCommission(), slippage_model=FixedSlippage())
        snapshot = snapshot_from_broker(market.broker, {})

        assert (0.0, 1.0) == estimate_costs(market.broker, snapshot)


class TestFundedWithRealFills:
    """Every order the plan sends fills; cash never goes below zero."""

    @pytest.mark.parametrize(
        ("commission", "slippage"),
        [
            (PercentageCommission(rate=0.001), NoSlippage()),
            (PercentageCommission(rate=0.003), PercentageSlippage(rate=0.002)),
            (CombinedCommission(percentage=0.001, fixed=5.0), NoSlippage()),
            (PerShareCommission(per_share=0.005, minimum=1.0), FixedSlippage(amount=0.02)),
            (TieredCommission(tiers=[(1e4, 0.002), (1e9, 0.001)]), NoSlippage()),
        ],
    )
    @pytest.mark.parametrize("share_type", [ShareType.FRACTIONAL, ShareType.INTEGER])
    def test_rotation_into_four_sleeves(self, commission, slippage, share_type):
        """Sell E, buy four 25% sleeves: all fill, cash stays >= 0, at most 1% idle."""
        market = Market(
            PRICES, commission_model=commission, slippage_model=slippage, share_type=share_type
        )
        market.hold("E", 600)

        orders = TargetWeightExecutor().execute(
            dict.fromkeys("ABCD", 0.25), market.data, market.broker
        )
        market.fill()

        assert all(order.status == OrderStatus.FILLED for order in orders)
        assert {"A", "B", "C", "D"} == set(market.positions())
        assert market.cash_ok()
        assert market.broker.cash < 0.01 * market.equity()

    def test_costs_off_leaves_a_sleeve_unfunded(self):
        """Without the estimate (costs_from_broker=False) the last buy is rejected, as in ml4t."""
        market = Market(PRICES, commission_model=PercentageCommission(rate=0.001))
        executor = TargetWeightExecutor(RebalanceConfig(costs_from_broker=False))

        executor.execute(dict.fromkeys("ABCD", 0.25), market.data, market.broker)
        market.fill()

        assert 1 == len(market.rejected())

    def test_explicit_fixed_cost_is_kept(self):
        """A cost_per_order set in the config wins over the broker's minimum fee."""
        market = Market(PRICES, commission_model=PerShareCommission(per_share=0.01, minimum=1.0))
        executor = TargetWeightExecutor(RebalanceConfig(cost_per_order=7.0))

        plan = executor.plan({"A": 0.5}, market.data, market.broker)

        # The per-share rate is taken at the cheapest unit among the planned assets: A.
        assert pytest.approx(0.01 / 101.3 * plan.orders[0].value + 7.0) == (
            plan.orders[0].estimated_cost
        )


class TestSubDollarPrices:
    """Issue 10.6: a per-share fee on a sub-dollar price no longer breaks the config."""

    PRICES: ClassVar[dict[str, float]] = {"PENNY": 0.004, "A": 10.0}

    def market(self):
        """A broker charging $0.005 a share (at least $1) with a $0.004 asset."""
        return Market(self.PRICES, commission_model=PerShareCommission(per_share=0.005))

    def test_estimate_is_capped_with_a_warning(self):
        """125% of the traded value is estimated at MAX_ESTIMATED_COST_RATE, and says so."""
        market = self.market()
        snapshot = snapshot_from_broker(market.broker, market.data)

        with pytest.warns(RuntimeWarning, match=r"1\.25 of the traded value.*capped at"):
            rate, fixed = estimate_costs(market.broker, snapshot)

        assert (MAX_ESTIMATED_COST_RATE, 1.0) == (rate, fixed)
        assert MAX_ESTIMATED_COST_RATE < 1.0

    def test_plan_instead_of_an_error_about_cost_rate(self):
        """It used to raise InvalidConfigError about cost_rate, a field the user never set."""
        market = self.market()

        with pytest.warns(RuntimeWarning, match="PerShareCommission"):
            plan = TargetWeightExecutor().plan({"A": 0.5, "PENNY": 0.1}, market.data, market.broker)

        assert [("A", 5000.0), ("PENNY", 2_500_000.0)] == [
            (order.asset, order.quantity) for order in plan.orders
        ]
        assert plan.projected_cash >= 0.0

    def test_core_caps_any_estimate_it_is_given(self):
        """RebalanceConfig.core takes an estimate of 1 or more and caps it below 1."""
        assert MAX_ESTIMATED_COST_RATE == RebalanceConfig().core(cost_rate=1.0).cost_rate

    def test_explicit_rate_wins_without_a_warning(self):
        """A cost_rate set in the config is used as is; the estimate is not consulted."""
        market = self.market()
        executor = TargetWeightExecutor(RebalanceConfig(cost_rate=0.01))

        plan = executor.plan({"A": 0.5}, market.data, market.broker)

        assert 0.01 * plan.orders[0].value + 1.0 == pytest.approx(plan.orders[0].estimated_cost)

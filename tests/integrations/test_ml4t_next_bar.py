"""Issue 10.6: next-bar fills and the gap headroom that keeps every buy funded.

ml4t's Engine fills at the next bar's open by default. Buys sized at this bar's close
are rejected whole when the open gaps up; the adapter keeps ``gap_headroom`` times the
traded value in cash (by default when the broker fills at the next bar) and reports it
as the plan's cash floor.
"""

from datetime import timedelta

import pytest
from ml4t.backtest import OrderStatus
from ml4t.backtest.config import ExecutionMode, RebalanceMode
from ml4t_market import Market

import rebalancing
from rebalancing import Adjustment, InvalidConfigError, UnsupportedBrokerError
from rebalancing.ml4t import (
    MAX_GAP_HEADROOM,
    NEXT_BAR_GAP_HEADROOM,
    RebalanceConfig,
    TargetWeightExecutor,
)

PRICES = {"A": 101.3, "B": 47.9, "C": 250.1, "D": 13.7}
QUARTERS = dict.fromkeys(PRICES, 0.25)
FREE = {"min_trade_value": 0.0, "min_weight_change": 0.0}


def next_bar_market(**broker):
    """A next-bar broker (ml4t's Engine default) holding only cash."""
    return Market(PRICES, execution_mode=ExecutionMode.NEXT_BAR, **broker)


def open_gapped(market, gap):
    """Start the next bar with every open ``gap`` above the last close; fill at the open."""
    market.when += timedelta(days=1)
    opens = {asset: price * (1.0 + gap) for asset, price in market.prices.items()}
    market.prices = opens
    volumes = dict.fromkeys(opens, 1e12)
    market.broker._update_time(market.when, opens, opens, opens, opens, volumes, {})
    market.broker._process_orders(use_open=True)


class TestNextBarFills:
    """Buys sent at the close and filled at a higher open."""

    def test_default_keeps_every_buy_funded_through_a_gap(self):
        """All four buys fill at a 2% higher open (one used to be rejected)."""
        market = next_bar_market()

        orders = TargetWeightExecutor().execute(QUARTERS, market.data, market.broker)
        open_gapped(market, 0.02)

        assert ([], 4) == (market.rejected(), len(orders))
        assert all(order.status == OrderStatus.FILLED for order in orders)
        assert market.cash_ok()

    def test_without_headroom_the_last_buy_is_rejected(self):
        """gap_headroom=0 sizes at the close, as before: the gap rejects the last buy."""
        market = next_bar_market()
        executor = TargetWeightExecutor(RebalanceConfig(gap_headroom=0.0))

        executor.execute(QUARTERS, market.data, market.broker)
        open_gapped(market, 0.02)

        assert ["D"] == [asset for asset, _ in market.rejected()]

    def test_a_rotation_survives_a_gap(self):
        """Sells that open lower and buys that open higher still fit the cash."""
        market = next_bar_market()
        market.hold("A", 980)
        market.hold("B", 10)
        targets = {"B": 0.5, "C": 0.25, "D": 0.25}

        TargetWeightExecutor().execute(targets, market.data, market.broker)
        market.when += timedelta(days=1)
        opens = {"A": 101.3 * 0.98, "B": 47.9 * 1.02, "C": 250.1 * 1.02, "D": 13.7 * 1.02}
        market.prices = opens
        market.broker._update_time(market.when, opens, opens, opens, opens, {}, {})
        market.broker._process_orders(use_open=True)

        assert [] == market.rejected()
        assert {"B", "C", "D"} == set(market.positions())


class TestHeadroomIsReported:
    """The reserve shows as the plan's cash floor and as a cash_buffer adjustment."""

    def test_cash_floor_is_the_rate_times_the_traded_value(self):
        """Reserve = gap_headroom * traded value, less the cash the plan leaves anyway."""
        market = next_bar_market()
        bare = TargetWeightExecutor(RebalanceConfig(gap_headroom=0.0, **FREE))
        unreserved = bare.plan(QUARTERS, market.data, market.broker)

        plan = TargetWeightExecutor(RebalanceConfig(**FREE)).plan(
            QUARTERS, market.data, market.broker
        )

        spare = unreserved.projected_cash - unreserved.cash_floor
        expected = NEXT_BAR_GAP_HEADROOM * unreserved.traded_value - spare
        assert pytest.approx(expected) == plan.cash_floor
        assert plan.projected_cash >= plan.cash_floor - 1e-6

    def test_decisions_and_preview_show_the_adjustment(self):
        """Each scaled target lists cash_buffer, in the plan and in preview rows."""
        market = next_bar_market()
        executor = TargetWeightExecutor()

        plan = executor.plan(QUARTERS, market.data, market.broker)
        rows = executor.preview(QUARTERS, market.data, market.broker)

        assert all(Adjustment.CASH_BUFFER in d.adjustments for d in plan.decisions)
        assert all("cash_buffer" in row["adjustments"] for row in rows)
        assert all(row["target_weight"] < 0.25 for row in rows)

    def test_users_buffer_is_kept_under_the_headroom(self):
        """A configured cash_buffer stays; the headroom is kept on top of it."""
        market = next_bar_market()
        executor = TargetWeightExecutor(RebalanceConfig(cash_buffer=0.01, **FREE))
        bare = TargetWeightExecutor(RebalanceConfig(cash_buffer=0.01, gap_headroom=0.0, **FREE))

        plan = executor.plan(QUARTERS, market.data, market.broker)
        unreserved = bare.plan(QUARTERS, market.data, market.broker)

        assert plan.cash_floor > unreserved.cash_floor >= 0.01 * plan.equity - 1e-6


class TestWhenNoHeadroomIsKept:
    """Same-bar fills, spare cash, sells only, a plain core config: the plan is unchanged."""

    def test_same_bar_broker_keeps_the_plan(self):
        """The default is 0 when the broker fills in the bar the orders are sent."""
        market = Market(PRICES)
        default = TargetWeightExecutor().plan(QUARTERS, market.data, market.broker)
        bare = TargetWeightExecutor(RebalanceConfig(gap_headroom=0.0))

        assert bare.plan(QUARTERS, market.data, market.broker) == default

    def test_explicit_rate_applies_to_a_same_bar_broker(self):
        """A gap_headroom set in the config applies whatever the fill timing."""
        market = Market(PRICES)
        executor = TargetWeightExecutor(RebalanceConfig(gap_headroom=0.03, **FREE))

        plan = executor.plan(QUARTERS, market.data, market.broker)

        assert plan.cash_floor > 0.02 * plan.equity

    def test_spare_cash_covers_the_reserve(self):
        """Targets that leave 20% in cash already cover a 5% move on what is bought."""
        market = next_bar_market()
        targets = dict.fromkeys(PRICES, 0.2)
        default = TargetWeightExecutor().plan(targets, market.data, market.broker)
        bare = TargetWeightExecutor(RebalanceConfig(gap_headroom=0.0))

        assert bare.plan(targets, market.data, market.broker) == default
        assert 0.0 == default.cash_floor

    def test_sells_only_keep_nothing_back(self):
        """Nothing is bought, so nothing can be rejected for a gap."""
        market = next_bar_market()
        market.hold("A", 900)
        plan = TargetWeightExecutor().plan({"A": 0.4}, market.data, market.broker)

        assert ("sell", 0.0) == (plan.orders[0].side.value, plan.cash_floor)

    def test_plain_core_config_is_used_as_given(self):
        """A rebalancing.RebalanceConfig has no gap_headroom: nothing is added."""
        market = next_bar_market()
        executor = TargetWeightExecutor(rebalancing.RebalanceConfig())

        assert 0.0 == executor.plan(QUARTERS, market.data, market.broker).cash_floor

    def test_headroom_is_capped(self):
        """At most MAX_GAP_HEADROOM of equity is kept back, whatever the rate."""
        market = next_bar_market()
        executor = TargetWeightExecutor(RebalanceConfig(gap_headroom=0.99, **FREE))

        plan = executor.plan(QUARTERS, market.data, market.broker)

        assert pytest.approx(MAX_GAP_HEADROOM * plan.equity) == plan.cash_floor


class TestIncremental:
    """INCREMENTAL plans its buys after the sells with the same headroom."""

    def test_second_round_keeps_the_headroom(self):
        """The buys of the second round leave the reserve in cash."""
        market = Market(PRICES)
        market.hold("A", 980)
        config = RebalanceConfig(
            rebalance_mode=RebalanceMode.INCREMENTAL, gap_headroom=0.05, **FREE
        )

        TargetWeightExecutor(config).execute({"B": 0.5, "C": 0.5}, market.data, market.broker)

        assert market.broker.cash > 0.04 * market.equity()
        assert [] == market.rejected()


class TestConfig:
    """gap_headroom is None (follow the broker) or a rate in [0, 1)."""

    def test_default_is_none(self):
        """None: follow the broker's fill timing."""
        assert RebalanceConfig().gap_headroom is None

    @pytest.mark.parametrize("value", [-0.01, 1.0, "5%", float("nan")])
    def test_bad_values(self, value):
        """Anything outside [0, 1) is rejected naming the field."""
        with pytest.raises(InvalidConfigError, match="gap_headroom"):
            RebalanceConfig(gap_headroom=value)

    def test_unknown_execution_mode(self):
        """A fill timing the adapter does not know is an error naming it."""
        market = next_bar_market()
        market.broker.execution_mode = "next_session"

        with pytest.raises(UnsupportedBrokerError, match=r"execution_mode 'next_session'"):
            TargetWeightExecutor().plan(QUARTERS, market.data, market.broker)

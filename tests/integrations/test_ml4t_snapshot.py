"""Reading the broker and the bar: odd bars, odd orders, orders the broker refuses."""

from datetime import UTC, datetime

import numpy as np
import pytest
from ml4t.backtest import OrderSide, OrderType, Position, StopLoss
from ml4t.backtest.config import RebalanceMode
from ml4t_market import Market, sent

from rebalancing import InvalidTargetsError, OrderKind
from rebalancing.ml4t import RebalanceConfig, TargetWeightExecutor, snapshot_from_broker

FREE = {"min_trade_value": 0.0, "min_weight_change": 0.0}


class TestBar:
    """Closes that are not plain floats."""

    @pytest.mark.parametrize(
        ("bar", "expected"),
        [
            ({"A": {"close": 120}}, 120.0),
            ({"A": {"close": True}}, 100.0),
            ({"A": {"close": 0}}, 100.0),
            ({"A": {"close": "120"}}, 100.0),
            ({"A": {"close": -5.0}}, 100.0),
            ({"A": {"close": float("inf")}}, 100.0),
            ({"A": 120.0}, 100.0),
        ],
    )
    def test_close_or_broker_mark(self, bar, expected):
        """An int close is used; anything else unusable falls back to the broker's mark."""
        market = Market({"A": 100.0})
        market.hold("A", 10)

        assert expected == snapshot_from_broker(market.broker, bar).prices["A"]

    def test_position_price_is_the_last_resort(self):
        """A position the broker never priced is valued at its entry price."""
        market = Market({})
        market.broker.positions["Z"] = Position("Z", 10, 42.0, datetime(2024, 1, 1, tzinfo=UTC))

        assert 42.0 == snapshot_from_broker(market.broker, {}).prices["Z"]

    def test_assets_restrict_prices(self):
        """With assets given, only those (and held or pending ones) are priced."""
        market = Market({"A": 10.0, "B": 20.0, "C": 30.0})
        market.hold("C", 1)

        snapshot = snapshot_from_broker(market.broker, market.data, assets=["A"])

        assert {"A": 10.0, "C": 30.0} == dict(snapshot.prices)

    def test_assets_may_be_an_iterator(self):
        """Assets given as a generator are read once and all priced (regression)."""
        market = Market({"A": 10.0, "B": 20.0, "C": 30.0})

        snapshot = snapshot_from_broker(market.broker, market.data, assets=iter(["A", "B"]))

        assert {"A": 10.0, "B": 20.0} == dict(snapshot.prices)


class TestOddOrders:
    """Pending orders the broker will not fill as placed count as resting."""

    def test_limit_without_price_is_resting(self):
        """A limit order with no limit price never fills: it is resting, not exposure."""
        market = Market({"A": 100.0})
        market.broker.submit_order("A", 5, OrderSide.BUY, OrderType.LIMIT)

        (pending,) = snapshot_from_broker(market.broker, market.data).pending_orders

        assert (OrderKind.TRAILING_STOP, 5.0) == (pending.kind, pending.quantity)

    def test_stop_limit_keeps_both_prices(self):
        """A stop-limit keeps its stop and limit prices."""
        market = Market({"A": 100.0})
        market.broker.submit_order(
            "A", 5, OrderSide.BUY, OrderType.STOP_LIMIT, limit_price=111.0, stop_price=110.0
        )

        (pending,) = snapshot_from_broker(market.broker, market.data).pending_orders

        assert (OrderKind.STOP_LIMIT, 111.0, 110.0) == (
            pending.kind,
            pending.limit_price,
            pending.stop_price,
        )

    def test_filled_quantity_zero_orders_are_skipped(self):
        """An order whose remaining quantity is 0 is not pending for the core."""
        market = Market({"A": 100.0})
        order = market.broker.submit_order("A", 5, OrderSide.BUY)
        order.quantity = 0.0

        assert () == snapshot_from_broker(market.broker, market.data).pending_orders


class TestExecuteOdds:
    """Reversal rows, refused orders, nothing to do in INCREMENTAL, bad targets."""

    def test_preview_marks_a_reversal(self):
        """A long-to-short row shows action "reverse" and the net shares."""
        market = Market({"A": 100.0}, allow_short_selling=True, allow_leverage=True)
        market.hold("A", 100)

        (row,) = TargetWeightExecutor(RebalanceConfig(allow_short=True)).preview(
            {"A": -0.1}, market.data, market.broker
        )

        assert ("reverse", -200.0, ["close", "open"]) == (
            row["action"],
            row["shares"],
            [leg["action"] for leg in row["orders"]],
        )

    def test_broker_refusal_is_not_returned(self):
        """ml4t refuses re-entry in the bar of a stop exit: only accepted orders are returned."""
        market = Market({"A": 100.0})
        market.broker.set_position_rules(StopLoss(pct=0.05))
        market.hold("A", 100)
        market.move({"A": 90.0})
        market.broker.evaluate_position_rules()
        market.fill()

        orders = TargetWeightExecutor().execute({"A": 0.5}, market.data, market.broker)

        assert ([], []) == (orders, market.broker.pending_orders)

    @pytest.mark.parametrize("mode", [RebalanceMode.INCREMENTAL, RebalanceMode.HYBRID])
    def test_incremental_with_nothing_to_do(self, mode):
        """At target, INCREMENTAL and HYBRID send nothing and fill nothing."""
        market = Market({"A": 100.0})
        market.hold("A", 500)
        executor = TargetWeightExecutor(RebalanceConfig(rebalance_mode=mode))

        assert [] == executor.execute({"A": 0.5}, market.data, market.broker)

    def test_incremental_buys_only(self):
        """With nothing to sell, INCREMENTAL goes straight to the buys."""
        market = Market({"A": 100.0})
        executor = TargetWeightExecutor(
            RebalanceConfig(**FREE, rebalance_mode=RebalanceMode.INCREMENTAL)
        )

        orders = executor.execute({"A": 0.5}, market.data, market.broker)

        assert ([("buy", "A", 500.0)], {"A": 500.0}) == (sent(orders), market.positions())

    @pytest.mark.parametrize("targets", [[("A", 0.5)], None, {1: 0.5}])
    def test_targets_that_are_not_a_mapping_of_names(self, targets):
        """Targets must be a mapping of names: the core's error, nothing sent."""
        market = Market({"A": 100.0})

        with pytest.raises(InvalidTargetsError):
            TargetWeightExecutor().execute(targets, market.data, market.broker)

        assert [] == market.broker.orders


class TestNumpyNames:
    """Issue 10.3: any str subclass (numpy.str_ from an array of tickers) is an asset name."""

    TICKERS = np.array(["A", "B"])

    def market(self):
        """A holds 500 shares at 100 (half the book), B is priced at 50."""
        market = Market({"A": 100.0, "B": 50.0})
        market.hold("A", 500)
        return market

    @pytest.mark.parametrize(
        "mode", [RebalanceMode.SNAPSHOT, RebalanceMode.INCREMENTAL, RebalanceMode.HYBRID]
    )
    def test_execute_buys_with_numpy_keys(self, mode):
        """numpy.str_ keys are priced: the sell funds the buy (it used to sell only)."""
        market = self.market()
        targets = dict(zip(self.TICKERS, [0.2, 0.3], strict=True))
        executor = TargetWeightExecutor(RebalanceConfig(rebalance_mode=mode))

        orders = executor.execute(targets, market.data, market.broker)
        market.fill()

        assert [("sell", "A", 300.0), ("buy", "B", 600.0)] == sent(orders)
        assert {"A": 200.0, "B": 600.0} == market.positions()
        assert all(type(order.asset) is str for order in orders)

    def test_preview_prices_numpy_keys(self):
        """Preview shows the numpy-keyed buy with its price, as execute sends it."""
        market = self.market()
        targets = dict(zip(self.TICKERS, [0.2, 0.3], strict=True))

        rows = TargetWeightExecutor().preview(targets, market.data, market.broker)

        assert [("A", -300.0, None), ("B", 600.0, None)] == [
            (row["asset"], row["shares"], row["skip_reason"]) for row in rows
        ]
        assert [str, str] == [type(row["asset"]) for row in rows]

    def test_numpy_names_in_data_and_assets(self):
        """A bar keyed by numpy.str_ and an array of assets price the plain names."""
        market = self.market()
        data = {np.str_(asset): bar for asset, bar in market.data.items()}

        snapshot = snapshot_from_broker(market.broker, data, assets=self.TICKERS)

        assert {"A": 100.0, "B": 50.0} == dict(snapshot.prices)
        assert all(type(asset) is str for asset in snapshot.prices)

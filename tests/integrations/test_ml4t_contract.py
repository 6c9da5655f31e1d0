"""The drop-in contract: code written for ml4t's executor runs unchanged on ours."""

import math

import attrs
import pytest
from ml4t.backtest import AssetClass, Broker, ContractSpec, OrderSide, OrderStatus, OrderType
from ml4t.backtest import Order as BrokerOrder
from ml4t.backtest.config import RebalanceMode, ShareType
from ml4t.backtest.models import PercentageCommission
from ml4t_market import Market, sent

import rebalancing
from rebalancing import InvalidConfigError, InvalidTargetsError, OrderKind, SkipReason
from rebalancing.ml4t import (
    RebalanceConfig,
    TargetWeightExecutor,
    WeightProvider,
    snapshot_from_broker,
)

FREE = {"min_trade_value": 0.0, "min_weight_change": 0.0}


class TestConfig:
    """Item 1: RebalanceConfig defaults, verbatim keywords and rebalance_mode."""

    def test_defaults_are_ml4ts(self):
        """Every default of ml4t's RebalanceConfig holds, with SNAPSHOT mode."""
        config = RebalanceConfig()

        expected = {
            "min_trade_value": 100.0,
            "min_weight_change": 0.01,
            "allow_fractional": None,
            "round_lots": False,
            "lot_size": 100,
            "allow_short": False,
            "max_single_weight": 1.0,
            "max_gross_leverage": None,
            "cancel_before_rebalance": True,
            "account_for_pending": True,
            "rebalance_mode": RebalanceMode.SNAPSHOT,
        }
        assert expected == {name: getattr(config, name) for name in expected}

    def test_keywords_are_stored_verbatim(self):
        """Keyword construction stores each value as given."""
        values = {
            "min_trade_value": 500.0,
            "min_weight_change": 0.02,
            "allow_fractional": True,
            "round_lots": True,
            "lot_size": 10,
            "allow_short": True,
            "max_single_weight": 0.25,
            "max_gross_leverage": 1.5,
            "cancel_before_rebalance": False,
            "account_for_pending": False,
            "rebalance_mode": RebalanceMode.HYBRID,
        }
        config = RebalanceConfig(**values)

        assert values == {name: getattr(config, name) for name in values}

    @pytest.mark.parametrize("mode", list(RebalanceMode))
    def test_mode_accepts_ml4ts_enum_and_its_value(self, mode):
        """rebalance_mode takes ml4t's RebalanceMode or its string value."""
        assert mode == RebalanceConfig(rebalance_mode=mode.value).rebalance_mode

    def test_bad_mode_is_a_config_error(self):
        """An unknown mode is rejected naming the field and the value."""
        with pytest.raises(InvalidConfigError, match=r"rebalance_mode.*'sometimes'"):
            RebalanceConfig(rebalance_mode="sometimes")

    def test_bad_costs_from_broker_is_a_config_error(self):
        """costs_from_broker must be a bool."""
        with pytest.raises(InvalidConfigError, match=r"costs_from_broker.*'yes'"):
            RebalanceConfig(costs_from_broker="yes")

    def test_is_a_core_config(self):
        """The adapter's config is the core's, so compute_trades accepts it too."""
        assert isinstance(RebalanceConfig(), rebalancing.RebalanceConfig)

    def test_core_fills_only_costs_left_at_zero(self):
        """Estimated costs replace only the cost fields left at 0."""
        config = RebalanceConfig(cost_rate=0.002)

        core = config.core(cost_rate=0.01, cost_per_order=1.5)

        assert (0.002, 1.5) == (core.cost_rate, core.cost_per_order)
        assert type(core) is rebalancing.RebalanceConfig

    def test_core_keeps_costs_when_estimation_is_off(self):
        """With costs_from_broker=False the config's costs are used as they are."""
        core = RebalanceConfig(costs_from_broker=False).core(cost_rate=0.01, cost_per_order=1.0)

        assert (0.0, 0.0) == (core.cost_rate, core.cost_per_order)


class TestExecutorSurface:
    """Item 2: constructor, execute's return value and preview's rows."""

    def test_default_config(self):
        """config=None means the defaults, readable as .config."""
        assert RebalanceConfig() == TargetWeightExecutor().config

    def test_plain_core_config_is_accepted(self):
        """A core RebalanceConfig works and trades in SNAPSHOT mode."""
        market = Market({"A": 100.0})
        executor = TargetWeightExecutor(rebalancing.RebalanceConfig())

        orders = executor.execute({"A": 0.5}, market.data, market.broker)

        assert [("buy", "A", 500)] == sent(orders)

    def test_non_config_is_rejected(self):
        """Passing something that is not a config fails at construction."""
        with pytest.raises(InvalidConfigError, match="config must be a RebalanceConfig"):
            TargetWeightExecutor({"min_trade_value": 0})

    def test_execute_returns_the_brokers_orders_sells_first(self):
        """execute returns the broker's own Order objects, sells before buys."""
        market = Market({"A": 100.0, "B": 50.0, "C": 20.0})
        market.hold("A", 600)

        orders = TargetWeightExecutor().execute({"B": 0.4, "C": 0.4}, market.data, market.broker)

        assert all(isinstance(order, BrokerOrder) for order in orders)
        assert [OrderSide.SELL, OrderSide.BUY, OrderSide.BUY] == [o.side for o in orders]
        assert orders == market.broker.pending_orders

    def test_preview_keys_and_close_position(self):
        """Preview rows carry ml4t's keys; an untargeted holding shows close_position."""
        market = Market({"A": 100.0, "B": 50.0})
        market.hold("B", 100)
        orders_before = len(market.broker.orders)

        rows = TargetWeightExecutor().preview({"A": 0.5}, market.data, market.broker)

        keys = {"asset", "current_weight", "target_weight", "weight_delta", "shares", "value"}
        assert all(keys | {"skip_reason"} <= set(row) for row in rows)
        close = next(row for row in rows if row["asset"] == "B")
        assert ("close_position", 0.0, -100) == (
            close["action"],
            close["target_weight"],
            close["shares"],
        )
        assert orders_before == len(market.broker.orders)

    @pytest.mark.parametrize(
        ("config", "target", "reason"),
        [
            ({"min_weight_change": 0.1}, 0.05, "weight_change_too_small"),
            (
                {"min_trade_value": 1_000.0, "min_weight_change": 0.001},
                0.005,
                "trade_value_too_small",
            ),
            ({"min_trade_value": 1.0, "min_weight_change": 0.0001}, 0.001, "rounds_to_zero_shares"),
        ],
    )
    def test_ml4t_skip_strings(self, config, target, reason):
        """ml4t's three skip strings keep their meaning."""
        market = Market({"A": 150.0}, share_type=ShareType.INTEGER)

        rows = TargetWeightExecutor(RebalanceConfig(**config)).preview(
            {"A": target}, market.data, market.broker
        )

        assert [reason] == [row["skip_reason"] for row in rows]

    def test_weight_provider_protocol(self):
        """Any object with get_weights(data, broker) is a WeightProvider."""

        class Equal:
            def get_weights(self, data, broker):
                return {asset: 1.0 / len(data) for asset in data}

        provider: WeightProvider = Equal()
        market = Market({"A": 100.0, "B": 100.0})
        weights = provider.get_weights(market.data, market.broker)

        assert {"A": 0.5, "B": 0.5} == weights


class TestSizing:
    """Item 3: equity * delta / (price * multiplier), whole units as int, share type."""

    def test_whole_shares_truncate_to_int(self):
        """A 10% target at $150 on $100k buys int(66.67) = 66 shares, as a Python int."""
        market = Market({"A": 150.0})
        executor = TargetWeightExecutor(RebalanceConfig(allow_fractional=False))

        orders = executor.execute({"A": 0.1}, market.data, market.broker)
        plan = executor.plan({"A": 0.1}, market.data, market.broker)

        assert [("buy", "A", 66)] == sent(orders)
        assert int is type(plan.orders[0].quantity)

    def test_fractional_follows_broker_share_type(self):
        """allow_fractional=None follows broker.share_type."""
        fractional = Market({"A": 150.0})
        whole = Market({"A": 150.0}, share_type=ShareType.INTEGER)
        executor = TargetWeightExecutor()

        frac_orders = executor.execute({"A": 0.1}, fractional.data, fractional.broker)
        whole_orders = executor.execute({"A": 0.1}, whole.data, whole.broker)

        assert 10_000.0 / 150.0 == pytest.approx(frac_orders[0].quantity)
        assert 66 == whole_orders[0].quantity

    def test_futures_multiplier_from_broker(self):
        """Contracts are sized with broker.get_multiplier: 50% of $1M at 5,000 x 50 is 2."""
        spec = ContractSpec(symbol="ES", asset_class=AssetClass.FUTURE, multiplier=50.0)
        market = Market(
            {"ES": 5_000.0},
            cash=1_000_000.0,
            contract_specs={"ES": spec},
            share_type=ShareType.INTEGER,
        )

        orders = TargetWeightExecutor().execute({"ES": 0.5}, market.data, market.broker)
        market.fill()

        assert [("buy", "ES", 2)] == sent(orders)
        assert {"ES": 2} == market.positions()

    def test_snapshot_reads_broker(self):
        """snapshot_from_broker: cash, positions, closes, multipliers and share type."""
        spec = ContractSpec(symbol="ES", asset_class=AssetClass.FUTURE, multiplier=50.0)
        market = Market({"A": 10.0, "ES": 100.0}, contract_specs={"ES": spec})
        market.hold("A", 100)

        snap = snapshot_from_broker(market.broker, market.data)

        assert (99_000.0, {"A": 100.0}) == (snap.cash, dict(snap.positions))
        assert ({"A": 10.0, "ES": 100.0}, {"ES": 50.0}) == (
            dict(snap.prices),
            dict(snap.multipliers),
        )
        assert snap.fractional is True


class TestLeverage:
    """Item 4: weights above 1 pass through without a cap; a cap scales the book."""

    def test_over_one_passes_through_in_margin_account(self):
        """120% of equity is bought in a margin account when no cap is set."""
        market = Market({"A": 100.0, "B": 100.0}, allow_leverage=True, allow_short_selling=True)

        orders = TargetWeightExecutor().execute({"A": 0.7, "B": 0.5}, market.data, market.broker)
        market.fill()

        assert [("buy", "A", 700.0), ("buy", "B", 500.0)] == sent(orders)
        assert {"A": 700.0, "B": 500.0} == market.positions()
        assert [] == market.rejected()

    def test_gross_cap_scales_book(self):
        """With max_gross_leverage=1 the book is scaled by 1 / 1.2."""
        market = Market({"A": 100.0, "B": 100.0})
        executor = TargetWeightExecutor(RebalanceConfig(max_gross_leverage=1.0))

        rows = executor.preview({"A": 0.6, "B": 0.6}, market.data, market.broker)

        assert [0.5, 0.5] == [pytest.approx(row["target_weight"]) for row in rows]


class TestNothingToDo:
    """Item 5: negative weights without shorting, missing prices, zero equity."""

    def test_negative_weight_without_short_is_zero(self):
        """A negative target with allow_short=False trades as 0: no order from flat."""
        market = Market({"A": 150.0})

        orders = TargetWeightExecutor().execute({"A": -0.3}, market.data, market.broker)

        assert [] == orders

    @pytest.mark.parametrize("bar", [{}, {"A": {"close": 0.0}}, {"A": {"close": None}}])
    def test_no_price_no_order(self, bar):
        """A target without a usable price produces no order."""
        market = Market({})

        orders = TargetWeightExecutor().execute({"A": 0.3}, bar, market.broker)

        assert [] == orders

    def test_no_price_has_a_reason(self):
        """The preview explains the skipped target."""
        market = Market({})

        rows = TargetWeightExecutor().preview({"A": 0.3}, {}, market.broker)

        assert [SkipReason.NO_PRICE.value] == [row["skip_reason"] for row in rows]

    def test_zero_equity_no_order(self):
        """With zero equity nothing is bought and the preview is empty."""
        market = Market({"A": 150.0}, cash=0.0)
        executor = TargetWeightExecutor()

        assert ([], []) == (
            executor.execute({"A": 0.5}, market.data, market.broker),
            executor.preview({"A": 0.5}, market.data, market.broker),
        )

    def test_empty_targets_empty_account(self):
        """Nothing targeted and nothing held: nothing to do."""
        market = Market({})

        assert [] == TargetWeightExecutor().execute({}, {}, market.broker)


class TestIncremental:
    """Item 6: INCREMENTAL and HYBRID fill the sells before sizing the buys."""

    @pytest.mark.parametrize("mode", [RebalanceMode.INCREMENTAL, RebalanceMode.HYBRID])
    def test_rotation_when_fully_invested(self, mode):
        """A fully invested account rotates from B to A in one call."""
        market = Market({"A": 100.0, "B": 100.0}, cash=100.0)
        market.hold("B", 1.0)
        executor = TargetWeightExecutor(
            RebalanceConfig(**FREE, allow_fractional=True, rebalance_mode=mode)
        )

        orders = executor.execute({"A": 1.0, "B": 0.0}, market.data, market.broker)

        assert [("sell", "B", 1.0), ("buy", "A", 1.0)] == sent(orders)
        assert {"A": pytest.approx(1.0)} == market.positions()
        assert all(order.status == OrderStatus.FILLED for order in orders)

    def test_snapshot_mode_leaves_orders_pending(self):
        """SNAPSHOT submits and leaves the fills to the broker."""
        market = Market({"A": 100.0})

        orders = TargetWeightExecutor().execute({"A": 0.5}, market.data, market.broker)

        assert [OrderStatus.PENDING] == [order.status for order in orders]

    def test_incremental_buys_sized_on_equity_after_costs(self):
        """After the sells pay commission, the buys are sized on what is left, and fill."""
        market = Market(
            {"A": 100.0, "B": 100.0, "C": 100.0},
            commission_model=PercentageCommission(rate=0.01),
        )
        market.hold("A", 990)
        executor = TargetWeightExecutor(RebalanceConfig(rebalance_mode=RebalanceMode.INCREMENTAL))

        executor.execute({"B": 0.5, "C": 0.5}, market.data, market.broker)

        assert [] == market.rejected()
        assert {"B", "C"} == set(market.positions())
        assert market.cash_ok()

    def test_hybrid_keeps_first_equity(self):
        """HYBRID sizes the buys on the equity before the sells (and their costs)."""
        market = Market({"A": 100.0, "B": 100.0}, commission_model=PercentageCommission(rate=0.01))
        market.hold("A", 500)
        equity = market.equity()
        config = RebalanceConfig(
            **FREE, rebalance_mode=RebalanceMode.HYBRID, costs_from_broker=False
        )

        TargetWeightExecutor(config).execute({"B": 0.3}, market.data, market.broker)

        assert pytest.approx(0.3 * equity / 100.0) == market.positions()["B"]

    @pytest.mark.parametrize("assets", [50, 400])
    def test_two_fill_rounds_whatever_the_size(self, assets):
        """INCREMENTAL fills twice per call, not once per asset (O(N), not O(N^2))."""

        class CountingBroker(Broker):
            """The real broker, counting how often the executor asks it to fill."""

            rounds = 0

            def _process_orders(self, use_open=False):
                CountingBroker.rounds += 1
                super()._process_orders(use_open)

        prices = {f"S{i:04d}": 10.0 + i for i in range(assets)}
        market = Market(prices)
        market.broker.__class__ = CountingBroker
        half = list(prices)[: assets // 2]
        for asset in half:
            market.broker.submit_order(asset, 1.0, OrderSide.BUY)
        market.fill()
        CountingBroker.rounds = 0
        executor = TargetWeightExecutor(
            RebalanceConfig(**FREE, rebalance_mode=RebalanceMode.INCREMENTAL)
        )

        orders = executor.execute(
            dict.fromkeys(list(prices)[assets // 4 :], 0.9 / assets),
            market.data,
            market.broker,
        )

        assert 2 == CountingBroker.rounds
        assert len(orders) > assets // 2
        assert [] == market.rejected()


class TestShims:
    """Item 7: _get_current_weights and _get_effective_weights."""

    def test_current_weights(self):
        """Held positions as weights at the data close."""
        market = Market({"A": 100.0})
        market.hold("A", 300)

        weights = TargetWeightExecutor()._get_current_weights(market.broker, market.data)

        assert {"A": pytest.approx(0.3)} == weights

    def test_effective_weights_count_market_orders_not_stops(self):
        """A pending market buy counts; a resting stop does not."""
        market = Market({"A": 100.0, "B": 100.0})
        market.hold("B", 100)
        market.broker.submit_order("A", 200, OrderSide.BUY)
        market.broker.submit_order("B", 100, OrderSide.SELL, OrderType.STOP, stop_price=90.0)

        weights = TargetWeightExecutor()._get_effective_weights(market.broker, market.data)

        assert {"A": pytest.approx(0.2), "B": pytest.approx(0.1)} == weights

    def test_weights_empty_at_zero_equity(self):
        """No equity, no weights."""
        market = Market({"A": 100.0}, cash=0.0)
        executor = TargetWeightExecutor()

        assert ({}, {}) == (
            executor._get_current_weights(market.broker, market.data),
            executor._get_effective_weights(market.broker, market.data),
        )


class TestSnapshotPending:
    """Pending orders reach the core with their real kind and remaining quantity."""

    def test_kinds(self):
        """Market, limit, stop and trailing stop keep their kind; prices come along."""
        market = Market({"A": 100.0})
        market.hold("A", 100)
        broker = market.broker
        broker.submit_order("A", 10, OrderSide.BUY)
        broker.submit_order("A", 10, OrderSide.SELL, OrderType.LIMIT, limit_price=120.0)
        broker.submit_order("A", 10, OrderSide.SELL, OrderType.STOP, stop_price=90.0)
        broker.submit_order("A", 10, OrderSide.SELL, OrderType.TRAILING_STOP, trail_amount=5.0)

        snap = snapshot_from_broker(broker, market.data)

        kinds = [(o.kind, o.limit_price, o.stop_price) for o in snap.pending_orders]
        assert sorted(
            [
                (OrderKind.MARKET, None, None),
                (OrderKind.LIMIT, 120.0, None),
                (OrderKind.STOP, None, 90.0),
                (OrderKind.TRAILING_STOP, None, None),
            ]
        ) == sorted(kinds, key=lambda k: (k[0].value, k[1] or 0, k[2] or 0))

    def test_price_falls_back_to_broker_mark(self):
        """A held asset whose close is None or NaN is priced at the broker's last mark."""
        market = Market({"A": 100.0})
        market.hold("A", 100)

        for bar in ({"A": {"close": None}}, {"A": {"close": math.nan}}, {}, {"A": None}):
            assert 100.0 == snapshot_from_broker(market.broker, bar).prices["A"]

    def test_bad_targets_fail_before_any_cancel(self):
        """Bad targets raise before pending orders are touched."""
        market = Market({"A": 100.0})
        market.broker.submit_order("A", 10, OrderSide.BUY)

        with pytest.raises(InvalidTargetsError):
            TargetWeightExecutor().execute({"A": "lots"}, market.data, market.broker)

        assert 1 == len(market.broker.pending_orders)

    def test_config_is_frozen(self):
        """The config is an immutable value; attrs.evolve makes changed copies."""
        config = RebalanceConfig()

        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            config.min_trade_value = 0.0
        assert RebalanceMode.INCREMENTAL == (
            attrs.evolve(config, rebalance_mode=RebalanceMode.INCREMENTAL).rebalance_mode
        )

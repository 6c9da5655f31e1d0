"""Every defect of ml4t-backtest 0.1.0b5's executor, as a regression test with real fills.

Each test runs the orders through the broker's own fills and checks the end state:
positions, cash never negative in a cash account, nothing rejected that the plan sent.
"""

import itertools
import math
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from ml4t.backtest import OrderSide, OrderStatus, OrderType, Position
from ml4t.backtest.config import ExecutionMode, ShareType
from ml4t.backtest.models import PercentageCommission
from ml4t_market import Market, sent

from rebalancing import InvalidTargetsError, SkipReason
from rebalancing.ml4t import RebalanceConfig, TargetWeightExecutor

FREE = {"min_trade_value": 0.0, "min_weight_change": 0.0}


def run(market, targets, config=None):
    """Execute, fill at the bar's closes, and return the submitted orders."""
    orders = TargetWeightExecutor(config).execute(targets, market.data, market.broker)
    market.fill()
    return orders


class TestPreviewEqualsExecute:
    """Preview and execute are two views of one plan."""

    @pytest.mark.parametrize(
        "config",
        [
            {"max_single_weight": 0.2},
            {"allow_short": False},
            {"max_gross_leverage": 0.8},
            {"round_lots": True, "lot_size": 100},
            {"allow_fractional": False},
        ],
    )
    def test_preview_shows_what_is_sent(self, config):
        """Caps, clamps, lots and whole shares show up in preview exactly as sent."""
        market = Market({"A": 120.0, "B": 60.0, "C": 35.0}, share_type=ShareType.INTEGER)
        market.hold("C", 400)
        executor = TargetWeightExecutor(RebalanceConfig(**config))
        targets = {"A": 0.5, "B": 0.45, "C": -0.2}

        rows = executor.preview(targets, market.data, market.broker)
        orders = executor.execute(targets, market.data, market.broker)
        market.fill()

        shown = {row["asset"]: row["shares"] for row in rows if row["shares"]}
        sent_net: dict[str, float] = {}
        for side, asset, quantity in sent(orders):
            sent_net[asset] = sent_net.get(asset, 0) + (quantity if side == "buy" else -quantity)
        assert shown == sent_net
        assert [] == market.rejected()
        assert market.cash_ok()

    def test_share_type_shown_in_preview(self):
        """An INTEGER broker shows whole shares in preview, as it will trade them."""
        market = Market({"A": 120.0}, cash=10_000.0, share_type=ShareType.INTEGER)

        rows = TargetWeightExecutor().preview({"A": 1.0}, market.data, market.broker)

        assert [83] == [row["shares"] for row in rows]


class TestLots:
    """Lots round down for buys; closes send exactly the held quantity."""

    def test_lot_buy_rounds_down_and_fills(self):
        """$10k at $60 with 100-share lots buys 100 (not 200, which was rejected)."""
        market = Market({"A": 60.0}, cash=10_000.0)

        orders = run(market, {"A": 1.0}, RebalanceConfig(round_lots=True))

        assert [("buy", "A", 100)] == sent(orders)
        assert ({"A": 100}, []) == (market.positions(), market.rejected())
        assert market.cash_ok()

    def test_lot_close_sells_exactly_the_holding(self):
        """A 150-share holding targeted at 0 sells 150, not 200, and does not go short."""
        market = Market({"A": 60.0, "B": 10.0}, cash=10_000.0)
        market.hold("A", 150)

        orders = run(market, {"A": 0.0, "B": 0.1}, RebalanceConfig(round_lots=True))

        assert ("sell", "A", 150) == sent(orders)[0]
        assert "A" not in market.positions()

    def test_small_lot_holding_closes(self):
        """A 50-share holding below one lot still closes."""
        market = Market({"A": 60.0}, cash=10_000.0)
        market.hold("A", 50)

        orders = run(market, {}, RebalanceConfig(round_lots=True))

        assert [("sell", "A", 50)] == sent(orders)
        assert {} == market.positions()

    def test_fractional_closes_never_overshoot(self):
        """300 fractional positions all close exactly: none rejected, none left over."""
        prices = {f"S{i:03d}": 7.0 + 0.37 * i for i in range(300)}
        market = Market(prices, cash=1_000_000.0)
        run(market, dict.fromkeys(prices, 1.0 / 301), RebalanceConfig(**FREE))
        prices = {a: p * 1.0137 for a, p in prices.items()}
        market.move(prices)

        orders = run(market, {}, RebalanceConfig(**FREE))

        assert 300 == len(orders)
        assert ({}, []) == (market.positions(), market.rejected())
        assert all(o.quantity == o.filled_quantity for o in orders)


class TestBadInput:
    """Validate first and fail whole; missing closes are missing prices."""

    @pytest.mark.parametrize("share_type", [ShareType.FRACTIONAL, ShareType.INTEGER])
    def test_nan_weight_fails_before_any_order(self, share_type):
        """A NaN weight raises before anything is submitted or cancelled; cash stays finite."""
        market = Market({"A": 100.0, "B": 50.0}, share_type=share_type)
        market.hold("A", 100)
        market.broker.submit_order("B", 5, OrderSide.BUY)
        orders_before = list(market.broker.orders)

        with pytest.raises(InvalidTargetsError, match=r"target_weights\['B'\]"):
            TargetWeightExecutor().execute({"A": 0.2, "B": math.nan}, market.data, market.broker)

        assert orders_before == market.broker.orders
        assert 1 == len(market.broker.pending_orders)
        assert math.isfinite(market.broker.cash)

    @pytest.mark.parametrize("close", [None, math.nan])
    def test_missing_close_is_a_missing_price(self, close):
        """close=None or NaN neither crashes preview nor execute: the target is skipped."""
        market = Market({"A": 100.0, "B": 50.0})
        data = {"A": {"close": close}, "B": {"close": 50.0}}
        executor = TargetWeightExecutor()

        rows = executor.preview({"A": 0.3, "B": 0.3}, {"A": {"close": close}}, market.broker)
        orders = executor.execute({"A": 0.3, "B": 0.3}, data, market.broker)
        market.fill()

        assert "A" in {row["asset"] for row in rows}
        assert {"A", "B"} == {o.asset for o in orders}
        assert [] == market.rejected()

    def test_missing_close_without_any_mark_is_skipped(self):
        """An asset nobody has a price for is skipped with a reason."""
        market = Market({"B": 50.0})
        data = {"A": {"close": None}, "B": {"close": 50.0}}

        rows = TargetWeightExecutor().preview({"A": 0.3, "B": 0.3}, data, market.broker)

        assert SkipReason.NO_PRICE.value == rows[0]["skip_reason"]


class TestCosts:
    """Buys fit the cash that sells free, after estimated costs."""

    def test_four_quarters_with_10bp_commission_all_fill(self):
        """ml4t's 4 x 25% with 10 bp commission: all four sleeves fill with defaults."""
        prices = {"A": 101.3, "B": 47.9, "C": 250.1, "D": 13.7}
        market = Market(prices, commission_model=PercentageCommission(rate=0.001))

        orders = run(market, dict.fromkeys(prices, 0.25))

        assert 4 == len(orders)
        assert all(order.status == OrderStatus.FILLED for order in orders)
        assert set(prices) == set(market.positions())
        assert market.cash_ok()
        assert market.broker.cash < 0.01 * market.equity()

    def test_four_quarters_whole_shares(self):
        """The same with whole shares and a rotation out of an old holding."""
        prices = {"A": 101.3, "B": 47.9, "C": 250.1, "D": 13.7, "E": 80.0}
        market = Market(
            prices, share_type=ShareType.INTEGER, commission_model=PercentageCommission(rate=0.001)
        )
        market.hold("E", 1_000)

        orders = run(market, dict.fromkeys("ABCD", 0.25))

        assert all(order.status == OrderStatus.FILLED for order in orders)
        assert {"A", "B", "C", "D"} == set(market.positions())
        assert market.cash_ok()

    def test_explicit_cost_rate_wins(self):
        """A cost_rate set in the config is used instead of the broker's estimate."""
        market = Market({"A": 100.0}, commission_model=PercentageCommission(rate=0.001))
        executor = TargetWeightExecutor(RebalanceConfig(cost_rate=0.05))

        plan = executor.plan({"A": 1.0}, market.data, market.broker)

        assert 0.05 * plan.orders[0].value == pytest.approx(plan.orders[0].estimated_cost)


class TestPendingOrders:
    """Only orders that execute as placed count; closes are not resent; dropped assets cleared."""

    KEEP: ClassVar = {"cancel_before_rebalance": False, "account_for_pending": True}

    def test_resting_stop_is_not_a_sale(self):
        """A 30% holding with a full-size stop-loss stays 30%, the stop stays."""
        market = Market({"A": 100.0})
        market.hold("A", 300)
        stop = market.broker.submit_order("A", 300, OrderSide.SELL, OrderType.STOP, stop_price=80.0)

        orders = run(market, {"A": 0.3}, RebalanceConfig(**self.KEEP))

        assert [] == orders
        assert {"A": 300} == market.positions()
        assert [stop] == market.broker.pending_orders

    def test_bracket_legs_are_not_sales(self):
        """After a bracket entry fills, its take-profit and stop legs do not double it."""
        market = Market({"A": 100.0})
        market.broker.submit_bracket("A", 300, take_profit=130.0, stop_loss=80.0)
        market.fill()

        orders = run(market, {"A": 0.3}, RebalanceConfig(**self.KEEP))

        assert [] == orders
        assert {"A": 300} == market.positions()
        assert 2 == len(market.broker.pending_orders)

    @pytest.mark.parametrize("cancel", [True, False])
    def test_pending_close_is_not_resent(self, cancel):
        """Calling twice before the close fills sends one close; the account never goes short."""
        market = Market({"A": 100.0, "B": 50.0}, execution_mode=ExecutionMode.NEXT_BAR)
        market.hold("A", 300)
        config = RebalanceConfig(cancel_before_rebalance=cancel)
        executor = TargetWeightExecutor(config)

        executor.execute({"B": 0.2}, market.data, market.broker)
        executor.execute({"B": 0.2}, market.data, market.broker)
        market.fill()

        sells = [o for o in market.broker.orders if o.asset == "A" and o.side == OrderSide.SELL]
        assert [OrderStatus.FILLED] == [
            o.status for o in sells if o.status != OrderStatus.CANCELLED
        ]
        assert {"B": 400} == market.positions()
        assert [] == market.rejected()
        assert market.cash_ok()

    def test_pending_buy_for_dropped_asset_is_cancelled(self):
        """A pending buy for an asset dropped from the targets is cancelled, not filled."""
        market = Market({"B": 100.0, "C": 100.0}, execution_mode=ExecutionMode.NEXT_BAR)
        # The next bar opens at the close here: no gap headroom, so C takes the whole book.
        executor = TargetWeightExecutor(RebalanceConfig(**self.KEEP, gap_headroom=0.0))

        first = executor.execute({"B": 1.0}, market.data, market.broker)
        executor.execute({"C": 1.0}, market.data, market.broker)
        market.fill()

        assert OrderStatus.CANCELLED == first[0].status
        assert {"C": 1_000.0} == market.positions()
        assert market.cash_ok()


class TestExplicitZero:
    """An explicit 0 closes exactly like leaving the asset out."""

    @pytest.mark.parametrize("targets", [{"A": 0.0, "B": 0.5}, {"B": 0.5}])
    def test_small_holding_closes_either_way(self, targets):
        """A 0.5% holding (below min_weight_change) closes with {A: 0} and with omission."""
        market = Market({"A": 100.0, "B": 100.0})
        market.hold("A", 5)

        orders = run(market, targets)

        assert ("sell", "A", 5) == sent(orders)[0]
        assert "A" not in market.positions()


class TestConstraintOrder:
    """Clamp, then cap |w|, then scale, then classify."""

    def test_capped_sell_funds_the_buy(self):
        """A 60% holding targeted at 90% but capped at 50% sells first and funds B."""
        market = Market({"A": 100.0, "B": 100.0})
        market.hold("A", 600)

        orders = run(market, {"A": 0.9, "B": 0.5}, RebalanceConfig(max_single_weight=0.5))

        assert [("sell", "A", 100.0), ("buy", "B", 500.0)] == sent(orders)
        assert ({"A": 500.0, "B": 500.0}, []) == (market.positions(), market.rejected())
        assert market.cash_ok()

    def test_clamp_before_gross_cap(self):
        """A negative weight clamped to 0 does not shrink the rest of the book."""
        market = Market({"A": 100.0, "B": 100.0})

        run(market, {"A": -0.5, "B": 1.0}, RebalanceConfig(max_gross_leverage=1.0))

        assert {"B": 1_000.0} == market.positions()

    def test_single_weight_caps_shorts(self):
        """max_single_weight caps a short as well as a long."""
        market = Market({"A": 100.0}, allow_short_selling=True, allow_leverage=True)

        run(market, {"A": -0.8}, RebalanceConfig(allow_short=True, max_single_weight=0.5))

        assert {"A": -500.0} == market.positions()


class TestKeyOrder:
    """The outcome never depends on dict order."""

    def test_all_orderings_same_outcome_when_cash_is_short(self):
        """Four 30% targets on a cash account: every key order gives the same fills."""
        prices = {"A": 100.0, "B": 50.0, "C": 20.0, "D": 10.0}
        outcomes = set()
        for ordering in itertools.permutations(prices):
            market = Market(prices, share_type=ShareType.INTEGER)
            orders = run(market, dict.fromkeys(ordering, 0.3))
            assert [] == market.rejected()
            assert market.cash_ok()
            outcomes.add((tuple(sent(orders)), tuple(sorted(market.positions().items()))))

        assert 1 == len(outcomes)


class TestReversal:
    """A long-to-short move is a close and then an open."""

    def test_short_selling_broker_reverses(self):
        """Where ml4t's single reversal order was rejected, the close and the open fill
        (an account that may short but not borrow cash, ml4t's crypto account)."""
        market = Market({"A": 100.0}, allow_short_selling=True)
        market.hold("A", 900)

        orders = run(market, {"A": -0.3}, RebalanceConfig(allow_short=True))

        assert [("sell", "A", 900.0), ("sell", "A", 300.0)] == sent(orders)
        assert ({"A": -300.0}, []) == (market.positions(), market.rejected())

    def test_a_cash_account_only_closes(self):
        """A cash account cannot short, whatever allow_short says: the core clamps the
        short target and only the close goes."""
        market = Market({"A": 100.0})
        market.hold("A", 900)

        orders = run(market, {"A": -0.3}, RebalanceConfig(allow_short=True))

        assert [("sell", "A", 900.0)] == sent(orders)
        assert ({}, []) == (market.positions(), market.rejected())

    def test_short_to_long_in_margin_account(self):
        """A short becomes a long through a cover and a buy."""
        market = Market({"A": 100.0}, allow_short_selling=True, allow_leverage=True)
        market.hold("A", -300)

        orders = run(market, {"A": 0.5}, RebalanceConfig(allow_short=True))

        assert ["buy", "buy"] == [side for side, _, _ in sent(orders)]
        assert [] == market.rejected()
        assert market.positions()["A"] > 0


class TestNonPositiveEquity:
    """At or below zero equity, closes still happen and nothing is cancelled for nothing."""

    def test_closes_still_happen(self):
        """An untargeted holding is closed even when equity is negative."""
        market = Market({"A": 100.0, "B": 100.0}, allow_leverage=True, allow_short_selling=True)
        market.hold("A", 1_500)
        market.move({"A": 30.0, "B": 100.0})
        market.broker.cash = -100_000.0

        orders = run(market, {"B": 0.5})

        assert [("sell", "A", 1_500.0)] == sent(orders)
        assert {} == market.positions()

    def test_nothing_cancelled_when_nothing_sent(self):
        """With equity <= 0 and nothing to close, pending orders are left alone."""
        market = Market({"A": 100.0}, cash=0.0)
        pending = market.broker.submit_order(
            "A", 10, OrderSide.BUY, OrderType.LIMIT, limit_price=50.0
        )

        orders = TargetWeightExecutor().execute({"A": 0.5}, market.data, market.broker)

        assert ([], [pending]) == (orders, market.broker.pending_orders)


class TestOnePriceSource:
    """Equity and weights come from the same prices: the data close."""

    def test_weights_and_equity_use_data_close(self):
        """With the broker marked at 100 and the bar at 120, both use 120."""
        market = Market({"A": 100.0}, cash=0.0)
        market.broker.cash = 12_000.0
        market.broker.positions["A"] = _position("A", 100, 100.0)
        data = {"A": {"close": 120.0}}

        plan = TargetWeightExecutor().plan({"A": 0.5}, data, market.broker)

        assert 24_000.0 == plan.equity
        assert 0.5 == plan.decisions[0].current_weight
        assert [] == list(plan)


class TestManySmallSleeves:
    """1,000 equal sleeves: the absolute 1% threshold blocks them; a relative band does not."""

    PRICES: ClassVar = {f"S{i:04d}": 20.0 + i % 50 for i in range(1_000)}

    def test_default_threshold_blocks_every_sleeve(self):
        """With defaults every 0.1% sleeve is below min_weight_change: documented."""
        market = Market(self.PRICES, cash=10_000_000.0)

        rows = TargetWeightExecutor().preview(
            dict.fromkeys(self.PRICES, 0.001), market.data, market.broker
        )

        assert {"weight_change_too_small"} == {row["skip_reason"] for row in rows}

    def test_relative_band_buys_every_sleeve(self):
        """relative_band=0.25 makes each 0.1% sleeve due: all 1,000 fill."""
        market = Market(self.PRICES, cash=10_000_000.0)

        orders = run(market, dict.fromkeys(self.PRICES, 0.001), RebalanceConfig(relative_band=0.25))

        assert 1_000 == len(orders)
        assert (1_000, []) == (len(market.positions()), market.rejected())


def _position(asset, quantity, price):
    return Position(asset, quantity, price, datetime(2024, 1, 1, tzinfo=UTC))

"""Example tests of compute_trades: the scenarios a user tries first, and every bug found."""

import importlib.util
import math
from collections import OrderedDict
from decimal import Decimal

import attrs
import pytest

from books import PYPFOPT_PRICES, PYPFOPT_WEIGHTS
from rebalancing import (
    Action,
    Adjustment,
    InvalidConfigError,
    InvalidSnapshotError,
    InvalidTargetsError,
    OrderKind,
    PendingOrder,
    PortfolioSnapshot,
    RebalanceConfig,
    Rounding,
    Side,
    SkipReason,
    TradeDirection,
    compute_trades,
)
from rebalancing.testing import check_plan

FREE = RebalanceConfig(min_trade_value=0.0, min_weight_change=0.0)
#: Every rounding mode; OPTIMAL runs where scipy is installed (the `optimal` session).
EVERY_ROUNDING = [
    Rounding.DOWN,
    Rounding.CLOSEST,
    pytest.param(
        Rounding.OPTIMAL,
        marks=pytest.mark.skipif(
            importlib.util.find_spec("scipy") is None, reason="OPTIMAL needs scipy"
        ),
    ),
]


def trades(plan):
    """(side, asset, quantity) of each order, in submission order."""
    return [(order.side.value, order.asset, order.quantity) for order in plan]


class TestBasics:
    def test_buy_to_target_from_cash(self):
        """An all-cash account buys each target in whole shares, rounded down."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 100.0, "B": 33.0})
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5})

        assert [("buy", "A", 50), ("buy", "B", 151)] == trades(plan)
        assert 10_000.0 - 5_000.0 - 151 * 33.0 == plan.projected_cash

    def test_sell_to_target(self):
        """An over-weight holding is sold down to its target."""
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 100.0})
        plan = compute_trades(snap, {"A": 0.3})

        assert [("sell", "A", 70)] == trades(plan)
        assert Action.REDUCE == plan.orders[0].action

    def test_plan_is_the_order_list(self):
        """Iterating, len() and indexing give the orders."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 10.0})
        plan = compute_trades(snap, {"A": 1.0})

        assert list(plan) == list(plan.orders)
        assert 1 == len(plan)
        assert plan.orders[0] == plan[0]

    def test_decision_of_an_asset_the_plan_does_not_cover_is_a_key_error(self):
        """plan.decision() looks an asset up like a mapping: an unknown one is a KeyError."""
        plan = compute_trades(PortfolioSnapshot(1_000.0, prices={"A": 10.0}), {"A": 1.0})

        with pytest.raises(KeyError, match="'Z'"):
            plan.decision("Z")

    def test_whole_units_are_ints(self):
        """Whole-unit quantities are Python ints, even for closes of float positions."""
        snap = PortfolioSnapshot(5_000.0, {"B": 7.0}, {"A": 9.0, "B": 1.0})
        plan = compute_trades(snap, {"A": 0.5})

        assert all(type(order.quantity) is int for order in plan)

    def test_fractional_quantities_stay_floats_even_when_whole(self):
        """In a fractional account every quantity is a float, 30.0 included."""
        snap = PortfolioSnapshot(3_000.0, prices={"A": 100.0}, fractional=True)
        plan = compute_trades(snap, {"A": 1.0}, FREE)

        assert [("buy", "A", 30.0)] == trades(plan)
        assert type(plan.orders[0].quantity) is float

    def test_cash_targeting_leaves_the_rest_in_cash(self):
        """Weights summing below 1 leave the remainder as cash."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 10.0, "B": 10.0})
        plan = compute_trades(snap, {"A": 0.3, "B": 0.2}, RebalanceConfig(allow_fractional=True))

        assert 5_000.0 == pytest.approx(plan.projected_cash)
        assert {"A": 0.3, "B": 0.2} == pytest.approx(dict(plan.projected_weights))

    def test_fractional_account_trades_exact_quantities(self):
        """A fractional account (or allow_fractional=True) sends the exact quantity."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 300.0}, fractional=True)
        plan = compute_trades(snap, {"A": 0.5})

        assert 500.0 / 300.0 == pytest.approx(plan.orders[0].quantity)

    def test_allow_fractional_false_overrides_the_account(self):
        """allow_fractional=False truncates even in a fractional account."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 300.0}, fractional=True)
        plan = compute_trades(snap, {"A": 0.5}, RebalanceConfig(allow_fractional=False))

        assert [("buy", "A", 1)] == trades(plan)

    def test_empty_portfolio_and_no_targets(self):
        """Nothing in, nothing out, and the figures are all zero."""
        plan = compute_trades(PortfolioSnapshot(0.0), {})

        assert ((), (), (), 0.0, 0.0) == (
            plan.orders,
            plan.cancels,
            plan.decisions,
            plan.equity,
            plan.turnover,
        )

    def test_any_mapping_works(self):
        """An OrderedDict or a read-only view is as good as a dict."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 10.0})
        expected = compute_trades(snap, {"A": 0.5})

        assert expected == compute_trades(snap, OrderedDict(A=0.5))

    def test_pandas_series_works(self):
        """A pandas Series of weights is a valid target mapping."""
        pd = pytest.importorskip("pandas")
        snap = PortfolioSnapshot(1_000.0, prices={"A": 10.0, "B": 5.0})
        weights = pd.Series({"A": 0.5, "B": 0.25})

        assert compute_trades(snap, {"A": 0.5, "B": 0.25}) == compute_trades(snap, weights)

    def test_key_order_does_not_change_the_plan(self):
        """The same targets in another order give an equal plan."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 7.0, "B": 11.0, "C": 13.0})
        one = compute_trades(snap, {"A": 0.4, "B": 0.4, "C": 0.4})
        two = compute_trades(snap, {"C": 0.4, "A": 0.4, "B": 0.4})

        assert one == two


class TestClosing:
    def test_untargeted_holding_is_closed_with_the_exact_quantity(self):
        """A held asset missing from the targets is sold in full, as held."""
        snap = PortfolioSnapshot(0.0, {"A": 12.345}, {"A": 10.0}, fractional=True)
        plan = compute_trades(snap, {})

        assert [("sell", "A", 12.345)] == trades(plan)
        assert Action.CLOSE == plan.orders[0].action

    def test_explicit_zero_is_the_same_as_omission(self):
        """{A: 0.0} closes A just like leaving A out, even below the thresholds."""
        snap = PortfolioSnapshot(100_000.0, {"A": 1}, {"A": 50.0})

        assert trades(compute_trades(snap, {})) == trades(compute_trades(snap, {"A": 0.0}))
        assert [("sell", "A", 1)] == trades(compute_trades(snap, {"A": 0.0}))

    def test_close_ignores_lots(self):
        """With lots, a 150-share holding closes with 150, not 200 (short) or 100."""
        snap = PortfolioSnapshot(1_000.0, {"A": 150, "B": 50}, {"A": 60.0, "B": 10.0})
        plan = compute_trades(snap, {}, RebalanceConfig(round_lots=True))

        assert [("sell", "A", 150), ("sell", "B", 50)] == trades(plan)

    def test_short_is_closed_by_a_buy(self):
        """An untargeted short is covered with its exact quantity."""
        snap = PortfolioSnapshot(10_000.0, {"A": -20}, {"A": 50.0})
        plan = compute_trades(snap, {}, RebalanceConfig(allow_short=True))

        assert [("buy", "A", 20)] == trades(plan)

    def test_sleeve_leaves_untargeted_holdings_alone(self):
        """close_untargeted=False keeps untargeted holdings, which still count toward equity."""
        snap = PortfolioSnapshot(1_000.0, {"OLD": 10}, {"OLD": 100.0, "A": 10.0})
        plan = compute_trades(snap, {"A": 0.5}, RebalanceConfig(close_untargeted=False))

        assert [("buy", "A", 100)] == trades(plan)
        assert SkipReason.NOT_TARGETED == plan.decision("OLD").skip_reason
        assert 0.5 == plan.decision("OLD").target_weight

    def test_explicit_zero_closes_even_in_a_sleeve(self):
        """In a sleeve, an explicit 0 target still closes the asset."""
        snap = PortfolioSnapshot(0.0, {"A": 10}, {"A": 100.0})
        plan = compute_trades(snap, {"A": 0.0}, RebalanceConfig(close_untargeted=False))

        assert [("sell", "A", 10)] == trades(plan)


class TestConstraints:
    def test_negative_weight_without_shorting_trades_as_zero(self):
        """A negative target in a long-only account closes a holding, or does nothing."""
        snap = PortfolioSnapshot(1_000.0, {"A": 10}, {"A": 10.0, "B": 10.0})
        plan = compute_trades(snap, {"A": -0.2, "B": -0.2})

        assert [("sell", "A", 10)] == trades(plan)
        assert SkipReason.SHORT_NOT_ALLOWED == plan.decision("B").skip_reason
        assert (Adjustment.SHORT_CLAMPED,) == plan.decision("A").adjustments

    def test_a_weight_scaled_to_zero_gets_no_cash_buffer(self):
        """Regression (randomised run): 5e-324 scaled by the gross cap underflows to 0;
        the buffer then has nothing to scale, so only the scaling is recorded."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0, "B": 1.0})
        config = RebalanceConfig(max_gross_leverage=0.5, cash_buffer=0.5)

        plan = compute_trades(snap, {"A": 1.0, "B": 5e-324}, config)

        assert 0.0 == plan.decision("B").target_weight
        assert (Adjustment.LEVERAGE_SCALED,) == plan.decision("B").adjustments
        expected = (Adjustment.LEVERAGE_SCALED, Adjustment.CASH_BUFFER)
        assert expected == plan.decision("A").adjustments

    def test_single_weight_cap_applies_to_shorts_too(self):
        """|w| is capped, longs and shorts alike."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 1.0, "B": 1.0}, margin=True)
        config = RebalanceConfig(allow_short=True, max_single_weight=0.2, allow_fractional=True)
        plan = compute_trades(snap, {"A": 0.5, "B": -0.5}, config)

        assert {"A": 0.2, "B": -0.2} == pytest.approx(dict(plan.projected_weights))

    def test_clamp_then_cap_then_scale(self):
        """Shorts are clamped first, then |w| capped, then the book scaled to the gross cap."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 1.0, "B": 1.0, "C": 1.0})
        config = RebalanceConfig(
            max_single_weight=0.5, max_gross_leverage=0.6, allow_fractional=True
        )
        plan = compute_trades(snap, {"A": 0.9, "B": 0.3, "C": -0.9}, config)

        # C -> 0 (clamp), A -> 0.5 (cap), then 0.5 + 0.3 = 0.8 scaled to 0.6.
        assert {"A": 0.375, "B": 0.225} == pytest.approx(dict(plan.projected_weights))
        assert (Adjustment.CAPPED, Adjustment.LEVERAGE_SCALED) == plan.decision("A").adjustments

    def test_weights_above_one_pass_without_a_gross_cap(self):
        """Without max_gross_leverage, 150% of equity is planned (a margin account)."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0, "B": 1.0}, margin=True)
        plan = compute_trades(snap, {"A": 0.75, "B": 0.75}, FREE)

        assert [("buy", "A", 750), ("buy", "B", 750)] == trades(plan)
        assert -500.0 == plan.projected_cash
        assert -500.0 == plan.cash_floor

    def test_capped_sell_goes_before_the_buys_it_funds(self):
        """A holding above the cap is sold first, and its proceeds fund the buys."""
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 100.0, "B": 100.0})
        plan = compute_trades(snap, {"A": 0.9, "B": 0.5}, RebalanceConfig(max_single_weight=0.5))

        assert [("sell", "A", 50), ("buy", "B", 50)] == trades(plan)

    def test_cap_holds_after_rounding_a_sell(self):
        """Rounding a sell never leaves the holding above its capped target."""
        snap = PortfolioSnapshot(0.0, {"A": 10}, {"A": 100.0})
        plan = compute_trades(snap, {"A": 1.0}, RebalanceConfig(max_single_weight=0.33))

        assert [("sell", "A", 7)] == trades(plan)
        assert plan.projected_weights["A"] <= 0.33

    def test_capped_as_the_reason_nothing_trades(self):
        """An asset already at its cap reports 'capped', not a threshold."""
        snap = PortfolioSnapshot(500.0, {"A": 5}, {"A": 100.0})
        plan = compute_trades(snap, {"A": 0.9}, RebalanceConfig(max_single_weight=0.5))

        assert SkipReason.CAPPED == plan.decision("A").skip_reason

    def test_cash_buffer_scales_investable_equity(self):
        """Targets 50/50 with a 10% buffer plan 45/45 and keep 10% cash."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 1.0, "B": 1.0})
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5}, RebalanceConfig(cash_buffer=0.1))

        assert [("buy", "A", 4_500), ("buy", "B", 4_500)] == trades(plan)
        assert pytest.approx(1_000.0) == plan.cash_floor
        assert [(Adjustment.CASH_BUFFER,)] * 2 == [d.adjustments for d in plan.decisions]

    def test_targets_exactly_at_the_gross_cap_are_not_scaled(self):
        """50/50 under a gross cap of 1 is within it: no leverage adjustment is reported."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0, "B": 1.0})
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5}, RebalanceConfig(max_gross_leverage=1.0))

        assert [(), ()] == [d.adjustments for d in plan.decisions]


class TestCapExplanations:
    @pytest.mark.parametrize(
        ("target", "band", "reason"),
        [
            (0.1005, None, SkipReason.AT_TARGET),
            (0.3, None, SkipReason.CAPPED),
            (0.1005, 0.001, SkipReason.CAPPED),
        ],
    )
    def test_a_capped_holding_names_the_cap_only_when_the_uncapped_trade_was_due(
        self, target, band, reason
    ):
        """A at its 10% cap: asking 30% is held back by the cap; asking 10.05% is not.

        The 0.05% more would have been below the 1% minimum change anyway, unless a
        0.1% relative band makes it due.
        """
        snap = PortfolioSnapshot(9_000.0, {"A": 100}, {"A": 10.0})
        config = RebalanceConfig(
            max_single_weight=0.1, min_weight_change=0.01, min_trade_value=0, relative_band=band
        )
        plan = compute_trades(snap, {"A": target}, config)

        assert [] == trades(plan)
        assert reason == plan.decision("A").skip_reason


class TestThresholds:
    def test_small_weight_change_is_skipped(self):
        """A drift below min_weight_change is left alone with that reason."""
        snap = PortfolioSnapshot(5_050.0, {"A": 50}, {"A": 100.0})
        plan = compute_trades(snap, {"A": 0.5})

        assert () == plan.orders
        assert SkipReason.WEIGHT_CHANGE_TOO_SMALL == plan.decision("A").skip_reason

    def test_small_trade_value_is_skipped(self):
        """A trade worth less than min_trade_value is skipped with that reason."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 10.0})
        plan = compute_trades(snap, {"A": 0.05})

        assert SkipReason.TRADE_VALUE_TOO_SMALL == plan.decision("A").skip_reason

    def test_rounds_to_zero(self):
        """A due trade smaller than one share reports rounds_to_zero_shares."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 900.0})
        plan = compute_trades(snap, {"A": 0.5}, FREE)

        assert SkipReason.ROUNDS_TO_ZERO == plan.decision("A").skip_reason

    def test_thresholds_are_checked_after_rounding(self):
        """A trade that passes unrounded but not once rounded is skipped."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 60.0})
        config = RebalanceConfig(min_trade_value=0.0, min_weight_change=0.01, round_lots=True)
        plan = compute_trades(snap, {"A": 0.7}, config)

        # 0.7 * 10_000 / 60 = 116.7 shares -> one lot of 100 (60%); fine.
        assert [("buy", "A", 100)] == trades(plan)
        plan = compute_trades(snap, {"A": 0.59}, config)
        assert SkipReason.ROUNDS_TO_ZERO == plan.decision("A").skip_reason

    def test_relative_band_makes_a_small_sleeve_due(self):
        """With 1,000 names at 0.1%, a relative band lets trades through the 1% rule."""
        assets = [f"S{i:04d}" for i in range(1_000)]
        snap = PortfolioSnapshot(1_000_000.0, prices=dict.fromkeys(assets, 10.0))
        weights = dict.fromkeys(assets, 0.001)

        assert 0 == len(compute_trades(snap, weights))
        plan = compute_trades(snap, weights, RebalanceConfig(relative_band=0.25))
        assert 1_000 == len(plan)

    def test_five_twenty_five_rule(self):
        """5/25: a 2% target drifting to 1.4% is due (0.6 >= 25% of 2), to 1.6% it is not."""
        config = RebalanceConfig(min_weight_change=0.05, relative_band=0.25, min_trade_value=0)
        due = PortfolioSnapshot(9_860.0, {"A": 140}, {"A": 1.0})
        calm = PortfolioSnapshot(9_840.0, {"A": 160}, {"A": 1.0})

        assert [("buy", "A", 60)] == trades(compute_trades(due, {"A": 0.02}, config))
        assert () == compute_trades(calm, {"A": 0.02}, config).orders


class TestReversals:
    def test_long_to_short_is_a_close_then_an_open(self):
        """A reversal goes out as two sells: close the long, then open the short."""
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 100.0}, margin=True)
        plan = compute_trades(snap, {"A": -0.5}, RebalanceConfig(allow_short=True))

        assert [("sell", "A", 100), ("sell", "A", 50)] == trades(plan)
        assert [Action.CLOSE, Action.OPEN] == [order.action for order in plan]

    def test_reversal_without_shorting_just_closes(self):
        """In a long-only account the negative target closes the long and stops there."""
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 100.0})
        plan = compute_trades(snap, {"A": -0.5})

        assert [("sell", "A", 100)] == trades(plan)

    def test_a_reversal_from_one_unit_with_a_small_opening_leg_just_closes(self):
        """Long 1 to short 1: the $100 opening leg is under the $150 minimum, so only the
        close is sent (the whole $200 move was due)."""
        snap = PortfolioSnapshot(900.0, {"A": 1}, {"A": 100.0}, margin=True)
        config = RebalanceConfig(min_trade_value=150, min_weight_change=0, allow_short=True)
        plan = compute_trades(snap, {"A": -0.1}, config)

        assert [("sell", 1, Action.CLOSE)] == [(o.side.value, o.quantity, o.action) for o in plan]
        assert 0 == plan.decision("A").projected_quantity

    def test_a_short_to_one_unit_long_with_a_small_opening_leg_just_covers(self):
        """Short 5 to long 1: the $10 opening buy is under the $25 minimum, so only the
        cover is sent, not 6."""
        snap = PortfolioSnapshot(1_050.0, {"A": -5}, {"A": 10.0}, margin=True)
        config = RebalanceConfig(min_trade_value=25, min_weight_change=0, allow_short=True)
        plan = compute_trades(snap, {"A": 0.01}, config)

        assert [("buy", 5, Action.CLOSE)] == [(o.side.value, o.quantity, o.action) for o in plan]

    @pytest.mark.parametrize(
        ("fractional", "held", "price", "target", "sold"),
        [(False, 100, 10.0, 0.02, 98), (True, 10, 40.0, 0.05, 9.5)],
    )
    def test_a_due_reduction_keeps_a_remainder_below_the_minimum(
        self, fractional, held, price, target, sold
    ):
        """Selling down to a holding worth less than min_trade_value (2 units at $10, or
        0.5 at $40: $20) is a reduction, not a close: only a reversal's opening leg must
        clear the minimum."""
        snap = PortfolioSnapshot(0.0, {"A": held}, {"A": price}, fractional=fractional)
        config = RebalanceConfig(min_trade_value=25, min_weight_change=0)
        plan = compute_trades(snap, {"A": target}, config)

        assert [("sell", sold, Action.REDUCE)] == [
            (o.side.value, o.quantity, o.action) for o in plan
        ]
        assert plan.decision("A").projected_quantity == pytest.approx(held - sold)

    def test_risk_reducing_orders_go_first(self):
        """Closes and reductions precede opens; sells precede buys within each group."""
        snap = PortfolioSnapshot(
            1_000.0, {"Z": 10, "Y": -10}, {"A": 10.0, "Y": 10.0, "Z": 10.0}, margin=True
        )
        config = RebalanceConfig(allow_short=True, min_trade_value=0)
        plan = compute_trades(snap, {"A": 0.5, "B": 0.0, "Y": 0.0, "Z": -0.2}, config)

        assert [
            ("sell", "Z", 10, Action.CLOSE),
            ("buy", "Y", 10, Action.CLOSE),
            ("sell", "Z", 20, Action.OPEN),
            ("buy", "A", 50, Action.OPEN),
        ] == [(o.side.value, o.asset, o.quantity, o.action) for o in plan]


class TestFunding:
    def test_buys_are_cut_when_cash_is_short_independent_of_key_order(self):
        """Weights scaled to a gross cap of 1, plus fees: cash binds; key order is irrelevant."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 3.0, "B": 7.0, "C": 11.0})
        targets = {"A": 0.4, "B": 0.4, "C": 0.4}
        config = RebalanceConfig(
            min_trade_value=0.0, min_weight_change=0.0, cost_per_order=1.0, max_gross_leverage=1.0
        )
        plan = compute_trades(snap, targets, config)

        assert plan == compute_trades(snap, dict(reversed(targets.items())), config)
        assert plan.projected_cash >= 0.0

    def test_a_fractional_buy_the_broker_reserve_takes_below_the_minimum_is_not_sent(self):
        """Regression (a random search): $26 of cash, a $1 fee and a $25 minimum fund a
        buy of exactly $25; the reserve fractional buys leave for the broker's own
        arithmetic (1e-10 of equity) cut it to $24.9999999, which the plan sent. A cut
        buy is checked against the thresholds at the cash it is finally given."""
        snap = PortfolioSnapshot(26.0, {"A": 0.5}, {"A": 250.0}, fractional=True)
        config = RebalanceConfig(min_trade_value=25.0, min_weight_change=0.0, cost_per_order=1.0)
        plan = compute_trades(snap, {"A": 1.0}, config)

        assert () == plan.orders
        assert SkipReason.CASH_LIMITED == plan.decision("A").skip_reason
        assert 26.0 == plan.projected_cash

    def test_costs_are_reserved_so_every_sleeve_fills(self):
        """4 x 25% with 10 bp costs: all four are bought, slightly smaller; cash stays >= 0."""
        snap = PortfolioSnapshot(100_000.0, prices={"A": 10.0, "B": 20.0, "C": 30.0, "D": 40.0})
        config = RebalanceConfig(cost_rate=0.001)
        plan = compute_trades(snap, dict.fromkeys("ABCD", 0.25), config)

        assert ["A", "B", "C", "D"] == [order.asset for order in plan]
        assert plan.projected_cash >= 0.0
        assert plan.estimated_costs == pytest.approx(0.001 * plan.traded_value)

    def test_most_under_weight_is_funded_first(self):
        """When cash is short, each buy is cut by the same value: the smallest gap goes unfunded."""
        snap = PortfolioSnapshot(100.0, prices={"A": 1.0, "B": 1.0, "C": 1.0})
        config = RebalanceConfig(min_trade_value=0.0, min_weight_change=0.0, cost_per_order=10.0)
        plan = compute_trades(snap, {"A": 0.6, "B": 0.3, "C": 0.1}, config)

        # Gaps 60/30/10 plus 30 in fees exceed 100: each buy is cut by 5 after C drops out.
        assert [("buy", "A", 55), ("buy", "B", 25)] == trades(plan)
        assert 0.0 == plan.projected_cash
        assert SkipReason.CASH_LIMITED == plan.decision("C").skip_reason

    def test_sells_fund_buys(self):
        """A fully invested account rotates: the sell's proceeds pay for the buy."""
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 10.0, "B": 10.0})
        plan = compute_trades(snap, {"B": 1.0})

        assert [("sell", "A", 100), ("buy", "B", 100)] == trades(plan)
        assert 0.0 == plan.projected_cash

    def test_closing_a_single_unit_funds_the_buys(self):
        """All the cash is in one $1,000 unit of A: closing it pays for 10 B at $100."""
        snap = PortfolioSnapshot(0.0, {"A": 1}, {"A": 1_000.0, "B": 100.0})
        plan = compute_trades(snap, {"B": 1.0})

        assert [("sell", "A", 1), ("buy", "B", 10)] == trades(plan)
        assert 0.0 == plan.projected_cash

    def test_costs_of_sells_are_paid_before_buys(self):
        """Per-order costs come out of the proceeds, so the buy is smaller."""
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 10.0, "B": 10.0})
        plan = compute_trades(snap, {"B": 1.0}, RebalanceConfig(cost_per_order=5.0))

        assert [("sell", "A", 100), ("buy", "B", 99)] == trades(plan)
        assert plan.projected_cash >= 0.0
        assert 10.0 == plan.estimated_costs

    def test_a_buy_cut_below_the_minimum_is_dropped_and_its_cash_goes_to_the_rest(self):
        """85%/15% with $30 fees overdraws: cut evenly, B would be $120, under the $125 minimum.

        B is dropped instead, and the cash it frees funds A's whole buy.
        """
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0, "B": 1.0})
        config = RebalanceConfig(min_trade_value=125.0, min_weight_change=0.0, cost_per_order=30.0)
        plan = compute_trades(snap, {"A": 0.85, "B": 0.15}, config)

        assert [("buy", "A", 850)] == trades(plan)
        assert SkipReason.CASH_LIMITED == plan.decision("B").skip_reason
        assert () == plan.decision("A").adjustments

    def test_when_cash_affords_one_of_two_buys_it_buys_one(self):
        """Regression: two 50% buys with $400 fees on $1,000 bought nothing at all.

        Cut evenly, both fell under the $200 minimum and both were dropped, although
        A alone ($500 + $400) fits. Now only the smaller need (B; a tie goes by name) is
        dropped.
        """
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0, "B": 1.0})
        config = RebalanceConfig(min_trade_value=200.0, min_weight_change=0.0, cost_per_order=400.0)
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5}, config)

        assert [("buy", "A", 500)] == trades(plan)
        assert 100.0 == plan.projected_cash
        assert SkipReason.CASH_LIMITED == plan.decision("B").skip_reason

    def test_of_three_buys_with_cash_for_one_the_one_is_bought(self):
        """Three $500 buys, $400 fees, $1,000 cash, $200 minimum: two must go, not three.

        Dropping one still leaves the other two at $100 each, under the minimum.
        """
        snap = PortfolioSnapshot(1_000.0, {"X": 2_000}, dict.fromkeys("ABCX", 1.0))
        config = RebalanceConfig(
            min_trade_value=200.0,
            min_weight_change=0.0,
            cost_per_order=400.0,
            close_untargeted=False,
        )
        plan = compute_trades(snap, dict.fromkeys("ABC", 1 / 6), config)

        assert [("buy", "A", 500)] == trades(plan)
        assert [SkipReason.CASH_LIMITED] * 2 == [plan.decision(a).skip_reason for a in "BC"]

    def test_a_buy_whose_one_unit_costs_more_than_the_cash_is_dropped_first(self):
        """$950 cash: A's units cost $1,000, so A can never be bought; B and C can.

        Dropping the smallest first would have dropped B and C and bought nothing.
        """
        snap = PortfolioSnapshot(950.0, {"D": 9_050}, {"A": 1_000.0, "B": 1.0, "C": 1.0, "D": 1.0})
        plan = compute_trades(
            snap, {"A": 0.12, "B": 0.015, "C": 0.015}, RebalanceConfig(close_untargeted=False)
        )

        assert [("buy", "B", 150), ("buy", "C", 150)] == trades(plan)
        assert SkipReason.CASH_LIMITED == plan.decision("A").skip_reason

    def test_whether_one_unit_fits_counts_its_costs(self):
        """$1,000 cash, a $975 unit, 1% and $20 per order: the unit costs $1,004.75.

        A is dropped up front, so B and C ($100 minimum) are bought in full.
        """
        snap = PortfolioSnapshot(1_000.0, {"X": 9_000}, {"A": 975.0, "B": 1.0, "C": 1.0, "X": 1.0})
        config = RebalanceConfig(
            close_untargeted=False,
            cost_rate=0.01,
            cost_per_order=20.0,
            min_trade_value=100,
            min_weight_change=0,
        )
        plan = compute_trades(snap, {"A": 0.14625, "B": 0.015, "C": 0.015}, config)

        assert [("buy", "B", 150), ("buy", "C", 150)] == trades(plan)
        assert SkipReason.CASH_LIMITED == plan.decision("A").skip_reason

    def test_buys_that_no_cash_can_make_due_are_all_dropped(self):
        """$30 cannot fund any $200 minimum: nothing is bought, both are cash-limited."""
        snap = PortfolioSnapshot(30.0, {"X": 970}, {"A": 1.0, "B": 1.0, "X": 1.0})
        config = RebalanceConfig(
            min_trade_value=200.0, min_weight_change=0.0, close_untargeted=False
        )
        plan = compute_trades(snap, {"A": 0.2, "B": 0.2}, config)

        assert [] == trades(plan)
        assert [SkipReason.CASH_LIMITED] * 2 == [plan.decision(a).skip_reason for a in "AB"]

    def test_a_reversal_keeps_its_cover_when_cash_cuts_the_new_long(self):
        """Short 10 A to long 8 A, and 2 B, 1% costs, $200 cash: the cover is never cut.

        After the $101 cover, $99 is left for $101 of buys: both are cut by about $1,
        which costs each a whole unit; the cut buy stays an opening buy.
        """
        snap = PortfolioSnapshot(200.0, {"A": -10}, {"A": 10.0, "B": 10.0})
        config = RebalanceConfig(
            min_trade_value=0.0, min_weight_change=0.0, allow_short=True, cost_rate=0.01
        )
        plan = compute_trades(snap, {"A": 0.8, "B": 0.2}, config)

        assert [("buy", "A", 10), ("buy", "A", 7), ("buy", "B", 1)] == trades(plan)
        assert [Action.CLOSE, Action.OPEN, Action.OPEN] == [order.action for order in plan]
        assert (Adjustment.CASH_LIMITED,) == plan.decision("A").adjustments
        assert plan.projected_cash >= 0.0

    def test_a_fractional_buy_cut_below_one_unit_is_still_sent(self):
        """$50 for a $100 asset with 1% costs: 50 / 101 of a unit is bought."""
        snap = PortfolioSnapshot(50.0, prices={"A": 100.0}, fractional=True)
        config = RebalanceConfig(min_trade_value=0.0, min_weight_change=0.0, cost_rate=0.01)
        plan = compute_trades(snap, {"A": 1.0}, config)

        assert [("buy", "A")] == [(side, asset) for side, asset, _ in trades(plan)]
        assert plan.orders[0].quantity == pytest.approx(50.0 / 101.0, rel=1e-9)
        assert (Adjustment.CASH_LIMITED,) == plan.decision("A").adjustments
        assert plan.projected_cash >= 0.0


class TestPendingOrders:
    def test_cancel_before_rebalance_lists_working_orders_and_ignores_them(self):
        """By default working orders are cancelled and sizing starts from positions."""
        pending = [PendingOrder("p1", "A", Side.BUY, 30)]
        snap = PortfolioSnapshot(10_000.0, prices={"A": 100.0}, pending_orders=pending)
        plan = compute_trades(snap, {"A": 0.5})

        assert ("p1",) == plan.cancels
        assert [("buy", "A", 50)] == trades(plan)

    def test_pending_buy_counts_as_exposure(self):
        """Without cancelling, a working buy counts: only the rest is bought."""
        pending = [PendingOrder("p1", "A", Side.BUY, 30)]
        snap = PortfolioSnapshot(10_000.0, prices={"A": 100.0}, pending_orders=pending)
        plan = compute_trades(snap, {"A": 0.5}, RebalanceConfig(cancel_before_rebalance=False))

        assert () == plan.cancels
        assert [("buy", "A", 20)] == trades(plan)
        assert 30.0 == plan.decision("A").pending_quantity
        assert 5_000.0 == plan.projected_cash

    def test_resting_stop_does_not_count_as_a_sale(self):
        """A protective stop is not exposure: a 30% holding is not bought again."""
        stop = PendingOrder("s1", "A", Side.SELL, 30, kind=OrderKind.STOP, stop_price=90.0)
        snap = PortfolioSnapshot(7_000.0, {"A": 30}, {"A": 100.0}, pending_orders=[stop])
        for cancel in (True, False):
            plan = compute_trades(snap, {"A": 0.3}, RebalanceConfig(cancel_before_rebalance=cancel))

            assert () == plan.orders
            assert () == plan.cancels

    def test_a_pending_buy_that_reaches_the_target_covers_it(self):
        """50 A pending on a 50-unit target: nothing more is sent, and the plan says why."""
        pending = [PendingOrder("b", "A", Side.BUY, 50)]
        snap = PortfolioSnapshot(10_000.0, prices={"A": 100.0}, pending_orders=pending)
        plan = compute_trades(snap, {"A": 0.5}, RebalanceConfig(cancel_before_rebalance=False))

        assert ((), ()) == (plan.orders, plan.cancels)
        assert SkipReason.PENDING_COVERS == plan.decision("A").skip_reason
        assert 50 == plan.decision("A").projected_quantity

    def test_pending_close_is_never_sent_again(self):
        """A working close of an untargeted holding covers it; no second close."""
        close = PendingOrder("c1", "A", Side.SELL, 30)
        snap = PortfolioSnapshot(7_000.0, {"A": 30}, {"A": 100.0}, pending_orders=[close])
        plan = compute_trades(snap, {}, RebalanceConfig(cancel_before_rebalance=False))

        assert ((), ()) == (plan.orders, plan.cancels)
        assert SkipReason.PENDING_COVERS == plan.decision("A").skip_reason

    def test_pending_buy_of_dropped_asset_is_cancelled(self):
        """A buy still pending for an asset no longer targeted is cancelled, not left to fill."""
        buy = PendingOrder("b1", "A", Side.BUY, 100)
        snap = PortfolioSnapshot(10_000.0, prices={"A": 100.0, "B": 10.0}, pending_orders=[buy])
        plan = compute_trades(snap, {"B": 0.5}, RebalanceConfig(cancel_before_rebalance=False))

        assert ("b1",) == plan.cancels
        assert ("b1",) == plan.decision("A").cancels
        assert SkipReason.AT_TARGET == plan.decision("A").skip_reason

    def test_opposing_pending_order_is_cancelled_not_crossed(self):
        """When the plan must sell but a buy is pending, the buy is cancelled instead."""
        buy = PendingOrder("b1", "A", Side.BUY, 50)
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 100.0}, pending_orders=[buy])
        plan = compute_trades(snap, {"A": 0.5}, RebalanceConfig(cancel_before_rebalance=False))

        assert ("b1",) == plan.cancels
        assert [("sell", "A", 50)] == trades(plan)
        assert Adjustment.PENDING_REPLACED in plan.decision("A").adjustments

    @pytest.mark.parametrize("rounding", EVERY_ROUNDING)
    def test_a_sell_made_by_rounding_never_crosses_a_pending_buy(self, rounding):
        """Regression: 10 A pending against a 9.6 target.

        The $40 gap is below the $50 minimum, so the buy was kept; rounding down then
        made it a $100 sell of 1, sent while the buy of 10 would still fill. Now the
        buy is cancelled and A is bought from the holding: 9 units.
        """
        pending = [PendingOrder("p", "A", Side.BUY, 10)]
        snap = PortfolioSnapshot(10_000.0, prices={"A": 100.0, "B": 1.0}, pending_orders=pending)
        config = RebalanceConfig(
            rounding=rounding,
            min_trade_value=50.0,
            min_weight_change=0.0,
            cancel_before_rebalance=False,
        )
        plan = compute_trades(snap, {"A": 0.096, "B": 0.904}, config)

        assert [("buy", "A", 9), ("buy", "B", 9040)] == trades(plan)
        assert ("p",) == plan.cancels
        assert Adjustment.PENDING_REPLACED in plan.decision("A").adjustments

    def test_a_pending_buy_overshooting_a_held_target_is_cancelled_and_nothing_sent(self):
        """10 held is the target; a pending buy of 5 would overshoot. Selling 5 against it
        would cross it: it is cancelled instead, and the holding is already right."""
        pending = [PendingOrder("b", "A", Side.BUY, 5)]
        snap = PortfolioSnapshot(9_000.0, {"A": 10}, {"A": 100.0}, pending_orders=pending)
        config = RebalanceConfig(
            min_trade_value=0, min_weight_change=0, cancel_before_rebalance=False
        )
        plan = compute_trades(snap, {"A": 0.1}, config)

        assert ((), ("b",)) == (plan.orders, plan.cancels)
        assert SkipReason.AT_TARGET == plan.decision("A").skip_reason
        assert (Adjustment.PENDING_REPLACED,) == plan.decision("A").adjustments

    @pytest.mark.parametrize(
        ("direction", "held", "pending", "expected"),
        [
            (TradeDirection.BUY_ONLY, 0, PendingOrder("p", "A", Side.BUY, 10), ("buy", "A", 5)),
            (TradeDirection.SELL_ONLY, 10, PendingOrder("p", "A", Side.SELL, 8), ("sell", "A", 5)),
        ],
    )
    def test_a_pending_order_past_the_target_is_replaced_whatever_the_direction(
        self, direction, held, pending, expected
    ):
        """Regression: a pending buy of 10 against a 5-unit target under BUY_ONLY.

        Selling 5 against it was blocked by the direction before the crossing was seen,
        so the asset was left to overshoot. The pending order is replaced by a trade the
        direction allows (and likewise a pending sell past the target under SELL_ONLY).
        """
        snap = PortfolioSnapshot(
            10_000.0 - held * 100.0, {"A": held}, {"A": 100.0}, pending_orders=[pending]
        )
        config = RebalanceConfig(
            direction=direction,
            min_trade_value=0,
            min_weight_change=0,
            cancel_before_rebalance=False,
        )
        plan = compute_trades(snap, {"A": 0.05}, config)

        assert [expected] == trades(plan)
        assert ("p",) == plan.cancels
        assert (Adjustment.PENDING_REPLACED,) == plan.decision("A").adjustments

    def test_a_fractional_close_against_a_pending_buy_replaces_it(self):
        """0.5 held and a pending buy of 0.3 counted, a target below one unit: the plan
        closes, so the buy is cancelled and exactly the 0.5 held is sold (not 0.8)."""
        pending = [PendingOrder("b", "A", Side.BUY, 0.3)]
        snap = PortfolioSnapshot(100.0, {"A": 0.5}, {"A": 100.0}, pending_orders=pending)
        config = RebalanceConfig(
            min_trade_value=0,
            min_weight_change=0,
            cancel_before_rebalance=False,
            allow_fractional=False,
        )
        plan = compute_trades(snap, {"A": 0.1}, config)

        assert [("sell", "A", 0.5)] == trades(plan)
        assert ("b",) == plan.cancels
        assert 0.0 == plan.decision("A").projected_quantity

    def test_a_pending_sell_toward_a_short_target_is_kept(self):
        """10 held, a pending sell of 2, target -5 units: the sell goes the plan's way, so
        it is kept and the plan closes the other 8 and opens the short of 5."""
        pending = [PendingOrder("s", "A", Side.SELL, 2)]
        snap = PortfolioSnapshot(0.0, {"A": 10}, {"A": 100.0}, pending_orders=pending, margin=True)
        config = RebalanceConfig(
            min_trade_value=0, min_weight_change=0, cancel_before_rebalance=False, allow_short=True
        )
        plan = compute_trades(snap, {"A": -0.5}, config)

        assert [("sell", 8, Action.CLOSE), ("sell", 5, Action.OPEN)] == [
            (o.side.value, o.quantity, o.action) for o in plan
        ]
        assert () == plan.cancels
        assert -5 == plan.decision("A").projected_quantity

    def test_a_pending_buy_that_rounding_leaves_alone_is_kept(self):
        """10 A pending against a 9.6 target, nearest rounding: 10 is the nearest holding.

        Nothing trades against the order, so it is kept rather than cancelled and resent.
        """
        pending = [PendingOrder("p", "A", Side.BUY, 10)]
        snap = PortfolioSnapshot(10_000.0, prices={"A": 100.0}, pending_orders=pending)
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST,
            min_trade_value=0.0,
            min_weight_change=0.0,
            cancel_before_rebalance=False,
        )
        plan = compute_trades(snap, {"A": 0.096}, config)

        assert [] == trades(plan)
        assert () == plan.cancels
        assert 10 == plan.decision("A").projected_quantity

    def test_stop_larger_than_the_projected_position_is_cancelled(self):
        """A stop for 100 shares on a holding cut to 50 would overshoot: it is cancelled."""
        stop = PendingOrder("s1", "A", Side.SELL, 100, kind=OrderKind.STOP, stop_price=90.0)
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 100.0}, pending_orders=[stop])
        plan = compute_trades(snap, {"A": 0.5})

        assert ("s1",) == plan.cancels

    def test_take_profit_limit_away_from_the_market_is_resting(self):
        """A sell limit above the price waits; it is not counted as a sale."""
        tp = PendingOrder("t1", "A", Side.SELL, 30, kind=OrderKind.LIMIT, limit_price=120.0)
        snap = PortfolioSnapshot(7_000.0, {"A": 30}, {"A": 100.0}, pending_orders=[tp])
        plan = compute_trades(snap, {"A": 0.3}, RebalanceConfig(cancel_before_rebalance=False))

        assert ((), ()) == (plan.orders, plan.cancels)

    def test_marketable_limit_counts_at_its_limit_price(self):
        """A buy limit above the price will fill at most at its limit: cash is reserved for it."""
        buy = PendingOrder("l1", "A", Side.BUY, 10, kind=OrderKind.LIMIT, limit_price=110.0)
        snap = PortfolioSnapshot(2_000.0, prices={"A": 100.0}, pending_orders=[buy])
        plan = compute_trades(snap, {"A": 0.5}, RebalanceConfig(cancel_before_rebalance=False))

        assert 2_000.0 - 1_100.0 == plan.projected_cash
        assert () == plan.orders

    def test_ignoring_pending_keeps_them(self):
        """account_for_pending=False without cancelling leaves pending orders alone."""
        buy = PendingOrder("b1", "A", Side.BUY, 10)
        snap = PortfolioSnapshot(10_000.0, prices={"A": 100.0}, pending_orders=[buy])
        config = RebalanceConfig(cancel_before_rebalance=False, account_for_pending=False)
        plan = compute_trades(snap, {"A": 0.5}, config)

        assert () == plan.cancels
        assert [("buy", "A", 50)] == trades(plan)


class TestEquity:
    def test_zero_equity_plans_nothing(self):
        """No equity, no weights: nothing to buy, nothing to cancel."""
        snap = PortfolioSnapshot(0.0, prices={"A": 10.0})
        plan = compute_trades(snap, {"A": 0.5})

        assert ((), ()) == (plan.orders, plan.cancels)
        assert SkipReason.NON_POSITIVE_EQUITY == plan.decision("A").skip_reason

    def test_negative_equity_still_closes_and_cancels_nothing_it_keeps(self):
        """Below zero equity, untargeted holdings close; targeted ones and their orders stay."""
        pending = [PendingOrder("p1", "A", Side.BUY, 5)]
        snap = PortfolioSnapshot(
            -20_000.0, {"A": 100, "B": 10}, {"A": 100.0, "B": 50.0}, pending_orders=pending
        )
        plan = compute_trades(snap, {"A": 0.5})

        assert [("sell", "B", 10)] == trades(plan)
        assert () == plan.cancels
        assert SkipReason.NON_POSITIVE_EQUITY == plan.decision("A").skip_reason
        assert 0.0 == plan.decision("A").current_weight

    def test_targeted_asset_without_price_is_skipped(self):
        """Real data has gaps: a target with no price is skipped with 'no_price'."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 10.0})
        plan = compute_trades(snap, {"A": 0.5, "GAP": 0.5})

        assert SkipReason.NO_PRICE == plan.decision("GAP").skip_reason
        assert [("buy", "A", 50)] == trades(plan)


class TestLots:
    def test_lot_buy_rounds_down(self):
        """A 200-lot buy that does not fit is rounded down to what fits."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 60.0})
        plan = compute_trades(snap, {"A": 1.0}, RebalanceConfig(round_lots=True))

        assert [("buy", "A", 100)] == trades(plan)

    def test_snapshot_lot_size_overrides_config(self):
        """A per-asset lot size from the snapshot applies, even without round_lots."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 1.0}, lot_sizes={"A": 300})
        plan = compute_trades(snap, {"A": 1.0})

        assert [("buy", "A", 9_900)] == trades(plan)

    def test_fractional_lot_sizes(self):
        """Crypto-style lots of 0.001 give quantities in steps of 0.001."""
        snap = PortfolioSnapshot(1_000.0, prices={"BTC": 30_000.0}, lot_sizes={"BTC": 0.001})
        plan = compute_trades(snap, {"BTC": 1.0})

        assert pytest.approx(0.033) == plan.orders[0].quantity

    def test_a_cash_limited_buy_is_cut_to_whole_lots(self):
        """60%/40% with $10 fees on $1,000 cuts each buy by $10: A's 590 becomes 5 lots."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0, "B": 1.0}, lot_sizes={"A": 100})
        config = RebalanceConfig(min_trade_value=0.0, min_weight_change=0.0, cost_per_order=10.0)
        plan = compute_trades(snap, {"A": 0.6, "B": 0.4}, config)

        assert [("buy", "A", 500), ("buy", "B", 390)] == trades(plan)


class TestClosestRounding:
    def test_closest_rounds_to_the_nearest_unit_when_cash_allows(self):
        """CLOSEST takes 2 shares for a 1.9-share target when the cash target allows it."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 100.0})
        config = RebalanceConfig(rounding=Rounding.CLOSEST, min_trade_value=0)
        plan = compute_trades(snap, {"A": 0.19}, config)

        assert [("buy", "A", 2)] == trades(plan)

    def test_closest_takes_the_down_trade_when_the_nearest_is_below_the_minimum(self):
        """10 held, 8.6 wanted: the nearest (sell 1, $100) is under the $150 minimum, so
        CLOSEST sends DOWN's sell of 2, which ends closer to target than holding 10."""
        snap = PortfolioSnapshot(0.0, {"A": 10}, {"A": 100.0})
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST, min_trade_value=150, min_weight_change=0
        )
        plan = compute_trades(snap, {"A": 0.86}, config)

        assert [("sell", "A", 2)] == trades(plan)

    def test_closest_in_a_fractional_account_cuts_the_buy_by_the_costs(self):
        """Sell 5 A for $500 less $1; B's buy must pay $1 too, so it gets $498 of units."""
        snap = PortfolioSnapshot(0.0, {"A": 10}, {"A": 100.0, "B": 100.0}, fractional=True)
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST, min_trade_value=0, min_weight_change=0, cost_per_order=1.0
        )
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5}, config)

        assert [("sell", "A"), ("buy", "B")] == [(o.side.value, o.asset) for o in plan]
        assert 5.0 == plan.orders[0].quantity
        assert 4.98 == pytest.approx(plan.orders[1].quantity)
        assert 0.0 == pytest.approx(plan.projected_cash, abs=1e-9)

    def test_closest_never_overdraws(self):
        """Rounding up is only taken while the cash lasts."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 190.0, "B": 190.0})
        config = RebalanceConfig(rounding=Rounding.CLOSEST, min_trade_value=0)
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5}, config)

        assert plan.projected_cash >= 0.0

    def test_closest_rounds_a_short_to_the_nearest_lot(self):
        """-19% of $10,000 at $10 is -190 units: the nearest 100-lot short is -200."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 10.0}, lot_sizes={"A": 100}, margin=True)
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST, min_trade_value=0, min_weight_change=0, allow_short=True
        )
        plan = compute_trades(snap, {"A": -0.19}, config)

        assert [("sell", "A", 200)] == trades(plan)

    def test_closest_reversal_from_a_short_opens_the_nearest_lot(self):
        """Short 100 (lots of 100) to 190 long: cover 100, then open the nearest lot, 200."""
        snap = PortfolioSnapshot(40_000.0, {"A": -100}, {"A": 100.0}, lot_sizes={"A": 100})
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST, min_trade_value=0, min_weight_change=0, allow_short=True
        )
        plan = compute_trades(snap, {"A": 19_000 / 30_000}, config)

        assert [("buy", "A", 100), ("buy", "A", 200)] == trades(plan)

    def test_closest_reversal_from_a_fractional_short_opens_whole_units(self):
        """Short 2.5 (a fractional leftover) to 1.9 long: cover 2.5, then open 2 whole units."""
        snap = PortfolioSnapshot(1_250.0, {"A": -2.5}, {"A": 100.0})
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST,
            min_trade_value=0,
            min_weight_change=0,
            allow_short=True,
            allow_fractional=False,
        )
        plan = compute_trades(snap, {"A": 0.19}, config)

        assert [("buy", "A", 2.5), ("buy", "A", 2)] == trades(plan)
        assert [Action.CLOSE, Action.OPEN] == [order.action for order in plan]

    @pytest.mark.parametrize(
        ("held", "desired", "expected"),
        [
            (0.5, 1.9, [("buy", "A", 1)]),
            (0.4, 1.0, [("buy", "A", 1)]),
            (0.6, 0.1, [("sell", "A", 0.6)]),
        ],
    )
    def test_closest_from_a_fractional_holding_trades_whole_units_or_closes(
        self, held, desired, expected
    ):
        """A whole-unit account holding a fraction reaches held + whole units, or 0.

        From 0.5, 1.5 is nearest 1.9; from 0.4, 1.4 is nearer 1.0 than 0.4 is; from
        0.6 toward 0.1, -0.4 would cross zero, so the holding is closed exactly.
        """
        snap = PortfolioSnapshot(1_000.0 - held * 100.0, {"A": held}, {"A": 100.0})
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST,
            min_trade_value=0,
            min_weight_change=0,
            allow_fractional=False,
        )
        plan = compute_trades(snap, {"A": desired / 10.0}, config)

        assert expected == trades(plan)

    def test_closest_still_rounds_a_buy_up_when_that_is_nearest_within_the_cash(self):
        """$86 and $1 fees for 7.6 A at $10 and 5 B at $1: 8 A and 4 B miss by $5 in all.

        7 A and 5 B would miss by $6, so cash binding does not make A round down.
        """
        snap = PortfolioSnapshot(86.0, prices={"A": 10.0, "B": 1.0})
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST, min_trade_value=0, min_weight_change=0, cost_per_order=1
        )
        plan = compute_trades(snap, {"A": 76 / 86, "B": 5 / 86}, config)

        assert [("buy", "A", 8), ("buy", "B", 4)] == trades(plan)
        assert 0.0 == plan.projected_cash

    def test_closest_reversal_cut_to_a_close_still_funds_the_buys(self):
        """Long 10 A to short 2: the $20 short leg is under the $50 minimum, so A is just
        closed; B's buy, short of cash after $15 fees, gets the $170 that is left."""
        snap = PortfolioSnapshot(100.0, {"A": 10}, {"A": 10.0, "B": 1.0})
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST,
            allow_short=True,
            min_trade_value=50,
            min_weight_change=0,
            cost_per_order=15,
        )
        plan = compute_trades(snap, {"A": -0.1, "B": 0.9}, config)

        assert [("sell", "A", 10), ("buy", "B", 170)] == trades(plan)
        assert [Action.CLOSE, Action.OPEN] == [order.action for order in plan]

    def test_closest_reversal_buys_from_flat_after_the_cover(self):
        """Short 10 A to long 8 A and 4 B on $200, 1% costs: after the cover, $99 is left.

        All of A (8) and 3 of B's 4 fit; A, bought in full, is not marked cash-limited.
        """
        snap = PortfolioSnapshot(200.0, {"A": -10}, {"A": 10.0, "B": 5.0})
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST,
            min_trade_value=0.0,
            min_weight_change=0.0,
            allow_short=True,
            cost_rate=0.01,
        )
        plan = compute_trades(snap, {"A": 0.8, "B": 0.2}, config)

        assert [("buy", "A", 10), ("buy", "A", 8), ("buy", "B", 3)] == trades(plan)
        assert () == plan.decision("A").adjustments
        assert (Adjustment.CASH_LIMITED,) == plan.decision("B").adjustments

    @pytest.mark.parametrize(
        ("thresholds", "expected"),
        [
            ({}, [("buy", "A", 820), ("buy", "B", 120)]),
            ({"min_trade_value": 125.0}, [("buy", "A", 790), ("buy", "B", 150)]),
            ({"min_weight_change": 0.125}, [("buy", "A", 790), ("buy", "B", 150)]),
            ({"min_weight_change": 0.5}, [("buy", "A", 850)]),
            (
                {"min_weight_change": 0.5, "relative_band": 0.9},
                [("buy", "A", 790), ("buy", "B", 150)],
            ),
        ],
    )
    def test_closest_cuts_keep_every_buy_above_its_threshold(self, thresholds, expected):
        """85%/15% with $30 fees on $1,000 must give up $60: the cut may not leave B under
        its threshold ($125, 12.5% of equity, or 90% of its 15% target).

        Every split of the $60 that keeps both buys is $60 from target: without a
        threshold DOWN's even cut wins the tie; with one, which DOWN cannot meet (it
        drops B), the repair takes the $60 from A. A 50% minimum change rules B out from
        the start; a 90% relative band lets it in.
        """
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0, "B": 1.0})
        config = RebalanceConfig(
            **{"min_trade_value": 0.0, "min_weight_change": 0.0, **thresholds},
            rounding=Rounding.CLOSEST,
            cost_per_order=30.0,
        )
        plan = compute_trades(snap, {"A": 0.85, "B": 0.15}, config)

        assert expected == trades(plan)

    def test_closest_drops_a_cut_buy_that_is_float_noise_of_equity(self):
        """15 units wanted on $10bn, cash for 5: $5 is below 1e-9 of equity, so none."""
        snap = PortfolioSnapshot(5.5, {"X": 1e10}, {"A": 1.0, "X": 1.0})
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST,
            min_trade_value=0.0,
            min_weight_change=0.0,
            close_untargeted=False,
        )
        plan = compute_trades(snap, {"A": 1.5e-9}, config)

        assert [] == trades(plan)
        assert SkipReason.CASH_LIMITED == plan.decision("A").skip_reason


class TestDirection:
    def test_buy_only_never_sells(self):
        """BUY_ONLY invests cash in under-weight assets and leaves over-weight ones alone."""
        snap = PortfolioSnapshot(1_000.0, {"A": 90}, {"A": 100.0, "B": 10.0})
        config = RebalanceConfig(direction=TradeDirection.BUY_ONLY)
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5}, config)

        assert [("buy", "B", 100)] == trades(plan)
        assert SkipReason.DIRECTION == plan.decision("A").skip_reason

    def test_sell_only_never_buys(self):
        """SELL_ONLY trims over-weight assets and buys nothing."""
        snap = PortfolioSnapshot(0.0, {"A": 90, "B": 10}, {"A": 100.0, "B": 100.0})
        config = RebalanceConfig(direction=TradeDirection.SELL_ONLY)
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5}, config)

        assert [("sell", "A", 40)] == trades(plan)


class TestBadInput:
    @pytest.mark.parametrize(
        ("targets", "message"),
        [
            ({"A": math.nan}, "target_weights['A'] must be a finite number, got nan"),
            ({"A": math.inf}, "target_weights['A'] must be a finite number, got inf"),
            ({"A": "0.5"}, "target_weights['A'] must be a number, got str '0.5'"),
            ({"A": None}, "target_weights['A'] must be a number, got NoneType None"),
            ({"A": True}, "target_weights['A'] must be a number, got the bool True"),
            (
                {"": 0.5},
                (
                    "target_weights key must be a non-empty name without surrounding white space, "
                    "got ''"
                ),
            ),
            (
                {"  ": 0.5},
                (
                    "target_weights key must be a non-empty name without surrounding white space, "
                    "got '  '"
                ),
            ),
            ({3: 0.5}, "target_weights key must be a str, got int 3"),
            ([("A", 0.5)], "target_weights must be a mapping of asset -> number, got list"),
            ("A", "target_weights must be a mapping of asset -> number, got str"),
            (None, "target_weights must be a mapping of asset -> number, got NoneType"),
        ],
    )
    def test_bad_targets_raise_before_anything_is_decided(self, targets, message):
        """Every bad target is an InvalidTargetsError naming the asset and value."""
        snap = PortfolioSnapshot(1_000.0, {"B": 1}, {"A": 1.0, "B": 1.0})
        with pytest.raises(InvalidTargetsError) as info:
            compute_trades(snap, targets)

        assert message == str(info.value)
        assert isinstance(info.value, ValueError)

    @pytest.mark.parametrize("weight", [1, Decimal("1.0"), 1.0])
    def test_any_real_number_is_a_weight(self, weight):
        """An int or Decimal weight means the same as the float."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0})

        assert [("buy", "A", 1_000)] == trades(compute_trades(snap, {"A": weight}))

    def test_nan_among_good_weights_fails_whole(self):
        """One NaN among valid weights raises; no partial plan comes out."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0, "B": 1.0})
        with pytest.raises(InvalidTargetsError, match="'B'"):
            compute_trades(snap, {"A": 0.5, "B": math.nan})

    def test_config_must_be_a_config(self):
        """A dict where a config belongs is bad input, not an AttributeError."""
        with pytest.raises(InvalidConfigError) as info:
            compute_trades(PortfolioSnapshot(0.0), {}, {"min_trade_value": 0})  # type: ignore[arg-type]

        assert str(info.value) == (
            "config must be a RebalanceConfig or None, got dict {'min_trade_value': 0}"
        )

    def test_snapshot_must_be_a_snapshot(self):
        """A dict where a snapshot belongs is bad input."""
        with pytest.raises(InvalidSnapshotError) as info:
            compute_trades({"cash": 1.0}, {})  # type: ignore[arg-type]

        assert "snapshot must be a PortfolioSnapshot, got dict" == str(info.value)


class TestRegressions:
    def test_subnormal_equity_gives_no_nan(self):
        """Equity of 2e-313 made turnover NaN; it now counts as no equity."""
        snap = PortfolioSnapshot(2.2250738585e-313, prices={"A": 1.0})
        plan = compute_trades(snap, {"A": 0.5})

        assert 0.0 == plan.turnover
        assert SkipReason.NON_POSITIVE_EQUITY == plan.decision("A").skip_reason
        assert plan == compute_trades(snap, {"A": 0.5})

    def test_equity_lost_in_the_noise_of_offsetting_positions_is_not_positive(self):
        """Long 1e16 and short 1e16 - 2 leave equity 2, far inside their float error."""
        snap = PortfolioSnapshot(0.0, {"A": 1e16, "B": -1e16 + 2}, {"A": 1.0, "B": 1.0})
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5}, RebalanceConfig(allow_short=True))

        assert [] == trades(plan)
        assert SkipReason.NON_POSITIVE_EQUITY == plan.decision("A").skip_reason

    def test_where_shorts_are_allowed_uncounted_pending_sells_are_kept(self):
        """Legacy mode (pending orders kept, not counted) in a margin account: a pending
        sell beside a planned short is left alone; only no-short accounts cancel it."""
        pending = [PendingOrder("s", "A", Side.SELL, 5)]
        snap = PortfolioSnapshot(0.0, {"A": 10}, {"A": 1.0}, pending_orders=pending, margin=True)
        config = RebalanceConfig(
            allow_short=True,
            min_trade_value=0,
            cancel_before_rebalance=False,
            account_for_pending=False,
        )
        plan = compute_trades(snap, {"A": -0.5}, config)

        assert [("sell", "A", 10), ("sell", "A", 5)] == trades(plan)
        assert () == plan.cancels

    def test_cash_limited_fractional_plan_is_idempotent(self):
        """After a cash-limited fractional plan fills, planning again sends no dust buys."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 3.0, "B": 7.0}, fractional=True)
        config = RebalanceConfig(min_trade_value=0.0, min_weight_change=0.0, cost_per_order=1.0)
        targets = {"A": 0.5, "B": 0.5}
        plan = compute_trades(snap, targets, config)
        positions = {order.asset: order.quantity for order in plan}
        filled = PortfolioSnapshot(plan.projected_cash, positions, snap.prices, fractional=True)

        assert Adjustment.CASH_LIMITED in plan.decision("A").adjustments
        assert () == compute_trades(filled, targets, config).orders

    def test_target_within_noise_of_zero_closes_exactly(self):
        """An optimizer's -2.2e-16 closes the holding exactly, with no dust short after it."""
        snap = PortfolioSnapshot(50_000.0, {"A": 10_000.0}, {"A": 5.0}, fractional=True)
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, allow_short=True)
        for dust in (-2.220446049250313e-16, 2.220446049250313e-16):
            plan = compute_trades(snap, {"A": dust}, config)

            assert [("sell", "A", 10_000.0)] == trades(plan)
            assert Action.CLOSE == plan.orders[0].action

    def test_sleeve_spends_only_free_cash(self):
        """A sleeve asked for more than the free cash is cut by cash; it never borrows."""
        snap = PortfolioSnapshot(1_000.0, {"X": 90}, {"X": 100.0, "A": 10.0})
        plan = compute_trades(snap, {"A": 0.5}, RebalanceConfig(close_untargeted=False))

        assert [("buy", "A", 100)] == trades(plan)
        assert 0.0 == plan.cash_floor

    def test_uncounted_pending_sell_is_cancelled_before_it_leaves_a_short(self):
        """account_for_pending=False: a kept sell that would end short is cancelled."""
        pending = [PendingOrder("s", "A", Side.SELL, 2.0)]
        snap = PortfolioSnapshot(1.0, {}, {"A": 1.0}, pending_orders=pending, fractional=True)
        config = RebalanceConfig(
            min_trade_value=0, cancel_before_rebalance=False, account_for_pending=False
        )
        plan = compute_trades(snap, {"A": 1.0}, config)

        assert ("s",) == plan.cancels
        assert 1.0 == plan.decision("A").projected_quantity

    def test_a_pending_buy_cancelled_for_cash_is_replaced_by_closests_buy(self):
        """A counted pending buy of 3 at a $110 limit for 2.6 wanted, $310 of cash: it
        leaves the account $20 short, so it is cancelled (not replaced for crossing: the
        rounding keeps 3); the buy that replaces it is CLOSEST's nearest 3 at $100, which
        the freed cash pays, not DOWN's 2."""
        pending = [PendingOrder("b", "B", Side.BUY, 3, kind="limit", limit_price=110.0)]
        snap = PortfolioSnapshot(310.0, {"A": 7}, {"A": 100.0, "B": 100.0}, pending_orders=pending)
        config = RebalanceConfig(
            min_trade_value=0,
            min_weight_change=0,
            cancel_before_rebalance=False,
            rounding=Rounding.CLOSEST,
        )
        plan = compute_trades(snap, {"A": 0.7, "B": 0.26}, config)

        assert [("buy", "B", 3)] == trades(plan)
        assert ("b",) == plan.cancels
        assert () == plan.decision("B").adjustments
        assert plan.projected_cash == pytest.approx(10.0)

    @pytest.mark.parametrize(
        ("rounding", "targets", "minimum"),
        [
            (Rounding.CLOSEST, {"A": 0.7, "B": 0.28}, 0.0),
            (Rounding.DOWN, {"A": 0.75, "B": 0.22}, 150.0),
        ],
    )
    def test_sell_only_blocks_the_replacement_buy_not_the_cancel(self, rounding, targets, minimum):
        """Regression: a counted pending buy of 3 past the target (2.8 or 2.2 wanted), cash
        short of the $50 floor. It was cancelled, but SELL_ONLY blocked the buy that would
        replace it and the blocked asset got its pending orders back: the plan ended at $0,
        below the floor. A direction blocks trades, not cancels."""
        pending = [PendingOrder("b", "B", Side.BUY, 3)]
        snap = PortfolioSnapshot(0.0, {"A": 10}, {"A": 100.0, "B": 100.0}, pending_orders=pending)
        config = RebalanceConfig(
            min_trade_value=minimum,
            min_weight_change=0,
            cash_buffer=0.05,
            cancel_before_rebalance=False,
            direction=TradeDirection.SELL_ONLY,
            rounding=rounding,
        )
        plan = compute_trades(snap, targets, config)

        assert [("sell", "A", 3)] == trades(plan)
        assert ("b",) == plan.cancels
        assert SkipReason.DIRECTION == plan.decision("B").skip_reason
        assert plan.projected_cash == 300.0

    def test_closest_never_spends_the_cash_of_a_pending_sell_it_cancels(self):
        """Regression (a random search): CLOSEST's repair counted the $299 of a kept,
        uncounted pending sell of all 3 B, then moved B to DOWN's holding (sell 1), which
        cancels that pending sell (together they would leave a short). The buy of 23 A it
        had funded left -$284 in a cash account. Such an account's buys are now cut by
        DOWN's water fill, on the holdings before the repair."""
        pending = [
            PendingOrder("p0", "C", Side.BUY, 2),
            PendingOrder("p1", "C", Side.SELL, 2, kind="limit", limit_price=275.0),
            PendingOrder("p2", "B", Side.SELL, 3),
        ]
        prices = {"A": 10.0, "B": 100.0, "C": 250.0}
        snap = PortfolioSnapshot(100.0, {"B": 3, "C": 2}, prices, pending_orders=pending)
        config = RebalanceConfig(
            min_trade_value=25.0,
            min_weight_change=0,
            cancel_before_rebalance=False,
            account_for_pending=False,
            cost_per_order=1.0,
            rounding=Rounding.CLOSEST,
        )
        plan = compute_trades(snap, {"A": 0.26, "B": 0.3, "C": 0.22}, config)

        assert plan.projected_cash >= 0.0
        assert any(o.asset == "A" and o.side is Side.BUY for o in plan)
        held_b = 3 - sum(o.quantity for o in plan if o.asset == "B")
        assert held_b - (0 if "p2" in plan.cancels else 3) >= 0

    def test_an_uncounted_pending_sell_of_the_whole_holding_stays_when_the_plan_buys(self):
        """10 A held, a pending sell of all 10 not counted, 15 wanted: the plan buys 5, so
        after every fill 5 are held and no short is left; the sell is kept, not cancelled.
        Only the plan's sells count toward the short."""
        pending = [PendingOrder("s", "A", Side.SELL, 10)]
        snap = PortfolioSnapshot(100.0, {"A": 10}, {"A": 10.0}, pending_orders=pending)
        config = RebalanceConfig(
            min_trade_value=0,
            min_weight_change=0,
            cancel_before_rebalance=False,
            account_for_pending=False,
        )
        plan = compute_trades(snap, {"A": 0.75}, config)

        assert [("buy", "A", 5)] == trades(plan)
        assert () == plan.cancels
        assert 5 == plan.decision("A").projected_quantity

    def test_an_uncounted_pending_sell_is_checked_in_a_book_of_several_assets(self):
        """10 A held, 3 wanted, a pending sell of 6 not counted: 7 + 6 would go short, so
        the pending sell is cancelled, whatever other assets the book holds."""
        pending = [PendingOrder("s", "A", Side.SELL, 6.0)]
        prices = {"A": 10.0, "B": 10.0, "C": 10.0}
        snap = PortfolioSnapshot(0.0, dict.fromkeys(prices, 10), prices, pending_orders=pending)
        config = RebalanceConfig(
            min_trade_value=0,
            min_weight_change=0,
            cancel_before_rebalance=False,
            account_for_pending=False,
        )
        plan = compute_trades(snap, {"A": 0.1, "B": 0.45, "C": 0.45}, config)

        assert [("sell", "A", 7), ("buy", "B", 3), ("buy", "C", 3)] == trades(plan)
        assert ("s",) == plan.cancels
        assert 3 == plan.decision("A").projected_quantity

    @pytest.mark.parametrize(("pending_sell", "cancelled"), [(6.0, ("s",)), (5.0, ())])
    def test_uncounted_pending_sell_and_planned_sell_together_never_go_short(
        self, pending_sell, cancelled
    ):
        """Long 10, target 5 sells 5; a kept sell of 6 would end at -1 and is cancelled.

        A kept sell of 5 ends exactly flat, so it stays.
        """
        pending = [PendingOrder("s", "A", Side.SELL, pending_sell)]
        snap = PortfolioSnapshot(0.0, {"A": 10}, {"A": 1.0}, pending_orders=pending)
        config = RebalanceConfig(
            min_trade_value=0, cancel_before_rebalance=False, account_for_pending=False
        )
        plan = compute_trades(snap, {"A": 0.5}, config)

        assert [("sell", "A", 5)] == trades(plan)
        assert cancelled == plan.cancels
        assert plan.decision("A").projected_quantity >= 0.0

    def test_a_closest_sell_rerounded_for_cash_never_goes_short_with_a_pending_sell(self):
        """Regression: CLOSEST kept 1 of 10 A (0.6 wanted) beside an uncounted pending
        sell of 1; when cash bound, the re-round sold all 10, and the pending sell would
        have left -1. It is now cancelled on the re-round too; that plan ends exactly
        where selling 9 beside the pending sell does, and the smaller trade wins the tie."""
        pending = [PendingOrder("s1", "A", Side.SELL, 1)]
        snap = PortfolioSnapshot(0.0, {"A": 10}, {"A": 100.0, "B": 190.0}, pending_orders=pending)
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST,
            cancel_before_rebalance=False,
            account_for_pending=False,
            min_trade_value=0,
            min_weight_change=0,
            cost_rate=0.1,
        )
        plan = compute_trades(snap, {"A": 0.06, "B": 0.94}, config)

        assert [("sell", "A", 9), ("buy", "B", 4)] == trades(plan)
        assert () == plan.cancels
        assert 0.0 == plan.decision("A").projected_quantity

    def test_decimal_config_values_are_numbers(self):
        """A Decimal cost rate is stored as a float and used as one."""
        config = RebalanceConfig(cost_rate=Decimal("0.001"))
        snap = PortfolioSnapshot(10_000.0, prices={"A": 1.0})

        assert 0.001 == config.cost_rate
        assert compute_trades(snap, {"A": 0.5}, config).estimated_costs > 0.0

    def test_huge_int_weight_is_a_clear_error(self):
        """10**400 as a weight is an error naming the weight, not an OverflowError."""
        snap = PortfolioSnapshot(1.0, prices={"A": 1.0})
        with pytest.raises(InvalidTargetsError, match="target_weights\\['A'\\]"):
            compute_trades(snap, {"A": 10**400})

    def test_overflowing_target_quantity_is_a_clear_error(self):
        """1e308 of equity in a $0.50 asset overflows: an error names the weight and price."""
        snap = PortfolioSnapshot(1e308, prices={"A": 0.5})
        with pytest.raises(InvalidSnapshotError, match="prices\\['A'\\]"):
            compute_trades(snap, {"A": 1.0})

    def test_overflow_error_names_every_input_above_1e100_and_only_those(self):
        """Costs of 1e308 per order overflow the cash sum; the error lists the huge inputs.

        Values of exactly 1e100 (D) or small ones are not named.
        """
        pending = [PendingOrder("big", "B", Side.BUY, 1e200), PendingOrder("b", "B", Side.BUY, 1)]
        snap = PortfolioSnapshot(
            1e300,
            {"A": 1e150, "B": 5.0, "D": 1e100},
            {"A": 1e-100, "B": 1e-50, "C": 1e101, "D": 1e-100},
            multipliers={"B": 1e150},
            pending_orders=pending,
        )
        config = RebalanceConfig(
            cost_per_order=1e308,
            cancel_before_rebalance=False,
            account_for_pending=False,
            close_untargeted=False,
        )
        with pytest.raises(InvalidSnapshotError) as info:
            compute_trades(snap, {"A": 1e-120, "C": 1e101}, config)

        assert str(info.value) == (
            "planning overflows floating point: these inputs are too large: cash=1e+300, "
            "positions['A']=1e+150, prices['C']=1e+101, multipliers['B']=1e+150, "
            "target_weights['C']=1e+101, pending order 'big' quantity=1e+200, "
            "RebalanceConfig.cost_per_order=1e+308"
        )

    def test_no_short_account_closes_a_short_below_the_thresholds(self):
        """A held short in a long-only account is covered even when the trade is tiny."""
        snap = PortfolioSnapshot(1e6, {"Z": -10}, {"Z": 1.0})

        assert [("buy", "Z", 10)] == trades(compute_trades(snap, {"Z": 0.00001}))

    def test_overflowing_costs_are_a_clear_error(self):
        """A cost per order of 1e308 overflows the cash sum: an error names the field."""
        pending = [PendingOrder("a", "A", Side.BUY, 1), PendingOrder("b", "A", Side.BUY, 1)]
        snap = PortfolioSnapshot(0.0, prices={"A": 1.0}, pending_orders=pending)
        config = RebalanceConfig(
            cost_per_order=1e308,
            cancel_before_rebalance=False,
            account_for_pending=False,
            close_untargeted=False,
        )
        with pytest.raises(InvalidSnapshotError, match=r"RebalanceConfig\.cost_per_order"):
            compute_trades(snap, {}, config)


class TestLegsAndRounding:
    """The orders between two holdings: their sides, actions and whole-unit sizes."""

    @pytest.mark.parametrize(
        ("held", "target", "expected"),
        [
            # Reversals close first, then open, whatever the sizes.
            (-2.0, 0.05, [("buy", 2.0, Action.CLOSE), ("buy", 0.5, Action.OPEN)]),
            (0.5, -0.1, [("sell", 0.5, Action.CLOSE), ("sell", 1.0, Action.OPEN)]),
        ],
    )
    def test_fractional_closes_and_reversals(self, held, target, expected):
        """Holdings and targets under one unit still get the right side and action."""
        snap = PortfolioSnapshot(
            1_000.0 - held * 100.0, {"A": held}, {"A": 100.0}, fractional=True, margin=True
        )
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, allow_short=True)
        plan = compute_trades(snap, {"A": target}, config)

        assert expected == [(o.side.value, o.quantity, o.action) for o in plan]

    def test_a_short_target_that_rounds_to_dust_covers_the_short_exactly(self):
        """-1e-8 of $2,000 is a sliver of a unit: whole units round it to 0, a close."""
        snap = PortfolioSnapshot(2_000.0, {"A": -10}, {"A": 100.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, allow_short=True)
        plan = compute_trades(snap, {"A": -1e-8}, config)

        assert [("buy", 10, Action.CLOSE)] == [(o.side.value, o.quantity, o.action) for o in plan]

    def test_reversal_to_exactly_one_unit_opens_it(self):
        """Short 2 to long 1: cover 2, then buy 1."""
        snap = PortfolioSnapshot(1_200.0, {"A": -2}, {"A": 100.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, allow_short=True)
        plan = compute_trades(snap, {"A": 0.1}, config)

        assert [("buy", 2, Action.CLOSE), ("buy", 1, Action.OPEN)] == [
            (o.side.value, o.quantity, o.action) for o in plan
        ]
        assert 1 == plan.decision("A").projected_quantity

    def test_adding_to_a_holding_is_an_increase(self):
        """10 held, 11 wanted: buying 1 more increases the position."""
        snap = PortfolioSnapshot(1_000.0, {"A": 10}, {"A": 10.0})
        plan = compute_trades(snap, {"A": 0.1}, FREE)

        assert [("buy", "A", 1)] == trades(plan)
        assert Action.INCREASE == plan.orders[0].action

    def test_a_one_unit_target_buys_one_unit(self):
        """10% of $1,000 at $100 is exactly one unit: it is bought, not rounded away."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 100.0})
        plan = compute_trades(snap, {"A": 0.1}, FREE)

        assert [("buy", "A", 1)] == trades(plan)

    @pytest.mark.parametrize(
        ("target", "expected"), [(0.19, [("buy", "A", 1)]), (0.02, [("sell", "A", 0.5)])]
    )
    def test_down_from_a_fractional_holding_keeps_its_fraction_or_closes(self, target, expected):
        """0.5 held in a whole-unit account: toward 1.9 buy 1 (to 1.5); toward 0.2 close.

        Selling one unit from 0.5 would cross zero, so the fraction is sold exactly.
        """
        snap = PortfolioSnapshot(950.0, {"A": 0.5}, {"A": 100.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, allow_fractional=False)
        plan = compute_trades(snap, {"A": target}, config)

        assert expected == trades(plan)

    def test_lot_sells_keep_whole_lots(self):
        """100 held in lots of 10, 75 wanted: DOWN never holds more, so 30 are sold."""
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 1.0}, lot_sizes={"A": 10})
        plan = compute_trades(snap, {"A": 0.75}, FREE)

        assert [("sell", "A", 30)] == trades(plan)

    def test_a_rounded_holding_worth_float_noise_of_equity_is_no_holding(self):
        """15 units wanted on $10bn, lots of 10: the 10 left after rounding is dust."""
        snap = PortfolioSnapshot(1e10, prices={"A": 1.0}, lot_sizes={"A": 10})
        plan = compute_trades(snap, {"A": 1.5e-9}, FREE)

        assert [] == trades(plan)
        assert SkipReason.ROUNDS_TO_ZERO == plan.decision("A").skip_reason

    def test_closest_rounds_a_holding_worth_float_noise_of_equity_to_none(self):
        """The same 15 units under CLOSEST: the nearest lot (10) is exactly 1e-9 of the
        equity, dust too, so nothing is bought and the decision says it rounds to zero."""
        snap = PortfolioSnapshot(1e10, prices={"A": 1.0}, lot_sizes={"A": 10})
        config = attrs.evolve(FREE, rounding=Rounding.CLOSEST)
        plan = compute_trades(snap, {"A": 1.5e-9}, config)

        assert [] == trades(plan)
        assert SkipReason.ROUNDS_TO_ZERO == plan.decision("A").skip_reason

    def test_a_target_of_exactly_the_noise_weight_is_no_target(self):
        """A weight of 1e-9 (10 units of $1 on $10bn) is float noise: like 0, at target."""
        snap = PortfolioSnapshot(1e10, prices={"A": 1.0})
        plan = compute_trades(snap, {"A": 1e-9}, FREE)

        assert [] == trades(plan)
        assert SkipReason.AT_TARGET == plan.decision("A").skip_reason

    def test_a_holding_within_float_noise_of_its_target_is_at_target(self):
        """10% held, 10% + 1e-12 wanted: at target, not a trade too small to send."""
        snap = PortfolioSnapshot(900_000.0, {"A": 1_000}, {"A": 100.0})
        plan = compute_trades(snap, {"A": 0.1 + 1e-12})

        assert SkipReason.AT_TARGET == plan.decision("A").skip_reason

    def test_a_trade_under_one_unit_is_explained_with_a_relative_band(self):
        """Half a $1,000 unit rounds to nothing; the band check must not get in the way."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 1_000.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0.5, relative_band=0.25)
        plan = compute_trades(snap, {"A": 0.05}, config)

        assert SkipReason.ROUNDS_TO_ZERO == plan.decision("A").skip_reason

    @pytest.mark.parametrize(("cap", "expected"), [(0.19, 1), (0.2, 2)])
    def test_closest_rounds_up_only_to_the_cap(self, cap, expected):
        """1.9 units wanted: 2 are worth 20%, allowed by a 20% cap but not by a 19% one."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 100.0})
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST, max_single_weight=cap, min_trade_value=0, min_weight_change=0
        )
        plan = compute_trades(snap, {"A": 0.19}, config)

        assert [("buy", "A", expected)] == trades(plan)

    def test_closest_under_a_cash_limit_leaves_an_at_target_holding_alone(self):
        """A sits at its third; B's 100 units cost $101 with fees on $100: B gets 99."""
        snap = PortfolioSnapshot(100.0, {"A": 5}, {"A": 10.0, "B": 1.0})
        config = RebalanceConfig(
            rounding=Rounding.CLOSEST, min_trade_value=0, min_weight_change=0, cost_per_order=1
        )
        plan = compute_trades(snap, {"A": 1 / 3, "B": 2 / 3}, config)

        assert [("buy", "B", 99)] == trades(plan)
        assert SkipReason.AT_TARGET == plan.decision("A").skip_reason


class TestThresholdBoundaries:
    """A trade exactly at a threshold is due: thresholds skip what is *below* them."""

    def test_exactly_the_minimum_weight_change(self):
        snap = PortfolioSnapshot(10_000.0, prices={"A": 1.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0.01)

        assert [("buy", "A", 100)] == trades(compute_trades(snap, {"A": 0.01}, config))

    def test_exactly_the_minimum_trade_value(self):
        snap = PortfolioSnapshot(10_000.0, prices={"A": 1.0})
        config = RebalanceConfig(min_trade_value=100, min_weight_change=0)

        assert [("buy", "A", 100)] == trades(compute_trades(snap, {"A": 0.01}, config))

    def test_exactly_the_relative_band(self):
        """3% held, 4% wanted: the 1% change is a quarter of the target, so it is due."""
        snap = PortfolioSnapshot(9_700.0, {"A": 300}, {"A": 1.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0.05, relative_band=0.25)

        assert [("buy", "A", 100)] == trades(compute_trades(snap, {"A": 0.04}, config))


class TestClosingWithPendingOrders:
    """Target 0 with pending orders counted: pending sells that close part are kept."""

    CONFIG = RebalanceConfig(cancel_before_rebalance=False)

    @pytest.mark.parametrize("held", [1, 30])
    def test_a_pending_sell_of_the_whole_holding_covers_the_close(self, held):
        pending = [PendingOrder("c", "A", Side.SELL, held)]
        snap = PortfolioSnapshot(100.0, {"A": held}, {"A": 100.0}, pending_orders=pending)
        plan = compute_trades(snap, {}, self.CONFIG)

        assert ((), ()) == (plan.orders, plan.cancels)
        assert SkipReason.PENDING_COVERS == plan.decision("A").skip_reason

    @pytest.mark.parametrize(
        ("pending", "cancelled", "sold"),
        [
            ([PendingOrder("b", "A", Side.BUY, 10)], ("b",), 30),
            ([PendingOrder("s", "A", Side.SELL, 45)], ("s",), 30),
            (
                [PendingOrder("s1", "A", Side.SELL, 20), PendingOrder("s2", "A", Side.SELL, 20)],
                ("s2",),
                10,
            ),
        ],
    )
    def test_pending_orders_that_would_not_close_are_cancelled(self, pending, cancelled, sold):
        """A buy adds, a sell of 45 overshoots 30, and 20 + 20 overshoot: those go.

        Of the two sells of 20, the first is kept and the close sends the other 10.
        """
        snap = PortfolioSnapshot(100.0, {"A": 30}, {"A": 100.0}, pending_orders=pending)
        plan = compute_trades(snap, {}, self.CONFIG)

        assert cancelled == plan.cancels
        assert [("sell", "A", sold)] == trades(plan)
        assert 0.0 == plan.decision("A").projected_quantity

    def test_a_pending_buy_on_a_fractional_holding_being_closed_is_cancelled(self):
        """0.5 held, 0.2 more pending: the buy would add to what is being closed."""
        pending = [PendingOrder("b", "A", Side.BUY, 0.2)]
        snap = PortfolioSnapshot(
            100.0, {"A": 0.5}, {"A": 10.0}, pending_orders=pending, fractional=True
        )
        plan = compute_trades(snap, {}, self.CONFIG)

        assert ("b",) == plan.cancels
        assert [("sell", "A", 0.5)] == trades(plan)

    @pytest.mark.parametrize("counted", [True, False])
    @pytest.mark.parametrize(
        "case",
        [
            (
                30,
                TradeDirection.BUY_ONLY,
                [
                    PendingOrder("b", "A", Side.BUY, 10),
                    PendingOrder("s1", "A", Side.SELL, 20),
                    PendingOrder("s2", "A", Side.SELL, 20),
                ],
                ("b", "s2"),
                -20,
            ),
            (
                -30,
                TradeDirection.SELL_ONLY,
                [PendingOrder("s", "A", Side.SELL, 10), PendingOrder("b", "A", Side.BUY, 5)],
                ("s",),
                5,
            ),
        ],
    )
    def test_a_direction_blocks_the_close_not_the_cancels(self, case, counted):
        """Regression (a random search): 243 held, target 0, BUY_ONLY blocks the close,
        and the blocked asset got back its four pending buys: $2M of buys in an account
        with $0. A target of 0 never keeps an order that takes the position further from
        0 (a buy on a long, a sell on a short, a close past the holding), whatever the
        direction; orders that close part of it stay, as the direction leaves the asset
        as it is."""
        held, direction, pending, cancelled, kept = case
        cash = 5_000.0 if held < 0 else 0.0
        snap = PortfolioSnapshot(
            cash, {"A": held}, {"A": 100.0}, pending_orders=pending, margin=held < 0
        )
        config = RebalanceConfig(
            cancel_before_rebalance=False, account_for_pending=counted, direction=direction
        )
        plan = compute_trades(snap, {"A": 0.0}, config)

        assert () == plan.orders
        assert cancelled == plan.cancels
        assert SkipReason.DIRECTION == plan.decision("A").skip_reason
        assert held + kept == plan.decision("A").projected_quantity
        assert cash - 100.0 * kept == plan.projected_cash


class TestRestingOrders:
    def test_a_stop_within_the_position_with_pending_buys_counted_is_kept(self):
        """10 held + 20 pending = the 30-unit target: a stop for 25 only shrinks it."""
        pending = [
            PendingOrder("w", "A", Side.BUY, 20),
            PendingOrder("stop", "A", Side.SELL, 25, kind=OrderKind.STOP, stop_price=90.0),
        ]
        snap = PortfolioSnapshot(7_000.0, {"A": 10}, {"A": 100.0}, pending_orders=pending)
        plan = compute_trades(snap, {"A": 0.375}, RebalanceConfig(cancel_before_rebalance=False))

        assert ((), ()) == (plan.orders, plan.cancels)

    @pytest.mark.parametrize(("allow_short", "cancelled"), [(False, ("tp",)), (True, ())])
    def test_on_a_flat_position_a_resting_sell_is_kept_only_where_shorts_are_allowed(
        self, allow_short, cancelled
    ):
        """Pending orders kept but not counted: nothing held, nothing traded; a resting
        sell would open a short; a dip buy stays (ml4t's behaviour)."""
        pending = [
            PendingOrder("tp", "A", Side.SELL, 5, kind=OrderKind.LIMIT, limit_price=120.0),
            PendingOrder("dip", "A", Side.BUY, 5, kind=OrderKind.LIMIT, limit_price=80.0),
        ]
        snap = PortfolioSnapshot(10_000.0, prices={"A": 100.0}, pending_orders=pending, margin=True)
        config = RebalanceConfig(
            cancel_before_rebalance=False, account_for_pending=False, allow_short=allow_short
        )
        plan = compute_trades(snap, {"A": 0.001}, config)

        assert [] == trades(plan)
        assert cancelled == plan.cancels

    def test_an_asset_blocked_by_the_direction_keeps_its_resting_orders(self):
        """BUY_ONLY with A over target: A is left exactly as it is, dip buy included."""
        pending = [PendingOrder("dip", "A", Side.BUY, 5, kind=OrderKind.LIMIT, limit_price=80.0)]
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 100.0}, pending_orders=pending)
        config = RebalanceConfig(direction=TradeDirection.BUY_ONLY)
        plan = compute_trades(snap, {"A": 0.5}, config)

        assert ((), ()) == (plan.orders, plan.cancels)
        assert SkipReason.DIRECTION == plan.decision("A").skip_reason

    @pytest.mark.parametrize("rounding", EVERY_ROUNDING)
    def test_a_direction_blocks_the_buy_not_the_cancel_of_a_take_profit_turned_entry(
        self, rounding
    ):
        """Regression (a random search): C is 1 short with a counted market buy of 3 and a
        take-profit buy of 3 at $90 (an exit of the short). The buy turns C long 2 and
        SELL_ONLY blocks the last unit to the 3.2 wanted; the blocked asset was skipped
        when resting orders were settled, so the take-profit stayed and could fill C to 5.
        A direction blocks trades, not cancels: it goes, as it would if C traded."""
        pending = [
            PendingOrder("p0", "C", Side.BUY, 3),
            PendingOrder("p1", "C", Side.BUY, 3, kind=OrderKind.LIMIT, limit_price=90.0),
            PendingOrder("p2", "B", Side.BUY, 3),
        ]
        prices = {"A": 100.0, "B": 100.0, "C": 100.0}
        snap = PortfolioSnapshot(
            50.0, {"A": 5, "C": -1}, prices, pending_orders=pending, margin=True
        )
        config = RebalanceConfig(
            min_trade_value=0.0,
            min_weight_change=0.01,
            allow_short=True,
            cancel_before_rebalance=False,
            cash_buffer=0.05,
            cost_per_order=1.0,
            direction=TradeDirection.SELL_ONLY,
            rounding=rounding,
        )
        targets = {"A": 0.6, "B": 0.26, "C": 0.75}
        plan = compute_trades(snap, targets, config)

        assert "sell" == trades(plan)[0][0]
        assert [] == [t for t in trades(plan) if t[1] != "A"]
        assert SkipReason.DIRECTION == plan.decision("C").skip_reason
        assert ("p1",) == plan.decision("C").cancels
        assert 2.0 == plan.decision("C").projected_quantity
        check_plan(snap, targets, config, plan)

    @pytest.mark.parametrize(("cancel_first", "counted"), [(True, True), (False, False)])
    def test_a_target_of_0_the_direction_blocks_cancels_resting_orders_away_from_0(
        self, cancel_first, counted
    ):
        """BUY_ONLY blocks the close of 30 A (target 0), not the cancels, counted or not: a
        dip buy would add to it and a stop of 40 sells past it, so both go; a stop of 30
        only closes it, and stays."""
        pending = [
            PendingOrder("dip", "A", Side.BUY, 5, kind=OrderKind.LIMIT, limit_price=90.0),
            PendingOrder("sl", "A", Side.SELL, 30, kind=OrderKind.STOP, stop_price=80.0),
            PendingOrder("big", "A", Side.SELL, 40, kind=OrderKind.STOP, stop_price=70.0),
        ]
        snap = PortfolioSnapshot(0.0, {"A": 30}, {"A": 100.0}, pending_orders=pending)
        config = RebalanceConfig(
            cancel_before_rebalance=cancel_first,
            account_for_pending=counted,
            direction=TradeDirection.BUY_ONLY,
        )
        plan = compute_trades(snap, {"A": 0.0}, config)

        assert ((), ("big", "dip")) == (plan.orders, plan.cancels)
        assert SkipReason.DIRECTION == plan.decision("A").skip_reason
        check_plan(snap, {"A": 0.0}, config, plan)

    def test_a_blocked_asset_keeps_a_take_profit_that_only_shrinks_it(self):
        """Counted pending orders, BUY_ONLY blocks selling A down to 50: a take-profit of
        40 within the 100 held only shrinks A, so it stays."""
        pending = [PendingOrder("tp", "A", Side.SELL, 40, kind=OrderKind.LIMIT, limit_price=120.0)]
        snap = PortfolioSnapshot(0.0, {"A": 100}, {"A": 100.0}, pending_orders=pending)
        config = RebalanceConfig(cancel_before_rebalance=False, direction=TradeDirection.BUY_ONLY)
        plan = compute_trades(snap, {"A": 0.5}, config)

        assert ((), ()) == (plan.orders, plan.cancels)
        assert SkipReason.DIRECTION == plan.decision("A").skip_reason


# PyPortfolioOpt's clean_weights() sums to 1.00001 in about one weight set in five.
OVER_ONE = {"A": 0.5000075, "B": 0.5000075}


class TestCashAccount:
    """A cash account (the default) never borrows, whatever the weights sum to."""

    @pytest.mark.parametrize("rounding", EVERY_ROUNDING)
    def test_weights_a_hair_over_one_never_overdraw(self, rounding):
        """Regression: this was planned as a margin request (buy 50,001 A, cash -1.00)."""
        snap = PortfolioSnapshot(cash=100_000.0, prices={"A": 1.0, "B": 1.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, rounding=rounding)

        plan = compute_trades(snap, OVER_ONE, config)

        assert [("buy", "A", 50_000), ("buy", "B", 50_000)] == trades(plan)
        assert 0.0 == plan.projected_cash
        assert 0.0 == plan.cash_floor
        for decision in plan.decisions:
            assert (Adjustment.CASH_ACCOUNT,) == decision.adjustments
            assert 0.5 == pytest.approx(decision.target_weight, abs=1e-15)

    def test_a_margin_account_keeps_weights_above_one(self):
        """margin=True: the book above 1 is a loan the targets ask for."""
        snap = PortfolioSnapshot(cash=100_000.0, prices={"A": 1.0, "B": 1.0}, margin=True)
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0)

        plan = compute_trades(snap, OVER_ONE, config)

        assert [("buy", "A", 50_000), ("buy", "B", 50_000)] == trades(plan)
        assert -1.5 == pytest.approx(plan.cash_floor)
        assert () == plan.decisions[0].adjustments

    def test_a_levered_book_is_scaled_to_one_with_the_buffer_after(self):
        """Targets 60/30/20/10% (120%) with a 10% buffer: scaled to 100%, then 90%."""
        snap = PortfolioSnapshot(10_000.0, prices={"A": 1.0, "B": 1.0, "C": 1.0, "D": 1.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, cash_buffer=0.1)

        plan = compute_trades(snap, {"A": 0.6, "B": 0.3, "C": 0.2, "D": 0.1}, config)

        assert [4500, 2250, 1500, 750] == [o.quantity for o in plan]
        assert 1_000.0 == plan.projected_cash
        assert (Adjustment.CASH_ACCOUNT, Adjustment.CASH_BUFFER) == plan.decisions[0].adjustments

    def test_a_tighter_gross_cap_is_recorded_as_the_cap(self):
        """max_gross_leverage below 1 binds first: the decision names it, not the account."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0, "B": 1.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, max_gross_leverage=0.5)

        plan = compute_trades(snap, {"A": 0.6, "B": 0.6}, config)

        assert [250, 250] == [o.quantity for o in plan]
        assert (Adjustment.LEVERAGE_SCALED,) == plan.decisions[0].adjustments

    def test_a_gross_cap_of_exactly_one_is_recorded_as_the_cap(self):
        """max_gross_leverage=1 in a cash account: the user's own cap binds, and is named."""
        snap = PortfolioSnapshot(1_000.0, prices={"A": 1.0, "B": 1.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, max_gross_leverage=1.0)

        plan = compute_trades(snap, {"A": 0.6, "B": 0.6}, config)

        assert [500, 500] == [o.quantity for o in plan]
        assert (Adjustment.LEVERAGE_SCALED,) == plan.decisions[0].adjustments

    def test_a_short_target_is_clamped_even_where_shorts_are_allowed(self):
        """Shorting borrows: a cash account closes the short target, and says so."""
        snap = PortfolioSnapshot(500.0, {"A": 5}, {"A": 100.0, "B": 100.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, allow_short=True)

        plan = compute_trades(snap, {"A": -0.5, "B": 0.5}, config)

        assert [("sell", "A", 5), ("buy", "B", 5)] == trades(plan)
        assert (Adjustment.SHORT_CLAMPED,) == plan.decision("A").adjustments

    def test_the_floor_is_never_below_zero_from_float_noise(self):
        """Ten weights of 0.1 (and 0.1 * 3 style noise) never make a negative floor."""
        snap = PortfolioSnapshot(1_000.0, prices={str(i): 1.0 for i in range(7)})
        weights = {str(i): 0.1 + 0.2 / 3 if i < 6 else 0.0 for i in range(7)}

        plan = compute_trades(snap, weights, FREE)

        assert 0.0 == plan.cash_floor
        assert plan.projected_cash >= 0.0


class TestRestingEntries:
    """With pending orders kept and counted, a resting entry (a dip buy) counts too."""

    COUNTED = RebalanceConfig(cancel_before_rebalance=False, account_for_pending=True)

    @staticmethod
    def dip(quantity=100, limit=95.0):
        return PendingOrder("dip", "A", Side.BUY, quantity, kind=OrderKind.LIMIT, limit_price=limit)

    def test_a_dip_buy_is_never_doubled(self):
        """Regression: the plan bought 100 A on top of a 100 A dip buy (400 A if it fills)."""
        snap = PortfolioSnapshot(80_000.0, {"A": 200}, {"A": 100.0}, pending_orders=[self.dip()])

        plan = compute_trades(snap, {"A": 0.3}, self.COUNTED)

        assert [] == trades(plan)
        assert () == plan.cancels
        decision = plan.decision("A")
        assert SkipReason.PENDING_COVERS == decision.skip_reason
        assert (100.0, 300.0) == (decision.pending_quantity, decision.projected_quantity)

    def test_its_cash_is_reserved_at_the_limit_price(self):
        """The dip buy will use 100 x 95 of cash if it fills."""
        snap = PortfolioSnapshot(80_000.0, {"A": 200}, {"A": 100.0}, pending_orders=[self.dip()])

        plan = compute_trades(snap, {"A": 0.3}, self.COUNTED)

        assert 80_000.0 - 9_500.0 == plan.projected_cash

    def test_an_entry_beyond_the_target_is_replaced(self):
        """200 held + 100 on the dip would overshoot a 250 target: cancel, buy 50 now."""
        snap = PortfolioSnapshot(80_000.0, {"A": 200}, {"A": 100.0}, pending_orders=[self.dip()])

        plan = compute_trades(snap, {"A": 0.25}, self.COUNTED)

        assert [("buy", "A", 50)] == trades(plan)
        assert ("dip",) == plan.cancels
        assert (Adjustment.PENDING_REPLACED,) == plan.decision("A").adjustments

    def test_a_smaller_entry_is_kept_and_the_rest_bought(self):
        """Target 300 with 40 on the dip: keep it and buy the other 60."""
        snap = PortfolioSnapshot(
            80_000.0, {"A": 200}, {"A": 100.0}, pending_orders=[self.dip(quantity=40)]
        )

        plan = compute_trades(snap, {"A": 0.3}, self.COUNTED)

        assert [("buy", "A", 60)] == trades(plan)
        assert () == plan.cancels

    def test_a_buy_stop_entry_counts_at_its_stop_price(self):
        """A breakout buy stop may fill too: it counts, and reserves cash at its stop."""
        stop = PendingOrder("brk", "A", Side.BUY, 100, kind=OrderKind.STOP, stop_price=105.0)
        snap = PortfolioSnapshot(80_000.0, {"A": 200}, {"A": 100.0}, pending_orders=[stop])

        plan = compute_trades(snap, {"A": 0.3}, self.COUNTED)

        assert [] == trades(plan)
        assert 80_000.0 - 10_500.0 == plan.projected_cash

    def test_a_protective_stop_does_not_count(self):
        """A stop-loss sell on a long is an exit: the plan buys the gap, the stop stays."""
        stop = PendingOrder("sl", "A", Side.SELL, 200, kind=OrderKind.STOP, stop_price=90.0)
        snap = PortfolioSnapshot(80_000.0, {"A": 200}, {"A": 100.0}, pending_orders=[stop])

        plan = compute_trades(snap, {"A": 0.3}, self.COUNTED)

        assert [("buy", "A", 100)] == trades(plan)
        assert () == plan.cancels

    def test_uncounted_modes_are_unchanged(self):
        """cancel_before_rebalance cancels the dip buy and sizes from the position."""
        snap = PortfolioSnapshot(80_000.0, {"A": 200}, {"A": 100.0}, pending_orders=[self.dip()])

        plan = compute_trades(snap, {"A": 0.3}, RebalanceConfig())

        assert [("buy", "A", 100)] == trades(plan)
        assert ("dip",) == plan.cancels


class TestClosestFunding:
    def test_closest_buys_what_down_buys_when_two_equal_buys_do_not_both_fit(self):
        """Regression (CI's draws of test_allocation): $11 of cash, a $10 fee, two $1
        assets 5.5 units under target. DOWN buys 1 unit of the first ($11); CLOSEST
        bought nothing, $1 further, because its stand-in for DOWN's answer dropped both
        buys when the even cut left each at 0."""
        prices = dict.fromkeys(("AAA", "BBB", "CCC", "DDD", "EEE"), 1.0)
        snap = PortfolioSnapshot(11.0, {"DDD": 1.0, "EEE": 1.0}, prices)
        targets = {"AAA": 0.0, "BBB": 0.0, "CCC": 0.0, "DDD": 0.5, "EEE": 0.5}
        plans = [
            compute_trades(
                snap,
                targets,
                RebalanceConfig(
                    min_trade_value=0.0, min_weight_change=0.0, cost_per_order=10.0, rounding=r
                ),
            )
            for r in (Rounding.DOWN, Rounding.CLOSEST)
        ]

        assert [[("buy", "DDD", 1)]] * 2 == [trades(plan) for plan in plans]
        assert [0.0, 0.0] == [plan.projected_cash for plan in plans]

    def test_a_holding_the_repair_keeps_at_its_nearest_says_it_rounds_to_zero(self):
        """Regression (a random search): $6 of equity, D's cap leaves 4.8 of the 5 held.
        Sizing sold 1 D to pay for B; when the cash bound, CLOSEST's repair kept the 5,
        the nearest holding, and the decision said at_target, $0.10 from its target. The
        sell rounds to nothing: rounds_to_zero_shares."""
        snap = PortfolioSnapshot(
            0.0,
            {"A": 2.0, "B": 3.0, "D": 5.0},
            {"A": 1.0, "B": 0.5, "C": 250.0, "D": 0.5},
            lot_sizes={"A": 0.1, "C": 5.0},
        )
        targets = {"A": 0.0, "B": 0.6, "C": 0.05, "D": 0.75}
        config = RebalanceConfig(
            min_trade_value=0.0,
            min_weight_change=0.0,
            max_single_weight=0.4,
            cost_rate=0.001,
            cost_per_order=1.0,
            rounding=Rounding.CLOSEST,
            relative_band=0.25,
        )
        plan = compute_trades(snap, targets, config)

        assert [("sell", "A", 2.0)] == trades(plan)
        assert SkipReason.ROUNDS_TO_ZERO == plan.decision("D").skip_reason
        check_plan(snap, targets, config, plan)

    def test_a_closest_plan_does_not_flip_flop(self):
        """Regression (found by the randomised run): plan 1 bought '0' and 'AAPL';
        planned again, it sold both to buy 'ES', further from target, and back again."""
        names = ["0", "AAPL", "ES", "X", "Y", "Z"]
        snap = PortfolioSnapshot(
            1.0, prices=dict.fromkeys(names, 1.0), fractional=True, margin=True
        )
        targets = {"0": 1.0, "AAPL": 1.0, "ES": 1.0, "X": 0.0, "Y": 0.0, "Z": 0.0}
        config = RebalanceConfig(
            max_gross_leverage=2,
            round_lots=True,
            lot_size=1,
            rounding=Rounding.CLOSEST,
            min_trade_value=0,
            min_weight_change=0,
            close_untargeted=False,
            cancel_before_rebalance=False,
            account_for_pending=False,
        )

        first = compute_trades(snap, targets, config)
        positions = {o.asset: o.signed_quantity for o in first}
        again = PortfolioSnapshot(
            first.projected_cash, positions, snap.prices, fractional=True, margin=True
        )
        second = compute_trades(again, targets, config)

        assert [("buy", "0", 1), ("buy", "AAPL", 1)] == trades(first)
        assert [] == trades(second)

    def test_selling_down_one_holding_funds_the_buy(self):
        """Cash 0, two holdings 0.4 units above target, a buy 0.8 units short: selling
        the extra unit of one of them is enough (error 12; both sold was 14, none 16)."""
        snap = PortfolioSnapshot(0.0, {"A": 3, "B": 3}, {"A": 10.0, "B": 10.0, "C": 10.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, rounding=Rounding.CLOSEST)

        plan = compute_trades(snap, {"A": 26 / 60, "B": 26 / 60, "C": 8 / 60}, config)

        assert [("sell", "B", 1), ("buy", "C", 1)] == trades(plan)
        assert 0.0 == plan.projected_cash

    def test_a_held_book_sells_and_buys_as_one_budget(self):
        """Issue 12: A and B held at 100 each go to 25.3% and 25.4%, C to 49.3%, no cash.

        Selling every holding down to fund C left $10 idle (50, 50, 99); repaired
        together, one unit more of each stays held and C is cut to 98: half the error.
        """
        snap = PortfolioSnapshot(0.0, {"A": 100, "B": 100}, {"A": 10.0, "B": 10.0, "C": 10.0})
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, rounding=Rounding.CLOSEST)

        plan = compute_trades(snap, {"A": 0.253, "B": 0.254, "C": 0.493}, config)

        assert [("sell", "A", 49), ("sell", "B", 49), ("buy", "C", 98)] == trades(plan)
        assert 0.0 == plan.projected_cash

    def test_nine_buys_round_up_the_dearest_name_when_that_is_closest(self):
        """Issue 12: PyPortfolioOpt's 9-name max-Sharpe book on $25,056 holds 1 AMZN.

        The optimum (proven by a MILP, $954.47 from target) buys the $1,427 AMZN share
        and cuts MA and BBY below their nearest for it; the exact search stopped at 8
        buys and missed it (33% worse).
        """
        prices, weights = PYPFOPT_PRICES, list(PYPFOPT_WEIGHTS.values())
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, rounding=Rounding.CLOSEST)

        plan = compute_trades(
            PortfolioSnapshot(25_056.0, prices=prices),
            dict(zip(prices, weights, strict=True)),
            config,
        )

        held = {d.asset: d.projected_quantity for d in plan.decisions}
        assert 1 == held["AMZN"]
        expected = {"AAPL": 10, "BABA": 10, "BBY": 3, "FB": 31, "GOOG": 1, "MA": 50}
        assert expected | {"AMZN": 1, "PFE": 137, "SBUX": 4} == held
        assert 954.47 == pytest.approx(
            math.fsum(
                abs(held[a] * p - w * plan.equity)
                for (a, p), w in zip(prices.items(), weights, strict=True)
            ),
            abs=0.01,
        )

    def test_a_threshold_never_leaves_closest_further_than_down(self):
        """Issue 12: cash 0, 4 AAA at $500, target 20%, $2,000 minimum trade.

        CLOSEST's nearest sell (3 units, $1,500) is under the minimum; DOWN's (all 4,
        $2,000) is not and ends closer ($400 from target against $1,600), so CLOSEST
        sends it too.
        """
        snap = PortfolioSnapshot(0.0, {"AAA": 4}, {"AAA": 500.0})
        plans = {
            rounding: compute_trades(
                snap, {"AAA": 0.2}, RebalanceConfig(rounding=rounding, min_trade_value=2000)
            )
            for rounding in (Rounding.DOWN, Rounding.CLOSEST)
        }

        assert [("sell", "AAA", 4)] == trades(plans[Rounding.CLOSEST])
        assert trades(plans[Rounding.DOWN]) == trades(plans[Rounding.CLOSEST])

    def test_a_sell_down_blocked_by_the_direction_does_not_count_as_closer(self):
        """BUY_ONLY: selling A down is blocked, so that try ends where the other does;
        the asset was not skipped for its direction, it is at its nearest holding."""
        snap = PortfolioSnapshot(0.0, {"A": 3}, {"A": 10.0, "C": 10.0}, margin=True)
        config = RebalanceConfig(
            min_trade_value=0,
            min_weight_change=0,
            rounding=Rounding.CLOSEST,
            direction=TradeDirection.BUY_ONLY,
        )

        # A wants 2.6 units (nearest 3, held), C 0.8 (nearest 1, $10 of the $4 allowed).
        plan = compute_trades(snap, {"A": 26 / 30, "C": 8 / 30}, config)

        assert [] == trades(plan)
        assert SkipReason.DIRECTION != plan.decision("A").skip_reason
        assert SkipReason.CASH_LIMITED == plan.decision("C").skip_reason


class TestKeptOrdersFound:
    """Regressions from review: every kept order that may fill stays within the target."""

    COUNTED = RebalanceConfig(cancel_before_rebalance=False, account_for_pending=True)

    def test_a_take_profit_is_an_exit_even_when_the_target_reverses(self):
        """A sell limit on a long only shrinks it: it is not counted as an entry for the
        short target, the close sends the exact holding, and it is cancelled (it would
        add to the short the plan opens)."""
        tp = PendingOrder("tp", "A", Side.SELL, 500, kind=OrderKind.LIMIT, limit_price=105.0)
        snap = PortfolioSnapshot(0.0, {"A": 1000}, {"A": 100.0}, pending_orders=[tp], margin=True)
        config = attrs.evolve(self.COUNTED, allow_short=True)

        plan = compute_trades(snap, {"A": -0.3}, config)

        assert [("sell", "A", 1000), ("sell", "A", 300)] == trades(plan)
        assert Action.CLOSE == plan.orders[0].action
        assert ("tp",) == plan.cancels

    def test_a_take_profit_on_a_short_is_not_counted(self):
        """A buy limit covering a short is an exit: the reversal closes the exact short."""
        tp = PendingOrder("tp", "A", Side.BUY, 100, kind=OrderKind.LIMIT, limit_price=90.0)
        snap = PortfolioSnapshot(20_000.0, {"A": -100}, {"A": 100.0}, pending_orders=[tp])

        plan = compute_trades(snap, {"A": 0.1}, self.COUNTED)

        assert ("buy", "A", 100) == trades(plan)[0]
        assert Action.CLOSE == plan.orders[0].action

    def test_a_direction_blocks_the_sell_but_not_the_cancel(self):
        """BUY_ONLY, 400 held for a 300 target, a dip buy of 100: nothing is sold, and
        the dip buy that would take it to 500 is cancelled."""
        dip = PendingOrder("dip", "A", Side.BUY, 100, kind=OrderKind.LIMIT, limit_price=95.0)
        snap = PortfolioSnapshot(60_000.0, {"A": 400}, {"A": 100.0}, pending_orders=[dip])
        config = attrs.evolve(self.COUNTED, direction=TradeDirection.BUY_ONLY)

        plan = compute_trades(snap, {"A": 0.3}, config)

        assert [] == trades(plan)
        assert ("dip",) == plan.cancels
        assert SkipReason.DIRECTION == plan.decision("A").skip_reason
        assert 400 == plan.decision("A").projected_quantity

    def test_a_small_overshoot_is_not_kept_with_cash_the_account_lacks(self):
        """Fully invested cash account, a dip buy of one unit: within the thresholds, but
        it would overdraw; it is cancelled (a cancel is not a trade)."""
        dip = PendingOrder("dip", "A", Side.BUY, 1, kind=OrderKind.LIMIT, limit_price=95.0)
        snap = PortfolioSnapshot(0.0, {"A": 200}, {"A": 100.0}, pending_orders=[dip])

        plan = compute_trades(snap, {"A": 1.0}, self.COUNTED)

        assert ([], ("dip",), 0.0) == (trades(plan), plan.cancels, plan.projected_cash)
        assert SkipReason.AT_TARGET == plan.decision("A").skip_reason

    def test_uncounted_entries_keep_their_cash_aside(self):
        """Pending orders kept but not counted (ml4t's way): a dip buy is kept like a
        working order, and the cash it would use is not spent twice."""
        dip = PendingOrder("dip", "A", Side.BUY, 50, kind=OrderKind.LIMIT, limit_price=95.0)
        snap = PortfolioSnapshot(10_000.0, prices={"A": 100.0}, pending_orders=[dip])
        config = RebalanceConfig(
            cancel_before_rebalance=False, account_for_pending=False, min_trade_value=0
        )

        plan = compute_trades(snap, {"A": 1.0}, config)

        assert [("buy", "A", 52)] == trades(plan)
        assert plan.projected_cash >= 0.0
        assert () == plan.cancels

    def test_a_pending_order_that_rounding_makes_right_is_said_to_cover(self):
        """CLOSEST: 2 held and 6 on a dip buy for an 8.08-unit target: nothing to do,
        and the reason is the pending order, not rounding."""
        dip = PendingOrder("dip", "A", Side.BUY, 6, kind=OrderKind.LIMIT, limit_price=99.0)
        snap = PortfolioSnapshot(1_000.0, {"A": 2}, {"A": 100.0}, pending_orders=[dip])
        config = attrs.evolve(
            self.COUNTED, rounding=Rounding.CLOSEST, min_trade_value=0, min_weight_change=0
        )

        plan = compute_trades(snap, {"A": 808 / 1_200}, config)

        assert [] == trades(plan)
        assert SkipReason.PENDING_COVERS == plan.decision("A").skip_reason

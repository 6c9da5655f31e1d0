"""Tests for CLOSEST's funding: sells and buys repaired together when cash binds.

When the nearest holdings do not fit the cash, ``compute_trades`` with
``Rounding.CLOSEST`` hands every buy and every long that sells or holds at its nearest
to one budget problem (:mod:`rebalancing._closest_funding`). These examples pin which
longs may sell, how far below target, and what the repair ends at.
"""

from __future__ import annotations

import pytest

from rebalancing import (
    PendingOrder,
    PortfolioSnapshot,
    RebalanceConfig,
    Rounding,
    Side,
    TradeDirection,
    compute_trades,
    compute_trades_many,
)


def trades(plan):
    """(side, asset, quantity) of each order, in submission order."""
    return [(order.side.value, order.asset, order.quantity) for order in plan]


def closest(**settings):
    """CLOSEST with no thresholds unless given."""
    return RebalanceConfig(
        **{"min_trade_value": 0.0, "min_weight_change": 0.0, **settings},
        rounding=Rounding.CLOSEST,
    )


#: 5 A at $40 held, 4.6 wanted ($184): the nearest is to hold; DOWN's sale of one ($40)
#: is under a $100 minimum, so A holds at its nearest. B at $120, 0.9 wanted ($108);
#: $92 of cash (equity $292) does not buy one.
HELD = PortfolioSnapshot(92.0, {"A": 5}, {"A": 40.0, "B": 120.0})
HELD_WEIGHTS = {"A": 184 / 292, "B": 108 / 292}
#: 1 A at $200, wanted exactly (1 unit); B at $300, $290 wanted; $290 of cash does not
#: buy one. Selling A adds $200 of error, buying B saves $290 - $10 = $280.
ONE_UNIT = PortfolioSnapshot(290.0, {"A": 1}, {"A": 200.0, "B": 300.0})
ONE_UNIT_WEIGHTS = {"A": 200 / 490, "B": 290 / 490}


class TestHeldLongsFundBuys:
    def test_a_held_long_sells_below_target_to_pay_for_a_dearer_step(self):
        """Selling 3 A ($120, the least above the minimum) buys one B: A misses by
        2.6 x $40 = $104 instead of $16 (+$88), B by $12 instead of $108 (-$96)."""
        plan = compute_trades(HELD, HELD_WEIGHTS, closest(min_trade_value=100.0))

        assert [("sell", "A", 3), ("buy", "B", 1)] == trades(plan)
        assert 92.0 == plan.projected_cash  # $92 + $120 - $120

    def test_a_long_of_cheap_units_sells_as_many_as_the_dearest_step_is_worth(self):
        """400 A at $0.50 held ($200), 368 wanted: the least sale over the $100 minimum,
        200 A, with $92 buys one B; A may go $120 / $0.50 = 240 units below its holding."""
        snap = PortfolioSnapshot(92.0, {"A": 400}, {"A": 0.5, "B": 120.0})
        plan = compute_trades(snap, HELD_WEIGHTS, closest(min_trade_value=100.0))

        # A misses by 168 x $0.50 = $84 instead of $16 (+$68), B by $12 instead of $108.
        assert [("sell", "A", 200), ("buy", "B", 1)] == trades(plan)
        assert 72.0 == plan.projected_cash  # $92 + $100 - $120

    def test_fifty_cents_above_the_floor_still_funds_by_selling(self):
        """The same trade from $0.50 of cash, the equity made up by 100 X left alone
        (a sleeve): selling 3 A ($120) pays for B exactly."""
        snap = PortfolioSnapshot(0.5, {"A": 5, "X": 100}, {"A": 40.0, "B": 120.0, "X": 1.0})
        equity = 0.5 + 200.0 + 100.0
        config = closest(min_trade_value=100.0, close_untargeted=False)
        plan = compute_trades(snap, {"A": 184 / equity, "B": 108 / equity}, config)

        assert [("sell", "A", 3), ("buy", "B", 1)] == trades(plan)
        assert 0.5 == plan.projected_cash

    def test_with_lots_a_long_sells_whole_lots_as_deep_as_the_dearest_step(self):
        """The same book in lots of 2 A at $20: 3 lots ($120) below the holding, no more
        than the $120 step of B needs, fund it."""
        snap = PortfolioSnapshot(92.0, {"A": 10}, {"A": 20.0, "B": 120.0}, lot_sizes={"A": 2})
        plan = compute_trades(snap, HELD_WEIGHTS, closest(min_trade_value=100.0))

        assert [("sell", "A", 6), ("buy", "B", 1)] == trades(plan)

    def test_the_least_sale_over_the_minimum_funds_the_buy(self):
        """With B at $100, 0.9 wanted ($90) and a $70 minimum: selling 2 A ($80), the least
        that passes, with $74 of cash buys one B."""
        snap = PortfolioSnapshot(74.0, {"A": 5}, {"A": 40.0, "B": 100.0})
        # Equity $274: A 4.6 units ($184), B $90. Selling 2 A: A misses $64 (+$48),
        # B $10 (-$80).
        plan = compute_trades(snap, {"A": 184 / 274, "B": 90 / 274}, closest(min_trade_value=70))

        assert [("sell", "A", 2), ("buy", "B", 1)] == trades(plan)

    def test_buy_only_never_sells_to_fund_a_buy(self):
        """The same book when the plan may only buy: A is held and B does not fit."""
        config = closest(min_trade_value=100.0, direction=TradeDirection.BUY_ONLY)
        plan = compute_trades(HELD, HELD_WEIGHTS, config)

        assert [] == trades(plan)

    @pytest.mark.parametrize(
        ("held", "side", "cash"),
        [(4, Side.BUY, 12.0), (6, Side.SELL, 92.0)],
        ids=["pending-buy", "pending-sell"],
    )
    def test_a_long_with_a_kept_pending_order_does_not_sell(self, held, side, cash):
        """5 A once a kept pending order of 1 fills: a sale would cross a pending buy, or
        with a pending sell leave a short; so A holds and B ($120) does not fit."""
        pending = PendingOrder("p1", "A", side, 1)
        snap = PortfolioSnapshot(
            52.0, {"A": held}, {"A": 40.0, "B": 120.0}, pending_orders=[pending]
        )
        config = closest(min_trade_value=100.0, cancel_before_rebalance=False)
        plan = compute_trades(snap, HELD_WEIGHTS, config)

        assert [] == trades(plan)
        assert cash == plan.projected_cash  # $52 -/+ the pending order's $40


class TestSellingItAll:
    @pytest.mark.parametrize("minimum", [0.0, 150.0])
    def test_a_single_unit_at_target_is_sold_to_buy_a_dearer_one(self, minimum):
        """A one-unit holding may sell it all (the dearest step, $300, is 2 of A's), with
        no minimum trade or one ($150) that both trades pass."""
        plan = compute_trades(ONE_UNIT, ONE_UNIT_WEIGHTS, closest(min_trade_value=minimum))

        assert [("sell", "A", 1), ("buy", "B", 1)] == trades(plan)
        assert 190.0 == plan.projected_cash  # $290 + $200 - $300

    def test_selling_it_all_below_the_minimum_is_not_a_way_to_fund(self):
        """A $250 minimum: selling A ($200) is too small, B ($300) alone does not fit."""
        plan = compute_trades(ONE_UNIT, ONE_UNIT_WEIGHTS, closest(min_trade_value=250.0))

        assert [] == trades(plan)


class TestAccountsAreRepairedApart:
    def test_two_accounts_planned_together_get_their_own_repairs(self):
        """Both books above, in one call: each account sells and buys as it does alone."""
        config = closest(min_trade_value=100.0)
        plans = compute_trades_many([HELD, ONE_UNIT], [HELD_WEIGHTS, ONE_UNIT_WEIGHTS], config)

        assert [
            [("sell", "A", 3), ("buy", "B", 1)],
            [("sell", "A", 1), ("buy", "B", 1)],
        ] == [trades(plan) for plan in plans]


class TestWhatJoinsTheRepair:
    # Short 1 A at $10 with $100 of cash: equity $90. The cover ($10) leaves $90.
    short_one = PortfolioSnapshot(100.0, {"A": -1}, {"A": 10.0, "B": 7.0})

    @pytest.mark.parametrize(
        ("weights", "expected", "cash"),
        [
            # A 4.95 units, B 40.5 / 7 = 5.79: the nearest 5 A and 6 B cost $92. 5 and 5
            # ($85) miss by $0.50 + $5.50; 4 and 6 ($82) by $9.50 + $1.50.
            ({"A": 0.55, "B": 0.45}, [("buy", "A", 5), ("buy", "B", 5)], 5.0),
            # A 0.9 units, B 81 / 7 = 11.57: the nearest 1 A and 12 B cost $94. 1 and 11
            # ($87) miss by $1 + $4; none and 12 ($84) by $9 + $3.
            ({"A": 0.1, "B": 0.9}, [("buy", "A", 1), ("buy", "B", 11)], 3.0),
        ],
    )
    def test_a_reversal_buys_from_flat_after_its_cover(self, weights, expected, cash):
        """The long leg of a reversal is cut as a buy from 0, after the 1-unit cover."""
        plan = compute_trades(self.short_one, weights, closest(allow_short=True))

        assert [("buy", "A", 1), *expected] == trades(plan)
        assert cash == plan.projected_cash

    def test_a_held_short_keeps_its_position_while_the_buy_is_cut(self):
        """Short 2 C at its -25% target; A at $35 wants 2.86 units: 3 ($105) do not fit
        the $100, so 2 ($70), and the short is left alone."""
        snap = PortfolioSnapshot(100.0, {"C": -2}, {"A": 35.0, "C": 10.0}, margin=True)
        plan = compute_trades(snap, {"A": 1.25, "C": -0.25}, closest(allow_short=True))

        assert [("buy", "A", 2)] == trades(plan)
        assert 30.0 == plan.projected_cash

    def test_an_account_below_its_floor_sells_no_more_to_fund_a_buy(self):
        """$10 in debt, 5 A at $40 held (4.6 wanted), B at $10 (0.6 wanted): A's one-unit
        sale is under its 30% relative band, B's buy is not; no buy fits below the floor
        and A is not sold to lift the cash."""
        snap = PortfolioSnapshot(-10.0, {"A": 5}, {"A": 40.0, "B": 10.0}, margin=True)
        # Equity $190: A's $40 sale moves 21% of it, under 0.3 x 96.8%; B's $10, 5.3%,
        # is over 0.3 x 3.2%.
        config = closest(min_weight_change=1.0, relative_band=0.3)
        plan = compute_trades(snap, {"A": 184 / 190, "B": 6 / 190}, config)

        assert [] == trades(plan)
        assert -10.0 == plan.projected_cash

    def test_a_target_within_float_noise_of_equity_is_sold_off_to_fund(self):
        """On $10bn, 5 A ($5) wanted is under 1e-9 of equity ($10): DOWN sells all 20 A,
        which pays for B's 15 with the $5.50 of cash."""
        snap = PortfolioSnapshot(5.5, {"X": 1e10, "A": 20}, {"A": 1.0, "X": 1.0, "B": 1.0})
        equity = 5.5 + 1e10 + 20
        config = closest(close_untargeted=False)
        plan = compute_trades(snap, {"A": 5 / equity, "B": 15 / equity}, config)

        assert [("sell", "A", 20), ("buy", "B", 15)] == trades(plan)
        assert 10.5 == plan.projected_cash  # $5.50 + $20 - $15


class TestHeldBooksAtTheExactSearchsSize:
    @pytest.mark.parametrize(
        ("fillers", "expected"),
        [
            (37, [("sell", "B", 1), ("sell", "Z", 6), ("buy", "A", 1), ("buy", "C", 1)]),
            (38, [("sell", "Z", 6), ("buy", "A", 1), ("buy", "B", 2)]),
        ],
    )
    def test_a_buy_may_turn_into_a_sale_in_a_book_the_exact_search_covers(self, fillers, expected):
        """B wants 2 more units at $13, C one more at $97: with 40 assets in the repair
        (A, B, C and 37 held at target) B may sell one to fund C's unit; with 41 it may not,
        and B buys its 2."""
        positions = {"A": 4, "B": 2, "C": 1, "Z": 6}
        prices = {"A": 97.0, "B": 13.0, "C": 97.0, "Z": 19.0}
        held = [f"F{i:02d}" for i in range(fillers)]  # $500 each: never worth selling
        positions.update(dict.fromkeys(held, 1))
        prices.update(dict.fromkeys(held, 500.0))
        equity = 700.0 + 500.0 * fillers  # $75 + 4 x $97 + 2 x $13 + $97 + 6 x $19 + fillers
        weights = {"A": 483.91 / equity, "B": 46.62 / equity, "C": 169.4 / equity}
        weights.update(dict.fromkeys(held, 500.0 / equity))
        plan = compute_trades(PortfolioSnapshot(75.0, positions, prices), weights, closest())

        # $75 + $114 (Z, untargeted, closed) + $13 (one B) pay for A's and C's $97 units;
        # $189 without B's sale does not, so A's unit and B's two ($123) are bought.
        assert expected == trades(plan)

"""Tests for the MILP behind Rounding.OPTIMAL (``_milp``): its cash row, legs and answers.

Two kinds: books through OPTIMAL's own plan (before :func:`compute_trades` compares it with
CLOSEST and DOWN, which would hide a weaker optimum), and :func:`_milp.solve` on hand-made
:class:`_milp.Choice` s, where each field's meaning is documented and the optimum can be
worked out by hand. Unit values are $1-$100 and every trade moves the L1 distance by its
value, so each expected answer below is the unique closest one that fits the cash.
"""

from __future__ import annotations

import attrs
import pytest

from rebalancing import InvalidConfigError, PortfolioSnapshot, compute_trades
from rebalancing._milp import Choice, Sized, solve
from rebalancing.testing import check_plan
from test_optimal import EXACT, hide_scipy, l1, needs_scipy, own_plan


def orders(plan):
    """(asset, side, quantity, action) of each order, in the plan's order."""
    return [(o.asset, o.side.value, o.quantity, o.action.value) for o in plan]


class TestWithoutScipy:
    def test_the_error_starts_with_the_field_it_is_about(self, monkeypatch):
        """Without scipy the message leads with the setting to change, as every config
        error does."""
        hide_scipy(monkeypatch)
        snap = PortfolioSnapshot(1_000.0, prices={"A": 10.0})
        with pytest.raises(InvalidConfigError) as caught:
            compute_trades(snap, {"A": 0.5}, EXACT)
        assert str(caught.value).startswith("RebalanceConfig.rounding=Rounding.OPTIMAL needs")


@needs_scipy
class TestOwnPlan:
    """OPTIMAL's own plan on books whose optimum only the MILP's finer rules reach."""

    @pytest.mark.parametrize("fee", [0.0, 1.0])
    def test_an_under_weight_holding_is_sold_to_fund_a_dearer_unit(self, fee):
        """1 A at $13 wanting 1.2 and $90 of cash: B ($97, 0.9 wanted) fits only once A is
        sold, and that is $25.30 from target against $89.90 for keeping A."""
        snap = PortfolioSnapshot(90.0, {"A": 1}, {"A": 13.0, "B": 97.0})
        # equity 90 + 13 = 103: A wants 1.2 units ($15.60), B 0.9 units ($87.30).
        targets = {"A": 15.6 / 103.0, "B": 87.3 / 103.0}
        config = attrs.evolve(EXACT, cost_per_order=fee)

        plan = own_plan(snap, targets, config)

        check_plan(snap, targets, config, plan)
        assert [("A", "sell", 1, "close"), ("B", "buy", 1, "open")] == orders(plan)
        # A 0 is $15.60 off, B 1 is $9.70 over; cash 90 + 13 - 97, less two fees.
        assert pytest.approx(25.3) == l1(plan)
        assert pytest.approx(6.0 - 2.0 * fee) == plan.projected_cash

    def test_a_whole_short_is_bought_back_below_the_floor(self):
        """Buying back a whole short is a close: never held to the cash floor, even when
        the account ends below it (no buy other than the close is sent)."""
        # A: 10 short in lots of 2, wanting 0.06 short: the close is $0.60 off, keeping
        # one lot $19.40. B (sold to zero at most) sits at its 4/3 target.
        snap = PortfolioSnapshot(
            50.0, {"A": -10, "B": 20}, {"A": 10.0, "B": 10.0}, margin=True, lot_sizes={"A": 2}
        )
        targets = {"A": -0.004, "B": 200.0 / 150.0}  # equity 50 - 100 + 200 = 150
        config = attrs.evolve(EXACT, allow_short=True, max_single_weight=2.0)

        plan = own_plan(snap, targets, config)

        check_plan(snap, targets, config, plan)
        # floor (1 - 4/3 + 0.004) x 150 = -49.40; cash after the close 50 - 100 = -50.
        assert pytest.approx(-49.4) == plan.cash_floor
        assert [("A", "buy", 10, "close")] == orders(plan)
        assert pytest.approx(-50.0) == plan.projected_cash
        assert pytest.approx(0.6) == l1(plan)

    def test_a_forced_cover_is_not_paid_for_by_selling_holdings_at_target(self):
        """Regression: a short in a cash account must be bought back, $50 with $20 of cash.
        No other buy is sent, so the floor does not bind; the MILP sold 3 B (at target) to
        lift the cash back to it, $33.40 from target where DOWN and CLOSEST end $3.40."""
        prices = {"A": 10.0, "B": 10.0, "C": 1.0}
        snap = PortfolioSnapshot(20.0, {"A": -5, "B": 10, "C": 100}, prices)
        # equity 20 - 50 + 100 + 100 = 170: A wants 0.34 units ($3.40), B its 10 units.
        targets = {"A": 0.02, "B": 100 / 170}
        config = attrs.evolve(EXACT, close_untargeted=False)

        plan = own_plan(snap, targets, config)

        check_plan(snap, targets, config, plan)
        assert [("A", "buy", 5, "close")] == orders(plan)
        assert pytest.approx(3.4) == l1(plan)  # A's 0.34 units unbought
        assert pytest.approx(-30.0) == plan.projected_cash  # 20 - 50


def buy(value, gap, steps, **fields):
    """A gated buy of whole units (``step`` 1) toward ``gap`` units."""
    spec = {"gated": True, "step": 1.0, "whole": True, "last": 1.0, "min_steps": 1.0}
    spec.update(fields)
    return Choice(gap=gap, unit_value=value, buy=True, steps=steps, required=False, **spec)


def sell(value, gap, steps, **fields):
    """An ungated sell of whole units (``step`` 1) toward ``gap`` units."""
    spec = {"gated": False, "step": 1.0, "whole": True, "last": 1.0, "min_steps": 1.0}
    spec.update({"required": False, **fields})
    return Choice(gap=gap, unit_value=value, buy=False, steps=steps, **spec)


def reversal(value, closing, size, *, buy, required=False, open_steps=0.0, **fields):
    """A reversal: the close of ``closing`` units, then whole units the other way."""
    spec = {
        "open_step": 1.0,
        "open_steps": open_steps,
        "open_min": 1.0 if open_steps else 0.0,
        "open_gated": buy,
        "close_alone": True,
    }
    spec.update(fields)
    return Choice(
        gap=closing + size,
        unit_value=value,
        buy=buy,
        gated=False,
        step=closing,
        steps=1.0,
        whole=True,
        last=closing,
        min_steps=1.0,
        required=required,
        **spec,
    )


def solved(choices, spare, *, rate=0.0, fee=0.0):
    """:func:`_milp.solve` with these costs, on a $1,000 book; it must find an answer."""
    answer = solve(choices, spare, cost_rate=rate, cost_per_order=fee, scale=1_000.0)
    assert answer is not None
    return answer


@needs_scipy
class TestSolve:
    """:func:`_milp.solve` on choices whose optimum is worked out by hand."""

    def test_the_answer_is_whole_steps_and_proven(self):
        """2.3 units wanted, cash for all: 2 whole steps, and HiGHS proves it."""
        sized, proven = solved([buy(10.0, 2.3, 3.0)], 100.0)
        assert [Sized(2.0, False, 0.0, 0.0, False)] == sized
        assert proven is True

    def test_proceeds_are_net_of_the_cost_rate(self):
        """Sells, a reversal's close and its short opening pay 1%; so does the buy."""
        choices = [
            sell(100.0, 5.0, 5.0),  # sells 5 x $100: $495 after 1%
            reversal(100.0, 1.0, 4.0, buy=False, open_steps=4.0),  # 1 + 4 x $100: $495
            buy(1.0, 2_000.0, 2_000.0),  # $990 at $1.01 a unit: 980 (981 costs $990.81)
        ]
        sized, _ = solved(choices, 0.0, rate=0.01)
        assert [5.0, 1.0, 980.0] == [s.steps for s in sized]
        assert 4.0 == sized[1].opening

    def test_fees_of_every_order_come_out_of_the_cash(self):
        """$10 a order: a required sell, a required close, a close with its opening and
        the buy they fund each pay it."""
        choices = [
            sell(100.0, 5.0, 5.0, required=True),  # $500 - 10
            reversal(100.0, 1.0, 0.0, buy=False, required=True),  # $100 - 10
            reversal(100.0, 1.0, 4.0, buy=False, open_steps=4.0),  # $100 - 10 + $400 - 10
            buy(1.0, 3_000.0, 3_000.0),  # 490 + 90 + 480 = $1,060, less its own $10 fee
        ]
        sized, _ = solved(choices, 0.0, fee=10.0)
        assert [5.0, 1.0, 1.0, 1_050.0] == [s.steps for s in sized]
        assert 4.0 == sized[2].opening

    def test_a_fee_bounds_a_buy_of_a_holding_that_may_also_sell(self):
        """$100 and a $1 fee buy 99 units of $1, also for a holding the model may sell."""
        held = buy(
            1.0, 200.0, 200.0, back_steps=10.0, back_last=1.0, back_min=1.0, back_closes=True
        )
        sized, _ = solved([held], 100.0, fee=1.0)
        assert [(99.0, 0.0)] == [(s.steps, s.back) for s in sized]

    def test_a_sale_that_closes_reports_the_close(self):
        """Selling the whole of 2 units (an exact close) funds the buy and says it closed."""
        held = buy(10.0, 0.0, 0.0, back_steps=2.0, back_last=1.0, back_min=1.0, back_closes=True)
        # 2 held at target, $15 of cash, C ($35, 1 wanted): selling both ($20 off) brings
        # C's $35 in.
        sized, _ = solved([held, buy(35.0, 1.0, 1.0)], 15.0)
        assert [Sized(0.0, False, 0.0, 2.0, True), Sized(1.0, False, 0.0)] == sized

    @pytest.mark.parametrize("required", [True, False])
    def test_an_exact_close_with_a_short_last_step(self, required):
        """2.5 held in steps of 1: the last step is 0.5, so 3 steps close exactly, they do
        not sell 3 (which would fund all 3 units of B)."""
        held = sell(10.0, 2.5, 3.0, last=0.5, closes=True, required=required)
        # $25 of proceeds buy 2 B of $10 (3 wanted): $10 from target, the least there is.
        sized, _ = solved([held, buy(10.0, 3.0, 3.0)], 0.0)
        assert [Sized(3.0, True, 0.0), Sized(2.0, False, 0.0)] == sized

    def test_a_leg_that_does_not_close_never_says_it_closed(self):
        """A sell stopped at 4 of 10 units (a kept pending sell takes the rest) is no close."""
        sized, _ = solved([sell(10.0, 9.5, 4.0, closes=False)], 0.0)
        assert [Sized(4.0, False, 0.0)] == sized

    def test_a_fractional_buy_spends_the_cash_to_the_cent(self):
        """A fractional buy (in currency steps) cut by the cash takes all of $99.50."""
        fractional = buy(1.0, 100.0, 100.0, whole=False, min_steps=0.0)
        sized, _ = solved([fractional], 99.5)
        assert sized[0].steps == pytest.approx(99.5)

    def test_a_fractional_threshold_below_a_dollar_holds(self):
        """A $0.50 minimum: $0.30 of cash is no trade, for a buy or a reversal's opening."""
        fractional = buy(1.0, 5.0, 5.0, whole=False, min_steps=0.5)
        # The short's close ($10) goes, its open (a buy, $5 wanted) would need $0.50.
        cover = reversal(1.0, 10.0, 5.0, buy=True, open_steps=5.0, open_whole=False, open_min=0.5)
        (bought,), _ = solved([fractional], 0.3)
        assert 0.0 == pytest.approx(bought.steps)
        (covered,), _ = solved([cover], 10.3)
        assert 1.0 == covered.steps
        assert 0.0 == pytest.approx(covered.opening)

    def test_a_short_at_target_is_not_bought_back_to_fund_a_buy(self):
        """Buying back a short costs cash: it never pays for B's $97 unit ($90 of cash)."""
        short = sell(
            10.0,
            0.0,
            0.0,
            back_steps=3.0,
            back_last=1.0,
            back_min=1.0,
            back_gated=True,
            back_closes=True,
        )
        sized, _ = solved([short, buy(97.0, 1.0, 1.0)], 90.0)
        assert [(0.0, 0.0), (0.0, 0.0)] == [(s.steps, s.back) for s in sized]

    @pytest.mark.parametrize(
        ("required", "closed", "bought"), [(True, 1.0, 0.0), (False, 0.0, 1.0)]
    )
    def test_a_required_close_goes_and_an_optional_one_waits(self, required, closed, bought):
        """A short's close ($50) beside a $60 unit of B, $80 of cash: the close and B do
        not both fit. Optional, the close waits ($52 off against $62); required, it goes."""
        cover = reversal(10.0, 5.0, 0.2, buy=True, required=required)
        sized, _ = solved([cover, buy(60.0, 1.0, 1.0)], 80.0)
        assert [closed, bought] == [s.steps for s in sized]

    def test_a_close_that_may_not_go_alone_waits_for_its_opening(self):
        """Close ($50) and open ($10) together need $60; with $55 neither goes."""
        cover = reversal(10.0, 5.0, 1.0, buy=True, open_steps=1.0, close_alone=False)
        sized, _ = solved([cover], 55.0)
        assert [Sized(0.0, False, 0.0)] == sized

    def test_covers_go_below_the_floor_when_no_buy_is_sent(self):
        """Two closes of shorts ($50 each) with $20 of cash: no buy is sent, so both go.

        Beside them, a long's reversal whose opening must be 10 units (0.2 wanted) stays.
        """
        covers = [reversal(10.0, 5.0, 0.2, buy=True, open_steps=1.0) for _ in range(2)]
        held = reversal(10.0, 1.0, 0.2, buy=False, open_steps=10.0, open_min=10.0)
        held = held._replace(close_alone=False)
        sized, _ = solved([*covers, held], 20.0)
        assert [1.0, 1.0, 0.0] == [s.steps for s in sized]
        assert [0.0, 0.0, 0.0] == [s.opening for s in sized]

    def test_a_required_cover_alone_is_solved_below_the_floor(self):
        """Regression: a required close of 5 short ($50) with $20 of cash and nothing to
        sell: the model had no solution (the floor bound with no buy sent)."""
        cover = reversal(10.0, 5.0, 0.7, buy=True, required=True, open_steps=1.0)
        sized, _ = solved([cover], 20.0)
        assert [(1.0, 0.0)] == [(s.steps, s.opening) for s in sized]  # no $10 opening

    def test_below_the_floor_a_buy_waits_for_the_sells_to_lift_the_cash(self):
        """$100 below the floor: selling 2 of A (its gap) leaves it below, so B's $1 unit
        (1 wanted) is not bought; nothing is sold past the gap to buy it."""
        sized, _ = solved([sell(10.0, 2.0, 10.0), buy(1.0, 1.0, 10.0)], -100.0)
        assert [2.0, 0.0] == [s.steps for s in sized]

    def test_sells_that_lift_the_cash_above_the_floor_fund_buys(self):
        """$100 below the floor, A sells 15 x $10: the $50 above it buy all 8 of B."""
        sized, _ = solved([sell(10.0, 15.0, 20.0), buy(1.0, 8.0, 10.0)], -100.0)
        assert [15.0, 8.0] == [s.steps for s in sized]

    def test_half_a_dollar_below_the_floor_nothing_is_sold_to_lift_it(self):
        """$0.50 below the floor and no buy wanted: A (0.2 over) is not sold to lift it."""
        sized, _ = solved([sell(10.0, 0.2, 10.0), buy(1.0, 0.3, 1.0)], -0.5)
        assert [0.0, 0.0] == [s.steps for s in sized]

    def test_sells_smaller_than_their_fee_still_go_when_no_buy_is_sent(self):
        """A $1 fee on $0.10 sales: each takes $0.90 of cash, and with no buy sent they
        go, below the floor (docs/semantics.md: a fee larger than its sale lowers cash)."""
        sales = [sell(0.1, 1.0, 1.0) for _ in range(3)]  # $0.10 over target each
        close = reversal(0.1, 1.0, 0.0, buy=False, required=True)  # a long to close
        # B: 0.3 of a $0.10 unit wanted, nearer unbought.
        sized, _ = solved([*sales, close, buy(0.1, 0.3, 1.0)], 0.0, fee=1.0)
        # 3 x (0.10 - 1) + 0.10 - 1: $3.60 below the floor, and every asset at target
        # but B.
        assert [1.0, 1.0, 1.0, 1.0, 0.0] == [s.steps for s in sized]

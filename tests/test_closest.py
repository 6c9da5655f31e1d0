"""Tests for the steps of CLOSEST's joint repair: paths, the greedy, exchanges and the trim.

test_allocation.py states what closest_holdings returns; these pin the steps down where
the exact search (on up to 40 whole items) would hide a worse repair.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing._closest import HoldingItem, _at_least_down, _down_holdings, closest_holdings
from rebalancing._closest_path import _snapped, convex, paths
from rebalancing._closest_repair import Joint
from rebalancing._closest_search import _EXACT_NODES, EXACT_ITEMS, JointSearch
from rebalancing._plan import round_holding, round_nearest
from rebalancing._units import snap_whole, water_level
from test_allocation import allowed, brute_holdings, holding_cash, holding_error, holding_items


def cash(item, holding, rate=0.0, fixed=0.0):
    """The cash a trade to ``holding`` uses, written out independently of the module."""
    trade = (holding - item.start) * item.unit_value
    if trade > 0:
        return trade * (1 + rate) + fixed
    if trade < 0:
        return trade * (1 - rate) + fixed
    return 0.0


def error(item, holding):
    return abs(holding - item.desired) * item.unit_value


def close(a, b):
    return a == pytest.approx(b, rel=1e-9, abs=1e-7)


@st.composite
def path_items(draw):
    """One long, a buy or a sell, on or off the grid, with or without a threshold."""
    increment = draw(st.sampled_from([1.0, 1.0, 2.0, 0.5]))
    unit_value = draw(st.floats(1.0, 300.0))
    start = increment * draw(st.integers(0, 8)) + draw(st.sampled_from([0.0, 0.0, 0.3]))
    desired = increment * draw(st.floats(0.05, 10.0))
    step = increment * unit_value
    min_value = draw(st.sampled_from([0.0, 0.0, 0.4 * step, 1.5 * step, 3.2 * step]))
    nearest = round_nearest(start, desired, increment)
    down = round_holding(start, desired, increment)
    if abs(down - start) * unit_value < min_value:
        down = start
    if nearest > start:
        return HoldingItem(start, desired, start, nearest, down, increment, unit_value, min_value)
    deeper = increment * draw(st.sampled_from([0, 1, 3]))
    low = max(min(nearest, down) - deeper, 0.0)
    if draw(st.booleans()):
        low = 0.0
    return HoldingItem(start, desired, low, start, down, increment, unit_value, min_value)


@st.composite
def fractional_items(draw):
    """One fractional long, a buy or a sell, with or without a threshold."""
    unit_value = draw(st.floats(1.0, 300.0))
    start = draw(st.sampled_from([0.0, 0.0, 0.5, 2.0, 4.25]))
    desired = draw(st.floats(0.05, 6.0))
    min_value = draw(st.sampled_from([0.0, 0.0, 0.3, 1.0, 5.0])) * unit_value
    if desired > start:
        return HoldingItem(start, desired, start, desired, desired, None, unit_value, min_value)
    low = draw(st.sampled_from([desired, 0.0, desired / 2]))
    return HoldingItem(start, desired, low, start, desired, None, unit_value, min_value)


def reachable(item, holding):
    """Whether a fractional item may end at ``holding``: start, or a trade past its minimum."""
    if holding == item.start:
        return True
    if not item.low - 1e-9 <= holding <= item.high + 1e-9:
        return False
    return abs(holding - item.start) * item.unit_value >= item.min_value * (1 - 1e-9)


class TestPaths:
    @settings(max_examples=300)
    @given(item=path_items(), rate=st.sampled_from([0.0, 0.01]), fixed=st.sampled_from([0, 2.0]))
    def test_moves_join_the_points_at_their_cash_and_error(self, item, rate, fixed):
        """Each move, and each unit inside a run, changes cash and error as the holding does."""
        (points,), (moves,), (base,), (is_convex,) = paths([item], rate, fixed)
        assert len(points) == len(moves) + 1
        assert all(a < b for a, b in itertools.pairwise(points))
        assert all(count >= 1 for count, *_ in moves)
        assert close(cash(item, points[0], rate, fixed), base)
        assert convex(moves) == is_convex
        for point, after, (count, step, dc, de, _) in zip(points, points[1:], moves, strict=False):
            assert close(after, point + count * step)
            for units in {1, count // 2, count}:
                holding = point + units * step
                used = cash(item, holding, rate, fixed) - cash(item, point, rate, fixed)
                assert close(units * dc, used)
                assert close(units * de, error(item, holding) - error(item, point))

    @settings(max_examples=300)
    @given(item=path_items(), rate=st.sampled_from([0.0, 0.01]), fixed=st.sampled_from([0, 2.0]))
    def test_a_path_runs_from_the_cheapest_holding_to_the_nearest(self, item, rate, fixed):
        """Every holding on a path is allowed; it starts at the lowest, reaches the nearest.

        And it misses none of the allowed holdings at or below the target.
        """
        (points,), (moves,), _, _ = paths([item], rate, fixed)
        on_path = set(points)
        for point, (count, step, _, _, _) in zip(points, moves, strict=False):
            on_path.update(point + units * step for units in range(1, count))
        choices = allowed(item)
        for holding in on_path:
            assert any(close(holding, a) for a in choices)
        assert close(choices[0], points[0])  # the lowest: the cheapest, bar a fixed cost
        if not fixed:
            cheapest = min(cash(item, a, rate) for a in choices)
            assert close(cheapest, cash(item, points[0], rate))
        nearest = min(choices, key=lambda a: (error(item, a), a))
        assert any(close(nearest, holding) for holding in on_path)
        for below_target in (a for a in choices if a <= item.desired):
            assert any(close(below_target, holding) for holding in on_path)
        assert not any(divisible for *_, divisible in moves)  # whole units only

    @settings(max_examples=300)
    @given(item=fractional_items(), rate=st.sampled_from([0.0, 0.01]))
    def test_a_fractional_path_covers_what_it_may_hold_up_to_the_nearest(self, item, rate):
        """Its points and divisible runs are allowed; the closest allowed holding is on it."""
        (points,), (moves,), (base,), (is_convex,) = paths([item], rate, 0.0)
        assert close(cash(item, points[0], rate), base)
        assert convex(moves) == is_convex
        for point, after, (count, step, dc, de, divisible) in zip(
            points, points[1:], moves, strict=False
        ):
            assert 1 == count
            assert close(after, point + step)
            assert close(dc, cash(item, after, rate) - cash(item, point, rate))
            assert close(de, error(item, after) - error(item, point))
            if divisible:  # every amount between is allowed, cash and error linear
                middle = point + step / 2
                assert reachable(item, middle)
                assert close(dc / 2, cash(item, middle, rate) - cash(item, point, rate))
        assert all(reachable(item, point) for point in points)
        reach = item.min_value / item.unit_value
        candidates = [item.start, item.low, item.high, item.start - reach, item.start + reach]
        candidates.append(min(max(item.desired, item.low), item.high))
        best = min(error(item, h) for h in candidates if h >= 0.0 and reachable(item, h))
        on_path = [error(item, h) for h in points]
        for point, (_, step, _, _, divisible) in zip(points, moves, strict=False):
            if divisible and point <= item.desired <= point + step:
                on_path.append(0.0)
        assert close(best, min(on_path))

    def test_a_buy_runs_to_its_target_then_rounds_up(self):
        """3.6 units from 0: three units that each save their value, then the round-up."""
        item = HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0)
        (points,), (moves,), (base,), (is_convex,) = paths([item], 0.0, 0.0)
        assert [0.0, 3.0, 4.0] == points
        assert [(3, 1.0, 10.0, -10.0, False), (1, 1.0, 10.0, pytest.approx(-2.0), False)] == moves
        assert (0.0, True) == (base, is_convex)

    def test_a_sell_runs_up_from_its_lowest_holding_back_to_its_start(self):
        """10 held, 7.4 wanted, down to 5: sells below target first, then the jump back."""
        item = HoldingItem(10.0, 7.4, 5.0, 10.0, 7.0, 1.0, 10.0, 0.0)
        (points,), (moves,), (base,), (is_convex,) = paths([item], 0.01, 0.0)
        assert [5.0, 7.0, 8.0, 10.0] == points
        assert (2, 1.0, 9.9, -10.0, False) == moves[0]
        assert (1, 1.0, 9.9, pytest.approx(2.0), False) == moves[1]
        assert (1, 2.0, pytest.approx(19.8), pytest.approx(20.0), False) == moves[2]
        assert (pytest.approx(-49.5), True) == (base, is_convex)

    def test_a_fractional_buy_is_one_divisible_move_from_its_threshold(self):
        """$5 minimum at $10 a unit: from 0 to 0.5 in one jump, then any amount up to 2.5."""
        item = HoldingItem(0.0, 2.5, 0.0, 2.5, 2.5, None, 10.0, 5.0)
        (points,), (moves,), _, _ = paths([item], 0.0, 0.0)
        assert [0.0, 0.5, 2.5] == points
        assert [False, True] == [divisible for *_, divisible in moves]

    def test_a_fractional_sell_stops_at_its_target_or_its_threshold(self):
        """4 held, 2.5 wanted, may sell to 0, $5 minimum: sells from 0 up to 2.5, or none."""
        item = HoldingItem(4.0, 2.5, 0.0, 4.0, 2.5, None, 10.0, 5.0)
        (points,), (moves,), _, _ = paths([item], 0.0, 0.0)
        assert [0.0, 2.5, 4.0] == points
        assert [True, False] == [divisible for *_, divisible in moves]
        near = HoldingItem(4.0, 3.8, 0.0, 4.0, 4.0, None, 10.0, 5.0)
        (points,), _, _, _ = paths([near], 0.0, 0.0)
        assert [0.0, 3.5, 4.0] == points  # 3.8 is a trade below $5: 3.5 is the top

    def test_a_close_from_off_the_grid_is_its_own_point(self):
        """4.5 held in whole units: 0.5 is the lowest on the grid, 0 is the close."""
        item = HoldingItem(4.5, 0.3, 0.0, 4.5, 0.5, 1.0, 100.0, 0.0)
        (points,), (moves,), (base,), _ = paths([item], 0.0, 0.0)
        assert 0.0 == points[0]
        assert 0.5 == points[1]
        assert close(-450.0, base)
        assert close(-50.0, -moves[0][2])  # keeping 0.5 frees $50 less

    def test_no_items_have_no_paths(self):
        """An empty book has empty paths."""
        assert ([], [], [], []) == paths([], 0.0, 0.0)


class TestGreedy:
    @settings(max_examples=300)
    @given(items=holding_items(), data=st.data())
    def test_the_first_greedy_from_the_top_is_the_greedy(self, items, data):
        """Worked out from the top or move by move, the first greedy ends in the same place.

        Away from exact fits: where the moves cost exactly the budget, float noise in the
        running cash decides, and the top sums exactly where move by move does not.
        """
        rate = data.draw(st.sampled_from([0.0, 0.01]))
        nearest = [max(allowed(i), key=lambda a, i=i: -error(i, a)) for i in items]
        high = holding_cash(items, nearest, rate)
        budget = data.draw(st.floats(0.0, 1.2)) * max(high, 0.0) + 3.3e-7
        top = Joint(items, budget, rate, 0.0)
        step = Joint(items, budget, rate, 0.0)
        step.fresh = False  # the greedy move by move
        top.greedy()
        step.greedy()
        assert step.at == top.at
        assert step.part == top.part
        assert sorted(step.blocked) == sorted(top.blocked)
        assert close(step.left, top.left)

    def test_the_first_greedy_gives_back_the_last_moves_and_goes_on(self):
        """$55 for $30 of runs and three $10 round-ups: the one saving least is left out."""
        items = [
            HoldingItem(0.0, 2.6, 0.0, 3.0, 2.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 1.9, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 0.55, 0.0, 1.0, 0.0, 1.0, 10.0, 0.0),
        ]
        joint = Joint(items, 55.0, 0.0, 0.0)
        joint.greedy()
        assert [3.0, 2.0, 0.0] == joint.holdings()  # C's round-up saves $1 for $10
        assert [2] == joint.blocked
        assert close(5.0, joint.left)

    def test_a_partial_run_takes_the_units_that_fit(self):
        """A run of 9 units of which 4 fit: the greedy takes 4 and blocks the item."""
        items = [HoldingItem(0.0, 9.0, 0.0, 9.0, 9.0, 1.0, 10.0, 0.0)]
        joint = Joint(items, 45.0, 0.0, 0.0)
        joint.greedy()
        assert [4.0] == joint.holdings()
        assert [0] == joint.blocked

    def test_a_move_given_back_that_fits_exactly_is_taken_again(self):
        """$20: at their tops A (2 units) and B (1) cost $40. A's round-up ($10 saving $2)
        goes back first, then B's $20 unit (saving $6): $10 left, and A's round-up, which
        costs exactly that, is taken again. Only B is blocked ([2, 0] is $17 away, [1, 0]
        $19, [0, 1] $23)."""
        items = [
            HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 0.65, 0.0, 1.0, 0.0, 1.0, 20.0, 0.0),
        ]
        joint = Joint(items, 20.0, 0.0, 0.0)
        joint.greedy()
        assert [2.0, 0.0] == joint.holdings()
        assert [1] == joint.blocked
        assert close(0.0, joint.left)

    @pytest.mark.parametrize("fresh", [True, False])
    def test_a_run_cut_to_one_unit_takes_it(self, fresh):
        """$10 for a run of three $10 units: from the top or move by move, one unit."""
        items = [HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0)]
        joint = Joint(items, 10.0, 0.0, 0.0)
        joint.fresh = fresh
        joint.greedy()
        assert [1.0] == joint.holdings()
        assert [0] == joint.blocked
        assert close(0.0, joint.left)

    def test_moves_that_cost_exactly_the_cash_left_are_taken_whole(self):
        """Move by move, $40: the run ($30) then the round-up ($10): nothing is blocked."""
        items = [HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0)]
        joint = Joint(items, 40.0, 0.0, 0.0)
        joint.fresh = False
        joint.greedy()
        assert [4.0] == joint.holdings()
        assert [] == joint.blocked

    def test_the_greedy_after_the_search_first_undoes_a_round_up_that_adds_error(self):
        """1.2 wanted at $10: the greedy stops at 1 unit; placed at 2 (as the search may
        leave it, $6 further), the next greedy gives the unit back: 1 unit, $10 left."""
        joint = Joint([HoldingItem(0.0, 1.2, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0)], 20.0, 0.0, 0.0)
        joint.greedy()
        assert [1.0] == joint.holdings()
        joint.at, joint.left = [2], 0.0
        joint.greedy()
        assert [1.0] == joint.holdings()
        assert close(10.0, joint.left)

    def test_with_a_fee_the_greedy_goes_on_to_the_round_up(self):
        """$5 an order, 3.6 wanted at $10, $45: the first unit and the run ($35), then the
        round-up ($10, saving $2) with the cash left."""
        items = [HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0)]
        joint = Joint(items, 45.0, 0.0, 5.0)
        joint.greedy()
        assert [4.0] == joint.holdings()
        assert close(0.0, joint.left)

    def test_a_round_up_saving_less_per_dollar_waits_for_the_first_units(self):
        """Move by move, $110: the first units of X ($10) and Y ($100) save $1 a dollar and
        come before X's round-up ($0.20 a dollar), which then no longer fits."""
        items = [
            HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 1.55, 0.0, 2.0, 1.0, 1.0, 100.0, 0.0),
        ]
        joint = Joint(items, 110.0, 0.0, 0.0)
        joint.fresh = False
        joint.greedy()
        assert [1.0, 1.0] == joint.holdings()
        assert [0, 1] == sorted(joint.blocked)

    def test_with_fees_the_next_moves_go_by_saving_per_dollar(self):
        """$5 an order, $60: X's first unit and run ($35 for $30) come first; then X's
        round-up (3.9 wanted: $10 saving $8) before Y's unit ($25 saving $10), which no
        longer fits."""
        items = [
            HoldingItem(0.0, 3.9, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 0.75, 0.0, 1.0, 0.0, 1.0, 20.0, 0.0),
        ]
        joint = Joint(items, 60.0, 0.0, 5.0)
        joint.greedy()
        assert [4.0, 0.0] == joint.holdings()
        assert close(15.0, joint.left)

    def test_later_greedies_move_by_move_from_where_the_items_are(self):
        """After an exchange the greedy settles, then spends what is left."""
        items = [
            HoldingItem(0.0, 2.6, 0.0, 3.0, 2.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 1.9, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
        ]
        joint = Joint(items, 40.0, 0.0, 0.0)
        joint.greedy()
        joint.at, joint.part, joint.left = [1, 0], [0.0, 0.0], 20.0
        joint.greedy()
        assert [2.0, 2.0] == joint.holdings()
        assert close(0.0, joint.left)


def dear_among_cheap(cheap):
    """One $1,000 name 0.9 units short among ``cheap`` $10 names 1.6 units short."""
    items = [HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 1000.0, 0.0)]
    items += [HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0) for _ in range(cheap)]
    return items


class TestGreedyExamples:
    @pytest.mark.parametrize("fixed", [0.0, 5.0])
    def test_move_by_move_a_round_up_that_saves_nothing_is_not_taken(self, fixed):
        """2.5 wanted: the round-up from 2 saves nothing; 2.47 wanted: it adds $0.60.
        Neither is taken, with or without a fee (which makes the path bend), move by
        move: each item buys 2 units ($20 plus the fee), $20 stays."""
        items = [
            HoldingItem(0.0, 2.5, 0.0, 3.0, 2.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 2.47, 0.0, 3.0, 2.0, 1.0, 10.0, 0.0),
        ]
        joint = Joint(items, 60.0 + 2 * fixed, 0.0, fixed)
        joint.fresh = False
        joint.greedy()
        assert [2.0, 2.0] == joint.holdings()
        assert close(20.0, joint.left)

    def test_a_move_that_leaves_the_error_as_it_is_is_not_taken(self):
        """1.5 units wanted: the round-up from 1 to 2 saves nothing, so $10 stays unspent."""
        items = [
            HoldingItem(0.0, 1.5, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 10.0, 0.0),
        ]
        joint = Joint(items, 30.0, 0.0, 0.0)
        joint.greedy()
        assert [1.0, 1.0] == joint.holdings()
        assert close(10.0, joint.left)

    def test_the_exact_search_places_holdings_inside_runs_of_lots(self):
        """From nothing bought, exact() puts each item on its path, inside a run of lots of 2."""
        items = [
            HoldingItem(0.0, 9.0, 0.0, 10.0, 8.0, 2.0, 5.0, 0.0),
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 30.0, 0.0),
        ]
        joint = Joint(items, 60.0, 0.0, 0.0)
        joint.exact()
        assert [6.0, 1.0] == joint.holdings()
        assert close(0.0, joint.left)
        assert [6.0, 1.0] == [joint.holding(0), joint.holding(1)]


class TestExchange:
    def test_a_dear_unit_is_afforded_by_giving_up_cheap_round_ups_and_units(self):
        """$100: the greedy buys B's and C's units and round-ups (ratios 1 and 0.2), leaving
        $60, short of A's $100 unit (saving $80). Giving up both round-ups ($20 for $4 of
        error) and both first units ($20 for $20) frees the $40 missing for $24: A is
        bought, $42 away instead of $98. Nothing is left to exchange after."""
        items = [
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0),
            HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
        ]
        joint = Joint(items, 100.0, 0.0, 0.0)
        joint.greedy()
        assert [0.0, 2.0, 2.0] == joint.holdings()
        assert [0] == joint.blocked
        assert close(60.0, joint.left)
        assert joint.exchange()
        assert [1.0, 0.0, 0.0] == joint.holdings()
        assert close(0.0, joint.left)
        assert close(42.0, joint.error())  # 98 - 80 + 24
        joint.greedy()
        assert not joint.exchange()

    def test_the_walk_gives_up_only_the_units_of_a_run_it_needs(self):
        """$155: eight $10 units of D ($80), $75 short of A's $100 unit (saving $80).
        Three of D's units free the $25 missing for $30 of error: A is bought, D keeps 5
        ($40 away, against $90), $5 left (six units of D would not fit)."""
        items = [
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0),
            HoldingItem(0.0, 8.0, 0.0, 8.0, 8.0, 1.0, 10.0, 0.0),
        ]
        joint = Joint(items, 155.0, 0.0, 0.0)
        joint.greedy()
        assert [0.0, 8.0] == joint.holdings()
        assert joint.exchange()
        assert [1.0, 5.0] == joint.holdings()
        assert close(5.0, joint.left)
        assert close(40.0, joint.error())

    def test_the_need_is_completed_by_the_small_release_not_the_big_one(self):
        """$185: the greedy buys X's $60 unit, the first units and round-ups of three $10
        names and X's $60 round-up (saving $6), $5 left, short of A's $100 unit (saving $80).

        The $95 missing: X's round-up and the three cheap ones free $90 for $12 of error.
        The last $5 can come from X's first unit ($60 of error) or one cheap first unit
        ($10): the cheap one. $129 - 80 + 22 = $71 away, $5 left."""
        items = [
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0),
            HoldingItem(0.0, 1.55, 0.0, 2.0, 1.0, 1.0, 60.0, 0.0),
        ]
        items += [HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0)] * 3
        joint = Joint(items, 185.0, 0.0, 0.0)
        joint.greedy()
        assert [0.0, 2.0, 2.0, 2.0, 2.0] == joint.holdings()
        assert close(129.0, joint.error())
        assert joint.exchange()
        assert [1.0, 1.0, 0.0, 1.0, 1.0] == joint.holdings()
        assert close(5.0, joint.left)
        assert close(71.0, joint.error())

    def test_an_exchange_that_gains_less_than_a_dollar_is_made(self):
        """$100.50: five fractional $16 units of D ($80), $20.50 left for A's $100 unit
        (saving $80). Giving up 4.96875 units of D frees the $79.50 missing for $79.50 of
        error: a gain of $0.50, made ($90 away before, $89.50 after)."""
        items = [
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0),
            HoldingItem(0.0, 5.0, 0.0, 5.0, 5.0, None, 16.0, 0.0),
        ]
        joint = Joint(items, 100.5, 0.0, 0.0)
        joint.greedy()
        assert [0.0, 5.0] == joint.holdings()
        assert joint.exchange()
        assert [1.0, pytest.approx(0.03125)] == joint.holdings()
        assert close(89.5, joint.error())
        assert close(0.0, joint.left)

    @staticmethod
    def four_dear_names_and_a_cheaper_one(padding=0):
        """Four $100 units saving $60, B's $50 unit saving $40, C's $50 unit saving $15,
        four $10 names 1.6 units short and ``padding`` names at target, with $80."""
        items = [HoldingItem(0.0, 0.8, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0)] * 4
        items.append(HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 50.0, 0.0))
        items.append(HoldingItem(0.0, 0.65, 0.0, 1.0, 0.0, 1.0, 50.0, 0.0))
        items += [HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0)] * 4
        items += [HoldingItem(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 10.0, 0.0)] * padding
        joint = Joint(items, 80.0, 0.0, 0.0)
        joint.greedy()
        return joint

    def test_every_move_wanted_is_tried_on_a_small_book(self):
        """$80: the greedy buys the four first units ($40) and round-ups ($40); nothing
        else fits. A dear unit needs $100: the round-ups ($8 of error) and six first
        units ($60) add more than its $60. B's $50: the round-ups and one first unit
        free it for $18 of error, $22 gained. C ($15 of gain) cannot beat that.
        $320 + 45 + 32.5 + 16 = $413.5 away, then $413.5 - 40 + 18 = $391.5."""
        joint = self.four_dear_names_and_a_cheaper_one()
        assert [0.0] * 6 + [2.0] * 4 == joint.holdings()
        assert close(0.0, joint.left)
        assert close(413.5, joint.error())
        assert joint.exchange()
        assert [0.0] * 4 + [1.0, 0.0, 0.0] + [1.0] * 3 == joint.holdings()
        assert close(0.0, joint.left)
        assert close(391.5, joint.error())

    @pytest.mark.parametrize(("padding", "made"), [(30, True), (31, False)])
    def test_past_the_exact_search_only_the_four_most_valuable_moves_are_tried(self, padding, made):
        """With 40 items (the exact search's most), B is tried after the four dear units;
        with 41 only the four dear units are (none pays), and no exchange is made."""
        joint = self.four_dear_names_and_a_cheaper_one(padding)
        assert len(joint.items) == 10 + padding
        assert made == joint.exchange()
        assert (1.0 if made else 0.0) == joint.holdings()[4]

    def test_cheap_first_units_are_given_up_after_their_round_ups(self):
        """$8: B and C ($1 units, 1.75 wanted) get their units and round-ups; $4 left is
        short of A's $8 unit (saving $6). Both round-ups (adding $0.50 each), then both
        first units ($1 each) free $4 for $3: A bought, $7.50 - 6 + 3 = $4.50 away."""
        items = [
            HoldingItem(0.0, 0.875, 0.0, 1.0, 0.0, 1.0, 8.0, 0.0),
            HoldingItem(0.0, 1.75, 0.0, 2.0, 1.0, 1.0, 1.0, 0.0),
            HoldingItem(0.0, 1.75, 0.0, 2.0, 1.0, 1.0, 1.0, 0.0),
        ]
        joint = Joint(items, 8.0, 0.0, 0.0)
        joint.greedy()
        assert [0.0, 2.0, 2.0] == joint.holdings()
        assert close(4.0, joint.left)
        assert joint.exchange()
        assert [1.0, 0.0, 0.0] == joint.holdings()
        assert close(4.5, joint.error())

    def test_a_move_that_freed_no_cash_is_not_given_up(self):
        """$5 an order: keeping S's fifth $5 unit (not selling it) costs nothing and is 0.4
        units from target, not 0.6. A's $100 unit ($105) cannot be afforded from $50:
        undoing S's move would free no cash, so no exchange."""
        items = [
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0),
            HoldingItem(5.0, 4.6, 4.0, 5.0, 5.0, 1.0, 5.0, 0.0),
        ]
        joint = Joint(items, 50.0, 0.0, 5.0)
        joint.greedy()
        assert [0.0, 5.0] == joint.holdings()
        assert not joint.exchange()
        assert [0.0, 5.0] == joint.holdings()

    def test_with_nothing_blocked_there_is_no_exchange(self):
        """$40 buys the run and the round-up: nothing left to want, no exchange."""
        joint = Joint([HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0)], 40.0, 0.0, 0.0)
        joint.greedy()
        assert [] == joint.blocked
        assert not joint.exchange()

    def test_an_exchange_that_costs_as_much_error_as_it_saves_is_not_made(self):
        """$100 buys ten $10 units each saving $10; A's $100 unit saves $80: freeing $100
        would add $100 of error. No exchange; the holdings and cash stay."""
        items = [HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0)]
        items += [HoldingItem(0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 10.0, 0.0)] * 10
        joint = Joint(items, 100.0, 0.0, 0.0)
        joint.greedy()
        assert [0.0] + [1.0] * 10 == joint.holdings()
        assert not joint.exchange()
        assert [0.0] + [1.0] * 10 == joint.holdings()
        assert close(0.0, joint.left)

    def test_cheap_round_ups_and_a_unit_are_given_up_for_the_dear_name(self):
        """Past the exact search: the dear unit is afforded by giving up every cheap round-up."""
        items = dear_among_cheap(EXACT_ITEMS)
        assert len(items) > EXACT_ITEMS
        budget = 10.0 * EXACT_ITEMS + 995.0
        actual = closest_holdings(items, budget, cost_rate=0.0, cost_per_order=0.0)
        assert 1.0 == actual[0]
        assert [0.0] + [1.0] * (EXACT_ITEMS - 1) == sorted(actual[1:])
        assert holding_cash(items, actual) <= budget
        assert close(100.0 + 6.0 * (EXACT_ITEMS - 1) + 16.0, holding_error(items, actual))

    def test_an_exchange_that_does_not_pay_is_not_made(self):
        """Giving up 40 round-ups and 40 units ($800 of error) to save $800 is no gain."""
        items = dear_among_cheap(EXACT_ITEMS)
        budget = 10.0 * EXACT_ITEMS + 200.0
        actual = closest_holdings(items, budget, cost_rate=0.0, cost_per_order=0.0)
        assert 0.0 == actual[0]

    def test_the_walk_completes_the_need_with_the_release_that_adds_least(self):
        """$5 short: one unit of a cheap run covers it for less than a dear round-up."""
        items = dear_among_cheap(EXACT_ITEMS + 5)
        budget = 10.0 * (EXACT_ITEMS + 5) + 1000.0 + 10.0 * (EXACT_ITEMS + 5) - 5.0
        actual = closest_holdings(items, budget, cost_rate=0.0, cost_per_order=0.0)
        assert 1.0 == actual[0]
        assert holding_cash(items, actual) <= budget
        assert close(100.0 + 4.0 * (EXACT_ITEMS + 4) + 6.0, holding_error(items, actual))

    @settings(max_examples=100)
    @given(data=st.data())
    def test_large_books_are_never_further_than_the_greedy(self, data):
        """Exchanges only ever lower the error of the greedy's answer, within the budget."""
        items = []
        for _ in range(EXACT_ITEMS + 1):
            unit_value = data.draw(st.sampled_from([3.0, 10.0, 25.0, 400.0, 1500.0]))
            desired = data.draw(st.floats(0.3, 4.0))
            nearest = round_nearest(0.0, desired, 1.0)
            down = round_holding(0.0, desired, 1.0)
            items.append(HoldingItem(0.0, desired, 0.0, nearest, down, 1.0, unit_value, 0.0))
        full = holding_cash(items, [i.high for i in items])
        budget = data.draw(st.floats(0.5, 1.0)) * full
        greedy = Joint(items, budget, 0.0, 0.0)
        greedy.greedy()
        actual = closest_holdings(items, budget, cost_rate=0.0, cost_per_order=0.0)
        assert holding_cash(items, actual) <= budget
        assert holding_error(items, actual) <= greedy.error() * (1 + 1e-12)


class TestTrim:
    def test_an_overdraft_is_covered_by_the_unit_that_adds_least_error(self):
        """Over by $3: a $10 unit 0.1 past target goes before a $100 one or a run unit."""
        items = [
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0),
            HoldingItem(0.0, 1.9, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
        ]
        joint = Joint(items, 137.0, 0.0, 0.0)
        joint.at = [1, 2, 2]  # $140
        joint.left = -3.0
        joint.trim()
        assert [1.0, 2.0, 1.0] == joint.holdings()
        assert close(7.0, joint.left)

    def test_a_unit_that_covers_the_overdraft_exactly_is_the_one_given_back(self):
        """Over by exactly $10: each $10 round-up covers it; C's adds $2, B's $8, A's $100
        unit $80: C's goes, nothing left over."""
        items = [
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0),
            HoldingItem(0.0, 1.9, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
        ]
        joint = Joint(items, 130.0, 0.0, 0.0)
        joint.at = [1, 2, 2]  # $140
        joint.left = -10.0
        joint.trim()
        assert [1.0, 2.0, 1.0] == joint.holdings()
        assert close(0.0, joint.left)

    def test_of_two_units_as_good_the_first_is_given_back(self):
        """Over by $3, two identical $10 round-ups each adding $2: the first item's goes."""
        items = [HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0)] * 2
        joint = Joint(items, 37.0, 0.0, 0.0)
        joint.at = [2, 2]
        joint.left = -3.0
        joint.trim()
        assert [1.0, 2.0] == joint.holdings()

    def test_a_one_dollar_unit_covers_a_small_overdraft(self):
        """Five $1 units held, over by $0.50: one is given back, $0.50 left."""
        joint = Joint([HoldingItem(0.0, 9.0, 0.0, 9.0, 9.0, 1.0, 1.0, 0.0)], 4.5, 0.0, 0.0)
        joint.at, joint.part, joint.left = [0], [5.0], -0.5
        joint.trim()
        assert [4.0] == joint.holdings()
        assert close(0.5, joint.left)

    def test_units_of_a_run_are_given_back_together_until_one_covers_the_rest(self):
        """Nine $10 units held, $45 of cash: over by $45, four go at once, then a fifth."""
        joint = Joint([HoldingItem(0.0, 9.0, 0.0, 9.0, 9.0, 1.0, 10.0, 0.0)], 45.0, 0.0, 0.0)
        joint.at, joint.left = [1], -45.0
        joint.trim()
        assert [4.0] == joint.holdings()
        assert close(5.0, joint.left)

    def test_after_the_dearest_unit_the_cheapest_covering_one_goes(self):
        """Over by $150: no unit covers it, so one $100 unit of A goes (not both); the
        $50 still over is covered by C's $60 unit (adding $6) rather than A's other
        ($100, adding $100): $110 - 100 = $10 left."""
        items = [
            HoldingItem(0.0, 2.0, 0.0, 2.0, 2.0, 1.0, 100.0, 0.0),
            HoldingItem(0.0, 0.55, 0.0, 1.0, 1.0, 1.0, 60.0, 0.0),
        ]
        joint = Joint(items, 110.0, 0.0, 0.0)
        joint.at, joint.left = [1, 1], -150.0
        joint.trim()
        assert [1.0, 0.0] == joint.holdings()
        assert close(10.0, joint.left)

    def test_after_the_dearest_unit_a_cheap_unit_covers_the_rest(self):
        """Over by $105: A's $100 unit goes first (no unit covers), then one $10 unit of
        C covers the $5 left: C keeps 8."""
        items = [
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0),
            HoldingItem(0.0, 9.0, 0.0, 9.0, 9.0, 1.0, 10.0, 0.0),
        ]
        joint = Joint(items, 85.0, 0.0, 0.0)
        joint.at, joint.left = [1, 1], -105.0
        joint.trim()
        assert [0.0, 8.0] == joint.holdings()
        assert close(5.0, joint.left)

    def test_a_move_that_frees_no_cash_is_not_given_back(self):
        """$5 an order, $5 units: undoing the sell of one unit frees nothing; trim stops."""
        joint = Joint([HoldingItem(5.0, 4.6, 4.0, 5.0, 5.0, 1.0, 5.0, 0.0)], -1.0, 0.0, 5.0)
        joint.at, joint.left = [1], -1.0
        joint.trim()
        assert [5.0] == joint.holdings()

    def test_without_a_covering_unit_the_dearest_goes_first(self):
        """Over by $150: no single unit covers it, so the $100 unit goes, then a $10 one."""
        items = [
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 100.0, 0.0),
            HoldingItem(0.0, 1.9, 0.0, 2.0, 1.0, 1.0, 60.0, 0.0),
        ]
        joint = Joint(items, 70.0, 0.0, 0.0)
        joint.at = [1, 2]
        joint.left = -150.0
        joint.trim()
        assert [0.0, 1.0] == joint.holdings()
        assert close(10.0, joint.left)

    def test_a_sell_is_never_given_back_to_cover_an_overdraft(self):
        """Undoing a sell costs cash: with nothing else to give back, trim stops."""
        items = [HoldingItem(5.0, 3.0, 3.0, 5.0, 3.0, 1.0, 10.0, 0.0)]
        joint = Joint(items, -30.0, 0.0, 0.0)
        joint.at = [1]
        joint.left = -1.0
        joint.trim()
        assert [3.0] == joint.holdings()


class TestTrimFractions:
    def test_a_fraction_taken_is_given_back_whole(self):
        """Over by $1 with 1.5 units of a fractional buy: the part taken is given back."""
        items = [HoldingItem(0.0, 3.0, 0.0, 3.0, 3.0, None, 10.0, 0.0)]
        joint = Joint(items, 14.0, 0.0, 0.0)
        joint.at, joint.part, joint.left = [0], [0.5], -1.0  # half the move of 3 units
        assert [pytest.approx(1.5)] == joint.holdings()
        joint.trim()
        assert [0.0] == joint.holdings()


class TestNoBuys:
    def test_sells_go_to_their_closest_and_buys_stay(self):
        """Nothing fits: each sell ends at its point closest to target, the smaller on a tie."""
        items = [
            HoldingItem(10.0, 7.5, 5.0, 10.0, 7.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 5.0, 0.0, 5.0, 5.0, 1.0, 10.0, 0.0),
            HoldingItem(6.0, 2.2, 0.0, 6.0, 2.0, 1.0, 10.0, 0.0),
        ]
        actual = closest_holdings(items, -1000.0, cost_rate=0.0, cost_per_order=0.0)
        assert [7.0, 0.0, 2.0] == actual


class TestSmallBooks:
    @pytest.mark.oracle
    @settings(max_examples=100)
    @given(items=holding_items(), data=st.data())
    def test_with_costs_the_repair_alone_fits_and_is_never_worse_than_down(self, items, data):
        """Fixed costs make paths non-convex: the greedy move by move still fits the budget."""
        fixed = data.draw(st.sampled_from([1.0, 5.0]))
        lowest = [allowed(i)[0] for i in items]
        nearest = [min(allowed(i), key=lambda h, i=i: (abs(h - i.desired), h)) for i in items]
        low = holding_cash(items, lowest, 0.0, fixed)
        high = holding_cash(items, nearest, 0.0, fixed)
        budget = low + data.draw(st.floats(0.0, 1.0)) * (high - low)
        actual = closest_holdings(items, budget, cost_rate=0.0, cost_per_order=fixed)
        if any(h > i.start for i, h in zip(items, actual, strict=True)):
            assert holding_cash(items, actual, 0.0, fixed) <= budget
        expected = brute_holdings(items, budget, 0.0, fixed)
        assert holding_error(items, actual) <= expected * (1 + 1e-9) + 1e-9


class TestSnapWhole:
    @pytest.mark.parametrize(
        ("ratio", "expected"),
        [
            (3 * 0.1 / 0.1, 3.0),
            (2.9999999999999996, 3.0),
            (-2.0000000000000004, -2.0),
            (2.5, 2.5),
            (255_219_920.98, 255_219_920.98),
            (0.0, 0.0),
        ],
    )
    def test_float_noise_snaps_to_the_whole_number(self, ratio, expected):
        """Only noise within FLOAT_NOISE of the ratio's size is snapped."""
        assert expected == snap_whole(ratio)

    def test_a_wider_tolerance_snaps_a_budget_margin(self):
        """54.999999995 is 55 within 1e-9, not within float noise."""
        assert 55.0 == snap_whole(54.999999995, 1e-9)
        assert 54.999999995 == snap_whole(54.999999995)
        assert 1.0 == snap_whole(1.0000000005, 1e-9)  # below 1 the tolerance is absolute


class TestWaterLevel:
    def test_every_buy_is_cut_by_the_same_value(self):
        """$100 for buys of $80 and $60: both cut by $20, to $60 and $40."""
        assert 20.0 == water_level([80.0, 60.0], 100.0, 0.0, 0.0)

    def test_small_buys_below_the_level_are_dropped(self):
        """$50 for $80, $60 and $5: the level is above $5, which is not funded."""
        level = water_level([80.0, 60.0, 5.0], 50.0, 0.0, 0.0)
        assert 45.0 == level
        assert math.isclose(50.0, (80.0 - level) + (60.0 - level))

    def test_costs_are_paid_from_the_budget(self):
        """1% and $2 per order on two buys: (v - L) * 1.01 + 2 per buy spends $100."""
        level = water_level([80.0, 60.0], 100.0, 0.01, 2.0)
        assert math.isclose(100.0, (80.0 - level) * 1.01 + 2.0 + (60.0 - level) * 1.01 + 2.0)

    def test_nothing_is_funded_without_a_budget(self):
        """No cash (or no buys): the level is the largest buy, or 0."""
        assert 80.0 == water_level([80.0, 60.0], 0.0, 0.0, 0.0)
        assert 0.0 == water_level([], 100.0, 0.0, 0.0)

    def test_a_budget_below_one_order_funds_nothing(self):
        """$1 with $2 per order: not even the largest buy is afforded."""
        assert 80.0 == water_level([80.0, 60.0], 1.0, 0.0, 2.0)

    def test_a_budget_beyond_every_buy_funds_them_all(self):
        """More cash than the buys: the level is 0."""
        assert 0.0 == water_level([80.0, 60.0], 500.0, 0.0, 0.0)


class TestDownHoldings:
    def test_buys_are_truncated_and_cut_by_the_same_value(self):
        """$60 for DOWN's $50 and $30 buys: both cut by $10, to 4 and 2 units."""
        items = [
            HoldingItem(0.0, 5.6, 0.0, 6.0, 5.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 3.2, 0.0, 3.0, 3.0, 1.0, 10.0, 0.0),
        ]
        assert [4.0, 2.0] == _down_holdings(items, 60.0, 0.0, 0.0)

    def test_sells_go_to_down_and_their_cash_funds_the_buys(self):
        """A sell of 3 units frees $30: with $30 more, the $50 buy is cut to $60 - $10 less."""
        items = [
            HoldingItem(10.0, 7.4, 7.0, 10.0, 7.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 6.5, 0.0, 7.0, 6.0, 1.0, 10.0, 0.0),
        ]
        assert [7.0, 6.0] == _down_holdings(items, 30.0, 0.0, 0.0)
        assert [7.0, 5.0] == _down_holdings(items, 29.0, 0.0, 0.0)

    def test_a_cut_buy_below_its_minimum_is_dropped_and_its_cash_goes_to_the_rest(self):
        """$45 for $40 and $20 buys, $15 minimum: B cut to $12.5 is dropped; A gets 4 units."""
        items = [
            HoldingItem(0.0, 4.2, 0.0, 4.0, 4.0, 1.0, 10.0, 15.0),
            HoldingItem(0.0, 2.1, 0.0, 2.0, 2.0, 1.0, 10.0, 15.0),
        ]
        assert [4.0, 0.0] == _down_holdings(items, 45.0, 0.0, 0.0)

    def test_lots_and_fractions_are_cut_as_they_trade(self):
        """Lots of 2 are cut to whole lots; a fractional buy takes the exact amount left."""
        items = [
            HoldingItem(0.0, 6.5, 0.0, 6.0, 6.0, 2.0, 10.0, 0.0),
            HoldingItem(1.0, 4.0, 1.0, 4.0, 4.0, None, 10.0, 0.0),
        ]
        # $70 for $60 and $30: level $10, the lot buy $50 is 4 units (2 lots), B $20.
        assert [4.0, 3.0] == _down_holdings(items, 70.0, 0.0, 0.0)

    def test_costs_come_out_of_the_budget(self):
        """1% and $1 per order: $62 funds both buys cut to $29.70 of value each, whole units."""
        items = [
            HoldingItem(0.0, 4.0, 0.0, 4.0, 4.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 4.0, 0.0, 4.0, 4.0, 1.0, 10.0, 0.0),
        ]
        assert [2.0, 2.0] == _down_holdings(items, 62.0, 0.01, 1.0)
        assert [3.0, 3.0] == _down_holdings(items, 82.0, 0.01, 1.0)  # $82.80 for all 8
        assert [4.0, 4.0] == _down_holdings(items, 83.0, 0.01, 1.0)


class TestAtLeastDown:
    items = (
        HoldingItem(0.0, 1.5, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
        HoldingItem(0.0, 1.5, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
    )

    def test_as_close_item_by_item_the_result_stays(self):
        """[2, 1] is as close as DOWN's [1, 1] for every item: no need to compute DOWN's."""
        actual = _at_least_down(list(self.items), 30.0, [2.0, 1.0], rate=0.0, fixed=0.0)
        assert [2.0, 1.0] == actual

    def test_on_a_tie_in_total_downs_even_cut_wins(self):
        """[2, 0] is $9 away like DOWN's [1, 1] ($3 + $6 against $7 + $2): DOWN's answer."""
        items = [
            HoldingItem(0.0, 1.7, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 1.5, 0.0, 2.0, 1.0, 1.0, 4.0, 0.0),
        ]
        assert [1.0, 1.0] == _at_least_down(items, 20.0, [2.0, 0.0], rate=0.0, fixed=0.0)

    def test_a_closer_result_stays(self):
        """[2, 2] is closer than DOWN's; it stays."""
        actual = _at_least_down(list(self.items), 40.0, [2.0, 2.0], rate=0.0, fixed=0.0)
        assert [2.0, 2.0] == actual

    def test_a_result_further_than_down_gives_way(self):
        """[0, 2] ($20 away) against DOWN's [1, 1] ($10): DOWN's answer."""
        actual = _at_least_down(list(self.items), 30.0, [0.0, 2.0], rate=0.0, fixed=0.0)
        assert [1.0, 1.0] == actual

    def test_downs_sells_stand_in_though_they_raise_less_than_asked(self):
        """$20 to raise: selling A (5 held, 1.9 wanted, $4) out raises it, $7.6 + $5.4 away;
        DOWN sells to 1 ($16, short of $20) and buys nothing: $3.6 + $5.4, closer. Its
        sells are sent whatever cash they bring: DOWN's answer."""
        items = [
            HoldingItem(5.0, 1.9, 0.0, 5.0, 1.0, 1.0, 4.0, 0.0),
            HoldingItem(0.0, 5.4, 0.0, 5.0, 5.0, 1.0, 1.0, 0.0),
        ]
        assert [1.0, 0.0] == _at_least_down(items, -20.0, [0.0, 0.0], rate=0.0, fixed=0.0)

    def test_down_buys_the_first_of_two_that_do_not_both_fit(self):
        """DOWN's two units ($20) do not fit $19.99. Cut evenly, neither is bought; DOWN
        drops the smaller (the later on a tie) and buys the other, $10 closer than
        nothing, so that answer stands in for a result that buys nothing.

        Regression: CLOSEST computed DOWN's answer with another drop rule (every buy the
        even cut left at 0 went) and bought nothing where the planner's DOWN bought one
        unit: $11 of cash, a $10 fee, two $1 assets 5.5 units under target."""
        actual = _at_least_down(list(self.items), 19.99, [0.0, 0.0], rate=0.0, fixed=0.0)
        assert [1.0, 0.0] == actual
        assert [0.0, 0.0] == _at_least_down(list(self.items), 9.99, [0.0, 0.0], rate=0.0, fixed=0.0)


class TestConvex:
    @pytest.mark.parametrize(
        ("moves", "expected"),
        [
            ([], True),
            ([(3, 1.0, 10.0, -10.0, False), (1, 1.0, 10.0, -2.0, False)], True),
            ([(3, 1.0, 10.0, -2.0, False), (1, 1.0, 10.0, -10.0, False)], False),
            ([(1, 1.0, 10.0, -5.0, False), (1, 1.0, 10.0, -5.0, False)], True),
            ([(1, 1.0, 10.0, 3.0, False), (1, 1.0, 10.0, -10.0, False)], False),
            ([(1, 1.0, 10.0, -3.0, False), (1, 1.0, 10.0, 3.0, False)], True),
            ([(1, 1.0, -10.0, -3.0, False)], False),
            ([(1, 1.0, 0.0, -3.0, False)], False),
            ([(1, 1.0, 10.0, 0.0, False), (1, 1.0, 10.0, -1.0, False)], False),
            ([(1, 1.0, -10.0, 0.0, False)], True),  # frees cash, error unchanged
            ([(1, 1.0, -10.0, 0.5, False)], True),  # frees cash, adds error
            ([(1, 1.0, 0.5, -0.1, False), (1, 1.0, 0.5, -0.05, False)], True),
        ],
    )
    def test_error_lowering_moves_come_first_by_falling_saving_per_dollar(self, moves, expected):
        """Convex: every move that lowers the error costs cash and saves no more per dollar."""
        assert expected == convex(moves)


#: A fractional buy of 3 units at $10, and runs of 9 whole $10 and $1 units.
FRACTIONAL_BUY = HoldingItem(0.0, 3.0, 0.0, 3.0, 3.0, None, 10.0, 0.0)
TEN_DOLLAR_RUN = HoldingItem(0.0, 9.0, 0.0, 9.0, 9.0, 1.0, 10.0, 0.0)
ONE_DOLLAR_RUN = HoldingItem(0.0, 9.0, 0.0, 9.0, 9.0, 1.0, 1.0, 0.0)
#: 4 held of $50 units, 6 wanted; and $10 units behind a $35 minimum (a block of 4).
FIFTY_DOLLAR_PAIR = HoldingItem(4.0, 6.0, 4.0, 6.0, 6.0, 1.0, 50.0, 0.0)
BLOCK_OF_FOUR = HoldingItem(0.0, 9.0, 0.0, 9.0, 9.0, 1.0, 10.0, 35.0)


class TestPartial:
    @pytest.mark.parametrize(
        ("book", "expected"),
        [
            # $0.50 for a fractional buy: 0.05 units, though it saves only $0.50.
            pytest.param((FRACTIONAL_BUY, 0.5, 0.0, 0.0), (0.05, 0.0), id="a few cents"),
            # $12 for the fractional buy of $30: 1.2 units, to the cent.
            pytest.param((FRACTIONAL_BUY, 12.0, 0.0, 0.0), (1.2, 0.0), id="to the cent"),
            # $12 with $1 of slack: 1.1 units, the budget's float noise left unspent.
            pytest.param((FRACTIONAL_BUY, 12.0, 0.0, 1.0), (1.1, 1.0), id="slack unspent"),
            # $4.50 for nine $1 units: 4, $0.50 left.
            pytest.param((ONE_DOLLAR_RUN, 4.5, 0.0, 0.0), (4.0, 0.5), id="units that fit"),
            # $1 an order, $50 units, 4 held, 6 wanted: $97 pays one ($51), not two ($101).
            pytest.param((FIFTY_DOLLAR_PAIR, 97.0, 1.0, 0.0), (5.0, 46.0), id="one with a fee"),
            # $5 per order: $38 buys the first unit ($15) and two more ($20), not a fourth.
            pytest.param((TEN_DOLLAR_RUN, 38.0, 5.0, 0.0), (3.0, 3.0), id="fee, then the run"),
            # $9.9999999999 snaps to one $10 unit, which overdraws: none is taken.
            pytest.param((TEN_DOLLAR_RUN, 9.9999999999, 0.0, 0.0), (0.0, None), id="hair below 1"),
            # $29.9999999999 snaps to 3 units of $10, which overdraw: 2 are taken.
            pytest.param((TEN_DOLLAR_RUN, 29.9999999999, 0.0, 0.0), (2.0, None), id="below 3"),
            # A $35 minimum on $10 units: $30 cannot start the buy; $45 buys 4 (a block of 4).
            pytest.param((BLOCK_OF_FOUR, 30.0, 0.0, 0.0), (0.0, None), id="block not started"),
            pytest.param((BLOCK_OF_FOUR, 45.0, 0.0, 0.0), (4.0, None), id="block taken whole"),
        ],
    )
    def test_the_greedy_takes_what_the_cash_pays_for(self, book, expected):
        """The greedy buys as much of a run as the budget pays for, fees and blocks included."""
        item, budget, fixed, slack = book
        holding, left = expected
        joint = Joint([item], budget, 0.0, fixed, slack=slack)
        joint.greedy()
        assert [pytest.approx(holding)] == joint.holdings()
        if left is not None:
            assert close(left, joint.left)

    def test_move_by_move_a_fractional_buy_takes_the_cash_left(self):
        """$12 for a fractional buy of $30, the greedy move by move: 1.2 units."""
        joint = Joint([FRACTIONAL_BUY], 12.0, 0.0, 0.0)
        joint.fresh = False
        joint.greedy()
        assert [pytest.approx(1.2)] == joint.holdings()

    def test_exactly_the_units_that_fit_end_the_move(self):
        """$30 for a run of 9 units of $10: 3, at the move's start plus 3."""
        joint = Joint([TEN_DOLLAR_RUN], 30.0, 0.0, 0.0)
        joint.greedy()
        assert [3.0] == joint.holdings()
        assert ([0], [3.0]) == (joint.at, joint.part)

    def test_a_unit_that_does_not_fit_with_its_order_cost_is_not_taken(self):
        """$14 cannot pay a $10 unit and its $5 order cost: nothing is bought, it is blocked."""
        joint = Joint([HoldingItem(0.0, 0.7, 0.0, 1.0, 0.0, 1.0, 10.0, 0.0)], 14.0, 0.0, 5.0)
        joint.greedy()
        assert [0.0] == joint.holdings()
        assert [0] == joint.blocked


def search_of(items, rate=0.0, fixed=0.0):
    """The exact search over ``items`` (in their order) on their paths."""
    points, moves, _, _ = paths(items, rate, fixed)
    return JointSearch(list(items), points, moves, rate, fixed)


class TestSearch:
    @pytest.mark.oracle
    @settings(max_examples=200)
    @given(items=holding_items(), data=st.data())
    def test_alone_the_search_finds_the_optimum(self, items, data):
        """From no answer at all, the search reaches the brute-force optimum within budget.

        Away from exact fits: there the running cash's float noise may cut a branch (the
        repair's own answer, which the search starts from in the planner, then stands).
        """
        rate = data.draw(st.sampled_from([0.0, 0.001, 0.01]))
        fixed = data.draw(st.sampled_from([0.0, 1.0, 5.0]))
        lowest = [allowed(i)[0] for i in items]
        nearest = [min(allowed(i), key=lambda h, i=i: (abs(h - i.desired), h)) for i in items]
        low = holding_cash(items, lowest, rate, fixed)
        high = holding_cash(items, nearest, rate, fixed)
        budget = low + data.draw(st.floats(0.0, 1.0)) * (high - low) + 3.3e-7
        found = search_of(items, rate, fixed).run(budget, math.inf, [])
        expected = brute_holdings(items, budget, rate, fixed)
        if found is None:
            assert math.inf == expected
            return
        assert holding_cash(items, found, rate, fixed) <= budget
        assert expected == pytest.approx(holding_error(items, found), rel=1e-9, abs=1e-9)

    def test_it_keeps_an_answer_it_cannot_beat(self):
        """Started from the optimum, the search finds nothing better: None."""
        items = [
            HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 2.7, 0.0, 3.0, 2.0, 1.0, 10.0, 0.0),
        ]
        best = [2.0, 3.0]
        assert search_of(items).run(50.0, holding_error(items, best), best) is None

    def test_its_answer_fits_and_lowers_the_error(self):
        """$1,055 for a dear round-up and cheap ones: the dear unit and the best cheap ones."""
        items = [
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 1000.0, 0.0),
            HoldingItem(0.0, 2.6, 0.0, 3.0, 2.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
        ]
        found = search_of(items).run(1055.0, math.inf, [])
        assert found is not None
        assert 1.0 == found[0]
        assert holding_cash(items, found) <= 1055.0
        assert brute_holdings(items, 1055.0) == pytest.approx(holding_error(items, found))

    def test_the_last_item_takes_as_many_units_of_its_run_as_the_cash_allows(self):
        """One item, a run of 9 units of $10: $47 buys 4."""
        items = [HoldingItem(0.0, 9.0, 0.0, 9.0, 9.0, 1.0, 10.0, 0.0)]
        assert [4.0] == search_of(items).run(47.0, math.inf, [])

    def test_a_hard_search_stops_after_its_node_budget(self):
        """Thirty buys every one short of a round-up: the search gives up near its budget."""
        items = [
            HoldingItem(
                0.0, k % 4 + 0.55 + 0.013 * k, 0.0, k % 4 + 1.0, k % 4, 1.0, 7.0 + 3.1 * k, 0
            )
            for k in range(30)
        ]
        budget = 0.5 * holding_cash(items, [i.high for i in items])
        search = search_of(items)
        search.run(budget, math.inf, [])
        assert _EXACT_NODES < search.nodes <= _EXACT_NODES + 100  # the last item's points

    def test_a_holding_that_spends_exactly_the_cash_left_is_taken(self):
        """3.6 wanted at $10: $40 buys the round-up to 4 exactly, $4 away instead of $6."""
        items = [HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0)]
        assert [4.0] == search_of(items).run(40.0, math.inf, [])

    def test_of_two_holdings_as_close_the_cheaper_is_kept(self):
        """1.5 wanted: 1 and 2 units are both $5 away; with $20 the search keeps 1 ($10)."""
        items = [HoldingItem(0.0, 1.5, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0)]
        assert [1.0] == search_of(items).run(20.0, math.inf, [])

    @pytest.mark.parametrize("value", [10.0, 0.5])
    def test_a_tie_between_items_goes_to_the_first(self, value):
        """Two buys of 1.75 units, cash for one round-up: [2, 1] and [1, 2] are both
        0.25 + 0.75 units away; the first item takes it, and started from [1, 2] the
        search finds nothing better (a tie is no gain, above or below $1 of error)."""
        items = [HoldingItem(0.0, 1.75, 0.0, 2.0, 1.0, 1.0, value, 0.0)] * 2
        # Three units fit: [1, 1] is 1.5 units away, either round-up saves 0.5 of them.
        assert [2.0, 1.0] == search_of(items).run(3.0 * value, math.inf, [])
        assert search_of(items).run(3.0 * value, value, [1.0, 2.0]) is None

    def test_it_returns_an_answer_better_by_less_than_a_dollar(self):
        """Started from 3 units of a $1 buy 3.6 units short ($0.6 away), $4 buys 4 ($0.4)."""
        items = [HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 1.0, 0.0)]
        assert [4.0] == search_of(items).run(4.0, 0.6, [3.0])

    def test_a_sell_never_ends_inside_its_minimum_trade(self):
        """5 held, 4.4 wanted, $15 minimum on $10 units: 4 is not allowed, 5 is nearest.

        Allowed: 0 to 3 (selling at least 2 units) or 5: 5 is 0.6 units away, 3 is 1.4."""
        items = [HoldingItem(5.0, 4.4, 0.0, 5.0, 5.0, 1.0, 10.0, 15.0)]
        assert [5.0] == search_of(items).run(0.0, math.inf, [])

    @pytest.mark.parametrize("value", [1.0, 100.0])
    def test_raising_cash_keeps_the_unit_the_fee_leaves_room_for(self, value):
        """6 held, 3.2 wanted, 4 units' worth to raise and one unit's worth per order.

        Selling down to h frees (6 - h) units less one in fees: at least 4 only for h <= 1,
        and 1 (2.2 units away) beats 0 (3.2 away): the run of sells stops a unit short."""
        items = [HoldingItem(6.0, 3.2, 0.0, 6.0, 3.0, 1.0, value, 0.0)]
        found = search_of(items, fixed=value).run(-4.0 * value, math.inf, [])
        assert [1.0] == found

    def test_a_first_unit_that_takes_every_dollar_is_tried(self):
        """$1: one $1 unit of A (4.1 wanted) fits exactly, B's $10 unit does not.

        [1, 0] is 3.1 + 9 = $12.1 away, [0, 0] $13: the unit is bought."""
        items = [
            HoldingItem(0.0, 4.1, 0.0, 4.0, 4.0, 1.0, 1.0, 0.0),
            HoldingItem(0.0, 0.9, 0.0, 1.0, 0.0, 1.0, 10.0, 0.0),
        ]
        assert [1.0, 0.0] == search_of(items).run(1.0, math.inf, [])

    def test_a_sell_funds_buys_only_as_far_as_the_cash_needs(self):
        """$138 to raise, $5 an order: A ($50 units, 3.1 wanted from 5), B ($5, 3.2 wanted).

        A at 2 frees $145: $7 left, short of B's first unit ($10). A at 1 frees $195
        and B at 3 costs $20: 105 + 1 = $106 away against [2, 0]'s 55 + 16 = $71;
        A at 3 frees only $95."""
        items = [
            HoldingItem(5.0, 3.1, 0.0, 5.0, 3.0, 1.0, 50.0, 0.0),
            HoldingItem(0.0, 3.2, 0.0, 3.0, 3.0, 1.0, 5.0, 0.0),
        ]
        assert [2.0, 0.0] == search_of(items, fixed=5.0).run(-138.0, math.inf, [])

    def test_a_sell_dearer_in_fees_than_it_brings_may_still_be_closest(self):
        """$192 to raise, $5 an order: B (4 held, 1.8 wanted, $100 units) sells 2 for $195.

        Then A ($2 units, 4 held, 2.9 wanted) at 3 costs $3 net (a $2 sell, a $5 fee) and
        fits exactly: $0.2 + $20 away, closer than A at 4 ($2.2) or at 2 ($1.8). B at 1
        (frees $295) is $80 away, at 3 frees too little."""
        items = [
            HoldingItem(4.0, 2.9, 0.0, 4.0, 2.0, 1.0, 2.0, 0.0),
            HoldingItem(4.0, 1.8, 0.0, 4.0, 1.0, 1.0, 100.0, 0.0),
        ]
        assert [3.0, 2.0] == search_of(items, fixed=5.0).run(-192.0, math.inf, [])

    def test_a_sell_funds_the_buy_its_fee_allows(self):
        """$2 and $1 an order: B (6 held, 0.6 wanted, $1 units) sold out frees $5.

        $7 buys 3 of A ($2 units, 5.8 wanted): $5.6 + $0.6 away. B at 1 frees $4, A 2
        units: $7.6 + $0.4; keeping B, $2 cannot pay A's first unit and its fee."""
        items = [
            HoldingItem(0.0, 5.8, 0.0, 6.0, 5.0, 1.0, 2.0, 0.0),
            HoldingItem(6.0, 0.6, 0.0, 6.0, 0.0, 1.0, 1.0, 0.0),
        ]
        assert [3.0, 0.0] == search_of(items, fixed=1.0).run(2.0, math.inf, [])

    def test_a_holding_at_target_is_not_sold_for_buys_that_save_less(self):
        """$6 and $5 an order: neither A ($2 units, block of 2) nor C ($4) can be bought.

        Selling B (at target, $5 units) s units frees 5s - 5 and adds $5s of error; what
        it funds saves at most $1 per dollar less a $5 fee: nothing is traded."""
        items = [
            HoldingItem(0.0, 4.3, 0.0, 4.0, 4.0, 1.0, 2.0, 3.0),
            HoldingItem(4.0, 4.0, 0.0, 4.0, 4.0, 1.0, 5.0, 0.0),
            HoldingItem(0.0, 4.7, 0.0, 5.0, 4.0, 1.0, 4.0, 0.0),
        ]
        assert [0.0, 4.0, 0.0] == search_of(items, fixed=5.0).run(6.0, math.inf, [])

    def test_twelve_buys_are_proven_optimal_within_the_node_budget(self):
        """Twelve buys of 1.6 + 0.01 k units at $10, $165: every first unit, then the four
        round-ups that save most (k = 8 to 11), $5 left over.

        A first unit saves $10 for $10, a round-up 2 + 0.2 k for $10: giving up a first
        unit never pays. At 1 unit they are 72 + 0.1 * 66 = $78.6 away, the four
        round-ups save 8 + 0.2 * 38 = $15.6: $63."""
        items = [HoldingItem(0.0, 1.6 + 0.01 * k, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0) for k in range(12)]
        search = search_of(items)
        found = search.run(165.0, math.inf, [])
        assert search.nodes <= _EXACT_NODES
        assert [1.0] * 8 + [2.0] * 4 == found
        assert close(63.0, holding_error(items, found))

    def test_each_holding_tried_counts_once(self):
        """One item's path 0, 3, 4 (3.6 wanted): the search tries its three points."""
        items = [HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0)]
        search = search_of(items)
        search.run(100.0, math.inf, [])
        assert 3 == search.nodes


class TestSnapped:
    @pytest.mark.parametrize(
        ("ratio", "expected"),
        [
            (2.9999999995, (3.0, 3)),  # up to the whole number above
            (1.9999999985, (2.0, 2)),  # the tolerance grows with the ratio above 1
            (-1.9999999985, (-2.0, -2)),  # ... and below -1
            (-3.0000000005, (-3.0, -3)),
            (0.9999999995, (1.0, 1)),  # between -1 and 1 it is absolute
            (5e-10, (0.0, 0)),
            (1.5e-9, (1.5e-9, 0)),  # just past it
            (2.5, (2.5, 2)),
            (-2.5, (-2.5, -3)),
        ],
    )
    def test_a_count_is_snapped_as_snap_margin_does_and_floored(self, ratio, expected):
        """(snapped ratio, its floor): the budget margin's tolerance, relative past 1."""
        assert expected == _snapped(ratio)
        assert expected[0] == snap_whole(ratio, 1e-9)

    def test_snap_whole_below_one_is_absolute(self):
        """1 + 1.5e-12 is past float noise (1e-12) of 1: not snapped."""
        assert 1.0000000000015 == snap_whole(1.0000000000015)


class TestPrefix:
    run_and_round_up = HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0)

    def test_a_convex_items_next_move_alone(self):
        """Three units saving $10 each for $10, then the round-up saving $2: one at a time."""
        joint = Joint([self.run_and_round_up], 100.0, 0.0, 0.0)
        assert (1.0, 0, 30.0, -30.0) == joint.prefix(0)
        joint.part = [1.0]  # one unit of the run taken
        assert (1.0, 0, 20.0, -20.0) == joint.prefix(0)
        joint.at, joint.part = [1], [0.0]
        ratio, last, cash, error = joint.prefix(0)
        assert (pytest.approx(0.2), 1, 10.0, pytest.approx(-2.0)) == (ratio, last, cash, error)
        joint.at = [2]
        assert joint.prefix(0) is None

    @pytest.mark.parametrize("desired", [1.5, 1.47])
    def test_a_move_that_does_not_lower_the_error_is_no_prefix(self, desired):
        """A round-up that saves nothing (1.5) or adds error (1.47) is not a next move."""
        joint = Joint([HoldingItem(0.0, desired, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0)], 100.0, 0, 0)
        joint.at = [1]
        assert joint.prefix(0) is None

    def test_with_a_fixed_cost_the_best_run_of_moves_together(self):
        """$5 per order: the first unit ($15) with the run ($20) saves most per dollar."""
        joint = Joint([self.run_and_round_up], 100.0, 0.0, 5.0)
        assert not joint.convex[0]
        assert (pytest.approx(30 / 35), 1, 35.0, -30.0) == joint.prefix(0)
        joint.at, joint.part = [1], [1.0]  # inside the run: one of its two units left
        assert (1.0, 1, 10.0, -10.0) == joint.prefix(0)


class TestSettle:
    def test_a_round_up_that_adds_error_is_given_back(self):
        """1.2 wanted, 2 held by the path's end: the unit adding $6 of error is undone."""
        joint = Joint([HoldingItem(0.0, 1.2, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0)], 20.0, 0.0, 0.0)
        joint.at, joint.left = [2], 0.0
        joint.settle()
        assert [1.0] == joint.holdings()
        assert close(10.0, joint.left)

    @pytest.mark.parametrize(("desired", "kept"), [(1.5, 2.0), (1.475, 1.0)])
    def test_only_a_move_that_adds_error_is_undone(self, desired, kept):
        """A round-up that leaves the error as it is stays; one adding $0.50 goes."""
        joint = Joint([HoldingItem(0.0, desired, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0)], 20.0, 0, 0)
        joint.at, joint.left = [2], 0.0
        joint.settle()
        assert [kept] == joint.holdings()

    def test_a_sell_kept_above_its_target_is_sold_again(self):
        """5 held, 2.2 wanted, may sell down to 4: kept at 5 it is $10 further and $10
        dearer; settling sells it: 4 units, $5 + 10 left."""
        joint = Joint([HoldingItem(5.0, 2.2, 4.0, 5.0, 4.0, 1.0, 10.0, 0.0)], 0.0, 0.0, 0.0)
        joint.at, joint.left = [1], 5.0
        joint.settle()
        assert [4.0] == joint.holdings()
        assert close(15.0, joint.left)

    def test_a_move_that_adds_error_and_frees_nothing_is_undone(self):
        """$5 an order, $5 units: selling 5 down to 4 frees $5 less its $5 fee, nothing;
        4.2 wanted, 4 is $3 closer than 5: settling sells."""
        joint = Joint([HoldingItem(5.0, 4.2, 4.0, 5.0, 4.0, 1.0, 5.0, 0.0)], 0.0, 0.0, 5.0)
        joint.at, joint.left = [1], 0.0
        joint.settle()
        assert [4.0] == joint.holdings()

    def test_a_cheap_move_that_adds_error_is_undone_too(self):
        """A $0.50 unit adding error is given back like any other."""
        joint = Joint([HoldingItem(0.0, 1.2, 0.0, 2.0, 1.0, 1.0, 0.5, 0.0)], 1.0, 0.0, 0.0)
        joint.at, joint.left = [2], 0.0
        joint.settle()
        assert [1.0] == joint.holdings()
        assert close(0.5, joint.left)

    def test_every_item_is_settled(self):
        """The first item has nothing to undo; the second still gives its unit back."""
        items = [
            HoldingItem(0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 1.2, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
        ]
        joint = Joint(items, 30.0, 0.0, 0.0)
        joint.at, joint.left = [1, 2], 0.0
        joint.settle()
        assert [1.0, 1.0] == joint.holdings()


class TestDownAtTheBudget:
    def test_down_that_fits_exactly_stands_in(self):
        """DOWN's [1, 1] costs exactly the $14 budget: on a tie its answer is taken."""
        items = [
            HoldingItem(0.0, 1.7, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 1.5, 0.0, 2.0, 1.0, 1.0, 4.0, 0.0),
        ]
        assert [1.0, 1.0] == _at_least_down(items, 14.0, [2.0, 0.0], rate=0.0, fixed=0.0)

    def test_a_fractional_buy_keeps_the_budgets_float_noise_unspent(self):
        """$12 with $1 of slack for a fractional buy at $8: 1.375 units ($11), not 1.5."""
        items = [HoldingItem(0.0, 3.0, 0.0, 3.0, 3.0, None, 8.0, 0.0)]
        actual = closest_holdings(items, 12.0, cost_rate=0.0, cost_per_order=0.0, slack=1.0)
        assert [pytest.approx(1.375)] == actual

    def test_without_slack_downs_fractional_buy_spends_the_whole_budget(self):
        """Nothing bought against DOWN's fractional buy of $12 at $10: DOWN's 1.2 units."""
        items = [HoldingItem(0.0, 3.0, 0.0, 3.0, 3.0, None, 10.0, 0.0)]
        assert [pytest.approx(1.2)] == _at_least_down(items, 12.0, [0.0], rate=0.0, fixed=0.0)

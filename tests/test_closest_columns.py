"""Tests for CLOSEST's large-book arrays: the same paths, steps and answers as per item.

A book of at least ``COLUMN_ITEMS`` items runs the repair's passes over every item in
numpy; these tests hold them to the per-item code, exactly (``==``, not approximately),
on books of any size (the threshold is patched to send a small book either way).
"""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing import _closest_exchange, _closest_repair
from rebalancing._closest import HoldingItem, _nearest, closest_holdings
from rebalancing._closest_columns import COLUMN_ITEMS, Columns, Lazy, Releases, column_paths
from rebalancing._closest_columns import _snapped as _column_snapped
from rebalancing._closest_path import _snapped, paths
from rebalancing._closest_repair import Joint
from test_allocation import holding_items
from test_closest import fractional_items, path_items


@st.composite
def books(draw, min_size=1, max_size=12):
    """Whole items of every kind, some fractional ones too."""
    items = draw(st.lists(path_items(), min_size=min_size, max_size=max_size))
    if draw(st.booleans()):
        items += draw(st.lists(fractional_items(), max_size=3))
    return draw(st.permutations(items))


def in_arrays(large):
    """Patch the threshold so that a book of any size is repaired in arrays, or not."""
    return mock.patch.object(_closest_repair, "COLUMN_ITEMS", 1 if large else 10**9)


def both_ways(items, budget, rate, fixed):
    """``closest_holdings`` of a book per item, in arrays, and with every pass in arrays."""
    answers = []
    for large, many in ((False, 32), (True, 32), (True, 1)):
        with in_arrays(large), mock.patch.object(_closest_exchange, "_MANY_BLOCKED", many):
            answers.append(closest_holdings(items, budget, cost_rate=rate, cost_per_order=fixed))
    return answers


class TestColumnPaths:
    @pytest.mark.oracle
    @settings(max_examples=200)
    @given(items=books(), rate=st.sampled_from([0.0, 0.01]), fixed=st.sampled_from([0.0, 2.0]))
    def test_the_arrays_hold_the_paths_the_items_have_one_by_one(self, items, rate, fixed):
        """Points, moves, the first point's cash and convexity are those of ``paths``."""
        all_points, all_moves, bases, convexes = paths(items, rate, fixed)
        columns, column_bases, column_convexes = column_paths(items, rate, fixed)
        assert bases == column_bases.tolist()
        assert convexes == column_convexes
        assert [i for i, c in enumerate(convexes) if not c] == columns.bent
        for row, (points, moves) in enumerate(zip(all_points, all_moves, strict=True)):
            assert len(moves) == columns.sizes[row]
            assert points == columns.points_of(row)
            assert moves == columns.moves_of(row)
            assert points == columns.points[row, : len(points)].tolist()
            assert all(math.isinf(p) for p in columns.points[row, len(points) :])
            assert not columns.count[row, len(moves) :].any()

    def test_a_path_too_long_for_int64_counts_is_built_per_item(self):
        """Past 2**52 increments the simple columns give way to the per-item code."""
        items = [HoldingItem(0.0, 1e17, 0.0, 1e17, 1e17, 1.0, 1.0, 0.0)]
        (points,), (moves,), _, _ = paths(items, 0.0, 0.0)
        columns, _, _ = column_paths(items, 0.0, 0.0)
        assert (points, moves) == (columns.points_of(0), columns.moves_of(0))


class TestRepairInArrays:
    @pytest.mark.oracle
    @settings(max_examples=200)
    @given(items=holding_items(), data=st.data())
    def test_a_small_book_gets_the_same_holdings(self, items, data):
        """The greedy, exchanges and the exact search end where the per-item code does."""
        rate = data.draw(st.sampled_from([0.0, 0.01]))
        fixed = data.draw(st.sampled_from([0.0, 0.0, 1.0]))
        high = sum(abs(i.high - i.start) * i.unit_value for i in items)
        budget = data.draw(st.floats(-0.5, 1.2)) * high
        per_item, arrays, all_arrays = both_ways(items, budget, rate, fixed)
        assert per_item == arrays == all_arrays

    @settings(max_examples=50)
    @given(items=books(min_size=41, max_size=60), data=st.data())
    def test_a_large_book_gets_the_same_holdings(self, items, data):
        """Past the exact search, the exchanges and the trim end where the per-item code does."""
        rate = data.draw(st.sampled_from([0.0, 0.001]))
        fixed = data.draw(st.sampled_from([0.0, 0.0, 1.0]))
        high = sum(max(i.high - i.start, 0.0) * i.unit_value for i in items)
        sells = sum((i.start - i.low) * i.unit_value for i in items)
        budget = data.draw(st.floats(0.0, 1.05)) * high - data.draw(st.floats(0.0, 0.5)) * sells
        per_item, arrays, all_arrays = both_ways(items, budget, rate, fixed)
        assert per_item == arrays == all_arrays

    def test_the_threshold_sends_a_large_book_to_the_arrays(self):
        """A book of COLUMN_ITEMS items keeps arrays; one item fewer does not."""
        item = HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0)
        assert Joint([item] * COLUMN_ITEMS, 0.0, 0.0, 0.0).columns is not None
        assert Joint([item] * (COLUMN_ITEMS - 1), 0.0, 0.0, 0.0).columns is None

    def test_an_item_is_made_into_its_moves_when_first_asked_for(self):
        """A large book's points and moves read as lists, one item at a time."""
        items = [HoldingItem(0.0, 1.6, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0)] * 3
        with in_arrays(large=True):
            joint = Joint(items, 0.0, 0.0, 0.0)
        assert 3 == len(joint.moves)
        assert [[0.0, 1.0, 2.0]] * 3 == list(joint.points)
        assert joint.moves[1] is joint.moves[1]
        with pytest.raises(IndexError):
            joint.points[3]

    @pytest.mark.oracle
    @settings(max_examples=100)
    @given(items=books(min_size=2), data=st.data())
    def test_holdings_cash_and_error_are_summed_as_per_item(self, items, data):
        """Where a greedy leaves the items, the arrays find the same sums, exactly."""
        budget = data.draw(st.floats(0.0, 1.0)) * sum(i.high * i.unit_value for i in items)
        joints = []
        for large in (False, True):
            with in_arrays(large):
                joints.append(Joint(items, budget, 0.001, 0.0))
            joints[-1].greedy()
        per_item, arrays = joints
        assert per_item.holdings() == arrays.holdings()
        assert (per_item.spent(), per_item.error()) == (arrays.spent(), arrays.error())


@st.composite
def standings(draw):
    """A book and where each item stands on its path: a per-item and an arrays repair."""
    items = draw(books(min_size=2))
    rate = draw(st.sampled_from([0.0, 0.001]))
    fixed = draw(st.sampled_from([0.0, 1.0]))
    joints = []
    for large in (False, True):
        with in_arrays(large):
            joints.append(Joint(items, 0.0, rate, fixed))
    per_item, arrays = joints
    at, part = [], []
    for moves in per_item.moves:
        move = draw(st.integers(0, len(moves)))
        count = moves[move][0] if move < len(moves) else 1
        units = draw(st.integers(0, count - 1)) if count > 1 else 0
        at.append(move)
        part.append(float(units))
    left = draw(st.floats(-50.0, 500.0))
    for joint in joints:
        joint.at, joint.part, joint.left = list(at), list(part), left
    return per_item, arrays


@pytest.mark.oracle
class TestEachPassInArrays:
    """Each pass a large book makes over every item gives what the per-item code gives."""

    @given(standings())
    def test_settle_undoes_the_same_moves(self, joints):
        per_item, arrays = joints
        per_item.settle()
        arrays.settle()
        assert (per_item.at, per_item.part, per_item.left) == (
            arrays.at,
            arrays.part,
            arrays.left,
        )

    @given(standings())
    def test_the_next_moves_are_the_same(self, joints):
        per_item, arrays = joints
        assert sorted(per_item._next_moves()) == sorted(arrays._next_moves())

    @given(standings(), st.data())
    def test_the_wanted_moves_of_blocked_items_are_the_same(self, joints, data):
        per_item, arrays = joints
        count = len(per_item.items)
        blocked = data.draw(st.lists(st.integers(0, count - 1), min_size=1, unique=True))
        expected = []
        for index in blocked:
            found = per_item.prefix(index)
            if found is not None and found[2] > per_item.left:
                expected.append((-found[3], index, found[1], found[2]))
        wanted, others = arrays.columns.wanted(arrays.state(), blocked, arrays.left)
        for index in others:
            found = arrays.prefix(index)
            if found is not None and found[2] > arrays.left:
                wanted.append((-found[3], index, found[1], found[2]))
        assert sorted(expected) == sorted(wanted)
        assert sorted(others) == sorted(i for i in blocked if not per_item.convex[i])

    @given(standings())
    def test_the_releases_are_the_same_in_the_same_order(self, joints):
        per_item, arrays = joints
        releases = arrays.columns.releases(arrays.state())
        while releases.more():
            pass
        assert sorted(_closest_exchange._release_heap(per_item)) == list(releases.chunks)

    @given(standings())
    def test_the_nearest_holdings_are_the_same(self, joints):
        per_item, arrays = joints
        assert _nearest(per_item) == arrays.columns.nearest().tolist()

    @given(standings(), st.integers(0, 10**6))
    def test_as_close_as_down_is_judged_item_by_item(self, joints, pick):
        """True for DOWN's holdings and for one item moved to its target; false once one
        item ends further from target than DOWN's holding."""
        _, arrays = joints
        columns, items = arrays.columns, arrays.items
        down = np.array([item.down for item in items])
        assert columns.no_closer(down)
        index = pick % len(items)
        item = items[index]
        moved = down.copy()
        moved[index] = item.desired
        assert columns.no_closer(moved)
        away = 1.0 if item.down >= item.desired else -1.0
        moved[index] = item.desired + away * (abs(item.down - item.desired) + 1.0)
        assert not columns.no_closer(moved)


class TestExactSumsNearTheEdge:
    @settings(max_examples=300)
    @given(
        trades=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40),
        rate=st.sampled_from([0.0, 0.001]),
        fixed=st.sampled_from([0.0, 1.0]),
        nudge=st.sampled_from([0, 1, -1]),
    )
    @pytest.mark.oracle
    def test_the_cash_fits_the_budget_as_its_exact_sum_does(self, trades, rate, fixed, nudge):
        """At the exact sum and one float either side, the shortcut agrees with fsum."""
        table = np.zeros((len(trades), 8))
        table[:, 6] = 1.0
        columns = Columns(table, 3)
        holdings = np.array(trades)
        exact = columns.cash_of(holdings, rate, fixed)
        budget = exact
        for _ in range(abs(nudge)):
            budget = math.nextafter(budget, math.copysign(math.inf, nudge))
        assert (exact <= budget) == columns.fits(holdings, rate, fixed, budget)

    @settings(max_examples=300)
    @given(
        errors=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=40),
        change=st.sampled_from([0.0, 1e-12, -1e-12, 5.0, -5.0]),
    )
    @pytest.mark.oracle
    def test_errors_compare_as_their_exact_sums_do(self, errors, change):
        """Errors that differ by float noise, or by more, compare as their fsums do."""
        first = np.array(errors)
        second = first.copy()
        second[0] = abs(second[0] + change)
        for a, b in ((first, second), (second, first)):
            expected = math.fsum(a.tolist()) >= math.fsum(b.tolist())
            assert expected == Columns.no_less(a, b)


class TestLazy:
    def test_a_lazy_list_makes_each_value_when_asked(self):
        """Indexing, length and iteration; out of range raises IndexError."""
        squares = Lazy(3, lambda index: index * index)
        assert (3, [0, 1, 4], 4) == (len(squares), list(squares), squares[2])
        with pytest.raises(IndexError):
            squares[-1]


def assert_same_paths(items, rate, fixed):
    """``column_paths`` holds, row by row, what ``paths`` builds item by item."""
    all_points, all_moves, bases, convexes = paths(items, rate, fixed)
    columns, column_bases, column_convexes = column_paths(items, rate, fixed)
    assert bases == column_bases.tolist()
    assert convexes == column_convexes
    assert [i for i, c in enumerate(convexes) if not c] == columns.bent
    for row, (points, moves) in enumerate(zip(all_points, all_moves, strict=True)):
        assert (points, moves) == (columns.points_of(row), columns.moves_of(row))
        assert points == columns.points[row, : len(points)].tolist()


#: A long that may sell down to 1 or buy up to 4 (3 held, 3.4 wanted).
TWO_SIDED = HoldingItem(3.0, 3.4, 1.0, 4.0, 3.0, 1.0, 10.0, 0.0)
#: A long on the grid that may sell it all.
SELLS_ALL = HoldingItem(4.0, 1.5, 0.0, 4.0, 1.0, 1.0, 10.0, 0.0)
#: 0.5 units worth $5, a $5 minimum trade: selling it all, off the grid, is allowed.
CLOSES_AT_THE_MINIMUM = HoldingItem(0.5, 0.2, 0.0, 0.5, 0.0, 1.0, 10.0, 5.0)
#: 0.6 units worth $6, a $7 minimum trade: selling it all is too small (and 1 unit less
#: than 0.6 is below 0).
TOO_SMALL_TO_CLOSE = HoldingItem(0.6, 0.2, 0.0, 0.6, 0.6, 1.0, 10.0, 7.0)
#: A buy of 1e17 units: past 2**52 increments, built per item.
HUGE = HoldingItem(0.0, 1e17, 0.0, 1e17, 1e17, 1.0, 1.0, 0.0)
#: 1.8e15 units, 0.5 over target, that may all be sold in lots of 0.1: 1.8e16 lots, past
#: 2**52, though the target is 5 lots away.
HUGE_SALE = HoldingItem(
    1801439850948200.0, 1801439850948199.5, 0.0, 1801439850948200.0, 1801439850948200.0, 0.1, 7.3, 0
)
#: A buy with a $25 minimum trade: blocks of 3 units ($30).
BLOCKED = HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 25.0)
#: A long held under its target that may sell 6 lots: the run up and the step back to
#: the holding save the same per dollar, but for float noise (the step back saves a
#: hair more), so the path is not convex.
NOISY_BEND = HoldingItem(18.0, 21.69323126304689, 0.0, 18.0, 18.0, 3.0, 254.56552159280713, 0.0)


class TestColumnPathsAtTheEdges:
    @pytest.mark.parametrize("rate", [0.0, 0.01])
    @pytest.mark.parametrize(
        "items",
        [
            [TWO_SIDED],
            [TWO_SIDED, SELLS_ALL],
            [SELLS_ALL, CLOSES_AT_THE_MINIMUM],
            [TOO_SMALL_TO_CLOSE],
            [HUGE, BLOCKED],
            [HUGE_SALE],
            [NOISY_BEND, SELLS_ALL],
        ],
        ids=[
            "two-sided",
            "two-sided-and-a-close",
            "close-at-minimum",
            "too-small",
            "huge",
            "huge-sale",
            "bent",
        ],
    )
    def test_edge_items_have_the_paths_they_have_one_by_one(self, items, rate):
        """Items that sell and buy, close at the minimum, are too small to close, lie past
        2**52 steps (beside a threshold block, or below the target), or bend by float
        noise: the same paths."""
        assert_same_paths(items, rate, 0.0)

    def test_the_bent_path_is_found_bent(self):
        """The float-noise bend above is not convex, in arrays as item by item."""
        columns, _, convexes = column_paths([NOISY_BEND, SELLS_ALL], 0.0, 0.0)
        assert [False, True] == convexes
        assert [0] == columns.bent

    def test_no_items_have_no_column_paths(self):
        """An empty book has no rows, no bases and no convexities."""
        columns, bases, convexes = column_paths([], 0.0, 0.0)
        assert (0, [], []) == (len(columns.sizes), bases.tolist(), convexes)

    def test_an_items_points_are_made_once(self):
        """Asking twice for a simple item's points gives the same list, not a new one."""
        columns, _, _ = column_paths([SELLS_ALL, TWO_SIDED], 0.0, 0.0)
        first = columns.points_of(0)
        assert [0.0, 1.0, 2.0, 4.0] == first  # lowest 0, the run to 1 (1.5 wanted), 2, back
        assert first is columns.points_of(0)
        assert columns.points_of(1) is columns.points_of(1)


class TestPathsAtTheEdges:
    """Per-item paths the random books rarely reach, worked out by hand."""

    @pytest.mark.parametrize("rate", [0.0, 0.01])
    @pytest.mark.parametrize(
        "item",
        [
            HoldingItem(0.0, 2.4, 0.0, 3.0, 2.0, 1.0, 0.3, 0.3),  # a buy: run to 2, round-up
            HoldingItem(5.0, 2.4, 1.0, 5.0, 2.0, 1.0, 0.3, 0.3),  # a sell: 1 up to 3, back
        ],
    )
    def test_a_threshold_a_float_above_one_step_blocks_nothing(self, item, rate):
        """A $0.1 * 3 minimum (0.30000000000000004) on $0.30 units is one unit: the path is
        the one with a $0.30 minimum, in arrays too."""
        noisy = item._replace(min_value=0.1 * 3)
        assert noisy.min_value > item.min_value
        assert paths([noisy], rate, 0.0) == paths([item], rate, 0.0)
        assert_same_paths([noisy], rate, 0.0)

    def test_selling_it_all_worth_exactly_the_minimum_is_a_point(self):
        """0.5 units at $10, a $5 minimum, 1% cost: 0 is a point, 0.5 back up the path."""
        (points,), (moves,), bases, convexes = paths([CLOSES_AT_THE_MINIMUM], 0.01, 0.0)
        assert [0.0, 0.5] == points
        ((count, step, cash, error, divisible),) = moves
        # Selling all frees 0.5 * $10 * 0.99 = $4.95, so keeping 0.5 costs $4.95 of it;
        # error: |0.5 - 0.2| * $10 = $3 held, |0 - 0.2| * $10 = $2 sold: +$1.
        assert (1, 0.5, False) == (count, step, divisible)
        assert (cash, error) == (pytest.approx(4.95), pytest.approx(1.0))
        assert ([pytest.approx(-4.95)], [True]) == (bases, convexes)

    def test_a_buy_capped_below_its_target_runs_to_its_cap(self):
        """3.5 wanted, 2 at most: one run of 2 units saving $10 each at $10.10."""
        item = HoldingItem(0.0, 3.5, 0.0, 2.0, 2.0, 1.0, 10.0, 0.0)
        (points,), (moves,), _, _ = paths([item], 0.01, 0.0)
        assert [0.0, 2.0] == points
        assert [(2, 1.0, pytest.approx(10.1), -10.0, False)] == moves
        assert_same_paths([item], 0.01, 0.0)

    def test_with_a_fixed_cost_a_sell_stops_at_its_round_up(self):
        """5 held, 2.5 wanted, down to 1, $2 an order: points 1, 2, 3 (the round-up) and 5."""
        item = HoldingItem(5.0, 2.5, 1.0, 5.0, 3.0, 1.0, 10.0, 0.0)
        (points,), (moves,), bases, _ = paths([item], 0.0, 2.0)
        assert [1.0, 2.0, 3.0, 5.0] == points
        # 1 -> 2: $10 more kept (-$40 + $2 to -$30 + $2), error $15 -> $5;
        # 2 -> 3: $10, error $5 -> $5; 3 -> 5: not selling, $18 back, error $5 -> $25.
        assert [
            (1, 1.0, 10.0, -10.0, False),
            (1, 1.0, 10.0, 0.0, False),
            (1, 2.0, 18.0, 20.0, False),
        ] == moves
        assert [-38.0] == bases  # selling 4 at $10 frees $40, less the $2 order

    def test_a_fractional_sell_to_its_target_is_a_point(self):
        """2 held, 0.8 wanted and the lowest allowed: 0.8, then back to 2 ($12, +$12)."""
        item = HoldingItem(2.0, 0.8, 0.8, 2.0, 0.8, None, 10.0, 0.0)
        (points,), (moves,), bases, _ = paths([item], 0.0, 0.0)
        assert [0.8, 2.0] == points
        ((count, step, cash, error, divisible),) = moves
        assert (count, divisible) == (1, False)
        assert (step, cash, error) == pytest.approx((1.2, 12.0, 12.0))
        assert [pytest.approx(-12.0)] == bases

    @pytest.mark.parametrize(
        ("desired", "expected"),
        [(0.3, [0.0]), (0.5, [0.0, 0.5])],
    )
    def test_a_fractional_buy_must_reach_its_minimum(self, desired, expected):
        """A $5 minimum at $10 a unit: 0.3 wanted buys nothing; 0.5 wanted buys exactly $5."""
        item = HoldingItem(0.0, desired, 0.0, desired, desired, None, 10.0, 5.0)
        (points,), _, _, _ = paths([item], 0.0, 0.0)
        assert expected == points

    @pytest.mark.parametrize(("minimum", "expected"), [(5.0, [0.0, 0.5]), (5.01, [0.5])])
    def test_a_fractional_long_worth_exactly_the_minimum_may_be_sold_out(self, minimum, expected):
        """0.5 held at $10 ($5), 0.2 wanted: selling it all is a $5 trade, allowed at a
        $5 minimum (``>=``, as for whole units), not at $5.01. Regression: the fractional
        path left the sale out at exactly the minimum."""
        item = HoldingItem(0.5, 0.2, 0.0, 0.5, 0.2, None, 10.0, minimum)
        (points,), _, _, _ = paths([item], 0.0, 0.0)
        assert expected == points


class TestSnappedInArrays:
    @pytest.mark.parametrize(
        ("ratio", "expected"),
        [
            (2.9999999995, (3.0, 3.0)),  # 5e-10 below 3, within 3e-9: up
            (1000.0000005, (1000.0, 1000.0)),  # within 1e-6 (relative past 1): down
            (1.5e-9, (1.5e-9, 0.0)),  # past 1e-9 of 0: not snapped
            (1e-9, (0.0, 0.0)),  # exactly 1e-9 above 0: down
            (-1e-9, (0.0, 0.0)),  # exactly 1e-9 below 0: up
            (2.5, (2.5, 2.0)),
        ],
    )
    def test_a_ratio_is_snapped_as_per_item(self, ratio, expected):
        """(snapped, floor): within 1e-9 (times the ratio past 1) of a whole number, to it;
        the edge of the tolerance included, in arrays as per item."""
        snapped, below = _column_snapped(np.array([ratio]))
        assert expected == (snapped.item(), below.item())
        assert expected == _snapped(ratio)


class TestSumsInArrays:
    def test_cash_counts_each_trade_made_with_its_costs(self):
        """Buy $10, no trade, sell $6 at 1% and $1 an order: $11.10 - $4.94 = $6.16."""
        table = np.zeros((3, 8))
        table[:, 0] = (0.0, 5.0, 2.0)  # start
        table[:, 6] = (10.0, 1.0, 3.0)  # unit value
        columns = Columns(table, 3)
        holdings = np.array([1.0, 5.0, 0.0])
        assert pytest.approx(6.16) == columns.cash_of(holdings, 0.01, 1.0)
        # No rate, $1 an order: $10 + $1 and -$6 + $1; nothing for the item not traded.
        assert 6.0 == columns.cash_of(holdings, 0.0, 1.0)
        assert 4.0 == columns.cash_of(holdings, 0.0, 0.0)
        assert columns.fits(holdings, 0.0, 1.0, 6.0)
        assert not columns.fits(holdings, 0.0, 1.0, 5.5)

    def test_errors_equal_by_their_exact_sums_are_no_less(self):
        """1e16 + 1 + 1 and 1e16 + 2 are equal summed exactly, though not summed in floats."""
        a, b = np.array([1e16, 1.0, 1.0]), np.array([1e16 + 2.0])
        assert Columns.no_less(a, b)
        assert Columns.no_less(b, a)


def _arrays_joint(items, budget=0.0):
    with in_arrays(large=True):
        return Joint(items, budget, 0.0, 0.0)


class TestPassesInArraysAtTheEdges:
    def test_settle_gives_back_the_part_taken_of_a_move_past_the_target(self):
        """1 wanted, 1.5 held half way into the divisible move from 1 to 2: given back,
        $5 freed."""
        items = [
            HoldingItem(0.0, 1.0, 0.0, 2.0, 1.0, None, 10.0, 0.0),
            HoldingItem(0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 10.0, 0.0),
        ]
        joint = _arrays_joint(items)
        assert [(1, 1.0, 10.0, 10.0, True)] == joint.moves[0][1:]
        joint.at, joint.part, joint.left = [1, 1], [0.5, 0.0], 0.0
        assert [1.5, 1.0] == joint.holdings()
        joint.settle()
        assert ([1.0, 1.0], 5.0) == (joint.holdings(), joint.left)

    def test_a_blocked_move_is_wanted_only_if_it_saves_and_does_not_fit(self):
        """A $30 run with $30 left fits: not wanted; with $5 left it is. A $10 round-up to
        a tie (1.5 wanted, 1 held) saves nothing: never wanted."""
        items = [
            HoldingItem(0.0, 1.5, 0.0, 2.0, 1.0, 1.0, 10.0, 0.0),
            HoldingItem(0.0, 3.6, 0.0, 4.0, 3.0, 1.0, 10.0, 0.0),
        ]
        joint = _arrays_joint(items)
        joint.at, joint.part = [1, 0], [0.0, 0.0]
        columns = joint.columns
        assert ([], []) == columns.wanted(joint.state(), [0, 1], 30.0)
        # The run: 3 units saving $10 each for $10 each.
        assert ([(30.0, 1, 0, 30.0)], []) == columns.wanted(joint.state(), [0, 1], 5.0)


class TestReleasesAndLazy:
    def test_releases_are_made_sixteen_then_doubling(self):
        """Of 40 releases, 16 are made first, then 16 more (as many as made), then 8."""
        fields = tuple(np.arange(40.0) for _ in range(7))
        releases = Releases(fields)
        made = []
        while releases.more():
            made.append(len(releases.chunks))
        assert [16, 32, 40] == made
        assert [(5.0,) * 7] == releases.chunks[5:6]

    def test_a_lazy_list_ends_at_its_count(self):
        """The index equal to the count is out of range, and the error names it."""
        with pytest.raises(IndexError) as raised:
            Lazy(3, lambda index: index)[3]
        assert (3,) == raised.value.args

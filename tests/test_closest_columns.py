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
from rebalancing._closest_columns import COLUMN_ITEMS, Columns, Lazy, column_paths
from rebalancing._closest_path import paths
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

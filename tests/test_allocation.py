"""Tests for closest_buys (Rounding.CLOSEST's repair) and the properties of issue 6."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing import PortfolioSnapshot, RebalanceConfig, compute_trades
from rebalancing._allocation import BuyItem, closest_buys
from rebalancing._config import Rounding
from rebalancing._plan import round_nearest


def item(desired, unit_value, *, start=0.0, increment=1.0, min_value=0.0):
    nearest = round_nearest(start, desired, increment)
    return BuyItem(start, desired, nearest, increment, unit_value, min_value)


def error(items, quantities):
    return math.fsum(
        abs(i.start + q - i.desired) * i.unit_value for i, q in zip(items, quantities, strict=True)
    )


def spend(items, quantities, rate=0.0, fixed=0.0):
    return math.fsum(
        q * i.unit_value * (1 + rate) + fixed for i, q in zip(items, quantities, strict=True) if q
    )


def brute_force(items, budget, rate=0.0, fixed=0.0):
    """The least error over every combination of whole increments up to nearest."""
    ranges = [range(round((i.nearest - i.start) / i.increment) + 1) for i in items]
    best = math.inf
    for counts in itertools.product(*ranges):
        quantities = [k * i.increment for k, i in zip(counts, items, strict=True)]
        if any(0 < q * i.unit_value < i.min_value for q, i in zip(quantities, items, strict=True)):
            continue
        if spend(items, quantities, rate, fixed) <= budget:
            best = min(best, error(items, quantities))
    return best


class TestClosestBuys:
    def test_nearest_when_it_fits(self):
        """When the nearest holdings fit the budget they are returned unchanged."""
        items = [item(1.6, 100.0), item(2.4, 30.0)]
        assert [2.0, 2.0] == closest_buys(items, 260.0, cost_rate=0.0, cost_per_order=0.0)

    def test_expensive_round_up_beats_cheap_ones(self):
        """Cheap round-ups are given up to afford the expensive name's round-up."""
        items = [item(0.9, 1000.0), item(2.6, 10.0), item(3.6, 10.0), item(1.6, 10.0)]
        budget = 1000.0 + 55.0
        actual = closest_buys(items, budget, cost_rate=0.0, cost_per_order=0.0)
        assert brute_force(items, budget) == pytest.approx(error(items, actual))
        assert 1.0 == actual[0]

    @pytest.mark.parametrize(
        ("items", "budget", "rate", "fixed"),
        [
            ([item(1.7, 50.0), item(0.8, 120.0)], 170.0, 0.0, 0.0),
            ([item(3.6, 20.0), item(1.55, 80.0), item(0.7, 35.0)], 200.0, 0.0, 0.0),
            ([item(2.9, 40.0), item(2.9, 40.0)], 230.0, 0.01, 1.0),
            ([item(5.5, 10.0, start=2.0), item(1.8, 60.0, start=1.0)], 70.0, 0.0, 0.0),
            ([item(2.6, 25.0, min_value=60.0), item(1.9, 30.0)], 100.0, 0.0, 0.0),
            ([item(4.6, 10.0, increment=2.0), item(0.75, 90.0)], 120.0, 0.0, 0.0),
        ],
    )
    def test_matches_brute_force_on_small_cases(self, items, budget, rate, fixed):
        """On small books the result is the exact optimum found by trying every combination."""
        actual = closest_buys(items, budget, cost_rate=rate, cost_per_order=fixed)
        assert brute_force(items, budget, rate, fixed) == pytest.approx(error(items, actual))

    def test_fractional_items_get_the_continuous_amount(self):
        """A fractional buy absorbs the cash whole units leave over."""
        items = [item(1.6, 100.0), item(3.0, 10.0, increment=None)]
        actual = closest_buys(items, 125.0, cost_rate=0.0, cost_per_order=0.0)
        assert [1.0, 2.5] == pytest.approx(actual)

    def test_nothing_affordable_buys_nothing(self):
        """With a budget below every step, every quantity is zero."""
        items = [item(1.6, 100.0), item(2.6, 50.0)]
        assert [0.0, 0.0] == closest_buys(items, 20.0, cost_rate=0.0, cost_per_order=0.0)

    @settings(max_examples=150)
    @given(data=st.data())
    def test_budget_thresholds_and_increments_hold(self, data):
        """Quantities are whole increments up to nearest, pass thresholds and fit the budget."""
        items = data.draw(buy_items())
        rate = data.draw(st.sampled_from([0.0, 0.001, 0.01]))
        fixed = data.draw(st.sampled_from([0.0, 1.0, 5.0]))
        full = spend(items, [i.nearest - i.start for i in items], rate, fixed)
        budget = data.draw(st.floats(0.0, 1.1)) * full
        actual = closest_buys(items, budget, cost_rate=rate, cost_per_order=fixed)
        assert spend(items, actual, rate, fixed) <= budget
        for i, q in zip(items, actual, strict=True):
            assert 0.0 <= q <= i.nearest - i.start + 1e-9
            assert q == 0.0 or q * i.unit_value >= i.min_value * (1 - 1e-12)
            steps = q / i.increment
            assert abs(steps - round(steps)) < 1e-9

    @settings(max_examples=150)
    @given(data=st.data())
    def test_never_further_than_truncation(self, data):
        """The result is at least as close to target as truncating every buy, when that fits."""
        items = data.draw(buy_items())
        floors = [
            q
            if (q := math.floor((i.desired - i.start) / i.increment + 1e-9) * i.increment)
            * i.unit_value
            >= i.min_value
            else 0.0
            for i in items
        ]
        budget = spend(items, floors) * data.draw(st.floats(1.0, 1.5))
        actual = closest_buys(items, budget, cost_rate=0.0, cost_per_order=0.0)
        assert error(items, actual) <= error(items, floors) * (1 + 1e-12) + 1e-9

    def test_exact_with_many_cheap_units_released(self):
        """Several cheap whole units are given up to afford one dear round-up when that is best."""
        items = [item(0.95, 1000.0), item(5.4, 10.0), item(3.3, 10.0), item(2.2, 10.0)]
        budget = 1000.0 + 60.0
        actual = closest_buys(items, budget, cost_rate=0.0, cost_per_order=0.0)
        assert brute_force(items, budget) == pytest.approx(error(items, actual))
        assert 1.0 == actual[0]

    def test_exact_with_costs_and_thresholds(self):
        """Fixed costs and thresholds are honoured by the exact search for few buys."""
        items = [
            item(2.7, 120.0, min_value=200.0),
            item(4.6, 35.0),
            item(1.8, 260.0, start=1.0),
            item(6.5, 12.0, increment=2.0),
        ]
        budget = 700.0
        actual = closest_buys(items, budget, cost_rate=0.01, cost_per_order=5.0)
        assert spend(items, actual, 0.01, 5.0) <= budget
        assert brute_force(items, budget, 0.01, 5.0) == pytest.approx(error(items, actual))

    @settings(max_examples=150)
    @given(data=st.data())
    def test_few_whole_buys_are_exact(self, data):
        """With at most a handful of whole buys the result is the brute-force optimum."""
        items = data.draw(buy_items())
        rate = data.draw(st.sampled_from([0.0, 0.001, 0.01]))
        fixed = data.draw(st.sampled_from([0.0, 1.0, 5.0]))
        full = spend(items, [i.nearest - i.start for i in items], rate, fixed)
        budget = data.draw(st.floats(0.0, 1.1)) * full
        actual = closest_buys(items, budget, cost_rate=rate, cost_per_order=fixed)
        expected = brute_force(items, budget, rate, fixed)
        assert expected == pytest.approx(error(items, actual), rel=1e-9, abs=1e-9)

    def test_large_books_stay_within_budget_and_beat_truncation(self):
        """Past the exact search's size the repair still fits and beats truncation."""
        items = [
            item(k % 7 + 0.55 + 0.04 * (k % 11), 3.0 + 17.0 * (k % 13), increment=1.0)
            for k in range(40)
        ]
        floors = [math.floor(i.desired) for i in items]
        budget = spend(items, floors) + 0.6 * (
            spend(items, [i.nearest for i in items]) - spend(items, floors)
        )
        actual = closest_buys(items, budget, cost_rate=0.0, cost_per_order=0.0)
        assert spend(items, actual) <= budget
        assert error(items, actual) < error(items, floors)

    def test_deterministic(self):
        """The same items give the same quantities, ties broken by position."""
        items = [item(1.5 + 0.1 * k, 40.0) for k in range(6)]
        first = closest_buys(items, 250.0, cost_rate=0.0, cost_per_order=0.0)
        assert first == closest_buys(items, 250.0, cost_rate=0.0, cost_per_order=0.0)


@st.composite
def buy_items(draw):
    count = draw(st.integers(1, 4))
    items = []
    for _ in range(count):
        increment = draw(st.sampled_from([1.0, 1.0, 2.0, 0.5]))
        start = increment * draw(st.integers(0, 3))
        desired = start + increment * draw(st.floats(0.1, 4.0))
        unit_value = draw(st.floats(1.0, 500.0))
        min_value = draw(st.sampled_from([0.0, 0.0, unit_value * increment * 1.5]))
        items.append(
            item(desired, unit_value, start=start, increment=increment, min_value=min_value)
        )
    return items


# -- compute_trades-level properties (issue 6) -------------------------------------------------

ASSETS = ("AAA", "BBB", "CCC", "DDD", "EEE")


@st.composite
def books(draw):
    """A whole-share account, target weights summing to at most 1, and a config."""
    names = draw(st.lists(st.sampled_from(ASSETS), min_size=1, max_size=5, unique=True))
    prices = {a: draw(st.floats(1.0, 2000.0)) for a in names}
    positions = {a: float(draw(st.integers(0, 50))) for a in names}
    cash = draw(st.floats(0.0, 50_000.0))
    raw = {a: draw(st.floats(0.0, 1.0)) for a in names}
    total = sum(raw.values()) or 1.0
    invested = draw(st.sampled_from([1.0, 1.0, 0.95, 0.7]))
    weights = {a: w / total * invested for a, w in raw.items()}
    config = {
        "min_trade_value": 0.0,
        "min_weight_change": 0.0,
        "cost_rate": draw(st.sampled_from([0.0, 0.0005, 0.01])),
        "cost_per_order": draw(st.sampled_from([0.0, 1.0, 10.0])),
        "cash_buffer": draw(st.sampled_from([0.0, 0.0, 0.02, 0.1])),
    }
    return PortfolioSnapshot(cash, positions, prices), weights, config


def l1(snapshot, weights, plan):
    """Distance in value between the plan's final holdings and the (buffered) targets."""
    equity = snapshot.equity
    return math.fsum(
        abs(
            d.projected_quantity * (d.price or 0.0)
            - (d.target_weight if d.requested_weight is not None else 0.0) * equity
        )
        for d in plan.decisions
    )


def nearest_plan_fits(snapshot, weights, config):
    """Whether the nearest final holdings fit above the cash floor, costs included."""
    equity = snapshot.equity
    buffer = config.cash_buffer
    flows = [snapshot.cash]
    for asset, price in snapshot.prices.items():
        start = snapshot.positions.get(asset, 0.0)
        desired = weights.get(asset, 0.0) * (1 - buffer) * equity / price
        final = round_nearest(start, desired, 1.0) if desired else 0.0
        value = abs(final - start) * price
        if value:
            flows.append(
                -(final - start) * price - config.cost_rate * value - config.cost_per_order
            )
    floor = min(buffer, 1 - sum(w * (1 - buffer) for w in weights.values())) * equity
    return math.fsum(flows) >= floor + 1e-9 * equity


#: The modes these properties are about; OPTIMAL (scipy) has its own in test_optimal.py.
HEURISTICS = [Rounding.DOWN, Rounding.CLOSEST]


class TestIssue6Properties:
    @settings(max_examples=200)
    @given(book=books(), rounding=st.sampled_from(HEURISTICS))
    def test_cash_floor_holds_with_costs(self, book, rounding):
        """Buys never take cash below the floor (or below what the sells alone leave)."""
        snapshot, weights, options = book
        plan = compute_trades(snapshot, weights, RebalanceConfig(rounding=rounding, **options))
        after_sells = math.fsum(
            [snapshot.cash]
            + [o.value - o.estimated_cost for o in plan.orders if o.side.value == "sell"]
        )
        floor = min(plan.cash_floor, after_sells)
        assert plan.projected_cash >= floor - 1e-9 * max(plan.equity, 1.0)

    @settings(max_examples=200)
    @given(book=books())
    def test_closest_never_further_than_down(self, book):
        """CLOSEST's final holdings are never further from the targets (L1) than DOWN's."""
        snapshot, weights, options = book
        down = compute_trades(snapshot, weights, RebalanceConfig(rounding=Rounding.DOWN, **options))
        closest = compute_trades(
            snapshot, weights, RebalanceConfig(rounding=Rounding.CLOSEST, **options)
        )
        assert l1(snapshot, weights, closest) <= l1(snapshot, weights, down) + 1e-6

    def test_closest_not_further_than_down_inside_the_margin(self):
        """A unit DOWN funds by spending into the budget margin, CLOSEST funds as well."""
        snapshot = PortfolioSnapshot(2.0, {"AAA": 0.0, "BBB": 0.0}, {"AAA": 1.0, "BBB": 1.0})
        weights = {"AAA": 0.0, "BBB": 1.0}
        options = {
            "min_trade_value": 0.0,
            "min_weight_change": 0.0,
            "cost_rate": 0.0,
            "cost_per_order": 1.0,
            "cash_buffer": 0.0,
        }
        down = compute_trades(snapshot, weights, RebalanceConfig(rounding=Rounding.DOWN, **options))
        closest = compute_trades(
            snapshot, weights, RebalanceConfig(rounding=Rounding.CLOSEST, **options)
        )
        assert l1(snapshot, weights, down) == l1(snapshot, weights, closest)

    @settings(max_examples=200)
    @given(book=books())
    def test_closest_is_nearest_when_it_fits(self, book):
        """When the nearest holdings fit above the floor, CLOSEST plans exactly them."""
        snapshot, weights, options = book
        config = RebalanceConfig(rounding=Rounding.CLOSEST, **options)
        if not nearest_plan_fits(snapshot, weights, config):
            return
        plan = compute_trades(snapshot, weights, config)
        equity = snapshot.equity
        expected = {}
        for asset, price in snapshot.prices.items():
            desired = weights.get(asset, 0.0) * (1 - config.cash_buffer) * equity / price
            start = snapshot.positions.get(asset, 0.0)
            expected[asset] = round_nearest(start, desired, 1.0) if desired else 0.0
        actual = {d.asset: d.projected_quantity for d in plan.decisions}
        assert expected == actual

    @settings(max_examples=100)
    @given(book=books(), rounding=st.sampled_from(HEURISTICS), data=st.data())
    def test_key_order_does_not_matter(self, book, rounding, data):
        """Permuting the keys of targets and snapshot mappings gives the same plan."""
        snapshot, weights, options = book
        config = RebalanceConfig(rounding=rounding, **options)
        order = data.draw(st.permutations(sorted(snapshot.prices)))
        shuffled = PortfolioSnapshot(
            snapshot.cash,
            {a: snapshot.positions[a] for a in order if a in snapshot.positions},
            {a: snapshot.prices[a] for a in order},
        )
        reweighted = {a: weights[a] for a in order if a in weights}
        assert compute_trades(snapshot, weights, config) == compute_trades(
            shuffled, reweighted, config
        )

import decimal
import math
from types import MappingProxyType

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing import (
    InvalidSnapshotError,
    MissingPriceError,
    OrderKind,
    PendingOrder,
    PortfolioSnapshot,
    RebalancingError,
    Side,
)
from rebalancing._validation import checked_numbers, plain_numbers


class TestPortfolioSnapshot:
    def test_equity_is_cash_plus_signed_position_values(self):
        """Equity adds cash to quantity * price * multiplier, shorts counting negative."""
        snap = PortfolioSnapshot(
            1_000.0,
            {"A": 10, "B": -5, "F": 2},
            {"A": 50.0, "B": 20.0, "F": 10.0},
            multipliers={"F": 50.0},
        )

        assert 1_000.0 + 500.0 - 100.0 + 1_000.0 == snap.equity

    def test_mappings_are_read_only_copies(self):
        """Mutating the caller's dict afterwards changes nothing; the stored one refuses writes."""
        positions = {"A": 1.0}
        snap = PortfolioSnapshot(0.0, positions, {"A": 1.0})
        positions["A"] = 99.0

        assert 1.0 == snap.positions["A"]
        assert isinstance(snap.positions, MappingProxyType)
        with pytest.raises(TypeError):
            snap.positions["A"] = 2.0  # type: ignore[index]

    def test_frozen(self):
        """Attributes cannot be reassigned."""
        snap = PortfolioSnapshot(0.0)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            snap.cash = 1.0  # type: ignore[misc]

    def test_equal_inputs_compare_equal_whatever_the_key_order(self):
        """Two snapshots built from the same data in another key order are equal."""
        one = PortfolioSnapshot(1.0, {"A": 1, "B": 2}, {"A": 1.0, "B": 2.0})
        two = PortfolioSnapshot(1.0, {"B": 2, "A": 1}, {"B": 2.0, "A": 1.0})

        assert one == two
        assert hash(one) == hash(two)

    def test_accepts_numpy_and_decimal_numbers(self):
        """Numbers may be Decimal or numpy scalars; they are stored as floats."""
        np = pytest.importorskip("numpy")
        snap = PortfolioSnapshot(
            decimal.Decimal("10.5"), {"A": np.int64(3)}, {"A": np.float64(2.0)}
        )

        assert (10.5, 3.0, 2.0) == (snap.cash, snap.positions["A"], snap.prices["A"])

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"cash": math.nan}, "cash must be a finite number, got nan"),
            ({"cash": None}, "cash must be a number, got NoneType None"),
            ({"cash": True}, "cash must be a number, got the bool True"),
            ({"cash": "100"}, "cash must be a number, got str '100'"),
            (
                {"cash": 0.0, "positions": {"A": math.inf}, "prices": {"A": 1.0}},
                "positions['A'] must be a finite number, got inf",
            ),
            ({"cash": 0.0, "prices": {"A": 0.0}}, "prices['A'] must be > 0, got 0.0"),
            ({"cash": 0.0, "prices": {"A": -1.0}}, "prices['A'] must be > 0, got -1.0"),
            (
                {"cash": 0.0, "prices": {"": 1.0}},
                "prices key must be a non-empty name without surrounding white space, got ''",
            ),
            (
                {"cash": 0.0, "prices": {" A": 1.0}},
                "prices key must be a non-empty name without surrounding white space, got ' A'",
            ),
            ({"cash": 0.0, "prices": {1: 1.0}}, "prices key must be a str, got int 1"),
            (
                {"cash": 0.0, "prices": [("A", 1.0)]},
                "prices must be a mapping of asset -> number, got list",
            ),
            ({"cash": 0.0, "multipliers": {"A": 0}}, "multipliers['A'] must be > 0, got 0"),
            ({"cash": 0.0, "lot_sizes": {"A": -1}}, "lot_sizes['A'] must be > 0, got -1"),
            ({"cash": 0.0, "fractional": 1}, "fractional must be True or False, got 1"),
            (
                {"cash": 0.0, "pending_orders": "abc"},
                "pending_orders must be an iterable of items, got str",
            ),
            (
                {"cash": 0.0, "pending_orders": 5},
                "pending_orders must be an iterable of items, got int",
            ),
            (
                {"cash": 0.0, "pending_orders": [("A", 1)]},
                "pending_orders must hold PendingOrder values, got tuple ('A', 1)",
            ),
        ],
    )
    def test_bad_values_raise_naming_the_field(self, kwargs, message):
        """Every bad value is an InvalidSnapshotError (a ValueError) saying where it sits,
        what was expected and what was given."""
        with pytest.raises(InvalidSnapshotError) as info:
            PortfolioSnapshot(**kwargs)

        assert message == str(info.value)
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, RebalancingError)

    def test_held_asset_without_price_is_an_error(self):
        """A held asset needs a price: its value, and so equity, depends on it."""
        with pytest.raises(MissingPriceError, match="'A'"):
            PortfolioSnapshot(0.0, {"A": 1.0}, {})

    def test_zero_position_needs_no_price(self):
        """A zero quantity is 'not held' and needs no price."""
        snap = PortfolioSnapshot(5.0, {"A": 0.0}, {})

        assert () == snap.held
        assert 5.0 == snap.equity

    def test_pending_asset_without_price_is_an_error(self):
        """An asset with a pending order needs a price to value that order."""
        order = PendingOrder("o1", "A", Side.BUY, 1)
        with pytest.raises(MissingPriceError, match="'o1'"):
            PortfolioSnapshot(0.0, pending_orders=[order])

    def test_duplicate_pending_ids_are_an_error(self):
        """Order ids identify what to cancel, so they must be unique."""
        orders = [PendingOrder("x", "A", "buy", 1), PendingOrder("x", "A", "sell", 1)]
        with pytest.raises(InvalidSnapshotError, match="'x'"):
            PortfolioSnapshot(0.0, prices={"A": 1.0}, pending_orders=orders)

    def test_overflowing_equity_is_an_error(self):
        """Finite inputs whose product overflows are rejected rather than planned with inf."""
        with pytest.raises(InvalidSnapshotError, match="overflow"):
            PortfolioSnapshot(0.0, {"A": 1e300}, {"A": 1e300})

    def test_from_market_values_divides_by_unit_value(self):
        """Quantities are value / (price * multiplier)."""
        snap = PortfolioSnapshot.from_market_values(
            100.0, {"A": 1_000.0, "F": 500.0}, {"A": 50.0, "F": 10.0}, multipliers={"F": 5.0}
        )

        assert {"A": 20.0, "F": 10.0} == dict(snap.positions)
        assert 1_600.0 == snap.equity

    def test_from_market_values_needs_prices(self):
        """A value without a price cannot become a quantity."""
        with pytest.raises(MissingPriceError, match="'A'"):
            PortfolioSnapshot.from_market_values(0.0, {"A": 1.0}, {})

    def test_value_of_is_signed_and_zero_when_not_held(self):
        """value_of: quantity x price x multiplier; an asset not held is worth 0, priced or not."""
        snap = PortfolioSnapshot(
            0.0, {"F": -2}, {"F": 50.0, "A": 10.0, "B": 3.0}, multipliers={"F": 5.0}
        )

        assert (-500.0, 0.0, 0.0) == (snap.value_of("F"), snap.value_of("A"), snap.value_of("Z"))

    def test_from_market_values_takes_short_values(self):
        """A negative market value is a short: a negative quantity."""
        snap = PortfolioSnapshot.from_market_values(1_000.0, {"A": -500.0}, {"A": 50.0})

        assert {"A": -10.0} == dict(snap.positions)

    @pytest.mark.parametrize("value", [math.nan, math.inf, "500"])
    def test_from_market_values_names_a_bad_value(self, value):
        """A value that is not a finite number is a snapshot error naming the entry."""
        with pytest.raises(InvalidSnapshotError) as info:
            PortfolioSnapshot.from_market_values(0.0, {"A": value}, {"A": 50.0})

        assert "market_values['A']" in str(info.value)
        assert repr(value) in str(info.value)


class TestPendingOrder:
    def test_strings_become_enums(self):
        """Side and kind accept their string values."""
        order = PendingOrder("1", "A", "sell", 3, kind="limit", limit_price=10)

        assert (Side.SELL, OrderKind.LIMIT, -3.0) == (order.side, order.kind, order.signed_quantity)

    @pytest.mark.parametrize(
        ("args", "kwargs", "message"),
        [
            (("", "A", "buy", 1), {}, "PendingOrder.order_id must be a non-empty name"),
            (("1", " A", "buy", 1), {}, "PendingOrder.asset must be a non-empty name"),
            (("1", "A", "hold", 1), {}, "PendingOrder.side must be one of 'buy', 'sell'"),
            (("1", "A", "buy", 0), {}, "PendingOrder.quantity must be > 0, got 0"),
            (("1", "A", "buy", math.nan), {}, "PendingOrder.quantity must be a finite number"),
            (("1", "A", "buy", 1), {"kind": "iceberg"}, "PendingOrder.kind must be one of"),
            (
                ("1", "A", "buy", 1),
                {"kind": "limit", "limit_price": 0},
                "PendingOrder.limit_price must be > 0, got 0",
            ),
            (
                ("1", "A", "buy", 1),
                {"kind": "limit"},
                "PendingOrder '1' (limit) needs a limit_price, got limit_price=None",
            ),
            (
                ("1", "A", "buy", 1),
                {"kind": "stop"},
                "PendingOrder '1' (stop) needs a stop_price, got None",
            ),
            (
                ("1", "A", "buy", 1),
                {"limit_price": 3.0},
                "PendingOrder '1' (market) takes no limit_price, got limit_price=3.0",
            ),
            (
                ("1", "A", "buy", 1),
                {"stop_price": 3.0},
                "PendingOrder '1' (market) takes no stop_price, got 3.0",
            ),
            (
                ("1", "A", "buy", 1),
                {"kind": "stop", "stop_price": -1},
                "PendingOrder.stop_price must be > 0, got -1",
            ),
        ],
    )
    def test_bad_orders_raise_naming_the_field(self, args, kwargs, message):
        """Each malformed pending order is a snapshot error naming the field and value."""
        with pytest.raises(InvalidSnapshotError) as info:
            PendingOrder(*args, **kwargs)

        assert str(info.value).startswith(message)

    @pytest.mark.parametrize(
        ("side", "kind", "limit", "stop", "expected"),
        [
            ("buy", "market", None, None, True),
            ("buy", "limit", 101.0, None, True),
            ("buy", "limit", 100.0, None, True),
            ("buy", "limit", 99.0, None, False),
            ("sell", "limit", 99.0, None, True),
            ("sell", "limit", 100.0, None, True),
            ("sell", "limit", 101.0, None, False),
            ("sell", "stop", None, 90.0, False),
            ("sell", "stop_limit", 89.0, 90.0, False),
            ("sell", "trailing_stop", None, None, False),
        ],
    )
    def test_only_orders_that_fill_as_placed_execute_as_placed(
        self, side, kind, limit, stop, expected
    ):
        """Market orders and marketable limits fill as placed; stops and resting limits wait."""
        order = PendingOrder("1", "A", side, 1, kind=kind, limit_price=limit, stop_price=stop)

        assert expected == order.executes_as_placed(100.0)


# -- the bulk check of plain number maps ------------------------------------------------

_keys = st.one_of(
    st.sampled_from(["AAA", "BBB", "b", "Z9", "", " AAA", "AAA ", "\tC", "é"]),
    st.text(max_size=4),
    st.integers(0, 3),
)
_numbers = st.one_of(
    st.floats(),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324, 1e308]),
    st.integers(-3, 3),
    st.booleans(),
    st.just(np.float64(2.5)),
    st.none(),
)


@settings(max_examples=300)
@given(
    items=st.lists(st.tuples(_keys, _numbers), max_size=8),
    positive=st.booleans(),
    read_only=st.booleans(),
)
def test_the_bulk_check_agrees_with_the_item_by_item_check(items, positive, read_only):
    """Whatever the bulk check accepts, the item check accepts with the same sorted dict;
    whatever the item check rejects, the bulk check leaves to it (returns None)."""
    raw = dict(items)
    value = MappingProxyType(raw) if read_only else raw
    bulk = plain_numbers(value, positive=positive)
    try:
        slow = checked_numbers(value, "prices", InvalidSnapshotError, positive=positive)
    except InvalidSnapshotError:
        assert bulk is None
        return
    if bulk is not None:
        assert list(bulk.items()) == list(slow.items())


def test_the_bulk_check_takes_the_common_case():
    """A plain, unsorted dict of finite floats is checked in bulk (and sorted)."""
    assert list(plain_numbers({"B": 2.0, "A": 1.0}, positive=True).items()) == [
        ("A", 1.0),
        ("B", 2.0),
    ]
    assert plain_numbers({"A": 0.0}, positive=True) is None  # not > 0: the item check says so
    assert plain_numbers({"A": 1}, positive=True) is None  # an int: converted item by item


def test_an_equity_whose_partial_sums_overflow_is_an_invalid_snapshot():
    """fsum overflows on the way to a finite total: a named error, not OverflowError."""
    with pytest.raises(InvalidSnapshotError, match=r"equity .* overflows"):
        PortfolioSnapshot(
            0.0,
            {"X": 1e308, "Y": 1e308, "Z": -1e308},
            {"X": 1.0, "Y": 1.0, "Z": 1.0},
            margin=True,
        )

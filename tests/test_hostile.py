"""Hostile input at every public entry point: a valid plan or a clear RebalancingError.

Each example starts from valid input drawn with rebalancing.testing and corrupts one to
three places (NaN, inf, negative, huge and zero numbers, bools and strings for numbers,
Decimal and numpy scalars, blank names, duplicate ids, unknown assets, things that are
not mappings, bad configs). The outcome must be either a plan that passes check_plan, or
a RebalancingError that is also a ValueError and names one of the corrupted fields or
assets. Any other exception fails the test.

``nox -s fuzz`` runs it with REBALANCING_FUZZ_EXAMPLES examples (20,000 by default).
"""

import math
import os
from decimal import Decimal
from fractions import Fraction

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing import (
    PendingOrder,
    PortfolioSnapshot,
    RebalanceConfig,
    RebalancingError,
    compute_trades,
)
from rebalancing.testing import check_plan, rebalance_configs, snapshots, target_weights

try:
    import numpy as np
except ImportError:  # pragma: no cover - numpy is optional
    np = None

_EXAMPLES = os.environ.get("REBALANCING_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(_EXAMPLES)) if _EXAMPLES else settings()


class BadItems:
    """Looks like a mapping, but items() blows up."""

    def items(self):
        msg = "broken mapping"
        raise RuntimeError(msg)


class DuplicateItems:
    """A mapping-like object (think pandas Series) with a repeated key."""

    def __init__(self, key):
        self.key = key

    def items(self):
        return [(self.key, 1.0), (self.key, 2.0)]


NUMBERS = [
    math.nan,
    math.inf,
    -math.inf,
    -1.0,
    0,
    -0.0,
    1e308,
    -1e308,
    5e-324,
    1e-300,
    10**400,
    True,
    False,
    "1.5",
    "",
    None,
    b"1",
    [1.0],
    complex(1, 0),
    Decimal("2.5"),
    Decimal("NaN"),
    Decimal("-Infinity"),
    Fraction(1, 3),
]
if np is not None:  # pragma: no cover - depends on numpy being installed
    NUMBERS += [np.float64("nan"), np.float32(1.5), np.int64(3), np.bool_(True), np.float64(1e308)]
NAMES = ["", " ", "A ", " A", "\t", "\u00a0X", None, 0, 1.5, b"A", ("A",)]
NOT_MAPPINGS = [None, [("A", 1.0)], "AB", 5, {"A"}, BadItems()]
CONFIG_NUMBERS = NUMBERS
CONFIG_FIELDS = [f.name for f in attrs.fields(RebalanceConfig)]


@attrs.define
class Case:
    """Raw, possibly hostile, arguments for every public entry point."""

    cash: object
    positions: object
    prices: object
    multipliers: object
    lot_sizes: object
    pending: list
    fractional: object
    margin: object
    targets: object
    config: object
    snapshot: object = None
    labels: set = attrs.Factory(set)


def raw_case(snapshot, targets, config):
    pending = [
        {
            "args": [o.order_id, o.asset, o.side, o.quantity],
            "kwargs": {"kind": o.kind, "limit_price": o.limit_price, "stop_price": o.stop_price},
        }
        for o in snapshot.pending_orders
    ]
    return Case(
        cash=snapshot.cash,
        positions=dict(snapshot.positions),
        prices=dict(snapshot.prices),
        multipliers=dict(snapshot.multipliers),
        lot_sizes=dict(snapshot.lot_sizes),
        pending=pending,
        fractional=snapshot.fractional,
        margin=snapshot.margin,
        targets=dict(targets),
        config=attrs.asdict(config, recurse=False),
    )


def corrupt(data, case):  # noqa: PLR0915 - one branch per kind of corruption
    """Apply one corruption to ``case`` and record what an error may name."""
    mappings = ["positions", "prices", "multipliers", "lot_sizes", "targets"]
    kind = data.draw(
        st.sampled_from(
            [
                "cash",
                "value",
                "key",
                "mapping",
                "drop_price",
                "pending_field",
                "pending_dup",
                "pending_unknown",
                "pending_container",
                "config_field",
                "config_object",
                "snapshot_object",
                "fractional",
                "margin",
            ]
        )
    )
    if kind == "cash":
        case.cash = data.draw(st.sampled_from(NUMBERS))
        case.labels |= {"cash", "equity"}
    elif kind in ("value", "key", "mapping"):
        field = data.draw(st.sampled_from(mappings))
        label = "target_weights" if field == "targets" else field
        mapping = getattr(case, field)
        if kind == "mapping" or not isinstance(mapping, dict):
            setattr(case, field, data.draw(st.sampled_from([*NOT_MAPPINGS, DuplicateItems("A")])))
            case.labels |= {label}
        elif kind == "value":
            asset = data.draw(st.sampled_from(sorted(mapping, key=repr) or ["NEW"]))
            mapping[asset] = data.draw(st.sampled_from(NUMBERS))
            case.labels |= {label, repr(asset), "equity"}
        else:
            mapping[data.draw(st.sampled_from(NAMES))] = 0.1
            case.labels |= {label}
    elif kind == "drop_price":
        if isinstance(case.prices, dict) and case.prices:
            asset = data.draw(st.sampled_from(sorted(case.prices, key=repr)))
            del case.prices[asset]
            case.labels |= {repr(asset)}
    elif kind.startswith("pending_") and kind != "pending_container":
        if not isinstance(case.pending, list) or not all(isinstance(p, dict) for p in case.pending):
            return
        if not case.pending:
            case.pending.append({"args": ["p0", "A", "buy", 1.0], "kwargs": {}})
            case.labels |= {"'A'"}
        order = data.draw(st.sampled_from(case.pending))
        if kind == "pending_field":
            index = data.draw(st.sampled_from(["order_id", "asset", "side", "quantity"]))
            position = ["order_id", "asset", "side", "quantity"].index(index)
            if index in ("order_id", "asset"):
                value = data.draw(st.sampled_from(NAMES))
            elif index == "side":
                value = data.draw(st.sampled_from(["BUY", "hold", None, 1, "sell "]))
            else:
                value = data.draw(st.sampled_from(NUMBERS))
            order["args"][position] = value
            case.labels |= {f"PendingOrder.{index}"}
        elif kind == "pending_dup":
            case.pending.append({"args": list(order["args"]), "kwargs": dict(order["kwargs"])})
            case.labels |= {"order id", repr(order["args"][0])}
        else:
            order["args"][1] = "UNPRICED"
            case.labels |= {"'UNPRICED'"}
    elif kind == "pending_container":
        case.pending = data.draw(st.sampled_from([None, 5, "orders", [1.0], {"a": 1}]))
        case.labels |= {"pending_orders"}
    elif kind == "config_field":
        field = data.draw(st.sampled_from(CONFIG_FIELDS))
        value = data.draw(st.sampled_from([*CONFIG_NUMBERS, "yes", "sideways", 2, -1]))
        if isinstance(case.config, dict):
            case.config[field] = value
            case.labels |= {f"RebalanceConfig.{field}"}
    elif kind == "config_object":
        case.config = data.draw(st.sampled_from([{}, "default", 0, RebalanceConfig]))
        case.labels |= {"config"}
    elif kind == "snapshot_object":
        case.snapshot = data.draw(st.sampled_from([None, {}, "snapshot", 1000.0]))
        case.labels |= {"snapshot"}
    else:
        flag = data.draw(st.sampled_from([1, 0, "yes", None]))
        setattr(case, kind, flag)
        case.labels |= {kind}


def build_and_plan(case):
    """Call every entry point the way a user would; return (snapshot, config, plan)."""
    if case.snapshot is not None:
        snapshot = case.snapshot
    else:
        pending = case.pending
        if isinstance(pending, list):
            pending = [
                PendingOrder(*p["args"], **p["kwargs"]) if isinstance(p, dict) else p
                for p in pending
            ]
        snapshot = PortfolioSnapshot(
            case.cash,
            case.positions,
            case.prices,
            multipliers=case.multipliers,
            lot_sizes=case.lot_sizes,
            pending_orders=pending,
            fractional=case.fractional,
            margin=case.margin,
        )
    config = RebalanceConfig(**case.config) if isinstance(case.config, dict) else case.config
    return snapshot, config, compute_trades(snapshot, case.targets, config)


@st.composite
def hostile_cases(draw):
    snapshot = draw(snapshots(max_assets=4, max_quantity=1e4))
    names = st.sampled_from(sorted(snapshot.prices)) if snapshot.prices else st.just("A")
    targets = draw(target_weights(assets=names | st.just("NOPRICE"), max_size=5))
    config = draw(rebalance_configs())
    case = raw_case(snapshot, targets, config)
    data = draw(st.data())
    for _ in range(draw(st.integers(1, 3))):
        corrupt(data, case)
    return case


class TestHostileInput:
    @FUZZ
    @given(hostile_cases())
    def test_a_valid_plan_or_a_clear_error(self, case):
        """Hostile input gives a plan that keeps every invariant or an error naming it."""
        try:
            snapshot, config, plan = build_and_plan(case)
        except RebalancingError as exc:
            message = str(exc)
            assert isinstance(exc, ValueError), message
            assert any(label in message for label in case.labels), (message, case.labels)
            return
        check_plan(snapshot, case.targets, config, plan)
        assert all(math.isfinite(o.quantity * o.price) for o in plan)

    @pytest.mark.parametrize(
        "value",
        NUMBERS,
        ids=lambda n: repr(n)[:20],
    )
    def test_every_hostile_number_as_a_target(self, value):
        """Each hostile number as a weight gives a plan or an error naming the weight."""
        snapshot = PortfolioSnapshot(1_000.0, {"A": 1}, {"A": 10.0})
        try:
            plan = compute_trades(snapshot, {"A": value})
        except RebalancingError as exc:
            assert isinstance(exc, ValueError)
            assert "target_weights['A']" in str(exc)
        else:
            check_plan(snapshot, {"A": value}, None, plan)
            assert math.isfinite(plan.projected_cash)

    @pytest.mark.parametrize("name", NAMES, ids=repr)
    def test_every_hostile_name_as_an_asset(self, name):
        """Each bad asset name is rejected, naming the mapping it sits in."""
        with pytest.raises(RebalancingError, match="positions") as info:
            PortfolioSnapshot(0.0, {name: 1.0}, {"A": 1.0})

        assert isinstance(info.value, ValueError)

    @pytest.mark.parametrize("mapping", [*NOT_MAPPINGS, DuplicateItems("A")], ids=repr)
    def test_every_non_mapping_as_targets(self, mapping):
        """Targets that are not a mapping (or repeat a key) are rejected by name."""
        with pytest.raises(RebalancingError, match="target_weights") as info:
            compute_trades(PortfolioSnapshot(0.0), mapping)

        assert isinstance(info.value, ValueError)

    def test_huge_weights_never_leak_inf(self):
        """A weight of 1e308 on a huge account gives a finite plan or a clear error."""
        snapshot = PortfolioSnapshot(1e300, prices={"A": 1e-3}, fractional=True)
        try:
            plan = compute_trades(snapshot, {"A": 1e308})
        except RebalancingError as exc:
            assert "A" in str(exc)
        else:
            check_plan(snapshot, {"A": 1e308}, None, plan)
            assert all(math.isfinite(o.quantity) for o in plan)


class TestKnownCoreBugs:
    @pytest.mark.parametrize("field", ["cost_rate", "cash_buffer", "max_gross_leverage"])
    def test_decimal_config_values_are_usable(self, field):
        """A Decimal config value is accepted as a number and used as one."""
        snapshot = PortfolioSnapshot(1_000.0, {"A": 1}, {"A": 10.0})
        config = RebalanceConfig(**{field: Decimal("0.1")})

        plan = compute_trades(snapshot, {"A": 0.5, "B": 0.2}, config)

        check_plan(snapshot, {"A": 0.5, "B": 0.2}, config, plan)

    def test_a_huge_account_never_overflows(self):
        """Cash of 1e308 and a cheap asset give a finite plan or an error naming the asset."""
        snapshot = PortfolioSnapshot(1e308, prices={"A": 0.5})
        try:
            plan = compute_trades(snapshot, {"A": 1.0})
        except RebalancingError as exc:
            assert "A" in str(exc)
        else:
            check_plan(snapshot, {"A": 1.0}, None, plan)

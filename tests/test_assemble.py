"""The read helpers of PlanColumns agree with the Order and Decision values built from it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rebalancing import PortfolioSnapshot, RebalanceConfig, RebalancePlan, compute_trades
from rebalancing._assemble import PlanColumns
from rebalancing.testing import asset_names, rebalance_configs, snapshots, target_weights


@st.composite
def plans(draw):
    """A plan of the core for any valid snapshot, targets and config."""
    snapshot = draw(snapshots())
    names = asset_names()
    if snapshot.prices:
        names = st.sampled_from(sorted(snapshot.prices)) | names
    weights = draw(target_weights(assets=names))
    return compute_trades(snapshot, weights, draw(rebalance_configs()))


def columns_of(plan):
    columns = plan.columns
    assert isinstance(columns, PlanColumns)
    return columns


class TestPlanColumns:
    @given(plans())
    def test_order_rows_are_the_orders(self, plan):
        """order_rows gives each order's asset, side, quantity (same value and type) and action."""
        columns = columns_of(plan)
        expected = [(o.asset, o.side, o.quantity, type(o.quantity), o.action) for o in plan.orders]
        actual = [
            (columns.assets[i], side, quantity, type(quantity), action)
            for i, side, quantity, action in columns.order_rows()
        ]
        assert expected == actual

    @given(plans())
    def test_traded_value_is_the_plans(self, plan):
        """traded_value is the same float as RebalancePlan.traded_value."""
        expected = plan.traded_value
        assert expected == columns_of(plan).traded_value()

    @given(plans())
    def test_skip_reasons_and_adjustments_are_the_decisions(self, plan):
        """skip_reasons and adjustments give each decision's skip_reason and adjustments."""
        columns = columns_of(plan)
        expected = [(d.skip_reason, d.adjustments) for d in plan.decisions]
        actual = list(zip(columns.skip_reasons(), columns.adjustments(), strict=True))
        assert expected == actual

    def test_whole_unit_quantities_are_int(self):
        """A whole-unit order is sent as an int, a fractional one as a float."""
        snapshot = PortfolioSnapshot(1_000.0, {}, {"A": 10.0, "B": 3.0}, fractional=False)
        config = RebalanceConfig(min_trade_value=0.0, min_weight_change=0.0)
        plan = compute_trades(snapshot, {"A": 0.5, "B": 0.3}, config)
        assert [int, int] == [type(q) for q in columns_of(plan).sent_quantities()]


class TestPlanValues:
    @given(plans())
    def test_a_plan_from_columns_reads_as_the_plan_from_its_values(self, plan):
        """repr, equality and hash of a columns plan are those of the same plan given as values."""
        values = RebalancePlan(
            orders=plan.orders,
            cancels=plan.cancels,
            decisions=plan.decisions,
            equity=plan.equity,
            cash=plan.cash,
            projected_cash=plan.projected_cash,
            cash_floor=plan.cash_floor,
            estimated_costs=plan.estimated_costs,
            turnover=plan.turnover,
            projected_weights=plan.projected_weights,
        )
        assert values.columns is None
        assert repr(values) == repr(plan)
        assert values == plan
        assert hash(values) == hash(plan)

    def test_the_repr_names_every_figure_with_its_value(self):
        """repr shows each field by name, in order, as attrs would, orders first."""
        snapshot = PortfolioSnapshot(1_000.0, {}, {"A": 10.0})
        plan = compute_trades(snapshot, {"A": 0.5}, RebalanceConfig(min_trade_value=0.0))
        text = repr(plan)
        assert text.startswith(f"RebalancePlan(orders={plan.orders!r}, cancels=(), decisions=")
        assert text.endswith(
            f"equity=1000.0, cash=1000.0, projected_cash={plan.projected_cash!r}, "
            f"cash_floor=0.0, estimated_costs=0.0, turnover={plan.turnover!r}, "
            f"projected_weights={plan.projected_weights!r})"
        )

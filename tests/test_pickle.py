"""Snapshots and plans survive pickle: process pools and Dask workers send them around."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing import PortfolioSnapshot, RebalanceConfig, Rounding, compute_trades
from rebalancing.testing import rebalance_configs, snapshots, target_weights


@settings(max_examples=60, deadline=None)
@given(snapshot=snapshots(), data=st.data())
def test_a_snapshot_and_its_plan_come_back_equal(snapshot, data):
    """Equal after a round trip, and the snapshot still plans the same."""
    targets = data.draw(target_weights(assets=sorted(snapshot.prices)))
    config = data.draw(
        rebalance_configs(rounding=st.sampled_from([Rounding.DOWN, Rounding.CLOSEST]))
    )
    copy = pickle.loads(pickle.dumps(snapshot))  # noqa: S301 - our own bytes
    assert copy == snapshot
    assert copy.equity == snapshot.equity
    plan = compute_trades(snapshot, targets, config)
    back = pickle.loads(pickle.dumps(plan))  # noqa: S301 - our own bytes
    assert back == plan
    assert hash(back) == hash(plan)
    assert back.projected_weights == plan.projected_weights
    assert back.columns is not None  # the ml4t adapter reads a plan's columns
    assert compute_trades(copy, targets, config) == plan


def test_every_field_of_a_snapshot_is_kept():
    snapshot = PortfolioSnapshot(
        100.0,
        {"A": 3.0},
        {"A": 10.0, "B": 5.0},
        multipliers={"B": 2.0},
        lot_sizes={"A": 1.0},
        fractional=True,
        margin=True,
    )
    copy = pickle.loads(pickle.dumps(snapshot))  # noqa: S301 - our own bytes
    fields = ("cash", "positions", "prices", "multipliers", "lot_sizes", "pending_orders")
    assert [getattr(copy, f) for f in fields] == [getattr(snapshot, f) for f in fields]
    assert (copy.fractional, copy.margin) == (True, True)
    plan = compute_trades(snapshot, {"B": 0.5}, RebalanceConfig(min_trade_value=0.0))
    assert pickle.loads(pickle.dumps(plan)).orders == plan.orders  # noqa: S301 - our own bytes

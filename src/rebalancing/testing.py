"""Hypothesis strategies and invariant checks for code built on :mod:`rebalancing`.

Use the strategies to generate valid inputs for your own wrapper (a broker adapter, a
backtester step) and :func:`check_plan` to assert that a plan keeps every invariant the
library promises::

    from hypothesis import given, strategies as st
    from rebalancing import compute_trades
    from rebalancing.testing import check_plan, rebalance_configs, snapshots, target_weights

    @given(st.data())
    def test_my_wrapper(data):
        snapshot = data.draw(snapshots())
        targets = data.draw(target_weights(assets=snapshot.prices))
        config = data.draw(rebalance_configs())
        plan = compute_trades(snapshot, targets, config)
        check_plan(snapshot, targets, config, plan)

Every strategy builds valid values directly (nothing is filtered away), takes keyword-only
bounds in Hypothesis's style and defaults to the widest domain the library accepts. This
module imports Hypothesis (install ``rebalancing[testing]``); ``import rebalancing`` never
imports it. Installing the package also registers the strategies with Hypothesis, so
``st.from_type(PortfolioSnapshot)`` works.

The strategies live in ``rebalancing._strategies`` and the checks in
``rebalancing._checks``; this module is their public face.
"""

from __future__ import annotations

from ._checks import check_plan
from ._hypothesis_hook import register_type_strategies
from ._strategies import (
    asset_names,
    pending_orders,
    rebalance_configs,
    snapshots,
    target_weights,
)

__all__ = [
    "asset_names",
    "check_plan",
    "pending_orders",
    "rebalance_configs",
    "register_type_strategies",
    "snapshots",
    "target_weights",
]

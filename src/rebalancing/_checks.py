"""Invariant checks of a plan (the check half of :mod:`rebalancing.testing`).

:func:`check_plan` is an oracle written independently of the planner: it derives what
every invariant of DESIGN.md requires from the inputs alone and compares the plan. The
facts it derives live in ``_checks_facts``; the invariants, one method each, in
``_checks_cash`` (figures, projected cash, cash floor), ``_checks_orders`` (orders,
decisions, cancels and kept pending orders) and ``_checks_positions`` (thresholds, closes,
rounding and caps, shorts, direction, skip reasons). This module runs them in order.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._checks_orders import OrderChecks
from ._checks_positions import PositionChecks
from ._config import RebalanceConfig
from ._result import RebalancePlan
from ._snapshot import PortfolioSnapshot

__all__ = ["check_plan"]


class _Checker(OrderChecks, PositionChecks):
    """One run of :func:`check_plan`; every ``_check_*`` method is one invariant."""

    def run(self) -> None:
        self._check_figures()
        self._check_orders()
        self._check_decisions()
        self._check_cancels()
        self._check_projection()
        self._check_cash_floor()
        self._check_thresholds()
        self._check_shorts()
        self._check_direction()
        self._check_closes()
        self._check_rounding_and_caps()
        self._check_kept_orders_never_overshoot()
        self._check_skip_reasons()


def check_plan(
    snapshot: PortfolioSnapshot,
    target_weights: Mapping[str, float],
    config: RebalanceConfig | None,
    plan: RebalancePlan,
) -> None:
    """Assert that ``plan`` keeps every invariant of the library for these inputs.

    Checks, with a tiny float tolerance: the figures are finite and add up (equity,
    projected cash after kept pending orders and estimated costs, turnover, projected
    weights); every targeted, held or pending asset has exactly one decision with a true
    skip reason when it does not trade; orders are risk-reducing first, whole units are
    ``int`` and multiples of the increment; closes send exactly the held quantity; no
    order except a close is below the thresholds; buys never take projected cash below
    the cash floor; no position ends beyond its target quantity (one increment with
    ``Rounding.CLOSEST`` or ``OPTIMAL``) or above the caps; no short is planned unless allowed; the
    direction is respected; pending orders are cancelled or counted, never doubled, and
    never crossed by an order the other way.

    Args:
        snapshot: The snapshot the plan was computed from.
        target_weights: The targets it was computed for.
        config: The config (``None`` for the default).
        plan: What :func:`~rebalancing.compute_trades` (or your wrapper) returned.

    Raises:
        AssertionError: naming the invariant, the asset and the numbers that break it.
    """
    _Checker(snapshot, target_weights, config or RebalanceConfig(), plan).run()

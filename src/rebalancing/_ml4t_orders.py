"""Sending a plan to an ml4t-backtest ``Broker`` and showing it as ml4t's preview does.

:func:`submit` cancels the plan's cancels and submits its orders, in the plan's order;
:func:`preview_rows` turns the plan's decisions into ml4t-style preview dicts. Both read
only the plan, so what :meth:`~rebalancing.ml4t.TargetWeightExecutor.preview` shows is
what :meth:`~rebalancing.ml4t.TargetWeightExecutor.execute` sends.

Imported by :mod:`rebalancing.ml4t`, which says how to install ml4t-backtest when it is
missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ml4t.backtest.types import OrderSide  # type: ignore[import-untyped,import-not-found,unused-ignore]

from ._ml4t_broker import read_attribute
from ._result import Action, Decision, Order, RebalancePlan
from ._snapshot import Side

__all__ = ["preview_rows", "submit"]


def _side(side: Side) -> Any:
    return OrderSide.BUY if side is Side.BUY else OrderSide.SELL


def _action(decision: Decision) -> str | None:
    orders = decision.orders
    if not orders:
        return None
    if len(orders) > 1:
        return "reverse"
    if orders[0].action is Action.CLOSE:
        return "close_position"
    return orders[0].action.value


def submit(broker: Any, cancels: Iterable[str], orders: Iterable[Order]) -> list[Any]:
    cancel_order = read_attribute(broker, "cancel_order")
    submit_order = read_attribute(broker, "submit_order")
    for order_id in cancels:
        cancel_order(order_id)
    sent = []
    for order in orders:
        placed = submit_order(order.asset, order.quantity, _side(order.side))
        if placed is not None:
            sent.append(placed)
    return sent


def preview_rows(plan: RebalancePlan) -> list[dict[str, Any]]:
    """ml4t-style preview dicts for ``plan``'s decisions (see ``TargetWeightExecutor.preview``).

    Args:
        plan: A plan from :func:`rebalancing.compute_trades`.

    Returns:
        One dict per decision, sorted by asset.
    """
    sequence = {
        (order.asset, order.side, order.action): index for index, order in enumerate(plan.orders)
    }
    only_held = plan.equity <= 0.0
    rows: list[dict[str, Any]] = []
    for decision in plan.decisions:
        orders = decision.orders
        if only_held and not (
            decision.current_quantity or decision.pending_quantity or orders or decision.cancels
        ):
            continue
        shares: float = 0
        legs = []
        multiplier = 1.0
        for order in orders:
            shares += order.signed_quantity
            multiplier = order.multiplier
            legs.append(
                {
                    "side": order.side.value,
                    "quantity": order.quantity,
                    "action": order.action.value,
                    "seq": sequence[order.asset, order.side, order.action],
                }
            )
        skip = decision.skip_reason
        rows.append(
            {
                "asset": decision.asset,
                "current_weight": decision.current_weight,
                "target_weight": decision.target_weight,
                "weight_delta": decision.target_weight - decision.current_weight,
                "shares": shares,
                "value": shares * (decision.price or 0.0) * multiplier,
                "skip_reason": None if skip is None else skip.value,
                "action": _action(decision),
                "requested_weight": decision.requested_weight,
                "projected_weight": decision.projected_weight,
                "price": decision.price,
                "orders": legs,
                "cancels": list(decision.cancels),
                "adjustments": [adjustment.value for adjustment in decision.adjustments],
            }
        )
    return rows

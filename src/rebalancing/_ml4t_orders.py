"""Sending a plan to an ml4t-backtest ``Broker`` and showing it as ml4t's preview does.

:func:`submit` cancels the plan's cancels and submits its orders, in the plan's order;
:func:`preview_rows` turns the plan's decisions into ml4t-style preview dicts. Both read
only the plan, so what :meth:`~rebalancing.ml4t.TargetWeightExecutor.preview` shows is
what :meth:`~rebalancing.ml4t.TargetWeightExecutor.execute` sends.

Imported by :mod:`rebalancing.ml4t`, which says how to install ml4t-backtest when it is
missing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ml4t.backtest.types import OrderSide  # type: ignore[import-untyped,import-not-found,unused-ignore]

from ._assemble import PlanColumns, adjustment_tuples
from ._ml4t_broker import read_attribute
from ._result import Action, RebalancePlan, SkipReason
from ._rounding import ACTIONS, SKIPS
from ._snapshot import Side

__all__ = ["buys", "orders_to_send", "preview_rows", "submit", "traded_value"]

#: ml4t's side by ``sign > 0``.
_SIDES = (OrderSide.SELL, OrderSide.BUY)
#: Whether an order reduces risk, by its action code (an index into ``ACTIONS``).
_REDUCES = tuple(action.reduces_risk for action in ACTIONS)


def _columns(plan: RebalancePlan) -> PlanColumns:
    """The plan's columns: the adapter reads them instead of building objects."""
    columns = plan.columns
    assert isinstance(columns, PlanColumns)  # noqa: S101 - compute_trades always gives them
    return columns


def orders_to_send(
    plan: RebalancePlan, *, reducing_only: bool = False
) -> list[tuple[str, float, Any]]:
    """``(asset, quantity as sent, ml4t side)`` of each of the plan's orders, in its order.

    Args:
        plan: A plan from :func:`rebalancing.compute_trades`.
        reducing_only: Only the risk-reducing orders (closes and reductions).
    """
    columns = _columns(plan)
    assets = columns.assets
    return [
        (assets[i], quantity, _SIDES[sign > 0])
        for i, sign, quantity, action in zip(
            columns.asset.tolist(),
            columns.sign.tolist(),
            columns.sent_quantities(),
            columns.action.tolist(),
            strict=True,
        )
        if not reducing_only or _REDUCES[action]
    ]


def buys(plan: RebalancePlan) -> bool:
    """Whether the plan has a buy."""
    return bool((_columns(plan).sign > 0.0).any())


def traded_value(plan: RebalancePlan) -> float:
    """:attr:`RebalancePlan.traded_value`, read off the plan's columns."""
    return _columns(plan).traded_value()


def submit(
    broker: Any, cancels: Iterable[str], orders: Iterable[tuple[str, float, Any]]
) -> list[Any]:
    """Cancel ``cancels``, then submit ``orders`` (see :func:`orders_to_send`) in order.

    Returns:
        The broker's ``Order`` objects that were placed.
    """
    cancel_order = read_attribute(broker, "cancel_order")
    submit_order = read_attribute(broker, "submit_order")
    for order_id in cancels:
        cancel_order(order_id)
    sent = []
    for asset, quantity, side in orders:
        placed = submit_order(asset, quantity, side)
        if placed is not None:
            sent.append(placed)
    return sent


#: Preview strings by code: a side by ``sign > 0``, an action by its code (an index
#: into ``ACTIONS``).
_SIDE_TEXT = (Side.SELL.value, Side.BUY.value)
_ACTION_TEXT = tuple(action.value for action in ACTIONS)
#: A single order's preview action by its code: ml4t says "close_position" for a close.
_PREVIEW_ACTION = tuple(
    "close_position" if action is Action.CLOSE else action.value for action in ACTIONS
)
#: A skip reason's text by its code (an index into ``SKIPS``; 0, none, is "at target").
_SKIP_BY_CODE = tuple((reason or SkipReason.AT_TARGET).value for reason in SKIPS)


def preview_rows(plan: RebalancePlan) -> list[dict[str, Any]]:
    """ml4t-style preview dicts for ``plan``'s decisions (see ``TargetWeightExecutor.preview``).

    Read off the plan's columns; each row holds what the plan's :class:`Decision` for the
    asset says. Every field is first made a list over the assets, and the dicts are then
    built in one pass.

    Args:
        plan: A plan from :func:`rebalancing.compute_trades`.

    Returns:
        One dict per decision, sorted by asset.
    """
    columns = _columns(plan)
    count = len(columns.assets)
    price = [None if math.isnan(p) else p for p in columns.price.tolist()]
    requested = [None if math.isnan(r) else r for r in columns.requested.tolist()]
    current, target = columns.current_weight, columns.target
    delta = [t - c for t, c in zip(target, current, strict=True)]
    # Untraded rows: no shares, no action, the skip reason; traded ones are set below.
    shares: list[float] = [0] * count
    value = [0.0] * count
    action: list[str | None] = [None] * count
    reason: list[str | None] = [_SKIP_BY_CODE[skip] for skip in columns.skip.tolist()]
    legs: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    multiplier = columns.multiplier.tolist()
    for i, own, net, code in _legs(columns):
        legs[i], shares[i], reason[i] = own, net, None
        value[i] = net * (price[i] or 0.0) * multiplier[i]
        action[i] = "reverse" if len(own) > 1 else _PREVIEW_ACTION[code]
    cancels: list[list[str]] = [[] for _ in range(count)]
    for i, ids in columns.cancels.items():
        cancels[i] = list(ids)
    adjust = columns.adjust.tolist()
    texts = _adjustment_texts(adjust)
    adjustments = [list(texts[code]) if code else [] for code in adjust]
    rows = [
        {
            "asset": asset,
            "current_weight": current_weight,
            "target_weight": target_weight,
            "weight_delta": weight_delta,
            "shares": net,
            "value": notional,
            "skip_reason": skip,
            "action": act,
            "requested_weight": wanted,
            "projected_weight": projected,
            "price": known,
            "orders": own,
            "cancels": ids,
            "adjustments": adjusted,
        }
        for (
            asset,
            current_weight,
            target_weight,
            weight_delta,
            net,
            notional,
            skip,
            act,
            wanted,
            projected,
            known,
            own,
            ids,
            adjusted,
        ) in zip(
            columns.assets,
            current,
            target,
            delta,
            shares,
            value,
            reason,
            action,
            requested,
            columns.projected_weight,
            price,
            legs,
            cancels,
            adjustments,
            strict=True,
        )
    ]
    if plan.equity <= 0.0:  # weights mean nothing: only what can still be closed
        held, pending = columns.current, columns.pending
        rows = [row for i, row in enumerate(rows) if held[i] or pending[i] or legs[i] or cancels[i]]
    return rows


def _legs(columns: PlanColumns) -> list[tuple[int, list[dict[str, Any]], float, int]]:
    """``(asset index, preview legs, net shares, last action code)`` of each traded asset."""
    legs: dict[int, list[dict[str, Any]]] = {}
    shares: dict[int, float] = {}
    codes: dict[int, int] = {}
    for seq, (i, sign, quantity, code) in enumerate(
        zip(
            columns.asset.tolist(),
            columns.sign.tolist(),
            columns.sent_quantities(),
            columns.action.tolist(),
            strict=True,
        )
    ):
        buy = sign > 0
        leg = {
            "side": _SIDE_TEXT[buy],
            "quantity": quantity,
            "action": _ACTION_TEXT[code],
            "seq": seq,
        }
        own = legs.get(i)
        if own is None:
            legs[i] = [leg]
        else:
            own.append(leg)
        shares[i] = shares.get(i, 0) + (quantity if buy else -quantity)
        codes[i] = code
    return [(i, own, shares[i], codes[i]) for i, own in legs.items()]


def _adjustment_texts(codes: list[int]) -> dict[int, tuple[str, ...]]:
    """The adjustments' texts of each distinct ``adjust`` code (bits of ``ADJUSTMENTS``)."""
    distinct = sorted(set(codes))
    decoded = adjustment_tuples(distinct)
    return {
        code: tuple(a.value for a in chosen) for code, chosen in zip(distinct, decoded, strict=True)
    }

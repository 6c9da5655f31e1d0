"""Printing a plan: the table a person reads, CSV and JSON for programs.

Money is printed to the cent and weights to ten decimals, without binary float noise;
a skipped asset is explained with the figure the planner actually compared.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from ._config import RebalanceConfig, Rounding
from ._plan import NOISE, round_holding, round_nearest
from ._result import Adjustment, Decision, RebalancePlan, SkipReason


def _quantity(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.6f}".rstrip("0").rstrip(".")


def _money(value: float) -> str:
    text = f"{value:,.2f}"
    return "0.00" if text == "-0.00" else text


def _price_text(value: float) -> str:
    """A price with cents, and more decimals only when it has them (0.0123)."""
    text = f"{value:,.6f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def _cents(value: float) -> float:
    """An amount of money for CSV and JSON: rounded to cents, without float noise."""
    return round(value, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def _fraction(value: float) -> float:
    """A weight for CSV and JSON: 10 decimals (1e-10 of equity), without float noise."""
    return round(value, 10) + 0.0


def _percent(value: float) -> str:
    text = f"{value * 100:.2f}%"
    return "0.00%" if text == "-0.00%" else text


def _compared_trade(decision: Decision, plan: RebalancePlan, config: RebalanceConfig) -> float:
    """The trade's notional that the thresholds were checked on, for a skipped asset.

    The planner compares the trade it would send, after rounding to whole units or lots,
    not ``|target - current|``: this redoes that rounding with the planner's own functions
    (the command line has no pending orders, multipliers or per-asset lots). When the
    rounded trade is empty, the planner compared the unrounded one. One approximation:
    under ``Rounding.CLOSEST``, when cash is short the planner re-checks sells rounded
    down, which may sell one unit more than the figure quoted here; both are below the
    threshold, since the asset was skipped.
    """
    unit_value = decision.price or 0.0
    current = decision.current_quantity
    desired = decision.target_weight * plan.equity / unit_value
    increment = None if config.allow_fractional else 1.0
    if config.round_lots:  # lots apply to fractional accounts too
        increment = float(config.lot_size)
    final = round_holding(current, desired, increment)
    if config.rounding is Rounding.CLOSEST:
        nearest = round_nearest(current, desired, increment)
        if abs(nearest) * unit_value <= config.max_single_weight * plan.equity:
            final = nearest
    if abs(final) * unit_value <= NOISE * plan.equity:
        final = 0.0
    if final == current:
        return abs(desired - current) * unit_value
    return abs(final - current) * unit_value


def _threshold_text(decision: Decision, plan: RebalancePlan, config: RebalanceConfig) -> str:
    """Why a trade was too small, with the figures the planner compared."""
    value = _compared_trade(decision, plan, config)
    change = value / plan.equity
    wanted = abs(decision.target_weight - decision.current_weight)
    by_value = decision.skip_reason is SkipReason.TRADE_VALUE_TOO_SMALL
    rounded = ""
    if not math.isclose(change, wanted, rel_tol=1e-9, abs_tol=1e-12):
        units = round(value / (decision.price or 1.0), 6)
        noun = "unit" if units == 1 else "units"
        before = _money(wanted * plan.equity) if by_value else _percent(wanted)
        rounded = f" ({_quantity(units)} {noun}; {before} before rounding)"
    if by_value:
        return (
            f"trade {_money(value)}{rounded} is below min_trade_value "
            f"{_money(config.min_trade_value)}"
        )
    if config.relative_band is None:
        return (
            f"change {_percent(change)}{rounded} is below min_weight_change "
            f"{_percent(config.min_weight_change)}"
        )
    relative = config.relative_band * abs(decision.target_weight)
    return (
        f"change {_percent(change)}{rounded} is inside both bands: "
        f"{_percent(config.min_weight_change)} (min_weight_change) and {_percent(relative)} "
        f"(relative_band {config.relative_band:g} x target)"
    )


def _reason(decision: Decision, plan: RebalancePlan, config: RebalanceConfig) -> str:
    reason = decision.skip_reason
    if reason in (SkipReason.WEIGHT_CHANGE_TOO_SMALL, SkipReason.TRADE_VALUE_TOO_SMALL):
        return _threshold_text(decision, plan, config)
    texts = {
        SkipReason.ROUNDS_TO_ZERO: "the trade rounds to zero units",
        SkipReason.AT_TARGET: "already at target",
        SkipReason.PENDING_COVERS: "pending orders already cover it",
        SkipReason.NO_PRICE: "no price: add a price column to the targets or use --prices",
        SkipReason.SHORT_NOT_ALLOWED: "negative target, but allow_short is off",
        SkipReason.CAPPED: f"capped at max_single_weight {_percent(config.max_single_weight)}",
        SkipReason.CASH_LIMITED: "not enough cash for a buy",
        SkipReason.NON_POSITIVE_EQUITY: "equity is zero or negative",
        SkipReason.DIRECTION: (
            f"would {'sell' if decision.target_weight < decision.current_weight else 'buy'}, "
            f"but direction is {config.direction.value}"
        ),
        SkipReason.NOT_TARGETED: "not in the targets (close_untargeted is off)",
    }
    if reason is None:  # pragma: no cover - only called for skipped assets
        return ""
    return texts.get(reason, reason.value)


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _render_table(
    plans: list[tuple[str | None, RebalancePlan]], config: RebalanceConfig, out: TextIO
) -> None:
    for number, (account, plan) in enumerate(plans):
        if account is not None:
            heading = f"Account {account}"
            out.write(("\n" if number else "") + f"{heading}\n{'=' * len(heading)}\n")
        _render_plan_table(plan, config, out)


def _render_plan_table(plan: RebalancePlan, config: RebalanceConfig, out: TextIO) -> None:
    lines: list[str] = []
    if plan.orders:
        lines.append(f"Orders ({len(plan.orders)}), in the order to place them")
        rows = [
            ["Side", "Asset", "Quantity", "Price", "Value", "Weight now", "", "after", "target"]
        ]
        for order in plan.orders:
            decision = plan.decision(order.asset)
            rows.append(
                [
                    order.side.value.upper(),
                    order.asset,
                    _quantity(order.quantity),
                    _price_text(order.price),
                    _money(order.value),
                    _percent(decision.current_weight),
                    "->",
                    _percent(decision.projected_weight),
                    _percent(decision.target_weight),
                ]
            )
        lines.extend(_table(rows, right={2, 3, 4, 5, 7, 8}))
    else:
        lines.append("Orders: none")
    skipped = [d for d in plan.decisions if not d.trades]
    if skipped:
        lines.append("")
        lines.append(f"No trade ({len(skipped)})")
        rows = [["Asset", "Weight now", "target", "Reason"]]
        rows.extend(
            [
                decision.asset,
                _percent(decision.current_weight),
                _percent(decision.target_weight),
                _reason(decision, plan, config),
            ]
            for decision in skipped
        )
        lines.extend(_table(rows, right={1, 2}))
    lines.extend(_notes(plan))
    summary = [
        ["Equity", _money(plan.equity)],
        ["Cash before", _money(plan.cash_before)],
        ["Projected cash", _money(plan.projected_cash)],
        ["Traded value", _money(plan.traded_value)],
        ["Turnover", _percent(plan.turnover)],
    ]
    if plan.estimated_costs:
        summary.insert(3, ["Estimated costs", _money(plan.estimated_costs)])
    lines.append("")
    lines.extend(_table(summary, right={1}))
    out.write("\n".join(lines) + "\n")


def _notes(plan: RebalancePlan) -> list[str]:
    """What was done to the whole book before planning, said once under the tables."""
    scaled = [d for d in plan.decisions if Adjustment.CASH_ACCOUNT in d.adjustments]
    if not scaled:
        return []
    gross = math.fsum(abs(d.requested_weight or 0.0) for d in plan.decisions)
    return [
        "",
        f"Note: the targets sum to {_percent(gross)}; a cash account does not borrow, so they",
        "      were scaled to 100% (pass --margin for an account that may borrow).",
    ]


def _note_texts(plan: RebalancePlan) -> list[str]:
    """The table's notes as one line each, for the csv (on stderr) and json outputs."""
    lines = _notes(plan)
    return [" ".join(line.strip() for line in lines[1:]).removeprefix("Note: ")] if lines else []


def _records(plan: RebalancePlan, config: RebalanceConfig) -> Iterator[dict[str, Any]]:
    for order in plan.orders:
        decision = plan.decision(order.asset)
        yield {
            "asset": order.asset,
            "side": order.side.value,
            "action": order.action.value,
            "quantity": order.quantity,
            "price": _fraction(order.price),
            "value": _cents(order.value),
            "estimated_cost": _cents(order.estimated_cost),
            "current_weight": _fraction(decision.current_weight),
            "target_weight": _fraction(decision.target_weight),
            "projected_weight": _fraction(decision.projected_weight),
            "reason": None,
        }
    for decision in plan.decisions:
        if decision.trades:
            continue
        yield {
            "asset": decision.asset,
            "side": None,
            "quantity": None,
            "price": None if decision.price is None else _fraction(decision.price),
            "value": None,
            "current_weight": _fraction(decision.current_weight),
            "target_weight": _fraction(decision.target_weight),
            "projected_weight": _fraction(decision.projected_weight),
            "reason": decision.skip_reason.value if decision.skip_reason else None,
            "explanation": _reason(decision, plan, config),
        }


def _render_csv(
    plans: list[tuple[str | None, RebalancePlan]], config: RebalanceConfig, out: TextIO
) -> None:
    accounts = plans[0][0] is not None
    columns = [
        *(["account"] if accounts else []),
        "asset",
        "side",
        "quantity",
        "price",
        "value",
        "current_weight",
        "target_weight",
        "projected_weight",
        "reason",
    ]
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for account, plan in plans:
        for record in _records(plan, config):
            row = {k: "" if v is None else v for k, v in record.items()}
            writer.writerow({"account": account, **row} if accounts else row)
        for note in _note_texts(plan):  # not a row: said where a person reads it
            sys.stderr.write(f"note{f' (account {account})' if accounts else ''}: {note}\n")


def _render_json(
    plans: list[tuple[str | None, RebalancePlan]], config: RebalanceConfig, out: TextIO
) -> None:
    if plans[0][0] is None:
        document: dict[str, Any] = _document(plans[0][1], config)
    else:
        document = {
            "accounts": [{"account": account, **_document(plan, config)} for account, plan in plans]
        }
    json.dump(document, out, indent=2)
    out.write("\n")


def _document(plan: RebalancePlan, config: RebalanceConfig) -> dict[str, Any]:
    records = list(_records(plan, config))
    return {
        "orders": [
            {k: v for k, v in r.items() if k not in ("reason", "explanation")}
            for r in records
            if r["side"]
        ],
        "skipped": [
            {k: r[k] for k in ("asset", "current_weight", "target_weight", "reason", "explanation")}
            for r in records
            if not r["side"]
        ],
        "equity": _cents(plan.equity),
        "cash_before": _cents(plan.cash_before),
        "projected_cash": _cents(plan.projected_cash),
        "traded_value": _cents(plan.traded_value),
        "estimated_costs": _cents(plan.estimated_costs),
        "turnover": _fraction(plan.turnover),
        "notes": _note_texts(plan),
    }


_RENDERERS: dict[
    str, Callable[[list[tuple[str | None, RebalancePlan]], RebalanceConfig, TextIO], None]
] = {
    "table": _render_table,
    "csv": _render_csv,
    "json": _render_json,
}


# -- the command ----------------------------------------------------------------------------

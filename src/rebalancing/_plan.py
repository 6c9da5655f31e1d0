"""The pure core: :func:`compute_trades` wires the stages of the pipeline.

validate and lay out (:mod:`._book`) -> size, round and check, reconcile pending orders
(:mod:`._sizing`) -> fund (:mod:`._funding`, :mod:`._closest_funding`, or the solver of
:mod:`._optimal`) -> settle resting orders and assemble (:mod:`._assemble`). Every stage
is a function of its inputs only: no I/O, clock or globals. Per-asset state is columns
over the assets sorted by name, and cash sums use :func:`math.fsum`, so the key order of
the inputs never changes the plan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from ._assemble import Assembled, PlanColumns, assemble, plans, settle_resting
from ._book import Book, Rows, flag, read_book, rows_from_snapshots, validate_targets
from ._config import RebalanceConfig, Rounding
from ._funding import account_cash, cash_floor, fund, pending_flows, settle_pending_buys
from ._optimal import OptimalBook, OptimalLine, closest_plan, optimise, require_scipy
from ._result import Adjustment, RebalancePlan
from ._rounding import NOISE, SKIP, legs_of, round_holding, round_nearest, threshold_codes
from ._sizing import Lines, size
from ._snapshot import PortfolioSnapshot
from ._units import cash_slack
from .exceptions import InvalidConfigError, InvalidSnapshotError

__all__ = [
    "NOISE",
    "compute_trades",
    "plan_accounts",
    "plan_many",
    "plan_rows",
    "plan_table_rows",
    "round_holding",
    "round_nearest",
    "validate_targets",
]


def compute_trades(
    snapshot: PortfolioSnapshot,
    target_weights: Mapping[str, float],
    config: RebalanceConfig | None = None,
) -> RebalancePlan:
    """Plan the orders that take ``snapshot`` to ``target_weights``.

    Args:
        snapshot: The account: cash, positions, prices, pending orders.
        target_weights: asset -> fraction of equity (any mapping, e.g. a dict or a pandas
            Series). Weights may sum to less than 1 (the rest stays cash) or, in a
            margin account, to more. Held assets that are missing, and explicit zeros,
            are closed.
        config: How to rebalance; ``None`` means ``RebalanceConfig()``.

    Returns:
        A frozen :class:`RebalancePlan`; iterate it for the orders in submission order.

    Raises:
        InvalidTargetsError: a weight is not a finite number or an asset name is bad.
        InvalidSnapshotError: ``snapshot`` is not a :class:`PortfolioSnapshot`.
        InvalidConfigError: ``config`` is not a :class:`RebalanceConfig`.

    >>> snap = PortfolioSnapshot(10_000.0, prices={"AAA": 100.0, "BBB": 50.0})
    >>> plan = compute_trades(snap, {"AAA": 0.5, "BBB": 0.3})
    >>> [(o.side.value, o.asset, o.quantity) for o in plan]
    [('buy', 'AAA', 50), ('buy', 'BBB', 60)]
    >>> plan.projected_cash
    2000.0
    """
    chosen: object = RebalanceConfig() if config is None else config
    if not isinstance(chosen, RebalanceConfig):
        msg = f"config must be a RebalanceConfig or None, got {type(chosen).__name__} {chosen!r}"
        raise InvalidConfigError(msg)
    account: object = snapshot
    if not isinstance(account, PortfolioSnapshot):
        msg = f"snapshot must be a PortfolioSnapshot, got {type(account).__name__}"
        raise InvalidSnapshotError(msg)
    targets = validate_targets(target_weights)
    require_scipy(chosen)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            plan = _plan(account, targets, chosen)
    except OverflowError:
        plan = None
    if plan is None or not _finite(plan):
        raise InvalidSnapshotError(_overflow_message(account, targets, chosen))
    return plan


#: Inputs larger than this are named when a plan overflows.
_HUGE = 1e100


def _finite(plan: RebalancePlan) -> bool:
    """Whether every figure of the plan is a finite number (read off its columns)."""
    figures = [plan.projected_cash, plan.estimated_costs, plan.turnover, plan.cash_floor]
    if not all(math.isfinite(figure) for figure in figures):
        return False
    columns = plan.columns
    assert isinstance(columns, PlanColumns)  # noqa: S101 - the planner's own plan
    return bool(
        np.isfinite(columns.quantity * columns.price[columns.asset]).all()
        and np.isfinite(columns.cost).all()
        and np.isfinite(columns.projected_weight).all()
    )


def _overflow_message(
    snapshot: PortfolioSnapshot, targets: Mapping[str, float], config: RebalanceConfig
) -> str:
    """Name the inputs so large that planning with them overflows."""
    named = [("cash", snapshot.cash)]
    for label, mapping in (
        ("positions", snapshot.positions),
        ("prices", snapshot.prices),
        ("multipliers", snapshot.multipliers),
        ("target_weights", targets),
    ):
        named.extend((f"{label}[{asset!r}]", value) for asset, value in mapping.items())
    named.extend(
        (f"pending order {o.order_id!r} quantity", o.quantity) for o in snapshot.pending_orders
    )
    named.extend(
        (f"RebalanceConfig.{field}", float(getattr(config, field)))
        for field in ("min_trade_value", "cost_per_order")
    )
    huge = [f"{label}={value!r}" for label, value in named if abs(value) > _HUGE]
    culprits = ", ".join(huge) or "the product of cash, quantities and prices"
    return f"planning overflows floating point: these inputs are too large: {culprits}"


def _plan(
    snapshot: PortfolioSnapshot, targets: dict[str, float], config: RebalanceConfig
) -> RebalancePlan:
    """One account through the pipeline."""
    if config.rounding is not Rounding.OPTIMAL:
        return plan_accounts([snapshot], [targets], config)[0]
    plan = optimal_plan(snapshot, targets, config)
    # Kept pending orders fix holdings the solver does not move, so a mode that replaces
    # one may come closer; and at extreme scales (1e16 units) HiGHS can report a wrong
    # optimum. Keep the closest plan, OPTIMAL's on a tie: never further than DOWN or
    # CLOSEST.
    others = [
        _plan(snapshot, targets, attrs.evolve(config, rounding=rounding))
        for rounding in (Rounding.CLOSEST, Rounding.DOWN)
    ]
    return closest_plan([plan, *others])


def optimal_plan(
    snapshot: PortfolioSnapshot, targets: dict[str, float], config: RebalanceConfig
) -> RebalancePlan:
    """``Rounding.OPTIMAL``'s own plan, before :func:`_plan` compares it with the others."""
    book = read_book(rows_from_snapshots([snapshot], [targets]), config)
    lines = size(book, config)
    floor = cash_floor(book, config)
    lines = settle_resting(book, config, _optimise(book, config, lines, float(floor[0])))
    return plans(book, lines, assemble(book, config, lines, floor))[0]


def plan_many(
    snapshots: Sequence[PortfolioSnapshot],
    targets: Sequence[dict[str, float]],
    config: RebalanceConfig,
) -> list[RebalancePlan] | None:
    """Validated accounts planned together; None when one overflows.

    (Plan each alone to learn which, and why.) The batch of
    :func:`~rebalancing.compute_trades_many`: the same plans as :func:`compute_trades`
    gives each account (``Rounding.OPTIMAL`` plans them one by one).
    """
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            if config.rounding is Rounding.OPTIMAL:
                planned = [
                    _plan(*account, config) for account in zip(snapshots, targets, strict=True)
                ]
            else:
                planned = plan_accounts(snapshots, targets, config)
    except (OverflowError, InvalidSnapshotError):
        return None
    return planned if all(_finite(plan) for plan in planned) else None


def plan_accounts(
    snapshots: Sequence[PortfolioSnapshot],
    targets: Sequence[dict[str, float]],
    config: RebalanceConfig,
) -> list[RebalancePlan]:
    """Many accounts through the pipeline at once (``Rounding.DOWN`` or ``CLOSEST``).

    Each plan is the one the account would get alone: every stage works on the rows of
    all accounts, and sums and budgets are per account.
    """
    return plans(*plan_rows(rows_from_snapshots(snapshots, targets), config))


def plan_rows(rows: Rows, config: RebalanceConfig) -> tuple[Book, Lines, Assembled]:
    """The stages on the rows of many accounts (``Rounding.DOWN`` or ``CLOSEST``)."""
    book = read_book(rows, config)
    lines = size(book, config)
    floor = cash_floor(book, config)
    lines, legs = fund(book, config, lines, floor)
    # Settling resting orders only cancels: the legs stay as funding left them.
    lines = settle_resting(book, config, lines)
    return book, lines, assemble(book, config, lines, floor, legs)


def plan_table_rows(rows: Rows, config: RebalanceConfig) -> tuple[Book, Lines, Assembled] | None:
    """:func:`plan_rows` for ``plan_table``; None when an account overflows."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            book, lines, done = plan_rows(rows, config)
    except (OverflowError, InvalidSnapshotError):
        return None
    figures = (done.projected_cash, done.estimated_costs, done.turnover, done.floor)
    sent = done.quantity * book.price[done.row]
    if not all(np.isfinite(f).all() for f in (*figures, sent, done.cost, done.projected_weight)):
        return None
    return book, lines, done


def _optimise(book: Book, config: RebalanceConfig, lines: Lines, floor: float) -> Lines:
    """``Rounding.OPTIMAL``: size every free trade by the proven optimum (``_optimal``).

    Pending buys past the target go when the cash is short, as in the other modes: short
    after the sized sells, or short at the end of the optimum, which may sell less than
    sizing did (then the optimum is found again without them).
    """
    floors = np.array([floor])
    lines = settle_pending_buys(book, config, lines, floors)[0]
    solved = _solve(book, config, lines, floor)
    if solved is not None:
        legs = legs_of(solved.exposure, solved.final, book.increment)
        cash = account_cash(book, config, solved, legs, buys=True)
        slack = cash_slack(book.accounts.cash, book.accounts.equity)
        short = cash < floors - slack
        if short.any():
            settled = settle_pending_buys(book, config, lines, floors, short=short)[0]
            if settled.cancels != lines.cancels:
                lines, solved = settled, _solve(book, config, settled, floor)
    if solved is None:
        # HiGHS found no solution in its node limit: fund as CLOSEST does (the trades
        # were rounded to nearest, as CLOSEST's are).
        closest = attrs.evolve(config, rounding=Rounding.CLOSEST)
        return fund(book, closest, lines, floors)[0]
    return solved


def _solve(book: Book, config: RebalanceConfig, lines: Lines, floor: float) -> Lines | None:
    """The lines with the optimum's trades; None when HiGHS finds no solution in time."""
    legs = legs_of(lines.exposure, lines.final, book.increment)
    views = []
    for i in range(len(book.assets)):
        step = float(book.increment[i])
        price = float(book.price[i])
        views.append(
            OptimalLine(
                active=bool(lines.active[i]),
                price=None if math.isnan(price) else price,
                target=float(lines.target[i]),
                exposure=float(lines.exposure[i]),
                desired=float(lines.desired[i]),
                final=float(lines.final[i]),
                increment=step or None,
                unit_value=float(book.unit_value[i]),
                kept_working=list(lines.kept.get(i, ())),
                legs=legs.as_list(i),
            )
        )

    equity = float(book.accounts.equity[0])

    def due(line: OptimalLine, value: float) -> bool:
        codes = threshold_codes(np.array([value]), np.array([line.target]), equity, config)
        return bool(codes[0] == 0)

    def legs_between(start: float, final: float, increment: float | None) -> list:  # type: ignore[type-arg]
        between = legs_of(np.array([start]), np.array([final]), np.array([increment or 0.0]))
        return between.as_list(0)

    position = {id(view): i for i, view in enumerate(views)}

    def flow(line: OptimalLine) -> list[float]:
        return pending_flows(book, config, [(position[id(line)], line.kept_working)])[1]

    solved = optimise(
        OptimalBook(
            lines=views,
            cash=float(book.accounts.cash[0]),
            equity=equity,
            floor=floor,
            config=config,
            counts_pending=book.counts_pending,
            allow_short=config.allow_short and bool(book.accounts.margin[0]),
            due=due,
            legs=legs_between,
            pending_flow=flow,
        )
    )
    if not solved:
        return None
    final, skip, adjust = lines.final.copy(), lines.skip.copy(), lines.adjust.copy()
    for i, view in enumerate(views):
        final[i] = (
            view.final
            if view.legs == legs_between(view.exposure, view.final, view.increment)
            else _reached(view)
        )
        if view.skip is not None:
            skip[i] = SKIP[view.skip]
        if Adjustment.CASH_LIMITED in view.adjustments:
            adjust[i] |= flag(Adjustment.CASH_LIMITED)
    return lines._replace(final=final, skip=skip, adjust=adjust)


def _reached(view: OptimalLine) -> float:
    """The holding the view's legs reach from its exposure."""
    if any(action.value == "close" for _, _, action in view.legs):
        opening = [
            side.sign * quantity for side, quantity, action in view.legs if action.value != "close"
        ]
        return opening[0] if opening else 0.0
    return view.exposure + math.fsum(side.sign * quantity for side, quantity, _ in view.legs)

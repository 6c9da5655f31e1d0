"""``Rounding.OPTIMAL``: the holdings closest to target, proven by a MILP (scipy's HiGHS).

Pure: no I/O, clock or globals; scipy is imported only when a plan asks for OPTIMAL, so
``import rebalancing`` never needs it (it is the optional extra ``rebalancing[optimal]``).

The planner has already decided, for every asset, everything but the size of its trade:
closes of dropped assets, skips (no price, direction, sleeve, at target), the cash floor
and the pending orders it keeps. Those are fixed. Each other asset gets a :class:`Choice`:
its trade goes from the current exposure ``s`` toward the desired holding ``d`` and its
size ``q`` (units, along the trade) is free within the constraints every mode keeps:

- whole increments (lots, units) from ``s``, or any quantity in a fractional account; a
  sell that would cross zero closes exactly instead;
- toward the target and at most one increment past it (never past ``max_single_weight``):
  a sell of an over-weight asset, a buy of an under-weight one, as in ``DOWN`` and
  ``CLOSEST`` (see "Decisions" in docs/semantics.md for why);
- a reversal (long to short or back, ``allow_short``) is the exact close, then whole
  increments on the other side; the opening leg must pass the thresholds on its own;
- thresholds are trade-or-nothing: ``q == 0`` or the trade passes them (checked by the
  planner's own test); a sell that passes them at nearest rounding is always sent, as
  in every mode;
- estimated costs: ``cost_rate`` on the traded value, ``cost_per_order`` per order;
- when any buy (other than a close) is sent, cash after every order, kept pending order
  and estimated cost stays at or above the plan's cash floor.

The objective is the L1 distance to target in value, over every asset the plan sizes:
``sum |s + q - d| * unit_value`` (signed along the trade). It is separable and the
constraints are linear in integer step counts, so HiGHS's branch and bound proves the
optimum. Among holdings equally close (ties are common without costs: two buys cut by
the same dollar are equally far) which one it returns is deterministic but unspecified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ._config import RebalanceConfig, Rounding
from ._result import Action, Adjustment, RebalancePlan, SkipReason
from ._snapshot import Side
from .exceptions import InvalidConfigError

if TYPE_CHECKING:
    from ._plan import _Line

__all__ = [
    "Choice",
    "OptimalBook",
    "Sized",
    "closest_plan",
    "distance",
    "optimise",
    "require_scipy",
    "solve",
]

#: Weight changes below this (fraction of equity) are float noise (the planner's NOISE).
_NOISE = 1e-9
#: Tolerance when dividing a quantity into whole increments (the planner's).
_UNIT_EPS = 1e-9
#: Relative gap at which HiGHS stops: the optimum is proven to this precision.
_GAP = 1e-9
#: Branch-and-bound nodes HiGHS may explore (a count, not a clock: plans stay pure).
_NODES = 200_000
#: Re-solves with a tighter budget when HiGHS's tolerance overdrew the exact cash sum.
_RETRIES = 4

_INSTALL = "pip install 'rebalancing[optimal]'"


def require_scipy(config: RebalanceConfig) -> None:
    """Raise unless ``config`` can be planned here: OPTIMAL needs scipy's MILP solver.

    Raises:
        InvalidConfigError: ``rounding`` is ``OPTIMAL`` and scipy (>= 1.11) is missing.
    """
    if config.rounding is not Rounding.OPTIMAL:
        return
    try:
        from scipy.optimize import milp  # noqa: F401, PLC0415 - imported lazily on purpose
    except ImportError as exc:
        msg = (
            "RebalanceConfig.rounding=Rounding.OPTIMAL needs scipy >= 1.11 (its HiGHS MILP "
            f"solver), which cannot be imported: {exc}. Install it with: {_INSTALL}"
        )
        raise InvalidConfigError(msg) from exc


class Choice(NamedTuple):
    """One trade whose size the solver chooses. Quantities are units, along the trade.

    Attributes:
        gap: Units from the exposure to the desired holding (the error is
            ``|q - gap| * unit_value``).
        unit_value: Price times multiplier.
        buy: The trade buys (else it sells).
        gated: Sending it needs the cash floor (a buy that is not a close).
        step: Units per step of the first leg (the increment; a reversal's whole position).
        steps: Most steps of the first leg.
        whole: The first leg moves in whole steps (else any amount up to ``steps``).
        last: Units of the first leg's last step (an exact close may be a partial one).
        min_steps: Fewest steps a trade may have (thresholds); 0 when any will do.
        required: The first leg must trade (a sell due at nearest rounding, a forced close).
        closes: Taking every step of the first leg closes the position exactly.
        open_step: A reversal's opening leg: units per step (0 when not a reversal).
        open_steps: Most steps of the opening leg.
        open_whole: The opening leg moves in whole steps.
        open_min: Fewest steps of the opening leg (thresholds), when it opens at all.
        open_gated: The opening leg is a buy that needs the cash floor.
        close_alone: A reversal may close without opening.
    """

    gap: float
    unit_value: float
    buy: bool
    gated: bool
    step: float
    steps: float
    whole: bool
    last: float
    min_steps: float
    required: bool
    closes: bool = False
    open_step: float = 0.0
    open_steps: float = 0.0
    open_whole: bool = True
    open_min: float = 0.0
    open_gated: bool = False
    close_alone: bool = True


class Sized(NamedTuple):
    """The solver's answer for one :class:`Choice`.

    Attributes:
        steps: Steps of the first leg (a whole number unless the leg is fractional).
        ends: The first leg took its last step (an exact close, when ``last`` differs).
        opening: Steps of a reversal's opening leg.
    """

    steps: float
    ends: bool
    opening: float


def _snap(ratio: float) -> float:
    """``ratio`` with float noise (54.999999995) snapped to the whole number."""
    whole = round(ratio)
    if abs(ratio - whole) <= _UNIT_EPS * max(1.0, abs(ratio)):
        return float(whole)
    return ratio


class _Model:
    """A MILP in the shape scipy's ``milp`` takes, built one variable and row at a time."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.low: list[float] = []
        self.high: list[float] = []
        self.integral: list[int] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.coefs: list[float] = []
        self.row_low: list[float] = []
        self.row_high: list[float] = []

    def var(self, low: float, high: float, *, integral: bool, cost: float = 0.0) -> int:
        self.cost.append(cost)
        self.low.append(low)
        self.high.append(high)
        self.integral.append(1 if integral else 0)
        return len(self.cost) - 1

    def row(self, terms: Sequence[tuple[int, float]], low: float, high: float) -> None:
        index = len(self.row_low)
        for col, coef in terms:
            if coef != 0.0:
                self.rows.append(index)
                self.cols.append(col)
                self.coefs.append(coef)
        self.row_low.append(low)
        self.row_high.append(high)

    def solve(self) -> tuple[list[float], bool] | None:
        """The solution and whether it is proven optimal; None when HiGHS found none."""
        import numpy as np  # noqa: PLC0415 - scipy (and numpy) are optional
        from scipy import optimize, sparse  # noqa: PLC0415

        constraints = []
        if self.row_low:
            matrix = sparse.csr_array(
                (self.coefs, (self.rows, self.cols)), shape=(len(self.row_low), len(self.cost))
            )
            constraints.append(optimize.LinearConstraint(matrix, self.row_low, self.row_high))
        result: Any = optimize.milp(
            np.asarray(self.cost),
            constraints=constraints,
            integrality=np.asarray(self.integral),
            bounds=optimize.Bounds(np.asarray(self.low), np.asarray(self.high)),
            options={"mip_rel_gap": _GAP, "node_limit": _NODES, "presolve": True},
        )
        if result.x is None:
            return None
        values = [
            float(round(x)) if integral else min(max(float(x), low), high)
            for x, integral, low, high in zip(
                result.x.tolist(), self.integral, self.low, self.high, strict=True
            )
        ]
        return values, result.status == 0


class _Builder:
    """Adds each :class:`Choice` to a :class:`_Model`, then the cash row they share."""

    def __init__(self, spare: float, rate: float, fixed: float) -> None:
        self.model = _Model()
        self.rate, self.fixed = rate, fixed
        self.cash_terms: list[tuple[int, float]] = []
        #: Cash above the floor, less the fees of the orders that must go.
        self.constant = spare
        #: (terms, bound): sum(terms) > 0 exactly when a gated buy is sent, at most bound.
        self.gates: list[tuple[list[tuple[int, float]], float]] = []
        #: The most the ungated orders may take out of cash.
        self.worst = 0.0
        self.handles: list[tuple[int, int | None, int | None]] = []

    def add(self, choice: Choice) -> None:
        model, fixed = self.model, self.fixed
        value = choice.unit_value
        flow = -(1.0 + self.rate) * value if choice.buy else (1.0 - self.rate) * value
        error = model.var(0.0, math.inf, integral=False, cost=value)
        low = choice.min_steps if choice.required else 0.0
        steps = model.var(low, choice.steps, integral=choice.whole)
        quantity: list[tuple[int, float]] = [(steps, choice.step)]
        ends = None
        if choice.whole and (choice.closes or choice.last != choice.step):
            # The last step is an exact close: ``ends`` is 1 exactly when every step is taken.
            ends = model.var(0.0, 1.0, integral=True)
            model.row([(steps, 1.0), (ends, -choice.steps)], 0.0, math.inf)
            model.row([(steps, 1.0), (ends, -1.0)], -math.inf, choice.steps - 1.0)
            quantity.append((ends, choice.last - choice.step))
        orders: list[int] = []
        if choice.required:
            self.constant -= fixed
        elif choice.open_step > 0.0:
            orders.append(steps)  # a reversal's close is a single step: 1 when it trades
            self.worst += fixed + (-flow * choice.step if choice.buy else 0.0)
        else:
            orders.extend(self._first_leg(choice, steps, ends, flow))
        opening = None
        if choice.open_step > 0.0:
            opening, opens = self._opening(choice, steps)
            quantity.append((opening, choice.open_step))
            orders.append(opens)
        # error >= |q - gap|, q the units traded along the trade
        model.row([(error, 1.0), *[(v, -c) for v, c in quantity]], -choice.gap, math.inf)
        model.row([(error, 1.0), *[(v, c) for v, c in quantity]], choice.gap, math.inf)
        self.cash_terms.extend((v, flow * c) for v, c in quantity)
        self.cash_terms.extend((v, -fixed) for v in orders)
        self.handles.append((steps, ends, opening))

    def _first_leg(self, choice: Choice, steps: int, ends: int | None, flow: float) -> list[int]:
        """Thresholds, fee and cash gate of an optional same-side trade; its order binary."""
        model, fixed = self.model, self.fixed
        orders = []
        gate: list[tuple[int, float]] = [(steps, 1.0)]
        bound = choice.steps
        if fixed > 0.0 or choice.min_steps > (1.0 if choice.whole else 0.0):
            # Trade or nothing: a binary carries the threshold and the fee.
            trades = model.var(0.0, 1.0, integral=True)
            model.row([(steps, 1.0), (trades, -choice.steps)], -math.inf, 0.0)
            model.row([(steps, 1.0), (trades, -choice.min_steps)], 0.0, math.inf)
            orders.append(trades)
            gate, bound = [(trades, 1.0)], 1.0
        if ends is not None and choice.closes:
            # Buying back a whole short is a close: it never needs the floor.
            gate.append((ends, -bound))
        if choice.gated:
            self.gates.append((gate, bound))
        if not choice.gated or choice.closes:
            # An optional ungated trade costs at most its fee (or a short's close).
            whole_leg = (choice.steps - 1.0) * choice.step + choice.last
            self.worst += fixed + (-flow * whole_leg if choice.buy else 0.0)
        return orders

    def _opening(self, choice: Choice, steps: int) -> tuple[int, int]:
        """A reversal's opening leg: its steps and its order binary."""
        model = self.model
        opening = model.var(0.0, choice.open_steps, integral=choice.open_whole)
        opens = model.var(0.0, 1.0, integral=True)
        model.row([(opening, 1.0), (opens, -choice.open_steps)], -math.inf, 0.0)
        if choice.open_min > 0.0:
            model.row([(opening, 1.0), (opens, -choice.open_min)], 0.0, math.inf)
        # It opens only after the close, and must open with it unless it may close alone.
        model.row([(opens, 1.0), (steps, -1.0)], -math.inf, 0.0)
        if not choice.close_alone:
            model.row([(opens, 1.0), (steps, -1.0)], 0.0, math.inf)
        if choice.open_gated:
            self.gates.append(([(opens, 1.0)], 1.0))
        else:
            self.worst += self.fixed
        return opening, opens

    def cash_row(self) -> None:
        """Cash above the floor stays >= 0 whenever a gated buy is sent."""
        if not self.gates:
            return
        model, constant, terms = self.model, self.constant, list(self.cash_terms)
        slack = self.worst - constant  # how far below the floor the ungated orders may go
        if slack > 0.0:
            buys = model.var(0.0, 1.0, integral=True)
            for gate, bound in self.gates:
                model.row([*gate, (buys, -bound)], -math.inf, 0.0)
            terms.append((buys, -slack))
            model.row(terms, -constant - slack, math.inf)
        else:
            model.row(terms, -constant, math.inf)


def solve(
    choices: Sequence[Choice],
    spare: float,
    *,
    cost_rate: float,
    cost_per_order: float,
) -> tuple[list[Sized], bool] | None:
    """Trade sizes closest to target (L1 in value) that keep cash at or above the floor.

    Args:
        choices: The trades to size, in a fixed order.
        spare: Cash above the floor before any of them (cash, fixed orders, kept pending
            orders, all after estimated costs, less the floor). It binds only when a
            gated buy is sent.
        cost_rate: Estimated cost per unit of traded value.
        cost_per_order: Estimated fixed cost per order.

    Returns:
        Each choice's steps, and whether HiGHS proved them optimal; None when it found
        no solution at all.
    """
    builder = _Builder(spare, cost_rate, cost_per_order)
    for choice in choices:
        builder.add(choice)
    builder.cash_row()
    answer = builder.model.solve()
    if answer is None:
        return None
    values, proven = answer
    sized = [
        Sized(
            values[steps],
            ends is not None and values[ends] > 0.5,
            0.0 if opening is None else values[opening],
        )
        for steps, ends, opening in builder.handles
    ]
    return sized, proven


# -- the planner's side: which trades are free, and what the answer means -----------------

Legs = list[tuple[Side, float, Action]]


class OptimalBook(NamedTuple):
    """What :func:`optimise` reads from the planner (its facts, never re-derived here)."""

    lines: Sequence[_Line]
    cash: float
    equity: float
    floor: float
    config: RebalanceConfig
    counts_pending: bool
    due: Callable[[_Line, float], bool]
    legs: Callable[[float, float, float | None], Legs]
    pending_flow: Callable[[_Line], list[float]]


class _Free(NamedTuple):
    """A line whose trade the solver sizes, with what turns its steps into a holding."""

    line: _Line
    choice: Choice
    sign: float  # the side of the desired holding: +1 long, -1 short
    held: float  # the exposure, signed so that the desired holding is positive
    increment: float | None
    reversal: bool
    closes: bool  # taking every step closes the position exactly
    min_units: float  # a fractional trade's smallest due quantity (0 for whole steps)


def _fewest(due: Callable[[float], bool], units_of: Callable[[int], float], most: int) -> int:
    """Fewest whole steps (1..most) whose trade is due; ``most + 1`` when none is."""
    if most < 1 or not due(units_of(most)):
        return most + 1
    low, high = 1, most
    while low < high:
        middle = (low + high) // 2
        if due(units_of(middle)):
            high = middle
        else:
            low = middle + 1
    return low


def _least(due: Callable[[float], bool], most: float) -> float | None:
    """Smallest fractional quantity in (0, most] whose trade is due; None when none is."""
    if most <= 0.0 or not due(most):
        return None
    low, high = 0.0, most
    for _ in range(100):
        middle = (low + high) / 2.0
        if middle in (low, high):
            break
        if due(middle):
            high = middle
        else:
            low = middle
    return high


def _whole_up(units: float, increment: float, most_units: float) -> int:
    """Increments up to one past ``units`` (the ceiling), or the floor if that breaks the cap."""
    ratio = _snap(units / increment)
    up = math.ceil(ratio)
    if up * increment > most_units * (1.0 + 1e-15):
        up = math.floor(ratio)
    return max(up, 0)


def _free(book: OptimalBook, line: _Line) -> _Free | None:  # noqa: PLR0915 - one case per shape
    """The solver's choice for ``line``, or None when its decision is fixed."""
    config, equity = book.config, book.equity
    if not line.active or line.price is None or abs(line.target) <= _NOISE:
        return None  # skipped, or a close (exact, never sized)
    start, desired, increment, value = line.exposure, line.desired, line.increment, line.unit_value
    if abs(desired - start) * value <= _NOISE * equity:
        return None  # at target
    buy = desired > start
    side = Side.BUY if buy else Side.SELL
    direction = config.direction.value
    if (direction == "buy_only" and not buy) or (direction == "sell_only" and buy):
        return None
    if book.counts_pending and any(o.side is not side for o in line.kept_working):
        return None  # never cross a counted pending order
    planned = bool(line.legs)
    sign = 1.0 if desired > 0.0 else -1.0
    held, size = sign * start, abs(desired)
    cap_units = config.max_single_weight * equity / value

    def due(units: float) -> bool:
        return book.due(line, units * value)

    if held < 0.0:
        # A reversal: the exact close, then whole increments (or any amount) the other side.
        forced = start < 0.0 and not config.allow_short
        closing = -held
        step = 1.0 if increment is None else increment
        if increment is None:
            most = min(size, cap_units)
            least = _least(due, most)
            open_steps, open_min = (most, least) if least is not None else (0.0, 0.0)
        else:
            most_steps = _whole_up(size, increment, cap_units)
            fewest = _fewest(due, lambda k: k * increment, most_steps)
            open_steps, open_min = (
                (float(most_steps), float(fewest)) if fewest <= most_steps else (0.0, 0.0)
            )
        planner_closes = any(action is Action.CLOSE for _, _, action in line.legs)
        alone = forced or planner_closes or due(closing)
        if not alone and open_steps == 0.0:
            return None
        choice = Choice(
            gap=closing + size,
            unit_value=value,
            buy=buy,
            gated=False,
            step=closing,
            steps=1.0,
            whole=True,
            last=closing,
            min_steps=1.0,
            required=forced or (not buy and planner_closes),
            open_step=step,
            open_steps=open_steps,
            open_whole=increment is not None,
            open_min=open_min,
            open_gated=buy,
            close_alone=alone,
        )
        return _Free(
            line, choice, sign, held, increment, reversal=True, closes=False, min_units=0.0
        )
    toward = size >= held  # grow the position toward the target (else shrink it)
    gap = size - held if toward else held - size
    limit = math.inf
    if not toward and not book.counts_pending and not config.allow_short and line.kept_working:
        # Kept pending sells that sizing ignores must not, with this sell, leave a short.
        limit = max(held + math.fsum(o.signed_quantity for o in line.kept_working) * sign, 0.0)
    if increment is None:
        most = min(gap, limit, cap_units - held) if toward else min(gap, limit)
        least = _least(due, most)
        if least is None:
            return None
        choice = Choice(
            gap=gap,
            unit_value=value,
            buy=buy,
            gated=buy,
            step=1.0,
            steps=most,
            whole=False,
            last=1.0,
            min_steps=least,
            required=not buy and planned,
        )
        return _Free(line, choice, sign, held, None, reversal=False, closes=False, min_units=least)
    last, closes = increment, False
    if toward:
        steps = _whole_up(gap, increment, cap_units - held)
    else:
        steps = math.ceil(_snap(gap / increment))
        remaining = held - steps * increment
        closes = remaining < increment * _UNIT_EPS or remaining * value <= _NOISE * equity
        if closes:
            last = held - (steps - 1) * increment  # the sell closes exactly instead
        if (steps - 1) * increment + last > limit * (1.0 + _UNIT_EPS):
            steps, last, closes = math.floor(_snap(limit / increment)), increment, False
    if steps < 1:
        return None

    def units_of(count: int) -> float:
        return count * increment if count < steps else (steps - 1) * increment + last

    # As in every mode, a sell to zero of an asset still targeted passes the thresholds
    # like any trade (only the closes of dropped assets are exempt).
    fewest = _fewest(due, units_of, steps)
    if fewest > steps:
        return None
    choice = Choice(
        gap=gap,
        unit_value=value,
        buy=buy,
        gated=buy,
        step=increment,
        steps=float(steps),
        whole=True,
        last=last,
        min_steps=float(fewest),
        required=not buy and planned,
        closes=closes,
    )
    return _Free(line, choice, sign, held, increment, reversal=False, closes=closes, min_units=0.0)


def _final(free: _Free, sized: Sized, equity: float) -> float:
    """The holding a sized choice reaches, in the planner's signed units."""
    choice, sign, held = free.choice, free.sign, free.held
    line = free.line
    if free.reversal:
        if sized.steps < 0.5:
            return line.exposure
        opening = sized.opening * choice.open_step
        return sign * opening if opening > 0.0 else 0.0
    units = sized.steps * choice.step
    if units <= 0.0:
        return line.exposure
    if not choice.whole and units < free.min_units:
        units = free.min_units  # HiGHS's tolerance may leave it a hair below the threshold
    if sized.ends or (free.closes and sized.steps >= choice.steps):
        return 0.0
    toward = choice.buy == (sign > 0.0)
    final = sign * (held + units if toward else held - units)
    if abs(final) * line.unit_value <= _NOISE * equity:
        return 0.0  # a dust remainder is no holding: close exactly
    return final


def _flows(book: OptimalBook, line: _Line, legs: Legs) -> list[float]:
    rate, fixed = book.config.cost_rate, book.config.cost_per_order
    flows = []
    for side, quantity, _ in legs:
        value = quantity * line.unit_value
        flows.append(-side.sign * value - (rate * value + fixed))
    return flows


def _gated(legs: Legs) -> bool:
    return any(side is Side.BUY and action is not Action.CLOSE for side, _, action in legs)


def _bought(legs: Legs) -> float:
    return math.fsum(q for side, q, a in legs if side is Side.BUY and a is not Action.CLOSE)


def optimise(book: OptimalBook) -> bool:
    """Size every free trade of the plan by the proven optimum; set legs and reasons.

    Returns:
        False when HiGHS found no solution at all (the caller falls back to CLOSEST);
        True when the lines hold the answer.
    """
    frees = []
    fixed_flows = [book.cash]
    for line in book.lines:
        fixed_flows.extend(book.pending_flow(line))
        free = _free(book, line)
        if free is None:
            fixed_flows.extend(_flows(book, line, line.legs))
        else:
            frees.append(free)
    if not frees:
        return True
    choices = [free.choice for free in frees]
    config, equity, floor = book.config, book.equity, book.floor
    spare = math.fsum(fixed_flows) - floor
    margin = 0.0
    for _ in range(_RETRIES):
        answer = solve(
            choices,
            spare - margin,
            cost_rate=config.cost_rate,
            cost_per_order=config.cost_per_order,
        )
        if answer is None:
            return False
        plans = []
        for free, sized in zip(frees, answer[0], strict=True):
            final = _final(free, sized, equity)
            plans.append((final, book.legs(free.line.exposure, final, free.increment)))
        flows = list(fixed_flows)
        for free, (_, legs) in zip(frees, plans, strict=True):
            flows.extend(_flows(book, free.line, legs))
        after = math.fsum(flows)
        if after >= floor or not any(_gated(legs) for _, legs in plans):
            _commit(frees, plans)
            return True
        # HiGHS's tolerance overdrew the exact sum: ask again for a little less.
        margin = 2.0 * (floor - after) + 4.0 * margin + 1e-12 * max(equity, 1.0)
    # Still short after the retries (never seen): send no gated buy at all.
    plans = [
        (free.line.exposure, [leg for leg in legs if not _gated([leg])])
        for free, (_, legs) in zip(frees, plans, strict=True)
    ]
    _commit(frees, plans)
    return True


def _commit(frees: Sequence[_Free], plans: Sequence[tuple[float, Legs]]) -> None:
    """Give each free line its sized legs, and a reason when a wanted buy was cut."""
    for free, (final, legs) in zip(frees, plans, strict=True):
        line = free.line
        wanted = _bought(line.legs)
        bought = _bought(legs)
        line.legs = legs
        line.final = final
        if bought < wanted:
            if bought > 0.0:
                line.adjustments.append(Adjustment.CASH_LIMITED)
            elif not legs:
                line.skip = SkipReason.CASH_LIMITED


def distance(plan: RebalancePlan) -> float:
    """L1 distance to target in value: sum of |projected - target weight| x |equity|."""
    gaps = [abs(d.projected_weight - d.target_weight) for d in plan.decisions]
    return math.fsum(gaps) * abs(plan.equity)


def closest_plan(plans: Sequence[RebalancePlan]) -> RebalancePlan:
    """The plan nearest its targets; the first of equals."""
    return min(plans, key=distance)

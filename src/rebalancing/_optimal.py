"""``Rounding.OPTIMAL``: the holdings closest to target, proven by a MILP (scipy's HiGHS).

Pure: no I/O, clock or globals; scipy is imported only when a plan asks for OPTIMAL, so
``import rebalancing`` never needs it (it is the optional extra ``rebalancing[optimal]``).

The planner has already decided, for every asset, everything but the size of its trade:
closes of dropped assets, skips (no price, direction, sleeve, at target), the cash floor
and the pending orders it keeps. Those are fixed. Each other asset gets a :class:`Choice`
whose final holding is free within the constraints every mode keeps:

- whole increments (lots, units) from the exposure, or any amount in a fractional
  account; a sell that reaches zero closes exactly;
- on the target's side of zero, at most one increment past the target and within
  ``max_single_weight``; an over-weight holding only shrinks, an under-weight one may grow
  or shrink (selling it can fund a whole unit elsewhere that gains more than it loses);
- a reversal (long to short or back) is the exact close, then whole increments on the
  other side; the opening leg must pass the thresholds on its own;
- thresholds are trade-or-nothing: no trade, or one the planner's own test passes (a
  binary per way, which also carries ``cost_per_order``); a sell that is due at nearest
  rounding is always sent, as in every mode; ``cost_rate`` is paid on traded value;
- direction: no sells under ``BUY_ONLY``, no buys under ``SELL_ONLY``; counted pending
  orders are never crossed;
- when any buy (other than a close) is sent, cash after every order, kept pending order
  and estimated cost stays at or above the plan's cash floor.

This module is the planner's side: which trades are free and what each may be (its
:class:`Choice`), and what the answer means. :mod:`._milp` builds the model and solves it
(the L1 distance to target in value, proven optimal by HiGHS). The rounded answer is checked
against the cash in exact float sums and solved again for a little less when HiGHS's
tolerance overdrew.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ._allocation import snap_whole
from ._config import RebalanceConfig
from ._milp import Choice, Sized, require_scipy, solve
from ._result import Action, Adjustment, RebalancePlan, SkipReason
from ._snapshot import PendingOrder, Side
from ._units import cash_slack_of

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
#: A fractional trade below this fraction of equity is HiGHS's tolerance, not a trade.
_SOLVER_NOISE = 1e-8
#: Last bits of a holding that a fractional trade taken from it may lose.
_ULPS = 16
#: Tolerance when dividing a quantity into whole increments (the planner's).
_UNIT_EPS = 1e-9
#: Re-solves with a tighter budget when HiGHS's tolerance overdrew the exact cash sum.
_RETRIES = 4

Legs = list[tuple[Side, float, Action]]


class OptimalLine:
    """One asset as the solver reads it, and the legs and reason it writes back."""

    __slots__ = (
        "active",
        "adjustments",
        "desired",
        "exposure",
        "final",
        "increment",
        "kept_working",
        "legs",
        "price",
        "skip",
        "target",
        "unit_value",
    )

    def __init__(
        self,
        *,
        active: bool,
        price: float | None,
        target: float,
        exposure: float,
        desired: float,
        final: float,
        increment: float | None,
        unit_value: float,
        kept_working: list[PendingOrder],
        legs: Legs,
    ) -> None:
        self.active = active
        self.price = price
        self.target = target
        self.exposure = exposure
        self.desired = desired
        self.final = final
        self.increment = increment
        self.unit_value = unit_value
        self.kept_working = kept_working
        self.legs = legs
        self.adjustments: list[Adjustment] = []
        self.skip: SkipReason | None = None


_Line = OptimalLine


class OptimalBook(NamedTuple):
    """What :func:`optimise` reads from the planner (its facts, never re-derived here)."""

    lines: Sequence[_Line]
    cash: float
    equity: float
    floor: float
    config: RebalanceConfig
    counts_pending: bool
    #: Whether the account may short: ``allow_short`` in a margin account only.
    allow_short: bool
    due: Callable[[_Line, float], bool]
    legs: Callable[[float, float, float | None], Legs]
    pending_flow: Callable[[_Line], list[float]]


class _Free(NamedTuple):
    """A line whose trade the solver sizes, with what turns its steps into a holding."""

    line: _Line
    choice: Choice
    sign: float  # the side of the desired holding: +1 long, -1 short
    held: float  # the exposure, signed so that the desired holding's side is positive
    increment: float | None
    reversal: bool
    grows: bool  # the first leg grows the position (else it shrinks it)
    min_units: float  # a fractional first leg's smallest due quantity


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
    while True:  # bisection down to adjacent floats
        middle = (low + high) / 2.0
        if middle in (low, high):
            return high
        if due(middle):
            high = middle
        else:
            low = middle


def _whole_up(units: float, increment: float, most_units: float) -> int:
    """Increments up to one past ``units`` (the ceiling), or the floor if that breaks the cap."""
    ratio = snap_whole(units / increment)
    up = math.ceil(ratio)
    if up * increment > most_units * (1.0 + 1e-15):
        up = math.floor(ratio)
    return max(up, 0)


def _down_to_zero(held: float, increment: float, value: float, dust: float) -> tuple[int, float]:
    """Steps that shrink ``held`` to an exact close, and the last one's units."""
    whole = math.floor(snap_whole(held / increment))
    remainder = held - whole * increment
    if remainder < increment * _UNIT_EPS or remainder * value <= dust:
        if whole == 0:
            return 1, held
        return whole, increment + remainder
    return whole + 1, remainder


class _Ways(NamedTuple):
    """Which ways a line may trade: grow its position, shrink it."""

    grow: bool
    shrink: bool


def _ways(book: OptimalBook, line: _Line, sign: float) -> _Ways:
    """Direction and counted pending orders (never crossed) limit the ways to trade."""
    grow_side = Side.BUY if sign > 0.0 else Side.SELL
    allowed = {Side.BUY: True, Side.SELL: True}
    direction = book.config.direction.value
    if direction == "buy_only":
        allowed[Side.SELL] = False
    elif direction == "sell_only":
        allowed[Side.BUY] = False
    if book.counts_pending:
        for order in line.kept_working:
            allowed[Side.SELL if order.side is Side.BUY else Side.BUY] = False
    shrink_side = Side.SELL if grow_side is Side.BUY else Side.BUY
    return _Ways(allowed[grow_side], allowed[shrink_side])


def _free(book: OptimalBook, line: _Line) -> _Free | None:
    """The solver's choice for ``line``, or None when its decision is fixed."""
    if not line.active or line.price is None or abs(line.target) <= _NOISE:
        return None  # skipped, or a close (exact, never sized)
    start, desired = line.exposure, line.desired
    sign = 1.0 if desired > 0.0 else -1.0
    if sign * start < 0.0:
        return _reversal(book, line, sign)
    return _same_side(book, line, sign)


def _reversal(book: OptimalBook, line: _Line, sign: float) -> _Free | None:
    """Long to short or back: the exact close, then whole increments (or any amount)."""
    config, value, increment = book.config, line.unit_value, line.increment
    start, size = line.exposure, abs(line.desired)
    buy = sign > 0.0
    ways = _ways(book, line, -sign)  # closing shrinks the current position
    if not ways.shrink:
        return None
    cap_units = config.max_single_weight * book.equity / value

    def due(units: float) -> bool:
        return book.due(line, units * value)

    forced = start < 0.0 and not book.allow_short
    closing = abs(start)
    step = 1.0 / value if increment is None else increment
    if increment is None:
        most = min(size, cap_units)
        least = _least(due, most)
        # Fractional amounts are sized in currency: well scaled for HiGHS at any price.
        open_steps, open_min = (most * value, least * value) if least is not None else (0, 0)
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
    return _Free(line, choice, sign, -closing, increment, reversal=True, grows=True, min_units=0.0)


def _same_side(book: OptimalBook, line: _Line, sign: float) -> _Free | None:
    """Grow toward the target (at most one increment past it) or shrink, down to a close.

    An under-weight holding may also shrink: selling it can fund a whole unit elsewhere
    that brings the book closer than the units sold take it away.
    """
    config, equity, value, increment = book.config, book.equity, line.unit_value, line.increment
    held, size = sign * line.exposure, abs(line.desired)
    ways = _ways(book, line, sign)
    grows = size >= held
    cap_units = config.max_single_weight * equity / value
    dust = _NOISE * equity
    if not book.counts_pending and not book.allow_short and line.kept_working:
        # Kept pending sells that sizing ignores must not, with this sell, leave a short.
        limit = max(held + math.fsum(o.signed_quantity for o in line.kept_working) * sign, 0.0)
    else:
        limit = math.inf
    planned = bool(line.legs)

    def due(units: float) -> bool:
        return book.due(line, units * value)

    if increment is None:
        grow_most = max(min(size - held, cap_units - held), 0.0) if ways.grow and grows else 0.0
        shrink_most = min(held, limit) if ways.shrink else 0.0
        if grows:
            most, back_most = grow_most, shrink_most
        else:
            most, back_most = shrink_most, 0.0
        least = _least(due, most) or 0.0
        back_least = _least(due, back_most) if back_most > 0.0 else None
        if not least and back_least is None:
            return None
        grow_side = (sign > 0.0) == grows
        # Fractional amounts are sized in currency: well scaled for HiGHS at any price.
        per_unit = 1.0 / value
        choice = Choice(
            gap=abs(size - held),
            unit_value=value,
            buy=grow_side,
            gated=grow_side,
            step=per_unit,
            steps=most * value if least else 0.0,
            whole=False,
            last=per_unit,
            min_steps=least * value,
            required=bool(least) and not grow_side and planned,
            back_steps=back_most * value if back_least is not None else 0.0,
            back_last=per_unit,
            back_min=(back_least or 0.0) * value,
            back_gated=not grow_side,
        )
        return _Free(line, choice, sign, held, None, reversal=False, grows=grows, min_units=least)
    # Whole increments.
    up = _whole_up(size - held, increment, cap_units - held) if grows and ways.grow else 0
    down, last, closes = 0, increment, False
    if ways.shrink and held > 0.0:
        down, last = _down_to_zero(held, increment, value, dust)
        closes = True
        if (down - 1) * increment + last > limit * (1.0 + _UNIT_EPS):
            down, last = math.floor(snap_whole(limit / increment)), increment
            closes = False

    def down_units(count: int) -> float:
        return count * increment if count < down else (down - 1) * increment + last

    fewest_up = _fewest(due, lambda k: k * increment, up)
    fewest_down = _fewest(due, down_units, down)
    if fewest_down <= down and not grows and held > cap_units:
        # A sell ends within max_single_weight, as DOWN's and CLOSEST's do.
        over = math.ceil(snap_whole((held - cap_units) / increment))
        fewest_down = max(fewest_down, min(over, down))
    can_up, can_down = fewest_up <= up, fewest_down <= down
    if not can_up and not can_down:
        return None
    buy_grows = sign > 0.0
    if grows:
        choice = Choice(
            gap=size - held,
            unit_value=value,
            buy=buy_grows,
            gated=buy_grows,
            step=increment,
            steps=float(up) if can_up else 0.0,
            whole=True,
            last=increment,
            min_steps=float(fewest_up) if can_up else 0.0,
            required=False,
            back_steps=float(down) if can_down else 0.0,
            back_last=last,
            back_min=float(fewest_down) if can_down else 0.0,
            back_gated=not buy_grows,
            back_closes=closes,
        )
    else:
        choice = Choice(
            gap=held - size,
            unit_value=value,
            buy=not buy_grows,
            gated=not buy_grows,
            step=increment,
            steps=float(down) if can_down else 0.0,
            whole=True,
            last=last,
            min_steps=float(fewest_down) if can_down else 0.0,
            required=can_down and buy_grows and planned,
            closes=closes,
        )
    return _Free(line, choice, sign, held, increment, reversal=False, grows=grows, min_units=0.0)


def _final(free: _Free, sized: Sized, equity: float) -> float:
    """The holding a sized choice reaches, in the planner's signed units."""
    choice, sign, held = free.choice, free.sign, free.held
    line = free.line
    if free.reversal:
        if sized.steps < 0.5:
            return line.exposure
        opening = sized.opening * choice.open_step
        return sign * opening if opening > 0.0 else 0.0
    first = sized.steps * choice.step
    if sized.ends:
        first += choice.last - choice.step
    if not choice.whole:
        if first * line.unit_value <= _SOLVER_NOISE * equity:
            first = 0.0  # HiGHS's tolerance, not a trade (a book at target stays put)
        elif first < free.min_units + _ULPS * math.ulp(held):
            # HiGHS's tolerance may leave it a hair below the threshold, and taking it
            # from a large holding loses a few of its last bits: clear it by those.
            first = free.min_units + _ULPS * math.ulp(held)
    back = sized.back * choice.step
    if sized.back_ends:
        back = held  # the back leg closed the position exactly
    elif back > 0.0 and not choice.whole:
        back = max(back, choice.back_min * choice.step)
    if first <= 0.0 and back <= 0.0:
        return line.exposure
    if free.grows:
        size = held + first - back
    elif sized.ends:
        size = 0.0
    else:
        size = held - first
    if size * line.unit_value <= _NOISE * equity:
        return 0.0  # nothing, or a dust remainder: close exactly
    return sign * size


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
        False when HiGHS found no solution at all, or none within the exact cash sum
        after the retries (the caller falls back to CLOSEST); True when the lines hold
        the answer.
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
    # The budget rule of every mode: whole units may spend the cash's float slack; a
    # fractional trade would spend all of it, so then there is none.
    whole = all(c.whole and (c.open_step == 0.0 or c.open_whole) for c in choices)
    slack = cash_slack_of(book.cash, equity) if whole else 0.0
    spare = math.fsum(fixed_flows) - floor + slack
    margin = 0.0
    for attempt in range(_RETRIES):
        answer = solve(
            choices,
            spare - margin,
            cost_rate=config.cost_rate,
            cost_per_order=config.cost_per_order,
            scale=abs(equity),
        )
        if answer is None:
            return False
        plans = []
        for free, sized in zip(frees, answer[0], strict=True):
            final = _final(free, sized, equity)
            plans.append((final, book.legs(free.line.exposure, final, free.increment)))
        # The planner's own test: the buys' cost, an exact sum, within the cash the
        # other orders leave above the floor (also an exact sum).
        flows = list(fixed_flows)
        spent = []
        for free, (_, legs) in zip(frees, plans, strict=True):
            for flow, leg in zip(_flows(book, free.line, legs), legs, strict=True):
                if _gated([leg]):
                    spent.append(-flow)
                else:
                    flows.append(flow)
        budget = math.fsum(flows) - floor + slack
        cost = math.fsum(spent)
        left = math.fsum([*flows, *(-c for c in spent)])
        if not spent or cost <= budget or left >= floor - slack:
            _commit(frees, plans)
            return True
        # HiGHS's tolerance, or the last bit of a float sum, overdrew the exact sum: ask
        # again for a little less, ten times less each time (an answer that spends the
        # budget to the cent may not move for a billionth of it).
        margin = max(2.0 * (cost - budget + margin), _SOLVER_NOISE * 10.0**attempt * abs(equity))
    # Still short after the retries: no answer (the caller funds as CLOSEST does).
    return False


def _commit(frees: Sequence[_Free], plans: Sequence[tuple[float, Legs]]) -> None:
    """Give each free line its sized legs, and a reason when a wanted buy was cut."""
    for free, (final, legs) in zip(frees, plans, strict=True):
        line = free.line
        wanted = _bought(line.legs)
        bought = _bought(legs)
        covers = any(side is Side.BUY for side, _, _ in line.legs)
        line.legs = legs
        line.final = final
        if bought < wanted and bought > 0.0:
            line.adjustments.append(Adjustment.CASH_LIMITED)
        elif not legs and (bought < wanted or covers):
            # A buy left out, a short's close included: the optimum may leave the close of
            # a reversal whose open is too small, when its cash brings a buy elsewhere
            # closer. It was not at target.
            line.skip = SkipReason.CASH_LIMITED


def distance(plan: RebalancePlan) -> float:
    """L1 distance to target in value: sum of |projected - target weight| x |equity|."""
    gaps = [abs(d.projected_weight - d.target_weight) for d in plan.decisions]
    return math.fsum(gaps) * abs(plan.equity)


def closest_plan(plans: Sequence[RebalancePlan]) -> RebalancePlan:
    """The plan nearest its targets; the first of equals."""
    return min(plans, key=distance)

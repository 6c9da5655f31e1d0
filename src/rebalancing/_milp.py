"""The MILP that sizes ``Rounding.OPTIMAL``'s free trades, and its solve by scipy's HiGHS.

Pure: no I/O, clock or globals; scipy is imported only when a plan asks for OPTIMAL, so
``import rebalancing`` never needs it (it is the optional extra ``rebalancing[optimal]``).

Each free trade arrives as a :class:`Choice` (its legs, steps, thresholds and cash gate,
already decided by the planner's side in :mod:`._optimal`); :func:`solve` answers with a
:class:`Sized` per choice. The objective is the L1 distance to target in value over every
asset sized, ``sum |final - desired| * unit_value``. It is separable and every constraint
is linear in integer step counts (a binary per way carries a threshold and
``cost_per_order``; one cash row keeps cash at or above the floor whenever a gated buy is
sent), so HiGHS's branch and bound proves the optimum (to within :data:`_GAP` of the
distance plus the book's equity).
Among holdings equally close (common without costs: two buys cut by the same dollar) which
one HiGHS returns is deterministic but unspecified.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from ._config import RebalanceConfig, Rounding
from .exceptions import InvalidConfigError

__all__ = ["Choice", "Sized", "require_scipy", "solve"]

#: Relative gap at which HiGHS stops: the optimum is proven to this share of the distance
#: plus equity (see :meth:`_Model.solve`).
_GAP = 1e-9
#: The largest unit value, in currency, the model is solved in (see :func:`solve`).
_MODEL_SIZE = 1e6
#: Branch-and-bound nodes HiGHS may explore (a count, not a clock: plans stay pure).
_NODES = 200_000
#: Nodes of the first solve, without presolve, before the presolved one is tried.
_UNPRESOLVED_NODES = 2_000

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
        back_steps: Most steps the other way, down to an exact close (0: none): an
            under-weight holding may be sold to fund closer holdings elsewhere.
        back_last: Units of that leg's last step (the close).
        back_min: Fewest steps of that leg (thresholds).
        back_gated: That leg is a buy (a short bought back) that needs the cash floor.
        back_closes: Taking every step of that leg closes the position exactly.
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
    back_steps: float = 0.0
    back_last: float = 0.0
    back_min: float = 0.0
    back_gated: bool = False
    back_closes: bool = False


class Sized(NamedTuple):
    """The solver's answer for one :class:`Choice`.

    Attributes:
        steps: Steps of the first leg (a whole number unless the leg is fractional).
        ends: The first leg took its last step (an exact close, when ``last`` differs).
        opening: Steps of a reversal's opening leg.
        back: Steps of the leg the other way.
        back_ends: That leg closed the position.
    """

    steps: float
    ends: bool
    opening: float
    back: float = 0.0
    back_ends: bool = False


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

    def solve(self, scale: float) -> tuple[list[float], bool] | None:
        """The solution and whether it is proven optimal; None when HiGHS found none.

        Proven to within :data:`_GAP` of the objective plus ``scale`` (the book's
        equity): a constant ``scale`` is added to the objective, so HiGHS's relative gap
        also stops the search once it is within float noise of equity, where a knapsack
        of fine lots would otherwise have it enumerate every way to spend the last cent.
        """
        import numpy as np  # noqa: PLC0415 - scipy (and numpy) are optional
        from scipy import optimize, sparse  # noqa: PLC0415

        # One more column, fixed at 1, carries the constant (no row uses it).
        count = len(self.cost) + 1
        # Every choice adds its error rows, so there is always a constraint matrix.
        matrix = sparse.csr_array(
            (self.coefs, (self.rows, self.cols)), shape=(len(self.row_low), count)
        )
        constraints = [optimize.LinearConstraint(matrix, self.row_low, self.row_high)]
        bounds = optimize.Bounds(np.asarray([*self.low, 1.0]), np.asarray([*self.high, 1.0]))
        # HiGHS 1.12 (scipy 1.17's) presolve may report a wrong optimum on a badly scaled
        # book (it left 2e8 units of a $1 asset unbought) and may print to stdout; so
        # first without presolve. That in turn may end in a solve error, and on a cash row
        # of fine lots it enumerates (a 4-asset book of 0.01 lots took 50,000 nodes and
        # 12 s), where presolve proves the optimum at once: so when the first solve finds
        # nothing, or proves nothing within _UNPRESOLVED_NODES, presolve is tried, and the
        # better answer kept.
        best: Any = None
        for presolve, nodes in ((False, _UNPRESOLVED_NODES), (True, _NODES)):
            result = optimize.milp(
                np.asarray([*self.cost, max(scale, 0.0)]),
                constraints=constraints,
                integrality=np.asarray([*self.integral, 0]),
                bounds=bounds,
                options={"mip_rel_gap": _GAP, "node_limit": nodes, "presolve": presolve},
            )
            if result.x is not None and (best is None or result.fun < best.fun):
                best = result
            if best is not None and best.status == 0:
                break
        if best is None:
            return None
        result = best
        values = [
            float(round(x)) if integral else min(max(float(x), low), high)
            for x, integral, low, high in zip(
                result.x.tolist()[:-1], self.integral, self.low, self.high, strict=True
            )
        ]
        return values, result.status == 0


class _Leg(NamedTuple):
    """A leg's variables: its units as (variable, coefficient) terms, steps, close, binary."""

    quantity: list[tuple[int, float]]
    steps: int
    ends: int | None
    trades: int | None


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
        self.handles: list[tuple[_Leg, int | None, _Leg | None]] = []

    def add(self, choice: Choice) -> None:
        model, fixed = self.model, self.fixed
        value = choice.unit_value
        error = model.var(0.0, math.inf, integral=False, cost=1.0)  # in currency
        several = 1.0 if choice.whole else 0.0  # a step count that needs no threshold row
        back = choice.back_steps > 0.0 and not choice.required
        binary = fixed > 0.0 or choice.min_steps > several
        if back:
            # Both ways: a binary per way keeps them apart, so the net trade is one of them.
            binary = binary or choice.back_min > several
        if choice.open_step > 0.0:
            leg = self._close(choice, value)
        else:
            leg = self._leg(
                choice.steps,
                choice.step,
                choice.last,
                closes=choice.closes,
                least=choice.min_steps,
                whole=choice.whole,
                buy=choice.buy,
                gated=choice.gated,
                value=value,
                binary=binary,
                required=choice.required,
            )
        quantity = list(leg.quantity)
        opening = back_leg = None
        if choice.open_step > 0.0:
            opening = self._opening(choice, leg.steps, value)
            quantity.append((opening, choice.open_step))
        if back:
            back_leg = self._leg(
                choice.back_steps,
                choice.step,
                choice.back_last,
                closes=choice.back_closes,
                least=choice.back_min,
                whole=choice.whole,
                buy=not choice.buy,
                gated=choice.back_gated,
                value=value,
                binary=binary,
                required=False,
            )
            quantity.extend((v, -c) for v, c in back_leg.quantity)
            if leg.trades is not None and back_leg.trades is not None:
                model.row([(leg.trades, 1.0), (back_leg.trades, 1.0)], -math.inf, 1.0)
        # error >= |q - gap|, q the net units traded toward the target
        gap = choice.gap * value
        model.row([(error, 1.0), *[(v, -c * value) for v, c in quantity]], -gap, math.inf)
        model.row([(error, 1.0), *[(v, c * value) for v, c in quantity]], gap, math.inf)
        self.handles.append((leg, opening, back_leg))

    def _leg(
        self,
        most: float,
        step: float,
        last: float,
        *,
        closes: bool,
        least: float,
        whole: bool,
        buy: bool,
        gated: bool,
        value: float,
        binary: bool,
        required: bool,
    ) -> _Leg:
        """Steps one way, their exact close, threshold, fee, cash and gate."""
        model, fixed = self.model, self.fixed
        flow = -(1.0 + self.rate) * value if buy else (1.0 - self.rate) * value
        steps = model.var(least if required else 0.0, most, integral=whole)
        quantity: list[tuple[int, float]] = [(steps, step)]
        ends = None
        if whole and (closes or last != step):
            # The last step is an exact close: ``ends`` is 1 exactly when every step is taken.
            ends = model.var(0.0, 1.0, integral=True)
            model.row([(steps, 1.0), (ends, -most)], 0.0, math.inf)
            model.row([(steps, 1.0), (ends, -1.0)], -math.inf, most - 1.0)
            quantity.append((ends, last - step))
        self.cash_terms.extend((v, flow * c) for v, c in quantity)
        trades = None
        whole_leg = (most - 1.0) * step + last
        if required:
            self.constant -= fixed
            if buy:  # a forced cover goes whatever the cash: it never needs the floor
                self.worst += -flow * whole_leg
            return _Leg(quantity, steps, ends, trades)
        # (terms, bound): sum(terms) > 0 exactly when a gated buy is sent, at most bound.
        gate: list[tuple[int, float]] = [(steps, 1.0)]
        bound = most
        if binary:
            # Trade or nothing: a binary carries the threshold and the fee.
            trades = model.var(0.0, 1.0, integral=True)
            model.row([(steps, 1.0), (trades, -most)], -math.inf, 0.0)
            model.row([(steps, 1.0), (trades, -least)], 0.0, math.inf)
            self.cash_terms.append((trades, -fixed))
            gate, bound = [(trades, 1.0)], 1.0
        if ends is not None and closes:
            # Buying back a whole short is a close: it never needs the floor.
            gate.append((ends, -bound))
        if gated:
            self.gates.append((gate, bound))
        if not gated or closes:
            # An optional ungated trade costs at most its fee (or a short's close).
            self.worst += fixed + (-flow * whole_leg if buy else 0.0)
        return _Leg(quantity, steps, ends, trades)

    def _close(self, choice: Choice, value: float) -> _Leg:
        """A reversal's close: one step of the whole position, required or optional."""
        model, fixed = self.model, self.fixed
        flow = -(1.0 + self.rate) * value if choice.buy else (1.0 - self.rate) * value
        steps = model.var(1.0 if choice.required else 0.0, 1.0, integral=True)
        self.cash_terms.append((steps, flow * choice.step))
        if choice.required:
            self.constant -= fixed
            if choice.buy:  # a forced cover goes whatever the cash: it never needs the floor
                self.worst += -flow * choice.step
        else:
            self.cash_terms.append((steps, -fixed))
            self.worst += fixed + (-flow * choice.step if choice.buy else 0.0)
        return _Leg([(steps, choice.step)], steps, None, steps)

    def _opening(self, choice: Choice, steps: int, value: float) -> int:
        """A reversal's opening leg, after its close; returns its step count."""
        model, fixed = self.model, self.fixed
        flow = -(1.0 + self.rate) * value if choice.buy else (1.0 - self.rate) * value
        opening = model.var(0.0, choice.open_steps, integral=choice.open_whole)
        opens = model.var(0.0, 1.0, integral=True)
        model.row([(opening, 1.0), (opens, -choice.open_steps)], -math.inf, 0.0)
        if choice.open_min > 0.0:
            model.row([(opening, 1.0), (opens, -choice.open_min)], 0.0, math.inf)
        # It opens only after the close, and must open with it unless it may close alone.
        model.row([(opens, 1.0), (steps, -1.0)], -math.inf, 0.0)
        if not choice.close_alone:
            model.row([(opens, 1.0), (steps, -1.0)], 0.0, math.inf)
        self.cash_terms.extend([(opening, flow * choice.open_step), (opens, -fixed)])
        if choice.open_gated:
            self.gates.append(([(opens, 1.0)], 1.0))
        else:
            self.worst += fixed
        return opening

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
    scale: float = 0.0,
) -> tuple[list[Sized], bool] | None:
    """Trade sizes closest to target (L1 in value) that keep cash at or above the floor.

    Args:
        choices: The trades to size, in a fixed order.
        spare: Cash above the floor before any of them (cash, fixed orders, kept pending
            orders, all after estimated costs, less the floor). It binds only when a
            gated buy is sent.
        cost_rate: Estimated cost per unit of traded value.
        cost_per_order: Estimated fixed cost per order.
        scale: The book's size (its equity): the answer is proven to within
            :data:`_GAP` of the distance plus ``scale``.

    Returns:
        Each choice's steps, and whether HiGHS proved them optimal; None when it found
        no solution at all.
    """
    # The model is in currency, HiGHS's tolerances are absolute: when a unit is worth
    # more than _MODEL_SIZE, every amount is divided by one factor (the answer, in units,
    # is the same). With a $406M contract unit in a $612M book, HiGHS proved "no buy"
    # optimal, 1.5x CLOSEST's distance; the same book a thousand times smaller it solves.
    largest = max((choice.unit_value for choice in choices), default=0.0)
    if largest > _MODEL_SIZE:
        unit = largest / _MODEL_SIZE
        choices = [choice._replace(unit_value=choice.unit_value / unit) for choice in choices]
        spare, cost_per_order, scale = spare / unit, cost_per_order / unit, scale / unit
    builder = _Builder(spare, cost_rate, cost_per_order)
    for choice in choices:
        builder.add(choice)
    builder.cash_row()
    answer = builder.model.solve(scale)
    if answer is None:
        return None
    values, proven = answer
    sized = [
        Sized(
            values[leg.steps],
            leg.ends is not None and values[leg.ends] > 0.5,
            0.0 if opening is None else values[opening],
            0.0 if back is None else values[back.steps],
            back is not None and back.ends is not None and values[back.ends] > 0.5,
        )
        for leg, opening, back in builder.handles
    ]
    return sized, proven

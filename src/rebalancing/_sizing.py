"""Size, round and check each asset's trade; reconcile it with its pending orders.

The state of the plan is :class:`Lines`: per-asset columns of where each asset starts
(its exposure), where it aims (desired) and where its rounded trade ends (``final``),
plus a skip code, adjustment bits and, for the few assets with pending orders, which
orders are kept and which cancelled. The legs an asset sends are a function of its
exposure and final holding (:class:`~rebalancing._rounding.Legs`). Every function here
takes a :class:`Lines` and returns a new one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ._book import Book, flag
from ._config import RebalanceConfig, Rounding, TradeDirection
from ._result import Adjustment, SkipReason
from ._rounding import (
    NOISE,
    SKIP,
    UNIT_EPS,
    Floats,
    Index,
    Legs,
    holding_down,
    holding_nearest,
    legs_of,
    threshold_codes,
)
from ._snapshot import PendingOrder, Side
from .exceptions import InvalidSnapshotError

__all__ = [
    "Lines",
    "among",
    "cancel_when_blocked",
    "round_trades",
    "set_buys",
    "size",
    "with_orders",
]


class Lines(NamedTuple):
    """The plan so far, one element per asset of the :class:`~rebalancing._book.Book`."""

    #: False when the plan must not touch the asset (frozen, blocked, left alone).
    active: npt.NDArray[np.bool_]
    #: Why nothing trades (a ``SKIP`` code; read only when the asset sends no order).
    skip: npt.NDArray[np.int8]
    target: Floats
    adjust: npt.NDArray[np.int64]
    exposure: Floats
    desired: Floats
    final: Floats
    #: Whether the asset was sized toward a non-zero target (its trade may be re-sized).
    sized: npt.NDArray[np.bool_]
    #: Pending orders kept (they will fill) and ids cancelled, by asset index.
    kept: dict[int, tuple[PendingOrder, ...]]
    cancels: dict[int, tuple[str, ...]]


def among(by_row: Mapping[int, object], chosen: Index) -> list[int]:
    """The rows of ``chosen`` that ``by_row`` has (few: those with pending orders)."""
    if not by_row:
        return []
    rows = np.fromiter(by_row, dtype=np.intp, count=len(by_row))
    return sorted(rows[np.isin(rows, chosen)].tolist())


def _ids(orders: tuple[PendingOrder, ...] | list[PendingOrder]) -> tuple[str, ...]:
    return tuple(order.order_id for order in orders)


def size(book: Book, config: RebalanceConfig) -> Lines:
    """Desired holding, exposure, rounding and thresholds for every asset."""
    count = len(book.assets)
    target = book.target.copy()
    active = book.priced.copy()
    skip = np.zeros(count, dtype=np.int8)
    skip[~book.priced] = SKIP[SkipReason.NO_PRICE]
    kept: dict[int, tuple[PendingOrder, ...]] = {}
    cancels: dict[int, tuple[str, ...]] = {}
    # Held but not targeted while close_untargeted is off: left alone, at its weight.
    untouched = np.zeros(count, dtype=bool) if config.close_untargeted else ~book.targeted
    weighed = untouched & book.positive
    if weighed.any():
        target[weighed] = book.current[weighed] * book.unit_value[weighed] / book.equity[weighed]
    live = np.abs(target) > NOISE
    frozen = active & live & ~untouched & ~book.positive
    for mask, reason in (
        (untouched, SkipReason.NOT_TARGETED),
        (frozen, SkipReason.NON_POSITIVE_EQUITY),
    ):
        skip[mask] = SKIP[reason]
        active &= ~mask
        for i in book.working:
            if mask[i]:
                kept[i] = tuple(book.working[i])
    lines = Lines(
        active=active,
        skip=skip,
        target=target,
        adjust=book.adjust.copy(),
        exposure=book.current.copy(),
        desired=np.zeros(count),
        final=book.current.copy(),
        sized=active & live,
        kept=kept,
        cancels=cancels,
    )
    lines = _close(book, config, lines, np.flatnonzero(active & ~live))
    chosen = np.flatnonzero(lines.sized)
    if not len(chosen):
        return lines
    desired = target[chosen] * book.equity[chosen] / book.unit_value[chosen]
    if not np.isfinite(desired).all():
        i = int(chosen[np.flatnonzero(~np.isfinite(desired))[0]])
        asset = book.assets[i]
        msg = (
            f"target_weights[{asset!r}] = {float(book.requested[i])!r} overflows: "
            f"equity {float(book.equity[i])!r} (cash and positions) over the unit value "
            f"{float(book.unit_value[i])!r} (prices[{asset!r}]) is too many units"
        )
        raise InvalidSnapshotError(msg)
    lines.desired[chosen] = desired
    exposure, kept, cancels = lines.exposure, dict(lines.kept), dict(lines.cancels)
    for i in among(book.working, chosen):
        working = book.working[i]
        if config.cancel_before_rebalance:
            cancels[i] = _ids(working)
        else:
            kept[i] = tuple(working)
            if book.counts_pending:
                exposure[i] += math.fsum(o.signed_quantity for o in working)
    lines = lines._replace(kept=kept, cancels=cancels)
    return round_trades(book, config, lines, chosen, down=False)


def _close(book: Book, config: RebalanceConfig, lines: Lines, chosen: Index) -> Lines:
    """Target 0: close exactly, keeping pending orders that already close part of it."""
    if not len(chosen):
        return lines
    exposure, kept, cancels = lines.exposure.copy(), dict(lines.kept), dict(lines.cancels)
    # Orders that would take the position further from 0 go even where the direction
    # blocks the close: a cancel is not a trade.
    away: dict[int, tuple[PendingOrder, ...]] = {}
    for i in among(book.working, chosen):
        working = book.working[i]
        held = book.current[i]
        closing: list[PendingOrder] = []
        room = abs(held)
        for order in working:
            if order.side.sign * held < 0.0 and order.quantity <= room * (1 + UNIT_EPS):
                closing.append(order)
                room -= order.quantity
        away[i] = tuple(o for o in working if o not in closing)
        keep = closing if book.counts_pending else []
        kept[i] = tuple(keep)
        cancels[i] = cancels.get(i, ()) + _ids([o for o in working if o not in keep])
        exposure[i] = held + math.fsum(o.signed_quantity for o in keep)
    covered = np.abs(exposure[chosen]) <= np.abs(book.current[chosen]) * UNIT_EPS
    skip, final = lines.skip.copy(), lines.final.copy()
    clamped = (lines.adjust[chosen] & flag(Adjustment.SHORT_CLAMPED)) != 0
    reason = np.where(clamped, SKIP[SkipReason.SHORT_NOT_ALLOWED], SKIP[SkipReason.AT_TARGET])
    reason = np.where(with_orders(kept, chosen), SKIP[SkipReason.PENDING_COVERS], reason)
    skip[chosen[covered]] = reason[covered]
    final[chosen] = np.where(covered, exposure[chosen], 0.0)
    lines = lines._replace(exposure=exposure, skip=skip, final=final, kept=kept, cancels=cancels)
    lines = apply_direction(book, config, lines, chosen[~covered])
    return cancel_when_blocked(lines, away)


def _check(
    book: Book,
    config: RebalanceConfig,
    lines: Lines,
    chosen: Index,
    *,
    down: bool,
) -> Lines:
    """Round the trades of ``chosen`` and check them against the thresholds."""
    equity, unit_value = book.equity[chosen], book.unit_value[chosen]
    start, desired, target = lines.exposure[chosen], lines.desired[chosen], lines.target[chosen]
    counted = start != book.current[chosen]
    step = book.increment[chosen]
    dust = NOISE * equity
    nearest = config.rounding is not Rounding.DOWN and not down
    floor_ = holding_down(start, desired, step)
    floor_ = np.where(np.abs(floor_) * unit_value <= dust, 0.0, floor_)
    if nearest:
        final = holding_nearest(start, desired, step)
        # Rounding up may not break the single-weight cap.
        over = np.abs(final) * unit_value > config.max_single_weight * equity
        final = np.where(over, holding_down(start, desired, step), final)
        final = np.where(np.abs(final) * unit_value <= dust, 0.0, final)
    else:
        final = floor_
    raw = np.abs(desired - start) * unit_value
    at = raw <= dust
    still = ~at & (final == start)
    moved = np.abs(final - start) * unit_value
    reason = threshold_codes(moved, target, equity, config)
    # A short in an account that may not short is closed whatever its size.
    reason[(start < 0.0) & ~book.can_short[chosen]] = 0
    failed = ~at & ~still & (reason != 0)
    if nearest and config.rounding is Rounding.CLOSEST and failed.any():
        # CLOSEST's nearest trade is too small; DOWN's is not and ends closer: take it.
        value = np.abs(floor_ - start) * unit_value
        closer = np.abs(floor_ - desired) < np.abs(start - desired)
        closer &= threshold_codes(value, target, equity, config) == 0
        switch = failed & closer
        final = np.where(switch, floor_, final)
        failed &= ~switch
    skip = lines.skip.copy()
    pending = SKIP[SkipReason.PENDING_COVERS]
    reasons = np.where(counted, pending, SKIP[SkipReason.AT_TARGET])
    if still.any():
        unrounded = threshold_codes(raw, target, equity, config)
        rounded = np.where(counted, pending, SKIP[SkipReason.ROUNDS_TO_ZERO])
        reasons = np.where(still, np.where(unrounded != 0, unrounded, rounded), reasons)
    reasons = np.where(failed, reason, reasons)
    stays = at | still | failed
    if stays.any():
        reasons = _explain(book, config, lines, chosen, reasons)
    trades = ~stays
    reversal = trades & (start != 0.0) & (final != 0.0) & ((final > 0.0) != (start > 0.0))
    if reversal.any():
        # A reversal whose opening leg is too small on its own: just close.
        opening = threshold_codes(np.abs(final) * unit_value, target, equity, config)
        final = np.where(reversal & (opening != 0), 0.0, final)
    skip[chosen] = np.where(stays, reasons, 0)
    new_final = lines.final.copy()
    new_final[chosen] = np.where(stays, start, final)
    return lines._replace(skip=skip, final=new_final)


def _explain(
    book: Book, config: RebalanceConfig, lines: Lines, chosen: Index, reasons: npt.NDArray[np.int8]
) -> npt.NDArray[np.int8]:
    """Name the cap when it, not the threshold, is why nothing trades."""
    capped = (lines.adjust[chosen] & flag(Adjustment.CAPPED)) != 0
    capped &= book.targeted[chosen]
    if not capped.any():
        return reasons
    uncapped = (
        book.requested[chosen] * book.equity[chosen]
        - lines.exposure[chosen] * book.unit_value[chosen]
    )
    due = threshold_codes(np.abs(uncapped), lines.target[chosen], book.equity[chosen], config) == 0
    return np.where(capped & due, SKIP[SkipReason.CAPPED], reasons)


def round_trades(
    book: Book, config: RebalanceConfig, lines: Lines, chosen: Index, *, down: bool
) -> Lines:
    """Round and check the trades of ``chosen``, then apply the direction and short rules.

    Never crosses a counted working order: if the trade (after rounding) points against
    one, the asset's working orders are cancelled and it is sized again from its position
    alone. This is decided before the trade direction may block the trade, so a BUY_ONLY
    plan still replaces a pending buy larger than the target.
    """
    lines = _check(book, config, lines, chosen, down=down)
    replaced: dict[int, tuple[PendingOrder, ...]] = {}
    if book.counts_pending:
        with_orders = [i for i in among(lines.kept, chosen) if lines.kept[i]]
        if with_orders:
            picked = np.array(with_orders)
            legs = legs_of(lines.exposure[picked], lines.final[picked], book.increment[picked])
            for at, i in enumerate(with_orders):
                sides = legs.sides(at)
                if any(o.side.sign != side for o in lines.kept[i] for side in sides):
                    replaced[i] = lines.kept[i]
    if replaced:
        picked = np.array(list(replaced))
        kept, cancels = dict(lines.kept), dict(lines.cancels)
        exposure, final = lines.exposure.copy(), lines.final.copy()
        for i, orders in replaced.items():
            cancels[i] = cancels.get(i, ()) + _ids(orders)
            kept[i] = ()
        exposure[picked] = book.current[picked]
        final[picked] = book.current[picked]
        lines = lines._replace(exposure=exposure, final=final, kept=kept, cancels=cancels)
        lines = _check(book, config, lines, picked, down=down)
    lines = apply_direction(book, config, lines, chosen)
    if replaced:
        adjust = lines.adjust.copy()
        for i in replaced:
            if lines.active[i]:
                adjust[i] |= flag(Adjustment.PENDING_REPLACED)
        lines = cancel_when_blocked(lines._replace(adjust=adjust), replaced)
    return _no_short_from_pending(book, lines, chosen)


def cancel_when_blocked(lines: Lines, overshooting: Mapping[int, Sequence[PendingOrder]]) -> Lines:
    """Cancel again the ``overshooting`` pending orders of assets the direction blocked.

    :func:`apply_direction` gives a blocked asset its pending orders back; but a direction
    blocks trades, not cancels: orders that would take the asset past its target still
    go (the position stays).
    """
    blocked = [i for i in overshooting if not lines.active[i]]
    if not blocked:
        return lines
    kept, cancels = dict(lines.kept), dict(lines.cancels)
    for i in blocked:
        gone = overshooting[i]
        done = cancels.get(i, ())
        cancels[i] = done + tuple(o.order_id for o in gone if o.order_id not in done)
        kept[i] = tuple(o for o in kept.get(i, ()) if o not in gone)
    return lines._replace(kept=kept, cancels=cancels)


def _no_short_from_pending(book: Book, lines: Lines, chosen: Index) -> Lines:
    """Cancel kept working sells that, with the plan's sells, would leave a short.

    Only possible when pending orders are kept but not counted
    (``account_for_pending=False``): the plan was sized as if they did not exist.
    """
    kept, cancels = lines.kept, lines.cancels
    if not kept:
        return lines
    for i in among(kept, chosen):
        orders = kept[i]
        if not orders or not lines.active[i] or book.can_short[i]:
            continue
        legs = legs_of(lines.exposure[i : i + 1], lines.final[i : i + 1], book.increment[i : i + 1])
        sold = (legs.close[0] if legs.close_sign[0] < 0 else 0.0) + (
            legs.trade[0] if legs.trade_sign[0] < 0 else 0.0
        )
        held = book.current[i]
        after = held - sold + math.fsum(o.signed_quantity for o in orders)
        if after >= -abs(held) * UNIT_EPS:
            continue
        if kept is lines.kept:
            kept, cancels = dict(kept), dict(cancels)
        kept[i] = tuple(o for o in orders if o.side is Side.BUY)
        cancels[i] = cancels.get(i, ()) + _ids([o for o in orders if o.side is Side.SELL])
    return lines._replace(kept=kept, cancels=cancels)


def apply_direction(book: Book, config: RebalanceConfig, lines: Lines, chosen: Index) -> Lines:
    """Leave assets whose trade the direction forbids exactly as they are."""
    direction = config.direction
    if direction is TradeDirection.BOTH or not len(chosen):
        return lines
    blocked = -1.0 if direction is TradeDirection.BUY_ONLY else 1.0
    legs = legs_of(lines.exposure[chosen], lines.final[chosen], book.increment[chosen])
    hit = ((legs.close > 0.0) & (legs.close_sign == blocked)) | (
        (legs.trade > 0.0) & (legs.trade_sign == blocked)
    )
    if not hit.any():
        return lines
    picked = chosen[hit]
    active, skip, final = lines.active.copy(), lines.skip.copy(), lines.final.copy()
    active[picked] = False
    skip[picked] = SKIP[SkipReason.DIRECTION]
    final[picked] = lines.exposure[picked]
    kept, cancels = dict(lines.kept), dict(lines.cancels)
    for i in among(cancels, picked):
        del cancels[i]
    for i in among(book.working, picked):
        kept[i] = tuple(book.working[i])
    return lines._replace(active=active, skip=skip, final=final, kept=kept, cancels=cancels)


def set_buys(lines: Lines, legs: Legs, chosen: Index, quantity: Floats) -> Lines:
    """Cut the buys of ``chosen`` (not their closes) to ``quantity`` (0 drops them)."""
    wanted = legs.trade[chosen]
    cut = quantity < wanted
    if not cut.any():
        return lines
    chosen, quantity = chosen[cut], quantity[cut]
    final, adjust, skip = lines.final.copy(), lines.adjust.copy(), lines.skip.copy()
    # A reversal's buy opens from 0, after its close.
    base = np.where(legs.close[chosen] > 0.0, 0.0, lines.exposure[chosen])
    final[chosen] = base + quantity
    bought = quantity > 0.0
    adjust[chosen[bought]] |= flag(Adjustment.CASH_LIMITED)
    nothing = ~bought & (legs.close[chosen] == 0.0)
    skip[chosen[nothing]] = SKIP[SkipReason.CASH_LIMITED]
    return lines._replace(final=final, adjust=adjust, skip=skip)


def with_orders(kept: dict[int, tuple[PendingOrder, ...]], chosen: Index) -> npt.NDArray[np.bool_]:
    """Whether each of ``chosen`` has pending orders ``kept`` working."""
    return np.isin(chosen, [i for i, orders in kept.items() if orders])

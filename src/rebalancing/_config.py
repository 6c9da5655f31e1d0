"""How to rebalance: :class:`RebalanceConfig` and its enums."""

from __future__ import annotations

import decimal
import enum
import math
import numbers
from typing import Any

import attrs

from ._validation import check_flag, enum_value, to_number
from .exceptions import InvalidConfigError

__all__ = ["RebalanceConfig", "Rounding", "TradeDirection"]


class Rounding(enum.StrEnum):
    """How whole-unit and lot quantities are chosen."""

    #: Each final holding is the reachable whole-unit (or lot) quantity nearest the
    #: target that does not exceed it in size: never over target, never over a cap.
    DOWN = "down"
    #: Final holdings closest to target (least sum of value gaps), within the cash the
    #: plan may spend: exact when the nearest holdings fit, else sells and buys repaired
    #: together, never further from target than ``DOWN``.
    CLOSEST = "closest"
    #: The proven optimum of CLOSEST's objective (L1 distance to target), sells and buys
    #: sized together, thresholds as trade-or-nothing, solved by scipy's HiGHS MILP
    #: (``pip install 'rebalancing[optimal]'``).
    OPTIMAL = "optimal"


class TradeDirection(enum.StrEnum):
    """Which trades a plan may contain."""

    #: Buy and sell as needed.
    BOTH = "both"
    #: Invest available cash in the most under-weight assets; never sell.
    BUY_ONLY = "buy_only"
    #: Reduce over-weight assets to raise cash; never buy.
    SELL_ONLY = "sell_only"


def _rounding(value: object) -> Rounding:
    return enum_value(Rounding, value, "RebalanceConfig.rounding", InvalidConfigError)


def _direction(value: object) -> TradeDirection:
    return enum_value(TradeDirection, value, "RebalanceConfig.direction", InvalidConfigError)


@attrs.frozen(kw_only=True)
class Number:
    """attrs validator: a finite number in [low, high) or (low, high); None if optional.

    A class rather than a closure, so its check runs, and can be mutation-tested, when
    a config is created rather than when this module is imported.
    """

    low: float
    low_open: bool = False
    high: float = math.inf
    optional: bool = False

    def __call__(self, instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        del instance
        label = f"RebalanceConfig.{attribute.name}"
        if value is None and self.optional:
            return
        number = to_number(value, label, InvalidConfigError)
        too_low = number <= self.low if self.low_open else number < self.low
        too_high = number >= self.high  # every upper bound is open
        if too_low or too_high:
            left = "(" if self.low_open else "["
            msg = f"{label} must be in {left}{self.low}, {self.high}), got {value!r}"
            raise InvalidConfigError(msg)


def _plain(value: object) -> object:
    """Store ints and floats verbatim; other real numbers (Decimal, numpy) as float."""
    if type(value) in (int, float) or value is None or isinstance(value, bool):
        return value
    if isinstance(value, numbers.Real | decimal.Decimal):
        try:
            return float(value)
        except (ArithmeticError, ValueError, TypeError):
            return value  # the validator names it
    return value


@attrs.frozen(kw_only=True)
class Flag:
    """attrs validator: True or False (or None when optional)."""

    optional: bool = False

    def __call__(self, instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        del instance
        label = f"RebalanceConfig.{attribute.name}"
        check_flag(value, label, InvalidConfigError, optional=self.optional)


@attrs.frozen(kw_only=True)
class RebalanceConfig:
    """Settings for :func:`compute_trades`. Immutable, keyword-only, validated on creation.

    The first ten fields and their defaults are those of ml4t-backtest's
    ``RebalanceConfig``, so code written for it keeps its meaning.

    Args:
        min_trade_value: Skip a trade worth less than this (currency). Closes are exempt.
        min_weight_change: Skip a trade that moves the asset's weight by less than this
            (absolute, as a fraction of equity), unless ``relative_band`` says it is due.
            With many small sleeves (1,000 names at 0.1% each), the default 1% blocks
            every trade: lower it or use ``relative_band``.
        allow_fractional: Trade fractional units. ``None`` follows the account
            (:attr:`PortfolioSnapshot.fractional`).
        round_lots: Trade in multiples of ``lot_size`` (the snapshot's per-asset lot
            sizes always apply).
        lot_size: Lot size used when ``round_lots`` is set.
        allow_short: Allow negative targets; otherwise they count as 0.
        max_single_weight: Cap on each asset's absolute target weight.
        max_gross_leverage: Cap on the sum of absolute target weights; the book is
            scaled down to it when exceeded. ``None``: no cap.
        cancel_before_rebalance: Cancel working pending orders and plan from positions
            alone.
        account_for_pending: When not cancelling, count working pending orders as
            exposure.
        close_untargeted: Close holdings that have no target. ``False`` leaves them alone
            (rebalance one sleeve of the account).
        cash_buffer: Fraction of equity kept uninvested; targets scale by
            ``1 - cash_buffer``.
        cost_rate: Estimated cost per unit of traded value (commission and slippage).
        cost_per_order: Estimated fixed cost per order.
        rounding: :class:`Rounding` for whole units and lots. ``OPTIMAL`` needs scipy
            (the extra ``rebalancing[optimal]``); :func:`compute_trades` raises
            :class:`~rebalancing.InvalidConfigError` without it.
        relative_band: A trade is also due when its weight change reaches this fraction
            of the target weight (the "5/25 rule" is ``min_weight_change=0.05,
            relative_band=0.25``). ``None``: no relative band.
        direction: :class:`TradeDirection`: both ways, buy only, or sell only.

    Raises:
        InvalidConfigError: naming the field, the allowed range and the value.

    >>> RebalanceConfig(min_trade_value=0.0).min_weight_change
    0.01
    """

    min_trade_value: float = attrs.field(default=100.0, converter=_plain, validator=Number(low=0.0))
    min_weight_change: float = attrs.field(
        default=0.01, converter=_plain, validator=Number(low=0.0)
    )
    allow_fractional: bool | None = attrs.field(default=None, validator=Flag(optional=True))
    round_lots: bool = attrs.field(default=False, validator=Flag())
    lot_size: float = attrs.field(
        default=100, converter=_plain, validator=Number(low=0.0, low_open=True)
    )
    allow_short: bool = attrs.field(default=False, validator=Flag())
    max_single_weight: float = attrs.field(
        default=1.0, converter=_plain, validator=Number(low=0.0, low_open=True)
    )
    max_gross_leverage: float | None = attrs.field(
        default=None, converter=_plain, validator=Number(low=0.0, low_open=True, optional=True)
    )
    cancel_before_rebalance: bool = attrs.field(default=True, validator=Flag())
    account_for_pending: bool = attrs.field(default=True, validator=Flag())
    close_untargeted: bool = attrs.field(default=True, validator=Flag())
    cash_buffer: float = attrs.field(
        default=0.0, converter=_plain, validator=Number(low=0.0, high=1.0)
    )
    cost_rate: float = attrs.field(
        default=0.0, converter=_plain, validator=Number(low=0.0, high=1.0)
    )
    cost_per_order: float = attrs.field(default=0.0, converter=_plain, validator=Number(low=0.0))
    rounding: Rounding = attrs.field(default=Rounding.DOWN, converter=_rounding)
    relative_band: float | None = attrs.field(
        default=None, converter=_plain, validator=Number(low=0.0, optional=True)
    )
    direction: TradeDirection = attrs.field(default=TradeDirection.BOTH, converter=_direction)

"""Turn target portfolio weights into the trades that get a portfolio there, safely.

Build a :class:`PortfolioSnapshot` of the account and a :class:`RebalanceConfig`, call
:func:`compute_trades` with the target weights, and submit the :class:`RebalancePlan`:
first its ``cancels``, then its orders in order. Nothing here does I/O.
"""

from __future__ import annotations

from ._batch import compute_trades_many, plan_table
from ._config import RebalanceConfig, Rounding, TradeDirection
from ._plan import compute_trades
from ._result import Action, Adjustment, Decision, Order, RebalancePlan, SkipReason
from ._snapshot import OrderKind, PendingOrder, PortfolioSnapshot, Side
from .exceptions import (
    InvalidConfigError,
    InvalidSnapshotError,
    InvalidTargetsError,
    MissingPriceError,
    RebalancingError,
    UnsupportedBrokerError,
)

__all__ = [
    "Action",
    "Adjustment",
    "Decision",
    "InvalidConfigError",
    "InvalidSnapshotError",
    "InvalidTargetsError",
    "MissingPriceError",
    "Order",
    "OrderKind",
    "PendingOrder",
    "PortfolioSnapshot",
    "RebalanceConfig",
    "RebalancePlan",
    "RebalancingError",
    "Rounding",
    "Side",
    "SkipReason",
    "TradeDirection",
    "UnsupportedBrokerError",
    "compute_trades",
    "compute_trades_many",
    "plan_table",
]

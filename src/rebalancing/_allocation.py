"""Whole-unit allocation within a cash budget: the names the planner and OPTIMAL use.

Pure: no I/O, clock or globals. Re-exports, so that callers need not know where each
piece lives: the shared rules of whole units (:func:`snap_whole`, :data:`FLOAT_NOISE`)
and ``Rounding.DOWN``'s even cut (:func:`water_level`) from :mod:`._units`, and
``Rounding.CLOSEST``'s joint repair of sells and buys (:func:`closest_holdings` over
:class:`HoldingItem`) from :mod:`._closest`.
"""

from __future__ import annotations

from ._closest import HoldingItem, closest_holdings
from ._units import FLOAT_NOISE, snap_whole, water_level

__all__ = ["FLOAT_NOISE", "HoldingItem", "closest_holdings", "snap_whole", "water_level"]

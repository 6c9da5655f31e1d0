"""Book builders the benchmark scripts share."""

from __future__ import annotations

import math
from collections.abc import Iterable


def fully_invested(
    prices: dict[str, float], weights: Iterable[tuple[str, float]], capital: float
) -> tuple[dict[str, float], float]:
    """Whole units of each name at its weight of ``capital``, then the cheapest names
    bought with what is left: positions and the cash below one share of the dearest."""
    positions: dict[str, float] = {}
    cash = capital
    for name, weight in weights:
        units = math.floor(weight * capital / prices[name])
        if units > 0:
            positions[name] = float(units)
            cash -= units * prices[name]
    for name in sorted(prices, key=prices.__getitem__):
        units = math.floor(cash / prices[name])
        if units > 0:
            positions[name] = positions.get(name, 0.0) + units
            cash -= units * prices[name]
    return positions, cash

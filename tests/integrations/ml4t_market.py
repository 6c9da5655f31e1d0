"""A real ml4t-backtest Broker standing at one bar, and helpers to read its end state."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from ml4t.backtest import Broker, ExecutionMode, OrderSide, OrderStatus

START = datetime(2024, 1, 2, 16, 0, tzinfo=UTC)


class Market:
    """An ml4t ``Broker`` at one bar whose closes are ``prices``; ``data`` is that bar."""

    def __init__(self, prices: dict[str, float], cash: float = 100_000.0, **broker: Any) -> None:
        self.broker = Broker(initial_cash=cash, **broker)
        self.when = START
        self.prices: dict[str, float] = {}
        self.move(prices)

    def move(self, prices: dict[str, float]) -> None:
        """Start the next bar at these closes (all other bar fields equal the close)."""
        self.when += timedelta(days=1)
        self.prices = dict(prices)
        volumes = dict.fromkeys(prices, 1e12)
        self.broker._update_time(
            self.when, dict(prices), dict(prices), dict(prices), dict(prices), volumes, {}
        )

    @property
    def data(self) -> dict[str, dict[str, float]]:
        """The bar as a strategy sees it: ``{asset: {"close": price}}``."""
        return {asset: {"close": price} for asset, price in self.prices.items()}

    def hold(self, asset: str, quantity: float) -> None:
        """Open a position through the broker's own fills."""
        side = OrderSide.BUY if quantity > 0 else OrderSide.SELL
        order = self.broker.submit_order(asset, abs(quantity), side)
        self.fill()
        assert order is not None
        assert order.status == OrderStatus.FILLED, order.rejection_reason

    def fill(self) -> None:
        """Fill whatever is pending: now, or at the next bar's open in NEXT_BAR mode."""
        if self.broker.execution_mode is ExecutionMode.NEXT_BAR:
            self.move(self.prices)
            self.broker._process_orders(use_open=True)
        else:
            self.broker._process_orders()

    def positions(self) -> dict[str, float]:
        """Non-zero positions, asset -> signed quantity."""
        return {a: p.quantity for a, p in self.broker.positions.items() if p.quantity != 0}

    def rejected(self) -> list[tuple[str, str | None]]:
        """(asset, reason) of every order the broker rejected so far."""
        return [(o.asset, o.rejection_reason) for o in self.broker.get_rejected_orders()]

    def equity(self) -> float:
        """Account value at the broker's marks."""
        return float(self.broker.get_account_value())

    def weight(self, asset: str) -> float:
        """Current weight of ``asset`` at the bar's close."""
        quantity = self.positions().get(asset, 0.0)
        return quantity * self.prices[asset] * self.broker.get_multiplier(asset) / self.equity()

    def cash_ok(self) -> bool:
        """Cash is a finite number >= 0 (to the cent, as the broker's own tolerance)."""
        cash = float(self.broker.cash)
        return math.isfinite(cash) and cash >= -0.01


def sent(orders: list[Any]) -> list[tuple[str, str, float]]:
    """(side, asset, quantity) of broker orders, in order."""
    return [(o.side.value, o.asset, o.quantity) for o in orders]

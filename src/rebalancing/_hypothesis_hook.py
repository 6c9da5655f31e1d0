"""Hypothesis's ``hypothesis`` entry point: ``st.from_type`` for the library's values.

Hypothesis calls :func:`register_type_strategies` while it is itself being imported, which
may happen in the middle of importing :mod:`rebalancing._strategies` (which imports
Hypothesis). So this module imports nothing at load time and resolves each strategy
lazily, when ``from_type`` first needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from hypothesis.strategies import SearchStrategy


def _lazily(name: str) -> Callable[[type], SearchStrategy[Any]]:
    def resolve(_: type) -> SearchStrategy[Any]:
        from . import _strategies  # noqa: PLC0415 - see the module docstring

        strategy: SearchStrategy[Any] = getattr(_strategies, name)()
        return strategy

    return resolve


def register_type_strategies() -> None:
    """Register strategies for ``PortfolioSnapshot``, ``RebalanceConfig``, ``PendingOrder``."""
    from hypothesis import strategies as st  # noqa: PLC0415 - Hypothesis is optional

    from ._config import RebalanceConfig  # noqa: PLC0415
    from ._snapshot import PendingOrder, PortfolioSnapshot  # noqa: PLC0415

    st.register_type_strategy(PortfolioSnapshot, _lazily("snapshots"))
    st.register_type_strategy(RebalanceConfig, _lazily("rebalance_configs"))
    st.register_type_strategy(PendingOrder, _lazily("pending_orders"))

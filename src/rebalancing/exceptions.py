"""Errors raised by :mod:`rebalancing`.

Every error the library raises on purpose is a :class:`RebalancingError`. Errors about
bad input are also :class:`ValueError`, so ``except ValueError`` keeps working for code
that does not know this library. Every message names the field or asset at fault, what
was expected, and the value that was received.

Bad input is always reported *before* anything is decided: a call either returns a
complete plan or raises, never something in between.
"""

from __future__ import annotations

__all__ = [
    "InvalidConfigError",
    "InvalidSnapshotError",
    "InvalidTargetsError",
    "MissingPriceError",
    "RebalancingError",
    "UnsupportedBrokerError",
]


class RebalancingError(Exception):
    """Base class of every error this library raises on purpose; never raised itself."""


class InvalidSnapshotError(RebalancingError, ValueError):
    """The portfolio snapshot (cash, positions, prices, pending orders...) is invalid."""


class MissingPriceError(InvalidSnapshotError):
    """A held asset, or an asset with a pending order, has no usable price."""


class InvalidTargetsError(RebalancingError, ValueError):
    """The target weights are not a mapping of asset names to finite numbers."""


class InvalidConfigError(RebalancingError, ValueError):
    """A :class:`~rebalancing.RebalanceConfig` field, or the config itself, is invalid."""


class UnsupportedBrokerError(RebalancingError, TypeError):
    """An adapter met a broker it does not understand (a missing attribute, an order type).

    Raised instead of guessing, so a new release of the broker's package fails loudly;
    the message names the attribute or value and the broker package's installed version.
    """

"""A drop-in ``TargetWeightExecutor`` for ml4t-backtest's ``Broker``, built on the core.

Swap one import and keep the rest of the strategy::

    # from ml4t.backtest import TargetWeightExecutor, RebalanceConfig
    from rebalancing.ml4t import RebalanceConfig, TargetWeightExecutor

The adapter is a thin shell around :func:`rebalancing.compute_trades`:
:func:`snapshot_from_broker` reads the broker and the bar into a
:class:`~rebalancing.PortfolioSnapshot`, the core plans, and
:meth:`TargetWeightExecutor.execute` cancels what the plan says and submits exactly the
plan's orders, in the plan's order. :meth:`TargetWeightExecutor.preview` shows that same
plan, so what preview shows is what execute sends.

Conventions: quantities are signed (short < 0); a price is the ``close`` of the bar in
``data``, falling back to the broker's last mark when the bar has none (``None``, NaN, or
not > 0); equity is cash plus every position valued at those prices times the contract
multiplier from ``broker.get_multiplier``.

When the broker fills at the next bar's open (ml4t's ``Engine`` default), the plan keeps
a gap headroom in cash (``RebalanceConfig.gap_headroom``) so that buys sized at this
bar's close still fit. Anything of the broker's that the adapter does not understand
raises :class:`~rebalancing.UnsupportedBrokerError` naming it and the installed
ml4t-backtest version (:data:`ML4T_VERSION`; tested: :data:`TESTED_ML4T_VERSIONS`).

Needs the optional extra: ``pip install 'rebalancing[ml4t]'``.

This module is the adapter's public face: the config, the executor and the constants.
Reading the broker (strictly, into a snapshot, and its cost models) lives in
``_ml4t_broker``; submitting a plan and the preview rows in ``_ml4t_orders``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

try:
    from ml4t.backtest.config import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        RebalanceMode,
    )
    from ml4t.backtest.types import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        ExecutionMode,
    )
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without ml4t
    msg = (
        "rebalancing.ml4t needs ml4t-backtest (0.1.0b5), which is not installed: "
        "pip install 'rebalancing[ml4t]'"
    )
    raise ImportError(msg) from exc

from . import _ml4t_broker as _broker
from ._config import Flag, Number, _plain
from ._config import RebalanceConfig as _CoreConfig
from ._ml4t_broker import (
    estimate_costs,
    initial_margin,
    policy_flag,
    read_attribute,
    snapshot_from_broker,
    unsupported,
)
from ._ml4t_orders import buys, orders_to_send, preview_rows, submit, traded_value
from ._plan import compute_trades
from ._result import RebalancePlan
from ._snapshot import PortfolioSnapshot
from ._validation import enum_value
from .exceptions import InvalidConfigError, UnsupportedBrokerError

__all__ = [
    "MAX_ESTIMATED_COST_RATE",
    "MAX_GAP_HEADROOM",
    "ML4T_VERSION",
    "NEXT_BAR_GAP_HEADROOM",
    "TESTED_ML4T_VERSIONS",
    "RebalanceConfig",
    "RebalanceMode",
    "TargetWeightExecutor",
    "UnsupportedBrokerError",
    "WeightProvider",
    "estimate_costs",
    "snapshot_from_broker",
]

#: The ml4t-backtest releases the ``ml4t`` nox session tests this adapter with; the
#: ``rebalancing[ml4t]`` extra pins the same range. Later releases (0.1.x final, 0.2)
#: need Python 3.12+ and are untested: anything the adapter does not understand on them
#: raises :class:`~rebalancing.UnsupportedBrokerError` naming the installed version.
TESTED_ML4T_VERSIONS = _broker.TESTED_ML4T_VERSIONS
#: The installed ml4t-backtest version, named in every UnsupportedBrokerError.
ML4T_VERSION = _broker.ML4T_VERSION

#: The largest cost rate :func:`estimate_costs` derives. The core needs a rate below 1;
#: a per-share fee on a sub-dollar price can exceed the price itself (ml4t's
#: ``PerShareCommission(0.005)`` at $0.004 is 125% of the traded value). Such an
#: estimate is capped here, with a warning, rather than rejected by the config.
MAX_ESTIMATED_COST_RATE = _broker.MAX_ESTIMATED_COST_RATE

#: The ``gap_headroom`` used when the config leaves it at ``None`` and the broker fills
#: market orders at the next bar's open (ml4t's ``Engine`` default): cash is kept for an
#: adverse move of 5% between this bar's close and the next open on every order (buys
#: up, sells down). Measured with ``benchmarks/next_bar.py``; see docs/ml4t.md.
NEXT_BAR_GAP_HEADROOM = 0.05

#: The most cash, as a fraction of equity, that the gap headroom ever keeps back.
MAX_GAP_HEADROOM = 0.5

_CORE_FIELDS = tuple(field.name for field in attrs.fields(_CoreConfig))


class WeightProvider(Protocol):
    """Anything that produces target weights from the bar and the broker (an optimizer)."""

    def get_weights(self, data: Mapping[str, Any], broker: Any) -> Mapping[str, float]:
        """Return asset -> target weight (a fraction of equity)."""
        ...  # pragma: no cover - protocol


def _to_mode(value: object) -> RebalanceMode:
    return enum_value(RebalanceMode, value, "RebalanceConfig.rebalance_mode", InvalidConfigError)


@attrs.frozen(kw_only=True)
class RebalanceConfig(_CoreConfig):
    """:class:`rebalancing.RebalanceConfig` plus the ml4t executor's ``rebalance_mode``.

    Every field of the core config is accepted with the same default (those of
    ml4t-backtest's own ``RebalanceConfig``), so code written for ml4t keeps working.

    Args:
        rebalance_mode: ml4t's ``RebalanceMode`` (or its string value). ``SNAPSHOT``
            plans once and submits everything; ``INCREMENTAL`` submits and fills the
            risk-reducing orders first, then plans the buys from the account as it is
            after those fills; ``HYBRID`` does the same but sizes the buys on the equity
            frozen before the sells.
        costs_from_broker: Estimate ``cost_rate`` and ``cost_per_order`` from the
            broker's commission and slippage models (:func:`estimate_costs`) wherever
            the config leaves them at 0. Set ``False`` to use exactly the config's
            values.
        gap_headroom: Cash kept for the move between the bar's close, which the plan
            prices at, and the price the broker fills at, as a fraction of the value
            traded: the plan keeps ``gap_headroom * traded value`` in cash beyond what
            it leaves anyway (so a buy that opens that much higher, or a sell that
            opens that much lower, still fits), by raising the cash buffer for this
            plan (:attr:`~rebalancing.RebalancePlan.cash_floor` shows it, and each
            scaled decision lists ``cash_buffer`` among its adjustments). ``None``
            follows the broker's fill timing: :data:`NEXT_BAR_GAP_HEADROOM` when it
            fills at the next bar (``ExecutionMode.NEXT_BAR``), 0 when it fills in the
            bar the orders are sent. ``0`` turns it off.

    Raises:
        InvalidConfigError: naming the field, what was expected and the value.
    """

    rebalance_mode: RebalanceMode = attrs.field(default=RebalanceMode.SNAPSHOT, converter=_to_mode)
    costs_from_broker: bool = attrs.field(default=True, validator=Flag())
    gap_headroom: float | None = attrs.field(
        default=None, converter=_plain, validator=Number(low=0.0, high=1.0, optional=True)
    )

    def core(self, *, cost_rate: float = 0.0, cost_per_order: float = 0.0) -> _CoreConfig:
        """The core config, with costs left at 0 replaced by the estimates given.

        Args:
            cost_rate: Estimated cost per unit of traded value, used when the config's
                ``cost_rate`` is 0 and ``costs_from_broker`` is set.
            cost_per_order: Estimated fixed cost per order, likewise.

        Returns:
            A :class:`rebalancing.RebalanceConfig` with the same settings.

        >>> RebalanceConfig(cost_rate=0.002).core(cost_rate=0.01, cost_per_order=1.0).cost_rate
        0.002
        """
        values = {name: getattr(self, name) for name in _CORE_FIELDS}
        if self.costs_from_broker:
            if values["cost_rate"] == 0.0:
                values["cost_rate"] = min(cost_rate, MAX_ESTIMATED_COST_RATE)
            if values["cost_per_order"] == 0.0:
                values["cost_per_order"] = cost_per_order
        return _CoreConfig(**values)


# -- the executor -------------------------------------------------------------------------


class TargetWeightExecutor:
    """Turn target weights into orders on an ml4t ``Broker``; drop-in for ml4t's own.

    Args:
        config: How to rebalance; ``None`` means :class:`RebalanceConfig` defaults. A
            plain :class:`rebalancing.RebalanceConfig` is accepted too (SNAPSHOT mode).

    Raises:
        InvalidConfigError: ``config`` is not a config.
    """

    def __init__(self, config: _CoreConfig | None = None) -> None:
        self.config: _CoreConfig = _check_config(config)

    # -- planning ---------------------------------------------------------------------

    def _mode(self) -> RebalanceMode:
        return getattr(self.config, "rebalance_mode", RebalanceMode.SNAPSHOT)

    def _core_config(self, broker: Any, snapshot: PortfolioSnapshot) -> _CoreConfig:
        """The config for the core: broker cost estimates, and the account's gross limit.

        A cash account (no leverage, no short selling) is the snapshot's
        ``margin=False``: the core scales its book to a gross of 1. Unless
        ``max_gross_leverage`` is set, an account that may short but not borrow (ml4t's
        crypto account) is held to a gross of 1 too, and a margin account, which can
        hold about ``1 / initial_margin`` times its equity (2 under Reg T's 50%), to
        ``1 / (initial_margin + cost_rate)``, unless contracts have their own margins.
        Past those limits the broker would reject whichever buys come last.
        """
        config = self.config
        if isinstance(config, RebalanceConfig):
            if config.costs_from_broker:
                rate, fixed = estimate_costs(broker, snapshot)
                config = config.core(cost_rate=rate, cost_per_order=fixed)
            else:
                config = config.core()
        # A cash account (snapshot.margin is False) is the core's rule: gross <= 1.
        if not snapshot.margin or config.max_gross_leverage is not None:
            return config
        if not policy_flag(broker, "allow_leverage"):
            # Short selling without leverage (ml4t's crypto account): shorts, gross <= 1.
            return attrs.evolve(config, max_gross_leverage=1.0)
        initial = initial_margin(broker)
        if initial is None:
            return config
        # Buying power is (equity - costs - margin held) / initial margin: with costs at
        # cost_rate, a gross of 1 / (initial + cost_rate) uses it all.
        return attrs.evolve(config, max_gross_leverage=1.0 / (initial + config.cost_rate))

    def _gap_rate(self, broker: Any) -> float:
        """The gap headroom rate: the config's, or the broker's fill timing's default."""
        if not isinstance(self.config, RebalanceConfig):
            return 0.0  # a plain core config is used exactly as given
        if self.config.gap_headroom is not None:
            return float(self.config.gap_headroom)
        mode = read_attribute(broker, "execution_mode")
        if mode == ExecutionMode.NEXT_BAR:
            return NEXT_BAR_GAP_HEADROOM
        if mode == ExecutionMode.SAME_BAR:
            return 0.0
        raise unsupported(f"broker.execution_mode {mode!r}")

    def _plan_with_headroom(
        self,
        snapshot: PortfolioSnapshot,
        targets: Mapping[str, float],
        config: _CoreConfig,
        broker: Any,
    ) -> RebalancePlan:
        """Plan; if it buys, keep ``rate * traded value`` in cash beyond what it leaves.

        The headroom raises the cash buffer of a second plan by the part of the reserve
        that the first plan's spare cash (projected cash above its floor) does not
        already cover, so targets that leave cash cost nothing extra.
        """
        plan = compute_trades(snapshot, targets, config)
        rate = self._gap_rate(broker)
        if rate == 0.0 or plan.equity <= 0.0 or not buys(plan):
            return plan
        needed = rate * traded_value(plan) - (plan.projected_cash - plan.cash_floor)
        if needed <= 0.0:
            return plan
        headroom = min(needed / plan.equity, MAX_GAP_HEADROOM)
        buffer = 1.0 - (1.0 - config.cash_buffer) * (1.0 - headroom)
        return compute_trades(snapshot, targets, attrs.evolve(config, cash_buffer=buffer))

    def _snapshot_and_plan(
        self, target_weights: Mapping[str, float], data: Mapping[str, Any], broker: Any
    ) -> tuple[PortfolioSnapshot, RebalancePlan]:
        # compute_trades validates the targets (all of them, before anything is decided)
        # and the plan exists before anything is cancelled or sent: bad input fails whole.
        snapshot = snapshot_from_broker(broker, data, assets=_names(target_weights))
        config = self._core_config(broker, snapshot)
        return snapshot, self._plan_with_headroom(snapshot, target_weights, config, broker)

    def plan(
        self, target_weights: Mapping[str, float], data: Mapping[str, Any], broker: Any
    ) -> RebalancePlan:
        """The plan for the account as it is now: one snapshot, one :func:`compute_trades`.

        This is what :meth:`preview` shows and what :meth:`execute` sends (in
        INCREMENTAL and HYBRID modes, its risk-reducing part).

        Args:
            target_weights: asset -> fraction of equity (any mapping).
            data: The bar, ``{asset: {"close": price, ...}}``.
            broker: The ml4t ``Broker``.

        Returns:
            The :class:`~rebalancing.RebalancePlan`.

        Raises:
            InvalidTargetsError: a weight is not a finite number or a name is bad.
            MissingPriceError: a held or pending asset has no price anywhere.
        """
        return self._snapshot_and_plan(target_weights, data, broker)[1]

    # -- public API -------------------------------------------------------------------

    def preview(
        self,
        target_weights: Mapping[str, float],
        data: Mapping[str, Any],
        broker: Any,
    ) -> list[dict[str, Any]]:
        """Show the plan without submitting anything: one dict per decision.

        Keys of ml4t's preview, with the values of the plan that :meth:`execute` sends:
        ``asset``, ``current_weight``, ``target_weight`` (after clamp, cap and scaling),
        ``weight_delta`` (``target_weight - current_weight``), ``shares`` (net signed
        quantity that will be sent, rounded), ``value`` (its signed notional),
        ``skip_reason`` (``None`` when it trades) and ``action`` (``"close_position"``
        for a close, ``"reverse"`` for a close-then-open, else the order's action or
        ``None``). Extra keys: ``requested_weight``, ``projected_weight``, ``price``,
        ``orders`` (each ``{"side", "quantity", "action", "seq"}``, ``seq`` being the
        position in the submission order), ``cancels`` and ``adjustments``.

        In INCREMENTAL and HYBRID modes the buys are re-planned after the sells fill,
        with the pending orders still working counted as exposure, so they differ from
        this preview when fills move cash, and, with ``account_for_pending=False``, by
        the pending orders and entries (dip buys) that the preview did not count. The
        SNAPSHOT mode's preview is exactly what ``execute`` sends.

        With equity at or below zero, weights mean nothing: only held or pending
        assets (which can still be closed) are listed.

        Args:
            target_weights: asset -> fraction of equity.
            data: The bar, ``{asset: {"close": price, ...}}``.
            broker: The ml4t ``Broker``.

        Returns:
            One dict per asset, sorted by asset.

        Raises:
            InvalidTargetsError: a weight is not a finite number or a name is bad.
        """
        return preview_rows(self.plan(target_weights, data, broker))

    def execute(
        self,
        target_weights: Mapping[str, float],
        data: Mapping[str, Any],
        broker: Any,
    ) -> list[Any]:
        """Cancel what the plan says, then submit the plan's orders in the plan's order.

        In INCREMENTAL and HYBRID modes the risk-reducing orders (closes, reductions)
        go first and are filled with ``broker._process_orders()``; the rest is then
        planned from a fresh snapshot (HYBRID keeps the equity of the first one),
        submitted and filled. Two plans and two fills, whatever the number of assets.

        Args:
            target_weights: asset -> fraction of equity.
            data: The bar, ``{asset: {"close": price, ...}}``.
            broker: The ml4t ``Broker``.

        Returns:
            The broker's ``Order`` objects that were submitted, in submission order.

        Raises:
            InvalidTargetsError: a weight is not a finite number or a name is bad; raised
                before anything is cancelled or submitted.
        """
        snapshot, plan = self._snapshot_and_plan(target_weights, data, broker)
        mode = self._mode()
        if mode is RebalanceMode.SNAPSHOT:
            return submit(broker, plan.cancels, orders_to_send(plan))
        first = orders_to_send(plan, reducing_only=True)
        submitted = submit(broker, plan.cancels, first)
        # ml4t's way to fill within the bar (a private method: read it strictly).
        process_orders = read_attribute(broker, "_process_orders")
        if submitted:
            process_orders()
        fresh = snapshot_from_broker(broker, data, assets=snapshot.prices)
        targets: Mapping[str, float] = target_weights  # valid: the first plan checked them
        if mode is RebalanceMode.HYBRID and fresh.equity > 0.0 and snapshot.equity > 0.0:
            scale = snapshot.equity / fresh.equity
            targets = {asset: weight * scale for asset, weight in target_weights.items()}
        # Whatever is still pending was kept or just sent: count it, never resend it.
        config = attrs.evolve(
            self._core_config(broker, fresh),
            cancel_before_rebalance=False,
            account_for_pending=True,
        )
        second = self._plan_with_headroom(fresh, targets, config, broker)
        more = submit(broker, second.cancels, orders_to_send(second))
        if more:
            process_orders()
        return submitted + more

    # -- shims for code written against ml4t's executor ----------------------------------

    def _get_current_weights(self, broker: Any, data: Mapping[str, Any]) -> dict[str, float]:
        """Weight (asset -> fraction of equity) of each held position (empty when equity <= 0)."""
        snapshot = snapshot_from_broker(broker, data, assets=())
        equity = snapshot.equity
        if equity <= 0.0:
            return {}
        return {asset: snapshot.value_of(asset) / equity for asset in snapshot.held}

    def _get_effective_weights(self, broker: Any, data: Mapping[str, Any]) -> dict[str, float]:
        """Like :meth:`_get_current_weights`, plus pending orders that execute as placed."""
        snapshot = snapshot_from_broker(broker, data, assets=())
        equity = snapshot.equity
        if equity <= 0.0:
            return {}
        values = {asset: snapshot.value_of(asset) for asset in snapshot.held}
        for order in snapshot.pending_orders:
            price = snapshot.prices[order.asset]
            if order.executes_as_placed(price):
                value = (
                    order.signed_quantity
                    * order.execution_price(price)
                    * snapshot.multiplier(order.asset)
                )
                values[order.asset] = values.get(order.asset, 0.0) + value
        return {asset: value / equity for asset, value in values.items()}


def _names(target_weights: object) -> list[str]:
    """The asset names among the targets' keys, as plain ``str`` (the core reports the rest).

    Any ``str`` subclass is a name: ``numpy.str_`` keys (``dict(zip(np.array(tickers),
    weights))``) and string enums are priced like plain strings.
    """
    keys = getattr(target_weights, "keys", None)
    if not callable(keys):
        return []
    return [str(key) for key in keys() if isinstance(key, str)]


def _check_config(config: object) -> _CoreConfig:
    if config is None:
        return RebalanceConfig()
    if not isinstance(config, _CoreConfig):
        msg = f"config must be a RebalanceConfig or None, got {type(config).__name__} {config!r}"
        raise InvalidConfigError(msg)
    return config

"""What the adapter reads of the broker, and how it fails when a release changes that.

Issue 10.6: the adapter used to read ml4t's internals through ``getattr`` defaults and
turned unknown order types into resting trailing stops, so a release that renamed
something would have been planned around silently. Every such case is now an
``UnsupportedBrokerError`` naming the attribute or value and the installed version.
Each test removes or changes one thing on a *real* ml4t Broker, as a release might.
"""

import importlib.metadata
import math
import tomllib
import types
from pathlib import Path
from typing import ClassVar

import pytest
from ml4t.backtest import BacktestConfig, Broker, OrderSide
from ml4t.backtest.models import PercentageCommission
from ml4t_market import Market
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import rebalancing
from rebalancing import Adjustment, UnsupportedBrokerError
from rebalancing.ml4t import (
    ML4T_VERSION,
    TESTED_ML4T_VERSIONS,
    RebalanceConfig,
    RebalanceMode,
    TargetWeightExecutor,
    snapshot_from_broker,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def unsupported(what):
    """pytest.raises for an UnsupportedBrokerError naming ``what`` and the version."""
    return pytest.raises(UnsupportedBrokerError, match=rf"{what}.*ml4t-backtest 0\.1\.0b5")


class TestVersion:
    """The extra declares the tested range; the installed version is read at import."""

    def test_installed_version_is_read(self):
        """ML4T_VERSION is the installed distribution's version."""
        assert importlib.metadata.version("ml4t-backtest") == ML4T_VERSION

    def test_extra_pins_the_tested_range(self):
        """pyproject's `ml4t` extra is exactly ml4t-backtest in the tested range."""
        extras = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"][
            "optional-dependencies"
        ]

        (requirement,) = (Requirement(text) for text in extras["ml4t"])

        assert ("ml4t-backtest", SpecifierSet(TESTED_ML4T_VERSIONS)) == (
            requirement.name,
            requirement.specifier,
        )

    def test_installed_version_is_in_the_tested_range(self):
        """This session runs on a version inside the declared range."""
        assert SpecifierSet(TESTED_ML4T_VERSIONS).contains(ML4T_VERSION, prereleases=True)

    def test_error_is_public_and_a_type_error(self):
        """UnsupportedBrokerError is a RebalancingError and a TypeError, exported at the top."""
        assert issubclass(rebalancing.UnsupportedBrokerError, rebalancing.RebalancingError)
        assert issubclass(UnsupportedBrokerError, TypeError)


class TestMissingInternals:
    """A private attribute that a release dropped is an error, never a default."""

    @pytest.mark.parametrize("name", ["_current_prices", "_last_prices"])
    def test_price_tables(self, name):
        """Falling back to the broker's marks needs both price tables."""
        market = Market({"A": 100.0})
        market.hold("A", 10)
        market.broker._current_prices = {}
        delattr(market.broker, name)

        with unsupported(f"broker.{name}: there is no such attribute"):
            snapshot_from_broker(market.broker, {})

    def test_position_without_quantity(self):
        """A position object that lost its quantity is named, not read as 0."""
        market = Market({"A": 100.0})
        market.hold("A", 10)
        market.broker.positions["A"] = types.SimpleNamespace(entry_price=100.0)

        with unsupported("Position.quantity: there is no such attribute"):
            snapshot_from_broker(market.broker, market.data)

    def test_price_table_of_another_type(self):
        """A price table that is not a mapping is named with its type."""
        market = Market({"A": 100.0})
        market.hold("A", 10)
        market.broker._current_prices = [100.0]

        with unsupported("broker._current_prices: expected a mapping, got list"):
            snapshot_from_broker(market.broker, {})

    def test_contract_specs(self):
        """Multipliers need the contract specs table."""
        market = Market({"A": 100.0})
        del market.broker._contract_specs

        with unsupported("broker._contract_specs"):
            snapshot_from_broker(market.broker, market.data)

    @pytest.mark.parametrize("mode", [RebalanceMode.INCREMENTAL, RebalanceMode.HYBRID])
    def test_process_orders(self, mode, monkeypatch):
        """INCREMENTAL and HYBRID fill the sells with _process_orders; without it, an error."""
        market = Market({"A": 100.0, "B": 50.0})
        market.hold("A", 500)
        monkeypatch.delattr(Broker, "_process_orders")
        executor = TargetWeightExecutor(RebalanceConfig(rebalance_mode=mode))

        with unsupported("broker._process_orders"):
            executor.execute({"B": 0.5}, market.data, market.broker)

    def test_position_price(self):
        """A position without its price attributes is named."""
        market = Market({"A": 100.0})
        market.hold("A", 10)
        market.broker._current_prices = {}
        market.broker._last_prices = {}
        market.broker.positions["A"].current_price = None
        del market.broker.positions["A"].entry_price

        with unsupported("Position.entry_price"):
            snapshot_from_broker(market.broker, {})

    def test_cost_models(self):
        """estimate_costs reads the broker's commission and slippage models strictly."""
        market = Market({"A": 100.0})
        del market.broker.slippage_model

        with unsupported("broker.slippage_model"):
            TargetWeightExecutor().plan({"A": 0.5}, market.data, market.broker)


class TestUnknownValues:
    """Order types, sides, share types and policies the adapter does not know."""

    def test_unknown_order_type_is_an_error(self):
        """An order type the adapter does not know is named; nothing is cancelled or sent."""
        market = Market({"A": 100.0})
        order = market.broker.submit_order("A", 5, OrderSide.BUY)
        order.order_type = "market_on_close"

        with unsupported("order type 'market_on_close' of pending order"):
            TargetWeightExecutor().execute({"A": 0.5}, market.data, market.broker)

        assert [order] == market.broker.pending_orders
        assert [order] == market.broker.orders

    def test_unknown_side_is_an_error(self):
        """A side that is neither BUY nor SELL is named."""
        market = Market({"A": 100.0})
        order = market.broker.submit_order("A", 5, OrderSide.BUY)
        order.side = "short"

        with unsupported("side 'short' of pending order"):
            snapshot_from_broker(market.broker, market.data)

    def test_missing_order_field_is_an_error(self):
        """A pending order without a field the adapter reads is named."""
        market = Market({"A": 100.0})
        order = market.broker.submit_order("A", 5, OrderSide.BUY)
        del order.asset

        with unsupported("Order.asset"):
            snapshot_from_broker(market.broker, market.data)

    def test_unknown_share_type_is_an_error(self):
        """A share type other than FRACTIONAL or INTEGER is named."""
        market = Market({"A": 100.0})
        market.broker.share_type = "lots"

        with unsupported("broker.share_type 'lots'"):
            snapshot_from_broker(market.broker, market.data)

    def test_account_policy_without_leverage_flag(self):
        """The margin flag comes from the account policy, read strictly."""
        market = Market({"A": 100.0})
        del market.broker.account.policy.allow_leverage

        with unsupported("broker.account.policy.allow_leverage"):
            snapshot_from_broker(market.broker, market.data)

    def test_account_policy_flag_of_another_type(self):
        """A leverage flag that is not a bool is named."""
        market = Market({"A": 100.0})
        market.broker.account.policy.allow_leverage = "sometimes"

        with unsupported("allow_leverage 'sometimes'"):
            snapshot_from_broker(market.broker, market.data)


class TestMarginFollowsTheAccountPolicy:
    """snapshot_from_broker sets margin from the broker's account policy."""

    @pytest.mark.parametrize(
        ("account", "margin"),
        [
            ({}, False),
            ({"allow_short_selling": True}, True),
            ({"allow_short_selling": True, "allow_leverage": True}, True),
            ({"allow_leverage": True}, True),
        ],
        ids=["cash", "crypto", "margin", "leverage-only"],
    )
    def test_broker_flags(self, account, margin):
        """A cash account cannot borrow; crypto-style accounts borrow shares to short,
        margin accounts cash too."""
        market = Market({"A": 100.0}, **account)

        assert margin is snapshot_from_broker(market.broker, market.data).margin

    @pytest.mark.parametrize("leverage", [False, True])
    def test_broker_from_an_engine_config(self, leverage):
        """A Broker built from ml4t's BacktestConfig carries the same policy."""
        config = BacktestConfig(allow_short_selling=leverage, allow_leverage=leverage)
        broker = Broker.from_config(config)

        assert leverage is snapshot_from_broker(broker, {}).margin

    def test_policy_wins_over_the_broker_attribute(self):
        """The account policy the broker enforces is the source, not a copied flag."""
        market = Market({"A": 100.0}, allow_short_selling=True, allow_leverage=True)
        market.broker.allow_leverage = False

        assert snapshot_from_broker(market.broker, market.data).margin


class TestShortSellingWithoutLeverage:
    """ml4t's crypto account (short selling, no leverage) may short but not lever up."""

    def test_it_shorts(self):
        market = Market({"A": 100.0, "B": 100.0}, allow_short_selling=True)
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, allow_short=True)

        plan = TargetWeightExecutor(config).plan({"A": 0.5, "B": -0.5}, market.data, market.broker)

        assert [("sell", "B"), ("buy", "A")] == [(o.side.value, o.asset) for o in plan]

    def test_its_gross_is_held_to_one(self):
        market = Market({"A": 100.0, "B": 100.0}, allow_short_selling=True)
        config = RebalanceConfig(min_trade_value=0, min_weight_change=0, allow_short=True)

        plan = TargetWeightExecutor(config).plan({"A": 0.8, "B": 0.8}, market.data, market.broker)

        assert 1.0 == pytest.approx(math.fsum(o.value for o in plan) / plan.equity)
        assert all(Adjustment.LEVERAGE_SCALED in d.adjustments for d in plan.decisions)


class TestMarginAccountLimit:
    """A margin account's book is scaled to what its initial margin lets it hold.

    Found by the preview-parity property while adding the margin flag: targets summing to
    2.5 on a Reg T account (50% initial margin) had the last buy rejected for buying power.
    """

    PRICES: ClassVar[dict[str, float]] = {f"A{i}": 5.0 for i in range(5)}

    def market(self, **broker):
        """A margin account with 100,000 in cash and five assets at 5.00."""
        return Market(self.PRICES, allow_short_selling=True, allow_leverage=True, **broker)

    @pytest.mark.parametrize("rate", [0.0, 0.0005, 0.003])
    def test_book_above_the_limit_all_fills(self, rate):
        """Five 50% targets are scaled to the buying power; no buy is rejected."""
        market = self.market(commission_model=PercentageCommission(rate=rate))
        executor = TargetWeightExecutor(RebalanceConfig(allow_short=True))

        orders = executor.execute(dict.fromkeys(self.PRICES, 0.5), market.data, market.broker)
        market.fill()

        assert (5, []) == (len(orders), market.rejected())
        gross = sum(q * 5.0 for q in market.positions().values()) / market.equity()
        assert 1.99 < gross <= 2.0

    def test_explicit_cap_wins(self):
        """A max_gross_leverage set in the config is used as given."""
        market = self.market()
        executor = TargetWeightExecutor(RebalanceConfig(max_gross_leverage=1.5))

        plan = executor.plan(dict.fromkeys(self.PRICES, 0.5), market.data, market.broker)

        assert pytest.approx(150_000.0) == plan.traded_value

    def test_contract_margins_have_no_single_cap(self):
        """With a fixed margin schedule (futures) the book is not scaled."""
        market = self.market(fixed_margin_schedule={"A0": (1_000.0, 500.0)})
        targets = {"A0": 1.0, "A1": 1.0, "A2": 0.5}

        plan = TargetWeightExecutor().plan(targets, market.data, market.broker)

        # Without the schedule the same book is scaled to 2.0 (200,000).
        assert pytest.approx(250_000.0) == plan.traded_value

    def test_initial_margin_of_another_kind(self):
        """An initial margin that is not a rate in (0, 1] is named."""
        market = self.market()
        market.broker.account.policy.initial_margin = "half"

        with unsupported("initial_margin 'half'"):
            TargetWeightExecutor().plan({"A0": 0.5}, market.data, market.broker)

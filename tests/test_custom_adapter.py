"""Runs every ```python block of docs/custom-adapter.md, then the tests they define."""

import re
import types
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

PAGE = Path(__file__).parent.parent / "docs" / "custom-adapter.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def page():
    """The page's code, executed block by block in one module namespace."""
    module = types.ModuleType("custom_adapter_page")
    blocks = FENCE.findall(PAGE.read_text(encoding="utf-8"))
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), module.__dict__)  # noqa: S102 - our own docs
    module.blocks = blocks
    return module


class TestCustomAdapterPage:
    def test_the_page_shows_its_code(self, page):
        """The page has the broker, adapter, property and stateful blocks."""
        assert 4 == len(page.blocks)

    def test_the_adapter_submits_what_it_plans(self, page):
        """The adapter cancels first and then submits exactly the plan's orders."""
        broker = page.PaperBroker(1_000.0, {"A": 10.0, "B": 20.0}, {"B": 5})
        order_id = broker.submit("B", page.Side.BUY, 3)

        plan = page.rebalance(broker, {"A": 0.5})

        assert order_id in plan.cancels
        assert order_id not in broker.open_orders
        assert [(o.asset, o.side, o.quantity) for o in plan] == broker.submitted[1:]

    def test_the_property_test_passes(self, page):
        """The page's property test of the adapter passes."""
        page.test_the_adapter_submits_exactly_the_plan()

        assert page.test_the_adapter_submits_exactly_the_plan.is_hypothesis_test

    def test_the_state_machine_passes(self, page):
        """Rebalancing while orders fill in part or not at all never double-allocates."""
        run_state_machine_as_test(page.RebalanceWhileOrdersFill)

        assert issubclass(page.TestRebalanceWhileOrdersFill, object)

    def test_the_invariant_catches_a_double_allocating_adapter(self, page):
        """An adapter that ignores open orders is caught by the state machine."""

        def blind_snapshot(broker):
            return page.PortfolioSnapshot(broker.cash, broker.positions, broker.prices)

        original = page.snapshot_from
        page.rebalance.__globals__["snapshot_from"] = blind_snapshot
        try:
            with pytest.raises(AssertionError):
                run_state_machine_as_test(
                    page.RebalanceWhileOrdersFill,
                    settings=settings(report_multiple_bugs=False, database=None),
                )
        finally:
            page.rebalance.__globals__["snapshot_from"] = original
        assert original is page.snapshot_from

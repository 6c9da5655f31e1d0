"""The documented rounding helpers: one asset's DOWN and nearest holdings."""

import pytest

from rebalancing._plan import round_holding, round_nearest


class TestFractional:
    @pytest.mark.parametrize("rule", [round_holding, round_nearest])
    def test_no_increment_keeps_the_exact_quantity(self, rule):
        """An increment of None is a fractional holding: the desired quantity, unrounded."""
        assert 2.5 == rule(0.0, 2.5, None)
        assert -0.25 == rule(1.0, -0.25, None)

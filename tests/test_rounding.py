"""The documented rounding helpers: one asset's DOWN and nearest holdings."""

import pytest

from rebalancing._plan import round_holding, round_nearest


class TestFractional:
    @pytest.mark.parametrize("rule", [round_holding, round_nearest])
    def test_no_increment_keeps_the_exact_quantity(self, rule):
        """An increment of None is a fractional holding: the desired quantity, unrounded."""
        assert 2.5 == rule(0.0, 2.5, None)
        assert -0.25 == rule(1.0, -0.25, None)


class TestNearestOffTheGrid:
    @pytest.mark.parametrize(
        ("current", "desired", "nearest"),
        [
            (2.0, 0.116, 0.0),  # the review's book: closing (0.116 away) beats keeping 2
            (3.0, 1.0, 0.0),
            (3.0, 1.5, 0.0),  # a tie goes to the smaller holding: the close
            (3.0, 7.0, 3.0),  # keeping 3 (4 away) beats closing (7 away) and 13 (6 away)
            (3.0, 9.0, 13.0),
        ],
    )
    def test_a_close_is_a_holding_nearest_can_reach(self, current, desired, nearest):
        """From a holding off the lot grid (lots of 10), closing is exact: CLOSEST's nearest
        holding is 0 when that is nearer the target than any holding a whole lot away."""
        assert nearest == round_nearest(current, desired, 10.0)

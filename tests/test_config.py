import math

import attrs
import pytest

from rebalancing import InvalidConfigError, RebalanceConfig, Rounding, TradeDirection


class TestRebalanceConfig:
    def test_defaults_are_ml4t_defaults(self):
        """The v2 fields keep ml4t-backtest's defaults, so ported code keeps its meaning."""
        config = RebalanceConfig()

        assert (100.0, 0.01, None, False, 100, False, 1.0, None, True, True) == (
            config.min_trade_value,
            config.min_weight_change,
            config.allow_fractional,
            config.round_lots,
            config.lot_size,
            config.allow_short,
            config.max_single_weight,
            config.max_gross_leverage,
            config.cancel_before_rebalance,
            config.account_for_pending,
        )

    def test_new_fields_default_to_the_v2_behaviour(self):
        """Fields beyond v2 default to what the v2 config did."""
        config = RebalanceConfig()

        assert (True, 0.0, 0.0, 0.0, Rounding.DOWN, None, TradeDirection.BOTH) == (
            config.close_untargeted,
            config.cash_buffer,
            config.cost_rate,
            config.cost_per_order,
            config.rounding,
            config.relative_band,
            config.direction,
        )

    def test_keyword_values_are_stored_verbatim(self):
        """What the user passes is what they read back."""
        config = RebalanceConfig(lot_size=10, min_trade_value=0, max_gross_leverage=1.5)

        assert (10, 0, 1.5) == (config.lot_size, config.min_trade_value, config.max_gross_leverage)
        assert (int, int) == (type(config.lot_size), type(config.min_trade_value))

    def test_keyword_only(self):
        """Positional arguments are refused: the field order is not part of the API."""
        with pytest.raises(TypeError):
            RebalanceConfig(100.0)  # type: ignore[misc]

    def test_enum_fields_accept_their_string_values(self):
        """Config files can say "closest" and "buy_only"."""
        config = RebalanceConfig(rounding="closest", direction="buy_only")  # type: ignore[arg-type]

        assert (Rounding.CLOSEST, TradeDirection.BUY_ONLY) == (config.rounding, config.direction)

    def test_evolve_validates(self):
        """attrs.evolve builds a new validated config."""
        with pytest.raises(InvalidConfigError, match="lot_size"):
            attrs.evolve(RebalanceConfig(), lot_size=0)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("min_trade_value", -1.0),
            ("min_trade_value", math.nan),
            ("min_trade_value", "100"),
            ("min_weight_change", -0.01),
            ("min_weight_change", math.inf),
            ("allow_fractional", "yes"),
            ("round_lots", 1),
            ("lot_size", 0),
            ("lot_size", True),
            ("allow_short", None),
            ("max_single_weight", 0.0),
            ("max_gross_leverage", -1.0),
            ("max_gross_leverage", 0),
            ("cancel_before_rebalance", "no"),
            ("account_for_pending", 0),
            ("close_untargeted", None),
            ("cash_buffer", 1.0),
            ("cash_buffer", -0.1),
            ("cost_rate", 1.0),
            ("cost_per_order", -5.0),
            ("rounding", "nearest"),
            ("relative_band", -0.25),
            ("direction", "sideways"),
        ],
    )
    def test_bad_values_raise_naming_the_field(self, field, value):
        """Each bad field value is an InvalidConfigError (a ValueError) naming the field."""
        with pytest.raises(InvalidConfigError) as info:
            RebalanceConfig(**{field: value})

        assert str(info.value).startswith(f"RebalanceConfig.{field} must be ")
        assert str(info.value).endswith(repr(value))
        assert isinstance(info.value, ValueError)

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("lot_size", 0, "RebalanceConfig.lot_size must be in (0.0, inf), got 0"),
            ("cash_buffer", 1.0, "RebalanceConfig.cash_buffer must be in [0.0, 1.0), got 1.0"),
            ("cost_rate", -0.5, "RebalanceConfig.cost_rate must be in [0.0, 1.0), got -0.5"),
            (
                "min_trade_value",
                None,
                "RebalanceConfig.min_trade_value must be a number, got NoneType None",
            ),
            ("allow_fractional", "yes", "must be True, False or None, got 'yes'"),
            ("round_lots", 1, "RebalanceConfig.round_lots must be True or False, got 1"),
            ("close_untargeted", None, "must be True or False, got None"),
            (
                "rounding",
                "nearest",
                (
                    "RebalanceConfig.rounding must be one of 'down', 'closest', 'optimal', "
                    "got 'nearest'"
                ),
            ),
        ],
    )
    def test_errors_state_the_allowed_values(self, field, value, message):
        """The message says which values the field takes: the interval or the booleans."""
        with pytest.raises(InvalidConfigError) as info:
            RebalanceConfig(**{field: value})

        assert message in str(info.value)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("min_trade_value", 0.0),
            ("min_weight_change", 0),
            ("lot_size", 1e-9),
            ("max_single_weight", 5e-324),
            ("max_gross_leverage", 1e-9),
            ("cash_buffer", 0.0),
            ("cash_buffer", 0.9999),
            ("cost_rate", 0.0),
            ("cost_per_order", 0.0),
            ("relative_band", 0.0),
            ("relative_band", 1e6),
        ],
    )
    def test_values_at_the_edges_of_their_range_are_accepted(self, field, value):
        """A closed bound admits the bound itself; an open bound admits anything past it."""
        assert value == getattr(RebalanceConfig(**{field: value}), field)

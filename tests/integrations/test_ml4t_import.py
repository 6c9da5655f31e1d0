"""ml4t-backtest is an optional extra: the core never needs it, the adapter says how to get it."""

import subprocess
import sys

BLOCK_ML4T = "import sys; sys.modules['ml4t'] = None; sys.modules['ml4t.backtest'] = None\n"


def run_python(code):
    """Run ``code`` in a fresh interpreter; return its exit code and output."""
    done = subprocess.run(  # noqa: S603 - our own interpreter, our own code
        [sys.executable, "-c", BLOCK_ML4T + code], capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout + done.stderr


class TestOptionalExtra:
    """Importing without ml4t-backtest installed."""

    def test_core_imports_without_ml4t(self):
        """`import rebalancing` and a plan work when ml4t cannot be imported."""
        code = (
            "import rebalancing\n"
            "snap = rebalancing.PortfolioSnapshot(100.0, prices={'A': 10.0})\n"
            "print(len(rebalancing.compute_trades(snap, {'A': 1.0}, "
            "rebalancing.RebalanceConfig(min_trade_value=0))))\n"
            "print('ml4t' in sys.modules and sys.modules['ml4t'] is not None)\n"
        )

        assert (0, "1\nFalse\n") == run_python(code)

    def test_adapter_import_says_how_to_install(self):
        """`import rebalancing.ml4t` raises ImportError naming the extra to install."""
        code = (
            "try:\n"
            "    import rebalancing.ml4t\n"
            "except ImportError as error:\n"
            "    print(type(error).__name__, '|', error)\n"
        )

        status, output = run_python(code)

        assert 0 == status
        assert output.startswith("ImportError |")
        assert "pip install 'rebalancing[ml4t]'" in output

"""The ```python examples of docs/ml4t.md run, in order, in one namespace."""

import contextlib
import io
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "ml4t.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks():
    """The page's python code blocks, in page order."""
    return BLOCK.findall(PAGE.read_text(encoding="utf-8"))


class TestComingFromMl4tPage:
    """docs/ml4t.md: every example is runnable as shown."""

    def test_page_has_the_examples(self):
        """The import swap, the bare Broker example, the band and the Engine backtest."""
        assert 4 == len(blocks())

    def test_examples_run(self):
        """Executed top to bottom, every block runs and its own assertions hold."""
        namespace: dict[str, object] = {"__name__": "docs_ml4t"}
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            for number, code in enumerate(blocks(), start=1):
                # A failure's traceback names the block: "ml4t.md block <n>".
                exec(compile(code, f"{PAGE.name} block {number}", "exec"), namespace)  # noqa: S102

        printed = output.getvalue()
        assert "AAA open" in printed
        assert "EEE close_position -600" in printed
        assert "total return" in printed
        # The Engine example: the default headroom rejects nothing, none rejects some.
        rejected = re.search(r"^(\d+) rejected without the headroom$", printed, re.MULTILINE)
        assert rejected is not None
        assert int(rejected.group(1)) > 0

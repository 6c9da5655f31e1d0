"""The README's Python example runs as written."""

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).parent.parent / "README.md"


class TestReadme:
    def test_python_example_runs_and_prints_a_plan(self):
        """The example executes and prints orders, decisions and the summary figures."""
        blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(blocks[0], str(README), "exec"), {})  # noqa: S102 - our own README

        lines = out.getvalue().splitlines()
        assert ["sell 1 AAPL", "sell 5 MSFT", "buy 14 VTI"] == lines[:3]
        assert "MSFT None" in lines

"""The README's Python example runs as written."""

import ast
import contextlib
import io
import pathlib
import re
import tomllib

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


class TestReadmeCommands:
    def test_ci_runs_the_readme_test_command(self):
        """`.ci/run` runs the command README gives for the test suite."""
        readme = README.read_text(encoding="utf-8")
        ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")

        assert "python3 -m pip install nox && python3 -m nox\n" in readme
        assert "\npython3 -m nox\n" in ci

    def test_long_sessions_are_named_not_default(self):
        """The default nox run leaves out fuzz and mutation; README names both to run by hand."""
        noxfile = ast.parse((README.parent / "noxfile.py").read_text(encoding="utf-8"))
        defaults = next(
            ast.literal_eval(node.value)
            for node in ast.walk(noxfile)
            if isinstance(node, ast.Assign)
            and ast.unparse(node.targets[0]) == "nox.options.sessions"
        )
        readme = README.read_text(encoding="utf-8")

        assert {"fuzz", "mutation"}.isdisjoint(defaults)
        assert "`python3 -m nox -s fuzz`" in readme
        assert "`python3 -m nox -s mutation`" in readme

    def test_install_commands_work_from_a_clone(self):
        """README installs extras from the clone (`'.[ml4t]'`): the package is on no index."""
        readme = README.read_text(encoding="utf-8")

        assert "'rebalancing[" not in readme
        assert "python3 -m pip install '.[ml4t]'" in readme

    def test_test_dependencies(self):
        """pandas is a test dependency (the Series test runs); benchmarks declare packaging."""
        pyproject = tomllib.loads((README.parent / "pyproject.toml").read_text(encoding="utf-8"))
        requirements = (README.parent / "benchmarks" / "requirements.txt").read_text(
            encoding="utf-8"
        )

        assert any(d.startswith("pandas") for d in pyproject["dependency-groups"]["tests"])
        assert re.search(r"^packaging\b", requirements, flags=re.MULTILINE)

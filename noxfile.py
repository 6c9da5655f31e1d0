"""Sessions for developers and CI: `nox` with no arguments runs what CI runs.

The default run takes a few minutes. The long sessions are run by name: `nox -s fuzz`
(20,000 hostile inputs) and `nox -s mutation` (mutation testing of the core).
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = not os.environ.get("CI")
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests", "pandas2", "typing", "lint", "ml4t", "optimal", "dask", "docs"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit and property tests of the core with branch coverage (>= 95%).

    With CI set, Hypothesis is seeded from the commit (tests/conftest.py prints the seed).
    """
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    session.run("coverage", "erase")
    session.run(
        "coverage", "run", "-m", "pytest", "--ignore=tests/integrations", "--ignore=tests/cluster",
        *session.posargs,
    )  # fmt: skip
    session.run("coverage", "report", "--fail-under=95")


@nox.session(python=PYTHON)
def pandas2(session: nox.Session) -> None:
    """plan_table's tables on pandas 2, the oldest the extras allow (its text dtypes differ)."""
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    session.install("pandas>=2.0,<3")
    session.run("pytest", "tests/test_batch.py", "tests/test_sums.py", *session.posargs)


@nox.session(python=PYTHON)
def typing(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "typing"))
    session.run("mypy")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff checks and formatting."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the docs with warnings as errors, then run every example they show."""
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "docs"))
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")
    # The ```pycon examples of every page (one doctest per page, blocks share a namespace).
    session.run("pytest", "--doctest-glob=*.md", "--ignore=docs/_build", "docs")
    # The docstring examples that the API reference shows (the ml4t session runs ml4t's;
    # the adapter's modules, ml4t.py and _ml4t_*.py, need ml4t-backtest to import).
    session.run(
        "pytest", "--doctest-modules", "--ignore-glob=src/rebalancing/*ml4t*.py", "src/rebalancing"
    )
    # The ```console examples, run as commands from docs/files.
    session.run("pytest", "tests/test_cli.py", "-k", "TestDocs")


def _with_extra(session: nox.Session, extra: str, rcfile: str, tests: str) -> str:
    """Install an extra with the tests group and run its tests with coverage.

    pyproject's coverage config omits the module the extra serves (the core session runs
    without it), so each such session measures it with its own rcfile.
    """
    session.install("-e", f".[{extra}]", *nox.project.dependency_groups(PYPROJECT, "tests"))
    rc = f"--rcfile={rcfile}"
    session.run("coverage", "erase", rc)
    session.run("coverage", "run", rc, "-m", "pytest", tests, *session.posargs)
    return rc


@nox.session(python=PYTHON)
def ml4t(session: nox.Session) -> None:
    """The ml4t-backtest adapter against the real package, with coverage of rebalancing.ml4t."""
    rc = _with_extra(session, "ml4t", "tests/integrations/coverage.ini", "tests/integrations")
    session.run(
        "coverage", "run", "--append", rc, "-m", "pytest", "--doctest-modules",
        "src/rebalancing/ml4t.py",
    )  # fmt: skip
    session.run("coverage", "report", rc, "--fail-under=95")


@nox.session(python=PYTHON)
def dask(session: nox.Session) -> None:
    """rebalancing.dask on a real distributed.LocalCluster (2 worker processes), with coverage."""
    rc = _with_extra(session, "dask", "tests/cluster/coverage.ini", "tests/cluster")
    session.run("coverage", "report", rc, "--fail-under=95")


@nox.session(python=PYTHON)
def optimal(session: nox.Session) -> None:
    """Rounding.OPTIMAL against scipy's HiGHS (the `optimal` extra), with its coverage."""
    rc = _with_extra(session, "optimal", "tests/optimal-coverage.ini", "tests/test_optimal.py")
    session.run("coverage", "report", rc, "--fail-under=95")


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """Hostile input at every entry point: 20,000 examples (not in the default run).

    The tests session runs the same properties with Hypothesis's usual 100 examples.
    REBALANCING_FUZZ_EXAMPLES sets another count.
    """
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    examples = os.environ.get("REBALANCING_FUZZ_EXAMPLES", "20000")
    session.run(
        "pytest",
        "tests/test_hostile.py",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={"REBALANCING_FUZZ_EXAMPLES": examples},
    )


@nox.session(python=PYTHON)
def mutation(session: nox.Session) -> None:
    """Mutation testing of the core modules with mutmut; prints the score (aim: >= 90%).

    The whole core is about 11,600 mutants: an hour and a half or more on two cores.
    Arguments pass to ``mutmut run``, e.g. ``nox -s mutation -- "rebalancing._sums*"``
    for one module.
    """
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "mutation"))
    # mutmut reads [tool.mutmut] in pyproject.toml and works in ./mutants (git-ignored).
    session.run("mutmut", "run", *session.posargs)
    session.run("mutmut", "export-cicd-stats")
    session.run(
        "python",
        "-c",
        "import json; s = json.load(open('mutants/mutmut-cicd-stats.json')); "
        "done = s['killed'] + s['survived'] + s['timeout'] + s['suspicious']; "
        "print(f\"mutation score: {s['killed'] + s['timeout']}/{done} killed = "
        "{100 * (s['killed'] + s['timeout']) / max(done, 1):.1f}% ({s})\")",
    )

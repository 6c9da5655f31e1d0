"""Hypothesis profiles and the CI seed for the test suite.

- ``local``: used locally: Hypothesis's defaults (100 examples, a fresh random seed each
  run) without the 200 ms deadline per example.
- ``ci-explore``: loaded whenever ``CI`` is set. Hypothesis's built-in ``ci`` profile (no
  deadline, no example database, failure blobs printed) but not derandomized: the seed
  comes from the commit under test (see :func:`commit_seed`), so every commit draws new
  examples and a property that fails only on unlucky draws is eventually found, while a
  run stays reproducible for its commit. The seed and how to replay it are printed at the
  top of the run.
- ``dev``: quick local iterations: ``pytest --hypothesis-profile=dev``.
- ``mutation``: 10 derandomized examples, so every mutant sees the same inputs; a
  surviving mutant runs every test that reaches its function, so the examples set the
  run's length (``nox -s mutation`` selects it; see its docstring for the time). No
  shrinking: a mutant is killed by the first failing example, and shrinking it (about 7 s
  a mutant) would tell mutmut nothing more. Under it, tests that ask for more examples
  with their own ``@settings`` get the profile's 10 too, and a mutant's tests run
  fastest first (by mutmut's recorded durations), so most mutants die in the first
  second (:func:`pytest_collection_modifyitems`). The exception: properties marked
  ``oracle`` (they compare with a brute force, the reference planner, the per-item code
  beside the arrays or exact sums, which any wrong answer fails) draw
  :data:`ORACLE_EXAMPLES`: ten draws miss the rare books where a search or repair mutant
  goes wrong.
"""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile("dev", max_examples=20, deadline=None)
# mutmut calls the same test methods from several runner instances; that is not flakiness.
settings.register_profile(
    "mutation",
    max_examples=10,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.differing_executors],
)
settings.register_profile("ci-explore", parent=settings.get_profile("ci"), derandomize=False)
# Speed is measured in benchmarks/, not asserted in tests: no per-example deadline (an
# OPTIMAL solve on a busy machine takes longer than Hypothesis's 200 ms).
settings.register_profile("local", deadline=None)
settings.load_profile("ci-explore" if os.environ.get("CI") else "local")

#: Examples an ``oracle`` property keeps under the ``mutation`` profile.
ORACLE_EXAMPLES = 200

_SEED_ORIGIN = pytest.StashKey[str]()


def commit_seed(root=ROOT):
    """(seed, where it came from): from the git commit, else from the source files.

    The same commit (or, without git, the same ``src`` and ``tests`` files) always gives
    the same seed; any change gives another.
    """
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        digest = hashlib.sha256()
        for path in sorted((root / "src").rglob("*.py")) + sorted((root / "tests").rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
        return int(digest.hexdigest()[:8], 16), "the source files (no git commit found)"
    commit = done.stdout.strip()
    return int(commit[:8], 16), f"commit {commit[:12]}"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Under CI, seed Hypothesis from the commit unless ``--hypothesis-seed`` is given.

    Runs before Hypothesis's own plugin reads the option.
    """
    if not os.environ.get("CI"):
        return
    if config.getoption("hypothesis_seed", None) is None:
        seed, origin = commit_seed()
        config.option.hypothesis_seed = str(seed)
    else:
        origin = "--hypothesis-seed"
    config.stash[_SEED_ORIGIN] = origin


def pytest_report_header(config):
    """The CI seed, where it came from and how to replay the run locally."""
    origin = config.stash.get(_SEED_ORIGIN, None)
    if origin is None:
        return None
    seed = config.getoption("hypothesis_seed")
    return (
        f"hypothesis seed {seed} (from {origin}); replay: "
        f"CI=true python3 -m pytest --hypothesis-seed={seed} "
        f"(or CI=true python3 -m nox -s tests -- --hypothesis-seed={seed})"
    )


def pytest_collection_modifyitems(config, items):
    """Under the ``mutation`` profile: at most its examples per test, fastest tests first.

    ``oracle`` properties draw :data:`ORACLE_EXAMPLES` examples.
    """
    if settings.get_current_profile_name() != "mutation":
        return
    for item in items:
        test = getattr(item, "function", None)
        chosen = getattr(test, "_hypothesis_internal_use_settings", None)
        if chosen is None:
            continue
        if item.get_closest_marker("oracle") is not None:
            test._hypothesis_internal_use_settings = settings(chosen, max_examples=ORACLE_EXAMPLES)
        elif chosen.max_examples > settings.default.max_examples:
            test._hypothesis_internal_use_settings = settings(
                chosen, max_examples=settings.default.max_examples
            )
    # mutmut runs each mutant's tests from its mutants/ directory, beside its stats.
    stats = Path("mutmut-stats.json")
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", "") or not stats.is_file():
        return
    durations = json.loads(stats.read_text())["duration_by_test"]
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))

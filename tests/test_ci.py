"""The CI run explores: Hypothesis is seeded from the commit, printed, and replayable."""

import os
import subprocess
import sys

from conftest import ROOT, commit_seed


def git_head():
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, as a developer runs it
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


class TestCommitSeed:
    def test_seed_comes_from_the_commit(self):
        """In a git checkout the seed is the commit's first 32 bits, and says so."""
        head = git_head()
        seed, origin = commit_seed()

        if head is None:  # pragma: no cover - the suite runs from a clone
            assert origin.startswith("the source files")
        else:
            assert (int(head[:8], 16), f"commit {head[:12]}") == (seed, origin)

    def test_same_files_same_seed_without_git(self, tmp_path):
        """Without git the seed hashes src and tests: equal files, equal seeds; edits change it."""
        for name in ("src/a.py", "tests/test_a.py"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
        first, origin = commit_seed(tmp_path)
        again, _ = commit_seed(tmp_path)
        (tmp_path / "src/a.py").write_text("x = 2\n", encoding="utf-8")
        edited, _ = commit_seed(tmp_path)

        assert "the source files (no git commit found)" == origin
        assert first == again
        assert first != edited

    def test_ci_run_prints_the_seed_and_how_to_replay(self):
        """With CI set, the pytest header names the seed, its origin and the replay command."""
        env = {**os.environ, "CI": "true"}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider",
             "tests/test_readme.py"],
            cwd=ROOT, capture_output=True, text=True, check=False, env=env, timeout=120,
        )  # fmt: skip
        seed, origin = commit_seed()

        assert 0 == done.returncode, done.stdout + done.stderr
        assert (
            f"hypothesis seed {seed} (from {origin}); replay: "
            f"CI=true python3 -m pytest --hypothesis-seed={seed}"
        ) in done.stdout

    def test_a_given_seed_wins(self):
        """`--hypothesis-seed` given by hand is used and reported as such."""
        env = {**os.environ, "CI": "true"}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider",
             "--hypothesis-seed=42", "tests/test_readme.py"],
            cwd=ROOT, capture_output=True, text=True, check=False, env=env, timeout=120,
        )  # fmt: skip

        assert "hypothesis seed 42 (from --hypothesis-seed)" in done.stdout

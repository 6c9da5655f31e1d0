"""Rewrite the output of every ```console example in the docs from a real run.

Run it from anywhere after a change that alters what the command line prints, then review
the diff: ``python docs/update_console_examples.py``. Each ``$ rebalancing ...`` line
keeps its command; the lines after it become what the command prints (standard output,
or standard error when it fails), run from ``docs/files``. ``tests/test_cli.py`` checks
that the pages match.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
PAGES = (
    "quickstart.md",
    "cli.md",
    "recipes/personal-account.md",
    "recipes/bands.md",
    "recipes/buy-only.md",
    "recipes/sleeve.md",
)
BLOCK = re.compile(r"```console\n(.*?)```", flags=re.DOTALL)


def run(command: str) -> str:
    """What ``command`` prints, with trailing white space removed from each line."""
    program, *args = shlex.split(command)
    if program != "rebalancing":
        msg = f"console examples run the rebalancing command only, got {command!r}"
        raise SystemExit(msg)
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "rebalancing", *args],
        cwd=DOCS / "files",
        capture_output=True,
        text=True,
        check=False,
    )
    shown = done.stdout if done.returncode == 0 else done.stderr
    return "\n".join(line.rstrip() for line in shown.splitlines())


def refill(match: re.Match[str]) -> str:
    """The console block with fresh output after each command."""
    commands = [line[2:] for line in match.group(1).splitlines() if line.startswith("$ ")]
    body = "".join(f"$ {command}\n{run(command)}\n" for command in commands)
    return f"```console\n{body}```"


def main() -> None:
    """Refill every page's console blocks in place."""
    for page in PAGES:
        path = DOCS / page
        path.write_text(BLOCK.sub(refill, path.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()

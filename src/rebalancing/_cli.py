"""The ``rebalancing`` command line: holdings and targets from files in, the plan out.

This is an imperative shell around :func:`compute_trades`: it reads files, builds a
:class:`PortfolioSnapshot` and a :class:`RebalanceConfig`, plans, and prints the plan as
a table, CSV or JSON. It never trades.

File formats (CSV or JSON, chosen by the extension, else by the first character):

- holdings: ``asset,quantity,price``; a row whose asset is ``CASH`` (any case) holds the
  cash balance in its ``quantity`` column. JSON: a list of such rows, or an object
  ``{"cash": ..., "positions": {asset: quantity}, "prices": {asset: price}}``.
- targets: ``asset,weight`` plus an optional ``price`` column for assets not held.
  Weights are fractions of equity (``0.25``) or percentages (``25%``). JSON: an object
  ``{asset: weight}`` or a list of rows.
- prices (optional): ``asset,price``; overrides every other price. JSON: ``{asset: price}``
  or a list of rows.
- config (optional): TOML or JSON with the field names of :class:`RebalanceConfig`.

Blank lines and lines starting with ``#`` are ignored in CSV files. Any bad input ends
with exit status 2 and one line on standard error naming the file, the line and the field.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import importlib.resources
import io
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import attrs

from ._config import RebalanceConfig
from ._plan import compute_trades
from ._result import RebalancePlan
from ._snapshot import PortfolioSnapshot
from ._version import __version__
from .exceptions import RebalancingError

__all__ = ["main"]

from ._cli_files import (
    _PENDING_FIELDS,
    EXIT_BAD_INPUT,
    InputError,
    _config_fields,
    _fail,
    _read_config,
)
from ._cli_input import (
    _Book,
    _check_case,
    _check_shorts,
    _check_weights,
    _merge_prices,
    _read_holdings,
    _read_prices,
    _read_targets,
)
from ._cli_render import _RENDERERS

#: Help for each config flag, in the command line's terms: units, what the value means.
#: (argparse expands ``%`` in help, hence ``%%``.) The default is appended.
_FLAG_HELP = {
    "min_trade_value": "skip a trade worth less than X, in the account's currency; closes "
    "are exempt",
    "min_weight_change": "skip a trade that moves the asset's weight by less than X, a "
    "fraction of equity (0.01 is 1 point); closes are exempt",
    "allow_fractional": "trade fractional units (default: whole units)",
    "round_lots": "trade in multiples of --lot-size units",
    "lot_size": "units per lot, with --round-lots",
    "allow_short": "allow negative weights (short positions; needs --margin); without it a "
    "negative weight is refused",
    "max_single_weight": "cap on each asset's weight, a fraction of equity; a weight above "
    "the cap is planned at the cap (above 1 needs --margin)",
    "max_gross_leverage": "cap on the sum of the weights' sizes (1.5 is 150%% of equity); "
    "the targets are scaled down to it; none: no cap",
    "close_untargeted": "sell holdings that have no target; --no-close-untargeted leaves "
    "them alone (rebalance one sleeve)",
    "cash_buffer": "fraction of equity kept as cash (0.02 keeps 2%%); the targets scale by 1 - X",
    "cost_rate": "estimated cost per unit of traded value, commission and slippage "
    "(0.001 is 10 bp, 0.1%%); counted so buys stay funded",
    "cost_per_order": "estimated fixed cost per order, in the account's currency",
    "rounding": "down: each holding at or under its target; closest: the whole units "
    "closest to target that the cash allows",
    "relative_band": "a trade is also due when its weight change reaches X times the "
    "target weight (the 5/25 rule is --min-weight-change 0.05 --relative-band 0.25); "
    "none: off",
    "direction": "both; buy-only invests cash without selling; sell-only raises cash "
    "without buying",
}


def _shown_default(field: attrs.Attribute[Any]) -> str:
    """A field's default as the command line spells it."""
    default = field.default
    if default is None:
        return "none"
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, enum.Enum):
        return str(default.value).replace("_", "-")
    if isinstance(default, int | float):
        return f"{default:g}"
    return str(default)  # pragma: no cover - every field is a number, flag or enum


def _checked_flag(name: str, value: Any) -> Any:
    """``value`` of the config option ``name`` given as a flag, refused naming the flag.

    argparse has parsed it (a number, a choice); the config's own rule (a range) is
    checked here, so that the message says ``--cash-buffer``, the flag that was typed,
    not ``RebalanceConfig.cash_buffer``.
    """
    try:
        RebalanceConfig(**{name: value})
    except RebalancingError as exc:
        flag = "--" + name.replace("_", "-")
        _fail(f"argument {flag}: {str(exc).replace(f'RebalanceConfig.{name} ', '')}")
    return value


def _flag_help(name: str, field: attrs.Attribute[Any], fallback: Mapping[str, str]) -> str:
    """The flag's help text with its default; from the docstring for a field not listed."""
    text = _FLAG_HELP.get(name) or fallback.get(name, "")
    if "(default:" in text:
        return text
    return f"{text} (default: {_shown_default(field)})"


def _field_help() -> dict[str, str]:
    """One-line help per field, from the Args section of RebalanceConfig's docstring."""
    helps: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for raw in (RebalanceConfig.__doc__ or "").splitlines():
        line = raw.strip()
        if line == "Args:":
            in_args = True
            continue
        if not in_args:
            continue
        if line.endswith(":") and " " not in line:
            break
        match = re.match(r"(\w+): (.*)", line)
        if match and match.group(1) in attrs.fields_dict(RebalanceConfig):
            current = match.group(1)
            helps[current] = match.group(2)
        elif current and line:
            helps[current] += " " + line
    return {
        name: re.sub(r":\w+:`~?([^`]+)`", r"\1", text).replace("``", "").replace("%", "%%")
        for name, text in helps.items()
    }


class _ConfigFlag:
    """argparse ``type`` for one config field: parses and names the field in errors."""

    def __init__(self, field: attrs.Attribute[Any]) -> None:
        self.field = field
        self.__name__ = field.name  # argparse names the type in its messages

    def __call__(self, text: str) -> Any:
        kind: object = self.field.type
        word = text.strip().lower()
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            try:
                return kind(word.replace("-", "_"))
            except ValueError:
                allowed = ", ".join(member.value.replace("_", "-") for member in kind)
                msg = f"expected one of {allowed}, got {text!r}"
                raise argparse.ArgumentTypeError(msg) from None
        if word == "none" and self.field.default is None:
            return None
        try:
            number = float(word)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            hint = " or none" if self.field.default is None else ""
            msg = f"expected a number{hint}, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return number


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "config options",
        "each overrides the same setting of the --config file (min_trade_value there is "
        "--min-trade-value here)",
    )
    helps = _field_help()
    for name, field in _config_fields().items():
        flag = "--" + name.replace("_", "-")
        kind: object = field.type
        text = _flag_help(name, field, helps)
        if name in _PENDING_FIELDS:
            text = argparse.SUPPRESS  # the command line has no pending orders
        if kind in (bool, bool | None):
            group.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=text,
            )
        else:
            if isinstance(kind, type) and issubclass(kind, enum.Enum):
                metavar = "|".join(member.value.replace("_", "-") for member in kind)
            else:
                metavar = "X|none" if field.default is None else "X"
            group.add_argument(
                flag,
                dest=name,
                type=_ConfigFlag(field),
                default=argparse.SUPPRESS,
                metavar=metavar,
                help=text,
            )


# -- output ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit with status 2."""

    def error(self, message: str) -> NoReturn:
        program = self.prog.split()[0]
        self.exit(EXIT_BAD_INPUT, f"{program}: error: {message} (see {self.prog} --help)\n")


def _cash_flag(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        msg = f"expected a number, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return number


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rebalancing`` command."""
    parser = _Parser(
        prog="rebalancing",
        description="Turn target weights into the trades that get a portfolio there.",
    )
    parser.add_argument("--version", action="version", version=f"rebalancing {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    plan = commands.add_parser(
        "plan",
        help="print the orders that take holdings to target weights",
        description=(
            "Print the orders that take the holdings to the target weights, and why each "
            "other asset does not trade. Nothing is sent anywhere."
        ),
        epilog=(
            "Holdings CSV: asset,quantity,price (a row with asset CASH holds the cash; "
            "brokers' Symbol, Shares, Qty, Last, Close columns work too). "
            "Targets CSV: asset,weight[,price] with weights like 0.25 or 25%. "
            "Prices CSV: asset,price. JSON works too. "
            "Exit status 2 means bad input."
        ),
    )
    files = plan.add_argument_group("input")
    files.add_argument("--holdings", type=Path, metavar="FILE", help="holdings CSV or JSON")
    files.add_argument("--targets", type=Path, metavar="FILE", help="target weights CSV or JSON")
    files.add_argument(
        "--prices",
        type=Path,
        metavar="FILE",
        help="prices CSV (asset,price) or JSON; they win over the holdings' and targets' prices",
    )
    files.add_argument(
        "--cash",
        type=_cash_flag,
        metavar="X",
        help="cash balance; replaces a CASH row in the holdings (default: that row, else 0)",
    )
    files.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="settings as TOML or JSON, named like the config options below with _ "
        "(min_trade_value = 50); the options override it",
    )
    files.add_argument(
        "--example",
        action="store_true",
        help=(
            "plan the bundled example account (its holdings, targets and config); "
            "not with --holdings or --targets"
        ),
    )
    files.add_argument(
        "--margin",
        action="store_true",
        help=(
            "the account may borrow: weights may sum to more than 1 (up to "
            "--max-gross-leverage), one weight may reach --max-single-weight, and with "
            "--allow-short weights may be negative. Without it (a cash account) the plan "
            "never borrows: cash stays at or above 0 (or --cash-buffer), weights summing "
            "to more than 1 are scaled down to 1, and shorts are refused"
        ),
    )
    plan.add_argument(
        "--format",
        choices=tuple(_RENDERERS),
        default="table",
        help="table to read, csv or json for programs (default: table)",
    )
    _add_config_flags(plan)
    return parser


@contextlib.contextmanager
def _example_file(name: str) -> Iterator[Path]:
    resource = importlib.resources.files("rebalancing") / "examples" / name
    with importlib.resources.as_file(resource) as path:
        yield path


def run(args: argparse.Namespace, out: TextIO) -> None:
    """Run ``plan`` for parsed arguments, writing the plan to ``out``.

    Raises:
        InputError: for any bad file or value, with the one-line message to show.
    """
    fields = _config_fields()
    if args.example:
        given = [flag for flag in ("holdings", "targets") if getattr(args, flag) is not None]
        if given:
            flags = " and ".join(f"--{flag}" for flag in given)
            _fail(
                f"--example plans the bundled example account and cannot be combined with "
                f"{flags}; drop --example to plan your own files"
            )
    with contextlib.ExitStack() as stack:

        def pick(given: Path | None, example: str) -> tuple[Path | None, str | None]:
            if given is not None or not args.example:
                return given, None
            return stack.enter_context(_example_file(example)), f"example {example}"

        holdings, holdings_name = pick(args.holdings, "holdings.csv")
        targets, targets_name = pick(args.targets, "targets.csv")
        config_path, config_name = pick(args.config, "config.toml")
        if holdings is None or targets is None:
            missing = " and ".join(
                flag
                for flag, value in (("--holdings", holdings), ("--targets", targets))
                if value is None
            )
            _fail(f"plan needs {missing} (or --example)")
        book = _Book()
        _read_holdings(holdings, book, holdings_name)
        _read_targets(targets, book, targets_name)
        overrides = _read_prices(args.prices, book) if args.prices is not None else {}
        values = _read_config(config_path, config_name) if config_path is not None else {}
    for name in fields:
        if name in vars(args):
            values[name] = _checked_flag(name, getattr(args, name))
    if args.cash is not None:
        book.cash = args.cash
    _check_case(book)
    prices = _merge_prices(book, overrides)
    try:
        config = RebalanceConfig(**values)
    except RebalancingError as exc:
        _fail(str(exc))
    _check_weights(book, config, margin=args.margin)
    _check_shorts(book, margin=args.margin)
    if book.accounts and args.cash is not None:
        _fail(
            "--cash sets the cash of one account, but the holdings name several; give each "
            "account a CASH row instead"
        )
    accounts: dict[str | None, tuple[float | None, dict[str, float]]] = (
        {label: (account.cash, account.positions) for label, account in book.accounts.items()}
        if book.accounts
        else {None: (book.cash, book.positions)}
    )
    plans: list[tuple[str | None, RebalancePlan]] = []
    for label, (cash, positions) in accounts.items():
        try:
            snapshot = PortfolioSnapshot(cash or 0.0, positions, prices, margin=args.margin)
            plans.append((label, compute_trades(snapshot, book.targets, config)))
        except RebalancingError as exc:
            _fail(f"account {label!r}: {exc}" if label is not None else str(exc))
    _RENDERERS[args.format](plans, config, out)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rebalancing`` command; returns the exit status.

    Args:
        argv: The arguments after the program name; ``None`` reads ``sys.argv``.

    Returns:
        0 on success, 2 for bad input (the message is one line on standard error), 1 when
        standard output was closed early (``rebalancing plan ... | head``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    buffer = io.StringIO()
    try:
        run(args, buffer)
    except InputError as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return EXIT_BAD_INPUT
    try:
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away; point stdout at devnull so the interpreter's own flush
        # at exit does not fail again with a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0

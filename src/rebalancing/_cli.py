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
import csv
import difflib
import enum
import importlib.resources
import io
import json
import math
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import attrs

from ._config import RebalanceConfig, Rounding
from ._plan import NOISE, compute_trades, round_holding, round_nearest
from ._result import Adjustment, Decision, RebalancePlan, SkipReason
from ._snapshot import PortfolioSnapshot
from ._version import __version__
from .exceptions import RebalancingError

__all__ = ["main"]

#: Exit status for bad input: usage errors, unreadable or invalid files and values.
EXIT_BAD_INPUT = 2
#: Asset name (any case) of the holdings row that carries the cash balance.
CASH_ROW = "cash"

_HOLDINGS_COLUMNS = ("asset", "quantity", "price")
_TARGETS_COLUMNS = ("asset", "weight", "price")
_PRICES_COLUMNS = ("asset", "price")
#: Other names for the columns, as brokers' exports spell them (matched in any case).
_ALIASES = {
    "asset": ("symbol", "ticker"),
    "quantity": ("shares", "qty"),
    "price": ("last", "close"),
}
#: Config fields about pending orders: accepted, but the command line has none.
_PENDING_FIELDS = ("account_for_pending", "cancel_before_rebalance")


class InputError(Exception):
    """Bad input found by the command line; the message is the one line the user sees."""


def _fail(msg: str) -> NoReturn:
    raise InputError(msg)


# -- reading files --------------------------------------------------------------------------


@attrs.frozen
class _Source:
    """A file to read: its text and the name used in messages."""

    name: str
    text: str

    def where(self, line: int | None = None, field: str | None = None) -> str:
        """``name, line N, field`` for a message."""
        parts = [self.name]
        if line is not None:
            parts.append(f"line {line}")
        if field is not None:
            parts.append(field)
        return ", ".join(parts)

    def line_of(self, pattern: str, after: str | None = None) -> int | None:
        """The line of the first match of ``pattern`` (after the first match of ``after``)."""
        start = 0
        if after is not None:
            anchor = re.search(after, self.text, flags=re.MULTILINE)
            start = anchor.end() if anchor else 0
        match = re.compile(pattern, flags=re.MULTILINE).search(self.text, start)
        return self.text.count("\n", 0, match.start()) + 1 if match else None


def _read(path: Path, name: str | None = None) -> _Source:
    label = name or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        _fail(f"{label}: no such file")
    except IsADirectoryError:
        _fail(f"{label}: is a directory, expected a file")
    except OSError as exc:  # pragma: no cover - permissions and devices vary by platform
        _fail(f"{label}: cannot read the file: {exc.strerror or exc}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        _fail(f"{label}, line {line}: not UTF-8 text (byte {data[exc.start]:#04x})")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        _fail(f"{label}, line {line}: contains a NUL byte; expected a text file")
    return _Source(label, text)


def _is_json(path: Path, source: _Source) -> bool:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return False
    if suffix == ".json":
        return True
    return source.text.lstrip()[:1] in ("{", "[")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            _fail(f"the key {key!r} appears more than once")
        result[key] = value
    return result


def _load_json(source: _Source) -> Any:
    if not source.text.strip():
        _fail(f"{source.where()}: the file is empty")
    try:
        return json.loads(
            source.text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=lambda name: _fail(f"{name} is not a number JSON allows"),
        )
    except json.JSONDecodeError as exc:
        _fail(f"{source.where(exc.lineno)}: invalid JSON: {exc.msg} (column {exc.colno})")
    except InputError as exc:
        _fail(f"{source.where()}: invalid JSON: {exc}")
    except ValueError as exc:  # e.g. an integer with too many digits
        _fail(f"{source.where()}: invalid JSON: {_show(str(exc))}")
    except RecursionError:
        _fail(f"{source.where()}: invalid JSON: nested too deeply")


@attrs.frozen
class _Row:
    """One data row of a table file: its place in the file and its cells by column."""

    where: Callable[[str | None], str]
    cells: Mapping[str, Any]


def _delimiter(header: str) -> str:
    if "," not in header:
        for candidate in (";", "\t"):
            if candidate in header:
                return candidate
    return ","


def _csv_rows(source: _Source, columns: Sequence[str], required: Sequence[str]) -> list[_Row]:
    """Rows of a CSV file with a header; unknown columns are ignored, required ones checked."""
    lines = [line for line in source.text.splitlines() if line.strip()]
    first = next((line for line in lines if not line.lstrip().startswith("#")), None)
    if first is None:
        _fail(f"{source.where()}: the file is empty; expected a header row {','.join(columns)}")
    reader = csv.reader(io.StringIO(source.text), delimiter=_delimiter(first), strict=True)
    header: list[str] | None = None
    header_line = 0
    rows: list[_Row] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header, header_line = _header(source, line, cells, columns, required), line
                continue
            if len(cells) > len(header):
                _fail(
                    f"{source.where(line)}: {len(cells)} fields, but the header "
                    f"(line {header_line}) has {len(header)}"
                )
            values = {name: cell.strip() for name, cell in zip(header, cells, strict=False)}
            rows.append(_Row(_line_locator(source, line), values))
    except csv.Error as exc:
        _fail(f"{source.where(reader.line_num)}: not valid CSV: {exc}")
    if not rows:
        _fail(f"{source.where()}: no data rows after the header (line {header_line})")
    return rows


def _line_locator(source: _Source, line: int) -> Callable[[str | None], str]:
    return lambda field: source.where(line, field)


def _canonical(names: list[str], columns: Sequence[str], where: str) -> list[str]:
    """Lower-case column names with brokers' aliases (``Symbol``, ``Qty``) renamed.

    An alias stands in for a column only when the column itself is absent; two aliases
    of one absent column are ambiguous.
    """
    renamed = list(names)
    for column in columns:
        if column in names:
            continue
        present = [name for name in names if name in _ALIASES.get(column, ())]
        if len(present) > 1:
            _fail(
                f"{where}: both {present[0]!r} and {present[1]!r} could be the {column} "
                f"column; name one of them {column!r}"
            )
        if present:
            renamed[names.index(present[0])] = column
    return renamed


def _alias_hint(columns: Sequence[str]) -> str:
    """``; quantity may also be named shares or qty`` for the columns that have aliases."""
    return "".join(
        f"; {column} may also be named {' or '.join(_ALIASES[column])}"
        for column in columns
        if column in _ALIASES
    )


def _header(
    source: _Source, line: int, cells: list[str], columns: Sequence[str], required: Sequence[str]
) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    seen: set[str] = set()
    for name in names:
        if name in seen and name in columns:
            _fail(f"{source.where(line)}: the header has the column {name!r} twice")
        seen.add(name)
    names = _canonical(names, columns, source.where(line))
    missing = [name for name in required if name not in names]
    if missing:
        got = ",".join(cell.strip() for cell in cells)
        _fail(
            f"{source.where(line)}: the header must name the columns {','.join(columns)} "
            f"({' and '.join(missing)} required{_alias_hint(missing)}), got {got!r}"
        )
    return names


def _json_rows(
    source: _Source, data: list[Any], columns: Sequence[str], required: Sequence[str]
) -> list[_Row]:
    rows: list[_Row] = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            _fail(f"{source.where()}: item {index} must be an object, got {_json_type(item)}")
        names = _canonical(
            [str(key).lower() for key in item], columns, f"{source.where()}, item {index}"
        )
        cells = dict(zip(names, item.values(), strict=True))
        for name in required:
            if name not in cells:
                _fail(f"{source.where()}: item {index} has no {name!r}")
        rows.append(_Row(_item_locator(source, index), cells))
    if not rows:
        _fail(f"{source.where()}: the list is empty")
    return rows


def _item_locator(source: _Source, index: int) -> Callable[[str | None], str]:
    def where(field: str | None) -> str:
        parts = [source.where(), f"item {index}"]
        if field is not None:
            parts.append(field)
        return ", ".join(parts)

    return where


def _key_locator(source: _Source, section: str | None = None) -> Callable[[str], str]:
    """Where a key of a JSON object sits: the line of its first occurrence."""

    def where(key: str) -> str:
        after = re.escape(json.dumps(section)) + r"\s*:" if section else None
        line = source.line_of(re.escape(json.dumps(key)) + r"\s*:", after)
        field = f"{section}[{key!r}]" if section else repr(key)
        return source.where(line, field)

    return where


def _show(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut short so one bad cell cannot flood the message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {_show(value)}"
    return _show(value)


# -- values ---------------------------------------------------------------------------------


def _asset(value: object, where: str) -> str:
    if not isinstance(value, str):
        _fail(f"{where}: expected an asset name, got {_json_type(value)}")
    name = value.strip()
    if not name:
        _fail(f"{where}: the asset name is empty")
    return name


def _number(value: object, where: str, *, percent: bool = False) -> float:
    """A finite number from a CSV cell or a JSON value; ``25%`` when ``percent``."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        _fail(f"{where}: expected a number, got {_json_type(value)}")
    if isinstance(value, float):
        number = value
    elif isinstance(value, int):
        number = float(value) if abs(value) < 10**308 else math.inf
    else:
        text = str(value).strip()
        scale = 1.0
        if percent and text.endswith("%"):
            text, scale = text[:-1].strip(), 0.01
        try:
            number = float(text) * scale
        except ValueError:
            hint = " (or a percentage like 25%)" if percent else ""
            _fail(f"{where}: expected a number{hint}, got {_show(value)}")
    if not math.isfinite(number):
        _fail(f"{where}: expected a finite number, got {_show(value)}")
    return number


def _price(value: object, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    price = _number(value, where)
    if price <= 0.0:
        _fail(f"{where}: a price must be > 0, got {_show(value)}")
    return price


def _weight(value: object, where: str) -> float:
    """A weight as a number; its range is checked once the config is known."""
    if isinstance(value, str) and not value.strip():
        _fail(f"{where}: the weight is empty")
    return _number(value, where, percent=True)


def _check_weights(book: _Book, config: RebalanceConfig, *, margin: bool) -> None:
    """Refuse weights that would plan something other than what they say.

    A negative weight is a short: without ``allow_short`` the planner would treat it as 0
    and sell the holding, and a cash account cannot short at all. A weight above 1
    borrows, which only a margin account can, up to ``max_single_weight``; beyond that
    it is most likely a percentage written without ``%``.
    """
    limit = max(1.0, config.max_single_weight) if margin else 1.0
    for asset in sorted(book.targets):
        weight = book.targets[asset]
        where = book.origin[("weight", asset)]
        shown = book.shown[asset]
        if weight < -NOISE and not config.allow_short:
            _fail(
                f"{where}: the negative weight {shown} of {asset!r} asks for a short "
                "position; pass --allow-short (and --margin) to plan it, or give 0 to "
                "close the holding"
            )
        if weight < -NOISE and not margin:
            _fail(
                f"{where}: the negative weight {shown} of {asset!r} asks for a short "
                "position, which needs a margin account; pass --margin"
            )
        if abs(weight) > limit:
            low = f"-{limit:g}" if config.allow_short else "0"
            account = (
                f"in a margin account with max_single_weight {config.max_single_weight:g} "
                "(--max-single-weight allows more)"
                if margin
                else "in a cash account (--margin allows more)"
            )
            _fail(
                f"{where}: a weight is a fraction of equity (0.25 or 25%) between {low} and "
                f"{limit:g} {account}, got {shown} for {asset!r}"
            )


@attrs.define
class _Book:
    """Holdings, targets and prices read so far, with where each value came from."""

    cash: float | None = None
    positions: dict[str, float] = attrs.Factory(dict)
    prices: dict[str, float] = attrs.Factory(dict)
    targets: dict[str, float] = attrs.Factory(dict)
    target_prices: dict[str, float] = attrs.Factory(dict)
    origin: dict[tuple[str, str], str] = attrs.Factory(dict)
    #: asset -> its weight as written in the targets file, for messages.
    shown: dict[str, str] = attrs.Factory(dict)

    def add_target(self, asset: str, value: object, where: str) -> None:
        self.targets[asset] = _weight(value, where)
        self.origin[("weight", asset)] = where
        self.shown[asset] = _show(value)

    def note(self, kind: str, asset: str, where: str) -> None:
        previous = self.origin.get((kind, asset))
        if previous is not None:
            _fail(f"{where}: {asset!r} appears twice (also at {previous})")
        self.origin[(kind, asset)] = where


def _read_holdings(path: Path, book: _Book, name: str | None = None) -> None:
    source = _read(path, name)
    if _is_json(path, source):
        data = _load_json(source)
        if isinstance(data, dict):
            _holdings_object(source, data, book)
            return
        if not isinstance(data, list):
            _fail(f"{source.where()}: expected a list of rows or an object, got {_json_type(data)}")
        rows = _json_rows(source, data, _HOLDINGS_COLUMNS, ("asset", "quantity"))
    else:
        rows = _csv_rows(source, _HOLDINGS_COLUMNS, ("asset", "quantity"))
    for row in rows:
        asset = _asset(row.cells.get("asset"), row.where("asset"))
        if asset.lower() == CASH_ROW:
            price = row.cells.get("price")
            if _price(price, row.where("price")) not in (None, 1.0):
                _fail(f"{row.where('price')}: the cash row takes no price, got {price!r}")
            book.note("holding", CASH_ROW, row.where(None))
            book.cash = _number(row.cells.get("quantity"), row.where("quantity"))
            continue
        book.note("holding", asset, row.where(None))
        quantity = _number(row.cells.get("quantity"), row.where("quantity"))
        price = _price(row.cells.get("price"), row.where("price"))
        book.positions[asset] = quantity
        if price is not None:
            book.prices[asset] = price
            book.origin[("price", asset)] = row.where("price")
        elif quantity != 0.0:
            book.origin[("unpriced", asset)] = row.where("price")


def _holdings_object(source: _Source, data: dict[str, Any], book: _Book) -> None:
    allowed = ("cash", "positions", "prices")
    for key in data:
        if key not in allowed:
            _fail(
                f"{_key_locator(source)(key)}: unknown key; a holdings object has "
                f"{', '.join(allowed)}"
            )
    if "cash" in data:
        book.cash = _number(data["cash"], _key_locator(source)("cash"))
    positions = data.get("positions", {})
    prices = data.get("prices", {})
    for section, value in (("positions", positions), ("prices", prices)):
        if not isinstance(value, dict):
            _fail(f"{_key_locator(source)(section)}: expected an object, got {_json_type(value)}")
    where_position = _key_locator(source, "positions")
    where_price = _key_locator(source, "prices")
    for key, value in positions.items():
        asset = _asset(key, where_position(key))
        book.positions[asset] = _number(value, where_position(key))
        book.origin[("unpriced", asset)] = where_position(key)
        book.origin[("holding", asset)] = where_position(key)
    for key, value in prices.items():
        asset = _asset(key, where_price(key))
        price = _price(value, where_price(key))
        if price is None:
            _fail(f"{where_price(key)}: expected a price > 0, got {_show(value)}")
        book.prices[asset] = price
        book.origin[("price", asset)] = where_price(key)


def _read_targets(path: Path, book: _Book, name: str | None = None) -> None:
    source = _read(path, name)
    if _is_json(path, source):
        data = _load_json(source)
        if isinstance(data, dict):
            where = _key_locator(source)
            if not data:
                _fail(f"{source.where()}: no targets (the object is empty)")
            for key, value in data.items():
                asset = _asset(key, where(key))
                book.origin[("target", asset)] = where(key)
                book.add_target(asset, value, where(key))
            return
        if not isinstance(data, list):
            _fail(
                f"{source.where()}: expected an object of asset -> weight or a list of rows, "
                f"got {_json_type(data)}"
            )
        rows = _json_rows(source, data, _TARGETS_COLUMNS, ("asset", "weight"))
    else:
        rows = _csv_rows(source, _TARGETS_COLUMNS, ("asset", "weight"))
    for row in rows:
        asset = _asset(row.cells.get("asset"), row.where("asset"))
        if asset.lower() == CASH_ROW:
            _fail(
                f"{row.where('asset')}: cash is not a target; "
                "the weights may sum to less than 1 and the rest stays cash"
            )
        book.note("target", asset, row.where(None))
        book.add_target(asset, row.cells.get("weight"), row.where("weight"))
        price = _price(row.cells.get("price"), row.where("price"))
        if price is not None:
            book.target_prices[asset] = price
            book.origin[("target price", asset)] = row.where("price")


def _read_prices(path: Path, book: _Book) -> dict[str, float]:
    """The prices file's prices; notes where each one is in ``book.origin``."""
    source = _read(path)
    prices: dict[str, float] = {}
    if _is_json(path, source):
        data = _load_json(source)
        if isinstance(data, dict):
            where = _key_locator(source)
            for key, value in data.items():
                price = _price(value, where(key))
                if price is None:
                    _fail(f"{where(key)}: expected a price > 0, got {_show(value)}")
                asset = _asset(key, where(key))
                prices[asset] = price
                book.origin[("override", asset)] = where(key)
            return prices
        if not isinstance(data, list):
            _fail(f"{source.where()}: expected an object of asset -> price or a list of rows")
        rows = _json_rows(source, data, _PRICES_COLUMNS, _PRICES_COLUMNS)
    else:
        rows = _csv_rows(source, _PRICES_COLUMNS, _PRICES_COLUMNS)
    seen: dict[str, str] = {}
    for row in rows:
        asset = _asset(row.cells.get("asset"), row.where("asset"))
        if asset in seen:
            _fail(f"{row.where(None)}: {asset!r} appears twice (also at {seen[asset]})")
        seen[asset] = row.where(None)
        price = _price(row.cells.get("price"), row.where("price"))
        if price is None:
            _fail(f"{row.where('price')}: the price is empty")
        prices[asset] = price
        book.origin[("override", asset)] = row.where(None)
    return prices


def _check_case(book: _Book) -> None:
    """Refuse a target spelled like a held or priced asset except for case (``vti``, ``VTI``).

    Asset names are case-sensitive, so such a target would be a new, unpriced asset while
    the holding it was meant for is sold.
    """
    known: dict[str, str] = {}
    for kind, label in (("holding", "held"), ("override", "priced"), ("price", "priced")):
        for (origin_kind, asset), where in book.origin.items():
            if origin_kind == kind and asset != CASH_ROW:
                known.setdefault(asset, f"{label} at {where}")
    for target in sorted(book.targets):
        for name in sorted(known):
            if name != target and name.casefold() == target.casefold():
                _fail(
                    f"{book.origin[('target', target)]}: the target {target!r} matches "
                    f"{name!r} ({known[name]}) only by case; asset names are case-sensitive, "
                    "so spell them the same in every file"
                )


def _merge_prices(book: _Book, overrides: Mapping[str, float]) -> dict[str, float]:
    """Prices by precedence: the prices file, then holdings, then targets (which must agree)."""
    prices = dict(book.prices)
    for asset, price in book.target_prices.items():
        held = prices.get(asset)
        if (
            held is not None
            and not math.isclose(held, price, rel_tol=1e-9)
            and asset not in overrides
        ):
            _fail(
                f"{book.origin[('target price', asset)]}: the price of {asset!r} is {price!r} "
                f"but {book.origin[('price', asset)]} says {held!r}; give it once or use --prices"
            )
        prices.setdefault(asset, price)
    prices.update(overrides)
    for asset, quantity in book.positions.items():
        if quantity != 0.0 and asset not in prices:
            _fail(
                f"{book.origin[('unpriced', asset)]}: {asset!r} is held ({quantity:g}) but has "
                "no price; add one in the holdings file or with --prices"
            )
    return prices


# -- config ---------------------------------------------------------------------------------


def _config_fields() -> dict[str, attrs.Attribute[Any]]:
    attrs.resolve_types(RebalanceConfig)
    return {field.name: field for field in attrs.fields(RebalanceConfig)}


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


def _read_config(path: Path, name: str | None = None) -> dict[str, Any]:
    source = _read(path, name)
    if path.suffix.lower() == ".json" or (
        path.suffix.lower() != ".toml" and source.text.lstrip()[:1] == "{"
    ):
        data = _load_json(source)
        if not isinstance(data, dict):
            _fail(f"{source.where()}: expected an object of config fields, got {_json_type(data)}")

        def line_of(key: str) -> int | None:
            return source.line_of(re.escape(json.dumps(key)) + r"\s*:")

    else:
        try:
            data = tomllib.loads(source.text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"\(at line (\d+)", str(exc))
            line = int(match.group(1)) if match else None
            message = re.sub(r"\s*\(at .*\)$", "", str(exc))
            _fail(f"{source.where(line)}: invalid TOML: {message}")

        def line_of(key: str) -> int | None:
            return source.line_of(r"^\s*(" + re.escape(key) + r'|"' + re.escape(key) + r'")\s*=')

    fields = _config_fields()
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = source.where(line_of(key), key)
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"the fields are {', '.join(fields)}"
            _fail(f"{where}: unknown config field; {hint}")
        try:
            RebalanceConfig(**{key: value})
        except RebalancingError as exc:
            _fail(f"{where}: {exc}")
        except TypeError as exc:  # pragma: no cover - attrs converters raise our errors
            _fail(f"{where}: {exc}")
        values[key] = value
    return values


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
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            choices = "|".join(member.value.replace("_", "-") for member in kind)
            group.add_argument(
                flag,
                dest=name,
                type=_ConfigFlag(field),
                default=argparse.SUPPRESS,
                metavar=choices,
                help=text,
            )
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


def _quantity(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.6f}".rstrip("0").rstrip(".")


def _money(value: float) -> str:
    text = f"{value:,.2f}"
    return "0.00" if text == "-0.00" else text


def _price_text(value: float) -> str:
    """A price with cents, and more decimals only when it has them (0.0123)."""
    text = f"{value:,.6f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def _cents(value: float) -> float:
    """An amount of money for CSV and JSON: rounded to cents, without float noise."""
    return round(value, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def _fraction(value: float) -> float:
    """A weight for CSV and JSON: 10 decimals (1e-10 of equity), without float noise."""
    return round(value, 10) + 0.0


def _percent(value: float) -> str:
    text = f"{value * 100:.2f}%"
    return "0.00%" if text == "-0.00%" else text


def _compared_trade(decision: Decision, plan: RebalancePlan, config: RebalanceConfig) -> float:
    """The trade's notional that the thresholds were checked on, for a skipped asset.

    The planner compares the trade it would send, after rounding to whole units or lots,
    not ``|target - current|``: this redoes that rounding with the planner's own functions
    (the command line has no pending orders, multipliers or per-asset lots). When the
    rounded trade is empty, the planner compared the unrounded one. One approximation:
    under ``Rounding.CLOSEST``, when cash is short the planner re-checks sells rounded
    down, which may sell one unit more than the figure quoted here; both are below the
    threshold, since the asset was skipped.
    """
    unit_value = decision.price or 0.0
    current = decision.current_quantity
    desired = decision.target_weight * plan.equity / unit_value
    increment = None if config.allow_fractional else 1.0
    if config.round_lots:  # lots apply to fractional accounts too
        increment = float(config.lot_size)
    final = round_holding(current, desired, increment)
    if config.rounding is Rounding.CLOSEST:
        nearest = round_nearest(current, desired, increment)
        if abs(nearest) * unit_value <= config.max_single_weight * plan.equity:
            final = nearest
    if abs(final) * unit_value <= NOISE * plan.equity:
        final = 0.0
    if final == current:
        return abs(desired - current) * unit_value
    return abs(final - current) * unit_value


def _threshold_text(decision: Decision, plan: RebalancePlan, config: RebalanceConfig) -> str:
    """Why a trade was too small, with the figures the planner compared."""
    value = _compared_trade(decision, plan, config)
    change = value / plan.equity
    wanted = abs(decision.target_weight - decision.current_weight)
    by_value = decision.skip_reason is SkipReason.TRADE_VALUE_TOO_SMALL
    rounded = ""
    if not math.isclose(change, wanted, rel_tol=1e-9, abs_tol=1e-12):
        units = round(value / (decision.price or 1.0), 6)
        noun = "unit" if units == 1 else "units"
        before = _money(wanted * plan.equity) if by_value else _percent(wanted)
        rounded = f" ({_quantity(units)} {noun}; {before} before rounding)"
    if by_value:
        return (
            f"trade {_money(value)}{rounded} is below min_trade_value "
            f"{_money(config.min_trade_value)}"
        )
    if config.relative_band is None:
        return (
            f"change {_percent(change)}{rounded} is below min_weight_change "
            f"{_percent(config.min_weight_change)}"
        )
    relative = config.relative_band * abs(decision.target_weight)
    return (
        f"change {_percent(change)}{rounded} is inside both bands: "
        f"{_percent(config.min_weight_change)} (min_weight_change) and {_percent(relative)} "
        f"(relative_band {config.relative_band:g} x target)"
    )


def _reason(decision: Decision, plan: RebalancePlan, config: RebalanceConfig) -> str:
    reason = decision.skip_reason
    if reason in (SkipReason.WEIGHT_CHANGE_TOO_SMALL, SkipReason.TRADE_VALUE_TOO_SMALL):
        return _threshold_text(decision, plan, config)
    texts = {
        SkipReason.ROUNDS_TO_ZERO: "the trade rounds to zero units",
        SkipReason.AT_TARGET: "already at target",
        SkipReason.PENDING_COVERS: "pending orders already cover it",
        SkipReason.NO_PRICE: "no price: add a price column to the targets or use --prices",
        SkipReason.SHORT_NOT_ALLOWED: "negative target, but allow_short is off",
        SkipReason.CAPPED: f"capped at max_single_weight {_percent(config.max_single_weight)}",
        SkipReason.CASH_LIMITED: "not enough cash for a buy",
        SkipReason.NON_POSITIVE_EQUITY: "equity is zero or negative",
        SkipReason.DIRECTION: (
            f"would {'sell' if decision.target_weight < decision.current_weight else 'buy'}, "
            f"but direction is {config.direction.value}"
        ),
        SkipReason.NOT_TARGETED: "not in the targets (close_untargeted is off)",
    }
    if reason is None:  # pragma: no cover - only called for skipped assets
        return ""
    return texts.get(reason, reason.value)


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _render_table(plan: RebalancePlan, config: RebalanceConfig, out: TextIO) -> None:
    lines: list[str] = []
    if plan.orders:
        lines.append(f"Orders ({len(plan.orders)}), in the order to place them")
        rows = [
            ["Side", "Asset", "Quantity", "Price", "Value", "Weight now", "", "after", "target"]
        ]
        for order in plan.orders:
            decision = plan.decision(order.asset)
            rows.append(
                [
                    order.side.value.upper(),
                    order.asset,
                    _quantity(order.quantity),
                    _price_text(order.price),
                    _money(order.value),
                    _percent(decision.current_weight),
                    "->",
                    _percent(decision.projected_weight),
                    _percent(decision.target_weight),
                ]
            )
        lines.extend(_table(rows, right={2, 3, 4, 5, 7, 8}))
    else:
        lines.append("Orders: none")
    skipped = [d for d in plan.decisions if not d.trades]
    if skipped:
        lines.append("")
        lines.append(f"No trade ({len(skipped)})")
        rows = [["Asset", "Weight now", "target", "Reason"]]
        rows.extend(
            [
                decision.asset,
                _percent(decision.current_weight),
                _percent(decision.target_weight),
                _reason(decision, plan, config),
            ]
            for decision in skipped
        )
        lines.extend(_table(rows, right={1, 2}))
    lines.extend(_notes(plan))
    summary = [
        ["Equity", _money(plan.equity)],
        ["Cash before", _money(plan.cash_before)],
        ["Projected cash", _money(plan.projected_cash)],
        ["Traded value", _money(plan.traded_value)],
        ["Turnover", _percent(plan.turnover)],
    ]
    if plan.estimated_costs:
        summary.insert(3, ["Estimated costs", _money(plan.estimated_costs)])
    lines.append("")
    lines.extend(_table(summary, right={1}))
    out.write("\n".join(lines) + "\n")


def _notes(plan: RebalancePlan) -> list[str]:
    """What was done to the whole book before planning, said once under the tables."""
    scaled = [d for d in plan.decisions if Adjustment.CASH_ACCOUNT in d.adjustments]
    if not scaled:
        return []
    gross = math.fsum(abs(d.requested_weight or 0.0) for d in plan.decisions)
    return [
        "",
        f"Note: the targets sum to {_percent(gross)}; a cash account does not borrow, so they",
        "      were scaled to 100% (pass --margin for an account that may borrow).",
    ]


def _records(plan: RebalancePlan, config: RebalanceConfig) -> Iterator[dict[str, Any]]:
    for order in plan.orders:
        decision = plan.decision(order.asset)
        yield {
            "asset": order.asset,
            "side": order.side.value,
            "action": order.action.value,
            "quantity": order.quantity,
            "price": _fraction(order.price),
            "value": _cents(order.value),
            "estimated_cost": _cents(order.estimated_cost),
            "current_weight": _fraction(decision.current_weight),
            "target_weight": _fraction(decision.target_weight),
            "projected_weight": _fraction(decision.projected_weight),
            "reason": None,
        }
    for decision in plan.decisions:
        if decision.trades:
            continue
        yield {
            "asset": decision.asset,
            "side": None,
            "quantity": None,
            "price": None if decision.price is None else _fraction(decision.price),
            "value": None,
            "current_weight": _fraction(decision.current_weight),
            "target_weight": _fraction(decision.target_weight),
            "projected_weight": _fraction(decision.projected_weight),
            "reason": decision.skip_reason.value if decision.skip_reason else None,
            "explanation": _reason(decision, plan, config),
        }


def _render_csv(plan: RebalancePlan, config: RebalanceConfig, out: TextIO) -> None:
    columns = [
        "asset",
        "side",
        "quantity",
        "price",
        "value",
        "current_weight",
        "target_weight",
        "projected_weight",
        "reason",
    ]
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in _records(plan, config):
        writer.writerow({k: "" if v is None else v for k, v in record.items()})


def _render_json(plan: RebalancePlan, config: RebalanceConfig, out: TextIO) -> None:
    records = list(_records(plan, config))
    document = {
        "orders": [
            {k: v for k, v in r.items() if k not in ("reason", "explanation")}
            for r in records
            if r["side"]
        ],
        "skipped": [
            {k: r[k] for k in ("asset", "current_weight", "target_weight", "reason", "explanation")}
            for r in records
            if not r["side"]
        ],
        "equity": _cents(plan.equity),
        "cash_before": _cents(plan.cash_before),
        "projected_cash": _cents(plan.projected_cash),
        "traded_value": _cents(plan.traded_value),
        "estimated_costs": _cents(plan.estimated_costs),
        "turnover": _fraction(plan.turnover),
    }
    json.dump(document, out, indent=2)
    out.write("\n")


_RENDERERS: dict[str, Callable[[RebalancePlan, RebalanceConfig, TextIO], None]] = {
    "table": _render_table,
    "csv": _render_csv,
    "json": _render_json,
}


# -- the command ----------------------------------------------------------------------------


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
            values[name] = getattr(args, name)
    if args.cash is not None:
        book.cash = args.cash
    _check_case(book)
    prices = _merge_prices(book, overrides)
    try:
        config = RebalanceConfig(**values)
    except RebalancingError as exc:
        _fail(str(exc))
    _check_weights(book, config, margin=args.margin)
    try:
        snapshot = PortfolioSnapshot(book.cash or 0.0, book.positions, prices, margin=args.margin)
        plan = compute_trades(snapshot, book.targets, config)
    except RebalancingError as exc:
        _fail(str(exc))
    _RENDERERS[args.format](plan, config, out)


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

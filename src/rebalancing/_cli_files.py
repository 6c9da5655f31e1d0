"""Reading the command line's files: CSV, JSON and TOML into rows and checked values.

Every value read keeps where it came from (file, line or key), so a bad one ends the run
with exit status 2 and one line naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import attrs

from ._config import RebalanceConfig
from .exceptions import RebalancingError

#: Exit status for bad input: usage errors, unreadable or invalid files and values.
EXIT_BAD_INPUT = 2
#: Asset name (any case) of the holdings row that carries the cash balance.
CASH_ROW = "cash"

_HOLDINGS_COLUMNS = ("asset", "quantity", "price", "account")
_TARGETS_COLUMNS = ("asset", "weight", "price")
_PRICES_COLUMNS = ("asset", "price")
#: Other names for the columns, as brokers' exports spell them (matched in any case).
_ALIASES = {
    "asset": ("symbol", "ticker"),
    "quantity": ("shares", "qty"),
    "price": ("last", "close"),
}
#: Columns that decide what is traded: an alias beside one of them is ambiguous.
_DECIDING = ("asset", "quantity")
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
    of one absent column are ambiguous, and so is an alias beside ``asset`` or
    ``quantity`` (an ``Asset`` class column beside ``Ticker`` would trade the classes):
    only ``price`` wins over its aliases.
    """
    renamed = list(names)
    for column in columns:
        present = [name for name in names if name in _ALIASES.get(column, ())]
        if column in names:
            if present and column in _DECIDING:
                _fail(
                    f"{where}: both {column!r} and {present[0]!r} could be the {column} "
                    f"column; rename or remove one of them"
                )
            continue
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


def _config_fields() -> dict[str, attrs.Attribute[Any]]:
    attrs.resolve_types(RebalanceConfig)
    return {field.name: field for field in attrs.fields(RebalanceConfig)}


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

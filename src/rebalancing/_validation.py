"""Small checks shared by the value classes: numbers, names and mappings from the outside.

Each helper takes the error class to raise and a label naming the field (and asset), so
every message says where the bad value sits, what was expected and what was received.
"""

from __future__ import annotations

import decimal
import enum
import math
import numbers
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

from .exceptions import RebalancingError

_E = TypeVar("_E", bound=enum.Enum)


def fail(error: type[RebalancingError], msg: str) -> NoReturn:
    """Raise ``error(msg)``; one place so call sites stay one line."""
    raise error(msg)


def enum_value(enum_type: type[_E], value: object, label: str, error: type[RebalancingError]) -> _E:
    """Return ``value`` as a member of ``enum_type`` (members and their values accepted)."""
    if isinstance(value, enum_type):
        return value
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum_type)
        fail(error, f"{label} must be one of {allowed}, got {value!r}")


def to_number(value: object, label: str, error: type[RebalancingError]) -> float:
    """Return ``value`` as a finite float, or raise naming ``label``.

    Accepts ints, floats, numpy scalars and :class:`decimal.Decimal`; rejects bools,
    strings, ``None`` and anything non-finite.
    """
    kind = type(value)
    if kind is float or kind is int:  # the common case, checked fast
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:
            fail(error, f"{label} must be a finite number, got {value!r}")
        if number - number == 0.0:
            return number
        fail(error, f"{label} must be a finite number, got {value!r}")
    if isinstance(value, bool) or kind.__name__ == "bool_":
        fail(error, f"{label} must be a number, got the bool {value!r}")
    if not isinstance(value, numbers.Real | decimal.Decimal):
        fail(error, f"{label} must be a number, got {type(value).__name__} {value!r}")
    try:
        number = float(value)
    except (ArithmeticError, ValueError, TypeError):
        fail(error, f"{label} must be a finite number, got {value!r}")
    if not math.isfinite(number):
        fail(error, f"{label} must be a finite number, got {value!r}")
    return number


def to_positive(value: object, label: str, error: type[RebalancingError]) -> float:
    """Return ``value`` as a finite float > 0, or raise naming ``label``."""
    number = to_number(value, label, error)
    if number <= 0.0:
        fail(error, f"{label} must be > 0, got {value!r}")
    return number


def check_flag(
    value: object, label: str, error: type[RebalancingError], *, optional: bool = False
) -> None:
    """Accept ``True`` or ``False`` (and ``None`` when ``optional``), nothing merely truthy."""
    if isinstance(value, bool) or (optional and value is None):
        return
    expected = "True, False or None" if optional else "True or False"
    fail(error, f"{label} must be {expected}, got {value!r}")


def check_name(name: object, label: str, error: type[RebalancingError]) -> str:
    """Return ``name`` if it is a non-blank string without surrounding white space."""
    if type(name) is not str:
        if not isinstance(name, str):
            fail(error, f"{label} must be a str, got {type(name).__name__} {name!r}")
        name = str(name)  # a str subclass (numpy.str_): store the plain string
    if not name or name.strip() != name:
        fail(
            error,
            f"{label} must be a non-empty name without surrounding white space, got {name!r}",
        )
    return name


def mapping_items(
    value: object, label: str, error: type[RebalancingError], key_name: str = "asset"
) -> list[tuple[Any, Any]]:
    """Return the ``(key, value)`` pairs of a mapping-like object (dict, pandas Series...).

    Anything with an ``items()`` method counts; duplicate keys (possible in a Series) are
    an error rather than a silent overwrite. Errors call a key ``key_name``.
    """
    if type(value) is dict or type(value) is MappingProxyType:
        return list(value.items())  # keys are unique, pairs are pairs
    if isinstance(value, str | bytes) or not callable(getattr(value, "items", None)):
        fail(
            error, f"{label} must be a mapping of {key_name} -> number, got {type(value).__name__}"
        )
    try:
        pairs = list(value.items())  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - any failure of a foreign object is bad input
        fail(error, f"{label} must be a mapping of {key_name} -> number; items() failed: {exc!r}")
    seen: set[object] = set()
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            fail(error, f"{label} must be a mapping; its items() gave {pair!r}")
        key = pair[0]
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:
            fail(error, f"{label} has an unhashable key {key!r}")
        if duplicate:
            fail(error, f"{label} has the {key_name} {key!r} more than once")
    return pairs


def is_mapping(value: object) -> bool:
    """Mapping-like (a dict, a pandas Series): has ``items()`` and is not a sequence."""
    if isinstance(value, Mapping):
        return True
    if type(value).__name__ == "DataFrame":
        return False  # a table, though pandas' has items()
    return not isinstance(value, list | tuple | str | bytes) and callable(
        getattr(value, "items", None)
    )


def plain_numbers(value: object, *, positive: bool) -> dict[str, float] | None:
    """A dict of clean names to finite floats (> 0 with ``positive``), checked in bulk.

    The common case, with no Python code per item: the dict (or a read-only view of
    one) sorted by name, or None when any key or number is not of that plain kind (then
    the item-by-item check decides, and names the bad item).
    """
    if type(value) is not dict and type(value) is not MappingProxyType:
        return None
    names: list[Any] = list(value)
    numbers = list(value.values())
    if not names:
        return {}
    if set(map(type, names)) != {str} or set(map(type, numbers)) != {float}:
        return None
    if "" in value or names != list(map(str.strip, names)):
        return None
    if not all(map(math.isfinite, numbers)) or (positive and min(numbers) <= 0.0):
        return None
    order = sorted(names)
    return dict(value) if order == names else {name: value[name] for name in order}


def number_map(
    value: object,
    label: str,
    error: type[RebalancingError],
    *,
    positive: bool,
) -> Mapping[str, float]:
    """Validate an ``asset -> number`` mapping and return it read-only, keys sorted."""
    plain = plain_numbers(value, positive=positive)
    if plain is not None:
        return MappingProxyType(plain)
    return MappingProxyType(checked_numbers(value, label, error, positive=positive))


def checked_numbers(
    value: object,
    label: str,
    error: type[RebalancingError],
    *,
    positive: bool,
) -> dict[str, float]:
    """:func:`number_map`'s item-by-item check: any mapping, the first bad item named."""
    checked: dict[str, float] = {}
    for key, raw in mapping_items(value, label, error):
        name = check_name(key, f"{label} key", error)
        if type(raw) is float and raw - raw == 0.0 and (raw > 0.0 or not positive):
            checked[name] = raw  # the common case, checked fast
            continue
        where = f"{label}[{name!r}]"
        checked[name] = to_positive(raw, where, error) if positive else to_number(raw, where, error)
    return {name: checked[name] for name in sorted(checked)}


def as_tuple(value: object, label: str, error: type[RebalancingError]) -> tuple[Any, ...]:
    """Return an iterable (not a string or mapping) as a tuple."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        fail(error, f"{label} must be an iterable of items, got {type(value).__name__}")
    return tuple(value)


def integral(quantity: float) -> float | int:
    """Return ``quantity`` as an ``int`` when it is a whole number, else unchanged."""
    if quantity == int(quantity):
        return int(quantity)
    return quantity

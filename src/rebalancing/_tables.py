"""Reading and writing the long tables of :func:`~rebalancing.plan_table`.

Two kinds of table are understood, pandas and polars DataFrames; each column is read once
into a numpy array and every output column is built once from an array or a list. Nothing
here knows about planning. pandas, polars and numpy are imported only when a table is
actually read or written, so ``import rebalancing`` never needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .exceptions import RebalancingError

__all__ = ["Column", "factorize", "frame_kind", "read_columns", "write_frame"]

#: The kinds of table understood, by the top-level module their DataFrame lives in.
KINDS = ("pandas", "polars")


def frame_kind(frame: object, label: str, error: type[RebalancingError]) -> str:
    """``"pandas"`` or ``"polars"``: which kind of DataFrame ``frame`` is, or raise."""
    kind = type(frame).__module__.partition(".")[0]
    if kind in KINDS and type(frame).__name__ == "DataFrame":
        return kind
    msg = (
        f"{label} must be a pandas or polars DataFrame, got {type(frame).__name__}"
        " (install the extra rebalancing[pandas] or rebalancing[polars])"
    )
    raise error(msg)


def read_columns(
    frame: Any,
    label: str,
    names: Sequence[str],
    error: type[RebalancingError],
    keys: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The named columns as numpy arrays (``keys`` as the frame's own), and their dtypes.

    Raises ``error`` naming the table and every missing column (and listing the present
    ones). A pandas index is not a column: ``reset_index()`` first.
    """
    present = [str(name) for name in frame.columns]
    missing = [name for name in names if name not in present]
    if missing:
        msg = f"{label} needs the columns {', '.join(map(repr, names))}; it has no " + ", ".join(
            map(repr, missing)
        )
        msg += f" (its columns: {', '.join(map(repr, present)) or 'none'})"
        raise error(msg)
    arrays = {name: frame[name].to_numpy() for name in names if name not in keys}
    arrays.update({name: frame[name] for name in keys})
    dtypes = {name: frame[name].dtype for name in names}
    return arrays, dtypes


def factorize(column: Any) -> tuple[Any, list[Any]] | None:
    """A key column as codes (in order of first appearance) and its distinct values.

    Done by pandas for a pandas column of text or integers (its hash table, no Python
    object per row); None for any other column, which the caller factorizes itself.
    Missing text (NaN, NA) is a value like any other, as in a Python dict.
    """
    if type(column).__module__.partition(".")[0] != "pandas":
        return None
    import numpy as np  # noqa: PLC0415 - optional, imported only when reading
    import pandas as pd  # noqa: PLC0415

    if not (isinstance(column.dtype, pd.StringDtype) or column.dtype.kind in "iu"):
        return None
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), uniques.tolist()


class Column:
    """One output column: its values and how to type it.

    ``kind`` is ``"float"`` (NaN means missing: null in polars), ``"str"`` (``None``
    means missing) or ``"native"`` (values of ``dtype``, the input's own column dtype).
    With ``codes``, ``values`` are the column's categories and the column is
    ``values[codes]``: text is built by the frame library's own gather, not one Python
    object per row.
    """

    __slots__ = ("codes", "dtype", "kind", "values")

    def __init__(self, values: Any, kind: str, dtype: Any = None, codes: Any = None) -> None:
        self.values = values
        self.kind = kind
        self.dtype = dtype
        self.codes = codes


def write_frame(kind: str, columns: dict[str, Column]) -> Any:
    """A DataFrame of ``kind`` with these columns, in this order."""
    return _pandas_frame(columns) if kind == "pandas" else _polars_frame(columns)


def _pandas_frame(columns: dict[str, Column]) -> Any:
    """:func:`write_frame` for pandas."""
    import pandas as pd  # noqa: PLC0415 - optional, imported only when writing

    data: dict[str, Any] = {}
    for name, column in columns.items():
        dtype = {"float": "float64", "str": "str"}.get(column.kind, column.dtype)
        if column.codes is None:
            data[name] = pd.Series(column.values, dtype=dtype, copy=False)
        else:
            # A Series, not pd.array: pandas 2's "str" array would write None as "None".
            taken = pd.Series(column.values, dtype=dtype).array.take(column.codes)
            data[name] = pd.Series(taken, dtype=dtype, copy=False)
    return pd.DataFrame(data, copy=False)  # the columns are new: no copy


def _polars_frame(columns: dict[str, Column]) -> Any:
    """:func:`write_frame` for polars.

    Tested where polars is installed, which is not the mutation run: its forked workers
    deadlock on polars' thread pool.
    """
    import polars as pl  # noqa: PLC0415 - optional, imported only when writing

    series = []
    for name, column in columns.items():
        if column.kind == "float":
            series.append(pl.Series(name, column.values, dtype=pl.Float64, nan_to_null=True))
            continue
        dtype = pl.String if column.kind == "str" else column.dtype
        values = pl.Series(name, _plain(column.values), dtype=dtype)
        series.append(values if column.codes is None else values.gather(column.codes))
    return pl.DataFrame(series)


def _plain(values: Any) -> Any:
    """A list for polars, which takes no numpy object arrays."""
    tolist = getattr(values, "tolist", None)
    return values if tolist is None else tolist()

"""The input of :func:`~rebalancing.plan_table`: reading and validating its long tables.

:class:`Table` reads the holdings, prices, cash and targets (mappings, or pandas or polars
DataFrames through ``_tables``), checks all of them before any account is planned (every
error names the table, the row, the account and asset, and the column) and groups the
rows by account in numpy arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._book import Rows
from ._plan import validate_targets
from ._snapshot import PortfolioSnapshot
from ._sums import exact_sums
from ._tables import factorize, frame_kind, read_columns
from ._validation import check_name, is_mapping, mapping_items, to_number, to_positive
from .exceptions import (
    InvalidSnapshotError,
    InvalidTargetsError,
    MissingPriceError,
    RebalancingError,
)

__all__ = ["Table", "target_book"]


def target_book(targets: object, label: str) -> dict[str, float]:
    """Validated target weights; errors name where the mapping came from."""
    try:
        return validate_targets(targets)
    except InvalidTargetsError as exc:
        msg = f"{label}: {exc}"
        raise InvalidTargetsError(msg) from exc


def _missing(value: object) -> bool:
    """None, NaN, pandas' NA or NaT: a key that is not there."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


class _Keys:
    """A factorized key column: ``codes[row]`` indexes ``values`` (first appearances)."""

    def __init__(self, column: Any, label: str, error: type[RebalancingError]) -> None:
        found = factorize(column) or _factorize_objects(column, label, error)
        self.codes: Any = found[0]
        self.values: list[Any] = found[1]

    def at(self, row: int) -> Any:
        """The key on ``row``."""
        return self.values[self.codes[row]]

    def rows(self) -> list[Any]:
        """The key of every row."""
        values = self.values
        return [values[code] for code in self.codes.tolist()]

    def first_row(self, value: object) -> int:
        """The first row of ``value``, one of :attr:`values`.

        Found by identity: a missing key such as pandas' NA has no truth value to compare.
        """
        code = next(c for c, v in enumerate(self.values) if v is value)
        return int(np.argmax(self.codes == code))


def _factorize_objects(
    column: Any, label: str, error: type[RebalancingError]
) -> tuple[Any, list[Any]]:
    """:func:`~rebalancing._tables.factorize` for any column, by a Python dict."""
    raw = (column if hasattr(column, "tolist") else column.to_numpy()).tolist()
    try:
        index = {value: code for code, value in enumerate(dict.fromkeys(raw))}
        codes = list(map(index.__getitem__, raw))
    except TypeError:
        row = next(r for r, v in enumerate(raw) if _unhashable(v))
        msg = f"{label} row {row}: {raw[row]!r} is not a valid key (unhashable)"
        raise error(msg) from None
    return np.asarray(codes, dtype=np.int64), list(index)


def _unhashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return True
    return False


def _check_accounts(keys: _Keys, label: str, error: type[RebalancingError]) -> None:
    for value in keys.values:
        if not isinstance(value, str) and _missing(value):
            row = keys.first_row(value)
            msg = f"{label} row {row}: account is missing ({value!r})"
            raise error(msg)


def _check_assets(
    keys: _Keys,
    label: str,
    error: type[RebalancingError],
    where: Any,
) -> list[str]:
    """The asset names, each a valid name; errors name the first row that has a bad one."""
    names = []
    for value in keys.values:
        try:
            names.append(check_name(value, "asset", error))
        except RebalancingError as exc:
            row = keys.first_row(value)
            msg = f"{label} row {row}{where(row)}: {exc}"
            raise error(msg) from None
    return names


def _numbers(
    column: Any,
    label: str,
    name: str,
    error: type[RebalancingError],
    where: Any,
    *,
    positive: bool = False,
) -> Any:
    """A finite (and > 0 when ``positive``) float column; errors name the first bad row."""
    check = to_positive if positive else to_number
    if column.dtype.kind in "iuf":
        values = column.astype(np.float64)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(values) | ((values <= 0.0) if positive else False)
        if not bad.any():
            return values
        row = int(np.argmax(bad))
        check(column[row].item(), f"{label} row {row}{where(row)}: {name}", error)
    # Objects (text, Decimal, bools, None...): each checked as compute_trades would.
    checked = [
        check(value, f"{label} row {row}{where(row)}: {name}", error)
        for row, value in enumerate(column.tolist())
    ]
    return np.array(checked, dtype=np.float64)


def _check_unique(label: str, error: type[RebalancingError], **columns: _Keys) -> None:
    """Raise ``error`` if a key (one value of each column) is on two rows of ``label``.

    The message names the first repeated key in sort order and its first two rows.
    """
    names = list(columns)
    keys = columns[names[0]].codes
    for name in names[1:]:
        keys = keys * max(len(columns[name].values), 1) + columns[name].codes
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    if same.size == 0:
        return
    first, second = int(order[same[0]]), int(order[same[0] + 1])
    key = ", ".join(f"{name} {column.at(first)!r}" for name, column in columns.items())
    msg = f"{label} has {key} more than once (rows {first} and {second})"
    raise error(msg)


class Table:
    """The validated input of :func:`plan_table`, grouped by account (sorted)."""

    def __init__(self, holdings: Any, targets: object, prices: object, cash: object) -> None:
        self.kind = frame_kind(holdings, "holdings", InvalidSnapshotError)
        columns, dtypes = read_columns(
            holdings,
            "holdings",
            ("account", "asset", "quantity"),
            InvalidSnapshotError,
            keys=("account", "asset"),
        )
        self.account_dtype = dtypes["account"]
        accounts = _Keys(columns["account"], "holdings", InvalidSnapshotError)
        _check_accounts(accounts, "holdings", InvalidSnapshotError)
        assets = _Keys(columns["asset"], "holdings", InvalidSnapshotError)

        def where(row: int) -> str:
            return f" (account {accounts.at(row)!r})"

        names = _check_assets(assets, "holdings", InvalidSnapshotError, where)

        def where_asset(row: int) -> str:
            return f" (account {accounts.at(row)!r}, asset {assets.at(row)!r})"

        quantity = _numbers(
            columns["quantity"], "holdings", "quantity", InvalidSnapshotError, where_asset
        )
        _check_unique("holdings", InvalidSnapshotError, account=accounts, asset=assets)
        price_of = _prices(prices)
        asset_price = np.array([price_of.get(name, np.nan) for name in names], dtype=np.float64)
        row_price = asset_price[assets.codes] if len(names) else np.zeros(0)
        unpriced = np.isnan(row_price)
        held_unpriced = unpriced & (quantity != 0.0)
        if held_unpriced.any():
            row = int(np.argmax(held_unpriced))
            asset = names[assets.codes[row]]
            msg = (
                f"holdings row {row}{where_asset(row)}: quantity {quantity[row].item()!r} is "
                f"held but prices has no {asset!r}: every held asset needs a finite price > 0"
            )
            raise MissingPriceError(msg)
        cash_of = _cash(cash)
        # Every account, sorted: those with holdings and those with only cash.
        known = dict.fromkeys(accounts.values)
        if cash_of is not None:
            for account in accounts.values:
                if account not in cash_of:
                    msg = (
                        f"holdings has account {account!r} but cash has no row for it: give "
                        "every account its cash (0 when it has none), or pass cash=None "
                        "when every account has no cash"
                    )
                    raise InvalidSnapshotError(msg)
            known.update(dict.fromkeys(cash_of))
        try:
            self.accounts: Any = sorted(known)
        except TypeError:
            kinds = sorted({type(a).__name__ for a in known})
            msg = f"accounts must be of one kind that sorts, got a mix of {', '.join(kinds)}"
            raise InvalidSnapshotError(msg) from None
        rank = {account: position for position, account in enumerate(self.accounts)}
        self.books, self.model = _targets(targets, rank)
        self.prices = price_of
        # Rows grouped by account (in account order); a zero quantity without a price is
        # "not held" either way, so such rows are left out. Everything per row or per
        # account is kept in numpy arrays, which the garbage collector does not scan:
        # lists of millions of items would be scanned again at every full collection
        # while the plans are made.
        account_rank = np.array([rank[a] for a in accounts.values], dtype=np.int64)
        row_rank = account_rank[accounts.codes] if len(accounts.values) else np.zeros(0, int)
        keep = np.flatnonzero(~unpriced)
        order = keep[np.argsort(row_rank[keep], kind="stable")]
        self.bounds = np.searchsorted(row_rank[order], np.arange(len(self.accounts) + 1))
        self.names, self.codes, self.assets = _held_names(names, assets.codes[order])
        self.quantity = quantity[order]
        self.row_price = row_price[order]
        self.cash = np.array(
            [0.0 if cash_of is None else cash_of[a] for a in self.accounts], dtype=np.float64
        )
        self.accounts = np.fromiter(self.accounts, dtype=object, count=len(self.accounts))
        self._index_assets()

    def _index_assets(self) -> None:
        """Every asset held or targeted anywhere, sorted (:attr:`universe`).

        Rows name their asset by its position there (its code), so a chunk's rows sort
        by account, then asset, as integers.
        """
        targeted = self.model if self.books is None else _union(self.books)
        universe = sorted(set(self.names).union(targeted))
        self.asset_code = {name: code for code, name in enumerate(universe)}
        self.universe = np.array(universe, dtype=object)
        self.universe_price = np.array(
            [self.prices.get(name, np.nan) for name in universe], dtype=np.float64
        )
        held = np.array([self.asset_code[name] for name in self.names], dtype=np.int64)
        self.held_code = held[self.codes] if len(held) else np.zeros(0, dtype=np.int64)
        self.model_code = np.array([self.asset_code[name] for name in self.model], dtype=np.int64)
        self.model_weight = np.array(list(self.model.values()), dtype=np.float64)

    def accounts_per(self, rows: int) -> int:
        """About how many accounts lay out as ``rows`` planner rows (at least 1).

        Counts their holdings and their targets (the rows are the union of the two).
        """
        held = int(self.bounds[-1]) if len(self.bounds) else 0
        count = len(self.accounts)
        targeted = len(self.model) * count if self.books is None else sum(map(len, self.books))
        return max(1, rows * count // max(held + targeted, 1))

    def rows(self, start: int, stop: int) -> tuple[Rows, Any] | None:
        """The accounts ``start`` to ``stop`` as the planner's rows, built column-wise.

        The same rows :func:`~rebalancing._book.rows_from_snapshots` lays out from the
        accounts' snapshots (:meth:`snapshots`), their assets an object array, and each
        row's asset as a code (its position in :attr:`universe`); None when an account's
        equity overflows (its snapshot says which).
        """
        count = stop - start
        first, last = int(self.bounds[start]), int(self.bounds[stop])
        quantity = self.quantity[first:last]
        owner = np.repeat(np.arange(count), np.diff(self.bounds[start : stop + 1]))
        with np.errstate(over="ignore", invalid="ignore"):
            values = quantity * self.row_price[first:last]
        if not np.isfinite(values).all():
            return None
        try:
            equity = exact_sums(values, owner, count, base=self.cash[start:stop])
        except OverflowError:
            return None
        if not np.isfinite(equity).all():
            return None
        held = quantity != 0.0
        size = max(len(self.universe), 1)
        held_key = owner[held] * size + self.held_code[first:last][held]
        if self.books is None:
            target_key = (np.arange(count)[:, None] * size + self.model_code).reshape(-1)
            weights = np.tile(self.model_weight, count)
        else:
            books = self.books[start:stop]
            target_owner = np.repeat(np.arange(count), [len(book) for book in books])
            code = self.asset_code
            names = [code[name] for book in books for name in book]
            target_key = target_owner * size + np.array(names, dtype=np.int64)
            weights = np.array([w for book in books for w in book.values()], dtype=np.float64)
        keys, held_at, target_at = _sorted_union(held_key, target_key, count * size)
        current = np.zeros(len(keys))
        current[held_at] = quantity[held]
        requested = np.full(len(keys), np.nan)
        requested[target_at] = weights
        asset = keys % size
        rows = Rows(
            assets=self.universe[asset],
            account=keys // size,
            price=self.universe_price[asset],
            multiplier=np.ones(len(keys)),
            lot=np.full(len(keys), np.nan),
            current=current,
            requested=requested,
            pending={},
            cash=self.cash[start:stop],
            equity=equity,
            margin=np.zeros(count, dtype=bool),
            fractional=np.zeros(count, dtype=bool),
        )
        return rows, asset

    def snapshots(
        self, start: int, stop: int
    ) -> list[tuple[Any, PortfolioSnapshot, dict[str, float]]]:
        """``(account, snapshot, targets)`` of the accounts ``start`` to ``stop``."""
        first = int(self.bounds[start])
        bounds = (self.bounds[start : stop + 1] - first).tolist()
        rows = slice(first, int(self.bounds[stop]))
        assets = self.assets[rows].tolist()
        quantities = self.quantity[rows].tolist()
        row_prices = self.row_price[rows].tolist()
        cash = self.cash[start:stop].tolist()
        accounts = self.accounts[start:stop].tolist()
        out = []
        for index, account in enumerate(accounts):
            begin, end = bounds[index], bounds[index + 1]
            held = assets[begin:end]
            prices = dict(zip(held, row_prices[begin:end], strict=True))
            book = self.model if self.books is None else self.books[start + index]
            for asset in book:
                if asset not in prices and asset in self.prices:
                    prices[asset] = self.prices[asset]
            positions = dict(zip(held, quantities[begin:end], strict=True))
            try:
                snapshot = PortfolioSnapshot(cash[index], positions, prices)
            except RebalancingError as exc:  # an overflow of equity: the rest was checked
                raise type(exc)(f"account {account!r}: {exc}") from exc
            out.append((account, snapshot, book))
        return out


def _union(books: list[dict[str, float]]) -> set[str]:
    """Every asset some account targets."""
    names: set[str] = set()
    for book in books:
        names.update(book)
    return names


def _sorted_union(first: Any, second: Any, space: int) -> tuple[Any, Any, Any]:
    """The distinct integer keys of two arrays, sorted, and where each array's keys are.

    The keys lie in ``range(space)``. They are marked in a dense mask when that is no
    larger than a few times the keys (a model portfolio over a small universe: no sort),
    else sorted.
    """
    if space <= 4 * (len(first) + len(second)):
        mask = np.zeros(space, dtype=bool)
        mask[first] = True
        mask[second] = True
        rank = np.cumsum(mask) - 1
        return np.flatnonzero(mask), rank[first], rank[second]
    keys = np.unique(np.concatenate([first, second]))
    return keys, np.searchsorted(keys, first), np.searchsorted(keys, second)


def _held_names(names: list[str], codes: Any) -> tuple[list[str], Any, Any]:
    """The sorted asset names, and the held rows' assets as codes into them and as names."""
    rank = np.argsort(np.argsort(np.array(names, dtype=object))) if names else np.zeros(0, int)
    return sorted(names), rank[codes], np.array(names, dtype=object)[codes]


def _prices(prices: object) -> dict[str, float]:
    """Asset -> price (> 0) from a mapping or a table of rows ``asset, price``."""
    if is_mapping(prices):
        checked: dict[str, float] = {}
        for key, raw in mapping_items(prices, "prices", InvalidSnapshotError):
            name = check_name(key, "prices key", InvalidSnapshotError)
            checked[name] = to_positive(raw, f"prices[{name!r}]", InvalidSnapshotError)
        return checked
    frame_kind(prices, "prices", InvalidSnapshotError)
    columns, _ = read_columns(
        prices, "prices", ("asset", "price"), InvalidSnapshotError, keys=("asset",)
    )
    assets = _Keys(columns["asset"], "prices", InvalidSnapshotError)
    names = _check_assets(assets, "prices", InvalidSnapshotError, lambda _: "")

    def where(row: int) -> str:
        return f" (asset {assets.at(row)!r})"

    values = _numbers(
        columns["price"], "prices", "price", InvalidSnapshotError, where, positive=True
    )
    _check_unique("prices", InvalidSnapshotError, asset=assets)
    return dict(zip([names[c] for c in assets.codes.tolist()], values.tolist(), strict=True))


def _cash(cash: object) -> dict[Any, float] | None:
    """Account -> cash from a mapping or a table of rows ``account, cash``; None: none."""
    if cash is None:
        return None
    if is_mapping(cash):
        checked: dict[Any, float] = {}
        for account, raw in mapping_items(cash, "cash", InvalidSnapshotError, "account"):
            if _missing(account):
                msg = f"cash has a missing account ({account!r})"
                raise InvalidSnapshotError(msg)
            checked[account] = to_number(raw, f"cash[{account!r}]", InvalidSnapshotError)
        return checked
    frame_kind(cash, "cash", InvalidSnapshotError)
    columns, _ = read_columns(
        cash, "cash", ("account", "cash"), InvalidSnapshotError, keys=("account",)
    )
    accounts = _Keys(columns["account"], "cash", InvalidSnapshotError)
    _check_accounts(accounts, "cash", InvalidSnapshotError)

    def where(row: int) -> str:
        return f" (account {accounts.at(row)!r})"

    values = _numbers(columns["cash"], "cash", "cash", InvalidSnapshotError, where)
    _check_unique("cash", InvalidSnapshotError, account=accounts)
    return dict(zip(accounts.rows(), values.tolist(), strict=True))


def _targets(
    targets: object, rank: dict[Any, int]
) -> tuple[list[dict[str, float]] | None, dict[str, float]]:
    """Per-account target books in account order (None for a model), and the model."""
    if is_mapping(targets):
        return None, target_book(targets, "targets")
    frame_kind(targets, "targets", InvalidTargetsError)
    per_account = "account" in [str(name) for name in targets.columns]  # type: ignore[attr-defined]
    names = ("account", "asset", "weight") if per_account else ("asset", "weight")
    keys = ("account", "asset") if per_account else ("asset",)
    columns, _ = read_columns(targets, "targets", names, InvalidTargetsError, keys=keys)
    assets = _Keys(columns["asset"], "targets", InvalidTargetsError)
    if not per_account:

        def where(row: int) -> str:
            return f" (asset {assets.at(row)!r})"

        asset_names = _check_assets(assets, "targets", InvalidTargetsError, lambda _: "")
        weights = _numbers(columns["weight"], "targets", "weight", InvalidTargetsError, where)
        _check_unique("targets", InvalidTargetsError, asset=assets)
        rows = [asset_names[c] for c in assets.codes.tolist()]
        return None, dict(sorted(zip(rows, weights.tolist(), strict=True)))
    accounts = _Keys(columns["account"], "targets", InvalidTargetsError)
    _check_accounts(accounts, "targets", InvalidTargetsError)

    def where_account(row: int) -> str:
        return f" (account {accounts.at(row)!r})"

    def where_asset(row: int) -> str:
        return f" (account {accounts.at(row)!r}, asset {assets.at(row)!r})"

    asset_names = _check_assets(assets, "targets", InvalidTargetsError, where_account)
    weights = _numbers(columns["weight"], "targets", "weight", InvalidTargetsError, where_asset)
    _check_unique("targets", InvalidTargetsError, account=accounts, asset=assets)
    books: list[dict[str, float] | None] = [None] * len(rank)
    grouped: dict[Any, dict[str, float]] = {}
    for account, code, weight in zip(
        accounts.rows(), assets.codes.tolist(), weights.tolist(), strict=True
    ):
        grouped.setdefault(account, {})[asset_names[code]] = weight
    for account, book in grouped.items():
        if account not in rank:
            msg = f"targets has account {account!r}, which is in neither holdings nor cash"
            raise InvalidTargetsError(msg)
        books[rank[account]] = dict(sorted(book.items()))
    for account, position in rank.items():
        if books[position] is None:
            msg = (
                f"targets has no rows for account {account!r}: give every account its "
                "weights (a weight of 0 closes a position)"
            )
            raise InvalidTargetsError(msg)
    return books, {}  # type: ignore[return-value]

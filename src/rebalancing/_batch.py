"""Many accounts at once: :func:`compute_trades_many` and :func:`plan_table`.

Both plan every account with :func:`~rebalancing.compute_trades` itself: there is no
second planner, so a batch plan is always exactly the plans of its accounts. What is done
once for the whole batch is everything around the planner: validating the input
(all of it, before any account is planned), grouping rows by account, and turning the
plans into columns.

``plan_table`` reads long tables (pandas or polars DataFrames, see ``_tables``) and
imports numpy only when called, so ``import rebalancing`` never needs numpy, pandas or
polars.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

from ._config import RebalanceConfig
from ._plan import compute_trades, validate_targets
from ._result import Action, RebalancePlan, SkipReason
from ._snapshot import PortfolioSnapshot, Side
from ._tables import Column, frame_kind, read_columns, write_frame
from ._validation import check_name, mapping_items, to_number, to_positive
from .exceptions import (
    InvalidConfigError,
    InvalidSnapshotError,
    InvalidTargetsError,
    MissingPriceError,
    RebalancingError,
)

__all__ = ["DECISION_COLUMNS", "ORDER_COLUMNS", "compute_trades_many", "plan_table"]

#: Columns of the orders table, in order.
ORDER_COLUMNS = (
    "account",
    "asset",
    "side",
    "quantity",
    "price",
    "value",
    "estimated_cost",
    "action",
)
#: Columns of the decisions table, in order.
DECISION_COLUMNS = (
    "account",
    "asset",
    "price",
    "current_quantity",
    "current_weight",
    "requested_weight",
    "target_weight",
    "projected_quantity",
    "projected_weight",
    "skip_reason",
    "adjustments",
)
#: The columns of either table that hold text (``None`` where missing).
_STRING_COLUMNS = frozenset({"asset", "side", "action", "skip_reason", "adjustments"})
#: Accounts planned between two conversions of their plans to columns. Small, so the
#: plans' objects mostly die before the garbage collector promotes them to its oldest
#: generation (whose full scans then stay rare): 32 was 20-25% faster than 256 at
#: 20,000 accounts, and per-chunk numpy overhead is still negligible.
_CHUNK = 32


# -- compute_trades_many ---------------------------------------------------------------


def compute_trades_many(
    snapshots: Iterable[PortfolioSnapshot],
    targets: Mapping[str, float] | Iterable[Mapping[str, float]],
    config: RebalanceConfig | Iterable[RebalanceConfig | None] | None = None,
) -> tuple[RebalancePlan, ...]:
    """Plan many accounts: one :class:`RebalancePlan` per snapshot, in order.

    Each plan is exactly ``compute_trades(snapshot, its_targets, its_config)``; the batch
    only validates everything first, so a bad snapshot, target or config anywhere
    raises before any account is planned.

    Args:
        snapshots: The accounts (any iterable of :class:`PortfolioSnapshot`).
        targets: One mapping asset -> weight for every account (a model portfolio), or
            an iterable of mappings, one per snapshot.
        config: One config for every account (``None``: ``RebalanceConfig()``), or an
            iterable of configs (or ``None``), one per snapshot: a configuration sweep.

    Returns:
        A tuple of plans, the i-th for the i-th snapshot.

    Raises:
        InvalidSnapshotError: an item of ``snapshots`` is not a snapshot.
        InvalidTargetsError: a weight is bad, or there are not as many target mappings
            as snapshots; the message names ``targets[i]``.
        InvalidConfigError: a config is not a :class:`RebalanceConfig`, or there are not
            as many configs as snapshots.

    >>> from rebalancing import PortfolioSnapshot, compute_trades_many
    >>> prices = {"AAA": 100.0, "BBB": 50.0}
    >>> accounts = [
    ...     PortfolioSnapshot(10_000.0, {}, prices),
    ...     PortfolioSnapshot(0.0, {"AAA": 100}, prices),
    ... ]
    >>> plans = compute_trades_many(accounts, {"AAA": 0.5, "BBB": 0.5})
    >>> [[(o.side.value, o.asset, o.quantity) for o in plan] for plan in plans]
    [[('buy', 'AAA', 50), ('buy', 'BBB', 100)], [('sell', 'AAA', 50), ('buy', 'BBB', 100)]]
    """
    accounts = _snapshots(snapshots)
    books = _books(targets, len(accounts))
    configs = _configs(config, len(accounts))
    return tuple(
        _plan_one(snapshot, book, chosen, f"snapshots[{index}]")
        for index, (snapshot, book, chosen) in enumerate(zip(accounts, books, configs, strict=True))
    )


def _plan_one(
    snapshot: PortfolioSnapshot, book: dict[str, float], config: RebalanceConfig, where: str
) -> RebalancePlan:
    """``compute_trades`` for one account of a batch; its errors name the account."""
    try:
        return compute_trades(snapshot, book, config)
    except RebalancingError as exc:  # an overflow: only found while planning
        raise type(exc)(f"{where}: {exc}") from exc


def _snapshots(snapshots: object) -> tuple[PortfolioSnapshot, ...]:
    if isinstance(snapshots, PortfolioSnapshot | str | bytes | Mapping) or not isinstance(
        snapshots, Iterable
    ):
        msg = (
            "snapshots must be an iterable of PortfolioSnapshot (a list, a tuple...), "
            f"got {type(snapshots).__name__}"
        )
        raise InvalidSnapshotError(msg)
    accounts = tuple(snapshots)
    for index, snapshot in enumerate(accounts):
        if not isinstance(snapshot, PortfolioSnapshot):
            msg = f"snapshots[{index}] must be a PortfolioSnapshot, got {type(snapshot).__name__}"
            raise InvalidSnapshotError(msg)
    return accounts


def _is_mapping(value: object) -> bool:
    """Mapping-like (a dict, a pandas Series): has ``items()`` and is not a sequence."""
    if isinstance(value, Mapping):
        return True
    if type(value).__name__ == "DataFrame":
        return False  # a table, though pandas' has items()
    return not isinstance(value, list | tuple | str | bytes) and callable(
        getattr(value, "items", None)
    )


def _book(targets: object, label: str) -> dict[str, float]:
    """Validated target weights; errors name where the mapping came from."""
    try:
        return validate_targets(targets)
    except InvalidTargetsError as exc:
        msg = f"{label}: {exc}"
        raise InvalidTargetsError(msg) from exc


def _books(targets: object, count: int) -> list[dict[str, float]]:
    if _is_mapping(targets):
        return [_book(targets, "targets")] * count
    if isinstance(targets, str | bytes) or not isinstance(targets, Iterable):
        msg = (
            "targets must be a mapping asset -> weight (one model for every snapshot) or an "
            f"iterable of such mappings (one per snapshot), got {type(targets).__name__}"
        )
        raise InvalidTargetsError(msg)
    books = tuple(targets)
    if len(books) != count:
        msg = (
            f"targets has {len(books)} mappings for {count} snapshots: give one per "
            "snapshot, or a single mapping for all"
        )
        raise InvalidTargetsError(msg)
    return [_book(book, f"targets[{index}]") for index, book in enumerate(books)]


def _one_config(config: object, label: str = "config") -> RebalanceConfig:
    if config is None:
        return RebalanceConfig()
    if isinstance(config, RebalanceConfig):
        return config
    msg = f"{label} must be a RebalanceConfig or None, got {type(config).__name__} {config!r}"
    raise InvalidConfigError(msg)


def _configs(config: object, count: int) -> list[RebalanceConfig]:
    if config is None or isinstance(config, RebalanceConfig):
        return [_one_config(config)] * count
    if isinstance(config, str | bytes | Mapping) or not isinstance(config, Iterable):
        msg = (
            "config must be a RebalanceConfig, None, or an iterable of them (one per "
            f"snapshot), got {type(config).__name__} {config!r}"
        )
        raise InvalidConfigError(msg)
    configs = tuple(config)
    if len(configs) != count:
        msg = f"config has {len(configs)} configs for {count} snapshots: give one per snapshot"
        raise InvalidConfigError(msg)
    return [_one_config(item, f"config[{index}]") for index, item in enumerate(configs)]


# -- plan_table: reading and validating ------------------------------------------------


def _numpy() -> Any:
    try:
        import numpy as np  # noqa: PLC0415 - optional: only plan_table needs it
    except ImportError as exc:  # pragma: no cover - pandas and polars both bring numpy
        msg = "plan_table needs numpy: install rebalancing[pandas] or rebalancing[polars]"
        raise ImportError(msg) from exc
    return np


def _missing(value: object) -> bool:
    """None, NaN, pandas' NA or NaT: a key that is not there."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


class _Keys:
    """A factorized key column: ``codes[row]`` indexes ``values``; ``rows`` is the input."""

    def __init__(self, column: Any, label: str, error: type[RebalancingError]) -> None:
        np = _numpy()
        self.raw: list[Any] = column.tolist()
        index: dict[Any, int] = {}
        try:
            codes = [index.setdefault(value, len(index)) for value in self.raw]
        except TypeError:
            row = next(r for r, v in enumerate(self.raw) if _unhashable(v))
            msg = f"{label} row {row}: {self.raw[row]!r} is not a valid key (unhashable)"
            raise error(msg) from None
        self.codes = np.asarray(codes, dtype=np.int64)
        self.values: list[Any] = list(index)

    def first_row(self, value: object) -> int:
        return next(r for r, v in enumerate(self.raw) if v is value or v == value)


def _unhashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return True
    return False


def _check_accounts(keys: _Keys, label: str, error: type[RebalancingError]) -> None:
    for value in keys.values:
        if _missing(value):
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
    np = _numpy()
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


def _first_duplicate(keys: Any) -> tuple[int, int] | None:
    """Rows ``(i, j)``, i < j, of the first repeated key in sort order, or None."""
    np = _numpy()
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    if same.size == 0:
        return None
    return int(order[same[0]]), int(order[same[0] + 1])


class _Table:
    """The validated input of :func:`plan_table`, grouped by account (sorted)."""

    def __init__(  # noqa: PLR0915 - one pass of checks, in the order errors are reported
        self, holdings: Any, targets: object, prices: object, cash: object
    ) -> None:
        np = _numpy()
        self.kind = frame_kind(holdings, "holdings", InvalidSnapshotError)
        columns, dtypes = read_columns(
            holdings, "holdings", ("account", "asset", "quantity"), InvalidSnapshotError
        )
        self.account_dtype = dtypes["account"]
        accounts = _Keys(columns["account"], "holdings", InvalidSnapshotError)
        _check_accounts(accounts, "holdings", InvalidSnapshotError)
        assets = _Keys(columns["asset"], "holdings", InvalidSnapshotError)

        def where(row: int) -> str:
            return f" (account {accounts.raw[row]!r})"

        names = _check_assets(assets, "holdings", InvalidSnapshotError, where)

        def where_asset(row: int) -> str:
            return f" (account {accounts.raw[row]!r}, asset {assets.raw[row]!r})"

        quantity = _numbers(
            columns["quantity"], "holdings", "quantity", InvalidSnapshotError, where_asset
        )
        pair = _first_duplicate(accounts.codes * max(len(names), 1) + assets.codes)
        if pair is not None:
            first, second = pair
            msg = (
                f"holdings has account {accounts.raw[first]!r}, asset {assets.raw[first]!r} "
                f"more than once (rows {first} and {second})"
            )
            raise InvalidSnapshotError(msg)
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
        self.assets = np.array(names, dtype=object)[assets.codes[order]]
        self.quantity = quantity[order]
        self.row_price = row_price[order]
        self.cash = np.array(
            [0.0 if cash_of is None else cash_of[a] for a in self.accounts], dtype=np.float64
        )
        self.accounts = np.fromiter(self.accounts, dtype=object, count=len(self.accounts))

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


def _prices(prices: object) -> dict[str, float]:
    """Asset -> price (> 0) from a mapping or a table of rows ``asset, price``."""
    if _is_mapping(prices):
        checked: dict[str, float] = {}
        for key, raw in mapping_items(prices, "prices", InvalidSnapshotError):
            name = check_name(key, "prices key", InvalidSnapshotError)
            checked[name] = to_positive(raw, f"prices[{name!r}]", InvalidSnapshotError)
        return checked
    frame_kind(prices, "prices", InvalidSnapshotError)
    columns, _ = read_columns(prices, "prices", ("asset", "price"), InvalidSnapshotError)
    assets = _Keys(columns["asset"], "prices", InvalidSnapshotError)
    names = _check_assets(assets, "prices", InvalidSnapshotError, lambda _: "")

    def where(row: int) -> str:
        return f" (asset {assets.raw[row]!r})"

    values = _numbers(
        columns["price"], "prices", "price", InvalidSnapshotError, where, positive=True
    )
    pair = _first_duplicate(assets.codes)
    if pair is not None:
        first, second = pair
        msg = f"prices has asset {assets.raw[first]!r} more than once (rows {first} and {second})"
        raise InvalidSnapshotError(msg)
    return dict(zip([names[c] for c in assets.codes.tolist()], values.tolist(), strict=True))


def _cash(cash: object) -> dict[Any, float] | None:
    """Account -> cash from a mapping or a table of rows ``account, cash``; None: none."""
    if cash is None:
        return None
    if _is_mapping(cash):
        checked: dict[Any, float] = {}
        for account, raw in mapping_items(cash, "cash", InvalidSnapshotError):
            if _missing(account):
                msg = f"cash has a missing account ({account!r})"
                raise InvalidSnapshotError(msg)
            checked[account] = to_number(raw, f"cash[{account!r}]", InvalidSnapshotError)
        return checked
    frame_kind(cash, "cash", InvalidSnapshotError)
    columns, _ = read_columns(cash, "cash", ("account", "cash"), InvalidSnapshotError)
    accounts = _Keys(columns["account"], "cash", InvalidSnapshotError)
    _check_accounts(accounts, "cash", InvalidSnapshotError)

    def where(row: int) -> str:
        return f" (account {accounts.raw[row]!r})"

    values = _numbers(columns["cash"], "cash", "cash", InvalidSnapshotError, where)
    pair = _first_duplicate(accounts.codes)
    if pair is not None:
        msg = (
            f"cash has account {accounts.raw[pair[0]]!r} more than once "
            f"(rows {pair[0]} and {pair[1]})"
        )
        raise InvalidSnapshotError(msg)
    return dict(zip(accounts.raw, values.tolist(), strict=True))


def _targets(
    targets: object, rank: dict[Any, int]
) -> tuple[list[dict[str, float]] | None, dict[str, float]]:
    """Per-account target books in account order (None for a model), and the model."""
    if _is_mapping(targets):
        return None, _book(targets, "targets")
    frame_kind(targets, "targets", InvalidTargetsError)
    per_account = "account" in [str(name) for name in targets.columns]  # type: ignore[attr-defined]
    names = ("account", "asset", "weight") if per_account else ("asset", "weight")
    columns, _ = read_columns(targets, "targets", names, InvalidTargetsError)
    assets = _Keys(columns["asset"], "targets", InvalidTargetsError)
    if not per_account:

        def where(row: int) -> str:
            return f" (asset {assets.raw[row]!r})"

        asset_names = _check_assets(assets, "targets", InvalidTargetsError, lambda _: "")
        weights = _numbers(columns["weight"], "targets", "weight", InvalidTargetsError, where)
        pair = _first_duplicate(assets.codes)
        if pair is not None:
            msg = (
                f"targets has asset {assets.raw[pair[0]]!r} more than once "
                f"(rows {pair[0]} and {pair[1]})"
            )
            raise InvalidTargetsError(msg)
        rows = [asset_names[c] for c in assets.codes.tolist()]
        return None, dict(sorted(zip(rows, weights.tolist(), strict=True)))
    accounts = _Keys(columns["account"], "targets", InvalidTargetsError)
    _check_accounts(accounts, "targets", InvalidTargetsError)

    def where_account(row: int) -> str:
        return f" (account {accounts.raw[row]!r})"

    def where_asset(row: int) -> str:
        return f" (account {accounts.raw[row]!r}, asset {assets.raw[row]!r})"

    asset_names = _check_assets(assets, "targets", InvalidTargetsError, where_account)
    weights = _numbers(columns["weight"], "targets", "weight", InvalidTargetsError, where_asset)
    pair = _first_duplicate(accounts.codes * max(len(asset_names), 1) + assets.codes)
    if pair is not None:
        first, second = pair
        msg = (
            f"targets has account {accounts.raw[first]!r}, asset {assets.raw[first]!r} "
            f"more than once (rows {first} and {second})"
        )
        raise InvalidTargetsError(msg)
    books: list[dict[str, float] | None] = [None] * len(rank)
    grouped: dict[Any, dict[str, float]] = {}
    for account, code, weight in zip(
        accounts.raw, assets.codes.tolist(), weights.tolist(), strict=True
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


# -- plan_table: planning and writing ---------------------------------------------------

#: The numbers of an order, and of a decision, read in one call per object and turned
#: into a 2-d float array in one numpy call (None -> NaN).
_ORDER_NUMBERS = attrgetter("quantity", "price", "estimated_cost", "multiplier")
_ORDER_TEXT = attrgetter("asset", "side", "action")
_DECISION_NUMBERS = attrgetter(
    "price",
    "current_quantity",
    "current_weight",
    "requested_weight",
    "target_weight",
    "projected_quantity",
    "projected_weight",
)
_DECISION_TEXT = attrgetter("asset", "skip_reason", "adjustments")


def plan_table(
    holdings: Any,
    targets: Any,
    *,
    prices: Any,
    cash: Any = None,
    config: RebalanceConfig | None = None,
) -> tuple[Any, Any]:
    """Plan every account of a long holdings table: ``(orders, decisions)`` tables.

    Each account is planned by :func:`~rebalancing.compute_trades` on its own snapshot:
    cash from ``cash``, positions from its ``holdings`` rows, and the prices of its held
    and targeted assets. Every input is validated, all of it, before any account is
    planned. See the docs page *Many accounts* for every rule.

    Args:
        holdings: A pandas or polars DataFrame with the columns ``account, asset,
            quantity`` (one row per account and asset; other columns are ignored).
        targets: One model for every account: a mapping asset -> weight or a table with
            ``asset, weight``; or a weight per account: a table with ``account, asset,
            weight`` that has rows for every account.
        prices: A mapping asset -> price or a table ``asset, price``. Every held asset
            needs one; a targeted asset without one is skipped (``no_price``).
        cash: A mapping account -> cash or a table ``account, cash`` with a row for every
            account in ``holdings`` (accounts only here hold just cash); ``None``: every
            account has no cash.
        config: One :class:`RebalanceConfig` for every account.

    Returns:
        ``(orders, decisions)``, DataFrames of the kind of ``holdings``. ``orders`` has
        the columns ``account, asset, side, quantity, price, value, estimated_cost,
        action``, accounts sorted, each account's orders in submission order;
        ``decisions`` has one row per account and asset (sorted) with ``price,
        current_quantity, current_weight, requested_weight, target_weight,
        projected_quantity, projected_weight, skip_reason, adjustments``.

    Raises:
        InvalidSnapshotError: a bad holdings, cash or prices row (missing account,
            bad asset name, a number that is not finite, a duplicate row, an account
            without a cash row); the message names the row, account, asset and column.
        MissingPriceError: a held asset has no price.
        InvalidTargetsError: a bad targets row, or an account without targets.
        InvalidConfigError: ``config`` is not a :class:`RebalanceConfig`.
    """
    chosen = _one_config(config)
    table = _Table(holdings, targets, prices, cash)
    np = _numpy()
    order_parts: list[dict[str, Any]] = []
    decision_parts: list[dict[str, Any]] = []
    count = len(table.accounts)
    for start in range(0, count, _CHUNK):
        accounts = table.snapshots(start, min(start + _CHUNK, count))
        plans = [
            _plan_one(snapshot, book, chosen, f"account {a!r}") for a, snapshot, book in accounts
        ]
        orders, decisions = _columns(plans, [account for account, _, _ in accounts], np)
        order_parts.append(orders)
        decision_parts.append(decisions)
    return (
        _write(table, order_parts, ORDER_COLUMNS, np),
        _write(table, decision_parts, DECISION_COLUMNS, np),
    )


#: Every enum member a plan holds, and None, to the plain string (or None) it is written as.
_TEXT: dict[Any, str | None] = {
    None: None,
    **{member: str(member.value) for kind in (Side, Action, SkipReason) for member in kind},
}


def _columns(
    plans: list[RebalancePlan], accounts: list[Any], np: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plans of consecutive accounts as order and decision columns (numpy arrays).

    Text is kept in object arrays, not lists: the garbage collector does not scan them.
    """

    def text(values: Any) -> Any:
        return np.fromiter(values, dtype=object)

    def account_column(counts: list[int]) -> Any:
        return np.repeat(np.fromiter(accounts, dtype=object, count=len(accounts)), counts)

    orders = [order for plan in plans for order in plan.orders]
    decisions = [decision for plan in plans for decision in plan.decisions]
    numbers = np.array(list(map(_ORDER_NUMBERS, orders)), dtype=np.float64).reshape(-1, 4)
    asset, side, action = list(zip(*map(_ORDER_TEXT, orders), strict=True)) or [()] * 3
    quantity, price, cost, multiplier = numbers.T
    order_columns = {
        "account": account_column([len(plan.orders) for plan in plans]),
        "asset": text(asset),
        "side": text(map(_TEXT.__getitem__, side)),
        "quantity": quantity,
        "price": price,
        "value": quantity * price * multiplier,
        "estimated_cost": cost,
        "action": text(map(_TEXT.__getitem__, action)),
    }
    numbers = np.array(list(map(_DECISION_NUMBERS, decisions)), dtype=np.float64).reshape(-1, 7)
    columns = list(zip(*map(_DECISION_TEXT, decisions), strict=True)) or [()] * 3
    assets, skips, adjustments = columns
    decision_columns = {
        "account": account_column([len(plan.decisions) for plan in plans]),
        "asset": text(assets),
        **dict(zip(DECISION_COLUMNS[2:9], numbers.T, strict=True)),
        "skip_reason": text(map(_TEXT.__getitem__, skips)),
        "adjustments": text(",".join(a) if a else "" for a in adjustments),
    }
    return order_columns, decision_columns


def _write(table: _Table, parts: list[dict[str, Any]], names: tuple[str, ...], np: Any) -> Any:
    columns: dict[str, Column] = {}
    for name in names:
        kind = "native" if name == "account" else "str" if name in _STRING_COLUMNS else "float"
        empty = np.zeros(0, dtype=np.float64 if kind == "float" else object)
        values = np.concatenate([part[name] for part in parts]) if parts else empty
        columns[name] = Column(values, kind, table.account_dtype)
    return write_frame(table.kind, columns)

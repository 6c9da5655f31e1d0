"""The command line's book: holdings, targets and prices merged, with their refusals.

Refuses what would plan something other than what the files say: a target that matches
a holding only by case, a short without ``--allow-short`` and ``--margin``, a weight
outside the account's range, an asset listed twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ._cli_files import (
    _HOLDINGS_COLUMNS,
    _PRICES_COLUMNS,
    _TARGETS_COLUMNS,
    CASH_ROW,
    _asset,
    _csv_rows,
    _fail,
    _is_json,
    _json_rows,
    _json_type,
    _key_locator,
    _load_json,
    _number,
    _price,
    _read,
    _Row,
    _show,
    _Source,
    _weight,
)
from ._config import RebalanceConfig
from ._plan import NOISE


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
class _Account:
    """One account's cash and positions, from the rows that name it."""

    cash: float | None = None
    positions: dict[str, float] = attrs.Factory(dict)


def _check_shorts(book: _Book, *, margin: bool) -> None:
    """Refuse a short holding in a cash account (without ``--margin``).

    A cash account holds no shorts: the plan would buy one back whatever its size, and
    with cash the account may not have. Most likely a sign typed by hand, or a margin
    account's export.
    """
    if margin:
        return
    holders: list[tuple[str, _Account | _Book]] = (
        [(f"holding in {label}", account) for label, account in book.accounts.items()]
        if book.accounts
        else [("holding", book)]
    )
    for kind, holder in holders:
        for asset in sorted(holder.positions):
            quantity = holder.positions[asset]
            if quantity < 0.0:
                _fail(
                    f"{book.origin[(kind, asset)]}: {asset!r} is held short "
                    f"({quantity:g}), which a cash account cannot; pass --margin for a "
                    "margin account"
                )


@attrs.define
class _Book:
    """Holdings, targets and prices read so far, with where each value came from.

    With an ``account`` column, ``accounts`` holds each account (in the order they first
    appear) and ``positions`` every account's holdings together, for the checks.
    """

    cash: float | None = None
    positions: dict[str, float] = attrs.Factory(dict)
    accounts: dict[str, _Account] = attrs.Factory(dict)
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
    with_accounts = any(row.cells.get("account") not in (None, "") for row in rows)
    for row in rows:
        asset = _asset(row.cells.get("asset"), row.where("asset"))
        account = _account(row) if with_accounts else None
        holder = book if account is None else book.accounts.setdefault(account, _Account())
        kind = "holding" if account is None else f"holding in {account}"
        if asset.lower() == CASH_ROW:
            price = row.cells.get("price")
            if _price(price, row.where("price")) not in (None, 1.0):
                _fail(f"{row.where('price')}: the cash row takes no price, got {price!r}")
            book.note(kind, CASH_ROW, row.where(None))
            holder.cash = _number(row.cells.get("quantity"), row.where("quantity"))
            continue
        book.note(kind, asset, row.where(None))
        book.origin.setdefault(("holding", asset), row.where(None))
        quantity = _number(row.cells.get("quantity"), row.where("quantity"))
        price = _price(row.cells.get("price"), row.where("price"))
        holder.positions[asset] = quantity
        if account is not None:
            book.positions[asset] = book.positions.get(asset, 0.0) + abs(quantity)
        if price is not None:
            known = book.prices.get(asset)
            if known is not None and not math.isclose(known, price, rel_tol=1e-9):
                _fail(
                    f"{row.where('price')}: the price of {asset!r} is {price!r} but "
                    f"{book.origin[('price', asset)]} says {known!r}; give it once or use "
                    "--prices"
                )
            book.prices[asset] = price
            book.origin.setdefault(("price", asset), row.where("price"))
        elif quantity != 0.0:
            book.origin.setdefault(("unpriced", asset), row.where("price"))


def _account(row: _Row) -> str:
    """The row's account: a non-blank name, once any row of the file names one."""
    value = row.cells.get("account")
    if value is None or (isinstance(value, str) and not value.strip()):
        _fail(
            f"{row.where('account')}: the account is empty; once a row names its account, "
            "every row must (a CASH row per account gives its cash)"
        )
    if not isinstance(value, str | int):
        _fail(f"{row.where('account')}: expected an account name, got {_json_type(value)}")
    return str(value).strip()


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
    """Refuse a target (or a ``--prices`` row) spelled like an asset except for case.

    Asset names are case-sensitive, so such a target would be a new, unpriced asset while
    the holding it was meant for is sold.
    """
    known: dict[str, str] = {}
    for kind, label in (("holding", "held"), ("override", "priced"), ("price", "priced")):
        for (origin_kind, asset), where in book.origin.items():
            if origin_kind == kind and asset != CASH_ROW:
                known.setdefault(asset, f"{label} at {where}")
    for target in sorted(book.targets):
        if target in known:
            continue  # spelled exactly as a held or priced asset: that is the one meant
        for name in sorted(known):
            if name != target and name.casefold() == target.casefold():
                _fail(
                    f"{book.origin[('target', target)]}: the target {target!r} matches "
                    f"{name!r} ({known[name]}) only by case; asset names are case-sensitive, "
                    "so spell them the same in every file"
                )
    # A --prices row spelled like a held or targeted asset except for case would leave
    # that asset at the holdings' (stale) price.
    meant = {a for (kind, a), _ in book.origin.items() if kind == "holding"} | set(book.targets)
    for (kind, priced), where in sorted(book.origin.items()):
        if kind != "override" or priced in meant:
            continue
        for name in sorted(meant):
            if name.casefold() == priced.casefold():
                _fail(
                    f"{where}: the price of {priced!r} matches {name!r} only by case; asset "
                    "names are case-sensitive, so spell them the same in every file"
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

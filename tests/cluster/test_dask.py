"""rebalancing.dask.plan_table on a real distributed.LocalCluster with two worker processes."""

import pytest

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")

import dask  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import rebalancing  # noqa: E402
import rebalancing.dask  # noqa: E402
from rebalancing import InvalidSnapshotError, MissingPriceError, RebalanceConfig  # noqa: E402

ASSETS = [f"S{i:02d}" for i in range(8)]
PRICES = {asset: 10.0 + 7.0 * i for i, asset in enumerate(ASSETS)}
MODEL = dict.fromkeys(ASSETS[:6], 0.9 / 6)


@pytest.fixture(scope="module")
def client():
    """A cluster of two worker processes, as in production (one thread each)."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


def book(accounts=300, seed=3):
    """Holdings of ``accounts`` accounts (a few hold nothing), cash for all and some more."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(accounts):
        held = rng.choice(ASSETS, size=int(rng.integers(0, 6)), replace=False)
        rows.extend((f"acct{index:04d}", asset, float(rng.integers(0, 200))) for asset in held)
    holdings = pd.DataFrame(rows, columns=["account", "asset", "quantity"])
    names = [f"acct{index:04d}" for index in range(accounts + 20)]  # 20 with only cash
    cash = pd.DataFrame({"account": names, "cash": rng.uniform(0, 20_000, len(names))})
    return holdings, cash


def in_account_order(frame):
    """Rows sorted by account, each account's own row order kept."""
    return frame.sort_values("account", kind="stable").reset_index(drop=True)


def assert_same(expected, got):
    """Equal tables; Dask stores text as pyarrow strings, so text dtypes may differ."""
    for want, have in zip(expected, got, strict=True):
        pd.testing.assert_frame_equal(
            in_account_order(want), in_account_order(have), check_dtype=False
        )
        numbers = [c for c in want.columns if want[c].dtype == "float64"]
        assert list(want[numbers].dtypes) == list(have[numbers].dtypes)


def test_equals_the_local_plan_table(client):
    """Any partitioning, two worker processes: the same rows as the local plan_table."""
    holdings, cash = book()
    config = RebalanceConfig(cost_rate=0.001, min_trade_value=50.0)
    expected = rebalancing.plan_table(holdings, MODEL, prices=PRICES, cash=cash, config=config)
    # Rows shuffled so that accounts are spread over partitions.
    shuffled = holdings.sample(frac=1.0, random_state=1)

    orders, decisions = rebalancing.dask.plan_table(
        dd.from_pandas(shuffled, npartitions=5),
        MODEL,
        prices=pd.DataFrame({"asset": list(PRICES), "price": list(PRICES.values())}),
        cash=dd.from_pandas(cash, npartitions=3),
        config=config,
    )
    got = dask.compute(orders, decisions)

    assert len(client.scheduler_info()["workers"]) == 2
    assert_same(expected, got)


def test_targets_per_account_and_cash_mapping(client):
    """Per-account targets are shuffled with the holdings; a cash mapping works too."""
    holdings, cash = book(accounts=60, seed=5)
    cash_of = dict(zip(cash["account"], cash["cash"], strict=True))
    targets = pd.DataFrame(
        [(a, asset, 0.2) for a in cash["account"] for asset in ASSETS[:4]],
        columns=["account", "asset", "weight"],
    )
    expected = rebalancing.plan_table(holdings, targets, prices=PRICES, cash=cash_of)

    got = dask.compute(
        *rebalancing.dask.plan_table(
            dd.from_pandas(holdings, npartitions=3),
            dd.from_pandas(targets, npartitions=2),
            prices=PRICES,
            cash=cash_of,
        )
    )

    assert_same(expected, got)


def test_no_cash(client):
    """cash=None: every account has no cash, as locally."""
    holdings, _ = book(accounts=40, seed=7)
    expected = rebalancing.plan_table(holdings, MODEL, prices=PRICES)

    got = dask.compute(
        *rebalancing.dask.plan_table(dd.from_pandas(holdings, npartitions=2), MODEL, prices=PRICES)
    )

    assert_same(expected, got)


def test_bad_rows_raise_when_computed(client):
    """The local errors, raised from the workers when the result is computed."""
    holdings, cash = book(accounts=20)
    holdings.loc[len(holdings)] = ["acct0001", "ZZZ", 5.0]
    orders, _ = rebalancing.dask.plan_table(
        dd.from_pandas(holdings, npartitions=2),
        MODEL,
        prices=PRICES,
        cash=dd.from_pandas(cash, npartitions=2),
    )

    with pytest.raises(MissingPriceError, match="prices has no 'ZZZ'"):
        orders.compute()


def test_holdings_must_be_a_dask_frame():
    """A pandas table belongs to rebalancing.plan_table."""
    with pytest.raises(InvalidSnapshotError) as info:
        rebalancing.dask.plan_table(pd.DataFrame(), MODEL, prices=PRICES)

    assert "holdings must be a Dask DataFrame, got DataFrame" == str(info.value)


def test_cash_of_the_wrong_kind():
    """cash is None, a mapping, or a pandas or Dask table."""
    holdings, _ = book(accounts=5)
    with pytest.raises(InvalidSnapshotError) as info:
        rebalancing.dask.plan_table(
            dd.from_pandas(holdings, npartitions=1), MODEL, prices=PRICES, cash=[1.0]
        )

    assert "cash must be None, a mapping, or a pandas or Dask DataFrame, got list" == str(
        info.value
    )


def test_pandas_cash_and_targets_per_account(client):
    """pandas tables of cash and per-account targets are shuffled like the holdings."""
    holdings, cash = book(accounts=40, seed=11)
    targets = pd.DataFrame(
        [(a, asset, 0.3) for a in cash["account"] for asset in ASSETS[2:5]],
        columns=["account", "asset", "weight"],
    )
    expected = rebalancing.plan_table(holdings, targets, prices=PRICES, cash=cash)

    got = dask.compute(
        *rebalancing.dask.plan_table(
            dd.from_pandas(holdings, npartitions=3), targets, prices=PRICES, cash=cash
        )
    )

    assert_same(expected, got)

"""Real-portfolio features: tolerance bands, buy-only and sell-only plans, sleeves."""

import math

from hypothesis import given
from hypothesis import strategies as st

from rebalancing import (
    Action,
    PendingOrder,
    PortfolioSnapshot,
    RebalanceConfig,
    Side,
    SkipReason,
    TradeDirection,
    compute_trades,
)
from rebalancing.testing import check_plan, rebalance_configs, snapshots, target_weights

#: Relative tolerance for float sums in the properties.
EPS = 1e-9

ASSETS = ("AAA", "BBB", "CCC", "DDD", "EEE")


def trades(plan):
    """(side, asset, quantity) of each order, in submission order."""
    return [(order.side.value, order.asset, order.quantity) for order in plan]


@st.composite
def accounts(draw, *, fractional=None):
    """A long-only account over a few assets, every one priced."""
    prices = {a: draw(st.floats(1.0, 500.0)) for a in ASSETS}
    held = draw(st.lists(st.sampled_from(ASSETS), unique=True, max_size=len(ASSETS)))
    positions = {a: draw(st.integers(1, 2_000)) for a in held}
    cash = draw(st.floats(0.0, 200_000.0))
    if fractional is None:
        fractional = draw(st.booleans())
    return PortfolioSnapshot(cash, positions, prices, fractional=fractional)


@st.composite
def weights(draw, *, assets=ASSETS, min_size=1):
    """Long-only target weights over some of ``assets`` that sum to at most 1."""
    chosen = draw(st.lists(st.sampled_from(assets), unique=True, min_size=min_size))
    raw = [draw(st.floats(0.0, 1.0)) for _ in chosen]
    total = max(1.0, math.fsum(raw))
    return {a: w / total for a, w in zip(chosen, raw, strict=True)}


@st.composite
def configs(draw, **fixed):
    """Configs over the thresholds, rounding and costs, with ``fixed`` fields as given."""
    fields = {
        "min_trade_value": draw(st.sampled_from([0.0, 10.0, 100.0])),
        "min_weight_change": draw(st.sampled_from([0.0, 0.01, 0.05])),
        "relative_band": draw(st.sampled_from([None, 0.1, 0.25])),
        "cost_rate": draw(st.sampled_from([0.0, 0.001])),
        "cost_per_order": draw(st.sampled_from([0.0, 1.0])),
        "rounding": draw(st.sampled_from(["down", "closest"])),
    }
    fields.update(fixed)
    return RebalanceConfig(**fields)


class TestRelativeBand:
    def test_five_twenty_five_small_target_is_due(self):
        """5/25: a 10% target at 7% is due (3 points >= 25% of 10) though under 5 points."""
        snap = PortfolioSnapshot(9_300.0, {"A": 70}, {"A": 10.0})
        config = RebalanceConfig(min_weight_change=0.05, relative_band=0.25, min_trade_value=0)

        assert [("buy", "A", 30)] == trades(compute_trades(snap, {"A": 0.10}, config))

    def test_five_twenty_five_large_target_waits(self):
        """5/25: a 60% target at 57% is not due (3 points < 5 and < 25% of 60)."""
        snap = PortfolioSnapshot(4_300.0, {"A": 570}, {"A": 10.0})
        config = RebalanceConfig(min_weight_change=0.05, relative_band=0.25, min_trade_value=0)
        plan = compute_trades(snap, {"A": 0.60}, config)

        assert () == plan.orders
        assert SkipReason.WEIGHT_CHANGE_TOO_SMALL == plan.decision("A").skip_reason

    def test_five_twenty_five_large_drift_is_due(self):
        """5/25: a 60% target at 54% is due by the absolute band (6 points >= 5)."""
        snap = PortfolioSnapshot(4_600.0, {"A": 540}, {"A": 10.0})
        config = RebalanceConfig(min_weight_change=0.05, relative_band=0.25, min_trade_value=0)

        assert [("buy", "A", 60)] == trades(compute_trades(snap, {"A": 0.60}, config))

    def test_no_band_is_the_absolute_rule(self):
        """Without a relative band, the 10% target at 7% waits under a 5-point rule."""
        snap = PortfolioSnapshot(9_300.0, {"A": 70}, {"A": 10.0})
        config = RebalanceConfig(min_weight_change=0.05, min_trade_value=0)

        assert () == compute_trades(snap, {"A": 0.10}, config).orders

    def test_band_does_not_override_min_trade_value(self):
        """A trade due by the band is still skipped when worth less than min_trade_value."""
        snap = PortfolioSnapshot(930.0, {"A": 7}, {"A": 10.0})
        config = RebalanceConfig(min_weight_change=0.05, relative_band=0.25, min_trade_value=100)
        plan = compute_trades(snap, {"A": 0.10}, config)

        assert SkipReason.TRADE_VALUE_TOO_SMALL == plan.decision("A").skip_reason

    @given(snap=accounts(fractional=True), targets=weights(), band=st.sampled_from([0.1, 0.25]))
    def test_every_order_passes_one_of_the_bands(self, snap, targets, band):
        """Every order that is not a close moves its weight by the absolute or relative band."""
        config = RebalanceConfig(min_weight_change=0.05, relative_band=band, min_trade_value=0)
        plan = compute_trades(snap, targets, config)

        for order in plan:
            if order.action is Action.CLOSE:
                continue
            change = order.value / plan.equity
            target = plan.decision(order.asset).target_weight
            assert change >= 0.05 * (1 - EPS) or change >= band * abs(target) * (1 - EPS)

    @given(snap=accounts(fractional=True), targets=weights(), band=st.sampled_from([0.1, 0.25]))
    def test_skipped_for_weight_change_is_inside_both_bands(self, snap, targets, band):
        """An asset skipped for a small weight change is within both bands of its target."""
        config = RebalanceConfig(min_weight_change=0.05, relative_band=band, min_trade_value=0)
        plan = compute_trades(snap, targets, config)

        for decision in plan.decisions:
            if decision.skip_reason is not SkipReason.WEIGHT_CHANGE_TOO_SMALL:
                continue
            drift = abs(decision.target_weight - decision.current_weight)
            assert drift < 0.05 * (1 + EPS)
            assert drift < band * abs(decision.target_weight) * (1 + EPS)


class TestBuyOnly:
    def test_new_cash_goes_to_the_under_weight_asset(self):
        """A contribution buys the under-weight asset and never sells the over-weight one."""
        snap = PortfolioSnapshot(2_000.0, {"A": 70, "B": 30}, {"A": 100.0, "B": 100.0})
        config = RebalanceConfig(direction=TradeDirection.BUY_ONLY)
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5}, config)

        assert [("buy", "B", 20)] == trades(plan)
        assert SkipReason.DIRECTION == plan.decision("A").skip_reason
        assert 0.0 == plan.projected_cash

    def test_short_cash_goes_to_the_most_under_weight_first(self):
        """When cash cannot reach every target, the most under-weight asset is funded first."""
        prices = {"A": 10.0, "B": 10.0, "C": 10.0}
        snap = PortfolioSnapshot(1_000.0, {"A": 500, "B": 300, "C": 200}, prices)
        config = RebalanceConfig(direction=TradeDirection.BUY_ONLY, min_trade_value=0)
        plan = compute_trades(snap, {"A": 0.3, "B": 0.3, "C": 0.4}, config)

        # Equity 11,000: B wants +300, C wants +240; 1,000 cash closes the largest gap first.
        bought = {order.asset: order.quantity for order in plan}
        assert bought["C"] >= bought.get("B", 0)
        assert 1_000.0 >= sum(order.value for order in plan)
        assert SkipReason.DIRECTION == plan.decision("A").skip_reason

    def test_no_cash_no_orders(self):
        """With no cash, buying only plans nothing, however far off the weights are."""
        snap = PortfolioSnapshot(0.0, {"A": 90, "B": 10}, {"A": 100.0, "B": 100.0})
        config = RebalanceConfig(direction=TradeDirection.BUY_ONLY)

        assert () == compute_trades(snap, {"A": 0.5, "B": 0.5}, config).orders

    def test_untargeted_holding_is_not_sold(self):
        """Buying only never closes a holding that dropped out of the targets."""
        snap = PortfolioSnapshot(1_000.0, {"X": 10}, {"X": 100.0, "A": 10.0})
        config = RebalanceConfig(direction=TradeDirection.BUY_ONLY)
        plan = compute_trades(snap, {"A": 0.5}, config)

        assert [("buy", "A", 100)] == trades(plan)
        assert SkipReason.DIRECTION == plan.decision("X").skip_reason

    @given(snap=accounts(), targets=weights(), config=configs(direction="buy_only"))
    def test_never_sells_and_never_overspends(self, snap, targets, config):
        """BUY_ONLY sends no sell and spends at most the cash there is, costs included."""
        plan = compute_trades(snap, targets, config)

        assert [] == [order for order in plan if order.side is Side.SELL]
        spent = math.fsum(order.value + order.estimated_cost for order in plan)
        assert spent <= max(snap.cash, 0.0) + EPS * max(plan.equity, 1.0)
        assert plan.projected_cash >= -EPS * max(plan.equity, 1.0)


class TestSellOnly:
    def test_raise_cash_by_trimming(self):
        """Targets that sum to 90% raise 10% cash by selling; nothing is bought."""
        snap = PortfolioSnapshot(0.0, {"A": 60, "B": 40}, {"A": 100.0, "B": 100.0})
        config = RebalanceConfig(direction=TradeDirection.SELL_ONLY)
        plan = compute_trades(snap, {"A": 0.5, "B": 0.4}, config)

        assert [("sell", "A", 10)] == trades(plan)
        assert 1_000.0 == plan.projected_cash

    def test_under_weight_asset_is_not_bought(self):
        """An under-weight asset gets a direction skip, even with cash to spare."""
        snap = PortfolioSnapshot(5_000.0, {"A": 80}, {"A": 100.0, "B": 100.0})
        config = RebalanceConfig(direction=TradeDirection.SELL_ONLY)
        plan = compute_trades(snap, {"A": 0.5, "B": 0.5}, config)

        assert [("sell", "A", 15)] == trades(plan)
        assert SkipReason.DIRECTION == plan.decision("B").skip_reason

    @given(snap=accounts(), targets=weights(), config=configs(direction="sell_only"))
    def test_never_buys(self, snap, targets, config):
        """SELL_ONLY sends no buy, and projected cash never falls below cash before."""
        plan = compute_trades(snap, targets, config)

        assert [] == [order for order in plan if order.side is Side.BUY]
        assert plan.projected_cash >= snap.cash - EPS * max(plan.equity, 1.0) - math.fsum(
            order.estimated_cost for order in plan
        )


class TestSleeve:
    def test_untargeted_holding_is_left_alone(self):
        """With close_untargeted off, a holding outside the targets gets no order."""
        snap = PortfolioSnapshot(5_000.0, {"X": 50, "A": 10}, {"X": 100.0, "A": 100.0, "B": 50.0})
        config = RebalanceConfig(close_untargeted=False)
        plan = compute_trades(snap, {"A": 0.3, "B": 0.2}, config)

        assert [("buy", "A", 23), ("buy", "B", 44)] == trades(plan)
        assert SkipReason.NOT_TARGETED == plan.decision("X").skip_reason
        assert 50 == plan.decision("X").projected_quantity

    def test_untargeted_holding_counts_toward_equity(self):
        """Sleeve weights are fractions of the whole account, the untouched holding included."""
        snap = PortfolioSnapshot(5_000.0, {"X": 50}, {"X": 100.0, "A": 100.0})
        config = RebalanceConfig(close_untargeted=False)
        plan = compute_trades(snap, {"A": 0.5}, config)

        assert 10_000.0 == plan.equity
        assert [("buy", "A", 50)] == trades(plan)

    def test_default_closes_untargeted(self):
        """By default a holding outside the targets is closed (the whole account is managed)."""
        snap = PortfolioSnapshot(5_000.0, {"X": 50}, {"X": 100.0, "A": 100.0})
        plan = compute_trades(snap, {"A": 0.5}, RebalanceConfig())

        assert ("sell", "X", 50) in trades(plan)

    def test_sleeve_does_not_spend_the_untouched_value(self):
        """A sleeve asked to hold more than the free cash is limited by cash, not by selling X."""
        snap = PortfolioSnapshot(1_000.0, {"X": 90}, {"X": 100.0, "A": 10.0})
        config = RebalanceConfig(close_untargeted=False)
        plan = compute_trades(snap, {"A": 0.5}, config)

        assert [] == [order for order in plan if order.asset == "X"]
        assert plan.projected_cash >= 0.0

    @given(
        snap=accounts(),
        targets=weights(assets=ASSETS[:3]),
        config=configs(close_untargeted=False),
    )
    def test_never_touches_untargeted_assets(self, snap, targets, config):
        """No order and no cancel for an asset outside the targets; it keeps its quantity."""
        plan = compute_trades(snap, targets, config)

        for decision in plan.decisions:
            if decision.asset in targets:
                continue
            assert () == decision.orders
            assert () == decision.cancels
            assert snap.positions.get(decision.asset, 0.0) == decision.projected_quantity
            assert SkipReason.NOT_TARGETED == decision.skip_reason
        assert math.isclose(snap.equity, plan.equity)


class TestWholeDomain:
    """The same properties over everything the shipped strategies draw: shorts, pending
    orders, multipliers, lots, costs, buffers and every config field."""

    @given(data=st.data(), direction=st.sampled_from(["buy_only", "sell_only"]))
    def test_direction_holds_for_any_account(self, data, direction):
        """BUY_ONLY sends no sell and SELL_ONLY no buy, shorts and pending orders included."""
        snap = data.draw(snapshots())
        targets = data.draw(target_weights(assets=list(snap.prices)))
        config = data.draw(rebalance_configs(direction=direction))
        plan = compute_trades(snap, targets, config)

        blocked = Side.SELL if direction == "buy_only" else Side.BUY
        assert [] == [order for order in plan if order.side is blocked]

    @given(data=st.data())
    def test_sleeve_holds_for_any_account(self, data):
        """A sleeve never orders or cancels anything for an asset outside its targets."""
        snap = data.draw(snapshots(min_assets=1))
        assets = sorted(snap.prices)
        chosen = data.draw(st.lists(st.sampled_from(assets), unique=True, max_size=len(assets)))
        targets = data.draw(target_weights(assets=chosen)) if chosen else {}
        config = data.draw(rebalance_configs(close_untargeted=False))
        plan = compute_trades(snap, targets, config)

        untouched = [d for d in plan.decisions if d.asset not in targets]
        assert [] == [d.asset for d in untouched if d.orders or d.cancels]
        assert {SkipReason.NOT_TARGETED} >= {d.skip_reason for d in untouched}


class TestFoundByProperties:
    def test_uncounted_pending_sell_never_leaves_a_short(self):
        """Pending sells kept but not counted (account_for_pending off) never end short."""
        pending = [PendingOrder("s", "AAPL", Side.SELL, 2.0)]
        snap = PortfolioSnapshot(1.0, {}, {"AAPL": 1.0}, pending_orders=pending, fractional=True)
        config = RebalanceConfig(
            min_trade_value=0,
            min_weight_change=0,
            cancel_before_rebalance=False,
            account_for_pending=False,
            direction="buy_only",
        )
        plan = compute_trades(snap, {"AAPL": 1.0}, config)

        check_plan(snap, {"AAPL": 1.0}, config, plan)
        assert plan.decision("AAPL").projected_quantity >= 0.0

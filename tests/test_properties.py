"""Hypothesis properties: one per invariant of DESIGN.md, driven by rebalancing.testing."""

import copy
import math

import attrs
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from coarse_books import coarse_books
from rebalancing import (
    Action,
    PendingOrder,
    PortfolioSnapshot,
    RebalanceConfig,
    Rounding,
    Side,
    SkipReason,
    TradeDirection,
    compute_trades,
)
from rebalancing._rounding import NOISE
from rebalancing.testing import (
    asset_names,
    check_plan,
    rebalance_configs,
    snapshots,
    target_weights,
)


@st.composite
def plan_inputs(draw, snapshot=None, targets=None, config=None):
    """A snapshot, targets over its assets (and some unpriced ones) and a config."""
    snap = draw(snapshots() if snapshot is None else snapshot)
    names = asset_names()
    if snap.prices:
        names = st.sampled_from(sorted(snap.prices)) | names
    weights = draw(target_weights(assets=names) if targets is None else targets)
    cfg = draw(rebalance_configs() if config is None else config)
    return snap, weights, cfg


def rebuilt(snapshot, reverse=False):
    """An equal snapshot built from fresh dicts (keys in reverse order if asked)."""

    def order(mapping):
        items = list(mapping.items())
        return dict(reversed(items) if reverse else items)

    pending = list(snapshot.pending_orders)
    return PortfolioSnapshot(
        snapshot.cash,
        order(snapshot.positions),
        order(snapshot.prices),
        multipliers=order(snapshot.multipliers),
        lot_sizes=order(snapshot.lot_sizes),
        pending_orders=reversed(pending) if reverse else pending,
        fractional=snapshot.fractional,
        margin=snapshot.margin,
    )


def applied(snapshot, plan):
    """The snapshot after the plan filled at the snapshot's prices (no pending left)."""
    positions = dict(snapshot.positions)
    for order in plan:
        positions[order.asset] = positions.get(order.asset, 0.0) + order.signed_quantity
    return PortfolioSnapshot(
        plan.projected_cash,
        positions,
        snapshot.prices,
        multipliers=snapshot.multipliers,
        lot_sizes=snapshot.lot_sizes,
        fractional=snapshot.fractional,
        margin=snapshot.margin,
    )


class TestEveryPlanPassesCheckPlan:
    @given(plan_inputs())
    def test_any_valid_input_gives_a_plan_that_keeps_every_invariant(self, inputs):
        """Every valid input yields a plan that check_plan accepts."""
        snapshot, targets, config = inputs
        plan = compute_trades(snapshot, targets, config)

        check_plan(snapshot, targets, config, plan)
        assert len(plan) == len(plan.orders)

    @given(plan_inputs(config=st.just(RebalanceConfig())))
    def test_the_default_config_keeps_every_invariant(self, inputs):
        """The default config (ml4t's defaults) keeps every invariant too."""
        snapshot, targets, _ = inputs
        plan = compute_trades(snapshot, targets)

        check_plan(snapshot, targets, None, plan)
        assert plan == compute_trades(snapshot, targets, RebalanceConfig())


class TestPurity:
    @given(plan_inputs())
    def test_inputs_are_unchanged(self, inputs):
        """compute_trades changes neither the targets, the snapshot nor the config."""
        snapshot, targets, config = inputs
        before = (copy.deepcopy(targets), rebuilt(snapshot), copy.deepcopy(config))

        compute_trades(snapshot, targets, config)

        assert before == (targets, snapshot, config)

    @given(plan_inputs())
    def test_equal_inputs_give_equal_plans(self, inputs):
        """Equal but distinct inputs give equal plans."""
        snapshot, targets, config = inputs
        again = compute_trades(rebuilt(snapshot), dict(targets), attrs_copy(config))

        assert compute_trades(snapshot, targets, config) == again

    @given(plan_inputs())
    def test_key_order_changes_nothing(self, inputs):
        """Reversing every mapping's key order and the pending orders changes nothing."""
        snapshot, targets, config = inputs
        reordered = dict(reversed(list(targets.items())))

        expected = compute_trades(snapshot, targets, config)

        assert expected == compute_trades(rebuilt(snapshot, reverse=True), reordered, config)


def attrs_copy(config):
    return attrs.evolve(config)


AT_TARGET_CONFIGS = rebalance_configs(
    max_single_weight=1e9, max_gross_leverage=None, cash_buffer=0.0, allow_short=True
)


class TestAtTarget:
    # Margin books are often drawn with equity <= 0, which the check skips: on some seeds
    # that is most of the draws (a randomised run failed the health check). Added to the
    # loaded profile's list, not in place of it: `mutation` suppresses differing_executors.
    @settings(
        suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.filter_too_much]
    )
    @given(snapshots(allow_pending=False, margin=True), AT_TARGET_CONFIGS)
    def test_a_margin_book_at_its_target_trades_nothing(self, snapshot, config):
        """Targets equal to the current weights produce no orders, leverage and shorts too."""
        self.check_nothing_trades(snapshot, config)

    @given(
        snapshots(allow_pending=False, margin=False, allow_shorts=False, min_cash=0.0),
        AT_TARGET_CONFIGS,
    )
    def test_a_cash_book_at_its_target_trades_nothing(self, snapshot, config):
        """The same in a cash account, whose books (no shorts, cash >= 0) sum to at most 1."""
        self.check_nothing_trades(snapshot, config)

    @staticmethod
    def check_nothing_trades(snapshot, config):
        assume(snapshot.equity > 1e-6 * max(1.0, abs(snapshot.cash)))
        targets = {
            asset: snapshot.value_of(asset) / snapshot.equity for asset in snapshot.positions
        }
        # Semantics question for the lead: a target within 1e-9 of 0 is a close, so a
        # dust position exactly at its (dust) target is sold. Excluded until settled.
        assume(all(w == 0 or abs(w) > 1e-9 for w in targets.values()))

        plan = compute_trades(snapshot, targets, config)

        check_plan(snapshot, targets, config, plan)
        assert () == plan.orders
        assert all(d.skip_reason is not None for d in plan.decisions)


IDEMPOTENT_CONFIGS = rebalance_configs(
    allow_fractional=st.sampled_from([None, True]),
    cost_rate=0.0,
    cost_per_order=0.0,
    direction=TradeDirection.BOTH,
)


LOTS_WITHOUT_THRESHOLDS = RebalanceConfig(
    min_trade_value=0.0,
    min_weight_change=0.0,
    allow_fractional=False,
    cancel_before_rebalance=False,
    account_for_pending=False,
)


class TestIdempotence:
    @given(
        plan_inputs(
            snapshot=snapshots(fractional=True, allow_pending=False, allow_lot_sizes=False),
            config=IDEMPOTENT_CONFIGS,
        )
    )
    def test_applying_a_fractional_plan_and_planning_again_gives_no_orders(self, inputs):
        """Fill a fractional plan at the snapshot's prices: the next plan has no orders."""
        snapshot, targets, config = inputs
        first = compute_trades(snapshot, targets, config)
        after = applied(snapshot, first)

        second = compute_trades(after, targets, config)

        assert () == second.orders

    @given(
        plan_inputs(
            snapshot=snapshots(
                fractional=False, allow_pending=False, allow_shorts=False, min_cash=0.0
            ),
            targets=target_weights(allow_shorts=False, max_gross=1.0),
            config=rebalance_configs(
                min_trade_value=0.0,
                min_weight_change=0.0,
                allow_fractional=False,
                cost_rate=0.0,
                cost_per_order=0.0,
                direction=TradeDirection.BOTH,
                rounding=Rounding.DOWN,
                max_single_weight=1.0,
                max_gross_leverage=None,
                close_untargeted=True,
            ),
        )
    )
    # Regressions found by the randomised run: a snapping tolerance relative to the unit
    # count rounded 255,219,920.98 units up to 255,219,921 (over target, and over the
    # cash), so funding cut another buy by a whole lot, and planning again bought it.
    @example(
        inputs=(
            PortfolioSnapshot(
                0.0,
                {"0": 572469.0},
                {"0": 3.0, "AAPL": 1.0, "BRK.B": 1.0, "ES": 0.00390625},
                lot_sizes={"0": 0.001, "BRK.B": 0.001},
            ),
            {"ES": 0.5804988662131519, "BRK.B": 0.1292517006802721, "0": 0.29024943310657597},
            LOTS_WITHOUT_THRESHOLDS,
        )
    )
    @example(
        inputs=(
            PortfolioSnapshot(
                0.0,
                {"0": 572468.3166995686},
                {"0": 3.0, "AAPL": 1.0, "BRK.B": 3.0, "ES": 0.001},
                lot_sizes={"0": 0.001, "BRK.B": 0.001},
            ),
            {"ES": 0.7457627118644068, "BRK.B": 0.1864406779661017, "0": 0.06779661016949153},
            LOTS_WITHOUT_THRESHOLDS,
        )
    )
    # A target within float noise of 0 (1e-10) is a close, even where it is worth a
    # unit of a $0.002 asset in a $19.5m account (found by a randomised run).
    @example(
        inputs=(
            PortfolioSnapshot(19531251.0, prices={"0": 1.0, "AAPL": 0.001953125}),
            {"AAPL": 1e-10},
            LOTS_WITHOUT_THRESHOLDS,
        )
    )
    def test_whole_units_and_lots_land_within_one_increment(self, inputs):
        """Without thresholds and costs, each priced target ends within one unit or lot.

        (Or within float noise of equity: a target that small is a close.)
        """
        snapshot, targets, config = inputs
        assume(snapshot.equity > 0.0)
        plan = compute_trades(snapshot, targets, config)

        for decision in plan.decisions:
            if decision.price is None or decision.asset not in targets:
                continue
            unit = decision.price * snapshot.multiplier(decision.asset)
            wanted = decision.target_weight * snapshot.equity / unit
            increment = snapshot.lot_sizes.get(
                decision.asset, config.lot_size if config.round_lots else 1
            )
            gap = abs(decision.projected_quantity - wanted)
            noise = NOISE * snapshot.equity / unit if abs(decision.target_weight) <= NOISE else 0
            assert gap <= increment * (1 + 1e-9) + 1e-9 * abs(wanted) + noise, decision

        assert () == compute_trades(applied(snapshot, plan), targets, config).orders


class TestCashFloor:
    @given(plan_inputs())
    def test_buys_never_take_cash_below_the_floor(self, inputs):
        """After all orders and estimated costs, a plan with buys keeps cash >= the floor."""
        snapshot, targets, config = inputs
        plan = compute_trades(snapshot, targets, config)
        buys = [o for o in plan if o.side is Side.BUY and o.action is not Action.CLOSE]
        lowest = plan.cash_floor - 1e-9 * max(1.0, plan.equity)

        assert not buys or plan.projected_cash >= lowest

    @given(
        plan_inputs(
            snapshot=snapshots(min_cash=0.0, allow_shorts=False),
            targets=target_weights(allow_shorts=False, max_gross=1.0),
            config=rebalance_configs(close_untargeted=True),
        )
    )
    def test_a_funded_long_book_never_overdraws(self, inputs):
        """Targets summing to at most 1 never plan negative cash or cash under the buffer."""
        snapshot, targets, config = inputs
        plan = compute_trades(snapshot, targets, config)
        buys = any(o.side is Side.BUY and o.action is not Action.CLOSE for o in plan)
        lowest = config.cash_buffer * plan.equity - 1e-9 * max(1.0, plan.equity)

        assert not buys or plan.projected_cash >= lowest


class TestThresholds:
    @given(plan_inputs())
    def test_no_order_below_the_thresholds_except_closes(self, inputs):
        """Every order that is not a close passes min_trade_value and the weight bands."""
        snapshot, targets, config = inputs
        plan = compute_trades(snapshot, targets, config)

        for order in plan:
            if order.action is Action.CLOSE:
                continue
            change = order.value / plan.equity
            target = abs(plan.decision(order.asset).target_weight)
            band = config.relative_band
            assert order.value >= config.min_trade_value * (1 - 1e-9)
            assert change >= config.min_weight_change * (1 - 1e-9) or (
                band is not None and change >= band * target * (1 - 1e-9)
            )


class TestCloses:
    @given(plan_inputs())
    def test_closes_send_exactly_the_held_quantity(self, inputs):
        """A close sends the held quantity, less kept pending orders that close part of it."""
        snapshot, targets, config = inputs
        plan = compute_trades(snapshot, targets, config)
        counted = not config.cancel_before_rebalance and config.account_for_pending

        for order in plan:
            if order.action is not Action.CLOSE:
                continue
            decision = plan.decision(order.asset)
            held = decision.current_quantity + (decision.pending_quantity if counted else 0)
            if decision.pending_quantity and counted:
                assert order.quantity == pytest.approx(abs(held), rel=1e-9)
            else:
                assert abs(held) == order.quantity
            assert -math.copysign(1, held) == order.side.sign

    @given(plan_inputs(config=rebalance_configs(close_untargeted=True)))
    def test_untargeted_holdings_are_closed_or_explained(self, inputs):
        """Every held asset without a target is closed, unless something forbids it."""
        snapshot, targets, config = inputs
        plan = compute_trades(snapshot, targets, config)

        for asset in snapshot.held:
            if asset in targets:
                continue
            decision = plan.decision(asset)
            closes = [o for o in decision.orders if o.action is Action.CLOSE]
            assert closes or decision.skip_reason in {
                SkipReason.DIRECTION,
                SkipReason.PENDING_COVERS,
            }, decision


class TestCaps:
    # account_for_pending=False keeps working orders without counting them: they may
    # then take an asset past its cap, by the user's choice.
    @given(plan_inputs(config=rebalance_configs(rounding=Rounding.DOWN, account_for_pending=True)))
    def test_traded_assets_end_within_the_caps(self, inputs):
        """An asset that trades ends with |w| <= max_single_weight and within the gross cap."""
        snapshot, targets, config = inputs
        plan = compute_trades(snapshot, targets, config)
        assume(plan.equity > 0)

        traded = {order.asset for order in plan}
        for asset in traded:
            weight = plan.projected_weights.get(asset, 0.0)
            assert abs(weight) <= config.max_single_weight * (1 + 1e-9) + 1e-9
        if config.max_gross_leverage is not None and traded == set(plan.projected_weights):
            gross = math.fsum(abs(w) for w in plan.projected_weights.values())
            assert gross <= config.max_gross_leverage * (1 + 1e-9) + 1e-9


class TestShorts:
    @given(plan_inputs(config=rebalance_configs(allow_short=False)))
    def test_no_short_is_planned_unless_allowed(self, inputs):
        """Without allow_short no order opens a short and no sell exceeds the long holding."""
        snapshot, targets, config = inputs
        plan = compute_trades(snapshot, targets, config)

        for order in plan:
            if order.side is Side.SELL:
                held = snapshot.positions.get(order.asset, 0.0)
                assert order.action in {Action.CLOSE, Action.REDUCE}
                assert order.quantity <= held * (1 + 1e-9)
        for decision in plan.decisions:
            if decision.trades:
                assert decision.projected_quantity >= -1e-9 * abs(decision.current_quantity)


class TestDecisions:
    @given(plan_inputs())
    def test_every_asset_has_exactly_one_decision(self, inputs):
        """Targeted, held and pending assets each get one decision; idle ones say why."""
        snapshot, targets, config = inputs
        plan = compute_trades(snapshot, targets, config)
        expected = set(targets) | set(snapshot.held)
        expected |= {o.asset for o in snapshot.pending_orders}

        assert sorted(expected) == [d.asset for d in plan.decisions]
        for decision in plan.decisions:
            assert (decision.skip_reason is None) == decision.trades


class TestKnownCoreBugs:
    def test_a_pending_sell_never_plans_a_short(self):
        """A pending market sell that would short is cancelled in a no-short account."""
        snapshot = PortfolioSnapshot(
            1.0,
            prices={"A": 2.0},
            pending_orders=[PendingOrder("o1", "A", Side.SELL, 1.0)],
        )
        targets = {"A": 1.0}
        config = RebalanceConfig(
            min_trade_value=0.0,
            min_weight_change=0.0,
            cancel_before_rebalance=False,
            account_for_pending=False,
        )
        plan = compute_trades(snapshot, targets, config)

        assert ("o1",) == plan.cancels
        check_plan(snapshot, targets, config, plan)

    def test_whole_unit_buys_are_ints_from_fractional_positions(self):
        """A whole-unit increase of a fractional position is a Python int."""
        snapshot = PortfolioSnapshot(
            2517785.0,
            {"C": 1218.5634572866838},
            {"AAPL": 1.0, "BRK.B": 1.0, "C": 0.03125, "D": 1.0},
        )
        targets = {"AAPL": 0.0, "D": 0.5, "BRK.B": 0.75, "C": 0.25}
        config = RebalanceConfig(
            min_trade_value=0.0,
            min_weight_change=0.0,
            max_gross_leverage=0.15625,
            cancel_before_rebalance=False,
            account_for_pending=False,
            close_untargeted=False,
        )
        plan = compute_trades(snapshot, targets, config)

        assert all(type(order.quantity) is int for order in plan)
        check_plan(snapshot, targets, config, plan)

    def test_a_held_short_is_closed_in_a_no_short_account(self):
        """A short position is never kept when the account may not short."""
        snapshot = PortfolioSnapshot(1e6, {"Z": -10}, {"Z": 1.0})
        plan = compute_trades(snapshot, {"Z": 0.00001})

        check_plan(snapshot, {"Z": 0.00001}, None, plan)
        assert [("buy", "Z", 10)] == [(o.side.value, o.asset, o.quantity) for o in plan]


class TestCashAccount:
    @given(
        plan_inputs(
            # A cash account holds no shorts and no debt (buying back a short it somehow
            # holds may cost more cash than it has: it was borrowing already).
            snapshot=snapshots(margin=False, min_cash=0.0, allow_shorts=False, allow_pending=False),
            targets=target_weights(max_weight=2.0),
        )
    )
    def test_a_cash_account_never_borrows(self, inputs):
        """Whatever the weights sum to, in every rounding mode, projected cash after
        estimated costs stays at or above zero, and above the floor (the buffer) unless
        the account started below it; the book ends at a gross weight of at most 1."""
        snapshot, targets, config = inputs
        # A fixed cost larger than the sale it is paid from lowers cash without a buy.
        assume(config.cost_per_order == 0.0)

        plan = compute_trades(snapshot, targets, config)

        check_plan(snapshot, targets, config, plan)
        tolerance = 1e-9 * max(1.0, plan.equity)
        assert plan.cash_floor >= 0.0
        assert plan.projected_cash >= min(plan.cash_floor, snapshot.cash) - tolerance
        if plan.orders:
            gross = math.fsum(abs(w) for w in plan.projected_weights.values())
            assert gross <= 1.0 + 1e-9

    @given(plan_inputs(snapshot=snapshots(margin=False), targets=target_weights(max_weight=2.0)))
    def test_no_buy_is_sent_below_the_floor_of_a_cash_account(self, inputs):
        """With pending orders, shorts and debt too: the plan buys only while projected
        cash stays at or above a floor that is never below zero."""
        snapshot, targets, config = inputs

        plan = compute_trades(snapshot, targets, config)

        check_plan(snapshot, targets, config, plan)
        assert plan.cash_floor >= 0.0
        buys = [o for o in plan if o.side is Side.BUY and o.action is not Action.CLOSE]
        if buys:
            assert plan.projected_cash >= plan.cash_floor - 1e-9 * max(1.0, plan.equity)


class TestKeptOrdersNeverOvershoot:
    # Found by a randomised run: a short far past its target buys back with pending
    # orders while the plan's buy-back is cut for cash. The kept buys only bring it back
    # toward the target; check_plan counted that as overshooting.
    @example(
        inputs=(
            PortfolioSnapshot(
                0.0,
                {"AAPL": -60048.0, "EURUSD": 2473.0},
                {"AAPL": 27842.0, "EURUSD": 135930.0},
                multipliers={"EURUSD": 5.0},
                pending_orders=[
                    PendingOrder(f"order-{i}", "AAPL", Side.BUY, 1.0) for i in range(4)
                ],
                fractional=True,
                margin=True,
            ),
            {"EURUSD": 0.0, "AAPL": -1.0},
            RebalanceConfig(
                min_trade_value=0.0,
                min_weight_change=0.0,
                allow_short=True,
                cancel_before_rebalance=False,
                close_untargeted=False,
                direction=TradeDirection.BUY_ONLY,
            ),
        )
    )
    @given(
        plan_inputs(
            snapshot=snapshots(min_assets=1),
            config=rebalance_configs(cancel_before_rebalance=False, account_for_pending=True),
        )
    )
    def test_the_plan_and_every_kept_order_that_may_fill_stay_within_the_target(self, inputs):
        """Working orders and resting entries (dip buys) are counted, so the plan never
        buys on top of them: check_plan fails any kept order that may fill past the target
        by a trade the thresholds would send. Protective exits never count."""
        snapshot, targets, config = inputs

        plan = compute_trades(snapshot, targets, config)

        check_plan(snapshot, targets, config, plan)


class TestCoarseBooks:
    """Every invariant on books drawn from coarse grids, where rare rules meet."""

    @given(coarse_books())
    @settings(max_examples=500)
    def test_every_invariant_holds(self, book):
        snapshot, targets, config = book
        plan = compute_trades(snapshot, targets, config)

        check_plan(snapshot, targets, config, plan)

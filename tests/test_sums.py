"""Sums per account are correctly rounded: each equals math.fsum of the account's terms."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rebalancing._sums import _sum2, exact_sums

finite = st.floats(allow_nan=False, allow_infinity=False)
#: Terms that cancel: the sums land near rounding boundaries, where proof fails.
cancelling = st.sampled_from([1.0, -1.0, 1e16, -1e16, 0.1, -0.1, 2.0**-1074, 1e308, -1e308])
terms = st.one_of(finite, cancelling)


def fsums(values: list[float], owners: list[int], count: int, base: list[float] | None):
    return [
        math.fsum(
            [0.0 if base is None else base[account]]
            + [v for v, o in zip(values, owners, strict=True) if o == account]
        )
        for account in range(count)
    ]


def sums(values: list[float], owners: list[int], count: int, base: list[float] | None):
    owned = np.array(owners, dtype=np.int64)
    extra = None if base is None else np.array(base)
    return exact_sums(np.array(values), owned, count, extra).tolist()


@st.composite
def accounts(draw: st.DrawFn) -> tuple[int, list[tuple[float, int]], list[float] | None]:
    count = draw(st.integers(1, 12))
    pairs = draw(st.lists(st.tuples(terms, st.integers(0, count - 1))))
    base = draw(st.none() | st.lists(terms, min_size=count, max_size=count))
    return count, pairs, base


@given(accounts())
@example((9, [(1e308, 0), (1e308, 0), (-1e308, 0), (1.0, 1)], None))  # fsum overflows: so do we
@example((9, [(1.0, 2), (2.0**-53, 2), (2.0**-105, 2)], None))  # a tie broken by the third term
# The same tie 2^106 times larger: the error left in the sum of the errors is exactly 1.0.
@example((9, [(2.0**106, 2), (2.0**53, 2), (1.0, 2)], None))
# The rounding errors of 1.5's additions sum to just over half its ulp, but their own float
# sum loses the excess: only the bound on that loss keeps the fast sum from rounding down.
@example((9, [(1.5, 4), (2.0**-53 - 2.0**-106, 4), *[(0.75 * 2.0**-107, 4)] * 4], None))
@example((9, [(2.0**-53 - 2.0**-106, 4), *[(0.75 * 2.0**-107, 4)] * 4], [1.5] * 9))  # as base
@example((9, [(-0.0, 0), (-0.0, 0)], [-0.0] * 9))  # a sum of zeros is 0.0
# 1.5 * 2^107 takes 3 * 2^52 + 2 and 0.5 into sigma whole, where the 0.5 is lost (loose
# 0.5), then cancels; p + sigma is 0.5 + (3 * 2^52 + 2), 0.5 from r = 3 * 2^52 + 2. The
# sum, 3 * 2^52 + 3, is a tie that rounds up to even: only the bound's widening of loose
# (0.5 + 0.5 is exactly half the gap, 2) keeps r from being taken as proven.
@example(
    (9, [(1.5 * 2.0**107, 0), (3 * 2.0**52 + 2, 0), (0.5, 0), (-1.5 * 2.0**107, 0), (0.5, 0)], None)
)
# As above, with three more t = 2^-54 - 2^-60 lost in sigma and x = 0.5 - 2^-53: loose's own
# float sum drops the t's (0.5 + t is 0.5), so the error is 1 + 2^-54 - 3 * 2^-60 past r,
# beyond the midpoint, while rest + loose is under it: only loose's widening for its own
# rounding (2 (w + 1) u of it) keeps r, now wrong, from being taken as proven.
@example(
    (
        9,
        [(1.5 * 2.0**107, 0), (3 * 2.0**52 + 2, 0), (0.5, 0)]
        + [(2.0**-54 - 2.0**-60, 0)] * 3
        + [(-1.5 * 2.0**107, 0), (0.5 - 2.0**-53, 0)],
        None,
    )
)
@example((9, [(0.95 / 20, 1)] * 20, None))  # a model's weights: p + sigma is a tie, exactly
# Just below a power of two the gap to the next float down is half the gap up: a bound
# measured against the wider gap would round 1 - 2^-54 - 2^-110 up to 1.
@example((9, [(1.0, 0), (-(2.0**-54), 0), (-(2.0**-110), 0)], None))
# Each addition is exact but the last (p + sigma) overflows: fsum raises, so must we.
@example((9, [(sys.float_info.max, 0), (2.0**969, 0), (2.0**969, 0)], None))
# fsum's partial sums overflow though ours and the result do not: fsum raises, so must we.
@example((9, [(-(sys.float_info.max - 2.0**971), 0), (2.0**970, 0), (sys.float_info.max, 0)], None))
# Scaled by 2^-1060 (s): r = (3 * 2^52 + 2) s has an ulp of 2s, and 3 * 2^-1074 (3 tiny) is
# lost in sigma. p = s - tiny is 1 - tiny short of half the gap, so the sum, 2 tiny past
# the midpoint, rounds up: rest + loose alone is past it, and so must the bound be, its
# margin for the smallest floats (6 tiny here) added, not taken away.
@example(
    (
        9,
        [
            (1.5 * 2.0**-953, 0),
            ((3 * 2.0**52 + 2) * 2.0**-1060, 0),
            (3 * 2.0**-1074, 0),
            (-1.5 * 2.0**-953, 0),
            (2.0**-1060 - 2.0**-1074, 0),
        ],
        None,
    )
)
def test_every_sum_is_the_fsum_of_its_terms(case):
    count, pairs, base = case
    values = [v for v, _ in pairs]
    owners = [o for _, o in pairs]
    try:
        expected = fsums(values, owners, count, base)
    except OverflowError:
        with pytest.raises(OverflowError):
            sums(values, owners, count, base)
        return
    actual = sums(values, owners, count, base)
    assert [math.copysign(1.0, x) for x in actual] == [math.copysign(1.0, x) for x in expected]
    assert actual == expected


def test_an_account_with_many_more_terms_than_the_rest_is_summed_alone():
    """Long accounts do not widen the matrix of the others; their sums are still exact."""
    rng = np.random.default_rng(3)
    owners = np.concatenate([np.repeat(np.arange(50), 3), np.zeros(5_000, dtype=np.int64)])
    values = rng.normal(size=len(owners)) * 10.0 ** rng.integers(-20, 20, len(owners))
    expected = fsums(values.tolist(), owners.tolist(), 50, None)
    assert sums(values.tolist(), owners.tolist(), 50, None) == expected


@pytest.mark.parametrize("extra", range(14, 26))
def test_an_account_just_past_the_matrix_width_is_summed_alone(extra):
    """19 accounts of one term and one of ``extra``: around where the long one stops
    fitting the matrix (2 * terms // accounts + 16 columns), its terms never spill into
    another account's row."""
    owners = np.concatenate([np.arange(1, 20), np.zeros(extra, dtype=np.int64)])
    values = 1.0 + np.arange(len(owners)) * 2.0**-40
    expected = fsums(values.tolist(), owners.tolist(), 20, None)
    assert sums(values.tolist(), owners.tolist(), 20, None) == expected


@pytest.mark.parametrize(("low", "high", "cash"), [(-20, 20, 1e6), (-40, -2, 1e-3)])
def test_ordinary_sums_are_proven_without_falling_back_to_fsum(low, high, cash):
    """The vectorised sum proves every ordinary account's sum (500 accounts of 20 terms,
    mixed signs and magnitudes, sums far above 1 or far below it, as weights): none is
    left to the slow fsum, and each equals fsum."""
    rng = np.random.default_rng(11)
    count, width = 500, 20
    owned = np.repeat(np.arange(count), width)
    # Magnitudes over 40 and 38 decades: sigma's own additions round (its error bound is
    # in play), yet every sum is still proven.
    terms = rng.normal(size=count * width) * 10.0 ** rng.integers(low, high, count * width)
    first = rng.uniform(-cash, cash, count)
    bounds = np.arange(0, count * width + 1, width)

    result, proven = _sum2(first, terms, owned, bounds, width)

    assert proven.all()
    expected = fsums(terms.tolist(), owned.tolist(), count, first.tolist())
    assert result.tolist() == expected


@pytest.mark.parametrize(
    ("first", "terms", "expected"),
    [
        # 1.5 (ulp 2^-52) plus x = 2^-53 - 2^-104 and eight y = 0.75 * 2^-107: each is
        # under half an ulp of 1.5, so p stays 1.5 and sigma gathers them; y is under half
        # an ulp (2^-106) of sigma = x, so each y is lost there: loose = 8 * 0.375 * 2^-106.
        # The sum is 1.5 + 2^-53 - 4 * 2^-106 + 3 * 2^-106, under the tie: 1.5. The bound
        # puts it at most 2^-53 - 2^-106 from 1.5, inside half the gap (2^-53).
        pytest.param(
            1.5, [2.0**-53 - 2.0**-104] + [0.75 * 2.0**-107] * 8, 1.5, id="errors-lost-in-sigma"
        ),
        # 1.5 * 2^107 takes 3 * 2^52 + 2 and 0.5 into sigma whole, where the 0.5 is lost
        # (loose 0.5), then cancels, leaving p = 0.5 - 7u (u = 2^-53). r = 3 * 2^52 + 2 is
        # 1 - 7u from the sum; the bound widens loose by 2 (5 + 1) u to 0.5 + 6u: 1 - u in
        # all, under half the gap (2).
        pytest.param(
            0.0,
            [1.5 * 2.0**107, 3 * 2.0**52 + 2, 0.5, -1.5 * 2.0**107, 0.5 - 7 * 2.0**-53],
            3 * 2.0**52 + 2,
            id="loose-widened-by-its-own-rounding",
        ),
        # The same at 2^-1060 (s) with 3 tiny (2^-1074) lost in sigma: the bound is 3 tiny
        # plus its margin for the smallest floats, (5 + 1) tiny. p = s - 10 tiny: r is
        # s - 7 tiny from the sum, and s - tiny with the bound, under half the gap (s).
        pytest.param(
            0.0,
            [
                1.5 * 2.0**-953,
                (3 * 2.0**52 + 2) * 2.0**-1060,
                3 * 2.0**-1074,
                -1.5 * 2.0**-953,
                2.0**-1060 - 10 * 2.0**-1074,
            ],
            (3 * 2.0**52 + 2) * 2.0**-1060,
            id="at-the-smallest-floats",
        ),
    ],
)
def test_a_sum_just_inside_its_error_bound_is_proven(first, terms, expected):
    """A sum whose remaining error keeps it just short of a rounding boundary is proven
    (the bound on that error is tight: no wider than the rounding it accounts for)."""
    count = len(terms)
    owned = np.zeros(count, dtype=np.int64)

    result, proven = _sum2(np.array([first]), np.array(terms), owned, np.array([0, count]), count)

    assert [True] == proven.tolist()
    assert [expected] == result.tolist() == [math.fsum([first, *terms])]


def test_a_huge_account_leaves_only_itself_to_fsum():
    """An account whose terms' magnitudes sum to 2^1022 or more (partial sums that could
    overflow) is left to fsum; the other accounts are still proven."""
    first = np.zeros(2)
    terms = np.array([2.0**1021, -(2.0**1021), 1.0, 2.0])  # magnitudes 2^1022, and 3
    owned = np.array([0, 0, 1, 1])

    result, proven = _sum2(first, terms, owned, np.array([0, 2, 4]), 2)

    assert [False, True] == proven.tolist()
    assert 3.0 == result[1]


#: 1.5 * 2^55: an ulp of 8, so an addend under 4 leaves p there and goes to sigma whole.
BIG = 1.5 * 2.0**55


@pytest.mark.parametrize(
    "terms",
    [
        # sigma = -(1 + 2^-52); adding -(3 - 3 * 2^-51) gives the tie -(4 - 5 * 2^-52),
        # rounded to -(4 - 2^-50): an error of 2^-52, whose TwoSum parts are -2^-52 and
        # 2^-51. r = BIG (the sum is 4 - 2^-50 under BIG's midpoint BIG - 4): rest
        # 4 - 2^-50 plus 2^-52 stays under half the gap, 4; the parts' magnitudes would not.
        pytest.param([-(1 + 2.0**-52), -(3 - 3 * 2.0**-51)], id="in-sigma"),
        # sigma = -2 + (1/4 - 2^-55) = -1.75 (an error of 2^-55); p = BIG - BIG + x with
        # x = -(1/4 + 5 * 2^-54): r = fl(-(2 + 5 * 2^-54)) = -(2 + 2^-51), 3 * 2^-54 from
        # p + sigma, in TwoSum parts -2^-54 and 2^-52. 3.5 * 2^-54 is under half the gap,
        # 4 * 2^-54; the parts' magnitudes (5 * 2^-54) would not be.
        pytest.param([-2.0, 0.25 - 2.0**-55, -BIG, -(0.25 + 5 * 2.0**-54)], id="in-the-result"),
    ],
)
def test_an_error_split_in_two_parts_is_bounded_by_their_sum(terms):
    """When an addend outweighs the running sum, TwoSum's error comes in two parts of
    opposite signs: the bound takes the error (their sum), not their magnitudes, and
    these sums near a rounding boundary are proven."""
    count = len(terms)
    owned = np.zeros(count, dtype=np.int64)

    result, proven = _sum2(np.array([BIG]), np.array(terms), owned, np.array([0, count]), count)

    assert [True] == proven.tolist()
    assert [math.fsum([BIG, *terms])] == result.tolist()

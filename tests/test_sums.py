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
# The rounding errors of 1.5's additions sum to just over half its ulp, but their own float
# sum loses the excess: only the bound on that loss keeps the fast sum from rounding down.
@example((9, [(1.5, 4), (2.0**-53 - 2.0**-106, 4), *[(0.75 * 2.0**-107, 4)] * 4], None))
@example((9, [(2.0**-53 - 2.0**-106, 4), *[(0.75 * 2.0**-107, 4)] * 4], [1.5] * 9))  # as base
@example((9, [(-0.0, 0), (-0.0, 0)], [-0.0] * 9))  # a sum of zeros is 0.0
@example((9, [(0.95 / 20, 1)] * 20, None))  # a model's weights: p + sigma is a tie, exactly
# Just below a power of two the gap to the next float down is half the gap up: a bound
# measured against the wider gap would round 1 - 2^-54 - 2^-110 up to 1.
@example((9, [(1.0, 0), (-(2.0**-54), 0), (-(2.0**-110), 0)], None))
# Each addition is exact but the last (p + sigma) overflows: fsum raises, so must we.
@example((9, [(sys.float_info.max, 0), (2.0**969, 0), (2.0**969, 0)], None))
# fsum's partial sums overflow though ours and the result do not: fsum raises, so must we.
@example((9, [(-(sys.float_info.max - 2.0**971), 0), (2.0**970, 0), (sys.float_info.max, 0)], None))
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


def test_ordinary_sums_are_proven_without_falling_back_to_fsum():
    """The vectorised sum proves every ordinary account's sum (500 accounts of 20 terms,
    mixed signs and magnitudes): none is left to the slow fsum, and each equals fsum."""
    rng = np.random.default_rng(11)
    count, width = 500, 20
    owned = np.repeat(np.arange(count), width)
    # Magnitudes from 1e-20 to 1e20: sigma's own additions round (its error bound is in
    # play), yet every sum is still proven.
    terms = rng.normal(size=count * width) * 10.0 ** rng.integers(-20, 20, count * width)
    first = rng.uniform(-1e6, 1e6, count)
    bounds = np.arange(0, count * width + 1, width)

    result, proven = _sum2(first, terms, owned, bounds, width)

    assert proven.all()
    expected = fsums(terms.tolist(), owned.tolist(), count, first.tolist())
    assert result.tolist() == expected

"""Sums per account are correctly rounded: each equals math.fsum of the account's terms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rebalancing._sums import exact_sums

finite = st.floats(allow_nan=False, allow_infinity=False)
#: Terms that cancel: the sums land near rounding boundaries, where proof fails.
cancelling = st.sampled_from([1.0, -1.0, 1e16, -1e16, 0.1, -0.1, 2.0**-1074, 1e308, -1e308])


def fsums(values: list[float], owners: list[int], count: int) -> list[float]:
    return [
        math.fsum(v for v, o in zip(values, owners, strict=True) if o == account)
        for account in range(count)
    ]


def sums(values: list[float], owners: list[int], count: int) -> list[float]:
    return exact_sums(np.array(values), np.array(owners, dtype=np.int64), count).tolist()


@given(
    st.integers(1, 12).flatmap(
        lambda count: st.tuples(
            st.just(count),
            st.lists(st.tuples(st.one_of(finite, cancelling), st.integers(0, count - 1))),
        )
    )
)
@example((9, [(1e308, 0), (1e308, 0), (-1e308, 0), (1.0, 1)]))  # fsum overflows: so do we
@example((9, [(1.0, 2), (2.0**-53, 2), (2.0**-105, 2)]))  # a tie broken by the third term
# The rounding errors of 1.5's additions sum to just over half its ulp, but their own float
# sum loses the excess: only the bound on that loss keeps the fast sum from rounding down.
@example((9, [(1.5, 4), (2.0**-53 - 2.0**-106, 4), *[(0.75 * 2.0**-107, 4)] * 4]))
@example((9, [(-0.0, 0), (-0.0, 0)]))  # a sum of zeros is 0.0
def test_every_sum_is_the_fsum_of_its_terms(case):
    count, pairs = case
    values = [v for v, _ in pairs]
    owners = [o for _, o in pairs]
    try:
        expected = fsums(values, owners, count)
    except OverflowError:
        with pytest.raises(OverflowError):
            sums(values, owners, count)
        return
    actual = sums(values, owners, count)
    assert [math.copysign(1.0, x) for x in actual] == [math.copysign(1.0, x) for x in expected]
    assert actual == expected


def test_an_account_with_many_more_terms_than_the_rest_is_summed_alone():
    """Long accounts do not widen the matrix of the others; their sums are still exact."""
    rng = np.random.default_rng(3)
    owners = np.concatenate([np.repeat(np.arange(50), 3), np.zeros(5_000, dtype=np.int64)])
    values = rng.normal(size=len(owners)) * 10.0 ** rng.integers(-20, 20, len(owners))
    expected = fsums(values.tolist(), owners.tolist(), 50)
    assert sums(values.tolist(), owners.tolist(), 50) == expected

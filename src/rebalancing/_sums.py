"""Correctly rounded sums per account: :func:`exact_sums`.

Cash, equity and traded value are sums of many terms; the planner takes each account's
sum correctly rounded (as :func:`math.fsum` gives it), so the order of the terms never
matters and a plan is the same whichever way its rows are laid out.

One account is summed with :func:`math.fsum`. Many accounts (a batch) are summed all at
once, column by column, with error-free transformations (Ogita, Rump and Oishi's
*Sum2*: every addition's rounding error is caught exactly and summed apart), and each
result is *proven* correctly rounded from a bound on the error that remains; the few
that cannot be proven so (sums that cancel to within the bound of a rounding boundary,
non-finite ones, accounts with many more terms than the rest) are summed with
:func:`math.fsum`. Either way every figure equals ``math.fsum`` of the account's terms.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ._rounding import Floats, Index

__all__ = ["exact_sums"]

#: The unit roundoff of float64, and its smallest subnormal.
_U = 2.0**-53
_TINY = 2.0**-1074
#: Fewer accounts than this are summed one by one: numpy's fixed cost would outweigh it.
_FEW = 8


def exact_sums(values: Floats | list[float], owners: Index, count: int) -> Floats:
    """Each of ``count`` accounts' sum of the ``values`` it owns, correctly rounded.

    (``math.fsum`` of each account's terms, so the order of the terms never matters.)
    """
    terms = np.asarray(values, dtype=np.float64)
    owned = np.asarray(owners)
    if count < _FEW:
        return np.array([math.fsum(terms[owned == account].tolist()) for account in range(count)])
    if (owned[1:] < owned[:-1]).any():
        order = np.argsort(owned, kind="stable")
        terms, owned = terms[order], owned[order]
    bounds = np.searchsorted(owned, np.arange(count + 1))
    sizes = np.diff(bounds)
    # Accounts with far more terms than the typical one are summed alone, so the columns
    # below stay about as many as a typical account's terms.
    width = min(int(sizes.max(initial=0)), 2 * len(terms) // count + 16)
    sums, proven = _sum2(terms, owned, bounds, sizes, width)
    for account in np.flatnonzero(~proven).tolist():
        sums[account] = math.fsum(terms[bounds[account] : bounds[account + 1]].tolist())
    return sums


def _sum2(
    terms: Floats, owned: Index, bounds: Index, sizes: Index, width: int
) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """Every account's sum of at most ``width`` terms, and whether it is proven exact.

    The terms are laid out as a ``count x width`` matrix (zeros pad the short accounts:
    adding 0 is exact) and added column by column: ``p`` the running sum, ``sigma`` the
    sum of the exact rounding errors of ``p``'s additions (TwoSum). The true sum is then
    ``p + sigma`` up to sigma's own rounding error, which is at most about
    ``(width u)^2`` times the sum of magnitudes; the result ``r = fl(p + sigma)`` is the
    correctly rounded sum when that error plus ``r``'s own rounding error stays inside
    half the gap between ``r`` and its nearer neighbouring float.
    """
    count = len(sizes)
    fits = sizes <= width
    position = np.arange(len(terms)) - bounds[owned]
    if not fits.all():
        keep = fits[owned]
        terms, owned, position = terms[keep], owned[keep], position[keep]
    grid = np.zeros(count * width)
    grid[owned * width + position] = terms
    grid = grid.reshape(count, width)
    p, sigma = np.zeros(count), np.zeros(count)
    with np.errstate(over="ignore", invalid="ignore"):
        for x in grid.T:
            s = p + x
            z = s - p
            sigma += (p - (s - z)) + (x - z)
            p = s
        r = p + sigma
        z = r - p
        rest = np.abs((p - (r - z)) + (sigma - z))
        magnitude = np.abs(grid).sum(axis=1)
        bound = 4.0 * (width * _U) ** 2 * magnitude + width * _TINY
        gap = np.abs(r) - np.nextafter(np.abs(r), 0.0)
        inside = rest + bound < gap / 2
        all_zero = (r == 0.0) & (magnitude == 0.0)
        proven = fits & np.isfinite(r) & np.isfinite(bound) & (inside | all_zero)
    return r + 0.0, proven  # + 0.0: a sum of zeros is 0.0, as fsum gives it

"""Correctly rounded sums per account: :func:`exact_sums`.

Cash, equity and traded value are sums of many terms; the planner takes each account's
sum correctly rounded (as :func:`math.fsum` gives it), so the order of the terms never
matters and a plan is the same whichever way its rows are laid out.

One account is summed with :func:`math.fsum`. Many accounts (a batch) are summed all at
once, column by column, with error-free transformations (the cascaded TwoSum of Ogita,
Rump and Oishi's *Sum2*, whose own rounding errors are caught by TwoSum as well), and
each result is *proven* correctly rounded from a rigorous bound on the error that
remains. The few that cannot be proven so (a sum within that bound of a rounding
boundary, a non-finite one, an account with many more terms than the rest) are summed
with :func:`math.fsum`. Either way every figure equals ``math.fsum`` of the account's
terms.
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
#: Sums of magnitudes from here up are left to fsum: its partial sums could overflow.
_HUGE = 2.0**1022
#: Fewer accounts than this are summed one by one: numpy's fixed cost would outweigh it.
_FEW = 8


def exact_sums(
    values: Floats | list[float], owners: Index, count: int, base: Floats | None = None
) -> Floats:
    """Each of ``count`` accounts' sum of the ``values`` it owns, correctly rounded.

    ``base``: one more term per account (its cash, say). (``math.fsum`` of each account's
    terms, so the order of the terms never matters.)
    """
    terms = np.asarray(values, dtype=np.float64)
    owned = np.asarray(owners)
    first = np.zeros(count) if base is None else np.asarray(base, dtype=np.float64)
    if count == 1:
        return np.array([math.fsum([first[0], *terms.tolist()])])
    if count < _FEW:
        return np.array([math.fsum([first[a], *terms[owned == a].tolist()]) for a in range(count)])
    nonzero = terms != 0.0  # adding 0 changes no sum: fewer columns below
    if not nonzero.all():
        terms, owned = terms[nonzero], owned[nonzero]
    if (owned[1:] < owned[:-1]).any():
        order = np.argsort(owned, kind="stable")
        terms, owned = terms[order], owned[order]
    bounds = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(owned, minlength=count), out=bounds[1:])
    sizes = np.diff(bounds)
    # Accounts with far more terms than the typical one are summed alone, so the columns
    # below stay about as many as a typical account's terms.
    width = min(int(sizes.max(initial=0)), 2 * len(terms) // count + 16)
    sums, proven = _sum2(first, terms, owned, bounds, width)
    for a in np.flatnonzero(~proven).tolist():
        sums[a] = math.fsum([first[a], *terms[bounds[a] : bounds[a + 1]].tolist()])
    return sums


def _sum2(
    first: Floats, terms: Floats, owned: Index, bounds: Index, width: int
) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """Every account's sum of ``first`` and at most ``width`` terms, and whether it is exact.

    The terms are laid out as a ``count x width`` matrix (zeros pad the short accounts:
    adding 0 is exact) and added column by column: ``p`` the running sum, ``sigma`` the
    sum of the exact rounding errors of ``p``'s additions (each found by TwoSum), and
    ``loose`` the sum of the magnitudes of ``sigma``'s own rounding errors (TwoSum
    again). The true sum is ``p + sigma`` within ``loose`` (widened for ``loose``'s own
    rounding), and exactly ``p + sigma`` when ``loose`` is 0. ``r = fl(p + sigma)`` is
    then the correctly rounded sum if ``p + sigma`` is exact, or if its distance from
    ``r`` (exact, by TwoSum) plus that bound stays under half the gap between ``r`` and
    its nearer neighbouring float.
    """
    count = len(first)
    fits = np.diff(bounds) <= width
    position = np.arange(len(terms)) - bounds[owned]
    if not fits.all():
        keep = fits[owned]
        terms, owned, position = terms[keep], owned[keep], position[keep]
    flat = np.zeros(count * width)
    flat[owned * width + position] = terms
    grid = flat.reshape(count, width)
    p, sigma, loose = first, np.zeros(count), np.zeros(count)
    with np.errstate(over="ignore", invalid="ignore"):
        for x in grid.T:
            s = p + x
            z = s - p
            q = (p - (s - z)) + (x - z)
            p = s
            s = sigma + q
            z = s - sigma
            loose += np.abs((sigma - (s - z)) + (q - z))
            sigma = s
        r = p + sigma
        z = r - p
        rest = np.abs((p - (r - z)) + (sigma - z))
        bound = loose * (1.0 + 2.0 * (width + 1) * _U) + (width + 1) * _TINY
        gap = np.abs(r) - np.nextafter(np.abs(r), 0.0)
        # Below 2^1022 in magnitude no partial sum (ours or fsum's) can overflow; above,
        # fsum decides, so an "intermediate overflow" is raised exactly when fsum raises.
        small = np.abs(first) + np.abs(grid).sum(axis=1) < _HUGE
        proven = fits & small & np.isfinite(r) & ((loose == 0.0) | (rest + bound < gap / 2))
    return r, proven

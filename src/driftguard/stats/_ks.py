"""Two-sample Kolmogorov-Smirnov test.

The statistic is computed from the two sorted samples with one blocked merge, in exact integer
arithmetic; the p-value follows scipy's ``method="auto"`` rules so that results agree with
:func:`scipy.stats.ks_2samp`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as _sps

from ._validation import as_float_1d, check_choice

__all__ = ["KSResult", "ks_2samp"]

KSMethod = Literal["auto", "exact", "asymp"]
_METHODS = ("auto", "exact", "asymp")
# scipy's "auto" uses the exact distribution while both samples have at most this many values.
_MAX_AUTO_EXACT = 10_000
_INT32_MAX = int(np.iinfo(np.int32).max)


@dataclass(frozen=True, slots=True)
class KSResult:
    """Result of a two-sample Kolmogorov-Smirnov test.

    Attributes
    ----------
    statistic : float
        ``D = sup_x |F_ref(x) - F_cur(x)|``, in [0, 1].
    p_value : float
        Two-sided p-value of ``D`` under the null hypothesis that both samples come from the
        same continuous distribution.
    n_reference, n_current : int
        Sample sizes.
    method : str
        ``"exact"`` or ``"asymp"``: how the p-value was actually computed.
    """

    statistic: float
    p_value: float
    n_reference: int
    n_current: int
    method: str


def ks_2samp(reference: ArrayLike, current: ArrayLike, *, method: KSMethod = "auto") -> KSResult:
    r"""Two-sample Kolmogorov-Smirnov test of ``current`` against ``reference``.

    .. math::

        D = \sup_x \left| F_{ref}(x) - F_{cur}(x) \right|

    where :math:`F` are the empirical distribution functions (right-continuous, so ties are
    handled exactly). The two-sided p-value follows :func:`scipy.stats.ks_2samp`:

    * ``method="exact"``: the exact null distribution, counting monotone lattice paths that stay
      inside the band ``|i/m - j/n| < D`` (Hodges 1958), or the closed alternating binomial sum
      when ``m == n``. Falls back to ``"asymp"`` when ``lcm(m, n)`` exceeds the int32 range, as
      scipy does.
    * ``method="asymp"``: ``scipy.stats.kstwo.sf(D, round(m n / (m + n)))``.
    * ``method="auto"`` (default): exact when both samples have at most 10,000 values.

    Parameters
    ----------
    reference, current : array_like of shape (n,)
        Numeric samples; NaN and infinities are rejected. Order does not matter.
    method : {"auto", "exact", "asymp"}, keyword-only
        How to compute the p-value. The method used is echoed in the result.

    Returns
    -------
    KSResult

    Raises
    ------
    StatsInputError
        If a sample is empty, not numeric, not 1-D, or contains NaN or infinities, or if
        ``method`` is unknown.

    Notes
    -----
    The statistic is the same for every method; only the p-value differs. With ties the
    exact p-value is that of the continuous null distribution, as in scipy (conservative).

    Examples
    --------
    >>> res = ks_2samp([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    >>> res.statistic, round(res.p_value, 4), res.method
    (0.5, 0.7714, 'exact')
    """
    check_choice(method, name="method", choices=_METHODS)
    ref = np.sort(as_float_1d(reference, name="reference"))
    cur = np.sort(as_float_1d(current, name="current"))
    return ks_from_sorted(ref, cur, method=method)


def ks_from_sorted(
    ref_sorted: NDArray[np.float64], cur_sorted: NDArray[np.float64], *, method: KSMethod = "auto"
) -> KSResult:
    """KS test on two already sorted, validated samples (no copy of either)."""
    n1, n2 = int(ref_sorted.shape[0]), int(cur_sorted.shape[0])
    numerator = ks_numerator(ref_sorted, cur_sorted)
    d, p_value, used = ks_pvalue(numerator, n1, n2, method=method)
    return KSResult(statistic=d, p_value=p_value, n_reference=n1, n_current=n2, method=used)


def count_at_or_below(
    ref_sorted: NDArray[np.float64], cur_sorted: NDArray[np.float64], *, chunk: int = 4096
) -> NDArray[np.int64]:
    """``#{ref <= c}`` for every value ``c`` of a sorted sample: a blocked linear merge.

    One ``searchsorted`` over the whole reference misses cache at every step; cutting the
    current sample into blocks of ``chunk`` values and searching each block only in the
    reference slice it spans keeps every search in L1/L2 (about 3x faster at 10^6 values).
    """
    n2 = cur_sorted.shape[0]
    out = np.empty(n2, dtype=np.int64)
    starts = np.arange(0, n2, chunk)
    stops = np.minimum(starts + chunk, n2)
    lows = np.searchsorted(ref_sorted, cur_sorted[starts], side="right").tolist()
    highs = np.searchsorted(ref_sorted, cur_sorted[stops - 1], side="right").tolist()
    for start, stop, low, high in zip(starts.tolist(), stops.tolist(), lows, highs, strict=True):
        found = np.searchsorted(ref_sorted[low:high], cur_sorted[start:stop], side="right")
        np.add(found, low, out=out[start:stop])
    return out


def distinct_sorted(
    sorted_values: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.int64] | None]:
    """Distinct values of a sorted array and ``#{x <= value}`` for each (``None`` if no ties)."""
    n = sorted_values.shape[0]
    change = sorted_values[1:] != sorted_values[:-1]
    if change.all():
        return sorted_values, None
    ends = np.append(np.flatnonzero(change), n - 1)
    return sorted_values[ends], ends + 1


def ks_numerator(ref_sorted: NDArray[np.float64], cur_sorted: NDArray[np.float64]) -> int:
    """Return ``n1 * n2 * D`` as an exact integer.

    Both ECDFs are step functions that jump only at sample values, so only the distinct
    current values ``v`` (and the points just below them) need checking:

    * ``F_cur - F_ref`` can only peak at some ``v``: ``#{cur <= v}/n2 - #{ref <= v}/n1``;
    * ``F_ref - F_cur`` can only peak just below some ``v`` (or is 0 beyond the last one):
      ``#{ref < v}/n1 - #{cur < v}/n2``.

    ``#{ref <= v}`` comes from one blocked merge of the distinct values; ``#{ref < v}`` differs
    from it only where ``v`` is itself a reference value, by that value's multiplicity. With
    heavy ties (e.g. integer data) everything runs on the few distinct values.
    """
    n1, n2 = int(ref_sorted.shape[0]), int(cur_sorted.shape[0])
    ref_values, ref_cum = distinct_sorted(ref_sorted)
    cur_values, cur_cum = distinct_sorted(cur_sorted)
    k = cur_values.shape[0]
    idx = count_at_or_below(ref_values, cur_values)  # distinct reference values <= v
    if ref_cum is None and cur_cum is None:
        # No ties within either sample (continuous data): one array serves both sides.
        # excess_j = #{ref <= c_j} n2 - j n1; F_cur - F_ref at c_j is n1 - excess_j.
        excess = idx * n2
        excess -= np.arange(0, k * n1, n1, dtype=np.int64)
        d_plus = n1 - int(excess.min())
        top = int(excess.argmax())
        # Using #{ref <= c} for #{ref < c} over-states F_ref - F_cur only where c is also a
        # reference value; if the peak is not such a point, it is exact.
        if idx[top] == 0 or ref_values[idx[top] - 1] != cur_values[top]:
            return int(max(d_plus, int(excess[top]), 0))
    tied = ref_values[np.maximum(idx - 1, 0)] == cur_values
    tied &= idx > 0
    if ref_cum is None:
        le = idx
        lt = idx - tied
    else:
        cum = np.concatenate(([0], ref_cum))
        le = cum[idx]
        lt = np.where(tied, cum[np.maximum(idx - 1, 0)], le)
    if cur_cum is None:
        c_le = np.arange(n1, (k + 1) * n1, n1, dtype=np.int64)  # (j + 1) n1
        c_lt = c_le - n1
    else:
        c_le = cur_cum * n1
        c_lt = np.concatenate(([0], c_le[:-1]))
    c_le -= le * n2
    d_plus = int(c_le.max())
    lt = lt * n2
    lt -= c_lt
    d_minus = int(lt.max())
    return int(max(d_plus, d_minus, 0))


def ks_pvalue(numerator: int, n1: int, n2: int, *, method: KSMethod) -> tuple[float, float, str]:
    """Return ``(D, p_value, method_used)`` for ``D = numerator / (n1 * n2)``."""
    g = math.gcd(n1, n2)
    if method == "auto":
        method = "exact" if max(n1, n2) <= _MAX_AUTO_EXACT else "asymp"
    elif method == "exact" and n1 // g >= _INT32_MAX / (n2 // g):
        method = "asymp"
    if method == "exact":
        # On the lattice of multiples of 1/lcm(n1, n2): h = D * lcm exactly.
        # numerator = |a n2 - b n1| is a multiple of g, and D * lcm = numerator / g.
        h = numerator // g
        lcm = n1 // g * n2
        d = h / lcm
        if h == 0:
            return d, 1.0, "exact"
        p = _exact_equal_sizes(n1, h) if n1 == n2 else _exact_band(n1, n2, g, h)
        return d, float(min(max(p, 0.0), 1.0)), "exact"
    d = numerator / (n1 * n2)
    m, n = float(max(n1, n2)), float(min(n1, n2))
    en = m * n / (m + n)
    p = kstwo_sf(d, int(np.round(en)))
    return d, float(min(max(p, 0.0), 1.0)), "asymp"


def kstwo_sf(d: float, n: int) -> float:
    """``P(D_n >= d)`` for the one-sample two-sided KS statistic, as ``scipy.stats.kstwo.sf``.

    scipy evaluates the range ``2.2 <= n d^2 < 370`` (n > 140) as ``2 * smirnov(n, d)``, which
    up to ``n = 10^6`` is an O(n) loop that holds the GIL (about 0.8 s at n = 10^6; above, an
    O(1) asymptotic formula). Up to ``n = 10^6`` we evaluate the same Birnbaum-Tingey sum,
    writing each term as a binomial probability:

    ``smirnov(n, d) = d * sum_{j=0}^{floor(n(1-d))} binom.pmf(j; n, u_j) / u_j``,
    ``u_j = d + j / n``,

    with :func:`_smooth_sum`. Every term is positive, so the sum keeps the pmf's ~1e-15
    relative accuracy. Everywhere else scipy's own function is called. An effective size that
    rounds to 0 (two samples of one value each) is taken as 1, where scipy returns NaN.
    """
    n = max(n, 1)
    nd2 = n * d * d
    if 140 < n <= _SMIRNOV_SUM_MAX_N and d < 0.5 and 2.2 <= nd2 < 370.0:

        def term(j: NDArray[np.float64]) -> NDArray[np.float64]:
            u = d + j / n
            return np.asarray(_sps.binom.pmf(j, n, u) / u, dtype=np.float64)

        smirnov = d * _smooth_sum(term, int(np.floor(n * (1.0 - d))), step=math.isqrt(n) // 4)
        return min(max(2.0 * smirnov, 0.0), 1.0)
    return float(_sps.kstwo.sf(d, n))


# scipy.special.smirnov sums the series up to this n and uses an asymptotic formula beyond.
_SMIRNOV_SUM_MAX_N = 1_000_000
# Agreement between the sums at steps h and 2h taken as convergence (relative).
_STEP_AGREEMENT = 1e-12


def _smooth_sum(
    term: Callable[[NDArray[np.float64]], NDArray[np.float64]], last: int, *, step: int
) -> float:
    """``sum_{j=0}^{last} term(j)`` for positive terms that vary slowly with ``j``.

    The terms of the Smirnov sum change on a scale of about ``sqrt(n)`` and vanish towards
    both ends of the range, and for such a sum ``h * sum_k term(k h)`` converges to the full
    sum geometrically as the step ``h`` shrinks (the trapezoid rule on a smooth function that
    decays at both ends). Starting from the largest power of two not above ``step``, the sum
    is taken at steps ``h`` and ``2h`` (the even points of the same grid); when the two agree
    to ``_STEP_AGREEMENT`` the finer one is returned — its own error is then far below that —
    otherwise ``h`` is halved, down to ``h = 1``, which is the full sum. At ``n = 5 * 10^5``
    this evaluates about 4,000 terms instead of 500,000, and agrees with the full sum to
    about 1e-14.
    """
    h = 1 << max(step, 1).bit_length() - 1
    while True:
        values = term(np.arange(0, last + 1, h, dtype=np.float64))
        fine = h * float(values.sum())
        if h == 1:
            return fine
        coarse = 2 * h * float(values[::2].sum())
        if abs(fine - coarse) <= _STEP_AGREEMENT * fine:
            return fine
        h //= 2


def _exact_equal_sizes(n: int, h: int) -> float:
    r"""``P(D_{n,n} >= h/n) = 2 \sum_{k>=1} (-1)^{k-1} C(2n, n-kh) / C(2n, n)``.

    Each ratio ``A_k = C(2n, n-kh)/C(2n, n)`` is the product of ``r_i = (n-i)/(n+i+1)`` for
    ``i < kh``; products are taken block by block (``h`` factors each) to keep rounding at
    ``O((h + n/h) eps)``.
    """
    i = np.arange(n, dtype=np.float64)
    ratios = (n - i) / (n + i + 1.0)
    n_terms = n // h
    blocks = np.multiply.reduceat(ratios[: n_terms * h], np.arange(0, n_terms * h, h))
    terms = np.cumprod(blocks)
    signs = np.where(np.arange(n_terms) % 2 == 0, 1.0, -1.0)
    # Sum from the smallest term up.
    return float(2.0 * np.sum((signs * terms)[::-1]))


def _exact_band(n1: int, n2: int, g: int, h: int) -> float:
    """``1 - P(path stays strictly inside |i/m - j/n| < h/lcm)`` for a uniformly random path.

    ``P(i, j)``, the probability that a random monotone lattice path from (0, 0) to (i, j) stays
    inside, obeys ``P(i, j) = (i P(i-1, j) + j P(i, j-1)) / (i + j)`` and is 0 outside the band.
    The recurrence is evaluated one anti-diagonal ``s = i + j`` at a time (vectorised over the
    band), so values stay in [0, 1] and never overflow.
    """
    m, n = max(n1, n2), min(n1, n2)
    mg, ng = m // g, n // g
    # Inside iff |i * ng - j * mg| < h, i.e. |i (ng + mg) - s mg| < h on diagonal s.
    step = ng + mg
    diagonals = np.arange(m + n + 1, dtype=np.int64)
    los = np.maximum(np.maximum(diagonals - n, (diagonals * mg - h) // step + 1), 0).tolist()
    his = np.minimum(np.minimum(diagonals, m), -(-(diagonals * mg + h) // step) - 1).tolist()
    positions = np.arange(m + 1, dtype=np.float64)
    q = np.zeros(m + 2, dtype=np.float64)  # q[i + 1] holds P(i, s - i); q[0] stays 0
    q[1] = 1.0
    buf = np.empty(m + 1, dtype=np.float64)
    prev_lo = 0
    for s in range(1, m + n + 1):
        lo, hi = los[s], his[s]
        if hi < lo:
            return 1.0
        width = hi - lo + 1
        out = buf[:width]
        # P(i, s-i) = P(i, s-1-i) + i/s * (P(i-1, s-i) - P(i, s-1-i))
        np.subtract(q[lo : hi + 1], q[lo + 1 : hi + 2], out=out)
        out *= positions[lo : hi + 1]
        out /= s
        out += q[lo + 1 : hi + 2]
        if lo > prev_lo:
            q[prev_lo + 1 : lo + 1] = 0.0
        q[lo + 1 : hi + 2] = out
        prev_lo = lo
    return 1.0 - float(q[m + 1])

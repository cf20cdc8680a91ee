"""The statistics of a comparison, without scipy: the Mann-Whitney U test
(exact for small samples), how many runs it needs before it can decide, and
intervals for accuracies measured on a counted number of examples."""

import math
from functools import lru_cache

# Past this many pairs (m * n) the exact distribution is replaced by the
# normal approximation, whose error there is below what the verdicts need.
_EXACT_PAIRS = 400
Z95 = 1.959963984540054  # two-sided 95%


def _ranks(values):
    """Mid-ranks (1-based) of ``values``: tied values share their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


@lru_cache(maxsize=None)
def _u_counts(m, n):
    """How many of the C(m+n, m) orderings give each U = 0 .. m*n (no ties):
    a run of A placed before k runs of B adds k to U."""
    if m == 0 or n == 0:
        return (1,)
    # counts(m, n)[u] = counts(m-1, n)[u-n] + counts(m, n-1)[u]
    with_last_a = _u_counts(m - 1, n)
    with_last_b = _u_counts(m, n - 1)
    out = [0] * (m * n + 1)
    for u, c in enumerate(with_last_a):
        out[u + n] += c
    for u, c in enumerate(with_last_b):
        out[u] += c
    return tuple(out)


def mann_whitney(a, b):
    """Two-sided Mann-Whitney U test of samples ``a`` and ``b``.

    Returns (U of a, p-value).  Exact for small samples (ties shift U by
    halves; the exact null then is slightly conservative), the normal
    approximation with the tie correction for large ones."""
    m, n = len(a), len(b)
    if m == 0 or n == 0:
        raise ValueError("each sample needs at least one value")
    ranks = _ranks(list(a) + list(b))
    u = sum(ranks[:m]) - m * (m + 1) / 2
    if m * n <= _EXACT_PAIRS:
        counts = _u_counts(m, n)
        total = math.comb(m + n, m)
        low = sum(counts[:math.floor(u) + 1]) / total
        high = sum(counts[math.ceil(u):]) / total
        return u, min(1.0, 2 * min(low, high))
    mean = m * n / 2
    ties = {}
    for r in ranks:
        ties[r] = ties.get(r, 0) + 1
    tie_term = sum(t ** 3 - t for t in ties.values()) / ((m + n) * (m + n - 1))
    sd = math.sqrt(m * n / 12 * ((m + n + 1) - tie_term))
    if sd == 0:
        return u, 1.0
    z = (abs(u - mean) - 0.5) / sd
    return u, min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def smallest_p(m, n):
    """The smallest two-sided p-value the exact U test can give with m and n
    runs: every run of one side beyond every run of the other."""
    return min(1.0, 2 / math.comb(m + n, m))


def runs_to_decide(m, n, alpha):
    """How many more runs a side before the U test can reach ``alpha`` at all
    (0 when it already can)."""
    extra = 0
    while smallest_p(m + extra, n + extra) >= alpha:
        extra += 1
    return extra


def runs_if_it_holds(m, n, p, alpha):
    """About how many more runs a side would make a difference that is not
    yet significant (p) significant, if it holds as measured: the test's z
    grows with the square root of the runs."""
    if p <= 0 or p >= 1:
        return None
    z = _z_of(p)
    if z <= 0:
        return None
    need = _z_of(alpha)
    scale = (need / z) ** 2
    side = max(m, n)
    return max(1, math.ceil(side * scale) - side)


def _z_of(p):
    """The z whose two-sided tail is p (bisection on erfc; no scipy)."""
    lo, hi = 0.0, 40.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if math.erfc(mid / math.sqrt(2)) > p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def wilson(hits, n, z=Z95):
    """Wilson score interval of a proportion: (low, high)."""
    if n <= 0:
        raise ValueError("no examples")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(hits_a, n_a, hits_b, n_b, z=Z95):
    """Newcombe's interval (from the two Wilson intervals) for the difference
    of two proportions, b - a: (low, high)."""
    pa, pb = hits_a / n_a, hits_b / n_b
    la, ua = wilson(hits_a, n_a, z)
    lb, ub = wilson(hits_b, n_b, z)
    d = pb - pa
    low = d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return low, high

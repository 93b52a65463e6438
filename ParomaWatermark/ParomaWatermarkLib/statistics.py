"""How likely chance alone is to produce a watermark match, and the capacity a sound leak check needs.

Under the null hypothesis (the volume was not marked with the candidate's key) the watermark bits are independent of
what the extraction reads, so each voted bit agrees with probability 1/2 and the number of agreeing bits follows
Binomial(voted, 1/2). Over a ledger of L candidate blocks the union bound multiplies the tail by L.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

DEFAULT_FALSE_MATCH_BOUND = 1e-9
REFERENCE_LEDGER_SIZE = 100_000
"""The ledger size the capacity minimum is computed for (DESIGN: a ledger of 100,000 blocks is normal)."""


def binomial_tail(matched: int, voted: int) -> float:
    """P(Binomial(voted, 1/2) >= matched): the chance that `matched` or more of `voted` random bits agree."""
    if voted < 0 or not 0 <= matched <= max(voted, 0):
        raise ValueError(f"need 0 <= matched <= voted, got matched={matched}, voted={voted}")
    if matched == 0:
        return 1.0
    favourable = sum(math.comb(voted, k) for k in range(matched, voted + 1))
    return float(Fraction(favourable, 2**voted))


def chance_match_probability(matched: int, voted: int, candidates: int = 1) -> float:
    """Probability that chance alone gives a match at least this good against any of `candidates` blocks."""
    return min(1.0, binomial_tail(matched, voted) * max(1, candidates))


def required_bits(false_match_bound: float = DEFAULT_FALSE_MATCH_BOUND, ledger_size: int = REFERENCE_LEDGER_SIZE) -> int:
    """Fewest distinct watermark bits a volume must carry so that an intact copy is traced below the bound.

    An intact copy reads every carried bit correctly; with n bits the chance match over the ledger is ledger_size * 2^-n,
    so n must be at least log2(ledger_size / bound): 47 bits for 1e-9 over 100,000 blocks.
    """
    if not 0 < false_match_bound < 1:
        raise ValueError(f"the false-match bound must lie strictly between 0 and 1, got {false_match_bound}")
    return math.ceil(math.log2(max(1, ledger_size) / false_match_bound))


@lru_cache(maxsize=1)
def log_tail_table(max_voted: int = 256) -> np.ndarray:
    """Natural logs of P(Binomial(n, 1/2) >= m) for every n, m <= max_voted: for ranking many candidates at once.

    Index as table[voted, matched]; the exact probability of the winner is then computed with `binomial_tail`.
    """
    n = np.arange(max_voted + 1)[:, None]
    k = np.arange(max_voted + 1)[None, :]
    lgamma = np.vectorize(math.lgamma)
    with np.errstate(invalid="ignore"):
        log_pmf = lgamma(n + 1) - lgamma(k + 1) - lgamma(np.maximum(n - k, 0) + 1) - n * math.log(2)
    log_pmf = np.where(k <= n, log_pmf, -np.inf)
    tail = np.logaddexp.accumulate(log_pmf[:, ::-1], axis=1)[:, ::-1]
    tail[:, 0] = 0.0
    return tail

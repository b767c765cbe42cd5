"""The cut algorithm of a bargain (砍价), pure and separately proven (tests: hypothesis).

Given: start price S, floor F, helpers needed N, per-cut bounds [m, M], with N*m <= S-F <= N*M
(checked when the activity is created). Before help number k (1-based) the amount still to cut
is R and h = N - k + 1 helps remain, with the invariant (h-1)*m + m <= R <= h*M, i.e.
h*m <= R <= h*M. The k-th cut c is drawn uniformly from

    lo = max(m, R - (h-1)*M)        hi = min(M, R - (h-1)*m)

which is never empty while the invariant holds, and which keeps it for the h-1 helps after
(R - c lies in [(h-1)*m, (h-1)*M]). When h = 1, lo = hi = R: the N-th help cuts exactly what is
left, so the floor is reached exactly at the N-th help, the N cuts sum to S - F, every cut lies
in [m, M], and the price never goes below the floor (R >= 0 at every step).

A new-user helper (optional) may get a larger cut: the upper bound becomes
min(max(M, B), R - (h-1)*m) with B the new-user cut, and the draw is pulled up to
min(B, that bound). The lower bound and the invariant are unchanged, so the guarantees hold;
such a cut lies in [m, max(M, B)].
"""

from __future__ import annotations

import random


def feasible(start_fen: int, floor_fen: int, helpers: int, cut_min: int, cut_max: int) -> bool:
    span = start_fen - floor_fen
    return helpers >= 1 and 1 <= cut_min <= cut_max and floor_fen >= 0 and helpers * cut_min <= span <= helpers * cut_max


def next_cut(remaining: int, helps_left: int, cut_min: int, cut_max: int, rng: random.Random | None = None,
             new_user_cut: int = 0) -> int:
    """The next cut in fen. ``remaining`` = current price - floor, ``helps_left`` >= 1."""
    if helps_left < 1 or remaining < helps_left * cut_min or remaining > helps_left * cut_max:
        raise ValueError(f"infeasible: remaining={remaining} helps_left={helps_left} [{cut_min}, {cut_max}]")
    rng = rng or random.SystemRandom()
    lo = max(cut_min, remaining - (helps_left - 1) * cut_max)
    hi = min(cut_max, remaining - (helps_left - 1) * cut_min)
    if new_user_cut > 0:
        hi_new = min(max(cut_max, new_user_cut), remaining - (helps_left - 1) * cut_min)
        lo = max(lo, min(new_user_cut, hi_new))
        hi = max(hi, hi_new)
    if helps_left == 1:
        return remaining
    return rng.randint(lo, hi) if hi > lo else lo

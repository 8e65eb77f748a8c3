"""How much an accuracy could move: binomial confidence intervals for SA / RA, and the paired comparison of two
defenses on the same images (McNemar's exact test, with an interval for the difference).

Intervals are Wilson score intervals (scipy's ``binomtest(...).proportion_ci(method="wilson")``): close to nominal
coverage at every n and never outside [0, 100], unlike the normal approximation; Clopper-Pearson (exact, wider) is
offered for those who want guaranteed coverage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scipy import stats

from irad.errors import IradError
from irad.utils.validation import check_choice

LEVEL = 0.95
METHODS = {"wilson": "wilson", "clopper-pearson": "exact"}


def proportion_interval(k: int, n: int, level: float = LEVEL, method: str = "wilson") -> tuple[float, float]:
    """Interval for a success rate ``k / n``, in percent: ``(low, high)``."""
    check_choice("interval method", method, tuple(METHODS))
    if n <= 0 or not 0 <= k <= n:
        raise IradError(f"an interval needs 0 <= k <= n and n > 0, got k={k}, n={n}")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method=METHODS[method])
    return round(100 * ci.low, 2), round(100 * ci.high, 2)


@dataclass(frozen=True)
class PairedComparison:
    """Defense A vs B on the same ``n`` images: accuracy difference (A - B, percent) with its interval, the
    discordant counts (``a_only``: A right, B wrong; ``b_only``) and McNemar's exact two-sided p-value."""

    n: int
    a_only: int
    b_only: int
    difference: float
    interval: tuple[float, float]
    p_value: float


def paired_comparison(a: Sequence[bool], b: Sequence[bool], level: float = LEVEL) -> PairedComparison:
    """Compare per-image correctness ``a`` and ``b`` (same images, same order).

    The p-value is McNemar's exact test: under "A and B are equally accurate" the ``a_only`` of the
    ``a_only + b_only`` discordant images are Binomial(m, 1/2). The interval is the Agresti-Min (2005) adjusted
    Wald interval for a difference of paired proportions (half a count added to each cell of the 2x2 table),
    which keeps close to nominal coverage at small n.
    """
    if len(a) != len(b):
        raise IradError(f"paired outcomes need the same images: {len(a)} vs {len(b)}")
    n = len(a)
    if n == 0:
        raise IradError("paired comparison of zero images")
    a_only = sum(1 for x, y in zip(a, b) if x and not y)
    b_only = sum(1 for x, y in zip(a, b) if y and not x)
    discordant = a_only + b_only
    p = 1.0 if discordant == 0 else stats.binomtest(a_only, discordant, 0.5).pvalue
    both = sum(1 for x, y in zip(a, b) if x and y)
    neither = n - both - discordant
    cells = [c + 0.5 for c in (both, a_only, b_only, neither)]  # Agresti-Min: half a count per cell
    total = sum(cells)
    p12, p21 = cells[1] / total, cells[2] / total
    d = p12 - p21
    se = math.sqrt(max((p12 + p21 - d * d) / total, 0.0))
    z = stats.norm.ppf(0.5 + level / 2)
    diff = 100 * (a_only - b_only) / n
    return PairedComparison(n, a_only, b_only, round(diff, 2),
                            (round(100 * max(d - z * se, -1.0), 2), round(100 * min(d + z * se, 1.0), 2)), float(p))


def mcnemar_worst_case(right_a: int, right_b: int, n: int) -> float:
    """The largest McNemar exact p-value over every pairing of per-image outcomes with these counts (A right on
    ``right_a`` of ``n`` images, B on ``right_b``): for results kept without per-image outcomes, a difference whose
    worst case is below 0.05 is resolved however the images pair up.

    The counts fix ``a_only - b_only = right_a - right_b``; the discordant total ``m`` can be anything of that
    parity from ``|right_a - right_b|`` up to ``n`` minus the images both must get right or both wrong.
    """
    if not (0 <= right_a <= n and 0 <= right_b <= n) or n <= 0:
        raise IradError(f"counts {right_a}, {right_b} of {n} images are not a valid pair of accuracies")
    d = right_a - right_b
    most = n - max(0, right_a + right_b - n) - max(0, n - right_a - right_b)
    return max(1.0 if m == 0 else float(stats.binomtest((m + d) // 2, m, 0.5).pvalue)
               for m in range(abs(d), most + 1, 2))


def encode_outcomes(correct: Iterable[bool]) -> str:
    """Per-image correctness as a string of ``0`` / ``1`` in image order (what results rows store)."""
    return "".join("1" if c else "0" for c in correct)


def decode_outcomes(text: str) -> list[bool]:
    if set(text) - {"0", "1"}:
        raise IradError("per-image outcomes must be a string of 0 and 1")
    return [c == "1" for c in text]

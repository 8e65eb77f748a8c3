"""Two defenses of one results file on the same images: per setting and metric, the paired comparison of their
per-image outcomes (McNemar's exact test, irad.evaluation.stats)."""

from __future__ import annotations

from dataclasses import dataclass

from irad.errors import IradError
from irad.evaluation.results import ResultRow
from irad.evaluation.stats import PairedComparison, decode_outcomes, mcnemar_worst_case, paired_comparison


# metric -> (the row's rate, its per-image outcomes)
METRICS = {"SA": ("sa", "clean_correct"), "RA": ("ra", "adv_correct"),
           "RA within": ("ra_within", "adv_within_correct")}


@dataclass(frozen=True)
class DefensePair:
    """``a`` minus ``b`` on ``metric`` ("SA", "RA" or "RA within": :mod:`irad.evaluation.within`) of two rows of the same attack, scenario, eps and n: the paired
    test on their per-image outcomes, or, for rows kept without them, only the largest McNemar p-value any pairing
    of their counts could give (:func:`~irad.evaluation.stats.mcnemar_worst_case`)."""

    a: ResultRow
    b: ResultRow
    metric: str
    comparison: PairedComparison | None
    worst_case_p: float | None = None

    @property
    def rates(self) -> tuple[float, float]:
        """The two rows' values of the metric, percent."""
        rate = METRICS[self.metric][0]
        return getattr(self.a, rate), getattr(self.b, rate)


def compare_defenses(rows: list[ResultRow], a: str, b: str, attack: str | None = None) -> list[DefensePair]:
    """SA, RA and (where both rows have it) RA within the budget of defense ``a`` against ``b`` for every setting
    both have (only ``attack``'s, when given)."""
    def pick(name: str) -> dict[tuple, ResultRow]:
        found = {(r.attack, r.scenario, r.norm, r.eps, r.n): r for r in rows
                 if r.defense == name and (attack is None or r.attack == attack)}
        if not found:
            known = ", ".join(sorted({r.defense for r in rows}))
            raise IradError(f"no rows of defense {name!r}" + (f" under attack {attack!r}" if attack else "") +
                            f"; the file has: {known}")
        return found

    ra, rb = pick(a), pick(b)
    common = [k for k in ra if k in rb]
    if not common:
        raise IradError(f"{a!r} and {b!r} share no (attack, scenario, eps, n) setting")
    pairs = []
    for key in common:
        x, y = ra[key], rb[key]
        for metric, (_, field) in METRICS.items():
            ox, oy = getattr(x, field), getattr(y, field)
            if metric == "RA within" and (ox is None or oy is None or (ox, oy) == (x.adv_correct, y.adv_correct)):
                continue  # no other attack or smaller budget to combine: the RA pair says it all
            if ox is None or oy is None:  # written before irad stored per-image outcomes
                rate_a, rate_b = getattr(x, metric.lower()), getattr(y, metric.lower())
                worst = mcnemar_worst_case(round(rate_a * x.n / 100), round(rate_b * y.n / 100), x.n)
                pairs.append(DefensePair(x, y, metric, None, worst))
            else:
                pairs.append(DefensePair(x, y, metric, paired_comparison(decode_outcomes(ox), decode_outcomes(oy))))
    return pairs

"""``irad compare``: two defenses of one results file on the same images, paired (McNemar's exact test)."""

from __future__ import annotations

import argparse

from irad.evaluation.paired import compare_defenses
from irad.evaluation.results import ResultRow, eps_text, load_results, result_rows


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="paired comparison of two defenses in a results file (McNemar's exact test)",
                       description="SA and RA of DEFENSE_A minus DEFENSE_B on the same images: the difference, its "
                                   "95%% interval (Agresti-Min) and McNemar's exact p-value, per attack; where the "
                                   "run has several attacks or budgets, also RA within the budget (every attack "
                                   "at every budget up to the row's).")
    p.add_argument("results", help="an `irad eval --out` file")
    p.add_argument("defense_a")
    p.add_argument("defense_b")
    p.add_argument("--attack", default=None, help="only rows of this attack spec (default: every attack both have)")
    p.set_defaults(func=run)


def compare_lines(rows: list[ResultRow], a: str, b: str, attack: str | None = None) -> list[str]:
    """One line per setting and SA / RA both defenses have: the paired test, or for rows without per-image outcomes
    the largest p-value any pairing of their counts allows."""
    lines = [f"{a}  vs  {b}   (difference A - B in points, 95% interval, McNemar exact p)"]
    for p in compare_defenses(rows, a, b, attack):
        c, (rate_a, rate_b) = p.comparison, p.rates
        head = (f"  {p.a.attack} [{p.a.scenario}, {p.a.norm} {eps_text(p.a.eps, p.a.norm)}] {p.metric}: "
                f"{rate_a:.2f} vs {rate_b:.2f}")
        if c is None:
            lines.append(f"{head}  no per-image outcomes (rows from an older irad): p <= {p.worst_case_p:.3g} "
                         f"however the images pair up (n={p.a.n})")
            continue
        lines.append(f"{head}  diff {c.difference:+.2f} "
                     f"[{c.interval[0]:+.2f}, {c.interval[1]:+.2f}]  p={c.p_value:.3g}  "
                     f"(n={c.n}; only A right: {c.a_only}, only B right: {c.b_only})")
    return lines


def run(args: argparse.Namespace) -> int:
    rows = result_rows(load_results(args.results), args.results)
    print("\n".join(compare_lines(rows, args.defense_a, args.defense_b, args.attack)))
    return 0

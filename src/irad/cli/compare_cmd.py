"""``irad compare``: two defenses of one results file on the same images, paired (McNemar's exact test)."""

from __future__ import annotations

import argparse

from irad.errors import IradError
from irad.evaluation.results import ResultRow, load_results, result_rows
from irad.evaluation.stats import decode_outcomes, paired_comparison


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="paired comparison of two defenses in a results file (McNemar's exact test)",
                       description="SA and RA of DEFENSE_A minus DEFENSE_B on the same images: the difference, its "
                                   "95%% interval (Agresti-Min) and McNemar's exact p-value, per attack.")
    p.add_argument("results", help="an `irad eval --out` file")
    p.add_argument("defense_a")
    p.add_argument("defense_b")
    p.add_argument("--attack", default=None, help="only rows of this attack spec (default: every attack both have)")
    p.set_defaults(func=run)


def compare_lines(rows: list[ResultRow], a: str, b: str, attack: str | None = None) -> list[str]:
    """One line per (attack, SA / RA) where both defenses have a row with per-image outcomes."""
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
    lines = [f"{a}  vs  {b}   (difference A - B in points, 95% interval, McNemar exact p)"]
    for key in common:
        x, y = ra[key], rb[key]
        for label, field in (("SA", "clean_correct"), ("RA", "adv_correct")):
            ox, oy = getattr(x, field), getattr(y, field)
            if ox is None or oy is None:
                raise IradError(f"the {key[0]} rows carry no per-image outcomes (written before irad stored them); "
                                "rerun them with a fresh --out to compare")
            c = paired_comparison(decode_outcomes(ox), decode_outcomes(oy))
            lines.append(f"  {key[0]} [{key[1]}] {label}: {getattr(x, label.lower()):.2f} vs "
                         f"{getattr(y, label.lower()):.2f}  diff {c.difference:+.2f} "
                         f"[{c.interval[0]:+.2f}, {c.interval[1]:+.2f}]  p={c.p_value:.3g}  "
                         f"(n={c.n}; only A right: {c.a_only}, only B right: {c.b_only})")
    return lines


def run(args: argparse.Namespace) -> int:
    rows = result_rows(load_results(args.results), args.results)
    print("\n".join(compare_lines(rows, args.defense_a, args.defense_b, args.attack)))
    return 0

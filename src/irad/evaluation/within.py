"""Robust accuracy within a budget: an attacker allowed eps E may use any attack of the run at any budget <= E, so
an image counts as robust at E only if every such row left it correctly classified (the per-image worst case, as
AutoAttack takes it over its attacks)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from irad.evaluation.stats import decode_outcomes, encode_outcomes, proportion_interval

if TYPE_CHECKING:  # results.py applies this module to every file it reads or writes
    from irad.evaluation.results import ResultRow


def with_budget_worst_case(rows: list[ResultRow]) -> list[ResultRow]:
    """``rows`` with ``ra_within`` (percent), its 95% interval and per-image outcomes set on every row whose
    defense, scenario, norm and n it shares with another row of a different attack or budget: the share of images
    right under every such row at a budget <= its own. Other rows (nothing to combine), and rows without
    per-image outcomes, come back with those fields unset."""
    groups: dict[tuple, list[ResultRow]] = {}
    for r in rows:
        if r.adv_correct is not None:
            groups.setdefault((r.defense, r.scenario, r.norm, r.n), []).append(r)
    within: dict[int, tuple[str, int]] = {}
    for members in groups.values():
        if len({(r.attack, round(r.eps, 8)) for r in members}) < 2:
            continue
        for r in members:
            outcomes = [all(hits) for hits in zip(*(decode_outcomes(m.adv_correct) for m in members
                                                    if m.eps <= r.eps * (1 + 1e-9)))]
            within[id(r)] = (encode_outcomes(outcomes), sum(outcomes))
    out = []
    for r in rows:
        if id(r) in within:
            text, right = within[id(r)]
            r = replace(r, ra_within=round(100.0 * right / len(text), 2),
                        ra_within_ci=list(proportion_interval(right, len(text))), adv_within_correct=text)
        else:
            r = replace(r, ra_within=None, ra_within_ci=None, adv_within_correct=None)
        out.append(r)
    return out

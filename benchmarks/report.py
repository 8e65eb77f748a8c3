"""Markdown pieces shared by the benchmark renderers, and the placeholders that let notes quote results.

A note (``benchmarks/notes/<section>.md``) quotes a number only as ``{{FILE | STEP | ... }}``, read from
``benchmarks/results/FILE.json`` at render time, so prose cannot go stale when a section is rerun:

- an ``irad eval`` results file (it has ``results`` rows): ``{{irad-samplers | irad | autoattack | ra}}`` is the
  ``ra`` of the row with defense ``irad`` and attack ``autoattack``; a file with one row per budget (a robustness
  curve) names the budget too: ``{{robustness-curve-oblivious | irad | pgd | eps=4/255 | ra}}``;
- any other file: a path of dict keys, list indices and ``key=value`` filters that pick the one list element whose
  ``key`` equals ``value``: ``{{cost | rows | defense=irad | ms_per_image_batch1}}``.

The last step may end in a format spec, ``ra:.0f``; floats default to one decimal.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from irad.utils.spec import parse_value

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NOTES = ROOT / "benchmarks" / "notes"
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)


@cache
def _load(stem: str) -> dict:
    path = RESULTS / f"{stem}.json"
    if not path.exists():
        raise KeyError(f"no results file {path.relative_to(ROOT)}")
    return json.loads(path.read_text())


def _pick(items: list, step: str) -> object:
    if step.lstrip("-").isdigit():
        return items[int(step)]
    key, sep, value = step.partition("=")
    matches = [it for it in items if sep and isinstance(it, dict) and str(it.get(key)) == value]
    if len(matches) != 1:
        raise KeyError(f"{len(matches)} elements match {step!r}")
    return matches[0]


def lookup(expr: str) -> str:
    """The formatted value a placeholder's ``expr`` (the text between the braces) names."""
    stem, *steps = [s.strip() for s in " ".join(expr.split()).split("|")]
    steps[-1], _, spec = steps[-1].partition(":")
    data = _load(stem)
    if "results" in data:
        if len(steps) not in (3, 4):
            raise KeyError("an eval results placeholder is FILE | DEFENSE | ATTACK [| eps=A/B] | FIELD")
        defense, attack, *budget, field = steps
        rows = [r for r in data["results"] if r["defense"] == defense]
        if budget:
            key, _, text = budget[0].partition("=")
            if key != "eps":
                raise KeyError(f"expected eps=A/B, got {budget[0]!r}")
            eps = float(parse_value(text))
            rows = [r for r in rows if abs(r["eps"] - eps) <= 1e-6 * eps]
        value = _pick(rows, f"attack={attack}")[field]
    else:
        value = data
        for step in steps:
            value = _pick(value, step) if isinstance(value, list) else value[step]
    if isinstance(value, float):
        return format(value, spec or ".1f")
    return format(value, spec) if spec else str(value)


def fill(text: str, where: str = "") -> str:
    """``text`` with every placeholder replaced by its value; an unresolvable one is an error naming it."""
    def one(m: re.Match) -> str:
        try:
            return lookup(m.group(1))
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise SystemExit(f"{where}: cannot fill {m.group(0)!r}: {e}") from None

    return PLACEHOLDER.sub(one, text)


def note(name: str) -> list[str]:
    """The section's note with its placeholders filled, as lines (none if it has no note)."""
    path = NOTES / f"{name}.md"
    if not path.exists():
        return []
    return [fill(path.read_text().strip(), str(path.relative_to(ROOT))), ""]


def ci_text(rate: float, n: int) -> str:
    """``lo-hi``: the 95% Wilson interval of a rate (percent) measured on ``n`` images."""
    from irad.evaluation.stats import proportion_interval

    lo, hi = proportion_interval(round(rate * n / 100), n)
    return f"{lo:.1f}-{hi:.1f}"


def machine(env: dict) -> str:
    """One line naming the machine a result was measured on."""
    return (f"{env['processor']}, {env['cpu_count']} CPUs, {env['torch_threads']} torch threads, {env['device']}"
            f"{', ' + env['gpu'] if 'gpu' in env else ''}; torch {env['torch']}")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *["| " + " | ".join(r) + " |" for r in rows]]

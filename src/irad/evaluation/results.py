"""Result rows, the results JSON (``{"config", "environment", "results"[, "audit"]}``), and the printed table."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from irad.errors import IradError
from irad.utils.checkpoint import atomic_write_json

ROW_KEYS = ("defense", "attack", "scenario", "norm", "eps", "n", "sa", "ra", "avg", "defense_ms_per_image")


@dataclass
class ResultRow:
    """One (defense, attack, scenario) cell; accuracies in percent."""

    defense: str
    attack: str
    scenario: str
    norm: str
    eps: float
    n: int
    sa: float
    ra: float
    avg: float
    defense_ms_per_image: float
    destruction_rate: float | None = None  # % of the examples that fool the bare classifier which the defense fixes
    attack_s_per_image: float | None = None  # wall seconds crafting the examples (oblivious: shared by the defenses
    #                                          attacked together); None where a cached batch predates the timing
    eot_samples: int = 1
    notes: list[str] = field(default_factory=list)
    classifier_sha256: str | None = None  # state fingerprints (irad.utils.checkpoint.state_fingerprint): a resumed
    defense_sha256: str | None = None     # row counts only if the weights it was computed with are still the same

    def key(self) -> tuple:
        return row_key(self.defense, self.attack, self.scenario, self.norm, self.eps, self.n)


def row_key(defense: str, attack: str, scenario: str, norm: str, eps: float, n: int) -> tuple:
    return (defense, attack, scenario, norm, round(float(eps), 8), int(n))


def load_results(path: str | os.PathLike) -> dict:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise IradError(f"cannot read results file {p}: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise IradError(f"{p} is not an irad results file (no 'results' list)")
    return data


def write_results(path: str | os.PathLike, config: dict, env: dict, rows: list[ResultRow],
                  audits: Sequence[dict] = ()) -> None:
    """The results JSON: ``config``, ``environment``, ``results`` (the rows) and, when there are any, the defenses'
    ``audit`` reports."""
    data = {"config": config, "environment": env, "results": [asdict(r) for r in rows]}
    atomic_write_json(path, {**data, "audit": list(audits)} if audits else data)


def format_table(rows: list[ResultRow]) -> str:
    """Plain-text table: one line per row with SA, RA, Avg (percent), defense ms/img and, where known, the attack's
    seconds per image."""
    head, body = _cells(rows)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)) for b in body]
    return "\n".join(lines)


def format_markdown(rows: list[ResultRow]) -> str:
    """The same table in Markdown, for BENCHMARKS.md."""
    head, body = _cells(rows)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join([f"`{b[0]}`", *b[1:]]) + " |" for b in body]
    return "\n".join(out)


def _cells(rows: list[ResultRow]) -> tuple[list[str], list[list[str]]]:
    """Header and text cells; the attack-cost column only when some row knows it."""
    timed = any(r.attack_s_per_image is not None for r in rows)
    head = ["defense", "attack", "scenario", "eps", "n", "SA", "RA", "Avg", "DR", "ms/img"]
    body = [[r.defense, r.attack + (f" (EOT {r.eot_samples})" if r.eot_samples > 1 else ""), r.scenario,
             f"{r.norm} {_eps_text(r.eps, r.norm)}", str(r.n), f"{r.sa:.2f}", f"{r.ra:.2f}", f"{r.avg:.2f}",
             _dr_text(r), f"{r.defense_ms_per_image:.3f}"] for r in rows]
    if timed:
        head.append("attack s/img")
        for b, r in zip(body, rows):
            b.append("-" if r.attack_s_per_image is None else f"{r.attack_s_per_image:.3g}")
    return head, body


def _dr_text(row: ResultRow) -> str:
    return "-" if row.destruction_rate is None else f"{row.destruction_rate:.2f}"


def _eps_text(eps: float, norm: str) -> str:
    k = eps * 255
    return f"{round(k)}/255" if norm == "Linf" and abs(k - round(k)) < 1e-6 else f"{eps:.4g}"

"""Result rows, the results JSON (``{"config", "environment", "results"[, "audit"]}``), and the printed table."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from irad.errors import IradError
from irad.evaluation.stats import proportion_interval
from irad.evaluation.within import with_budget_worst_case
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
    recovery_rate: float | None = None  # % of the images the bare classifier gets right whose adversarial version the
    #                                     defended model gets right (Prakash et al. 2018's "recovered" share)
    attack_s_per_image: float | None = None  # wall seconds crafting the examples (oblivious: shared by the defenses
    #                                          attacked together); None where a cached batch predates the timing
    eot_samples: int = 1
    attack_precision: str = "fp32"  # bf16: the examples were crafted under bf16 autocast (scored in fp32)
    notes: list[str] = field(default_factory=list)
    classifier_sha256: str | None = None  # state fingerprints (irad.utils.checkpoint.state_fingerprint): a resumed
    defense_sha256: str | None = None     # row counts only if the weights it was computed with are still the same
    sa_ci: list[float] | None = None  # 95% Wilson intervals of SA and RA, percent (irad.evaluation.stats)
    ra_ci: list[float] | None = None
    clean_correct: str | None = None  # per-image outcomes in image order, "1" = right (for paired comparisons)
    adv_correct: str | None = None
    worst_of: int = 1  # a randomized defense's adversarial examples classified worst_of times with fresh randomness:
    ra_worst: float | None = None  # % right on all of them (DiffHammer's criterion), its interval and outcomes
    ra_worst_ci: list[float] | None = None
    adv_worst_correct: str | None = None
    l2_mean: float | None = None  # mean over the images of the perturbation's L2 norm (pixels in [0, 1]), of
    l2_rel_mean: float | None = None  # ||x_adv - x||_2 / ||x||_2 (Guo et al.'s normalized L2, the |L2| column of
    linf_mean: float | None = None  # Prakash et al.'s tables) and of its Linf norm
    ra_within: float | None = None  # % right under every attack of the run at every budget <= eps (same defense,
    ra_within_ci: list[float] | None = None  # scenario, norm, images: irad.evaluation.within); derived from the
    adv_within_correct: str | None = None  # file's rows, so not part of the digest
    digest: str | None = None  # SHA-256 of the other fields when the row was computed (row_digest): a hand edit shows

    def sealed(self) -> ResultRow:
        """This row with its digest set."""
        return replace(self, digest=row_digest(self))

    def edited(self) -> bool:
        """Whether the row's fields no longer match the digest it was computed with (rows without one: False)."""
        return self.digest is not None and self.digest != row_digest(self)

    def key(self) -> tuple:
        return row_key(self.defense, self.attack, self.scenario, self.norm, self.eps, self.n)


LATER_FIELDS = ("l2_mean", "l2_rel_mean", "linf_mean")  # added after digests: left out while unset, so older rows verify
DERIVED_FIELDS = ("ra_within", "ra_within_ci", "adv_within_correct")  # computed from the other rows of the file


def row_digest(row: ResultRow) -> str:
    """First 16 hex digits of the SHA-256 of every field but ``digest`` and the :data:`DERIVED_FIELDS` (and the
    unset :data:`LATER_FIELDS`), as canonical JSON."""
    fields_ = {k: v for k, v in asdict(row).items()
               if k != "digest" and k not in DERIVED_FIELDS and not (k in LATER_FIELDS and v is None)}
    return hashlib.sha256(json.dumps(fields_, sort_keys=True).encode()).hexdigest()[:16]


def row_key(defense: str, attack: str, scenario: str, norm: str, eps: float, n: int) -> tuple:
    return (defense, attack, scenario, norm, round(float(eps), 8), int(n))


def load_results(path: str | os.PathLike) -> dict:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IradError(f"cannot read results file {p} ({type(e).__name__}); delete it to recompute its rows, or "
                        "pass another --out") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise IradError(f"{p} is not an irad results file (no 'results' list); delete it or pass another --out")
    for key in ("config", "environment"):
        if not isinstance(data.get(key, {}), dict):
            raise IradError(f"{p}: '{key}' is not a mapping; delete the file or pass another --out")
    return data


def result_rows(data: dict, path: str | os.PathLike = "results") -> list[ResultRow]:
    """The rows of a loaded results file as :class:`ResultRow`; a malformed row is an error naming the file."""
    known = {f.name for f in fields(ResultRow)}
    rows = []
    for i, r in enumerate(data["results"]):
        if not isinstance(r, dict) or set(r) - known or not {"defense", "attack", "sa", "ra", "n"} <= set(r):
            raise IradError(f"{path}: results row {i} is not an irad result row; delete the file to recompute it")
        try:
            rows.append(ResultRow(**r))
        except TypeError as e:
            raise IradError(f"{path}: results row {i}: {e}") from None
    return with_budget_worst_case(rows)


def write_results(path: str | os.PathLike, config: dict, env: dict, rows: list[ResultRow],
                  audits: Sequence[dict] = ()) -> None:
    """The results JSON: ``config``, ``environment``, ``results`` (the rows) and, when there are any, the defenses'
    ``audit`` reports."""
    data = {"config": config, "environment": env, "results": [asdict(r) for r in with_budget_worst_case(rows)]}
    atomic_write_json(path, {**data, "audit": list(audits)} if audits else data)


def interval(row: ResultRow, which: str) -> tuple[float, float]:
    """The row's 95% Wilson interval of ``sa`` or ``ra`` (recomputed from the rate and n for rows written before
    intervals were stored: the rate is a count over n, rounded to 0.01%)."""
    stored = getattr(row, f"{which}_ci")
    if stored is not None:
        return stored[0], stored[1]
    return proportion_interval(round(getattr(row, which) * row.n / 100), row.n)


def format_table(rows: list[ResultRow]) -> str:
    """Plain-text table: one line per row with SA, RA (each with its 95% interval), Avg (percent), defense ms/img
    and, where known, the perturbation's mean relative L2 and Linf norms and the attack's seconds per image."""
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
    head = ["defense", "attack", "scenario", "eps", "n", "SA", "SA 95% CI", "RA", "RA 95% CI", "Avg", "DR", "ms/img"]
    body = [[r.defense, r.attack + (f" (EOT {r.eot_samples})" if r.eot_samples > 1 else "")
             + ("" if r.attack_precision == "fp32" else f" ({r.attack_precision})"), r.scenario,
             f"{r.norm} {eps_text(r.eps, r.norm)}", str(r.n), f"{r.sa:.2f}", _ci_text(interval(r, "sa")),
             f"{r.ra:.2f}", _ci_text(interval(r, "ra")), f"{r.avg:.2f}", _dr_text(r), f"{r.defense_ms_per_image:.3f}"]
            for r in rows]
    if any(r.ra_within is not None for r in rows):  # irad.evaluation.within
        head += ["RA within eps", "its 95% CI"]
        for b, r in zip(body, rows):
            b += ["-", "-"] if r.ra_within is None else [f"{r.ra_within:.2f}", _ci_text(r.ra_within_ci)]
    if any(r.ra_worst is not None for r in rows):
        head += ["RA worst-of-N", "its 95% CI"]
        for b, r in zip(body, rows):
            b += ["-", "-"] if r.ra_worst is None else [f"{r.ra_worst:.2f} (N={r.worst_of})", _ci_text(r.ra_worst_ci)]
    if any(r.recovery_rate is not None for r in rows):  # Prakash et al.'s metric
        head.append("Rec")
        for b, r in zip(body, rows):
            b.append("-" if r.recovery_rate is None else f"{r.recovery_rate:.2f}")
    if any(r.l2_rel_mean is not None for r in rows):  # the perturbation's size, as Prakash et al. report it
        head += ["mean |L2| rel", "mean Linf"]
        for b, r in zip(body, rows):
            b += ["-", "-"] if r.l2_rel_mean is None else [f"{r.l2_rel_mean:.4f}", f"{r.linf_mean:.4f}"]
    if timed:
        head.append("attack s/img")
        for b, r in zip(body, rows):
            b.append("-" if r.attack_s_per_image is None else f"{r.attack_s_per_image:.3g}")
    return head, body


def _ci_text(ci: tuple[float, float]) -> str:
    return f"{ci[0]:.1f}-{ci[1]:.1f}"


def _dr_text(row: ResultRow) -> str:
    return "-" if row.destruction_rate is None else f"{row.destruction_rate:.2f}"


def eps_text(eps: float, norm: str) -> str:
    """A budget as people write it: ``8/255`` for Linf multiples of 1/255, else ``0.5``."""
    k = eps * 255
    return f"{round(k)}/255" if norm == "Linf" and abs(k - round(k)) < 1e-6 else f"{eps:.4g}"

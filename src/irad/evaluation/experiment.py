"""``irad eval`` as a function: build everything from names, resume from ``--out``, write rows (and, with ``audit``,
the defenses' audit reports) as they finish. Not imported by :mod:`irad.evaluation`'s ``__init__``: it builds on
:mod:`irad.auditing`, which builds on the evaluation harness."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch.utils.data import Dataset

from irad.auditing import DefenseAudit, run_audits
from irad.data import dataset_classes, default_batch_size, load_eval_data
from irad.data.datasets import same_setting
from irad.defenses import Defense, attach_classifier, create_defense
from irad.errors import IradError
from irad.evaluation.adv_cache import AdvCache
from irad.evaluation.results import ResultRow, load_results, result_rows, write_results
from irad.evaluation.runner import evaluate
from irad.evaluation.within import with_budget_worst_case
from irad.models import input_geometry, load_classifier
from irad.utils import distributed as D
from irad.utils.checkpoint import state_fingerprint
from irad.utils.provenance import environment

# Keys whose change makes earlier rows in --out incomparable.
_IDENTITY_KEYS = ("dataset", "data_root", "split", "offset", "classifier", "weights", "seed", "eot_samples")
_RESULTS_KEYS = (*_IDENTITY_KEYS, "attack_precision", "source")  # a results file's setup (the cache keys precision per entry)


@dataclass
class EvalConfig:
    dataset: str = "cifar10"
    data_root: str | None = None
    split: str = "test"
    n: int | None = 500
    offset: int = 0  # leave out the images --n OFFSET would take (a disjoint validation slice)
    classifier: str = "resnet20"
    weights: str | None = "irad-cifar10"
    defenses: list[str] = field(default_factory=lambda: ["none"])
    attacks: list[str] = field(default_factory=lambda: ["pgd"])
    scenario: str = "oblivious"
    norm: str = "Linf"
    eps: float | list[float] = 8 / 255  # a list: one row per budget (a robustness curve)
    batch_size: int | None = None  # None: irad.data.default_batch_size (128 at 32 px, 15 at 260 px)
    device: str = "cpu"
    seed: int = 0
    eot_samples: int = 10
    attack_precision: str = "fp32"  # bf16: craft adversarial examples under bf16 autocast (scores stay fp32)
    source: str | None = None  # "NAME[:WEIGHTS]": oblivious examples crafted on this model (transfer, black-box)
    worst_of: int = 1  # randomized defenses: also RA over this many fresh draws per adversarial example (all right)
    out: str | None = None
    adv_cache: str | None = None  # directory caching oblivious adversarial examples across runs
    adv_cache_strict: bool = False  # an entry that is not ours stops the run instead of being recomputed
    audit: str | None = None  # an audit preset: also audit every defense on the same images, eps, norm and EOT


def run_eval(cfg: EvalConfig, progress: bool = True,
             on_audit: Callable[[DefenseAudit], None] | None = None) -> list[ResultRow]:
    """Run (or resume) an evaluation; returns all rows of ``cfg.out`` including earlier ones. With ``cfg.audit``,
    also audit each defense whose report for these settings and weights is not in ``cfg.out`` yet, and pass each new
    report to ``on_audit``; the reports go to ``cfg.out`` under ``audit`` and stay there when a later run resumes."""
    D.init_from_env(cfg.device)
    device = D.local_device(cfg.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise IradError("--device cuda requested but CUDA is not available on this machine")
    torch.manual_seed(cfg.seed)
    data = load_eval_data(cfg.dataset, cfg.data_root, cfg.split, cfg.n, cfg.offset, **input_geometry(cfg.classifier))
    if cfg.batch_size is None:
        cfg = replace(cfg, batch_size=default_batch_size(*data[0][0].shape[-2:]))
    num_classes = dataset_classes(cfg.dataset)
    classifier = load_classifier(cfg.classifier, cfg.weights, cfg.dataset, device)
    source = None
    if cfg.source:  # evaluate() refuses it outside the oblivious scenario
        name, _, weights = cfg.source.partition(":")
        source = load_classifier(name, None if weights in ("", "none") else weights, cfg.dataset, device)
    defenses = {spec: create_defense(spec) for spec in dict.fromkeys(cfg.defenses)}
    model_print = state_fingerprint(classifier)
    prints = {spec: (model_print, state_fingerprint(d)) for spec, d in defenses.items()}
    for spec, d in defenses.items():
        # a defended classifier predicts with its own models: they must fit the data
        if d.num_classes and num_classes and d.num_classes != num_classes:
            raise IradError(f"defense {spec!r} predicts {d.num_classes} classes but {cfg.dataset} has {num_classes}")
        attach_classifier(d, classifier)  # R-CAM guided deflection reads the victim's activation maps
    config = {k: v for k, v in asdict(cfg).items() if k not in ("out", "adv_cache", "audit")}
    env = environment(device)
    rows: list[ResultRow] = []
    audits: list[dict] = []
    dirty = False  # the file on disk no longer says what this run knows (a resume that computes nothing keeps it)
    if cfg.out and Path(cfg.out).exists():
        previous = load_results(cfg.out)
        old = previous.get("config", {})
        changed = [k for k in _RESULTS_KEYS if k in old and not same_setting(k, old[k], config[k])]
        if changed:
            raise IradError(f"{cfg.out} holds results for a different setup ({', '.join(changed)} differ); use another --out")
        rows = _same_weights(result_rows(previous, cfg.out), prints, cfg.out)
        for r in rows:
            if r.edited() and D.is_main():
                print(f"irad: note: {cfg.out}: the row {r.defense} / {r.attack} does not match the digest it was "
                      "computed with (edited by hand?); kept as it is", file=sys.stderr)
        # rows of randomized defenses judged with another worst-of-N are recomputed
        kept = [r for r in rows if r.defense not in defenses or not defenses[r.defense].randomized
                or r.worst_of == cfg.worst_of]
        dirty = len(kept) < len(previous.get("results", []))  # rows dropped to be recomputed
        rows = kept
        audits = previous.get("audit", [])
        env = _carry_earlier_commits(previous.get("environment", {}), env, len(rows), cfg.out)

    def write() -> None:
        if cfg.out and D.is_main():
            write_results(cfg.out, config, env, rows, audits)

    def save(row: ResultRow) -> None:
        nonlocal dirty
        dirty = True
        notes = [*row.notes, f"transfer: crafted on {cfg.source}"] if cfg.source else row.notes
        rows.append(replace(row, classifier_sha256=prints[row.defense][0], defense_sha256=prints[row.defense][1],
                            notes=notes).sealed())
        write()

    def save_audit(report: DefenseAudit) -> None:
        nonlocal dirty
        dirty = True
        write()
        if on_audit is not None:
            on_audit(report)

    budgets = cfg.eps if isinstance(cfg.eps, list) else [cfg.eps]
    if cfg.audit and len(budgets) > 1:
        raise IradError("--audit takes one --eps; audit each budget in its own run")

    def cache_for(eps: float) -> AdvCache | None:
        """One cache per budget: the directory itself for a single eps, ``eps<value>/`` inside it for a curve."""
        if not cfg.adv_cache:
            return None
        identity = {**{k: config[k] for k in (*_IDENTITY_KEYS, "n", "norm", "batch_size")}, "eps": eps}
        if cfg.source:
            identity["source"] = cfg.source
        folder = Path(cfg.adv_cache) if len(budgets) == 1 else Path(cfg.adv_cache) / f"eps{eps:.6f}"
        return AdvCache(folder, identity, strict=cfg.adv_cache_strict)

    clean: dict = {}  # each defense's clean pass once for all budgets
    try:
        for eps in budgets:
            evaluate(classifier, defenses, cfg.attacks, data, cfg.scenario, cfg.norm, eps, cfg.batch_size, cfg.seed,
                     cfg.eot_samples, skip={r.key() for r in rows}, on_row=save, progress=progress,
                     adv_cache=cache_for(eps), worst_of=cfg.worst_of, attack_precision=cfg.attack_precision,
                     source=source, clean_cache=clean)
        if cfg.audit:
            _audit(cfg, classifier, defenses, data, prints, audits, progress, save_audit)
    finally:
        if dirty and (rows or audits):
            write()
    return with_budget_worst_case(rows)


def _audit(cfg: EvalConfig, classifier: torch.nn.Module, defenses: dict[str, Defense], data: Dataset,
           prints: dict[str, tuple[str, str]], audits: list[dict], progress: bool,
           on_report: Callable[[DefenseAudit], None]) -> None:
    """Audit each defense whose report for these settings and weights is not in ``audits`` yet; a new report
    replaces the defense's earlier one for the same settings in ``audits`` before ``on_report`` sees it. All ranks
    audit (the measurements are sharded like the rows)."""
    setup = {"preset": cfg.audit, "norm": cfg.norm, "eps": cfg.eps, "n": len(data)}

    def same(entry: dict, spec: str) -> bool:
        return entry["defense"] == spec and entry.get("setup") == setup

    done = {spec for spec in defenses
            if any(same(a, spec) and (a.get("classifier_sha256"), a.get("defense_sha256")) == prints[spec]
                   for a in audits)}

    def save(report: DefenseAudit) -> None:
        audits[:] = [a for a in audits if not same(a, report.defense)]
        audits.append({**report.to_dict(), "setup": setup, "classifier_sha256": prints[report.defense][0],
                       "defense_sha256": prints[report.defense][1]})
        on_report(report)

    run_audits(classifier, {spec: d for spec, d in defenses.items() if spec not in done}, data, cfg.audit, cfg.eps,
               cfg.norm, cfg.eot_samples, cfg.batch_size, cfg.seed, progress, save)


def _same_weights(rows: list[ResultRow], prints: dict[str, tuple[str, str]], out: str) -> list[ResultRow]:
    """Drop resumed rows computed with other classifier or defense weights (a retrained model behind the same tag or
    path), so they are recomputed; rows from before fingerprints were recorded are kept."""
    def stale(r: ResultRow) -> bool:
        return r.defense in prints and r.classifier_sha256 is not None and \
            (r.classifier_sha256, r.defense_sha256) != prints[r.defense]

    dropped = [r for r in rows if stale(r)]
    if dropped:
        print(f"warning: {len(dropped)} rows of {out} were computed with other weights (classifier or defense); "
              "recomputing them", file=sys.stderr)
    return [r for r in rows if not stale(r)]


def _carry_earlier_commits(old_env: dict, env: dict, resumed: int, out: str) -> dict:
    """Rows resumed from a results file keep the commit they were computed at: ``earlier_rows_commits`` lists the
    commits other than the current one that produced rows of the file (with a warning), so a table never claims one
    commit for rows made by another."""
    earlier = set(old_env.get("earlier_rows_commits", []))
    if old_env.get("git_commit"):
        earlier.add(old_env["git_commit"])
    earlier.discard(env.get("git_commit"))
    if not (earlier and resumed):
        return env
    print(f"warning: {resumed} rows of {out} were computed at commit {', '.join(sorted(earlier))} (now "
          f"{env.get('git_commit', 'unknown')}); delete the file to recompute them", file=sys.stderr)
    return {**env, "earlier_rows_commits": sorted(earlier)}


__all__ = ["EvalConfig", "run_eval"]

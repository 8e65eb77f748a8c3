"""The evaluation loop: standard accuracy (SA), robust accuracy (RA), their average and defense cost, per
(defense, attack) in one scenario. Works single-process or under torchrun (each rank takes a shard)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from irad.attacks import check_budget, create_attack
from irad.defenses.base import Defense, as_defense, trusted_inputs
from irad.errors import IradError
from irad.evaluation.adv_cache import AdvCache, batch_digest
from irad.evaluation.results import ResultRow, row_key
from irad.evaluation.stats import encode_outcomes, proportion_interval
from irad.evaluation.scenarios import SCENARIOS, attack_target, uses_eot
from irad.utils import distributed as D
from irad.utils.checkpoint import state_fingerprint
from irad.utils.precision import FastForward
from irad.utils.validation import check_choice, check_images


class _Tally:
    """Per-defense counters summed over batches (and ranks)."""

    def __init__(self) -> None:
        self.clean = self.adv = self.n = self.fooled = self.fixed = 0
        self.bare_right = self.recovered = 0  # the bare classifier's clean hits; of those, right after the defense
        self.seconds = 0.0
        self.attack_seconds = 0.0  # crafting this row's examples, wall time
        self.untimed = 0  # batches whose crafting time is unknown (cached before it was recorded)
        self.flags: list[str] = []
        self.clean_hits: list[bool] = []  # per image, this rank's shard in order
        self.adv_hits: list[bool] = []
        self.worst_hits: list[bool] = []  # right on every one of worst_of fresh draws (randomized defenses)
        self.l2 = self.l2_rel = self.linf = 0.0  # sums over images of the perturbation's norms


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _predict(classifier: nn.Module, defense: Defense, x: torch.Tensor, tally: _Tally | None = None) -> torch.Tensor:
    """Predicted labels through ``defense``. The timed cost (added to ``tally``) is the defense's transform, or all
    of :meth:`~Defense.predict` for a defense that predicts by itself (a vote's classifier passes included)."""
    with torch.no_grad():
        t0 = time.perf_counter()
        out = defense.predict(classifier, x) if defense.predicts_itself else defense(x)
        _sync(x.device)
        if tally is not None:
            tally.seconds += time.perf_counter() - t0
        return out if defense.predicts_itself else classifier(out).argmax(1)


def _loader(data: Dataset, batch_size: int) -> DataLoader:
    shard = Subset(data, D.shard(range(len(data))))
    return DataLoader(shard, batch_size=batch_size, shuffle=False, num_workers=0)


def evaluate(
    classifier: nn.Module,
    defenses: Mapping[str, nn.Module],
    attacks: Iterable[str],
    data: Dataset,
    scenario: str = "oblivious",
    norm: str = "Linf",
    eps: float = 8 / 255,
    batch_size: int = 128,
    seed: int = 0,
    eot_samples: int = 10,
    skip: Iterable[tuple] = (),
    on_row: Callable[[ResultRow], None] | None = None,
    progress: bool = True,
    adv_cache: AdvCache | None = None,
    worst_of: int = 1,
    attack_precision: str = "fp32",
    source: nn.Module | None = None,
    clean_cache: dict | None = None,
) -> list[ResultRow]:
    """Standard and robust accuracy of every defense against every attack in one threat scenario.

    Oblivious adversarial examples are crafted once per attack and shared by all defenses; every example is
    checked to lie in the eps-ball and in [0, 1]. Under torchrun each rank takes a shard and the counts are summed.

    Args:
        classifier: images in [0, 1] -> logits (its device is the evaluation's).
        defenses: display name (the spec) -> defense; a plain ``nn.Module`` counts as deterministic and
            differentiable (:func:`~irad.defenses.as_defense`).
        attacks: attack specs (:func:`~irad.attacks.create_attack`).
        data: ``(image, label)`` pairs, images in [0, 1].
        scenario: ``"oblivious"``, ``"bpda"`` or ``"adaptive"`` (:mod:`irad.evaluation.scenarios`).
        norm, eps: the threat model.
        batch_size, seed: batches of the data; the attacks' seed.
        eot_samples: EOT draws for randomized defenses in the bpda and adaptive scenarios.
        skip: :func:`row_key` of rows not to recompute (finished in an earlier run).
        on_row: called with each row as it finishes (on every rank).
        progress: progress bars.
        adv_cache: adversarial examples stored per batch and reused by later runs (:func:`cache_key`).
        worst_of: for a randomized defense, also classify each adversarial example this many times with fresh
            randomness and count it robust only if every draw is right (``ra_worst``; DiffHammer's point that one
            draw under-counts what an attacker breaks). 1: one draw only.
        attack_precision: ``"bf16"`` crafts the examples under bf16 autocast with channels_last (faster on
            CPUs with AVX-512 BF16 and on GPUs); every prediction that is scored stays in the models' own precision.
        source: oblivious only: craft the examples on this model instead (transfer / black-box); they are scored,
            as always, on ``classifier`` behind each defense.
        clean_cache: pass one dict to calls over the same data, defenses and seed (the budgets of a robustness
            curve): each defense's clean pass then runs once; the first call fills it.

    Returns:
        One :class:`ResultRow` per (attack, defense): SA, RA, their average, defense ms/image, destruction rate,
        the perturbations' mean norms.

    Example::

        >>> rows = evaluate(model, {"none": create_defense("none"), "jpeg": create_defense("jpeg")}, ["pgd"],
        ...                 stratified_subset(load_dataset("cifar10", root, "test"), 500), scenario="bpda")
        >>> print(format_table(rows))
    """
    check_choice("scenario", scenario, SCENARIOS)
    if source is not None and scenario != "oblivious":
        raise IradError(f"a source model crafts transfer examples, an oblivious attack; got scenario {scenario!r}")
    device = next(classifier.parameters()).device
    classifier.eval()
    if source is not None:
        source.eval()
    defenses = {name: as_defense(d).to(device).eval() for name, d in defenses.items()}
    n = len(data)
    skip = set(skip)
    clean_cache = {} if clean_cache is None else clean_cache
    rows: list[ResultRow] = []
    for attack_spec in attacks:
        pending = [name for name in defenses if row_key(name, attack_spec, scenario, norm, eps, n) not in skip]
        if not pending:
            continue
        groups = [pending] if scenario == "oblivious" else [[name] for name in pending]
        for group in groups:
            tallies = _run_group(classifier, defenses, group, attack_spec, data, scenario, norm, eps, batch_size,
                                 seed, eot_samples, clean_cache, progress, adv_cache, worst_of, attack_precision,
                                 source)
            for name in group:
                t = tallies[name]
                (clean, adv, count, seconds, fooled, fixed, attack_seconds, untimed, bare, recovered, l2, l2_rel,
                 linf) = D.all_reduce_sum([t.clean, t.adv, t.n, t.seconds, t.fooled, t.fixed, t.attack_seconds,
                                           t.untimed, t.bare_right, t.recovered, t.l2, t.l2_rel, t.linf])
                sa, ra = 100.0 * clean / count, 100.0 * adv / count
                clean_hits, adv_hits = (D.gather_strided(h, n) for h in (t.clean_hits, t.adv_hits))
                worst = _worst_fields(D.gather_strided(t.worst_hits, n), worst_of) if t.worst_hits else {}
                row = ResultRow(
                    defense=name, attack=attack_spec, scenario=scenario, norm=norm, eps=eps, n=int(count),
                    sa=round(sa, 2), ra=round(ra, 2), avg=round((sa + ra) / 2, 2),
                    defense_ms_per_image=round(1000.0 * seconds / count, 4),
                    attack_s_per_image=None if untimed else round(attack_seconds / count, 4),
                    destruction_rate=round(100.0 * fixed / fooled, 2) if fooled else None,
                    recovery_rate=round(100.0 * recovered / bare, 2) if bare else None,
                    eot_samples=uses_eot(defenses[name], scenario, eot_samples),
                    notes=_notes(defenses[name], scenario, t), attack_precision=attack_precision,
                    sa_ci=list(proportion_interval(int(clean), int(count))),
                    ra_ci=list(proportion_interval(int(adv), int(count))),
                    clean_correct=encode_outcomes(bool(h) for h in clean_hits),
                    adv_correct=encode_outcomes(bool(h) for h in adv_hits),
                    l2_mean=round(l2 / count, 5), l2_rel_mean=round(l2_rel / count, 5),
                    linf_mean=round(linf / count, 5),
                    **worst,
                )
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    return rows


def _worst_fields(hits: list[float], worst_of: int) -> dict:
    right = sum(1 for h in hits if h)
    return {"worst_of": worst_of, "ra_worst": round(100.0 * right / len(hits), 2),
            "ra_worst_ci": list(proportion_interval(right, len(hits))),
            "adv_worst_correct": encode_outcomes(bool(h) for h in hits)}


def _notes(defense: Defense, scenario: str, tally: _Tally) -> list[str]:
    notes = list(tally.flags)
    if scenario == "adaptive" and not defense.differentiable:
        notes.append("defense-declared-non-differentiable: adaptive gradient is the defense's own (straight-through, a soft surrogate, or zero)")
    return notes


def cache_key(attack_spec: str, scenario: str, name: str, defense: Defense, eot_samples: int,
              attack_precision: str = "fp32") -> str:
    """What a batch's adversarial examples depend on besides the cache's setup: oblivious ones on the attack alone
    (every defense shares them), BPDA and adaptive ones also on the scenario, the defense (spec and weights) and
    the EOT draws; both on the attack's precision when it is not fp32."""
    precision = "" if attack_precision == "fp32" else f"|attack_precision={attack_precision}"
    if scenario == "oblivious":
        return attack_spec + precision
    eot = uses_eot(defense, scenario, eot_samples)
    return f"{attack_spec}|{scenario}|{name}|{state_fingerprint(defense)}|eot={eot}{precision}"


def _run_group(classifier, defenses, group, attack_spec, data, scenario, norm, eps, batch_size, seed, eot_samples,
               clean_cache, progress, adv_cache, worst_of, attack_precision, source=None) -> dict[str, _Tally]:
    device = next(classifier.parameters()).device
    tallies = {name: _Tally() for name in group}
    need_clean = [name for name in group if name not in clean_cache]
    attack = None  # built on the first batch that is not cached
    key = (cache_key(attack_spec, scenario, group[0], defenses[group[0]], eot_samples, attack_precision)
           if adv_cache is not None else None)
    crafter = classifier if source is None else source  # the model the attack differentiates
    classifier_print = state_fingerprint(crafter) if adv_cache is not None else None
    desc = f"{attack_spec} [{scenario}]" + ("" if len(group) > 1 else f" {group[0]}")
    bar = tqdm(_loader(data, batch_size), desc=desc, disable=not (progress and D.is_main()), leave=False, unit="batch")
    flags: set[str] = set()
    with trusted_inputs():  # each batch is checked once here, not in every defense call of every attack step
        for b, (x, y) in enumerate(bar):
            # seeds per batch, one for the clean pass and (again) the attack, one for judging its examples: a run
            # that resumes from cached examples draws the same defense noise as one that attacked, and one that
            # skips the clean pass (its results known from another budget) the same attack as one that ran it
            batch_seed = 2 * (seed + D.rank() + D.world_size() * b)
            torch.manual_seed(batch_seed)
            x, y = check_images(x.to(device), "evaluation images"), y.to(device)
            for name in need_clean:
                t = tallies[name]
                hits = _predict(classifier, defenses[name], x, t) == y
                t.clean += hits.sum().item()
                t.clean_hits += hits.tolist()
            torch.manual_seed(batch_seed)
            entry = None
            if adv_cache is not None:  # what this batch's cached examples must have been made from
                entry = {"batch_size": len(y), "images_sha256": batch_digest(x, y),
                         "classifier_sha256": classifier_print}
            cached = adv_cache.load(key, b, x, entry) if adv_cache is not None else None
            if cached is None:
                if attack is None:
                    target = attack_target(crafter, defenses[group[0]], scenario, eot_samples)
                    if attack_precision != "fp32":
                        target = FastForward(target, attack_precision)
                    attack = create_attack(attack_spec, target, norm, eps)
                t0 = time.perf_counter()
                x_adv = attack(x, y)
                _sync(x.device)
                attack_seconds = time.perf_counter() - t0
                if adv_cache is not None:
                    adv_cache.save(key, b, x_adv, attack.flags, attack_seconds, entry)
            else:
                x_adv, batch_flags, attack_seconds = cached
                flags.update(batch_flags)
            check_budget(x, x_adv, norm, eps, attack_spec)
            delta = (x_adv - x).flatten(1)
            l2 = delta.norm(dim=1)
            l2_rel = l2 / x.flatten(1).norm(dim=1).clamp_min(1e-12)
            linf = delta.abs().amax(1)
            torch.manual_seed(batch_seed + 1)
            with torch.no_grad():
                fooled = classifier(x_adv).argmax(1) != y  # the bare classifier's mistakes, for the destruction rate
                bare_right = classifier(x).argmax(1) == y  # its clean hits, for the recovery rate
            for name in group:
                t = tallies[name]
                right = _predict(classifier, defenses[name], x_adv) == y
                t.adv += right.sum().item()
                t.adv_hits += right.tolist()
                if worst_of > 1 and defenses[name].randomized:
                    always = right
                    for _ in range(worst_of - 1):  # the draw above is the first
                        always = always & (_predict(classifier, defenses[name], x_adv) == y)
                    t.worst_hits += always.tolist()
                t.fooled += fooled.sum().item()
                t.fixed += (right & fooled).sum().item()
                t.bare_right += bare_right.sum().item()
                t.recovered += (right & bare_right).sum().item()
                t.l2 += l2.sum().item()
                t.l2_rel += l2_rel.sum().item()
                t.linf += linf.sum().item()
                t.n += len(y)
                if attack_seconds is None:
                    t.untimed += 1
                else:
                    t.attack_seconds += attack_seconds
    for name in group:
        t = tallies[name]
        t.flags = sorted(flags | set(attack.flags if attack is not None else []))
        if name in clean_cache:
            cached = clean_cache[name]
            t.clean, t.seconds, t.clean_hits = cached.clean, cached.seconds, cached.clean_hits
        else:
            clean_cache[name] = t
    return tallies

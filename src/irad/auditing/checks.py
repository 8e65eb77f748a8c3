"""The audit's checks: each reads the shared :class:`AuditContext` and returns one :class:`CheckResult`.

Together they look for the usual signs that a robustness number is an artefact of masked or obfuscated gradients
(Athalye, Carlini & Wagner 2018; Carlini et al. 2019, "On evaluating adversarial robustness"): undeclared
randomness, missing gradients, a stronger attack that does worse, white-box attacks beaten by black-box or transfer
ones, and adaptive attacks beaten by oblivious ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from irad.auditing.binarization import FAIL_RATE, PASS_RATE, binarization_test
from irad.auditing.measure import Measurements
from irad.auditing.report import CheckResult
from irad.defenses.base import Defense
from irad.evaluation.scenarios import attack_target

LARGE_EPS = {"Linf": 64 / 255, "L2": 8.0}  # a budget at which any classifier should be near 0% robust
NEAR_ZERO = 5.0  # percent


@dataclass
class AuditContext:
    classifier: nn.Module
    defense: Defense
    x: torch.Tensor  # one batch for the randomness and gradient checks
    y: torch.Tensor
    measure: Measurements
    eps: float
    norm: str
    eot_samples: int
    preset: dict
    _whitebox: str | None = field(default=None, repr=False)

    @property
    def randomized(self) -> bool:
        return self.defense.randomized

    @property
    def eot(self) -> int:
        """EOT samples of the white-box measurements (1 for a deterministic defense)."""
        return self.eot_samples if self.randomized else 1

    def pgd(self, steps: int | None = None) -> str:
        return f"pgd:steps={steps or self.preset['steps'][0]}"

    def whitebox(self) -> str:
        """The stronger of the two white-box scenarios (bpda, adaptive) under the base PGD."""
        if self._whitebox is None:
            ras = {s: self.measure.ra(self.pgd(), s, self.eps, self.eot) for s in ("adaptive", "bpda")}
            self._whitebox = min(ras, key=ras.get)
        return self._whitebox


def randomness(ctx: AuditContext) -> CheckResult:
    # an image defense's output; for one that predicts by itself, what its attacker sees (a defended classifier has
    # no image output)
    run = ctx.defense.attack_model(ctx.classifier, "bpda") if ctx.defense.predicts_itself else ctx.defense
    with torch.no_grad():
        a, b = run(ctx.x), run(ctx.x)
    varies = not torch.equal(a, b)
    evidence = {"declared_randomized": ctx.randomized, "varies_between_calls": varies,
                "max_abs_difference": float((a - b).abs().max()), "eot_samples": ctx.eot_samples}
    if varies != ctx.randomized:
        advice = ("its output varies between calls: declare randomized=True so white-box attacks use EOT" if varies else
                  "declared randomized but its output is fixed: drop the flag (or it is seeded)")
        return CheckResult("randomness", "WARN", evidence, advice)
    if varies and ctx.eot_samples <= 1:
        return CheckResult("randomness", "WARN", evidence,
                           "randomized defense evaluated without EOT: use --eot-samples 10 or more")
    return CheckResult("randomness", "PASS", evidence)


def gradient_health(ctx: AuditContext) -> CheckResult:
    """Input gradient of the margin loss (max other logit - true logit; unlike cross-entropy it never underflows on
    confident predictions) end to end through defense + classifier."""
    x = ctx.x.clone().requires_grad_(True)
    logits = attack_target(ctx.classifier, ctx.defense, "adaptive", eot_samples=1)(x)
    true = logits.gather(1, ctx.y[:, None])[:, 0]
    other = logits.scatter(1, ctx.y[:, None], float("-inf")).amax(1)
    (g,) = torch.autograd.grad((other - true).sum(), x)
    finite = torch.isfinite(g)
    norms = torch.where(finite, g, torch.zeros_like(g)).flatten(1).norm(dim=1)
    declared = ctx.defense.differentiable
    evidence = {"loss": "margin", "declared_differentiable": declared,
                "zero_fraction": float((g == 0).float().mean()), "nan_fraction": float(g.isnan().float().mean()),
                "inf_fraction": float(g.isinf().float().mean()),
                "images_with_zero_gradient": float((norms == 0).float().mean()),
                "gradient_l2_per_image": {"min": float(norms.min()), "median": float(norms.median()),
                                          "max": float(norms.max())}}
    if not bool(finite.all()):
        return CheckResult("gradient-health", "FAIL", evidence,
                           "NaN or infinite input gradients: fix the defense's backward pass or attack with --scenario bpda")
    if declared and (evidence["zero_fraction"] > 0.5 or evidence["images_with_zero_gradient"] > 0.5):
        return CheckResult("gradient-health", "WARN", evidence,
                           "declared differentiable but its gradient is mostly zero (masked): declare "
                           "differentiable=False and attack with --scenario bpda")
    return CheckResult("gradient-health", "PASS", evidence)


def scenario_ordering(ctx: AuditContext) -> CheckResult:
    base, m = ctx.pgd(), ctx.measure
    ra = {s: m.ra(base, s, ctx.eps, 1 if s == "oblivious" else ctx.eot) for s in ("oblivious", "bpda", "adaptive")}
    tol = m.tolerance(*ra.values())
    worse = [s for s in ("bpda", "adaptive") if ra[s] > ra["oblivious"] + tol]
    return _verdict("scenario-ordering", {"attack": base, "ra": ra, "tolerance": round(tol, 2)}, worse,
                    f"{' and '.join(worse)} RA exceeds the oblivious RA: the white-box attack does not follow useful "
                    "gradients; report the strongest scenario (BPDA for non-differentiable parts)")


def attack_monotonicity(ctx: AuditContext) -> CheckResult:
    m, w, p = ctx.measure, ctx.whitebox(), ctx.preset
    few, many = p["steps"]
    one, more = p["restarts"]
    steps = {few: m.ra(ctx.pgd(few), w, ctx.eps, ctx.eot), many: m.ra(ctx.pgd(many), w, ctx.eps, ctx.eot)}
    apgd = lambda r: f"apgd:steps={few},n_restarts={r}"  # noqa: E731
    restarts = {one: m.ra(apgd(one), w, ctx.eps, ctx.eot), more: m.ra(apgd(more), w, ctx.eps, ctx.eot)}
    budgets = [ctx.eps / 2, ctx.eps, 2 * ctx.eps, LARGE_EPS[ctx.norm]]
    eps_ra = [m.ra(ctx.pgd(), w, e, ctx.eot) for e in budgets]
    evidence = {"scenario": w, "ra_by_steps": steps, "ra_by_apgd_restarts": restarts,
                "ra_by_eps": {f"{e:.5g}": r for e, r in zip(budgets, eps_ra)}}
    pairs = [(f"{many} vs {few} PGD steps", steps[few], steps[many]),
             (f"{more} vs {one} APGD restarts", restarts[one], restarts[more])]
    if ctx.randomized:
        eot = {1: m.ra(ctx.pgd(), w, ctx.eps, 1), p["eot"][1]: m.ra(ctx.pgd(), w, ctx.eps, p["eot"][1])}
        evidence["ra_by_eot_samples"] = eot
        pairs.append((f"EOT {p['eot'][1]} vs 1", eot[1], eot[p["eot"][1]]))
    pairs += [(f"eps {b:.5g} vs {a:.5g}", ra_a, ra_b)
              for (a, ra_a), (b, ra_b) in zip(zip(budgets, eps_ra), zip(budgets[1:], eps_ra[1:]))]
    violations = [name for name, weaker, stronger in pairs if stronger > weaker + m.tolerance(weaker, stronger)]
    if eps_ra[-1] > NEAR_ZERO:
        violations.append(f"RA {eps_ra[-1]:.1f}% > {NEAR_ZERO:.0f}% at eps {budgets[-1]:.5g}")
    evidence["violations"] = violations
    return _verdict("attack-monotonicity", evidence, violations,
                    "a stronger attack does not lower RA: gradients are masked or the attack has not converged; add "
                    "steps, restarts and EOT, or use BPDA")


def blackbox_and_transfer(ctx: AuditContext) -> CheckResult:
    m, w = ctx.measure, ctx.whitebox()
    white = m.ra(ctx.pgd(), w, ctx.eps, ctx.eot)
    queries = ctx.preset["square_queries"]
    square = m.ra(f"square:n_queries={queries}", "adaptive", ctx.eps, ctx.eot)
    transfer = m.ra(ctx.pgd(), "oblivious", ctx.eps)
    tol = m.tolerance(white, square, transfer)
    evidence = {"whitebox": {"scenario": w, "ra": white}, "square_ra": square, "square_queries": queries,
                "transfer_ra": transfer, "tolerance": round(tol, 2)}
    beaten = [name for name, ra in (("Square (black box)", square), ("transfer", transfer)) if white > ra + tol]
    return _verdict("blackbox-and-transfer", evidence, beaten,
                    f"the white-box attack is weaker than {' and '.join(beaten)}: its gradients mislead it; report the "
                    "lowest RA and use BPDA/EOT")


def autoattack_flags(ctx: AuditContext) -> CheckResult:
    w = ctx.whitebox()
    ra = ctx.measure.ra("autoattack", w, ctx.eps, ctx.eot)
    notes = ctx.measure.notes[("autoattack", w, round(ctx.eps, 8), ctx.eot)]
    flags = [n for n in notes if not n.startswith("defense-declared")]  # the harness's own note is not a flag
    return _verdict("autoattack-flags", {"scenario": w, "ra": ra, "flags": flags}, flags,
                    "AutoAttack's own checks raised flags: see evidence")


def binarization(ctx: AuditContext) -> CheckResult:
    """Zimmermann et al.'s binarization test with the audit's base PGD, in both white-box scenarios: a FAIL in either
    means that scenario's attack misses adversarial examples known to exist, so its RA is no evidence."""
    evidence, failed, unclear = {"attack": ctx.pgd(), "pass_rate": PASS_RATE, "fail_rate": FAIL_RATE}, [], []
    for scenario in ("bpda", "adaptive"):
        target = attack_target(ctx.classifier, ctx.defense, scenario, ctx.eot)
        result = binarization_test(target, ctx.x, ctx.pgd(), ctx.norm, ctx.eps)
        status = result.status()
        evidence[scenario] = {"status": status, "valid_readouts": int(result.valid.sum()), "images": len(ctx.x),
                              "attack_success_rate": result.success_rate}
        (failed if status == "FAIL" else unclear if status == "WARN" else []).append(scenario)
    if failed:
        return CheckResult("binarization", "FAIL", evidence,
                           f"under {' and '.join(failed)} the attack does not reach adversarial regions known to lie "
                           "inside the budget: its RA there says nothing; use a scenario that passes (BPDA for "
                           "non-differentiable parts), more steps or EOT")
    if unclear:
        return CheckResult("binarization", "WARN", evidence,
                           f"under {' and '.join(unclear)} the test was inconclusive (few valid readouts or a middling "
                           "success rate): strengthen the attack and rerun")
    return CheckResult("binarization", "PASS", evidence)


def _verdict(name: str, evidence: dict, problems: list, advice: str) -> CheckResult:
    """WARN with ``advice`` when ``problems`` is non-empty, else PASS."""
    return CheckResult(name, "WARN", evidence, advice) if problems else CheckResult(name, "PASS", evidence)


CHECKS = [randomness, gradient_health, scenario_ordering, attack_monotonicity, blackbox_and_transfer, binarization]

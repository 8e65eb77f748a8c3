from __future__ import annotations

import pytest
import torch
from torch import nn

from irad.defenses import as_defense, bpda, create_defense
from irad.errors import IradError
from irad.evaluation import EOT, attack_target, evaluate
from irad.evaluation.scenarios import uses_eot


def _grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    nn.functional.cross_entropy(model(x), y).backward()
    return x.grad


def test_oblivious_target_is_the_bare_classifier(tiny_model):
    assert attack_target(tiny_model, create_defense("jpeg"), "oblivious") is tiny_model


def test_bpda_passes_gradients_through_a_zero_gradient_defense(tiny_model, samples):
    x, y = samples[0][:4], samples[1][:4]
    d = create_defense("bit-depth:bits=3")
    adaptive = _grad(attack_target(tiny_model, d, "adaptive"), x, y)
    through = _grad(attack_target(tiny_model, d, "bpda"), x, y)
    assert float(adaptive.abs().sum()) == 0  # the true gradient of rounding
    assert float(through.abs().sum()) > 0
    # BPDA's gradient is the classifier's gradient at the defended point
    assert torch.allclose(through, _grad(tiny_model, d(x), y), atol=1e-7)


def test_adaptive_follows_the_true_gradient(tiny_model, samples):
    x, y = samples[0][:4], samples[1][:4]
    d = create_defense("resample:recon=bilinear,sampler=si,shift=0.5")
    g = _grad(attack_target(tiny_model, d, "adaptive"), x, y)
    ref = _grad(nn.Sequential(d, tiny_model), x, y)
    assert torch.allclose(g, ref) and float(g.abs().sum()) > 0


def test_eot_wraps_only_randomized_defenses_and_averages_logits(tiny_model, samples):
    det, rnd = create_defense("median"), create_defense("resample:sampler=sv,shift=2")
    assert not isinstance(attack_target(tiny_model, det, "adaptive", 8), EOT)
    target = attack_target(tiny_model, rnd, "adaptive", 8)
    assert isinstance(target, EOT) and target.samples == 8
    assert uses_eot(rnd, "oblivious", 8) == 1 and uses_eot(rnd, "bpda", 8) == 8
    x = samples[0][:3]
    torch.manual_seed(1)
    averaged = target(x)
    torch.manual_seed(1)
    tiled = x.repeat(8, 1, 1, 1)
    manual = tiny_model(rnd(tiled)).view(8, 3, -1).mean(0)
    assert torch.allclose(averaged, manual, atol=1e-6)


def test_unknown_scenario(tiny_model):
    with pytest.raises(IradError, match="scenario must be one of oblivious, bpda, adaptive"):
        attack_target(tiny_model, create_defense("none"), "whitebox")


@pytest.mark.parametrize("scenario", ["oblivious", "bpda", "adaptive"])
def test_each_scenario_end_to_end(scenario, samples, shared_models):
    from torch.utils.data import TensorDataset

    from irad.models import create_classifier

    model = create_classifier("resnet20", shared_models / "resnet20-12fca82f.th")
    data = TensorDataset(samples[0][:8], samples[1][:8])
    defenses = {"none": create_defense("none"), "bit-depth:bits=4": create_defense("bit-depth:bits=4"),
                "resample:sampler=sv": create_defense("resample:sampler=sv")}
    rows = evaluate(model, defenses, ["pgd:steps=5"], data, scenario=scenario, eot_samples=2, progress=False)
    by = {r.defense: r for r in rows}
    assert set(by) == set(defenses) and all(r.n == 8 and r.scenario == scenario for r in rows)
    assert by["none"].ra <= 12.5  # PGD breaks the undefended model whatever the scenario
    for r in rows:
        assert 0 <= r.ra <= 100 and 0 <= r.sa <= 100 and r.avg == pytest.approx((r.sa + r.ra) / 2, abs=0.01)
    assert by["resample:sampler=sv"].eot_samples == (1 if scenario == "oblivious" else 2)
    if scenario == "adaptive":
        assert any("non-differentiable" in n for n in by["bit-depth:bits=4"].notes)


def test_inputs_are_checked_at_the_boundary_not_on_every_attack_step(tiny_model, samples, monkeypatch):
    from torch.utils.data import TensorDataset

    import irad.defenses.base as base

    x, y = samples[0][:4], samples[1][:4]
    defense = create_defense("median")
    for bad in (x * float("nan"), x * 2):  # a user's own call is checked
        with pytest.raises(IradError, match="NaN|\\[0, 1\\]"):
            defense(bad)
    with pytest.raises(IradError, match="evaluation images"):  # and so is the data the harness is given
        evaluate(tiny_model, {"median": defense}, ["fgsm"], TensorDataset(x * 2, y), progress=False)
    checks = []
    monkeypatch.setattr(base, "check_images", lambda *a: checks.append(a))
    chain = create_defense("median+none")
    rows = evaluate(tiny_model, {"median+none": chain}, ["pgd:steps=5"], TensorDataset(x, y), scenario="adaptive",
                    progress=False)
    assert len(rows) == 1 and checks == []  # but not again in each defense call of the attack's steps
    chain(x)
    assert checks  # while a call outside the harness is


def test_plain_modules_and_bpda_wrappers_are_defenses_in_the_harness(tiny_model, samples):
    from torch.utils.data import TensorDataset

    class Halve(nn.Module):  # a user's own transform, not a Defense: the protocol's defaults apply
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x / 2

    plain = as_defense(Halve())
    assert (plain.spec, plain.differentiable, plain.randomized, plain.predicts_itself) == ("Halve", True, False, False)
    wrapped = bpda(create_defense("resample:sampler=sv"))
    assert wrapped.randomized and wrapped.differentiable and wrapped.spec.startswith("bpda(resample:")
    assert isinstance(attack_target(tiny_model, wrapped, "adaptive", 4), EOT)
    defenses = {"halve": Halve(), "bpda(bit-depth)": bpda(create_defense("bit-depth:bits=3"))}
    data = TensorDataset(samples[0][:4], samples[1][:4])
    rows = {r.defense: r for r in evaluate(tiny_model, defenses, ["fgsm"], data, scenario="adaptive", progress=False)}
    assert set(rows) == set(defenses) and all(r.n == 4 for r in rows.values())
    assert not any("non-differentiable" in n for n in rows["bpda(bit-depth)"].notes)  # BPDA is differentiable


def test_bf16_crafted_examples_are_scored_in_fp32_and_cached_apart(tiny_model, samples, tmp_path):
    from torch.utils.data import TensorDataset

    from irad.evaluation.adv_cache import AdvCache

    data = TensorDataset(samples[0][:8], samples[1][:8])
    cache = AdvCache(tmp_path / "adv", {"setup": "test"})
    none = {"none": create_defense("none")}
    full = evaluate(tiny_model, none, ["pgd:steps=5"], data, progress=False, adv_cache=cache)[0]
    half = evaluate(tiny_model, none, ["pgd:steps=5"], data, progress=False, adv_cache=cache,
                    attack_precision="bf16")[0]
    assert (full.attack_precision, half.attack_precision) == ("fp32", "bf16")
    assert half.sa == full.sa  # the clean pass is the same fp32 model
    assert abs(half.ra - full.ra) <= 25  # a bf16-crafted PGD is about as strong on 8 images
    files = sorted(p.name for p in (tmp_path / "adv").glob("*.safetensors"))
    assert len(files) == 2 and any("attack_precision" in f for f in files)  # one entry per precision


def test_a_bf16_attack_leaves_a_batchnorm_victim_in_eval_mode(samples):
    """torchattacks restores its target's mode after each attack: the bf16 wrapper must carry the victim's eval
    mode, or the victim is scored afterwards on batch statistics (and its running statistics overwritten)."""
    from torch.utils.data import TensorDataset

    from irad.models import create_classifier

    torch.manual_seed(0)
    model = create_classifier("resnet20").eval()  # random weights: what matters is its BatchNorm
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = TensorDataset(samples[0][:8], samples[1][:8])
    evaluate(model, {"none": create_defense("none")}, ["fgsm", "fgsm"], data, eps=2 / 255, progress=False,
             batch_size=4, attack_precision="bf16")
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # running statistics untouched


def test_transfer_examples_are_crafted_on_the_source_and_scored_on_the_victim(tiny_model, samples):
    from torch.utils.data import TensorDataset

    from irad.attacks import create_attack

    torch.manual_seed(1)
    source = type(tiny_model)().eval()  # another TinyNet
    x, y = samples[0][:8], samples[1][:8]
    (row,) = evaluate(tiny_model, {"none": create_defense("none")}, ["fgsm"], TensorDataset(x, y), eps=8 / 255,
                      progress=False, source=source)
    x_adv = create_attack("fgsm", source, "Linf", 8 / 255)(x, y)  # FGSM is deterministic
    with torch.no_grad():
        expected = 100 * (tiny_model(x_adv).argmax(1) == y).float().mean().item()
    assert row.ra == pytest.approx(expected, abs=0.01)
    with pytest.raises(IradError, match="oblivious"):
        evaluate(tiny_model, {"none": create_defense("none")}, ["fgsm"], TensorDataset(x, y), scenario="bpda",
                 progress=False, source=source)

"""The IRAD training pipeline end to end on a few images: pairs -> implicit representation -> SampleNet -> defense."""

from __future__ import annotations

import json

import pytest
import torch

from irad.cli.main import main
from irad.defenses import create_defense
from irad.training.pairs import load_pairs
from irad.training.samplenet import samplenet_loss
from irad.training.tasks import TASKS, degrade

TINY = ["--n-resblocks", "1", "--n-feats", "8", "--hidden", "16", "16", "--epochs", "1", "--batch-size", "4"]


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory, shared_data, shared_models):
    out = tmp_path_factory.mktemp("pairs")
    assert main(["make-pairs", "--data-root", str(shared_data), "--n", "10", "--shard-size", "4",
                 "--weights", str(shared_models / "resnet20-12fca82f.th"), "--attack", "pgd:steps=3", "--out", str(out)]) == 0
    return out


def test_pairs_are_stored_compactly_within_budget(pairs_dir):
    meta = json.loads((pairs_dir / "meta.json").read_text())
    assert meta["complete"] and meta["count"] == 10 and meta["shards"] == 3
    p = load_pairs(pairs_dir)
    assert p["clean"].dtype == torch.uint8 and p["adv"].shape == (10, 3, 32, 32)
    delta = (p["adv"].float() - p["clean"].float()).abs().max().item()
    assert 0 < delta <= 8.5  # eps 8/255 plus uint8 rounding
    assert torch.bincount(p["labels"], minlength=10).tolist() == [1] * 10


def test_pairs_resume_and_refuse_other_configs(pairs_dir, shared_data, shared_models, capsys):
    (pairs_dir / "shard-00001.safetensors").unlink()
    args = ["make-pairs", "--data-root", str(shared_data), "--n", "10", "--shard-size", "4",
            "--weights", str(shared_models / "resnet20-12fca82f.th"), "--attack", "pgd:steps=3", "--out", str(pairs_dir)]
    assert main(args) == 0 and (pairs_dir / "shard-00001.safetensors").exists()
    assert main([*args[:-2], "--eps", "4/255", "--out", str(pairs_dir)]) == 2
    assert "different configuration" in capsys.readouterr().err


@pytest.mark.parametrize("task", TASKS)
def test_degradations(task):
    clean = torch.rand(2, 3, 32, 32)
    adv = (clean + 0.03).clamp(0, 1)
    x = degrade(task, clean, adv, torch.Generator().manual_seed(0))
    assert 0 <= x.min() and x.max() <= 1
    assert x.shape == ((2, 3, 16, 16) if task == "sr" else clean.shape)
    if task == "pgd":
        assert torch.equal(x, adv)
    if task == "clean2clean":
        assert torch.equal(x, clean)


@pytest.mark.parametrize("task", TASKS)
def test_train_implicit_one_epoch_each_task(task, pairs_dir, tmp_path):
    out = tmp_path / task
    assert main(["train", "implicit", "--pairs", str(pairs_dir), "--task", task, *TINY, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and metrics["history"][0]["loss"] > 0
    d = create_defense(f"disco:weights={out}")
    assert d(torch.rand(2, 3, 32, 32)).shape == (2, 3, 32, 32)


def test_random_crops_cut_the_same_window_from_every_tensor():
    from irad.training.tasks import random_crops

    a = torch.arange(2 * 3 * 20 * 30, dtype=torch.float32).view(2, 3, 20, 30)
    ca, cb = random_crops(8, a, a + 1, generator=torch.Generator().manual_seed(0))
    assert ca.shape == cb.shape == (2, 3, 8, 8) and torch.equal(cb, ca + 1)
    for i in range(2):  # each window is a contiguous block of its own image
        top, left = divmod(int(ca[i, 0, 0, 0]) - i * 3 * 20 * 30, 30)
        assert torch.equal(ca[i], a[i, :, top:top + 8, left:left + 8])
    with pytest.raises(ValueError, match="larger"):
        random_crops(21, a)


def test_train_implicit_on_random_crops(pairs_dir, tmp_path):
    out = tmp_path / "crops"
    assert main(["train", "implicit", "--pairs", str(pairs_dir), *TINY, "--crop", "16", "--crops-per-image", "3",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["history"][0]["loss"] > 0 and metrics["config"]["crop"] == 16
    # the model trained on 16 px crops purifies whole 32 px images
    assert create_defense(f"disco:weights={out}")(torch.rand(2, 3, 32, 32)).shape == (2, 3, 32, 32)


def test_implicit_warm_restart_starts_from_init_weights(pairs_dir, tmp_path, capsys):
    first, again = tmp_path / "first", tmp_path / "again"
    assert main(["train", "implicit", "--pairs", str(pairs_dir), *TINY, "--out", str(first)]) == 0
    # lr 0: the restarted run's weights stay those it started from (the first run's, not a fresh seed's)
    assert main(["train", "implicit", "--pairs", str(pairs_dir), *TINY, "--seed", "1", "--lr", "0",
                 "--init", str(first), "--out", str(again)]) == 0
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(create_defense(f"disco:weights={again}")(x), create_defense(f"disco:weights={first}")(x))
    wider = [*TINY[:3], "16", *TINY[4:]]
    assert main(["train", "implicit", "--pairs", str(pairs_dir), *wider, "--init", str(first),
                 "--out", str(tmp_path / "wider")]) == 2
    assert "--init" in capsys.readouterr().err


@pytest.mark.parametrize("crop", [[], ["--crop", "16"]], ids=["whole", "crops"])
def test_train_samplenet_then_irad_defense(pairs_dir, tmp_path, crop):
    implicit_dir, sn_dir = tmp_path / "implicit", tmp_path / "samplenet"
    assert main(["train", "implicit", "--pairs", str(pairs_dir), *TINY, "--out", str(implicit_dir)]) == 0
    assert main(["train", "samplenet", "--pairs", str(pairs_dir), "--implicit", str(implicit_dir), "--hidden", "8",
                 "--epochs", "1", "--batch-size", "5", *crop, "--out", str(sn_dir)]) == 0
    h = json.loads((sn_dir / "metrics.json").read_text())["history"][0]
    assert {"loss", "acc_clean", "acc_adv", "mean_shift_px", "shift_clean_px", "shift_adv_px"} <= set(h)
    irad, disco = create_defense(f"irad:weights={sn_dir}"), create_defense(f"disco:weights={implicit_dir}")
    x = torch.rand(2, 3, 32, 32)
    assert irad(x).shape == x.shape
    # the encoder and decoder were frozen: without SampleNet the two models agree
    assert torch.allclose(create_defense(f"disco:weights={sn_dir}")(x), disco(x), atol=1e-6)
    # rerunning resumes: nothing left to train
    assert main(["train", "samplenet", "--pairs", str(pairs_dir), "--implicit", str(implicit_dir), "--hidden", "8",
                 "--epochs", "1", "--batch-size", "5", *crop, "--out", str(sn_dir)]) == 0
    assert len(json.loads((sn_dir / "metrics.json").read_text())["history"]) == 1


def test_samplenet_loss_penalises_all_or_only_clean_shifts():
    logits, labels = torch.randn(4, 10), torch.tensor([1, 2, 1, 2])
    shift = torch.tensor([0.1, 0.3, 1.0, 2.0])  # clean, clean, adversarial, adversarial
    ce = torch.nn.functional.cross_entropy(logits, labels)
    assert torch.allclose(samplenet_loss(logits, labels, shift, 0.5), ce + 0.5 * shift.mean())
    assert torch.allclose(samplenet_loss(logits, labels, shift, 0.5, "clean"), ce + 0.5 * 0.2)


FAST = ["--precision", "bf16", "--channels-last", "true", "--schedule", "cosine"]


def test_implicit_training_lowers_its_loss_and_keeps_the_best_epoch(pairs_dir, tmp_path):
    out = tmp_path / "implicit"
    assert main(["train", "implicit", "--pairs", str(pairs_dir), "--n-resblocks", "1", "--n-feats", "8", "--hidden",
                 "16", "--epochs", "6", "--batch-size", "5", "--lr", "3e-3", *FAST, "--val-pairs", str(pairs_dir),
                 "--keep-epochs", "true", "--out", str(out)]) == 0
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert history[-1]["loss"] < 0.8 * history[0]["loss"]
    assert history[-1]["val_l1"] < history[0]["val_l1"]
    assert {"val_sa", "val_ra", "val_avg", "cpu_hours", "wall_hours"} <= set(history[0])
    hours = [h["cpu_hours"] for h in history]
    assert hours == sorted(hours) and hours[-1] > 0
    best = max(history, key=lambda h: h["val_avg"])  # first of the ties: later epochs must beat it strictly
    epoch = best["epoch"]
    best_snapshot = create_defense(f"disco:weights={out / 'epochs' / f'epoch-{epoch:03d}'}")
    x = torch.rand(2, 3, 32, 32)
    # best/ holds the best epoch (float32); its float16 snapshot agrees to float16 rounding of the weights
    assert torch.allclose(create_defense(f"disco:weights={out / 'best'}")(x), best_snapshot(x), atol=2e-2)
    assert len(list((out / "epochs").iterdir())) == 6


def test_samplenet_training_lowers_its_loss_and_reports_offsets(pairs_dir, tmp_path):
    sn_dir = tmp_path / "samplenet"
    # over the built-in implicit representation (a real reconstruction), one step per epoch on all 10 pairs
    assert main(["train", "samplenet", "--pairs", str(pairs_dir), "--implicit", "builtin", "--hidden", "16",
                 "--epochs", "6", "--batch-size", "10", "--lr", "1e-2", "--shift-penalty", "0.01", *FAST,
                 "--val-pairs", str(pairs_dir), "--out", str(sn_dir)]) == 0
    history = json.loads((sn_dir / "metrics.json").read_text())["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    assert {"offset_clean_px", "offset_adv_px", "offset_clean_spread_px", "val_ra"} <= set(history[-1])
    assert history[-1]["offset_clean_px"] > 0


def test_bf16_training_tracks_fp32(pairs_dir, tmp_path):
    losses = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        assert main(["train", "implicit", "--pairs", str(pairs_dir), *TINY[:-4], "--epochs", "2", "--batch-size", "5",
                     "--precision", precision, "--out", str(out)]) == 0
        losses[precision] = [h["loss"] for h in json.loads((out / "metrics.json").read_text())["history"]]
    assert losses["fp32"] != losses["bf16"]  # the setting is applied ...
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.02)  # ... and follows the fp32 curve


def test_packager_follows_a_warm_restart_to_its_start(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "package_weights.py"
    spec = importlib.util.spec_from_file_location("package_weights", script)
    pw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pw)
    first, restart = tmp_path / "implicit-long", tmp_path / "implicit-restart"
    configs = {first: {"epochs": 20, "lr": 5e-4}, restart: {"epochs": 16, "lr": 3e-4, "init": f"{first}/best"}}
    for run, cfg in configs.items():
        run.mkdir()
        (run / "metrics.json").write_text(json.dumps({"config": cfg, "history": [{"epoch": 1, "cpu_hours": 1.5}]}))
    assert pw._chain(restart) == [first, restart] and pw._chain(first) == [first]
    assert pw._implicit_command(restart).endswith("--init runs/implicit-long/best --epochs 16 --lr 0.0003 "
                                                  "--out runs/implicit-restart")


def test_pairs_span_attacks_and_budgets_and_record_them(tmp_path, shared_data):
    out = tmp_path / "mix"
    args = ["make-pairs", "--data-root", str(shared_data), "--n", "10", "--shard-size", "4", "--attack", "pgd:steps=2",
            "fgsm", "none", "--eps", "2/255,8/255", "--variants", "5", "--out", str(out)]
    assert main(args) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["config"]["attack"] == ["pgd:steps=2", "fgsm", "none"] and meta["count"] == 50
    assert [(c["attack"], round(c["eps"] * 255)) for c in meta["combos"]] == [
        ("pgd:steps=2", 2), ("pgd:steps=2", 8), ("fgsm", 2), ("fgsm", 8), ("none", 0)]
    assert set(meta["source_error_rate_this_run"]) == {f"{a} eps {e / 255:.5f}" for a in ("pgd:steps=2", "fgsm")
                                                        for e in (2, 8)}
    p = load_pairs(out)
    assert p["combo"].bincount().tolist() == [10] * 5  # every image, every combination
    delta = (p["adv"].float() - p["clean"].float()).abs().flatten(1).amax(1)
    assert torch.allclose(p["eps"], torch.tensor([meta["combos"][c]["eps"] for c in p["combo"]]))
    assert (delta <= p["eps"] * 255 + 0.5).all() and (delta[p["combo"] == 4] == 0).all()
    assert (delta[p["combo"] == 3] > 7).all()  # fgsm's full step at 8/255
    assert main([*args[:-2], "--variants", "2", "--out", str(out)]) == 2  # another configuration: refused
    fewer = tmp_path / "two"
    assert main([*args[:-3], "2", "--seed", "1", "--out", str(fewer)]) == 0
    combos = load_pairs(fewer)["combo"].view(10, 2)
    assert (combos[:, 0] != combos[:, 1]).all() and len(set(combos.flatten().tolist())) == 5  # drawn per image


def test_augmented_pairs_stay_aligned(tmp_path, shared_data):
    from irad.data import load_dataset, stratified_subset

    out = tmp_path / "aug"
    assert main(["make-pairs", "--data-root", str(shared_data), "--split", "test", "--n", "10", "--attack", "none",
                 "pgd:steps=2", "--eps", "4/255", "--variants", "2", "--augment", "flip", "--out", str(out)]) == 0
    p = load_pairs(out)
    data = stratified_subset(load_dataset("cifar10", str(shared_data), "test"), 10)
    originals = {i: data[k][0] for k, i in enumerate(data.indices)}
    flipped = 0
    for clean, idx in zip(p["clean"].float() / 255, p["indices"].tolist()):
        x = originals[idx]
        assert torch.allclose(clean, x, atol=1e-6) or torch.allclose(clean, x.flip(-1), atol=1e-6)
        flipped += not torch.allclose(clean, x, atol=1e-6)
    assert 0 < flipped < 20
    delta = (p["adv"].float() - p["clean"].float()).abs().flatten(1).amax(1)
    assert (delta[p["combo"] == 0] == 0).all() and (0 < delta[p["combo"] == 1]).all() and (delta <= 4.5).all()
    # crop + rescale: a zoomed window of the image, on the 1/255 grid, the adversarial partner crafted on it
    from irad.training.pairs import aligned_view

    x = torch.stack([originals[i] for i in list(originals)[:4]])
    v = aligned_view(x, ["crop", "rescale"], torch.Generator().manual_seed(0))
    assert v.shape == x.shape and torch.equal(v, (v * 255).round() / 255) and not torch.allclose(v, x)


def test_early_stopping_stops_on_a_plateau_and_resumes_stopped(tmp_path, capsys):
    from torch import nn

    from irad.training.loop import fit, plateaued

    hist = [{"v": 1.0}, {"v": 3.0}, {"v": 2.0}, {"v": 3.0}]
    assert plateaued(hist, "v", 2) and not plateaued(hist[:3], "v", 2) and not plateaued(hist, "v", None)
    assert not plateaued(hist + [{"v": 3.5}], "v", 2)
    model = nn.Linear(1, 1)
    scores = iter([1.0, 2.0, 1.5, 1.9, 5.0, 6.0])  # best at epoch 2, then two epochs without improvement

    def run(epochs: int):
        return fit(model, list(model.parameters()), lambda idx, gen: (model(torch.ones(len(idx), 1)).sum(), {}),
                   4, {"c": 1}, tmp_path, epochs=epochs, batch_size=2, lr=1e-3, betas=(0.9, 0.99), seed=0,
                   save=lambda: None, progress=False, validate=lambda: {"v": next(scores)}, select="v", patience=2)

    assert [h["v"] for h in run(10)] == [1.0, 2.0, 1.5, 1.9]
    assert "stopping early" in capsys.readouterr().out
    assert json.loads((tmp_path / "metrics.json").read_text())["stopped_early"]["best_epoch"] == 2
    assert len(run(10)) == 4  # a rerun resumes into the same decision, training nothing more


def test_samplenet_starts_from_a_fixed_shift_or_another_samplenet():
    from irad.models.implicit import ImplicitConfig, ImplicitResampler
    from irad.training.samplenet import with_samplenet

    base = ImplicitResampler(ImplicitConfig(1, 8, [16], None))
    shifted = with_samplenet(base, [16], shift=(2 * 1.5 / 32,) * 2)
    x = torch.rand(1, 3, 32, 32)
    off = shifted.samplenet_offsets(x, shifted.features(x)) * 16  # coordinate units -> pixels at 32 px
    assert torch.allclose(off, torch.full_like(off, 1.5), atol=1e-5)
    warm = with_samplenet(base, [16], init=shifted)
    assert torch.equal(warm.samplenet.layers[-1].bias, shifted.samplenet.layers[-1].bias)
    with pytest.raises(Exception, match="widths"):
        with_samplenet(base, [32], init=shifted)

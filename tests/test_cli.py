from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from irad.cli.main import main

EVAL = ["eval", "--dataset", "foolbox-cifar10", "--n", "10", "--no-progress"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "irad", *args], capture_output=True, text=True, timeout=300)


def _computed_rows(monkeypatch) -> list[tuple[str, str]]:
    """``(defense, attack)`` of each row the following runs compute, as ``evaluate`` reports them to ``on_row``."""
    import irad.evaluation.experiment as experiment

    computed, evaluate = [], experiment.evaluate

    def counting(*args, on_row, **kwargs):
        return evaluate(*args, on_row=lambda row: (computed.append((row.defense, row.attack)), on_row(row)), **kwargs)

    monkeypatch.setattr(experiment, "evaluate", counting)
    return computed


def test_eval_json_schema_and_resume(tmp_path, shared_models, monkeypatch, capsys):
    out = tmp_path / "r.json"
    args = [*EVAL, "--classifier", "resnet20", "--weights", str(shared_models / "resnet20-12fca82f.th"),
            "--defense", "none", "--defense", "median", "--attack", "fgsm", "--attack", "bim:steps=3", "--out", str(out)]
    assert main(args) == 0
    data = json.loads(out.read_text())
    assert set(data) == {"config", "environment", "results"}
    assert data["config"]["classifier"] == "resnet20" and data["environment"]["torch"] == torch.__version__
    assert len(data["results"]) == 4
    for r in data["results"]:
        assert {"defense", "attack", "scenario", "norm", "eps", "n", "sa", "ra", "avg", "defense_ms_per_image"} <= set(r)
        assert r["n"] == 10 and r["scenario"] == "oblivious" and r["eps"] == pytest.approx(8 / 255)
    assert "SA" in capsys.readouterr().out

    computed = _computed_rows(monkeypatch)
    assert main([*args, "--defense", "bit-depth"]) == 0
    assert computed == [("bit-depth", "fgsm"), ("bit-depth", "bim:steps=3")]  # only the new defense's rows
    rows = json.loads(out.read_text())["results"]
    assert len(rows) == 6 and rows[:4] == data["results"]  # the finished ones are kept as they were


def test_resume_recomputes_rows_whose_weights_changed(tmp_path, shared_models, monkeypatch, capsys):
    from safetensors.torch import save_file

    from irad.models import create_classifier
    from irad.utils.checkpoint import state_fingerprint

    net = create_classifier("resnet20", shared_models / "resnet20-12fca82f.th")
    state = {k.removeprefix("net."): v.clone() for k, v in net.state_dict().items() if k.startswith("net.")}
    save_file(state, tmp_path / "w.safetensors")  # same weights, other file and format: same fingerprint
    print_a = state_fingerprint(net)
    assert state_fingerprint(create_classifier("resnet20", tmp_path / "w.safetensors")) == print_a
    out = tmp_path / "r.json"
    args = [*EVAL, "--classifier", "resnet20", "--weights", str(tmp_path / "w.safetensors"), "--defense", "none",
            "--defense", "median", "--attack", "fgsm", "--out", str(out)]
    assert main(args) == 0
    rows = json.loads(out.read_text())["results"]
    assert {r["classifier_sha256"] for r in rows} == {print_a}
    assert rows[0]["defense_sha256"] == state_fingerprint(torch.nn.Module())  # parameterless defenses

    state["linear.bias"] = state["linear.bias"] + 1.0  # "retrained" behind the same path
    save_file(state, tmp_path / "w.safetensors")
    computed = _computed_rows(monkeypatch)
    capsys.readouterr()
    assert main(args) == 0
    assert computed == [("none", "fgsm"), ("median", "fgsm")] and "2 rows of" in capsys.readouterr().err
    rows = json.loads(out.read_text())["results"]
    assert len(rows) == 2 and {r["classifier_sha256"] for r in rows} not in ({print_a}, {None})


def test_eval_attaches_the_victim_to_rcam_and_votes_and_reports_destruction(tmp_path, shared_models):
    out = tmp_path / "r.json"
    spec = "pixel-deflection:deflections=30,window=2"
    assert main([*EVAL, "--classifier", "resnet20", "--weights", str(shared_models / "resnet20-12fca82f.th"),
                 "--defense", "none", "--defense", spec.replace(":", ":rcam=true,"), "--defense", f"ens-3({spec})",
                 "--attack", "fgsm", "--out", str(out)]) == 0
    rows = {r["defense"]: r for r in json.loads(out.read_text())["results"]}
    assert len(rows) == 3 and rows["none"]["destruction_rate"] == 0.0  # nothing fixes what it does not touch
    assert all(0 <= r["destruction_rate"] <= 100 for r in rows.values())


def test_adv_cache_reuses_oblivious_examples(tmp_path, shared_models, monkeypatch, capsys):
    base = [*EVAL, "--classifier", "resnet20", "--weights", str(shared_models / "resnet20-12fca82f.th"),
            "--attack", "bim:steps=3", "--adv-cache", str(tmp_path / "adv"), "--batch-size", "4"]
    assert main([*base, "--defense", "none", "--out", str(tmp_path / "a.json")]) == 0
    assert len(list((tmp_path / "adv").glob("*batch*.safetensors"))) == 3  # 10 images in batches of 4

    import irad.evaluation.runner as runner

    monkeypatch.setattr(runner, "create_attack", lambda *a, **k: pytest.fail("cached batches must not be re-attacked"))
    assert main([*base, "--defense", "none", "--defense", "median", "--out", str(tmp_path / "b.json")]) == 0
    first = json.loads((tmp_path / "a.json").read_text())["results"][0]
    second = {r["defense"]: r for r in json.loads((tmp_path / "b.json").read_text())["results"]}
    assert second["none"]["ra"] == first["ra"] and second["median"]["n"] == 10
    assert main([*EVAL, "--weights", "none", "--attack", "bim:steps=3", "--adv-cache", str(tmp_path / "adv")]) == 2
    assert "belongs to another setup" in capsys.readouterr().err


def test_adv_cache_keeps_bpda_examples_per_defense(tmp_path, shared_models, monkeypatch):
    base = [*EVAL, "--classifier", "resnet20", "--weights", str(shared_models / "resnet20-12fca82f.th"),
            "--attack", "bim:steps=2", "--scenario", "bpda", "--adv-cache", str(tmp_path / "adv"), "--batch-size", "5"]
    assert main([*base, "--defense", "median", "--out", str(tmp_path / "a.json")]) == 0
    assert len(list((tmp_path / "adv").glob("*batch*.safetensors"))) == 2  # 10 images in batches of 5

    import irad.evaluation.runner as runner

    attacked = []
    create = runner.create_attack
    monkeypatch.setattr(runner, "create_attack", lambda *a, **k: attacked.append(a[1]) or create(*a, **k))
    assert main([*base, "--defense", "median", "--defense", "bit-depth", "--out", str(tmp_path / "b.json")]) == 0
    assert len(attacked) == 1  # median's examples came from the cache; bit-depth's are its own
    assert len(list((tmp_path / "adv").glob("*batch*.safetensors"))) == 4
    first = json.loads((tmp_path / "a.json").read_text())["results"][0]
    second = {r["defense"]: r for r in json.loads((tmp_path / "b.json").read_text())["results"]}
    assert second["median"]["ra"] == first["ra"] and second["bit-depth"]["n"] == 10
    # the crafting time comes back with the cached examples
    assert first["attack_s_per_image"] > 0 and second["median"]["attack_s_per_image"] == first["attack_s_per_image"]


def test_eval_refuses_to_mix_setups_in_one_file(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main([*EVAL, "--weights", "none", "--attack", "fgsm", "--out", str(out)]) == 0
    assert main([*EVAL, "--weights", "none", "--attack", "fgsm", "--seed", "1", "--out", str(out)]) == 2
    assert "different setup" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    ([*EVAL, "--weights", "none", "--defense", "nope"], "unknown defense 'nope'"),
    ([*EVAL, "--weights", "none", "--attack", "nope"], "unknown attack 'nope'"),
    ([*EVAL, "--weights", "none", "--defense", "jpeg:quality=500"], "quality must be in 1..100"),
    (["eval", "--dataset", "cifar10", "--data-root", "/nonexistent", "--weights", "none"], "irad data fetch cifar10"),
])
def test_bad_input_gives_one_line_error(args, message):
    r = _cli(*args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_truncated_checkpoint_via_cli(tmp_path, shared_models):
    data = (shared_models / "resnet20-12fca82f.th").read_bytes()
    (tmp_path / "cut.th").write_bytes(data[:1000])
    r = _cli(*EVAL, "--weights", str(tmp_path / "cut.th"))
    assert r.returncode == 2 and "cannot load checkpoint" in r.stderr and "Traceback" not in r.stderr


def test_purify_roundtrip_and_errors(tmp_path):
    img = (torch.rand(32, 32, 3) * 255).byte().numpy()
    Image.fromarray(img).save(tmp_path / "in.png")
    r = _cli("purify", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--defense", "bit-depth:bits=1")
    assert r.returncode == 0, r.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (32, 32, 3) and set(np.unique(out)) <= {0, 255}
    (tmp_path / "notes.txt").write_text("not an image")
    r = _cli("purify", str(tmp_path / "notes.txt"), "-o", str(tmp_path / "x.png"), "--defense", "none")
    assert r.returncode == 2 and "cannot read" in r.stderr and "Traceback" not in r.stderr


def test_purify_hands_the_classifier_to_the_defenses_that_need_it(tmp_path, monkeypatch):
    import irad.cli.purify_cmd as purify_cmd
    from irad.defenses import create_defense

    Image.fromarray((torch.rand(32, 32, 3) * 255).byte().numpy()).save(tmp_path / "in.png")
    spec = "pixel-deflection:rcam=true,deflections=5"
    assert all(create_defense(s).needs_classifier for s in (spec, f"median+{spec}", f"ens-3({spec})"))
    assert not create_defense("pixel-deflection:deflections=5").needs_classifier
    assert main(["purify", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--defense", spec]) == 0
    monkeypatch.setattr(purify_cmd, "load_classifier", lambda *a: pytest.fail("no defense here reads a classifier"))
    assert main(["purify", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--defense", "median"]) == 0


def test_help_lists_commands():
    r = _cli("--help")
    for cmd in ("demo", "eval", "purify", "train", "list", "data"):
        assert cmd in r.stdout
    r = _cli("list", "defenses")
    assert "resample" in r.stdout and "randomized=" in r.stdout


def test_ctrl_c_keeps_finished_rows(tmp_path, monkeypatch, capsys):
    import irad.evaluation.runner as runner

    out = tmp_path / "r.json"
    seen = []

    def interrupt_second_attack(x, x_adv, norm, eps, attack):
        seen.append(attack)
        if len(seen) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(runner, "check_budget", interrupt_second_attack)
    assert main([*EVAL, "--weights", "none", "--attack", "fgsm", "--attack", "bim:steps=2", "--out", str(out)]) == 130
    rows = json.loads(out.read_text())["results"]
    assert [r["attack"] for r in rows] == ["fgsm"]
    assert "interrupted" in capsys.readouterr().out


def test_results_name_the_commit_and_whether_the_source_differed_from_it(tmp_path):
    import subprocess

    from irad.utils.provenance import git_commit

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True, text=True).stdout

    assert git_commit(tmp_path) is None  # not a checkout
    git("init", "-q")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a")
    head = git("rev-parse", "HEAD").strip()
    (tmp_path / "notes.txt").write_text("outside src: not a code change")
    assert git_commit(tmp_path) == head
    (tmp_path / "src" / "a.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == head + "+modified"


def test_resumed_rows_keep_the_commit_they_were_computed_at(capsys):
    from irad.evaluation.experiment import _carry_earlier_commits

    env = {"git_commit": "b", "torch": "x"}
    assert _carry_earlier_commits({"git_commit": "b"}, env, 3, "r.json") == env  # same commit: nothing to say
    out = _carry_earlier_commits({"git_commit": "a", "earlier_rows_commits": ["z", "b"]}, env, 3, "r.json")
    assert out == {**env, "earlier_rows_commits": ["a", "z"]}
    assert "3 rows of r.json were computed at commit a, z" in capsys.readouterr().err
    assert _carry_earlier_commits({"git_commit": "a"}, env, 0, "r.json") == env  # nothing resumed

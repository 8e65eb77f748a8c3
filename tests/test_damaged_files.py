"""Files irad reads back are proven ours: adversarial-example cache entries are bound to what made them (a swapped,
edited or foreign entry is named in one line and recomputed, or stops the run with --adv-cache-strict; an entry from
before keys were recorded is read), and every damaged file a reader meets is one `irad: error:` line."""
from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import load_file, save_file

from irad.cli.main import main

BASE = ["eval", "--dataset", "foolbox-cifar10", "--n", "12", "--batch-size", "6", "--defense", "none",
        "--defense", "bit-depth", "--defense", "resample", "--attack", "pgd:steps=3", "--attack", "fgsm",
        "--no-progress"]


def _rows(path) -> list[dict]:
    return [{k: r[k] for k in ("defense", "attack", "sa", "ra", "adv_correct")}
            for r in json.loads(path.read_text())["results"]]


def _entry(cache, attack: str, batch: int):
    (path,) = cache.glob(f"{attack}*batch{batch:05d}.safetensors")
    return path


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("first")
    assert main([*BASE, "--adv-cache", str(d / "adv"), "--out", str(d / "r.json")]) == 0
    return d


def test_a_swapped_entry_is_named_and_recomputed_to_the_same_rows(uninterrupted, tmp_path, capsys):
    cache = tmp_path / "adv"
    shutil.copytree(uninterrupted / "adv", cache)
    shutil.copy(_entry(cache, "fgsm", 1), _entry(cache, "pgd", 1))  # FGSM's batch 1 over PGD's batch 1
    assert main([*BASE, "--adv-cache", str(cache), "--out", str(tmp_path / "r.json")]) == 0
    err = capsys.readouterr().err
    assert "is not this run's cache entry (attack differs: 'fgsm' recorded, 'pgd:steps=3' expected)" in err
    assert _rows(tmp_path / "r.json") == _rows(uninterrupted / "r.json")  # bit for bit, outcomes included
    # the recomputed entry replaced the foreign one: a further run reads everything silently
    assert main([*BASE, "--adv-cache", str(cache), "--out", str(tmp_path / "again.json")]) == 0
    assert "not this run's cache entry" not in capsys.readouterr().err


def test_another_batch_and_an_edited_tensor_are_caught_and_strict_mode_stops(uninterrupted, tmp_path, capsys):
    cache = tmp_path / "adv"
    shutil.copytree(uninterrupted / "adv", cache)
    shutil.copy(_entry(cache, "pgd", 0), _entry(cache, "pgd", 1))  # batch 0's examples as batch 1's
    assert main([*BASE, "--adv-cache", str(cache), "--adv-cache-strict", "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("irad: error: ") and "batch differs" in err
    path = _entry(cache, "fgsm", 0)
    tensors, meta = load_file(path), _metadata(path)
    tensors["x_adv"] = (tensors["x_adv"] * 0.999).contiguous()  # numbers edited by hand, key left as it was
    save_file(tensors, path, metadata=meta)
    assert main([*BASE, "--adv-cache", str(cache), "--out", str(tmp_path / "r2.json")]) == 0
    err = capsys.readouterr().err
    assert "does not match its recorded digest" in err and "batch differs" in err
    assert _rows(tmp_path / "r2.json") == _rows(uninterrupted / "r.json")


def test_entries_from_before_keys_were_recorded_are_read_after_one_notice(uninterrupted, tmp_path, capsys):
    cache = tmp_path / "adv"
    shutil.copytree(uninterrupted / "adv", cache)
    for path in cache.glob("*.safetensors"):  # strip the key and digest, as files of the previous format lack them
        meta = {k: v for k, v in _metadata(path).items() if k in ("flags", "seconds")}
        save_file(load_file(path), path, metadata=meta)
    import irad.evaluation.runner as runner

    def no_attack(*args, **kwargs):
        raise AssertionError("old entries must be read, not recomputed")

    original = runner.create_attack
    runner.create_attack = no_attack
    try:
        assert main([*BASE, "--adv-cache", str(cache), "--out", str(tmp_path / "r.json")]) == 0
    finally:
        runner.create_attack = original
    err = capsys.readouterr().err
    assert err.count("older irad that record no key") == 1
    assert _rows(tmp_path / "r.json") == _rows(uninterrupted / "r.json")


def _metadata(path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return dict(f.metadata())


@pytest.mark.parametrize("content", [
    b"\x8f\x00\xffrandom bytes\x10",  # not text
    b'{"results": [{"defense": "none"',  # truncated
    b"",  # empty
    b'{"results": ["x"]}',  # a row of the wrong type
    b'{"results": [{"defense": "none", "attack": "fgsm", "sa": 1, "ra": 1, "n": 10}]}',  # missing fields
    b'{"config": [], "results": []}',  # a section of the wrong type
])
def test_a_damaged_results_file_is_one_error_line(tmp_path, capsys, content):
    out = tmp_path / "r.json"
    out.write_bytes(content)
    assert main([*BASE[:9], "--attack", "fgsm", "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("irad: error: ") and str(out) in err


def test_a_results_row_with_an_unknown_field_is_one_error_line(uninterrupted, tmp_path, capsys):
    out = tmp_path / "r.json"
    data = json.loads((uninterrupted / "r.json").read_text())
    data["results"][0]["surprise"] = 1
    out.write_text(json.dumps(data))
    assert main([*BASE, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "results row 0" in err


def test_a_garbled_cache_description_is_one_error_line(uninterrupted, tmp_path, capsys):
    cache = tmp_path / "adv"
    shutil.copytree(uninterrupted / "adv", cache)
    (cache / "meta.json").write_text("{garbled")
    assert main([*BASE, "--adv-cache", str(cache), "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "meta.json is unreadable" in err


DAMAGE = {"truncated": lambda b: b[: len(b) // 2], "empty": lambda b: b"", "random bytes": lambda b: b"\x8f\xff\x00ab",
          "wrong type": lambda b: b"[1, 2]"}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_pairs_description_and_shards_are_one_error_line(tmp_path, capsys, damage):
    import torch

    from irad.training.pairs import load_pairs
    from irad.errors import IradError
    from irad.utils.checkpoint import atomic_write_json, save_safetensors

    d = tmp_path / "pairs"
    d.mkdir()
    atomic_write_json(d / "meta.json", {"config": {}, "count": 2, "shards": 1, "complete": True})
    z = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    save_safetensors(d / "shard-00000.safetensors", {"clean": z, "adv": z, "labels": torch.zeros(2).long(),
                                                       "indices": torch.arange(2)})
    assert load_pairs(d)["clean"].shape == (2, 3, 4, 4)
    shard = d / "shard-00000.safetensors"
    good = shard.read_bytes()
    shard.write_bytes(DAMAGE[damage](good))
    with pytest.raises(IradError, match="cannot read pairs shard"):
        load_pairs(d)
    shard.write_bytes(good)
    meta = d / "meta.json"
    meta.write_bytes(DAMAGE[damage](meta.read_bytes()))
    with pytest.raises(IradError, match="meta.json"):
        load_pairs(d)


@pytest.mark.parametrize("meta, message", [
    ({"config": {}, "count": 2, "complete": True}, "field 'shards' should be an integer, is missing"),
    ({"config": [], "count": 2, "shards": 1, "complete": True}, "field 'config' should be a mapping, is list"),
    ({"config": {}, "count": "2", "shards": 1, "complete": True}, "field 'count' should be an integer, is str"),
])
def test_pairs_description_fields_are_checked(tmp_path, meta, message):
    from irad.errors import IradError
    from irad.training.pairs import load_pairs

    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(IradError, match=message):
        load_pairs(tmp_path)


def test_damaged_model_folders_and_training_state_are_one_error_line(tmp_path, capsys):
    import torch

    from irad.defenses import create_defense
    from irad.models.implicit import ImplicitConfig, ImplicitResampler

    model_dir = tmp_path / "implicit"
    ImplicitResampler(ImplicitConfig(1, 4, [8], None)).save(model_dir)
    (model_dir / "config.json").write_text("{half")
    assert main(["purify", "x.png", "-o", str(tmp_path / "o.png"), "--defense", f"disco:weights={model_dir}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.json" in err
    ens = tmp_path / "ens"
    ens.mkdir()
    (ens / "ensemble.json").write_text(json.dumps({"classifier": "resnet20", "members": [{"quality": 90}]}))
    with pytest.raises(Exception, match="members"):
        create_defense(f"jpeg-ensemble:weights={ens}")
    ddpm = tmp_path / "ddpm"
    ddpm.mkdir()
    (ddpm / "trained_range.json").write_text(json.dumps({"t_max": "120"}))
    from irad.defenses.diffpure import trained_t_max

    with pytest.raises(Exception, match="field 't_max' should be an integer"):
        trained_t_max(ddpm)
    from irad.training.state import load_state

    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception, match="cannot resume from"):
        load_state(tmp_path / "last.pt", {})
    torch.save({"config": {}}, tmp_path / "last.pt")
    assert load_state(tmp_path / "last.pt", {}) == {"config": {}}


def test_rows_carry_a_digest_and_a_resume_names_an_edited_one(uninterrupted, tmp_path, capsys):
    out = tmp_path / "r.json"
    data = json.loads((uninterrupted / "r.json").read_text())
    assert all(len(r["digest"]) == 16 for r in data["results"])
    data["results"][1]["ra"] = 99.0  # edited by hand
    out.write_text(json.dumps(data))
    assert main([*BASE, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("does not match the digest") == 1 and data["results"][1]["defense"] in err
    assert json.loads(out.read_text())["results"][1]["ra"] == 99.0  # kept, as the issue allows

"""Faults: a second writer of the same --out, unwritable outputs, full disks, and photos larger than a pass holds."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from irad.cli.main import main
from irad.defenses import Defense, create_defense
from irad.defenses.tiling import axis_tiles, tiled
from irad.errors import IradError
from irad.utils.checkpoint import atomic_write_json
from irad.utils.outputs import lock_path

EVAL = ["eval", "--dataset", "foolbox-cifar10", "--n", "10", "--no-progress"]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("irad: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@contextmanager
def _tmpfs(path: Path, options: str):
    """A small tmpfs at ``path`` (root and mount permission needed), else skip to the monkeypatched variant."""
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", str(path)], check=False)


def test_second_writer_of_the_same_out_refuses_before_computing(tmp_path, capsys):
    out = tmp_path / "r.json"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from filelock import FileLock; "
                               f"lock = FileLock({str(lock_path(out))!r}); lock.acquire(); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main([*EVAL, "--out", str(out)]) == 2
    finally:
        holder.kill()
    assert "being written by another irad process" in _one_error_line(capsys)
    assert not out.exists()  # nothing was computed or written


@pytest.mark.parametrize("case", ["under_a_file", "a_directory"])
def test_unwritable_out_is_refused_before_any_attack(tmp_path, capsys, case):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" / "r.json" if case == "under_a_file" else tmp_path
    assert main([*EVAL, "--out", str(out)]) == 2
    assert ("is a file, not a directory" if case == "under_a_file" else "is a directory") in _one_error_line(capsys)


def test_read_only_out_is_refused_before_any_attack(tmp_path, capsys, monkeypatch):
    with _tmpfs(tmp_path / "ro", "ro,size=64k") as mounted:
        if not mounted:  # no mount permission: a folder whose probe write fails as a read-only one would
            import tempfile

            def read_only(*_, **__):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
        assert main([*EVAL, "--out", str(tmp_path / "ro" / "r.json")]) == 2
    assert "Read-only file system" in _one_error_line(capsys)


def test_full_disk_is_one_line_naming_the_path(tmp_path, monkeypatch):
    target = tmp_path / "full" / "big.json"
    with _tmpfs(tmp_path / "full", "size=16k") as mounted:
        if not mounted:
            def full(self, data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            monkeypatch.setattr(Path, "write_bytes", full)
        with pytest.raises(IradError, match="No space left on device") as e:
            atomic_write_json(target, {"x": "y" * 100_000})
        assert str(target) in str(e.value)
        assert list(target.parent.iterdir()) == []  # the temporary file is gone


def test_full_disk_in_torch_save_is_named(tmp_path, monkeypatch):
    """torch.save reports a full disk as "unexpected pos"; the training checkpoint says what happened."""
    import shutil

    from irad.training.state import save_state

    def broken(*_, **__):
        raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed; unexpected pos 876160 vs 876052")
    monkeypatch.setattr(torch, "save", broken)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(100, 100, 0))
    with pytest.raises(IradError, match="No space left on device"):
        save_state(tmp_path / "last.pt", {"epoch": 1})


def test_os_error_during_a_command_is_one_line(tmp_path, capsys, monkeypatch):
    import irad.cli.eval_cmd as eval_cmd

    def denied(*_, **__):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/data/cifar")
    monkeypatch.setattr(eval_cmd, "run_eval", denied)
    assert main(EVAL) == 2
    assert _one_error_line(capsys) == "irad: error: /data/cifar: Permission denied"


# ---- tiles --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size,tile,margin", [(100, 40, 5), (97, 30, 3), (64, 64, 10), (500, 88, 18)])
def test_tile_weights_sum_to_one_and_vanish_within_the_margin(size, tile, margin):
    total = torch.zeros(size)
    tiles = axis_tiles(size, tile, margin)
    for s, w in tiles:
        total[s] += w
        if s.start > 0:
            assert w[:margin].abs().max() == 0
        if s.stop < size:
            assert w[-margin:].abs().max() == 0
    assert torch.allclose(total, torch.ones(size), atol=1e-6)
    assert tiles[0][0].start == 0 and tiles[-1][0].stop == size


def test_tiled_local_operator_equals_one_pass():
    """A 7x7 box blur (reads 3 px away) in tiles equals the one-pass blur, seams included; gradients flow."""
    x = torch.rand(2, 3, 90, 130, requires_grad=True)
    blur = lambda t: F.avg_pool2d(F.pad(t, (3, 3, 3, 3), mode="replicate"), 7, 1)  # noqa: E731
    y = tiled(lambda part, _: blur(part), x, margin=3, tile_pixels=30 * 30)
    assert torch.allclose(y, blur(x), atol=1e-6)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def _smooth_image(h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return F.interpolate(torch.rand(1, 3, h // 8, w // 8, generator=g), (h, w), mode="bilinear", align_corners=False)


@pytest.mark.parametrize("spec", ["irad", "disco", "implicit:sampler=si,shift=1.5", "irad:recon=bilinear",
                                  "resample:sampler=si,shift=1.5"])
def test_tiled_defense_equals_one_pass(spec):
    d = create_defense(spec).eval()
    x = _smooth_image(120, 176)
    with torch.no_grad(), _quiet():
        whole = d(x)
        for m in d.modules():
            if isinstance(m, Defense):
                m.tile_pixels = 90 * 90
        parts = d(x)
    # equal to float rounding, except where a query lands on a cell boundary of LIIF's local ensemble: the decoder
    # jumps there and the rounding of the tile's coordinates decides the side (2 of 21,120 pixels for irad here)
    off = (whole - parts).abs().amax(1)
    assert (off > 1e-3).float().mean() < 2e-4
    assert off.quantile(0.999) < 1e-4


@contextmanager
def _quiet():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the CIFAR-10 built-ins on a 120x176 image: out of domain, as intended here
        yield


def test_purify_tiles_a_large_image(tmp_path, capsys):
    from PIL import Image

    from irad.data import load_image

    src = tmp_path / "in.png"
    Image.fromarray((_smooth_image(150, 200)[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(src)
    outs = {}
    for tile in ("100000", "10000"):
        outs[tile] = tmp_path / f"out{tile}.png"
        with _quiet():
            assert main(["purify", str(src), "-o", str(outs[tile]), "--defense", "disco", "--tile-pixels", tile,
                         "--no-progress"]) == 0
    a, b = load_image(outs["100000"]), load_image(outs["10000"])
    assert (a - b).abs().max() <= 1 / 255 + 1e-6  # equal up to 8-bit rounding of values within 1e-3


def test_purify_refuses_over_max_pixels(tmp_path, capsys):
    from PIL import Image

    Image.new("RGB", (100, 100)).save(tmp_path / "a.png")
    assert main(["purify", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--defense", "none",
                 "--max-pixels", "9999"]) == 2
    assert "--max-pixels" in _one_error_line(capsys)


def test_truncated_cache_entry_is_recomputed(tmp_path, capsys):
    cache, out = tmp_path / "cache", tmp_path / "r.json"
    assert main([*EVAL, "--adv-cache", str(cache), "--out", str(out)]) == 0
    entry = next(cache.glob("*.safetensors"))
    entry.write_bytes(entry.read_bytes()[:100])
    capsys.readouterr()
    assert main([*EVAL, "--adv-cache", str(cache), "--out", str(out), "--defense", "bit-depth:bits=4"]) == 0
    err = capsys.readouterr().err
    assert "unreadable" in err and "recomputing that batch" in err
    # the recomputed entry is whole again: a strict run reads it
    assert main([*EVAL, "--adv-cache", str(cache), "--adv-cache-strict", "--out", str(tmp_path / "s.json")]) == 0


def test_one_data_root_in_two_spellings_is_one_setup(tmp_path, monkeypatch):
    from irad.data.datasets import same_settings

    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    assert same_settings({"data_root": "data", "n": 5}, {"data_root": str(tmp_path / "link"), "n": 5})
    assert not same_settings({"data_root": "data", "n": 5}, {"data_root": "data", "n": 6})
    assert not same_settings({"data_root": "data"}, {"data_root": str(tmp_path)})

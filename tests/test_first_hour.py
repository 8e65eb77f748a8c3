"""A new user's first hour: built-in weights warn once when they meet images far from their training size, and a
long purification shows progress on a terminal."""

from __future__ import annotations

import sys
import warnings

import torch
from PIL import Image

import irad
from irad.cli.main import main
from irad.defenses import create_defense


def _caught(defense, x, calls: int = 2) -> list:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with torch.no_grad():
            for _ in range(calls):
                defense(x)
    return [w for w in seen if issubclass(w.category, irad.OutOfDomainWarning)]


def test_a_32px_builtin_on_a_256px_image_warns_once_and_names_the_way_out():
    (w,) = _caught(create_defense("disco"), torch.rand(1, 3, 256, 256))
    text = str(w.message)
    assert "32x32 CIFAR-10" in text and "256x256" in text and "weights=imagenet" in text
    assert "ignore:out-of-domain" in text
    assert _caught(create_defense("disco"), torch.rand(2, 3, 32, 32)) == []  # its own domain
    assert _caught(create_defense("disco:weights=imagenet"), torch.rand(1, 3, 256, 256)) == []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="out-of-domain")  # what PYTHONWARNINGS='ignore:out-of-domain' sets
        with warnings.catch_warnings(record=True) as seen:
            create_defense("irad")(torch.rand(1, 3, 256, 256))
        assert seen == []


def test_diffpure_builtin_warns_on_a_photo_size():
    (w,) = _caught(create_defense("diffpure:t=1,seed=0"), torch.rand(1, 3, 96, 96), calls=2)
    assert "diffpure" in str(w.message) and "irad train ddpm" in str(w.message)


def test_a_long_purification_shows_progress_on_a_terminal_and_none_with_no_progress(tmp_path, monkeypatch, capsys):
    import irad.utils.progress as progress

    Image.new("RGB", (32, 32), (120, 60, 30)).save(tmp_path / "in.png")
    monkeypatch.setattr(progress, "DELAY", 0.0)  # "longer than a few seconds": here from the first step
    args = ["purify", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--defense", "diffpure:t=4,seed=0"]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(args) == 0
    assert "diffpure reverse steps" in capsys.readouterr().err
    assert main([*args, "--no-progress"]) == 0
    assert "diffpure reverse steps" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert main(args) == 0  # not a terminal: no bar
    assert "diffpure reverse steps" not in capsys.readouterr().err

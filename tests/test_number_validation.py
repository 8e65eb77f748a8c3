"""Every numeric option and spec parameter is checked where it is parsed: one line naming it, its value and range."""

from __future__ import annotations

import argparse
import math

import pytest

from irad.attacks import ATTACKS, create_attack
from irad.attacks.registry import RANGES
from irad.cli.common import budget, fraction, positive_int
from irad.cli.main import main
from irad.defenses import create_defense
from irad.defenses.resample import Resample
from irad.errors import IradError
from irad.utils.spec import coerce_kwargs
from irad.utils.validation import check_range

EVAL = ["eval", "--dataset", "foolbox-cifar10", "--n", "4", "--weights", "none", "--no-progress"]


def _cli_error(capsys, argv: list[str]) -> str:
    """Run the CLI; it must exit 2 with one error line and no traceback (argparse prints its usage first)."""
    try:
        code = main(argv)
    except SystemExit as e:  # argparse
        code = e.code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and "Traceback" not in err
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0]
    return errors[0]


@pytest.mark.parametrize("args, message", [
    (["--eps", "inf"], "argument --eps: must be positive and finite, got inf"),
    (["--eps", "nan"], "argument --eps: must be positive and finite, got nan"),
    (["--eps", "0"], "argument --eps: must be positive and finite, got 0"),
    (["--eps", "-1"], "argument --eps: must be positive and finite, got -1"),
    (["--eps", "1/255,inf"], "argument --eps: must be positive and finite, got inf"),
    (["--n", "0"], "argument --n/--num-images: must be an integer >= 1, got 0"),
    (["--offset", "-1"], "argument --offset: must be an integer >= 0, got -1"),
    (["--batch-size", "0"], "argument --batch-size: must be an integer >= 1, got 0"),
    (["--eot-samples", "0"], "argument --eot-samples: must be an integer >= 1, got 0"),
    (["--worst-of", "2.5"], "argument --worst-of: must be an integer >= 1, got 2.5"),
])
def test_eval_options_rejected_by_argparse(capsys, args, message):
    assert message in _cli_error(capsys, [*EVAL, *args])


@pytest.mark.parametrize("args, message", [
    (["--attack", "pgd:steps=0"], "irad: error: attack 'pgd': steps must be an integer >= 1, got 0"),
    (["--attack", "pgd:steps=-1"], "irad: error: attack 'pgd': steps must be an integer >= 1, got -1"),
    (["--defense", "resample:shift=nan"], "irad: error: defense 'resample': shift must be a finite number, got nan"),
    (["--eps", "1e9"], "irad: error: Linf budget: --eps must be a number in (0, 1], got 1000000000.0"),
    (["--eps", "1/255,2"], "irad: error: Linf budget: --eps must be a number in (0, 1], got 2.0"),
    (["--defense", "irad:weights="], "irad: error: defense 'irad': weights= is empty"),
])
def test_eval_values_rejected_before_any_evaluation(capsys, args, message):
    assert _cli_error(capsys, [*EVAL, *args]).startswith(message)


def test_l2_budget_may_exceed_one_but_not_be_infinite():
    from irad.attacks.registry import check_eps

    assert check_eps(2.0, "L2") == 2.0
    with pytest.raises(IradError, match=r"L2 budget: eps must be positive and finite, got inf"):
        check_eps(math.inf, "L2")


@pytest.mark.parametrize("argv, message", [
    (["train", "implicit", "--pairs", "p", "--epochs", "0"], "--epochs must be an integer >= 1, got 0"),
    (["train", "implicit", "--pairs", "p", "--lr", "-1"], "--lr must be a finite number >= 0, got -1.0"),
    (["train", "implicit", "--pairs", "p", "--hidden", "8", "0"], "--hidden must be an integer >= 1, got 0"),
    (["train", "samplenet", "--pairs", "p", "--implicit", "i", "--shift-penalty", "-0.1"],
     "--shift-penalty must be a finite number >= 0, got -0.1"),
    (["train", "classifier", "--adversarial-eps", "2"], "Linf budget: --adversarial-eps must be a number in (0, 1]"),
    (["train", "ddpm", "--ema-decay", "1.5"], "--ema-decay must be a number in [0, 1], got 1.5"),
    (["train", "jpeg-ensemble", "--qualities", "90", "0"], "--qualities must be an integer in [1, 100], got 0"),
    (["make-pairs", "--variants", "0"], "--variants must be an integer >= 1, got 0"),
    (["train", "implicit", "--pairs", "p", "--lr", "nan"], "argument --lr: must be a finite number, got nan"),
])
def test_training_options(capsys, tmp_path, argv, message):
    assert message in _cli_error(capsys, [*argv, "--out", str(tmp_path / "out")])


@pytest.mark.parametrize("spec, param", [
    ("pgd:steps=0", "steps"), ("pgd:steps=-1", "steps"), ("apgd:n_restarts=0", "n_restarts"),
    ("eotpgd:eot_iter=0", "eot_iter"), ("square:n_queries=0", "n_queries"), ("vmifgsm:N=0", "N"),
    ("deepfool:candidates=0", "candidates"), ("pgd:alpha=0", "alpha"), ("pgd:alpha=-1/255", "alpha"),
    ("pgd:alpha=inf", "alpha"), ("square:p_init=0", "p_init"), ("square:p_init=1.5", "p_init"),
    ("mifgsm:decay=-1", "decay"), ("deepfool:overshoot=-0.1", "overshoot"), ("cw:kappa=-1", "kappa"),
    ("jitter:std=-0.1", "std"), ("cw:c=0", "c"), ("cw:lr=0", "lr"), ("jitter:scale=0", "scale"),
    ("vmifgsm:beta=nan", "beta"),
])
def test_attack_parameter_ranges(tiny_model, spec, param):
    with pytest.raises(IradError, match=rf"attack '{spec.split(':')[0]}': {param} must be"):
        create_attack(spec, tiny_model)


@pytest.mark.parametrize("norm, eps", [("Linf", math.inf), ("Linf", math.nan), ("Linf", 1e9), ("Linf", 0.0),
                                       ("Linf", -1.0), ("L2", math.inf), ("L2", 0.0)])
def test_attack_budget(tiny_model, norm, eps):
    with pytest.raises(IradError, match=rf"{norm} budget: eps must be"):
        create_attack("pgd", tiny_model, norm, eps)


def test_every_numeric_attack_parameter_has_a_range():
    numeric = {k for info in ATTACKS.values() for k, v in info.defaults.items()
               if k != "seed" and (v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))}
    assert numeric <= set(RANGES)


@pytest.mark.parametrize("spec, message", [
    ("resample:shift=nan", "shift must be a finite number, got nan"),
    ("resample:shift=inf", "shift must be a finite number, got inf"),
    ("resample:shift=-1", "shift must be a finite number >= 0, got -1.0"),
    ("randomization:max_scale=1", "max_scale must be a finite number > 1, got 1.0"),
    ("tv:weight=0", "weight must be positive and finite, got 0.0"),
    ("bilateral:sigma_spatial=-1", "sigma_spatial must be positive and finite, got -1.0"),
    ("nl-means:h=0", "h must be positive and finite, got 0.0"),
    ("nl-means:patch_distance=0", "patch_distance must be an integer >= 1, got 0"),
    ("pixel-deflection:window=0", "window must be an integer >= 1, got 0"),
    ("pixel-deflection:deflections=-1", "deflections must be an integer >= 1, got -1"),
    ("pixel-deflection:top_k=0", "top_k must be an integer >= 1, got 0"),
    ("dct-jpeg:qs_af=0", "qs_af must be positive and finite, got 0.0"),
    ("wavelet:levels=-1", "levels must be an integer >= 0, got -1"),
    ("wavelet:sigma=-0.1", "sigma must be a finite number >= 0, got -0.1"),
])
def test_defense_parameter_ranges(spec, message):
    with pytest.raises(IradError, match=rf"defense '{spec.split(':')[0]}': {message}"):
        create_defense(spec)


def test_implicit_shift_range(tiny_implicit_dir):
    with pytest.raises(IradError, match="shift must be a finite number >= 0, got -1.0"):
        create_defense(f"implicit:weights={tiny_implicit_dir},sampler=si,shift=-1")


@pytest.mark.parametrize("spec", ["irad:weights=", "disco:weights=", "implicit:weights=", "diffpure:weights="])
def test_empty_weights_are_an_error(spec):
    with pytest.raises(IradError, match=r"weights=.*builtin"):
        create_defense(spec)


def test_empty_irad_weights_of_diffpure_irad(tiny_ddpm_dir):
    with pytest.raises(IradError, match="weights= is empty"):
        create_defense(f"diffpure-irad:weights={tiny_ddpm_dir},t=2,irad=")


def test_direct_construction_is_checked_too():
    with pytest.raises(IradError, match="shift must be a finite number >= 0, got nan"):
        Resample(shift=math.nan)


def test_coerce_kwargs_rejects_non_finite_numbers():
    with pytest.raises(IradError, match="defense 'x': a must be a finite number, got inf"):
        coerce_kwargs("defense 'x'", {"a": 1.0}, {"a": math.inf})
    with pytest.raises(IradError, match="defense 'x': seed must be a finite number, got nan"):
        coerce_kwargs("defense 'x'", {"seed": None}, {"seed": math.nan})
    assert coerce_kwargs("defense 'x'", {"a": 1.0, "s": "p"}, {"a": 2, "s": "q"}) == {"a": 2.0, "s": "q"}


def test_check_range():
    assert check_range("attack 'pgd'", "steps", 3, lo=1, integer=True) == 3
    assert check_range("", "p", 1.0, 0, 1, lo_open=True) == 1.0
    for value, bounds, message in [
        (0, {"lo": 1, "integer": True}, "attack 'pgd': steps must be an integer >= 1, got 0"),
        (2.5, {"lo": 1, "integer": True}, "attack 'pgd': steps must be an integer >= 1, got 2.5"),
        (True, {"lo": 0}, "attack 'pgd': steps must be a finite number >= 0, got True"),
        (1.0, {"lo": 0, "hi": 1, "hi_open": True}, "attack 'pgd': steps must be a number in [0, 1), got 1.0"),
        (math.inf, {}, "attack 'pgd': steps must be a finite number, got inf"),
        ("x", {"hi": 3}, "attack 'pgd': steps must be a finite number <= 3, got 'x'"),
    ]:
        with pytest.raises(IradError) as e:
            check_range("attack 'pgd'", "steps", value, **bounds)
        assert str(e.value) == message
    with pytest.raises(IradError) as e:
        check_range("", "", -1, lo=0)
    assert str(e.value) == "must be a finite number >= 0, got -1"


def test_argparse_types():
    assert fraction("8/255") == pytest.approx(8 / 255) and isinstance(budget("1"), float) and positive_int("3") == 3
    for convert, text in [(fraction, "inf"), (budget, "0"), (budget, "x"), (positive_int, "0"), (positive_int, "1.5")]:
        with pytest.raises(argparse.ArgumentTypeError):
            convert(text)

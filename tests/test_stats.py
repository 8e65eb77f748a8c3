"""Intervals and paired comparisons of accuracies (irad.evaluation.stats) and `irad compare`."""

from __future__ import annotations

import json

import pytest

from irad.cli.main import main
from irad.errors import IradError
from irad.evaluation.results import ResultRow, format_table, write_results
from irad.evaluation.stats import decode_outcomes, encode_outcomes, paired_comparison, proportion_interval


@pytest.mark.parametrize("k,n,method,expected", [
    # textbook values (Newcombe 1998, Table I; Brown, Cai & DasGupta 2001)
    (8, 10, "wilson", (49.02, 94.33)),
    (8, 10, "clopper-pearson", (44.39, 97.48)),
    (0, 20, "wilson", (0.0, 16.11)),
    (0, 20, "clopper-pearson", (0.0, 16.84)),
    (500, 1000, "wilson", (46.91, 53.09)),
])
def test_proportion_intervals_match_reference_values(k, n, method, expected):
    assert proportion_interval(k, n, method=method) == pytest.approx(expected, abs=0.02)


def test_interval_width_at_the_issue_sizes():
    lo, hi = proportion_interval(500, 1000)
    assert 5.5 < hi - lo < 6.5  # about +-3 points at n = 1000
    lo, hi = proportion_interval(50, 100)
    assert 18 < hi - lo < 20  # about +-9.5 at n = 100
    with pytest.raises(IradError):
        proportion_interval(11, 10)


def test_mcnemar_exact_on_a_constructed_table():
    # 30 both right, A alone 10, B alone 2, 8 neither
    a = [True] * 30 + [True] * 10 + [False] * 2 + [False] * 8
    b = [True] * 30 + [False] * 10 + [True] * 2 + [False] * 8
    c = paired_comparison(a, b)
    assert (c.n, c.a_only, c.b_only) == (50, 10, 2)
    assert c.p_value == pytest.approx(2 * (1 + 12 + 66) / 4096)  # two-sided binomial tail of 2 of 12 at 1/2
    assert c.difference == pytest.approx(16.0)
    assert c.interval[0] < 16.0 < c.interval[1] and c.interval[0] > 0  # significant at 5%: the interval excludes 0
    same = paired_comparison(a, a)
    assert same.p_value == 1.0 and same.difference == 0.0 and same.interval[0] < 0 < same.interval[1]
    with pytest.raises(IradError, match="same images"):
        paired_comparison(a, b[:-1])


def test_outcomes_round_trip():
    bits = [True, False, False, True]
    assert encode_outcomes(bits) == "1001" and decode_outcomes("1001") == bits
    with pytest.raises(IradError):
        decode_outcomes("10x1")


def _row(defense: str, clean: str, adv: str, attack: str = "pgd", eps: float = 8 / 255) -> ResultRow:
    n = len(clean)
    sa, ra = 100 * clean.count("1") / n, 100 * adv.count("1") / n
    return ResultRow(defense, attack, "oblivious", "Linf", eps, n, sa, ra, (sa + ra) / 2, 1.0,
                     clean_correct=clean, adv_correct=adv)


def test_ra_within_counts_an_image_wrong_at_8_if_any_attack_breaks_it_at_a_smaller_budget(tmp_path, capsys):
    from irad.evaluation.results import load_results, result_rows

    clean = "1111"
    rows = [_row("d", clean, "0110", eps=2 / 255),  # image 0: broken at 2/255 ...
            _row("d", clean, "1110", eps=8 / 255),  # ... though right at 8/255
            _row("d", clean, "1011", attack="fgsm", eps=8 / 255),
            _row("e", clean, "1111", eps=8 / 255)]  # alone in its group: nothing to combine
    path = tmp_path / "r.json"
    write_results(path, {}, {}, [r.sealed() for r in rows])
    back = result_rows(load_results(path), path)
    within = {(r.defense, r.attack, round(r.eps * 255)): r for r in back}
    assert within["d", "pgd", 2].ra_within == 50.0 and within["d", "pgd", 2].adv_within_correct == "0110"
    assert within["d", "pgd", 8].ra == 75.0 and within["d", "pgd", 8].adv_within_correct == "0010"
    assert within["d", "pgd", 8].ra_within == within["d", "fgsm", 8].ra_within == 25.0
    assert within["e", "pgd", 8].ra_within is None
    assert not any(r.edited() for r in back)  # derived from the other rows: not part of a row's digest
    assert json.loads(path.read_text())["results"][1]["ra_within"] == 25.0
    text = format_table(back)
    assert "RA within eps" in text and "25.00" in text
    assert main(["compare", str(path), "d", "e", "--attack", "pgd"]) == 0  # e alone at 8/255: no RA within there
    assert "RA within" not in capsys.readouterr().out
    write_results(path, {}, {}, rows + [_row("e", clean, "1111", eps=2 / 255)])
    assert main(["compare", str(path), "d", "e", "--attack", "pgd"]) == 0
    out = capsys.readouterr().out
    assert "[oblivious, Linf 8/255] RA within: 25.00 vs 100.00  diff -75.00" in out


def test_compare_command_prints_the_paired_test(tmp_path, capsys):
    path = tmp_path / "r.json"
    write_results(path, {}, {}, [_row("a", "1" * 40 + "0" * 10, "1" * 30 + "0" * 20),
                                 _row("b", "1" * 40 + "0" * 10, "0" * 10 + "1" * 18 + "0" * 22)])
    assert main(["compare", str(path), "a", "b"]) == 0
    out = capsys.readouterr().out
    assert "pgd [oblivious, Linf 8/255] SA: 80.00 vs 80.00  diff +0.00" in out and "p=1" in out
    assert "RA: 60.00 vs 36.00  diff +24.00" in out  # a right alone on 12 images, b alone on 0
    old = tmp_path / "old.json"  # rows from before per-image outcomes: the worst case over every pairing
    write_results(old, {}, {}, [ResultRow(d, "pgd", "oblivious", "Linf", 8 / 255, 1000, 80.0, ra, 0.0, 1.0)
                                for d, ra in (("a", 67.7), ("b", 56.4))])
    assert main(["compare", str(old), "a", "b"]) == 0
    out = capsys.readouterr().out
    assert "RA: 67.70 vs 56.40  no per-image outcomes" in out and "SA: 80.00 vs 80.00" in out and "p <= 1 " in out
    assert main(["compare", str(path), "a", "zzz"]) == 2
    assert "no rows of defense 'zzz'" in capsys.readouterr().err


def test_table_shows_intervals_and_old_rows_get_them_from_rate_and_n(tmp_path):
    row = _row("a", "1" * 8 + "0" * 2, "1" * 5 + "0" * 5)
    text = format_table([row])  # sa_ci not stored: recomputed from 80% of 10
    assert "SA 95% CI" in text and "49.0-94.3" in text
    data = json.loads(json.dumps({"results": [{**row.__dict__, "bogus": 1}]}))
    from irad.evaluation.results import result_rows
    with pytest.raises(IradError, match="row 0"):
        result_rows(data, "x.json")


def test_worst_of_n_counts_an_image_robust_only_if_every_draw_is_right():
    """A defense whose randomness ruins the image half of the time: one draw keeps about half of the robust images,
    worst-of-10 about none."""
    import torch

    from irad.defenses.base import RandomizedDefense
    from irad.evaluation import evaluate
    from torch.utils.data import TensorDataset

    class CoinFlip(RandomizedDefense):
        def transform(self, x):
            keep = torch.rand(x.shape[0], 1, 1, 1, generator=self.generator(x.device), device=x.device) < 0.5
            return torch.where(keep, x, torch.zeros_like(x))

    class ByBrightness(torch.nn.Module):  # class 1 for bright images, 0 for black ones
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([[-1.0], [1.0]]))

        def forward(self, x):
            return (x.mean((1, 2, 3)).unsqueeze(1) - 0.25) @ self.w.T

    data = TensorDataset(torch.full((200, 3, 8, 8), 0.8), torch.ones(200, dtype=torch.long))
    rows = evaluate(ByBrightness(), {"coin": CoinFlip()}, ["fgsm"], data, scenario="adaptive", eps=1 / 255,
                    eot_samples=1, worst_of=10, progress=False)
    row = rows[0]
    assert 35 <= row.ra <= 65 and row.worst_of == 10
    assert row.ra_worst <= 2 and row.ra_worst < row.ra
    assert row.ra_worst_ci[0] <= row.ra_worst <= row.ra_worst_ci[1]
    assert len(row.adv_worst_correct) == 200
    once = evaluate(ByBrightness(), {"coin": CoinFlip()}, ["fgsm"], data, scenario="adaptive", eps=1 / 255,
                    eot_samples=1, progress=False)[0]
    assert once.ra_worst is None and once.worst_of == 1


def test_eval_over_a_list_of_budgets_gives_one_row_each_and_a_curve(tmp_path):
    from PIL import Image

    out, plot, cache = tmp_path / "curve.json", tmp_path / "curve.png", tmp_path / "adv"
    args = ["eval", "--dataset", "foolbox-cifar10", "--n", "8", "--defense", "none", "--defense", "median",
            "--attack", "fgsm", "--eps", "1/255,4/255,16/255", "--no-progress", "--adv-cache", str(cache),
            "--out", str(out), "--plot", str(plot)]
    assert main(args) == 0
    rows = json.loads(out.read_text())["results"]
    assert sorted({r["eps"] for r in rows}) == pytest.approx([1 / 255, 4 / 255, 16 / 255]) and len(rows) == 6
    none = sorted((r for r in rows if r["defense"] == "none"), key=lambda r: r["eps"])
    assert none[0]["ra"] >= none[-1]["ra"]  # FGSM at 16/255 fools at least as many as at 1/255
    assert sorted(p.name for p in cache.iterdir()) == ["eps0.003922", "eps0.015686", "eps0.062745"]
    assert Image.open(plot).size[0] > 300
    written = out.stat()
    assert main([*args[:-2]]) == 0  # resumes: every row is there
    now = out.stat()  # nothing computed, nothing rewritten (the machine and commit it names stay those of the run)
    assert (now.st_ino, now.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert len(json.loads(out.read_text())["results"]) == 6


def test_recovery_rate_is_ra_among_the_images_the_bare_classifier_gets_right(tiny_model, samples):
    from torch.utils.data import TensorDataset

    from irad.defenses import create_defense
    from irad.evaluation import evaluate

    data = TensorDataset(samples[0][:16], samples[1][:16])
    rows = {r.defense: r for r in evaluate(tiny_model, {"none": create_defense("none"),
                                                        "median": create_defense("median")},
                                           ["fgsm"], data, eps=2 / 255, progress=False)}
    bare = decode_outcomes(rows["none"].clean_correct)
    adv = decode_outcomes(rows["median"].adv_correct)
    if any(bare):
        expected = 100 * sum(a and b for a, b in zip(adv, bare)) / sum(bare)
        assert rows["median"].recovery_rate == pytest.approx(expected, abs=0.01)
    else:
        assert rows["median"].recovery_rate is None


def test_rows_carry_the_perturbations_mean_norms(tiny_model, samples):
    from torch.utils.data import TensorDataset

    from irad.attacks import create_attack
    from irad.defenses import create_defense
    from irad.evaluation import evaluate

    x, y = samples[0][:8], samples[1][:8]
    eps = 2 / 255
    (row,) = evaluate(tiny_model, {"none": create_defense("none")}, ["fgsm"], TensorDataset(x, y), eps=eps,
                      progress=False)
    delta = (create_attack("fgsm", tiny_model, "Linf", eps)(x, y) - x).flatten(1)  # FGSM is deterministic
    assert row.linf_mean == pytest.approx(delta.abs().amax(1).mean().item(), abs=1e-5)
    assert row.linf_mean == pytest.approx(eps, abs=1e-5)
    assert row.l2_mean == pytest.approx(delta.norm(dim=1).mean().item(), abs=1e-5)
    assert row.l2_rel_mean == pytest.approx((delta.norm(dim=1) / x.flatten(1).norm(dim=1)).mean().item(), abs=1e-5)


def test_a_curve_runs_each_clean_pass_once_and_its_attack_draws_as_a_single_budget_run_does(tiny_model, samples,
                                                                                              tmp_path):
    """Budgets sharing a clean cache skip the clean pass after the first; the attack's random start is the same
    whether or not the (RNG-consuming) clean pass ran before it, so a curve's row equals a one-budget run's."""
    import torch
    from safetensors.torch import load_file
    from torch.utils.data import TensorDataset

    from irad.defenses.base import RandomizedDefense
    from irad.evaluation import evaluate
    from irad.evaluation.adv_cache import AdvCache

    calls = []

    class Noisy(RandomizedDefense):  # draws from the global RNG on every call and counts the images it sees
        def transform(self, x):
            calls.append(len(x))
            return (x + 0.01 * torch.randn(x.shape, generator=self.generator(x.device))).clamp(0, 1)

    data = TensorDataset(*samples)
    n = len(data)

    def run(eps, cache_dir, clean=None):
        return evaluate(tiny_model, {"noisy": Noisy()}, ["pgd:steps=1"], data, eps=eps, batch_size=8,
                        progress=False, adv_cache=AdvCache(tmp_path / cache_dir, {}), clean_cache=clean)[0]

    clean: dict = {}
    curve = [run(2 / 255, "curve2", clean), run(8 / 255, "curve8", clean)]
    assert sum(calls) == 3 * n  # one clean pass, one adversarial pass per budget
    alone = run(8 / 255, "alone8")
    assert sum(calls) == 5 * n
    assert (alone.sa, alone.clean_correct, alone.ra, alone.adv_correct) == (
        curve[1].sa, curve[1].clean_correct, curve[1].ra, curve[1].adv_correct)
    files = sorted(p.name for p in (tmp_path / "alone8").glob("*.safetensors"))
    assert len(files) == 3  # 20 images in batches of 8
    for name in files:  # the same random start, so the same examples
        a, b = load_file(tmp_path / "alone8" / name), load_file(tmp_path / "curve8" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_mcnemar_worst_case_is_the_largest_p_over_every_pairing_of_the_counts():
    """Brute force over every 2x2 table with the given margins on a small n; then the bound's use on the diffpure
    oblivious rows (n=1000, no per-image outcomes): 67.7 vs 56.4 resolved whatever the pairing, 65.4 vs 65.2 not."""
    from scipy.stats import binomtest

    from irad.evaluation.stats import mcnemar_worst_case

    n, right_a, right_b = 30, 21, 12
    ps = []
    for both in range(0, n + 1):
        a_only, b_only = right_a - both, right_b - both
        if a_only < 0 or b_only < 0 or both + a_only + b_only > n:
            continue
        m = a_only + b_only
        ps.append(1.0 if m == 0 else binomtest(a_only, m, 0.5).pvalue)
    assert mcnemar_worst_case(right_a, right_b, n) == pytest.approx(max(ps))
    assert mcnemar_worst_case(677, 564, 1000) < 1e-4
    assert mcnemar_worst_case(654, 652, 1000) > 0.9
    assert mcnemar_worst_case(5, 5, 10) == 1.0
    with pytest.raises(IradError, match="not a valid pair"):
        mcnemar_worst_case(11, 3, 10)

"""NN-favoured JPEG: DCT statistics per channel, the table search's constrained choice, resumable search."""

from __future__ import annotations

import json

import numpy as np
import scipy.fft
import torch
from torch import nn

from irad.analysis.dct_stats import coefficient_std, frequency_analysis, zigzag_order
from irad.training.jpeg_table import choose, search_table


def test_zigzag_order_is_jpegs():
    flat = [8 * i + j for i, j in zigzag_order()]
    assert flat[:15] == [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4] and flat[-1] == 63
    assert sorted(flat) == list(range(64))


def test_coefficient_std_matches_a_direct_computation(samples):
    x = torch.rand(2, 3, 16, 24, dtype=torch.float64) * 255
    got = coefficient_std(x)
    blocks = [scipy.fft.dctn(x[n, c, i:i + 8, j:j + 8].numpy(), norm="ortho")
              for n in range(2) for i in range(0, 16, 8) for j in range(0, 24, 8) for c in [1]]
    np.testing.assert_allclose(got[1].numpy(), np.std(blocks, axis=0, ddof=1), rtol=1e-10)  # the G plane
    y = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    blocks = [scipy.fft.dctn(y[n, i:i + 8, j:j + 8].numpy(), norm="ortho")
              for n in range(2) for i in range(0, 16, 8) for j in range(0, 24, 8)]
    np.testing.assert_allclose(got[3].numpy(), np.std(blocks, axis=0, ddof=1), rtol=1e-10)  # Y
    natural = samples[0][:8].double()
    result = frequency_analysis(natural, natural + 4 / 255 * torch.randn_like(natural))
    assert set(result["ratio"]) == {"R", "G", "B", "Y", "Cb", "Cr"}
    hf, dc = result["ratio"]["R"][7][7], result["ratio"]["R"][0][0]
    assert hf > 10 * dc  # white noise is relatively strongest where natural images have the least energy


def test_choose_picks_the_constrained_optimum():
    grid = [{"k": 1, "qs_af": 1, "benign_acc": 90.0, "adv_acc": 10.0},
            {"k": 2, "qs_af": 6, "benign_acc": 89.5, "adv_acc": 30.0},   # drop 0.5: allowed
            {"k": 3, "qs_af": 11, "benign_acc": 85.0, "adv_acc": 60.0},  # best adversarial accuracy, drop 5: refused
            {"k": 4, "qs_af": 6, "benign_acc": 89.8, "adv_acc": 30.0}]   # ties on adv_acc, higher benign: chosen
    assert choose(grid, 90.0, max_drop=1.0) == grid[3]
    assert choose(grid, 90.0, max_drop=10.0) == grid[2]
    assert choose(grid, 95.0, max_drop=1.0) is None


def test_search_evaluates_the_grid_and_resumes(tmp_path, samples):
    class Brightness(nn.Module):  # a stand-in classifier: class = which half of [0, 1] the mean intensity is in
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            m = x.mean((1, 2, 3)) - 0.5
            return torch.stack([-m, m], 1)

    x = samples[0][:8]
    y = (x.mean((1, 2, 3)) > 0.5).long()
    adv = (x + 0.2 * (1 - 2 * y.view(-1, 1, 1, 1).float())).clamp(0, 1)  # pushed across the boundary
    out = tmp_path / "search.json"
    result = search_table(Brightness(), x, y, adv, y, ks=(1, 8), qs_afs=(1, 51), out=out, progress=False)
    assert len(result["grid"]) == 4 and result["base_benign_acc"] == 100.0
    assert json.loads(out.read_text())["choice"] == result["choice"]
    again = search_table(Brightness(), x, y, adv, y, ks=(1, 8), qs_afs=(1, 51), out=out, progress=False)
    assert again["grid"] == result["grid"]


def test_cli_search_on_a_coarse_grid_in_bf16_records_its_grid_and_precision(tmp_path):
    from irad.cli.main import main

    out = tmp_path / "search.json"
    assert main(["jpeg-search", "--dataset", "foolbox-cifar10", "--n", "8", "--n-adv", "4", "--attack", "fgsm",
                 "--k-step", "7", "--qs-af-step", "60", "--precision", "bf16", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [(r["k"], r["qs_af"]) for r in result["grid"]] == [(k, q) for k in (1, 8, 15) for q in (1, 61, 121)]
    assert result["settings"]["precision"] == "bf16"
    assert all(0 <= r["benign_acc"] <= 100 and 0 <= r["adv_acc"] <= 100 for r in result["grid"])

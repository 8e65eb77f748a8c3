"""IRAD's implicit representation and SampleNet: the fast query, official checkpoints, the defenses."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import irad
from irad.defenses import create_defense
from irad.defenses.implicit import ImplicitResampling
from irad.models.implicit import EDSREncoder, ImplicitConfig, ImplicitResampler, MLP, make_cell, make_coord, query_local
from irad.models.implicit.query import query_grid
from irad.models.implicit.reference import query_reference


@pytest.fixture
def tiny_dir(tiny_implicit_dir):
    return tiny_implicit_dir


@pytest.mark.parametrize("where", ["grid", "random", "outside"])
def test_fast_query_equals_the_released_algorithm(where):
    torch.manual_seed(0)
    feat = torch.randn(2, 8, 7, 9, dtype=torch.float64)
    mlp = MLP(8 * 9 + 4, 3, [16, 16]).double()
    if where == "grid":
        coord = make_coord(7, 9, dtype=torch.float64).view(1, -1, 2).expand(2, -1, -1)
    else:
        span = 2.0 if where == "random" else 2.6
        coord = (torch.rand(2, 60, 2, dtype=torch.float64) - 0.5) * span
    cell = make_cell(7, 9, dtype=torch.float64).expand(2, coord.shape[1], 2)
    fast = query_local(feat, coord, cell, mlp)
    ref = query_reference(feat, coord.clone(), cell.clone(), mlp)
    assert torch.allclose(fast, ref, atol=1e-12)


def test_grid_query_matches_the_full_ensemble():
    torch.manual_seed(0)
    feat = torch.randn(3, 8, 6, 5, dtype=torch.float64)
    mlp = MLP(8 * 9 + 4, 2, [16, 16]).double()
    coord = make_coord(6, 5, dtype=torch.float64).view(1, -1, 2).expand(3, -1, -1)
    full = query_reference(feat, coord.clone(), make_cell(6, 5, dtype=torch.float64).expand(3, 30, 2).clone(), mlp)
    assert torch.allclose(query_grid(feat, mlp), full, atol=1e-8)


def test_identity_trained_model_reproduces_the_image_at_the_pixel_grid(samples):
    """Clean2clean training of a tiny model: the decoder at the pixel grid returns the input."""
    torch.manual_seed(0)
    model = ImplicitResampler(ImplicitConfig(n_resblocks=1, n_feats=16, hidden=[32, 32], samplenet_hidden=None))
    x = samples[0][:8]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = F.l1_loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        err = (model(x) - x).abs().mean().item()
        unseen = (model(samples[0][8:12]) - samples[0][8:12]).abs().mean().item()
    assert err < 0.02 and unseen < 0.03


def _official_files(tmp_path, with_samplenet=True):
    """Random modules saved in the released layout (LIIF dict with mean-shift keys; SampleNet {'model': sd})."""
    torch.manual_seed(1)
    enc, imnet = EDSREncoder(2, 8), MLP(8 * 9 + 4, 3, [32, 32])
    sn_enc, sn_imnet = EDSREncoder(2, 8), MLP(8 * 9 + 4, 2, [16, 16])
    with torch.no_grad():
        sn_imnet.layers[-1].weight.mul_(20)  # larger shifts: exercise off-grid queries
    shift = {"encoder.sub_mean.weight": torch.eye(3).view(3, 3, 1, 1), "encoder.sub_mean.bias": -torch.tensor([0.4488, 0.4371, 0.4040]),
             "encoder.add_mean.weight": torch.eye(3).view(3, 3, 1, 1), "encoder.add_mean.bias": torch.tensor([0.4488, 0.4371, 0.4040])}
    sd = {**{f"encoder.{k}": v for k, v in enc.state_dict().items()}, **shift,
          **{f"imnet.{k}": v for k, v in imnet.state_dict().items()}}
    spec = {"name": "liif", "args": {"encoder_spec": {"name": "edsr-baseline", "args": {"no_upsampling": True}},
                                     "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [32, 32]}}}, "sd": sd}
    torch.save({"model": spec, "optimizer": None, "epoch": 3}, tmp_path / "Reconstruction.pt")
    sn_sd = {**{f"encoder.{k}": v for k, v in sn_enc.state_dict().items()}, **shift,
             **{f"imnet.{k}": v for k, v in sn_imnet.state_dict().items()}}
    torch.save({"model": sn_sd}, tmp_path / "SampleNet.pt")
    return (enc, imnet, sn_enc, sn_imnet)


def _released_forward(x, enc, imnet, sn_enc=None, sn_imnet=None):
    """The released IRAD forward written directly: two encoder runs, four full MLP passes each."""
    b, _, h, w = x.shape
    coord = make_coord(h, w).view(1, -1, 2).repeat(b, 1, 1)
    cell = make_cell(h, w).view(1, 1, 2).repeat(b, h * w, 1)
    offset = 0
    if sn_enc is not None:
        offset = query_reference(sn_enc(x), coord.clone(), cell.clone(), sn_imnet)
    out = query_reference(enc((x - 0.5) / 0.5), coord + offset, cell.clone(), imnet) * 0.5 + 0.5
    return out.clamp(0, 1).view(b, w, h, 3).permute(0, 3, 1, 2)


@pytest.mark.parametrize("with_samplenet", [True, False])
def test_official_checkpoints_load_and_match_the_released_forward(tmp_path, samples, with_samplenet):
    mods = _official_files(tmp_path)
    defense = irad.load_official(tmp_path / "Reconstruction.pt", tmp_path / "SampleNet.pt" if with_samplenet else None)
    x = samples[0][:3]
    with torch.no_grad():
        ours = defense(x)
        ref = _released_forward(x, *(mods if with_samplenet else mods[:2]))
        if with_samplenet:
            off = defense.model.samplenet_offsets(x, defense.model.features(x))
            assert off.abs().max() > 2 / 32  # the shifts really move queries off the pixel grid
    assert torch.allclose(ours, ref, atol=1e-5)


def test_convert_official_writes_our_format(tmp_path, samples):
    _official_files(tmp_path)
    r = subprocess.run([sys.executable, "-m", "irad", "convert", "official", "--liif", str(tmp_path / "Reconstruction.pt"),
                        "--samplenet", str(tmp_path / "SampleNet.pt"), "-o", str(tmp_path / "conv")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    x = samples[0][:2]
    direct = irad.load_official(tmp_path / "Reconstruction.pt", tmp_path / "SampleNet.pt")
    converted = create_defense(f"irad:weights={tmp_path / 'conv'}")
    assert torch.equal(direct(x), converted(x))


def test_official_loader_rejects_other_files(tmp_path):
    torch.save({"model": {"name": "srno", "args": {}, "sd": {}}}, tmp_path / "other.pt")
    with pytest.raises(irad.IradError, match="expected 'liif'"):
        irad.load_official(tmp_path / "other.pt")
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(irad.IradError, match="cannot load checkpoint"):
        irad.load_official(tmp_path / "cut.pt")



@pytest.mark.parametrize("kwargs", [{"sampler": "samplenet"}, {"sampler": "none"},
                                    {"sampler": "sv", "shift": 1.5, "seed": 3},
                                    {"sampler": "samplenet", "recon": "bilinear"}])
def test_chunked_forward_equals_one_pass(kwargs):
    """The networks run query_budget points at a time: whole images, or parts of one when it is larger."""
    torch.manual_seed(0)
    model = ImplicitResampler(ImplicitConfig(2, 8, [16, 16], [16, 16])).eval()
    torch.nn.init.normal_(model.samplenet.layers[-1].weight, std=0.05)  # shifts of about a pixel
    x = torch.rand(3, 3, 31, 45)
    outputs = {}
    for budget in (10**9, 2 * 31 * 45, 100):  # one pass; two images, then one; parts of one image
        model.query_budget = budget
        outputs[budget] = (ImplicitResampling(model, **kwargs)(x), model(x))
    # the encoder's convolutions round differently per batch size (features differ by ~1e-7); SampleNet's shifts
    # over a bilinear reconstruction of a random image (gradients up to 1 per pixel) pass that on a few times over
    tol = 1e-5 if kwargs.get("recon") == "bilinear" else 1e-6
    for budget in (2 * 31 * 45, 100):
        for chunked, whole in zip(outputs[budget], outputs[10**9]):
            torch.testing.assert_close(chunked, whole, atol=tol, rtol=0)

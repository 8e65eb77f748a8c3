"""Run the benchmark sections and write BENCHMARKS.md from their result files.

    python benchmarks/run.py                 # run every section (resumes finished rows), then write BENCHMARKS.md
    python benchmarks/run.py --only table1   # one section
    python benchmarks/run.py --render        # only rewrite BENCHMARKS.md from benchmarks/results/*.json

Each section is one `irad eval` command per scenario (after its `prepare` commands, e.g. training the models it
compares; every command resumes); its JSON lands in benchmarks/results/<section>.json and its table, command, data,
threat model and machine go into BENCHMARKS.md. The `cost` and `speed` sections are timing scripts.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = "../shared"
RESNET56 = f"{SHARED}/models/cifar10-resnet-idelbayev/resnet56-4bfd9763.th"
WORK = "benchmarks/work"  # models the benchmarks train for themselves (git-ignored)
TASKS = ("clean2clean", "sr", "inpaint", "gaussian")  # IRAD Table 7; its PGD-denoising row is the built-in disco
DEFLECTION_GRID = [(k, r) for k in (10, 20, 40, 80) for r in (1, 2, 4)]
VICTIM = ["--dataset", "cifar10", "--data-root", f"{SHARED}/data", "--classifier", "resnet56", "--weights", RESNET56]
RESNET20 = f"{SHARED}/models/cifar10-resnet-idelbayev/resnet20-12fca82f.th"
DDPM = f"{WORK}/ddpm-gpu"  # irad train ddpm --preset gpu (needs a GPU)
# oblivious PGD-10 and AutoAttack on the first 1000 test images, adversarial examples cached per batch
PGD_AND_AUTOATTACK_N1000 = ["--attack", "pgd", "--attack", "autoattack", "--scenario", "oblivious", "--eps", "8/255",
                            "--n", "1000", "--adv-cache", f"{WORK}/adv-resnet56-n1000"]
VICTIM20 = ["--dataset", "cifar10", "--data-root", f"{SHARED}/data", "--classifier", "resnet20", "--weights", RESNET20]

SECTIONS: dict[str, dict] = {
    "table1": {
        "title": "Naive image resampling (IRAD paper Table 1 analogue)",
        "what": "CIFAR-10 (JPEG-75) test, n=500 (stratified: first 50 per class), victim ResNet-56 "
                "(third-party weights from ../shared/models), PGD-10 Linf eps 8/255 step 2/255, oblivious scenario.",
        "args": ["--dataset", "cifar10", "--data-root", f"{SHARED}/data", "--classifier", "resnet56", "--weights", RESNET56,
                 "--defense", "none",
                 "--defense", "resample:recon=bilinear,sampler=si,shift=1.5",
                 "--defense", "resample:recon=bilinear,sampler=sv,shift=1.5",
                 "--defense", "resample:recon=nearest,sampler=si,shift=1.5",
                 "--defense", "resample:recon=nearest,sampler=sv,shift=1.5",
                 "--attack", "pgd", "--scenario", "oblivious", "--eps", "8/255", "--n", "500"],
        "comment": "As in the paper's Table 1 (WRN-28-10, AutoAttack, lossless CIFAR-10): without a defense RA is 0%; "
                   "bilinear SI(1.5) raises RA well above it at a cost in SA; nearest SI only moves pixels by whole "
                   "steps and leaves the attack intact; SV costs most of the SA.",
    },
    "baselines": {
        "title": "Classic baselines (IRAD paper Table 2 rows), oblivious",
        "what": "CIFAR-10 (JPEG-75) test, n=500, victim ResNet-56 (../shared/models), PGD-10 Linf 8/255, oblivious.",
        "args": ["--dataset", "cifar10", "--data-root", f"{SHARED}/data", "--classifier", "resnet56", "--weights", RESNET56,
                 "--defense", "none", "--defense", "bit-depth:bits=4", "--defense", "jpeg:quality=75",
                 "--defense", "randomization", "--defense", "median:size=3",
                 "--attack", "pgd", "--scenario", "oblivious", "--eps", "8/255", "--n", "500"],
    },
    "scenarios": {
        "title": "One defense, three threat scenarios",
        "what": "CIFAR-10 (JPEG-75) test, n=200, victim ResNet-56 (../shared/models), PGD-10 Linf 8/255; the bpda and "
                "adaptive rows use EOT over 10 draws for the randomized SV sampler.",
        "runs": [
            ["--scenario", "oblivious"], ["--scenario", "bpda"], ["--scenario", "adaptive"],
        ],
        "args": ["--dataset", "cifar10", "--data-root", f"{SHARED}/data", "--classifier", "resnet56", "--weights", RESNET56,
                 "--defense", "none", "--defense", "resample:recon=bilinear,sampler=si,shift=1.5",
                 "--defense", "resample:recon=bilinear,sampler=sv,shift=1.5", "--defense", "jpeg:quality=75",
                 "--attack", "pgd", "--eps", "8/255", "--n", "200"],
        "comment": "The three scenarios make three different claims. BPDA's identity backward pass is a poor surrogate "
                   "for a 1.5-pixel shift (the gradient is spatially misaligned), so BPDA PGD is weaker than even the "
                   "oblivious attack on bilinear SI; the attack through the true gradient (adaptive) takes it to 0%. "
                   "JPEG is not differentiable: its adaptive row runs the real codec forward and differentiates "
                   "baseline JPEG in torch with soft rounding (flagged in the row's notes), 1.5 against BPDA's 10.0. "
                   "A defense whose BPDA RA exceeds its "
                   "oblivious RA is a warning sign that `irad audit` checks automatically.",
    },
    "irad": {
        "title": "IRAD, DISCO and their ablations, oblivious (IRAD paper Tables 2, 7, 8, 15)",
        "what": "CIFAR-10 (JPEG-75) test, n=1000 (stratified: the first 100 test images of each class), victim ResNet-56 "
                "(third-party weights from ../shared/models; the IRAD models were trained on pairs crafted on the "
                "package's ResNet-20, so source and victim differ), Linf eps 8/255, oblivious scenario: PGD-10 (step "
                "2/255) and standard AutoAttack, crafted once on the victim and shared by every row. `irad` and `disco` are "
                "the package's built-in CPU-preset weights (implicit representation trained on PGD denoising). The "
                "`disco:weights=benchmarks/work/implicit-<task>` rows are the other Table-7 training tasks, trained "
                "with the same CPU preset on the same pairs and queried DISCO-style at the pixel grid, so they compare "
                "with the `disco` row. The ms/img column here was timed while other jobs shared the CPU; the clean "
                "timings are in 'Defense cost per image' below.",
        "prepare": [
            ["irad", "make-pairs", "--preset", "cpu", "--data-root", f"{SHARED}/data", "--out", f"{WORK}/pairs-cpu"],
            *[["irad", "train", "implicit", "--preset", "cpu", "--pairs", f"{WORK}/pairs-cpu", "--task", t,
               "--out", f"{WORK}/implicit-{t}"] for t in TASKS],
        ],
        "args": [*VICTIM,
                 "--defense", "none",
                 "--defense", "resample:recon=bilinear,sampler=si,shift=1.5",
                 "--defense", "resample:recon=bilinear,sampler=sv,shift=1.5",
                 "--defense", "disco", "--defense", "irad",
                 "--defense", "implicit:sampler=si,shift=1.5", "--defense", "implicit:sampler=sv,shift=1.5",
                 "--defense", "irad:recon=bilinear", "--defense", "irad:recon=nearest",
                 *[a for t in TASKS for a in ("--defense", f"disco:weights={WORK}/implicit-{t}")],
                 *PGD_AND_AUTOATTACK_N1000],
        "comment": "These rows were measured with the previous built-in weights, one file for both irad and disco "
                   "(cpu preset, 5,000 pairs); the built-in irad and disco are now the cpu-long weights (Table-8 "
                   "section below) and this section has not been rerun with them yet. "
                   "The issue's targets for the shipped weights, under oblivious AutoAttack: irad beats disco on RA "
                   "(58.9 vs 23.2) - met; RA >= 80% - not met (58.9); SA within 3 points of no defense - not met "
                   "(71.2 vs 82.5). The gap to the paper (SA 91.7 / RA 89.7, WRN-28-10) is the CPU preset: an "
                   "encoder of 4 blocks x 32 features instead of 16 x 64, 5,000 PGD-20 pairs instead of 50,000 "
                   "PGD-100, 10 + 5 epochs, all on a 2-core CPU (no GPU was available to train the paper preset). "
                   "What does reproduce: the Table-7 ordering (PGD denoising is the only task that gives real RA, "
                   "Gaussian denoising second, clean2clean / super-resolution / inpainting near 0) and the Table-15 "
                   "finding that SampleNet needs the learned decoder (bilinear 31.5, nearest 19.2). Unlike the "
                   "paper's Table 8, a fixed 1.5-px shift of the implicit representation does as well as this "
                   "small SampleNet (60.2 vs 58.9): after 5 epochs its shifts (0.62 px mean) add little beyond a "
                   "global shift. For every defense RA under AutoAttack is higher than under PGD-10: in the "
                   "oblivious scenario an attack that is stronger on the bare victim need not transfer better "
                   "through a defense.",
    },
    "irad-scenarios": {
        "title": "IRAD and DISCO under the three threat scenarios",
        "what": "CIFAR-10 (JPEG-75) test, n=1000 (stratified), victim ResNet-56 (../shared/models), PGD-10 Linf 8/255 "
                "step 2/255; built-in CPU-preset weights. bpda: the defense's backward pass is the identity; adaptive: "
                "end to end through the defense's own gradient (both defenses are deterministic, so no EOT). ms/img was "
                "timed with other jobs on the CPU (clean timings: 'Defense cost per image').",
        "runs": [["--scenario", "oblivious"], ["--scenario", "bpda"], ["--scenario", "adaptive"]],
        "args": [*VICTIM, "--defense", "none", "--defense", "disco", "--defense", "irad",
                 "--attack", "pgd", "--eps", "8/255", "--n", "1000", "--adv-cache", f"{WORK}/adv-resnet56-n1000"],
        "comment": "Measured with the previous built-in weights (one cpu-preset file for irad and disco), not yet "
                   "rerun with the cpu-long ones (its adaptive rows take about an hour on 2 cores). "
                   "As in the paper (Tables 3 and 5), the identity-gradient BPDA attack lowers IRAD's RA (52.2 -> "
                   "43.2) and the end-to-end attack through the true gradient takes it to 0: IRAD and DISCO are "
                   "differentiable, deterministic transforms, so a white-box attacker simply optimises through them. "
                   "IRAD + DiffPure (issue 7) is the paper's answer to this scenario.",
    },
    "irad-samplers": {
        "title": "Sampling strategies over one implicit representation (IRAD paper Table 8), oblivious",
        "what": "CIFAR-10 (JPEG-75) test, n=1000 (stratified: the first 100 test images of each class), victim ResNet-56 "
                "(third-party weights from ../shared/models), Linf eps 8/255, oblivious scenario: PGD-10 (step 2/255) "
                "and standard AutoAttack, crafted once on the victim and shared by every row. `disco` and the "
                "`implicit:...` rows are the built-in implicit representation (cpu-long preset: EDSR 6x48, MLP "
                "192x3, 20 epochs over 50,000 PGD-20 pairs crafted on the package's ResNet-20; commands in "
                "`src/irad/models/weights/implicit_cifar10/training.json`) queried at the pixel grid, with a fixed "
                "shift of d pixels (si) or a random one (sv). `irad` is SampleNet (cpu-long preset) over the same "
                "representation (`src/irad/models/weights/irad_cifar10/training.json`).",
        "args": [*VICTIM, "--defense", "none", "--defense", "disco",
                 *[a for d in ("0.5", "0.75", "1.5") for a in ("--defense", f"implicit:sampler=si,shift={d}")],
                 "--defense", "implicit:sampler=sv,shift=1.5", "--defense", "irad",
                 *PGD_AND_AUTOATTACK_N1000],
        "comment": "The reconstruction is most of the gain, as in the paper's Table 8: DISCO-style it reaches RA 66.0 "
                   "under AutoAttack (the previous cpu-preset one: 23.2, section above) at SA 79.4. The issue's "
                   "targets are not met: disco RA >= 70 at SA >= 81 (4 points of RA and 1.6 of SA short); irad SA >= "
                   "80.5 and RA >= 80 (75.1 / 72.7). SampleNet (256x4, trained with the source ResNet-20's "
                   "cross-entropy, our shift penalty 0.02) has the highest Avg of all samplers under both attacks "
                   "(AutoAttack 73.9 vs 73.65 for a fixed 0.75-px shift; PGD-10 70.4 vs 69.8) and the highest SA of "
                   "the shifting ones, but not the highest SA (disco, 79.4) or RA (the 0.75-px shift, 73.2; PGD-10: "
                   "the 1.5-px shift, 69.2), so the Table-8 claim holds only for the average. Its shifts are small "
                   "(0.22 px on clean images, 'irad-offsets' below) and it buys 6.7 points of RA for 4.3 of SA over "
                   "disco. A fixed 0.5-px shift costs more SA than 0.75 or 1.5: it queries the decoder halfway between "
                   "pixel centres, where it was never trained.",
    },
    "deflection-search": {
        "title": "Pixel deflection: choosing K and r for 32x32 images on a validation slice",
        "what": "CIFAR-10 (JPEG-75) test images 101-150 of each class (`--offset 1000 --n 500`: disjoint from the "
                "n=1000 evaluation images), victim ResNet-56 (../shared/models), PGD-10 Linf 8/255 step 2/255, "
                "oblivious; whole-pixel deflection without R-CAM, then BayesShrink (db1, YCbCr). The row with the "
                "highest Avg sets K and r for the pixel-deflection sections below (the paper's K=100, r=10 are for "
                "224-299 px images; its Sec. 9.1 picks them on held-out images the same way).",
        "args": [*VICTIM, *[a for k, r in DEFLECTION_GRID for a in ("--defense", f"pixel-deflection:deflections={k},window={r}")],
                 "--attack", "pgd", "--scenario", "oblivious", "--eps", "8/255", "--n", "500", "--offset", "1000",
                 "--adv-cache", f"{WORK}/adv-resnet56-val500"],
        "comment": "Against PGD at 8/255 on 32x32 images, deflection + BayesShrink leaves RA under 8% at every "
                   "setting of this grid, and more deflection buys RA only with SA (K=80, r=4: 66.0 / 7.6), so the "
                   "highest Avg goes to the mildest setting. The paper's setting differs: ImageNet images, where "
                   "K=100 touches 0.2% of the pixels, and smaller budgets. This search ran with the previous (ptwt-based) "
                   "implementation of the same BayesShrink denoiser, whose outputs agree with the current one to about "
                   "1e-6 per pixel; the sections below ran with the current code.",
    },
    "deflection": {
        "title": "Pixel deflection, oblivious (Prakash et al. 2018, Tables 2, 5, 6, 9)",
        "what": "CIFAR-10 (JPEG-75) test, n=1000 (stratified), victim ResNet-56 (../shared/models), Linf eps 8/255, "
                "oblivious; FGSM, BIM-10, PGD-10, DeepFool and CW-L2 (minimal-norm attacks projected onto the eps-ball), "
                "standard AutoAttack. PD = pixel deflection with the K, r chosen above. Rows: no defense; PD + "
                "BayesShrink (single run, R-CAM guided, and the majority vote of 10 runs); the Table-5 ablation (JPEG, "
                "BayesShrink alone, deflection alone); Table-6 thresholding (VisuShrink, hard) after deflection "
                "(SUREShrink: no maintained library implements it); Table-9 denoisers after deflection. DR = "
                "destruction rate.",
        "args": lambda: [*VICTIM, "--defense", "none", *[a for d in deflection_rows() for a in ("--defense", d)],
                         *[a for at in ("fgsm", "bim", "pgd", "deepfool", "cw", "autoattack") for a in ("--attack", at)],
                         "--scenario", "oblivious", "--eps", "8/255", "--n", "1000",
                         "--adv-cache", f"{WORK}/adv-resnet56-n1000"],
        "comment": "On 32x32 CIFAR-10 at 8/255, pixel deflection + BayesShrink (K=10, r=1 from the search) buys "
                   "little against iterative attacks even obliviously: RA 3.8 under PGD-10 and 8.4 under AutoAttack "
                   "(SA 82.7). The paper's large gains are on ImageNet at smaller budgets. The Table-5 ablation here: "
                   "BayesShrink alone does as well as deflection + BayesShrink (3.7 / 8.0), deflection alone does "
                   "nothing (0.0 / 1.8); R-CAM guidance and the Ens-10 vote change RA by less than one point. "
                   "Table 6: hard thresholding is worse than soft (AutoAttack 3.4 vs 8.4), and VisuShrink's universal "
                   "threshold wipes out detail in YCbCr (SA 45.9). Table 9: stronger denoisers remove more of a "
                   "perturbation crafted on the bare classifier, at a price in SA (TV 60.9 / 45.8, bilateral 75.3 / "
                   "32.2), except non-local means (80.2 / 59.7). Re-encoding as JPEG-75 is as strong here (82.4 / "
                   "60.9), helped by the data: the test images are JPEG-75 already, so the codec leaves them almost "
                   "unchanged while it removes much of the perturbation. DeepFool and CW are minimal-norm attacks; "
                   "projected onto the ball they barely cross the boundary, and any transform undoes most of them "
                   "(DR ~75%). Every number here is oblivious; see the next section for BPDA and adaptive attacks.",
    },
    "deflection-scenarios": {
        "title": "Pixel deflection under the three threat scenarios",
        "what": "CIFAR-10 (JPEG-75) test, n=200 (stratified), victim ResNet-56, PGD-10 Linf 8/255; PD with the chosen "
                "K and r, single run and Ens-10. bpda and adaptive attack the single-run transform with EOT over 10 "
                "draws (logits averaged); the Ens-10 row then predicts by majority vote.",
        "runs": [["--scenario", "oblivious"], ["--scenario", "bpda"], ["--scenario", "adaptive"]],
        "args": lambda: [*VICTIM, "--defense", "none", "--defense", chosen_deflection(),
                         "--defense", f"ens-10({chosen_deflection()})", "--attack", "pgd", "--eps", "8/255", "--n", "200"],
        "comment": "As Athalye, Carlini & Wagner (2018) found for the ImageNet defense, BPDA + EOT and the end-to-end "
                   "attack with EOT both take pixel deflection to 0.0% here, single run and Ens-10 alike; the oblivious "
                   "4.0% is all the robustness it has, and the Ens-10 vote does not add any.",
    },
    "nn-jpeg": {
        "title": "NN-favoured JPEG: two-band table, noisy-trained ensemble (oblivious, BPDA, adaptive)",
        "what": "CIFAR-10 (JPEG-75) test, n=1000 (stratified), victim Idelbayev's ResNet-20 from ../shared (the "
                "ensemble's M; its fine-tuned members stay in benchmarks/work). The "
                "two-band table is searched on test images 101-200 of each class (`--offset 1000`: disjoint), PGD-10 "
                "at 8/255, benign drop < 1 point. The ensemble {M, M90, M70, M50, M30} comes from the cpu preset of "
                "`irad train jpeg-ensemble` (one epoch on 10,000 images per quality, chained 90 -> 70 -> 50 -> 30). "
                "Oblivious: FGSM, BIM-10, DeepFool, CW-L2 (projected onto the ball); bpda: every compression is the "
                "identity in the backward pass; adaptive: through a soft-rounding JPEG (round(x) + (x - round(x))^3).",
        "prepare": [
            ["irad", "jpeg-search", *VICTIM20, "--offset", "1000", "--n", "1000", "--n-adv", "200", "--attack", "pgd",
             "--eps", "8/255", "--out", "benchmarks/results/jpeg-search.json", "--plot", "benchmarks/results/jpeg-search.png"],
            ["irad", "train", "jpeg-ensemble", "--preset", "cpu", "--data-root", f"{SHARED}/data", "--weights", RESNET20,
             "--out", f"{WORK}/jpeg-ensemble"],
            ["irad", "analyze", "dct", *VICTIM20, "--n", "1000", "--attack", "pgd", "--eps", "8/255",
             "--out", "benchmarks/results/dct-analysis.json", "--plot", "benchmarks/results/dct-analysis.png"],
            ["cp", f"{WORK}/jpeg-ensemble/quality_accuracy.png", "benchmarks/results/jpeg-quality-accuracy.png"],
        ],
        "runs": {f"{scenario}-{eps.split('/')[0]}": ["--scenario", scenario, "--eps", eps, *attacks]
                 for eps in ("2/255", "4/255", "8/255")
                 for scenario, attacks in (("oblivious", ["--attack", "fgsm", "--attack", "bim", "--attack", "deepfool",
                                                          "--attack", "cw", "--adv-cache",
                                                          f"{WORK}/adv-resnet20-n1000-{eps.split('/')[0]}"]),
                                           ("bpda", ["--attack", "pgd"]), ("adaptive", ["--attack", "pgd"]))},
        "args": lambda: [*VICTIM20, "--defense", "none", "--defense", "jpeg:quality=75", "--defense", searched_jpeg(),
                         "--defense", f"jpeg-ensemble:weights={WORK}/jpeg-ensemble", "--n", "1000"],
        "extra": lambda: jpeg_extra(),
        "comment": "Algorithm 1's 1-point budget admits no table that defends here. At 32x32, every table coarse enough "
                   "to remove a PGD perturbation costs more than 1 point of benign accuracy, so the search returns a "
                   "near-identity table (k=3, QS_AF=1; RA 0.1 or less under BIM at every eps); the trade-off under looser "
                   "budgets is listed above. The noisy-trained ensemble gains SA (84.2 vs 80.4), mostly because its "
                   "members were fine-tuned on the JPEG-75 training images while M saw the original PNGs. Obliviously "
                   "it resists some attacks (BIM: 59.7 / 40.5 / 21.6 at 2 / 4 / 8 /255). BPDA and the soft-rounding "
                   "adaptive attack bring it to 46.0 / 30.1 at 2/255, 19.5 / 9.7 at 4/255 and 1.2 / 0.1 at 8/255. "
                   "Pillow's JPEG-75 keeps 79.6 and 62.2 under BPDA at 2 and 4 /255, but that is gradient masking: "
                   "attacked through the soft-rounding JPEG's gradient (adaptive; the real codec in the forward pass) "
                   "it falls to 51.4 / 19.4 / 1.4, and to 4.4 at 4/255 with PGD-50 (next section).",
    },
    "nn-jpeg-ablation": {
        "title": "NN-favoured JPEG ablation: codec, colour space, table (oblivious; the seed's Figure 5)",
        "what": "The nn-jpeg section's images, victim and cached oblivious adversarial examples (FGSM, BIM-10, "
                "DeepFool, CW-L2). One change at a time: Pillow's JPEG-75; the same baseline JPEG in torch (YCbCr "
                "4:2:0, Annex K tables at quality 75); the quality-75 luma table applied in RGB without subsampling; "
                "the two-band RGB tables the search picks under 2- and 10-point benign budgets.",
        "runs": {e: ["--eps", f"{e}/255", "--adv-cache", f"{WORK}/adv-resnet20-n1000-{e}"] for e in ("2", "4", "8")},
        "args": [*VICTIM20, "--defense", "jpeg:quality=75", "--defense", "dct-jpeg:table=standard,quality=75,colour=ycbcr",
                 "--defense", "dct-jpeg:table=standard,quality=75,colour=rgb", "--defense", "dct-jpeg:k=6,qs_af=31",
                 "--defense", "dct-jpeg:k=6,qs_af=76", "--scenario", "oblivious", "--attack", "fgsm", "--attack", "bim",
                 "--attack", "deepfool", "--attack", "cw", "--n", "1000"],
        "comment": "Baseline JPEG in torch reproduces Pillow's rows to within 1 point, so the torch pipeline is a "
                   "faithful stand-in for the codec. The quality-75 table applied in RGB without subsampling keeps SA "
                   "(80.9) but loses much of the oblivious robustness (BIM at 2/255: 59.8 vs 80.0), and the searched "
                   "two-band tables lose more at 2 and 4 /255 (2-point budget, BIM: 43.1 and 19.7). The seed's Figure "
                   "5 reports the reverse ordering, and this data cannot settle it: these test images were saved as "
                   "baseline JPEG-75 (YCbCr 4:2:0), so re-encoding them with the same codec and quality maps a small "
                   "perturbation back onto the lattice of coefficients the clean image already lies on, an advantage "
                   "no other table has. The adaptive rows of the nn-jpeg section show it is not robustness (Pillow "
                   "JPEG-75: 19.4 at 4/255). A fair replication needs lossless CIFAR-10 (`irad data fetch cifar10`, "
                   "on a machine with internet).",
    },
    "jpeg-quality-probe": {
        "title": "JPEG defenses against longer white-box PGD (why JPEG-75 resists BPDA above)",
        "what": "CIFAR-10 (JPEG-75) test, n=500 (stratified), victim Idelbayev's ResNet-20, Linf 4/255; PGD-10 and "
                "PGD-50 with step 0.5/255. Pillow JPEG at three qualities and the nn-jpeg section's ensemble. bpda: "
                "identity backward; adaptive: the gradient of baseline JPEG in torch at the same quality with soft "
                "rounding (for Pillow, the exact codec in the forward pass; for the ensemble, the soft JPEG in both).",
        "runs": [["--scenario", "bpda"], ["--scenario", "adaptive"]],
        "comment": "Under the identity backward pass (bpda), JPEG at quality 75 and 70 keeps 61.4% and 49.6%, at "
                   "quality 90 3.4%, and 50 smaller steps change little. Through the soft-rounding JPEG's gradient "
                   "(adaptive) quality 75 falls to 18.4% with PGD-10 and 4.4% with PGD-50 (quality 70: 7.2 and 0.8). "
                   "The BPDA numbers are gradient masking, not robustness: the identity gradient proposes pixel-wise "
                   "sign patterns whose high frequencies a coarse table rounds away, while the soft JPEG's gradient "
                   "steers the perturbation into the coefficients that survive quantisation. The noisy-trained "
                   "ensemble keeps 8.2% against adaptive PGD-10 and 0.8% against PGD-50 (BPDA: 15.8 and 7.2).",
        "args": [*VICTIM20, "--defense", "jpeg:quality=90", "--defense", "jpeg:quality=75", "--defense",
                 "jpeg:quality=70", "--defense", f"jpeg-ensemble:weights={WORK}/jpeg-ensemble", "--attack", "pgd",
                 "--attack", "pgd:steps=50,alpha=0.5/255", "--eps", "4/255", "--n", "500"],
    },
    "diffpure": {
        "title": "DiffPure and IRAD + DiffPure (IRAD paper Table 5)",
        "what": "CIFAR-10 (JPEG-75) test (stratified), victim ResNet-56 (../shared/models), Linf 8/255, on a GPU. DDPM: "
                "the gpu preset of `irad train ddpm` (google/ddpm-cifar10-32's architecture) in benchmarks/work/ddpm-gpu. "
                "DiffPure diffuses to t* of 1000 steps and runs the full reverse process back; IRAD + DiffPure then "
                "applies IRAD (built-in weights). Oblivious: standard AutoAttack, n=500. Adaptive: PGD-10 end to end "
                "through the sampler (gradient checkpointing), EOT over 4 draws, n=100.",
        "requires": lambda: None if (ROOT / DDPM / "unet").is_dir() else (
            "pending weights: no DDPM that can generate images exists here (no GPU has been lent to this project's "
            "sessions, and google/ddpm-cifar10-32 cannot be downloaded on these machines). On a GPU machine: `irad "
            f"train ddpm --preset gpu --data-root ../shared/data --out {DDPM} --device cuda` (or put the hub model's "
            "files there), then `python benchmarks/run.py --only diffpure`."),
        "prepare": [["cp", f"{DDPM}/samples.png", "benchmarks/results/ddpm-samples.png"]],
        "runs": {"oblivious": ["--scenario", "oblivious", "--attack", "autoattack", "--n", "500"],
                 "adaptive": ["--scenario", "adaptive", "--attack", "pgd", "--eot-samples", "4", "--n", "100"]},
        "args": [*VICTIM, "--defense", "none",
                 *[a for t in (20, 30, 40, 100) for a in ("--defense", f"diffpure:weights={DDPM},t={t},checkpoint=true")],
                 *[a for t in (20, 30, 40) for a in ("--defense", f"diffpure-irad:weights={DDPM},t={t},checkpoint=true")],
                 "--eps", "8/255", "--device", "cuda"],
        "extra": lambda: ["Samples of the DDPM (full reverse process from noise):", "",
                          "![DDPM samples](benchmarks/results/ddpm-samples.png)", ""],
    },
    "deflection-imagenet": {
        "title": "Pixel deflection on ImageNet-size images",
        "what": "The 20 ImageNet samples shipped in the foolbox wheel (JPEG, resized to 256 and centre-cropped to "
                "224), torchvision ResNet-50 with its IMAGENET1K_V1 weights, PGD-10 Linf 4/255, oblivious; the paper's "
                "K=100, r=10, with and without R-CAM (top-5), and Ens-10.",
        "requires": lambda: None if _torchvision_weights_cached("ResNet50_Weights.IMAGENET1K_V1") else (
            "pending weights: torchvision's ResNet-50 IMAGENET1K_V1 file is not in this machine's torch hub cache and "
            "this machine cannot download it; on a machine with internet `python benchmarks/run.py --only "
            "deflection-imagenet` fetches it and runs the table."),
        "args": ["--dataset", "foolbox-imagenet", "--classifier", "resnet50", "--weights", "imagenet",
                 "--defense", "none", "--defense", "pixel-deflection", "--defense", "pixel-deflection:rcam=true",
                 "--defense", "ens-10(pixel-deflection)", "--attack", "pgd", "--scenario", "oblivious",
                 "--eps", "4/255", "--n", "20", "--batch-size", "20"],
    },
}

# Script sections: commands run in order (each resumes or is cheap to repeat), each with its own renderer below.
_IDELBAYEV = f"{SHARED}/models/cifar10-resnet-idelbayev"
ALIASING_MODELS = [f"resnet{d}:{_IDELBAYEV}/{f}" for d, f in (
    (20, "resnet20-12fca82f.th"), (32, "resnet32-d509ac18.th"), (44, "resnet44-014dd654.th"), (56, "resnet56-4bfd9763.th"))]
ALIASING_MODELS += ["resnet20:irad-cifar10", f"resnet20:{WORK}/resnet20-pgd/model.safetensors"]
DEFLECTION_SPEED_COMMENT = (
    "The target was 20x at both sizes. At 32x32 the reference pays Python and scikit-image overhead on every image "
    "(milliseconds to denoise 3,072 values) and batching removes it. At 224x224 its per-image cost is compiled "
    "NumPy / PyWavelets work, and ours is bound by passes over the batch's memory on 2 cores. The exact noise "
    "estimate (the colour product as one BLAS call, min-max normalisation and the median of the non-zero finest "
    "coefficients, bit for bit as scikit-image computes them) is itself about a third of the time. Reaching 20x "
    "would take about 1 ns per value for the whole pipeline, so the target is not met at this size on this CPU.")
ALIASING_COMMENT = (
    "The PGD fine-tuned ResNet-20 (3 epochs of PGD-3 from the built-in one; clean accuracy 53.3% on the whole test "
    "set, RA 26.9% here) aliases less than its standard parent at all four operations (5.38 vs 6.34, 3.42 vs 5.68, "
    "4.83 vs 5.40, 3.22 vs 4.38), the direction the seed reports. It does not alias less than every standard model "
    "everywhere: Idelbayev's ResNet-20 is lower at both layer-3 operations (4.00 and 1.99), and among the five "
    "standard models, all at 0% RA, AM varies by up to 2.2x per operation. The shortcuts only subsample the block's "
    "input, so their AM measures how much high-frequency content the layers before pass on. This is one robust model "
    "after a short fine-tune (the seed compares RobustBench models trained adversarially from scratch) on n=256 "
    "images: a consistent direction against its parent, not a measured correlation.")
TRAINING_SPEED_COMMENT = (
    "bf16 autocast with channels_last gives 2.3-2.7x per stage, short of the 3x the issue asks for; the loss curves "
    "track fp32 (the same L1 to 4 digits over 40 steps; the attack fools the source 99.0% vs 100.0%). What was "
    "tried and left out: torch.compile of the attacked ResNet-20 made PGD slower here (83 img/s in an earlier run of "
    "this script with it, 118 without it in the run shown), and compiling the implicit representation's training "
    "step was slower too in a one-thread trial (18 vs 34 img/s, while a training run held the CPU). The "
    "frozen encoder is about an eighth of a SampleNet step, so caching its features would add at most ~12%.")
IMPLICIT_CURVE_COMMENT = (
    "All 20 cosine epochs (3.6 CPU hours; epochs 16-20 ran in a later session, whose resume shows as a jump in CPU "
    "hours); the packaged weights are epoch 18, the best validation (SA + RA) / 2. The victim's RA under PGD-10 rises "
    "from 7 after one epoch to 36 after 15 and then flattens at 38-39 while the cosine learning rate goes to 0, with "
    "SA at 80-82 throughout. The flattening is the schedule ending, not the model saturating: the validation L1 was "
    "still falling, so a longer schedule (and the paper's 16x64 encoder) is where more RA should come from.")
OFFSETS_COMMENT = (
    "SampleNet (256x4, cpu-long preset, over the cpu-long reconstruction, with our shift penalty 0.02 per pixel) "
    "shifts adversarial images 15% more than clean ones (0.254 vs 0.220 px; target: 30%), mostly along x. Its shifts "
    "vary within an image (0.10 px std over pixels) more than between images (0.02 px), so it has learned a "
    "mostly global, slightly input-dependent shift. The previous weights (64x2 over the cpu-preset reconstruction) "
    "had a ratio of 0.998.")
AUDIT_COMMENT = (
    "The audit flags the one number here that is an artefact of masked gradients: bit-depth reduction reads 72% "
    "under the end-to-end attack because its gradient is exactly zero, while BPDA takes it to 0%. Pixel deflection, "
    "IRAD and DISCO pass every check. Their strongest white-box attack reaches 0% (pixel deflection: BPDA and "
    "adaptive with EOT, at 8/255 and at 4/255; IRAD and DISCO: end to end), below the oblivious RA (4 / 57 / 10) and "
    "below Square (52 / 2 / 15). That reproduces the literature's verdict on pixel deflection (Athalye, Carlini & "
    "Wagner 2018: 0% under BPDA + EOT) and the IRAD paper's own 0% under a full adaptive attack. Passing the audit "
    "means the white-box numbers can be trusted, here 0%. It does not mean the defense is robust.")
IMPLICIT_RUN = f"{WORK}/implicit-long"  # irad train implicit --preset cpu-long (the built-in implicit representation)


def implicit_snapshots() -> list[str]:
    """The epoch snapshots of the cpu-long implicit-representation run, oldest first."""
    found = sorted((ROOT / IMPLICIT_RUN / "epochs").glob("epoch-*"))
    if not found:
        raise SystemExit(f"no snapshots in {IMPLICIT_RUN}/epochs: run the commands in "
                         "src/irad/models/weights/implicit_cifar10/training.json with --out " + IMPLICIT_RUN)
    return [str(f.relative_to(ROOT)) for f in found]


SCRIPTS: dict[str, list[list[str]] | Callable[[], list[list[str]]]] = {
    "cost": [[sys.executable, "benchmarks/defense_cost.py"]],
    "training-speed": [
        ["irad", "make-pairs", "--preset", "cpu-long", "--data-root", f"{SHARED}/data", "--out", f"{WORK}/pairs-long"],
        [sys.executable, "benchmarks/training_speed.py", "--pairs", f"{WORK}/pairs-long"]],
    "irad-speed": [[sys.executable, "benchmarks/irad_speed.py"]],
    "irad-offsets": [["irad", "analyze", "offsets", *VICTIM, "--n", "1000", "--attack", "pgd", "--defense", "irad",
                      "--out", "benchmarks/results/irad_offsets.json", "--plot", "benchmarks/results/irad_offsets.png"]],
    "implicit-curve": lambda: [
        ["irad", "eval", *VICTIM, *[a for e in implicit_snapshots() for a in ("--defense", f"disco:weights={e}")],
         "--attack", "pgd", "--scenario", "oblivious", "--eps", "8/255", "--n", "500",
         "--adv-cache", f"{WORK}/adv-resnet56-n500", "--out", "benchmarks/results/implicit_curve_eval.json"],
        [sys.executable, "benchmarks/learning_curve.py", "--metrics", f"{IMPLICIT_RUN}/metrics.json",
         "--eval", "benchmarks/results/implicit_curve_eval.json", "--out", "benchmarks/results/implicit_curve.json",
         "--plot", "benchmarks/results/implicit_curve.png"]],
    "deflection-speed": [[sys.executable, "benchmarks/deflection_speed.py"]],
    "aliasing": [
        ["irad", "train", "classifier", "--preset", "cpu-adversarial", "--data-root", f"{SHARED}/data",
         "--out", f"{WORK}/resnet20-pgd"],
        ["irad", "aliasing", "--dataset", "cifar10", "--data-root", f"{SHARED}/data", "--n", "256",
         "--compare", *ALIASING_MODELS, "--measure-ra", "--plot", "benchmarks/results/aliasing.png",
         "--out", "benchmarks/results/aliasing.json"],
    ],
    "audit": lambda: [["irad", "audit", *VICTIM, "--defense", "none", "--defense", "bit-depth:bits=4",
                       "--defense", chosen_deflection(), "--defense", "irad", "--defense", "disco", "--preset", "cpu",
                       "--no-progress", "--out", "benchmarks/results/audit.json"]],
    "audit-eps4": lambda: [["irad", "audit", *VICTIM, "--defense", chosen_deflection(), "--eps", "4/255", "--preset",
                            "cpu", "--no-progress", "--out", "benchmarks/results/audit_eps4.json"]],
}


def _commands(name: str) -> list[list[str]]:
    return SCRIPTS[name]() if callable(SCRIPTS[name]) else SCRIPTS[name]


def _torchvision_weights_cached(enum: str) -> bool:
    import torch
    import torchvision.models as tvm

    cls, member = enum.split(".")
    url = getattr(getattr(tvm, cls), member).url
    return (Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[1]).is_file()


def chosen_deflection() -> str:
    """The pixel-deflection spec with the best Avg in the deflection-search results."""
    path = RESULTS / "deflection-search.json"
    if not path.exists():
        raise SystemExit("run `python benchmarks/run.py --only deflection-search` first: it chooses K and r")
    rows = [r for r in json.loads(path.read_text())["results"] if r["defense"].startswith("pixel-deflection")]
    return max(rows, key=lambda r: r["avg"])["defense"]


def searched_jpeg() -> str:
    """The dct-jpeg spec chosen by the nn-jpeg section's table search."""
    path = RESULTS / "jpeg-search.json"
    if not path.exists():
        raise SystemExit("run `python benchmarks/run.py --only nn-jpeg` (its prepare step searches the table)")
    c = json.loads(path.read_text())["choice"]
    return f"dct-jpeg:k={c['k']},qs_af={c['qs_af']}"


def jpeg_extra() -> list[str]:
    """The search's choice, the DCT analysis figure and each model's accuracy per JPEG quality (Figure 6)."""
    sys.path.insert(0, str(ROOT / "src"))
    from irad.training.jpeg_table import choose

    lines = []
    search = RESULTS / "jpeg-search.json"
    if search.exists():
        d = json.loads(search.read_text())
        c = d["choice"]
        lines += [f"Table search: benign accuracy {d['base_benign_acc']:.1f}% uncompressed; chosen k={c['k']}, "
                  f"QS_AF={c['qs_af']} (QS_OF={d['settings']['qs_of']:g}): benign {c['benign_acc']:.1f}%, adversarial "
                  f"{c['adv_acc']:.1f}% (n={d['settings']['n_benign']} / {d['settings']['n_adv']}).", "",
                  "The same grid under looser benign budgets (choice: benign / adversarial accuracy): " + "; ".join(
                      f"{b} points: k={t['k']}, QS_AF={t['qs_af']} ({t['benign_acc']:.1f} / {t['adv_acc']:.1f})"
                      for b in (2, 5, 10, 20) if (t := choose(d["grid"], d["base_benign_acc"], b))) + ".", "",
                  "![table search](benchmarks/results/jpeg-search.png)", "",
                  "![DCT statistics](benchmarks/results/dct-analysis.png)", ""]
    quality = ROOT / WORK / "jpeg-ensemble" / "quality_accuracy.json"
    if quality.exists():
        d = json.loads(quality.read_text())
        cols = list(next(iter(d["accuracy"].values())))
        lines += [f"Clean accuracy (%) of each model on test images compressed at each quality (n={d['n']}; the "
                  "seed's Figure 6):", "", "| model | " + " | ".join(f"Q{c}" for c in cols) + " |",
                  "|" + "---|" * (len(cols) + 1),
                  *[f"| {m} | " + " | ".join(f"{v:.1f}" for v in row.values()) + " |" for m, row in d["accuracy"].items()],
                  "", "![accuracy per JPEG quality](benchmarks/results/jpeg-quality-accuracy.png)", ""]
    return lines


def deflection_rows() -> list[str]:
    pd = chosen_deflection()
    bare = pd + ",denoiser=none"
    return [pd, pd + ",rcam=true", f"ens-10({pd})", "jpeg:quality=75", "wavelet", bare,
            bare + "+wavelet:method=visu", bare + "+wavelet:mode=hard",
            pd.replace("pixel-deflection:", "pixel-deflection:denoiser=tv,"),
            pd.replace("pixel-deflection:", "pixel-deflection:denoiser=bilateral,"),
            pd.replace("pixel-deflection:", "pixel-deflection:denoiser=nl-means,")]


def _runs(name: str, sec: dict) -> list[tuple[Path, list[str]]]:
    """(result file, command) per run: ``runs`` is a list of extra arguments (file suffix: the last one) or a dict
    suffix -> extra arguments."""
    extra = sec.get("runs", [[]])
    named = extra if isinstance(extra, dict) else {(e[-1] if len(extra) > 1 else ""): e for e in extra}
    args = sec["args"]() if callable(sec["args"]) else sec["args"]
    out = []
    for suffix, e in named.items():
        path = RESULTS / (f"{name}-{suffix}.json" if suffix else f"{name}.json")
        out.append((path, ["irad", "eval", *args, *e, "--out", str(path.relative_to(ROOT))]))
    return out


def run_section(name: str) -> None:
    if name in SCRIPTS:
        for cmd in _commands(name):
            print("$", shlex.join(cmd), flush=True)
            subprocess.run(cmd, cwd=ROOT, check=True)
        return
    missing = SECTIONS[name].get("requires", lambda: None)()
    if missing:
        print(f"skipping {name}: {missing}", flush=True)
        return
    for cmd in SECTIONS[name].get("prepare", []):
        print("$", shlex.join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)
    for path, cmd in _runs(name, SECTIONS[name]):
        print("$", shlex.join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)


def _short_commit(commit: str | None) -> str:
    """``abc1234567`` or ``abc1234567, modified`` (the run's source differed from that commit)."""
    if not commit:
        return "uncommitted"
    return commit[:10] + (", modified" if commit.endswith("+modified") else "")


def _commits(env: dict) -> str:
    """The run's commit, then those of rows resumed from earlier runs of the same file."""
    earlier = [_short_commit(c) for c in env.get("earlier_rows_commits", [])]
    return _short_commit(env.get("git_commit")) + (f"; earlier rows: {', '.join(earlier)}" if earlier else "")


def render() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from irad.evaluation.results import ResultRow, format_markdown

    parts = ["# Benchmarks", "",
             "Every table below is produced by `python benchmarks/run.py` (each section's exact command is printed with it) "
             "and read back from `benchmarks/results/*.json`. Accuracies in percent; RA = accuracy on adversarial "
             "examples after the defense; Avg = (SA + RA) / 2; ms/img = defense forward time only, on the machine named. "
             "CIFAR-10 here is the JPEG-75 copy in `../shared/data` (train and test both JPEG-75).", ""]
    for name, sec in SECTIONS.items():
        try:
            runs = [(p, c) for p, c in _runs(name, sec) if p.exists()]
        except SystemExit:  # a section whose arguments come from another section's results, not run yet
            continue
        missing = sec.get("requires", lambda: None)()
        if missing and not runs:
            parts += [f"## {sec['title']}", "", sec["what"], "", f"Not run: {missing}", ""]
            continue
        if not runs:
            continue
        parts += [f"## {sec['title']}", "", sec["what"], ""]
        if sec.get("prepare"):
            parts += ["Prepared with:", "", "```", *[shlex.join(c) for c in sec["prepare"]], "```", ""]
        for path, cmd in runs:
            data = json.loads(path.read_text())
            env = data["environment"]
            rows = [ResultRow(**r) for r in data["results"]]
            parts += ["```", shlex.join(cmd), "```", "",
                      f"Machine: {env.get('processor')}, {env.get('cpu_count')} CPUs, {env.get('torch_threads')} torch threads, "
                      f"device {env.get('device')}{', ' + env['gpu'] if 'gpu' in env else ''}; torch {env.get('torch')}; "
                      f"irad {env.get('irad')} ({_commits(env)}).", "",
                      format_markdown(rows), ""]
            notes = sorted({n for r in rows for n in r.notes})
            if notes:
                parts += ["Notes from the run:", *[f"- {n}" for n in notes], ""]
        if sec.get("extra"):
            parts += sec["extra"]()
        if sec.get("comment"):
            parts += [sec["comment"], ""]
    parts += render_scripts()
    return "\n".join(parts)


def _machine(env: dict) -> str:
    return (f"{env['processor']}, {env['cpu_count']} CPUs, {env['torch_threads']} torch threads, {env['device']}"
            f"{', ' + env['gpu'] if 'gpu' in env else ''}; torch {env['torch']}")


def _script_section(key: str, title: str, describe, header, row, rows_key: str = "rows",
                    after: list[str] = ()) -> list[str]:
    """A script section's table: ``describe(data)`` text, ``header(data)`` columns, ``row(r, data)`` cells per entry of
    ``data[rows_key]``, then the ``after`` lines."""
    path = RESULTS / f"{key.replace('-', '_')}.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    cols = header(data)
    shown = [shlex.join(["python", *c[1:]] if c[0] == sys.executable else c) for c in _commands(key)]
    return [f"## {title}", "", "```", *shown, "```", "",
            f"{describe(data)} Machine: {_machine(data['environment'])}.", "",
            "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols),
            *["| " + " | ".join(row(r, data)) + " |" for r in data[rows_key]], "", *after]


def render_scripts() -> list[str]:
    return [
        *_script_section(
            "cost", "Defense cost per image",
            lambda d: f"Forward pass of the defense only, on CIFAR-10 (JPEG-75) test images (32x32), best of "
                      f"{d['repeats']} runs.",
            lambda d: ["defense", *[f"ms/img, batch {b}" for b in d["batches"]]],
            lambda r, d: [r["defense"], *[f"{r[f'ms_per_image_batch{b}']:.3f}" for b in d["batches"]]]),
        *_script_section(
            "training-speed", "IRAD training throughput: fp32 vs bf16 autocast + channels_last",
            lambda d: f"Images per second of each training stage, as the trainers run it (the first {d['steps']} "
                      f"steps of an epoch on the cpu-long pairs, {d['steps'] // 2} for SampleNet, whose frozen "
                      "reconstruction is a briefly trained one: speed does not depend on the weights; make-pairs: 4 "
                      "batches of 250 after one warm-up batch). "
                      "before: fp32, contiguous (the `cpu` presets); after: bf16 autocast + channels_last (the "
                      "`cpu-long` presets).",
            lambda d: ["stage", "before img/s", "after img/s", "speedup", "check"],
            lambda r, d: [r["stage"], f"{r['before_images_per_s']:.1f}", f"{r['after_images_per_s']:.1f}",
                          f"{r['speedup']:.2f}x", r["check"]],
            after=[TRAINING_SPEED_COMMENT, ""]),
        *_script_section(
            "irad-offsets", "What SampleNet does: its shifts on clean vs adversarial images",
            lambda d: f"`irad analyze offsets`: SampleNet's per-pixel shift (pixels) of the built-in `irad` on the "
                      f"first {d['n']} CIFAR-10 (JPEG-75) test images (stratified) and on PGD-10 Linf 8/255 "
                      "adversarial examples crafted on the victim ResNet-56 (oblivious). Spread: std over images of "
                      "each image's mean |offset|; within: mean over images of the std of |offset| over its pixels. "
                      f"Adversarial / clean mean |offset|: {d['adversarial_over_clean']:.3f}.",
            lambda d: ["images", "mean |offset| px", "spread over images", "within an image", "mean (dy, dx) px"],
            lambda r, d: [r, f"{d['offsets'][r]['mean_abs_px']:.3f}", f"{d['offsets'][r]['spread_px']:.3f}",
                          f"{d['offsets'][r]['pixel_std_px']:.3f}",
                          "({:+.3f}, {:+.3f})".format(*d["offsets"][r]["mean_px"])],
            rows_key="offsets", after=["![offsets](benchmarks/results/irad_offsets.png)", "", OFFSETS_COMMENT, ""]),
        *_script_section(
            "implicit-curve", "Learning curve of the built-in implicit representation (cpu-long preset)",
            lambda d: "Per epoch of `irad train implicit --preset cpu-long`: CPU hours so far (process time of all "
                      "threads), L1 and the source ResNet-20's SA / RA on the validation pairs (CIFAR-10 JPEG-75 test "
                      "images 101-200 of each class, PGD-20 on ResNet-20; the best epoch by (SA + RA) / 2 is kept), and "
                      f"the victim ResNet-56's SA / RA through that epoch's snapshot queried DISCO-style (first "
                      f"{d['eval_n']} test images, stratified, PGD-10 Linf 8/255, oblivious).",
            lambda d: ["epoch", "CPU hours", "val L1", "val SA / RA (ResNet-20)", "SA / RA (ResNet-56, PGD-10)"],
            lambda r, d: [str(r["epoch"]), f"{r['cpu_hours']:.2f}", f"{r['val_l1']:.4f}",
                          f"{r['val_sa']:.1f} / {r['val_ra']:.1f}",
                          f"{r['victim_sa']:.1f} / {r['victim_ra']:.1f}" if "victim_sa" in r else "-"],
            after=["![learning curve](benchmarks/results/implicit_curve.png)", "", IMPLICIT_CURVE_COMMENT, ""]),
        *_script_section(
            "irad-speed", "IRAD purification speed vs the released forward pass",
            lambda d: f"Weights: {d['weights']}. Input 32x32. Best of repeated runs.",
            lambda d: ["batch", "released ms/img", "irad ms/img", "speedup", "max abs diff", "irad bf16 ms/img",
                       "bf16 / fp32 speedup", "bf16 max abs diff"],
            lambda r, d: [str(r["batch"]), f"{r['released_ms_per_image']:.2f}", f"{r['irad_ms_per_image']:.2f}",
                          f"{r['speedup']:.2f}x", f"{r['max_abs_diff']:.1e}",
                          *([f"{r['irad_bf16_ms_per_image']:.2f}", f"{r['bf16_speedup_over_fp32']:.2f}x",
                             f"{r['bf16_max_abs_diff']:.1e}"] if "irad_bf16_ms_per_image" in r else ["-"] * 3)]),
        *_script_section(
            "deflection-speed", "Pixel deflection + BayesShrink speed vs the reference algorithm",
            lambda d: "Reference: the per-pixel Python loop of Algorithm 1 (per channel, as the reference code) and "
                      "scikit-image's denoise_wavelet, one image at a time; irad: `pixel-deflection:per_channel=true` "
                      f"on the whole batch. Random images, best of {d['repeats']} runs.",
            lambda d: ["image", "batch", "K", "r", "reference img/s", "irad img/s", "speedup",
                       "reference ms/img: skimage denoise", "irad ms/img: deflect / noise estimate / denoise incl. estimate"],
            lambda r, d: [f"{r['side']}x{r['side']}", str(r["batch"]), str(r["deflections"]), str(r["window"]),
                          f"{r['reference_images_per_s']:.1f}", f"{r['irad_images_per_s']:.1f}", f"{r['speedup']:.1f}x",
                          f"{r['reference_denoise_ms_per_image']:.2f}",
                          " / ".join(f"{v:.3f}" for v in r["irad_stage_ms_per_image"].values())],
            after=[DEFLECTION_SPEED_COMMENT, ""]),
        *_script_section(
            "aliasing", "Aliasing of the downsampling layers (Grabinski et al.)",
            lambda d: f"Aliasing metric (Eq. 7: mean over feature maps and images of the L1 distance between the "
                      f"strided map's spectrum and the alias-free one) on CIFAR-10 (JPEG-75) test, n={d['data']['n']} "
                      f"(stratified). RA: {d['data']['robust_accuracy']}. Layer names without the `net.` prefix; all "
                      "six are CIFAR ResNets with option-A shortcuts, so the four downsampling operations are the same.",
            lambda d: ["model", "RA", *[f"AM {layer['name'].removeprefix('net.')} ({'x'.join(map(str, layer['input_size']))})"
                                        for layer in d["models"][0]["layers"]]],
            lambda r, d: [r["model"].replace(f"{SHARED}/models/cifar10-resnet-idelbayev/", "shared/"),
                          f"{r['robust_accuracy']:.1f}", *[f"{layer['am']:.3f}" for layer in r["layers"]]],
            rows_key="models", after=["![RA vs AM per layer](benchmarks/results/aliasing.png)", "",
                                      *([ALIASING_COMMENT, ""] if ALIASING_COMMENT else [])]),
        *_audit_section("audit", "8/255"),
        *_audit_section("audit-eps4", "4/255"),
    ]


def _evidence(report: dict, check: str) -> dict:
    return next(c["evidence"] for c in report["checks"] if c["name"] == check)


def _audit_section(key: str, eps: str) -> list[str]:
    path = RESULTS / f"{key.replace('-', '_')}.json"
    advice = [f"- {r['defense']}, {c['name']}: {c['advice']}" for r in json.loads(path.read_text())["defenses"]
              for c in r["checks"] if c["advice"]] if path.exists() else []
    return _script_section(
        key, f"Gradient-masking audit, Linf {eps} (`irad audit`, cpu preset)",
        lambda d: f"CIFAR-10 (JPEG-75) test, n={d['config']['n']} (stratified), victim ResNet-56 (../shared/models). "
                  "cpu preset: PGD 10 / 30 steps, APGD 1 / 3 restarts, EOT 1 / 4 (EOT 4 in the white-box measurements "
                  "of randomized defenses), Square 300 queries, no AutoAttack. RA columns: PGD-10 per scenario; white "
                  "box = the stronger of bpda and adaptive.",
        lambda d: ["defense", "overall", *[c["name"] for c in d["defenses"][0]["checks"]],
                   "RA oblivious / bpda / adaptive", "RA Square", "RA at eps 64/255"],
        lambda r, d: [r["defense"], r["status"], *[c["status"] for c in r["checks"]],
                      " / ".join(f"{v:.1f}" for v in _evidence(r, "scenario-ordering")["ra"].values()),
                      f"{_evidence(r, 'blackbox-and-transfer')['square_ra']:.1f}",
                      f"{list(_evidence(r, 'attack-monotonicity')['ra_by_eps'].values())[-1]:.1f}"],
        rows_key="defenses",
        after=[*advice, "", *([AUDIT_COMMENT, ""] if AUDIT_COMMENT and key == "audit" else [])])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=sorted([*SECTIONS, *SCRIPTS]))
    ap.add_argument("--render", action="store_true", help="only rewrite BENCHMARKS.md")
    args = ap.parse_args()
    if not args.render:
        for name in args.only or [*SECTIONS, *SCRIPTS]:
            run_section(name)
    (ROOT / "BENCHMARKS.md").write_text(render())
    print("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()

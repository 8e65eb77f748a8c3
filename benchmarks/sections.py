"""The BENCHMARKS.md sections as data, in page order: `irad eval` sections (EvalSection) and sections made by a script
or another `irad` command (ScriptSection). Prose about the results lives in benchmarks/notes/<name>.md."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import defense_cost
import first_hour
import deflection_speed
import irad_speed
import learning_curve
import tables
import training_speed
from report import RESULTS, ROOT, ci_text

SHARED = "../shared"
WORK = "benchmarks/work"  # models the benchmarks train for themselves (git-ignored)
IDELBAYEV = f"{SHARED}/models/cifar10-resnet-idelbayev"
RESNET56 = f"{IDELBAYEV}/resnet56-4bfd9763.th"
RESNET20 = f"{IDELBAYEV}/resnet20-12fca82f.th"
VICTIM = ["--dataset", "cifar10", "--data-root", f"{SHARED}/data", "--classifier", "resnet56", "--weights", RESNET56]
VICTIM20 = ["--dataset", "cifar10", "--data-root", f"{SHARED}/data", "--classifier", "resnet20", "--weights", RESNET20]
IMPLICIT_RUN = f"{WORK}/implicit-long"  # irad train implicit --preset cpu-long
IMPLICIT_RESTART = f"{WORK}/implicit-restart"  # its warm restart (--init IMPLICIT_RUN/best): the built-in weights
TASKS = ("pgd", "clean2clean", "sr", "inpaint", "gaussian")  # IRAD Table 7, each trained with the same cpu preset
DEFLECTION_GRID = [(k, r) for k in (10, 20, 40, 80) for r in (1, 2, 4)]
# oblivious PGD-10 and AutoAttack on the first 1000 test images, adversarial examples cached per batch
PGD_AND_AUTOATTACK_N1000 = ["--attack", "pgd", "--attack", "autoattack", "--scenario", "oblivious", "--eps", "8/255",
                            "--n", "1000", "--adv-cache", f"{WORK}/adv-resnet56-n1000"]
SCENARIOS = {s: ["--scenario", s] for s in ("oblivious", "bpda", "adaptive")}
# ImageNet: the shared val subset (1,300 real ILSVRC2012 val images, 725 classes), victim Lite2 (the purifiers'
# training signal came from Lite0), Linf 4/255; PGD-10 with step 1/255 reaches the budget's boundary; examples
# crafted under bf16 autocast (the check runs compare fp32-crafted ones on the first 50 images)
IMAGENET_ROOT = ["--dataset", "imagenet", "--data-root", f"{SHARED}/data"]
IMAGENET_DATA = [*IMAGENET_ROOT, "--split", "val", "--eps", "4/255"]
IMAGENET = [*IMAGENET_DATA, "--attack", "pgd:steps=10,alpha=1/255", "--batch-size", "50", "--attack-precision", "bf16"]
IMAGENET_ENSEMBLE = f"jpeg-ensemble:weights={WORK}/jpeg-ensemble-imagenet"
IMAGENET_PD = "pixel-deflection:deflections=100,window=10"  # Prakash et al.'s K and r
IMAGENET_IMPLICIT = ["disco:weights=imagenet,precision=bf16", "irad:weights=imagenet,precision=bf16"]
IMAGENET_OBLIVIOUS = ["none", "bit-depth:bits=4", "jpeg:quality=75", "randomization", "median:size=3",
                      *IMAGENET_IMPLICIT, "disco:precision=bf16", "irad:precision=bf16",
                      "implicit:weights=imagenet,sampler=si,shift=1.5,precision=bf16",
                      "implicit:weights=imagenet,sampler=sv,shift=1.5,precision=bf16"]
# the note's claims, each a paired test on the same images: IRAD against DISCO, the other samplers of its
# representation, and the CIFAR-10 built-in applied unchanged
IMAGENET_PAIRS = [(IMAGENET_IMPLICIT[1], other) for other in
                  (IMAGENET_IMPLICIT[0], *IMAGENET_OBLIVIOUS[-2:], "irad:precision=bf16")]


def _defenses(specs: list[str]) -> list[str]:
    return [a for s in specs for a in ("--defense", s)]


CURVE_EPS = "1/255,2/255,4/255,8/255,16/255"
CURVE_DEFENSES = ["none", "bit-depth:bits=4", "jpeg:quality=75", "median:size=3", "randomization", "disco", "irad",
                  "diffpure:t=100", "diffpure-irad:t=30"]


def _curve_extra() -> list[str]:
    """The curves' pictures and the paired tests behind the note's comparisons."""
    return [*[f"![RA vs eps, {s}](benchmarks/results/robustness-curve-{s}.png)"
              for s in ("oblivious", "adaptive") if (RESULTS / f"robustness-curve-{s}.png").exists()], "",
            *tables.paired("robustness-curve-oblivious", [("irad", "disco"), ("diffpure-irad:t=30", "diffpure:t=100")]),
            *tables.paired("robustness-curve-adaptive", [("irad", "disco"), ("irad", "none"), ("disco", "none")])]


ALIASING_MODELS = [f"resnet{d}:{IDELBAYEV}/{f}" for d, f in (
    (20, "resnet20-12fca82f.th"), (32, "resnet32-d509ac18.th"), (44, "resnet44-014dd654.th"),
    (56, "resnet56-4bfd9763.th"))]
ALIASING_MODELS += ["resnet20:irad-cifar10", f"resnet20:{WORK}/resnet20-pgd/model.safetensors"]


def _none() -> str | None:
    return None


def _no_lines() -> list[str]:
    return []


@dataclass(frozen=True)
class EvalSection:
    """`irad eval` runs sharing ``args()``; ``runs`` maps a result-file suffix to the run's extra arguments
    (results/<name>[-<suffix>].json)."""

    name: str
    title: str
    what: str  # data, n, victim, attacks and threat model
    args: Callable[[], list[str]]
    runs: dict[str, list[str]] = field(default_factory=lambda: {"": []})
    prepare: list[list[str]] = field(default_factory=list)  # commands run first (each resumes or is cheap)
    requires: Callable[[], str | None] = _none  # why the section cannot run on this machine (None: it can)
    extra: Callable[[], list[str]] = _no_lines  # lines after the tables (figures, side tables)

    def result_files(self) -> list[tuple[Path, list[str]]]:
        """(result file, its `irad eval` command) per run."""
        out = []
        for suffix, extra in self.runs.items():
            path = RESULTS / (f"{self.name}-{suffix}.json" if suffix else f"{self.name}.json")
            out.append((path, ["irad", "eval", *self.args(), *extra, "--out", str(path.relative_to(ROOT))]))
        return out


@dataclass(frozen=True)
class ScriptSection:
    """Commands that write results/<result>.json, and ``render(data)``: the section's description and table."""

    name: str
    title: str
    commands: Callable[[], list[list[str]]]
    render: Callable[[dict], list[str]]
    result: str

    @property
    def path(self) -> Path:
        return RESULTS / f"{self.result}.json"


def chosen_deflection() -> str:
    """The pixel-deflection spec with the best Avg in the deflection-search results."""
    path = RESULTS / "deflection-search.json"
    if not path.exists():
        raise SystemExit("run `python benchmarks/run.py --only deflection-search` first: it chooses K and r")
    rows = [r for r in json.loads(path.read_text())["results"] if r["defense"].startswith("pixel-deflection")]
    return max(rows, key=lambda r: r["avg"])["defense"]


def deflection_rows(pd: str | None = None, wavelet: str = "wavelet") -> list[str]:
    """A deflection section's defenses: PD (``pd``, default the searched K and r, then ``wavelet`` as its denoiser),
    its Table-5, 6 and 9 variants, and baselines. ``wavelet``: the BayesShrink spec, at most one option."""
    pd = pd or chosen_deflection()
    full = pd if wavelet == "wavelet" else f"{pd},denoiser={wavelet}"
    bare = pd + ",denoiser=none"
    shrink = ("wavelet:" + wavelet.partition(":")[2] + ",") if ":" in wavelet else "wavelet:"
    return [full, full + ",rcam=true", f"ens-10({full})", "jpeg:quality=75", wavelet, bare,
            bare + "+" + shrink + "method=visu", bare + "+" + shrink + "mode=hard",
            *[pd.replace("pixel-deflection:", f"pixel-deflection:denoiser={d},")
              for d in ("tv", "bilateral", "nl-means")]]


def searched_jpeg(suffix: str = "") -> str:
    """The dct-jpeg spec chosen by the nn-jpeg{suffix} section's table search."""
    path = RESULTS / f"jpeg-search{suffix}.json"
    if not path.exists():
        raise SystemExit(f"run `python benchmarks/run.py --only nn-jpeg{suffix}` (its prepare step searches the table)")
    c = json.loads(path.read_text())["choice"]
    return f"dct-jpeg:k={c['k']},qs_af={c['qs_af']}"


def copy_quality_accuracy(suffix: str = "") -> list[list[str]]:
    """Commands keeping the nn-jpeg{suffix} ensemble's per-quality accuracy (JSON and figure) with the results: the
    members themselves stay in benchmarks/work."""
    return [["cp", f"{WORK}/jpeg-ensemble{suffix}/quality_accuracy.{ext}",
             f"benchmarks/results/jpeg-quality-accuracy{suffix}.{ext}"] for ext in ("json", "png")]


def _jpeg_imagenet_extra() -> list[str]:
    """The nn-jpeg-imagenet section's extras: jpeg_extra's, then the ensemble paired against JPEG-75 and the searched
    table on the gray- and black-box runs at 4/255."""
    pairs = [(IMAGENET_ENSEMBLE, "jpeg:quality=75"), (IMAGENET_ENSEMBLE, searched_jpeg("-imagenet"))]
    return [*jpeg_extra("-imagenet"), *tables.paired("nn-jpeg-imagenet-graybox-4", pairs),
            *tables.paired("nn-jpeg-imagenet-blackbox-4", pairs)]


def jpeg_extra(suffix: str = "") -> list[str]:
    """The search's choice, the DCT analysis figure and each model's accuracy per JPEG quality (Figure 6), of the
    nn-jpeg{suffix} section."""
    sys.path.insert(0, str(ROOT / "src"))
    from irad.training.jpeg_table import choose

    lines = []
    search = RESULTS / f"jpeg-search{suffix}.json"
    if search.exists():
        d = json.loads(search.read_text())
        c = d["choice"]
        lines += [f"Table search: benign accuracy {d['base_benign_acc']:.1f}% uncompressed; chosen k={c['k']}, "
                  f"QS_AF={c['qs_af']} (QS_OF={d['settings']['qs_of']:g}): benign {c['benign_acc']:.1f}%, adversarial "
                  f"{c['adv_acc']:.1f}% (n={d['settings']['n_benign']} / {d['settings']['n_adv']}).", "",
                  "The same grid under looser benign budgets (choice: benign / adversarial accuracy): " + "; ".join(
                      f"{b} points: k={t['k']}, QS_AF={t['qs_af']} ({t['benign_acc']:.1f} / {t['adv_acc']:.1f})"
                      for b in (2, 5, 10, 20) if (t := choose(d["grid"], d["base_benign_acc"], b))) + ".", "",
                  f"![table search](benchmarks/results/jpeg-search{suffix}.png)", "",
                  f"![DCT statistics](benchmarks/results/dct-analysis{suffix}.png)", ""]
    quality = RESULTS / f"jpeg-quality-accuracy{suffix}.json"
    if quality.exists():
        d = json.loads(quality.read_text())
        cols = list(next(iter(d["accuracy"].values())))
        lines += [f"Clean accuracy (%) of each model on test images compressed at each quality (n={d['n']}; the "
                  "seed's Figure 6; 95% Wilson intervals in brackets):", "",
                  "| model | " + " | ".join(f"Q{c}" for c in cols) + " |",
                  "|" + "---|" * (len(cols) + 1),
                  *[f"| {m} | " + " | ".join(f"{v:.1f} ({ci_text(v, d['n'])})" for v in row.values()) + " |"
                    for m, row in d["accuracy"].items()],
                  "", f"![accuracy per JPEG quality](benchmarks/results/jpeg-quality-accuracy{suffix}.png)", ""]
    return lines


def implicit_snapshots() -> list[str]:
    """The epoch snapshots of the cpu-long implicit-representation run and of its warm restart, in training order;
    without the runs on disk (a fresh clone), those its committed evaluation names."""
    found = [f for run in (IMPLICIT_RUN, IMPLICIT_RESTART) for f in sorted((ROOT / run / "epochs").glob("epoch-*"))]
    if found:
        return [str(f.relative_to(ROOT)) for f in found]
    evaluated = RESULTS / "implicit_curve_eval.json"
    if evaluated.exists():
        return list(dict.fromkeys(r["defense"].removeprefix("disco:weights=")
                                  for r in json.loads(evaluated.read_text())["results"]))
    raise SystemExit(f"no snapshots in {IMPLICIT_RUN}/epochs: run the commands in "
                     "src/irad/models/weights/implicit_cifar10/training.json with --out " + IMPLICIT_RUN)


def diffpure_defenses(name: str, steps: tuple[int, ...]) -> list[str]:
    """``--defense NAME:t=T,checkpoint=true`` for each T in ``steps`` (``diffpure`` or ``diffpure-irad``)."""
    return [a for t in steps for a in ("--defense", f"{name}:t={t},checkpoint=true")]


DIFFPURE_DEFENSES = ["--defense", "none", *diffpure_defenses("diffpure", (20, 30, 40, 100)),
                     *diffpure_defenses("diffpure-irad", (20, 30, 40))]


def diffpure_pgd(attack: str, eot: int, n: int = 100, cache: str | None = None) -> list[str]:
    """A white-box PGD run of the diffpure section on its first ``n`` images (batches of 20 cached on disk, in
    ``cache`` or adv-diffpure-n<n>)."""
    return ["--attack", attack, "--eps", "8/255", "--eot-samples", str(eot), "--n", str(n), "--batch-size", "20",
            "--adv-cache", f"{WORK}/{cache or f'adv-diffpure-n{n}'}"]


def _diffpure_extra() -> list[str]:
    """The DDPM's denoising table and picture grid, and the audit of DiffPure at t* = 0.1, as far as they have run."""
    # the note's "IRAD + DiffPure ahead of DiffPure" under the adaptive attack, on the worst-of run's outcomes
    parts = tables.paired("diffpure-adaptive-worst10", [(f"diffpure-irad:t={t},checkpoint=true",
                                                         f"diffpure:t={t},checkpoint=true") for t in (30, 40)])
    if (RESULTS / "ddpm-denoising.json").exists():
        parts += [*tables.denoising(json.loads((RESULTS / "ddpm-denoising.json").read_text())), "",
                  "![DDPM purification grid: per t, rows clean / diffused to t / purified]"
                  "(benchmarks/results/ddpm-grid.png)", ""]
    if (RESULTS / "audit_diffpure.json").exists():
        parts += ["Gradient-masking audit of `diffpure:t=100` (`irad audit`, the first 20 images):", "",
                  *tables.audit(json.loads((RESULTS / "audit_diffpure.json").read_text())), ""]
    return parts


def _script(*args: str) -> list[str]:
    return [sys.executable, *args]


SECTIONS: list[EvalSection | ScriptSection] = [
    EvalSection(
        "table1", "Naive image resampling (IRAD paper Table 1 analogue)",
        "CIFAR-10 (JPEG-75) test, n=500 (stratified: first 50 per class), victim ResNet-56 (third-party weights from "
        "../shared/models), PGD-10 Linf eps 8/255 step 2/255, oblivious scenario.",
        lambda: [*VICTIM, "--defense", "none",
                 *[a for recon in ("bilinear", "nearest") for s in ("si", "sv")
                   for a in ("--defense", f"resample:recon={recon},sampler={s},shift=1.5")],
                 "--attack", "pgd", "--scenario", "oblivious", "--eps", "8/255", "--n", "500"]),
    EvalSection(
        "baselines", "Classic baselines (IRAD paper Table 2 rows), oblivious",
        "CIFAR-10 (JPEG-75) test, n=500, victim ResNet-56 (../shared/models), PGD-10 Linf 8/255, oblivious.",
        lambda: [*VICTIM, "--defense", "none", "--defense", "bit-depth:bits=4", "--defense", "jpeg:quality=75",
                 "--defense", "randomization", "--defense", "median:size=3",
                 "--attack", "pgd", "--scenario", "oblivious", "--eps", "8/255", "--n", "500"]),
    EvalSection(
        "scenarios", "One defense, three threat scenarios",
        "CIFAR-10 (JPEG-75) test, n=200, victim ResNet-56 (../shared/models), PGD-10 Linf 8/255; the bpda and "
        "adaptive rows use EOT over 10 draws for the randomized SV sampler.",
        lambda: [*VICTIM, "--defense", "none", "--defense", "resample:recon=bilinear,sampler=si,shift=1.5",
                 "--defense", "resample:recon=bilinear,sampler=sv,shift=1.5", "--defense", "jpeg:quality=75",
                 "--attack", "pgd", "--eps", "8/255", "--n", "200"],
        runs=SCENARIOS),
    EvalSection(
        "irad", "IRAD, DISCO and their ablations, oblivious (IRAD paper Tables 2, 7, 8, 15)",
        "CIFAR-10 (JPEG-75) test, n=1000 (stratified: the first 100 test images of each class), victim ResNet-56 "
        "(third-party weights from ../shared/models; the IRAD models were trained on pairs crafted on the package's "
        "ResNet-20, so source and victim differ), Linf eps 8/255, oblivious scenario: PGD-10 (step 2/255) and "
        "standard AutoAttack, crafted once on the victim and shared by every row. `irad` and `disco` are the "
        "package's built-in weights (cpu-long presets). The `disco:weights=benchmarks/work/implicit-<task>` rows are "
        "the Table-7 training tasks (PGD denoising, the built-in one's task, and four others), each trained with the "
        "small cpu preset on the same 5,000 pairs and queried DISCO-style at the pixel grid, so they compare with "
        "each other, not with the built-in rows. The ms/img column here was timed while other jobs shared the CPU; "
        "the clean timings are in 'Defense cost per image' below.",
        lambda: [*VICTIM, "--defense", "none",
                 "--defense", "resample:recon=bilinear,sampler=si,shift=1.5",
                 "--defense", "resample:recon=bilinear,sampler=sv,shift=1.5",
                 "--defense", "disco", "--defense", "irad",
                 "--defense", "implicit:sampler=si,shift=1.5", "--defense", "implicit:sampler=sv,shift=1.5",
                 "--defense", "irad:recon=bilinear", "--defense", "irad:recon=nearest",
                 *[a for t in TASKS for a in ("--defense", f"disco:weights={WORK}/implicit-{t}")],
                 *PGD_AND_AUTOATTACK_N1000],
        prepare=[["irad", "make-pairs", "--preset", "cpu", "--data-root", f"{SHARED}/data",
                  "--out", f"{WORK}/pairs-cpu"],
                 *[["irad", "train", "implicit", "--preset", "cpu", "--pairs", f"{WORK}/pairs-cpu", "--task", t,
                    "--out", f"{WORK}/implicit-{t}"] for t in TASKS]]),
    EvalSection(
        "irad-scenarios", "IRAD and DISCO under the three threat scenarios",
        "CIFAR-10 (JPEG-75) test, n=1000 (stratified), victim ResNet-56 (../shared/models), PGD-10 Linf 8/255 step "
        "2/255; the built-in irad and disco weights (cpu-long presets; commands in "
        "src/irad/models/weights/*/training.json). bpda: the defense's backward pass is the identity; adaptive: end "
        "to end through the defense's own gradient (both defenses are deterministic, so no EOT), on the first 200 of "
        "the images (20 per class; about 40 CPU minutes per defense on 2 cores). ms/img was timed with other jobs "
        "on the CPU (clean timings: 'Defense cost per image').",
        lambda: [*VICTIM, "--defense", "none", "--defense", "disco", "--defense", "irad",
                 "--attack", "pgd", "--eps", "8/255"],
        runs={"oblivious": [*SCENARIOS["oblivious"], "--n", "1000", "--adv-cache", f"{WORK}/adv-resnet56-n1000"],
              "bpda": [*SCENARIOS["bpda"], "--n", "1000"], "adaptive": [*SCENARIOS["adaptive"], "--n", "200"]}),
    EvalSection(
        "irad-samplers", "Sampling strategies over one implicit representation (IRAD paper Table 8), oblivious",
        "CIFAR-10 (JPEG-75) test, n=1000 (stratified: the first 100 test images of each class), victim ResNet-56 "
        "(third-party weights from ../shared/models), Linf eps 8/255, oblivious scenario: PGD-10 (step 2/255) and "
        "standard AutoAttack, crafted once on the victim and shared by every row. `disco` and the `implicit:...` rows "
        "are the built-in implicit representation (cpu-long preset: EDSR 6x48, MLP 192x3, 20 epochs over 50,000 "
        "PGD-20 pairs crafted on the package's ResNet-20, then a 16-epoch warm restart; commands in "
        "`src/irad/models/weights/implicit_cifar10/training.json`) queried at the pixel grid, with a fixed shift of d "
        "pixels (si) or a random one (sv). `irad` is SampleNet (cpu-long preset) over the same representation "
        "(`src/irad/models/weights/irad_cifar10/training.json`). The `precision=bf16` rows run the same two models "
        "under bf16 autocast.",
        lambda: [*VICTIM, "--defense", "none", "--defense", "disco",
                 *[a for d in ("0.5", "0.75", "1.5") for a in ("--defense", f"implicit:sampler=si,shift={d}")],
                 "--defense", "implicit:sampler=sv,shift=1.5", "--defense", "irad",
                 "--defense", "disco:precision=bf16", "--defense", "irad:precision=bf16", *PGD_AND_AUTOATTACK_N1000],
        # the note's claims: IRAD above the next-best strategies, bf16 within a point of fp32
        extra=lambda: tables.paired("irad-samplers", [("irad", "disco"), ("irad", "implicit:sampler=si,shift=0.75"),
                                                      ("irad", "implicit:sampler=si,shift=1.5"),
                                                      ("irad:precision=bf16", "irad"),
                                                      ("disco:precision=bf16", "disco")])),
    EvalSection(
        "deflection-search", "Pixel deflection: choosing K and r for 32x32 images on a validation slice",
        "CIFAR-10 (JPEG-75) test images 101-150 of each class (`--offset 1000 --n 500`: disjoint from the n=1000 "
        "evaluation images), victim ResNet-56 (../shared/models), PGD-10 Linf 8/255 step 2/255, oblivious; "
        "whole-pixel deflection without R-CAM, then BayesShrink (db1, YCbCr). The row with the highest Avg sets K and "
        "r for the pixel-deflection sections below (the paper's K=100, r=10 are for 224-299 px images; its Sec. 9.1 "
        "picks them on held-out images the same way).",
        lambda: [*VICTIM, *[a for k, r in DEFLECTION_GRID
                            for a in ("--defense", f"pixel-deflection:deflections={k},window={r}")],
                 "--attack", "pgd", "--scenario", "oblivious", "--eps", "8/255", "--n", "500", "--offset", "1000",
                 "--adv-cache", f"{WORK}/adv-resnet56-val500"]),
    EvalSection(
        "deflection", "Pixel deflection, oblivious (Prakash et al. 2018, Tables 2, 5, 6, 9)",
        "CIFAR-10 (JPEG-75) test, n=1000 (stratified), victim ResNet-56 (../shared/models), Linf eps 8/255, "
        "oblivious; FGSM, BIM-10, PGD-10, DeepFool and CW-L2 (minimal-norm attacks projected onto the eps-ball), "
        "standard AutoAttack. PD = pixel deflection with the K, r chosen above. Rows: no defense; PD + BayesShrink "
        "(single run, R-CAM guided, and the majority vote of 10 runs); the Table-5 ablation (JPEG, BayesShrink alone, "
        "deflection alone); Table-6 thresholding (VisuShrink, hard) after deflection (SUREShrink: no maintained "
        "library implements it); Table-9 denoisers after deflection. DR = destruction rate.",
        lambda: [*VICTIM, "--defense", "none", *[a for d in deflection_rows() for a in ("--defense", d)],
                 *[a for at in ("fgsm", "bim", "pgd", "deepfool", "cw", "autoattack") for a in ("--attack", at)],
                 "--scenario", "oblivious", "--eps", "8/255", "--n", "1000",
                 "--adv-cache", f"{WORK}/adv-resnet56-n1000"]),
    EvalSection(
        "deflection-scenarios", "Pixel deflection under the three threat scenarios",
        "CIFAR-10 (JPEG-75) test, n=200 (stratified), victim ResNet-56, PGD-10 Linf 8/255; PD with the chosen K and "
        "r, single run and Ens-10. bpda and adaptive attack the single-run transform with EOT over 10 draws (logits "
        "averaged); the Ens-10 row then predicts by majority vote.",
        lambda: [*VICTIM, "--defense", "none", "--defense", chosen_deflection(),
                 "--defense", f"ens-10({chosen_deflection()})", "--attack", "pgd", "--eps", "8/255", "--n", "200"],
        runs=SCENARIOS),
    EvalSection(
        "nn-jpeg", "NN-favoured JPEG: two-band table, noisy-trained ensemble (oblivious, BPDA, adaptive)",
        "CIFAR-10 (JPEG-75) test, n=1000 (stratified), victim Idelbayev's ResNet-20 from ../shared (the ensemble's "
        "M; its fine-tuned members stay in benchmarks/work). The two-band table is searched on test images 101-200 "
        "of each class (`--offset 1000`: disjoint), PGD-10 at 8/255, benign drop < 1 point. The ensemble {M, M90, "
        "M70, M50, M30} comes from the cpu preset of `irad train jpeg-ensemble` (one epoch on 10,000 images per "
        "quality, chained 90 -> 70 -> 50 -> 30). Oblivious: FGSM, BIM-10, DeepFool, CW-L2 (projected onto the ball); "
        "bpda: every compression is the identity in the backward pass; adaptive: through a soft-rounding JPEG "
        "(round(x) + (x - round(x))^3).",
        lambda: [*VICTIM20, "--defense", "none", "--defense", "jpeg:quality=75", "--defense", searched_jpeg(),
                 "--defense", f"jpeg-ensemble:weights={WORK}/jpeg-ensemble", "--n", "1000"],
        runs={f"{scenario}-{eps.split('/')[0]}": ["--scenario", scenario, "--eps", eps, *attacks]
              for eps in ("2/255", "4/255", "8/255")
              for scenario, attacks in (("oblivious", ["--attack", "fgsm", "--attack", "bim", "--attack", "deepfool",
                                                       "--attack", "cw", "--adv-cache",
                                                       f"{WORK}/adv-resnet20-n1000-{eps.split('/')[0]}"]),
                                        ("bpda", ["--attack", "pgd"]), ("adaptive", ["--attack", "pgd"]))},
        prepare=[
            ["irad", "jpeg-search", *VICTIM20, "--offset", "1000", "--n", "1000", "--n-adv", "200", "--attack", "pgd",
             "--eps", "8/255", "--out", "benchmarks/results/jpeg-search.json", "--plot",
             "benchmarks/results/jpeg-search.png"],
            ["irad", "train", "jpeg-ensemble", "--preset", "cpu", "--data-root", f"{SHARED}/data",
             "--weights", RESNET20, "--out", f"{WORK}/jpeg-ensemble"],
            ["irad", "analyze", "dct", *VICTIM20, "--n", "1000", "--attack", "pgd", "--eps", "8/255",
             "--out", "benchmarks/results/dct-analysis.json", "--plot", "benchmarks/results/dct-analysis.png"],
            *copy_quality_accuracy()],
        extra=jpeg_extra),
    EvalSection(
        "nn-jpeg-imagenet", "NN-favoured JPEG on ImageNet: two-band table, noisy-trained Lite0 ensemble (gray-, black- "
        "and white-box)",
        "ImageNet val subset, n=50 (class-balanced; DeepFool with 10 candidate classes crafted at 21 s/img on Lite2 "
        "at 260 px in the deflection section, 1 torch thread per process, the processes sharing the 2 cores), at "
        "224 px; M = EfficientNet-Lite0 (registry weights), the ensemble {M, M90, M70, M50, M30} its noisy "
        "fine-tunes on the 1,000 training-side images (`irad train jpeg-ensemble --preset imagenet`: random 224 px "
        "crops of a 256 px canvas, BatchNorm frozen, 2 epochs per quality, chained 90 -> 70 -> 50 -> 30; the members "
        "stay in benchmarks/work). The two-band table is searched on 300 training-side images (100 attacked, PGD-10 "
        "at 4/255), every k and every other QS_AF of the CIFAR grid (step 10: 195 tables, each 400 Lite0 forward "
        "passes in bf16 autocast). graybox: crafted on M (the victim here), FGSM at 2/4/8, and BIM-10, DeepFool, "
        "CW-L2 (projected onto the ball) at 4/255; blackbox: the same four crafted on EfficientNet-Lite2 at 224 px "
        "(`--source`) and scored behind each defense; bpda / adaptive: PGD-10 through the compression (identity "
        "backward / soft rounding), the seed's Table 3.",
        lambda: [*IMAGENET_ROOT, "--split", "val", "--classifier", "efficientnet-lite0", "--batch-size", "25",
                 "--attack-precision", "bf16", "--defense", "none", "--defense", "jpeg:quality=75",
                 "--defense", searched_jpeg("-imagenet"),
                 "--defense", IMAGENET_ENSEMBLE, "--n", "50"],
        runs={**{f"graybox-{e}": ["--scenario", "oblivious", "--eps", f"{e}/255", "--attack", "fgsm",
                                  *(["--attack", "bim", "--attack", "deepfool", "--attack", "cw"] if e == 4 else []),
                                  "--adv-cache", f"{WORK}/adv-lite0-jpeg-{e}"] for e in (2, 4, 8)},
              "blackbox-4": ["--scenario", "oblivious", "--eps", "4/255", "--source", "efficientnet-lite2",
                             *[a for at in ("fgsm", "bim", "deepfool", "cw") for a in ("--attack", at)],
                             "--adv-cache", f"{WORK}/adv-lite2to0-jpeg-4"],
              **{f"{sc}-4": ["--scenario", sc, "--eps", "4/255", "--attack", "pgd:steps=10,alpha=1/255"]
                 for sc in ("bpda", "adaptive")}},
        prepare=[
            ["irad", "jpeg-search", *IMAGENET_ROOT, "--split", "train", "--classifier", "efficientnet-lite0",
             "--n", "300", "--n-adv", "100", "--attack", "pgd:steps=10,alpha=1/255", "--eps", "4/255",
             "--qs-af-step", "10", "--precision", "bf16", "--out", "benchmarks/results/jpeg-search-imagenet.json",
             "--plot", "benchmarks/results/jpeg-search-imagenet.png"],
            ["irad", "train", "jpeg-ensemble", "--preset", "imagenet", "--data-root", f"{SHARED}/data",
             "--out", f"{WORK}/jpeg-ensemble-imagenet"],
            ["irad", "analyze", "dct", *IMAGENET_ROOT, "--split", "train", "--classifier", "efficientnet-lite0",
             "--n", "200", "--attack", "pgd:steps=10,alpha=1/255", "--eps", "4/255",
             "--out", "benchmarks/results/dct-analysis-imagenet.json",
             "--plot", "benchmarks/results/dct-analysis-imagenet.png"], *copy_quality_accuracy("-imagenet")],
        extra=_jpeg_imagenet_extra),
    EvalSection(
        "nn-jpeg-ablation", "NN-favoured JPEG ablation: codec, colour space, table (oblivious; the seed's Figure 5)",
        "The nn-jpeg section's images, victim and cached oblivious adversarial examples (FGSM, BIM-10, DeepFool, "
        "CW-L2). One change at a time: Pillow's JPEG-75; the same baseline JPEG in torch (YCbCr 4:2:0, Annex K "
        "tables at quality 75); the quality-75 luma table applied in RGB without subsampling; the two-band RGB tables "
        "the search picks under 2- and 10-point benign budgets.",
        lambda: [*VICTIM20, "--defense", "jpeg:quality=75",
                 "--defense", "dct-jpeg:table=standard,quality=75,colour=ycbcr",
                 "--defense", "dct-jpeg:table=standard,quality=75,colour=rgb", "--defense", "dct-jpeg:k=6,qs_af=31",
                 "--defense", "dct-jpeg:k=6,qs_af=76", "--scenario", "oblivious", "--attack", "fgsm", "--attack", "bim",
                 "--attack", "deepfool", "--attack", "cw", "--n", "1000"],
        runs={e: ["--eps", f"{e}/255", "--adv-cache", f"{WORK}/adv-resnet20-n1000-{e}"] for e in ("2", "4", "8")}),
    EvalSection(
        "jpeg-quality-probe", "JPEG defenses against longer white-box PGD (why JPEG-75 resists BPDA above)",
        "CIFAR-10 (JPEG-75) test, n=500 (stratified), victim Idelbayev's ResNet-20, Linf 4/255; PGD-10 and PGD-50 "
        "with step 0.5/255. Pillow JPEG at three qualities and the nn-jpeg section's ensemble. bpda: identity "
        "backward; adaptive: the gradient of baseline JPEG in torch at the same quality with soft rounding (for "
        "Pillow, the exact codec in the forward pass; for the ensemble, the soft JPEG in both).",
        lambda: [*VICTIM20, "--defense", "jpeg:quality=90", "--defense", "jpeg:quality=75", "--defense",
                 "jpeg:quality=70", "--defense", f"jpeg-ensemble:weights={WORK}/jpeg-ensemble", "--attack", "pgd",
                 "--attack", "pgd:steps=50,alpha=0.5/255", "--eps", "4/255", "--n", "500"],
        runs={s: SCENARIOS[s] for s in ("bpda", "adaptive")}),
    EvalSection(
        "diffpure", "DiffPure and IRAD + DiffPure (IRAD paper Table 5)",
        "CIFAR-10 (JPEG-75) test, victim ResNet-56 (../shared/models), Linf 8/255, 2-core CPU. DDPM: the package's "
        "built-in low-noise model (`irad train ddpm --preset cpu-lownoise`: 2.4M-parameter UNet trained on steps "
        "t < 120 of the 1000-step linear schedule; its command and CPU hours in "
        "src/irad/models/weights/ddpm_cifar10/training.json). DiffPure at t steps (t* = t/1000) diffuses in closed "
        "form and runs t ancestral DDPM reverse steps; IRAD + DiffPure then applies `irad` (built-in weights). "
        "Oblivious: PGD-10 and standard AutoAttack crafted on the bare victim (the n=1000 cache shared with the "
        "IRAD sections). BPDA: PGD-10 with the identity as the purifier's gradient, EOT over 4 draws, the first 100 "
        "images (10 per class). Adaptive: PGD-10 end to end through every reverse step (gradient checkpointing), "
        "EOT over 4 draws, the same 100 images (batches of 20, each cached on disk when it finishes, so an attack "
        "resumes where it stopped). adaptive-worst10: the adaptive run's examples, read from its cache, each purified "
        "10 times with fresh noise and counted robust only if all 10 are right (RA worst-of-10, DiffHammer's "
        "criterion); its RA column is the first of those draws, the adaptive table's draw. bpda-worst10: the same "
        "judgement for DiffPure at t* = 0.1 and IRAD + DiffPure at t* = 0.03 under BPDA, crafted again on the first "
        "20 images. The gradient-masking "
        "audit of DiffPure at t* = 0.1 is below the tables. ms/img "
        "and attack s/img were timed at 1 torch thread while other jobs shared the 2 cores (at least a second "
        "benchmark process); the clean timings (2 threads, batch 1 and 128) are in 'Defense cost per image'.",
        lambda: VICTIM,
        runs={"oblivious": [*DIFFPURE_DEFENSES, *PGD_AND_AUTOATTACK_N1000],
              **{s: [*DIFFPURE_DEFENSES, *SCENARIOS[s], *diffpure_pgd("pgd", 4)] for s in ("bpda", "adaptive")},
              # the stronger attack where the cost allows (~5x PGD-10 with EOT 4: the first 20 images): IRAD + DiffPure
              # at t* = 0.02, the paper's headline row (DiffPure there already has RA 0 under PGD-10 with EOT 4)
              "adaptive-pgd20-eot10": [*diffpure_defenses("diffpure-irad", (20,)), *SCENARIOS["adaptive"],
                                       *diffpure_pgd("pgd:steps=20", 10, n=20)],
              # DiffHammer's criterion on the adaptive run's cached examples: right on all of 10 fresh purifications
              # (DiffPure at t = 20 is left out: RA 0 on one draw already, so 0 on ten)
              "adaptive-worst10": [*diffpure_defenses("diffpure", (30, 40, 100)),
                                   *diffpure_defenses("diffpure-irad", (20, 30, 40)), *SCENARIOS["adaptive"],
                                   *diffpure_pgd("pgd", 4), "--worst-of", "10"],
              # the same under BPDA for the two headline rows, on the first 20 images (the n=100 BPDA examples
              # were not kept; crafting them again costs about 45 s per image at t = 100)
              "bpda-worst10": [*diffpure_defenses("diffpure", (100,)), *diffpure_defenses("diffpure-irad", (30,)),
                               *SCENARIOS["bpda"], *diffpure_pgd("pgd", 4, n=20, cache="adv-diffpure-bpda-n20"),
                               "--worst-of", "10"]},
        prepare=[["irad", "analyze", "ddpm", "--weights", "builtin", "--data-root", f"{SHARED}/data", "--n", "100",
                  "--offset", "1000", "--out", "benchmarks/results/ddpm-denoising.json",
                  "--grid", "benchmarks/results/ddpm-grid.png"],
                 # Square at 100 queries, not the preset's 300: each query purifies 4 times (EOT) through 100
                 # reverse steps (100 queries took 19 and 48 min for the two batches of 10 at 1 thread)
                 ["irad", "audit", *VICTIM, "--defense", "diffpure:t=100,checkpoint=true", "--preset", "cpu",
                  "--square-queries", "100", "--n", "20", "--batch-size", "10", "--adv-cache",
                  f"{WORK}/audit-diffpure", "--no-progress", "--out", "benchmarks/results/audit_diffpure.json"]],
        requires=lambda: None if (ROOT / "src/irad/models/weights/ddpm_cifar10/unet").is_dir() else (
            "pending weights: the built-in DDPM is not packaged yet (`irad train ddpm --preset cpu-lownoise`, then "
            "`python scripts/package_weights.py ddpm RUN`)."),
        extra=_diffpure_extra),
    EvalSection(
        "robustness-curve", "Robust accuracy against the budget (Carlini et al. 2019)",
        "CIFAR-10 (JPEG-75) test, victim ResNet-56 (../shared/models), PGD-10 (step 2/255) at Linf eps 1, 2, 4, 8 "
        "and 16 /255, one row per budget. oblivious: n=500 (stratified), the classic baselines, the built-in DISCO "
        "and IRAD, DiffPure at t* = 0.1 and IRAD + DiffPure at t* = 0.03 (one draw each); adaptive: end to end "
        "through the deterministic DISCO and IRAD, first 100 images. Bands in the figures: 95% Wilson intervals.",
        lambda: [*VICTIM, "--attack", "pgd", "--eps", CURVE_EPS],
        runs={"oblivious": [*_defenses(CURVE_DEFENSES), *SCENARIOS["oblivious"], "--n", "500",
                            "--adv-cache", f"{WORK}/adv-resnet56-curve", "--plot",
                            "benchmarks/results/robustness-curve-oblivious.png"],
              "adaptive": [*_defenses(["none", "disco", "irad"]), *SCENARIOS["adaptive"], "--n", "100",
                           "--plot", "benchmarks/results/robustness-curve-adaptive.png"]},
        extra=_curve_extra),
    EvalSection(
        "imagenet", "The ImageNet column: IRAD, DISCO and the baselines on EfficientNet-Lite (IRAD paper Tables 2, 3, "
        "6, 8)",
        "ImageNet val subset (1,300 real ILSVRC2012 validation images in 725 classes, pre-scaled to 227 px by their "
        "publisher, in ../shared/data/imagenet/val), resized (shorter side 292, bicubic) and centre-cropped to 260 px; "
        "every n is a class-balanced subset (`--n`: one image of each of the first n classes while n <= 725). n per "
        "run is sized from measured cost on the 2-core CPU (260 px, batch 10, bf16): Lite2 forward + backward "
        "0.095 s/img, so standard AutoAttack (APGD-CE, 100 steps, breaks the bare victim) crafts at about 10 s/img; "
        "the eleven oblivious rows together cost about 2.5 s/img per pass (IRAD 0.48, DISCO 0.35 s/img forward); "
        "one adaptive PGD step through IRAD + Lite2 costs 2.4 s/img. Victim EfficientNet-Lite2 (registry-package "
        "weights); the ImageNet IRAD/DISCO weights were trained on pairs and cross-entropy from Lite0, never a "
        "victim. Linf eps 4/255. oblivious (n=200): PGD-10 (step 1/255) and standard AutoAttack crafted once on "
        "the bare victim and shared by every row. `weights=imagenet` rows are the ImageNet built-ins, the rows "
        "without it the CIFAR-10 built-ins applied unchanged (the paper's cross-dataset Table 6); the implicit "
        "defenses run in bf16 autocast (within 2e-2 of fp32 per pixel). bpda (n=100): PGD-10 through the defense "
        "with an identity backward; adaptive (n=20, batch 10: 50 images at once through the implicit network's "
        "backward pass at 260 px ran out of 24 GB): PGD-10 end to end through the defense (both defenses "
        "deterministic: no EOT; about 48 s/img for the two). lite1 (n=100; AutoAttack on Lite1 at 240 px crafts at "
        "about 6 s/img): the same defenses in front of a second victim, EfficientNet-Lite1 at 240 px, oblivious "
        "PGD-10 and AutoAttack. Every attack is crafted under bf16 autocast "
        "(`--attack-precision bf16`, scored in fp32); check-fp32 / check-bf16 (n=50): the same oblivious PGD-10 "
        "crafted in each precision.",
        lambda: IMAGENET,
        runs={"oblivious": ["--classifier", "efficientnet-lite2", *_defenses(IMAGENET_OBLIVIOUS), "--attack",
                            "autoattack", "--scenario", "oblivious", "--n", "200",
                            "--adv-cache", f"{WORK}/adv-lite2-n200"],
              "bpda": ["--classifier", "efficientnet-lite2", *_defenses(["none", *IMAGENET_IMPLICIT]),
                       "--scenario", "bpda", "--n", "100"],
              **{f"check-{p}": ["--classifier", "efficientnet-lite2", *_defenses(["none", *IMAGENET_IMPLICIT]),
                                "--scenario", "oblivious", "--n", "50", "--attack-precision", p]
                 for p in ("fp32", "bf16")},
              "adaptive": ["--classifier", "efficientnet-lite2", *_defenses(["none", *IMAGENET_IMPLICIT]),
                           "--scenario", "adaptive", "--n", "20", "--batch-size", "10"],
              "lite1": ["--classifier", "efficientnet-lite1", *_defenses(["none", *IMAGENET_IMPLICIT]), "--attack",
                        "autoattack", "--scenario", "oblivious", "--n", "100",
                        "--adv-cache", f"{WORK}/adv-lite1-n100"]},
        extra=lambda: tables.paired("imagenet-oblivious", IMAGENET_PAIRS)),
    EvalSection(
        "deflection-imagenet",
        "Pixel deflection on ImageNet, the paper's setting (Prakash et al. 2018, Tables 2, 5, 6)",
        "ImageNet val subset at 260 px as in the ImageNet column, victim EfficientNet-Lite2; the paper's K=100 "
        "deflections in a window r=10, then BayesShrink (db1, YCbCr, soft) with the paper's sigma=0.04; single run, "
        "R-CAM guided (the victim's top-5 activation maps) and Ens-10 (majority of 10 runs). Oblivious (n=200): "
        "FGSM, I-FGSM (BIM-10), DeepFool (10 candidate classes) and CW-L2 (50 steps), the minimal-norm two "
        "projected onto the Linf 4/255 ball; mean |L2| rel = ||x_adv - x||_2 / ||x||_2 per attack, the paper's |L2| "
        "column; Rec = the paper's metric, the share of the images the bare victim classifies right that stay right "
        "under attack with the defense. Table 5: JPEG-75, BayesShrink alone, deflection alone; Table 6: VisuShrink "
        "and hard thresholding after deflection; then TV, bilateral and NL-means after deflection. JSMA: "
        "torchattacks' JSMA needs the Jacobian of 1000 classes over 260x260x3 inputs per step (not feasible here); "
        "L-BFGS: not in torchattacks. bpda / adaptive (n=20, batches of 5 tiled 10 times for EOT: 100 forward and "
        "backward passes of Lite2 per image): PGD-10 Linf 4/255 against the single-run transform with EOT over 10 "
        "draws (identity backward / through the transform). Run at 1 torch thread per process, two or three "
        "benchmark processes sharing the 2 cores: ms/img and attack s/img are not comparable with the other "
        "sections.",
        lambda: [*IMAGENET_DATA, "--classifier", "efficientnet-lite2", "--batch-size", "25",
                 "--attack-precision", "bf16"],
        runs={"oblivious": [*_defenses(["none", *deflection_rows(IMAGENET_PD, "wavelet:sigma=0.04")]),
                            *[a for at in ("fgsm", "bim", "deepfool", "cw") for a in ("--attack", at)],
                            "--scenario", "oblivious", "--n", "200", "--adv-cache", f"{WORK}/adv-lite2-deflection"],
              **{s: [*_defenses(["none", f"{IMAGENET_PD},denoiser=wavelet:sigma=0.04"]),
                     "--attack", "pgd:steps=10,alpha=1/255", "--scenario", s, "--n", "20", "--batch-size", "5"]
                 for s in ("bpda", "adaptive")}}),
    ScriptSection("first-hour", "A new user's first commands, timed",
                  lambda: [_script("benchmarks/first_hour.py")], first_hour.render, "first_hour"),
    ScriptSection("cost", "Defense cost per image", lambda: [_script("benchmarks/defense_cost.py")],
                  defense_cost.render, "cost"),
    ScriptSection("cost-imagenet", "Defense cost per image at 224 px (ImageNet)",
                  lambda: [_script("benchmarks/defense_cost.py", "--imagenet", "224")],
                  defense_cost.render, "cost-imagenet224"),
    ScriptSection(
        "training-speed", "IRAD training throughput: fp32 vs bf16 autocast + channels_last",
        lambda: [["irad", "make-pairs", "--preset", "cpu-long", "--data-root", f"{SHARED}/data",
                  "--out", f"{WORK}/pairs-long"],
                 _script("benchmarks/training_speed.py", "--pairs", f"{WORK}/pairs-long")],
        training_speed.render, "training_speed"),
    ScriptSection(
        "irad-offsets", "What SampleNet does: its shifts on clean vs adversarial images",
        lambda: [["irad", "analyze", "offsets", *VICTIM, "--n", "1000", "--attack", "pgd", "--defense", "irad",
                  "--out", "benchmarks/results/irad_offsets.json", "--plot", "benchmarks/results/irad_offsets.png"]],
        tables.offsets, "irad_offsets"),
    ScriptSection(
        "irad-offsets-imagenet", "What SampleNet does on ImageNet: its shifts at 260 px",
        lambda: [["irad", "analyze", "offsets", *IMAGENET_ROOT, "--split", "val", "--classifier", "efficientnet-lite2",
                  "--eps", "4/255", "--attack", "pgd:steps=10,alpha=1/255", "--n", "50", "--batch-size", "25",
                  "--defense", "irad:weights=imagenet", "--out", "benchmarks/results/irad_offsets_imagenet.json",
                  "--plot", "benchmarks/results/irad_offsets_imagenet.png"]],
        tables.offsets, "irad_offsets_imagenet"),
    ScriptSection(
        "implicit-curve", "Learning curve of the built-in implicit representation (cpu-long preset)",
        lambda: [["irad", "eval", *VICTIM,
                  *[a for e in implicit_snapshots() for a in ("--defense", f"disco:weights={e}")],
                  "--attack", "pgd", "--scenario", "oblivious", "--eps", "8/255", "--n", "500",
                  "--adv-cache", f"{WORK}/adv-resnet56-n500", "--out", "benchmarks/results/implicit_curve_eval.json"],
                 _script("benchmarks/learning_curve.py", "--metrics", f"{IMPLICIT_RUN}/metrics.json",
                         f"{IMPLICIT_RESTART}/metrics.json",
                         "--eval", "benchmarks/results/implicit_curve_eval.json",
                         "--out", "benchmarks/results/implicit_curve.json",
                         "--plot", "benchmarks/results/implicit_curve.png")],
        learning_curve.render, "implicit_curve"),
    ScriptSection("irad-speed", "IRAD purification speed vs the released forward pass",
                  lambda: [_script("benchmarks/irad_speed.py")], irad_speed.render, "irad_speed"),
    ScriptSection("deflection-speed", "Pixel deflection + BayesShrink speed vs the reference algorithm",
                  lambda: [_script("benchmarks/deflection_speed.py")], deflection_speed.render, "deflection_speed"),
    ScriptSection(
        "aliasing", "Aliasing of the downsampling layers (Grabinski et al.)",
        lambda: [["irad", "train", "classifier", "--preset", "cpu-adversarial", "--data-root", f"{SHARED}/data",
                  "--out", f"{WORK}/resnet20-pgd"],
                 ["irad", "aliasing", "--dataset", "cifar10", "--data-root", f"{SHARED}/data", "--n", "256",
                  "--compare", *ALIASING_MODELS, "--measure-ra", "--plot", "benchmarks/results/aliasing.png",
                  "--out", "benchmarks/results/aliasing.json"]],
        tables.aliasing, "aliasing"),
    ScriptSection(
        "aliasing-imagenet", "Aliasing of EfficientNet-Lite's downsampling layers (ImageNet)",
        lambda: [["irad", "train", "classifier", "--preset", "imagenet-adversarial", "--data-root", f"{SHARED}/data",
                  "--out", f"{WORK}/lite0-pgd1"],
                 ["irad", "aliasing", *IMAGENET_ROOT, "--split", "val", "--eps", "1/255", "--classifier",
                  "efficientnet-lite0", "--n", "128", "--compare",
                  *[f"efficientnet-lite{k}:imagenet" for k in range(3)],
                  f"efficientnet-lite0:{WORK}/lite0-pgd1/model.safetensors", "--measure-ra",
                  "--plot", "benchmarks/results/aliasing-imagenet.png",
                  "--out", "benchmarks/results/aliasing-imagenet.json"]],
        tables.aliasing, "aliasing-imagenet"),
    ScriptSection(
        "audit", "Gradient-masking audit, Linf 8/255 (`irad audit`, cpu preset)",
        lambda: [["irad", "audit", *VICTIM, "--defense", "none", "--defense", "bit-depth:bits=4",
                  "--defense", chosen_deflection(), "--defense", "irad", "--defense", "disco", "--preset", "cpu",
                  "--no-progress", "--out", "benchmarks/results/audit.json"]],
        tables.audit, "audit"),
    ScriptSection(
        "audit-eps4", "Gradient-masking audit, Linf 4/255 (`irad audit`, cpu preset)",
        lambda: [["irad", "audit", *VICTIM, "--defense", chosen_deflection(), "--eps", "4/255", "--preset", "cpu",
                  "--no-progress", "--out", "benchmarks/results/audit_eps4.json"]],
        tables.audit, "audit_eps4"),
    ScriptSection(
        "audit-binarization", "The binarization test on a known case (`irad audit`, cpu preset, Linf 8/255)",
        lambda: [["irad", "audit", *VICTIM, "--defense", "none", "--defense", "bit-depth:bits=4", "--preset", "cpu",
                  "--no-progress", "--out", "benchmarks/results/audit_binarization.json"]],
        tables.audit, "audit_binarization"),
]

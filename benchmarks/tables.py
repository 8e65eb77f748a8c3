"""Tables of the sections whose JSON an `irad` command writes (not a benchmark script): each ``render(d)`` gives the
section's description and table from that JSON."""

from __future__ import annotations

from report import RESULTS, ci_text, machine, table

from irad.auditing import PRESETS
from irad.errors import IradError
from irad.evaluation.paired import compare_defenses
from irad.evaluation.results import eps_text, load_results, result_rows

SHARED_MODELS = "../shared/models/cifar10-resnet-idelbayev/"


IMAGES = {"cifar10": "CIFAR-10 (JPEG-75) test images", "imagenet": "ImageNet val subset images"}


def offsets(d: dict) -> list[str]:
    """`irad analyze offsets`: SampleNet's shifts on clean and adversarial images."""
    o = d["offsets"]
    attack = "PGD-10" if d["attack"] == "pgd" else d["attack"]
    return [f"`irad analyze offsets`: SampleNet's per-pixel shift (pixels) of `{d['defense']}` on the first "
            f"{d['n']} {IMAGES.get(d['dataset'], d['dataset'])} (stratified) and on {attack} Linf "
            f"{round(d['eps'] * 255)}/255 adversarial examples crafted on the victim {d['classifier']} (oblivious). "
            "Spread: std over images of each image's mean |offset|; within: mean over images of the std of |offset| "
            f"over its pixels. Adversarial / clean mean |offset|: {d['adversarial_over_clean']:.3f}. "
            f"Machine: {machine(d['environment'])}.", "",
            *table(["images", "mean |offset| px", "spread over images", "within an image", "mean (dy, dx) px"],
                   [[k, f"{o[k]['mean_abs_px']:.3f}", f"{o[k]['spread_px']:.3f}", f"{o[k]['pixel_std_px']:.3f}",
                     "({:+.3f}, {:+.3f})".format(*o[k]["mean_px"])] for k in o])]


def aliasing(d: dict) -> list[str]:
    """`irad aliasing --compare`: the aliasing metric per downsampling layer and model (a column per layer when
    every model has the same downsampling layers, else a row per model and layer)."""
    data = d["data"]
    images = ("CIFAR-10 (JPEG-75) test" if data["dataset"] == "cifar10" else
              f"{data['dataset']} {data['split']} images at the first model's input size")
    names = [[la["name"] for la in m["layers"]] for m in d["models"]]
    head = [f"Aliasing metric (Eq. 7: mean over feature maps and images of the L1 distance between the strided map's "
            f"spectrum and the alias-free one) on {images}, n={data['n']} (stratified). RA: "
            f"{data['robust_accuracy']}. Layer names without the `net.` prefix. Machine: {machine(d['environment'])}.",
            ""]

    def ra(m: dict) -> list[str]:
        return [f"{m['robust_accuracy']:.1f}", ci_text(m["robust_accuracy"], data["n"])]

    def model(m: dict) -> str:
        return m["model"].replace(SHARED_MODELS, "shared/")

    if all(n == names[0] for n in names):
        layers = d["models"][0]["layers"]
        return [*head, *table(["model", "RA", "RA 95% CI", *[f"AM {la['name'].removeprefix('net.')} "
                                                             f"({'x'.join(map(str, la['input_size']))})"
                                                             for la in layers]],
                              [[model(m), *ra(m), *[f"{la['am']:.3f}" for la in m["layers"]]] for m in d["models"]])]
    return [*head, *table(["model", "RA", "RA 95% CI", "layer", "kind", "input", "AM"],
                          [[model(m), *ra(m), la["name"].removeprefix("net."), la["kind"],
                            "x".join(map(str, la["input_size"])), f"{la['am']:.3f}"]
                           for m in d["models"] for la in m["layers"]])]


def _evidence(report: dict, check: str) -> dict:
    return next(c["evidence"] for c in report["checks"] if c["name"] == check)


def _binarization(report: dict) -> str:
    """The binarization test's attack success among valid readouts, bpda / adaptive (files from before the check
    have none)."""
    ev = next((c["evidence"] for c in report["checks"] if c["name"] == "binarization"), None)
    if ev is None:
        return "-"
    return " / ".join("-" if ev[s]["attack_success_rate"] is None else
                      f"{100 * ev[s]['attack_success_rate']:.0f} ({ev[s]['valid_readouts']})"
                      for s in ("bpda", "adaptive"))


def audit(d: dict) -> list[str]:
    """`irad audit`: each defense's checks, its RA per scenario, and the advice of failed checks."""
    rows = [[r["defense"], r["status"], *[c["status"] for c in r["checks"]],
             " / ".join(f"{v:.1f} ({ci_text(v, d['config']['n'])})"
                        for v in _evidence(r, "scenario-ordering")["ra"].values()),
             f"{_evidence(r, 'blackbox-and-transfer')['square_ra']:.1f}",
             f"{list(_evidence(r, 'attack-monotonicity')['ra_by_eps'].values())[-1]:.1f}", _binarization(r)]
            for r in d["defenses"]]
    advice = [f"- {r['defense']}, {c['name']}: {c['advice']}"
              for r in d["defenses"] for c in r["checks"] if c["advice"]]
    preset_queries = PRESETS["cpu"]["square_queries"]
    queries = d["config"].get("square_queries", preset_queries)  # absent in files from before --square-queries
    square = f"Square {queries} queries" + (f" (`--square-queries`; the preset: {preset_queries})"
                                            if queries != preset_queries else "")
    return [f"CIFAR-10 (JPEG-75) test, n={d['config']['n']} (stratified), victim ResNet-56 (../shared/models). cpu "
            "preset: PGD 10 / 30 steps, APGD 1 / 3 restarts, EOT 1 / 4 (EOT 4 in the white-box measurements of "
            f"randomized defenses), {square}, no AutoAttack. RA columns: PGD-10 per scenario; white box = "
            f"the stronger of bpda and adaptive. Machine: {machine(d['environment'])}.", "",
            *table(["defense", "overall", *[c["name"] for c in d["defenses"][0]["checks"]],
                    "RA oblivious / bpda / adaptive (95% CI)", "RA Square", "RA at eps 64/255",
                    "binarization: attack success % bpda / adaptive (valid readouts)"], rows), "", *advice]


def denoising(d: dict) -> list[str]:
    """`irad analyze ddpm`: PSNR against the clean image per DDPM step t of the noisy input, the one-call x0
    prediction and the DiffPure output."""
    return [f"The DDPM as a denoiser (`irad analyze ddpm`): mean PSNR (dB) against the clean image over n={d['n']} "
            f"CIFAR-10 (JPEG-75) test images (stratified, from offset {d['offset']}: none of the evaluated ones), "
            "for the input diffused to step t (rescaled by 1/sqrt(abar_t)), the UNet's x0 prediction from it in one "
            f"call, and the purified image after t reverse steps. Machine: {machine(d['environment'])}.", "",
            *table(["t (t* = t/1000)", "noisy input", "x0 prediction (1 UNet call)", "purified (t reverse steps)"],
                   [[str(r["t"]), f"{r['psnr_noisy']:.2f}", f"{r['psnr_x0_prediction']:.2f}",
                     f"{r['psnr_purified']:.2f}"] for r in d["rows"]])]


def paired(stem: str, pairs: list[tuple[str, str]]) -> list[str]:
    """Paired comparisons (`irad compare`) of defense pairs in ``benchmarks/results/<stem>.json``, every attack both
    have; nothing while the file or a pair's rows are missing (a section still running)."""
    path = RESULTS / f"{stem}.json"
    if not path.exists():
        return []
    rows = result_rows(load_results(path), str(path))
    found = []
    for a, b in pairs:
        try:
            found += [p for p in compare_defenses(rows, a, b) if p.comparison is not None]
        except IradError:
            continue
    # a curve file has a row per budget: show the budget; SA (one clean pass per defense for every attack and
    # budget of a run) once per pair
    budgets = len({p.a.eps for p in found}) > 1
    shown, seen_sa = [], set()
    for p in found:
        key = (p.a.defense, p.b.defense)
        both_zero = p.rates[0] == p.rates[1] == 0
        if (p.metric != "SA" or key not in seen_sa) and not both_zero:  # 0 against 0: nothing to test
            shown.append(p)
        if p.metric == "SA":
            seen_sa.add(key)
    found = shown
    if not found:
        return []
    first = found[0].a
    return [f"Paired comparisons on the same {first.n} images (`irad compare benchmarks/results/{stem}.json A B`): "
            "difference A - B in points with its 95% Agresti-Min interval, McNemar's exact p-value, and the discordant "
            "images (right under A only / under B only); pairs where both are 0 are left out. The exact test "
            "decides whether A and B differ (p < 0.05); the interval, an approximation, says by how much, and near "
            "p = 0.05 it can exclude 0 where the test does not.", "",
            *table(["A", "B", "attack", *(["eps"] if budgets else []), "", "A %", "B %", "A - B [95% CI]", "p",
                    "A only / B only"],
                   [[f"`{p.a.defense}`", f"`{p.b.defense}`", p.a.attack,
                     *([eps_text(p.a.eps, p.a.norm)] if budgets else []), p.metric,
                     f"{p.rates[0]:.1f}", f"{p.rates[1]:.1f}",
                     f"{p.comparison.difference:+.1f} [{p.comparison.interval[0]:+.1f}, "
                     f"{p.comparison.interval[1]:+.1f}]", f"{p.comparison.p_value:.2g}",
                     f"{p.comparison.a_only} / {p.comparison.b_only}"] for p in found]), ""]

"""The benchmark notes quote results only through placeholders: the lookup rules, and every shipped note resolves."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import report  # noqa: E402


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    report._load.cache_clear()
    rows = [{"defense": d, "attack": a, "sa": 80.25, "ra": r} for d, a, r in
            (("irad", "pgd", 60.0), ("irad", "autoattack", 55.55), ("implicit:sampler=si,shift=0.75", "pgd", 1.0))]
    (tmp_path / "table.json").write_text(json.dumps({"results": rows}))
    curve = [{"defense": "irad", "attack": "pgd", "eps": e / 255, "ra": 90.0 - 10 * e} for e in (1, 2, 4)]
    (tmp_path / "curve.json").write_text(json.dumps({"results": curve}))
    (tmp_path / "speed.json").write_text(json.dumps({"rows": [{"side": 32, "x": {"a": 1.23456}}, {"side": 224, "x": 7}],
                                                     "ratio": 1.5}))
    yield tmp_path
    report._load.cache_clear()


def test_eval_rows_are_picked_by_defense_and_attack(results):
    assert report.fill("RA {{table | irad | autoattack | ra}}%") == "RA 55.5%"  # floats: one decimal by default
    assert report.fill("{{ table | irad |\n pgd | sa:.2f }}") == "80.25"  # spaces and line breaks are ignored
    assert report.fill("{{table | implicit:sampler=si,shift=0.75 | pgd | ra:.0f}}") == "1"


def test_curve_rows_are_picked_by_their_budget_too(results):
    assert report.fill("{{curve | irad | pgd | eps=2/255 | ra:.0f}} {{curve | irad | pgd | eps=0.01568627 | ra}}") == (
        "70 50.0")  # a fraction or a decimal close to the stored float
    with pytest.raises(SystemExit, match="3 elements match"):  # the budget left out: ambiguous
        report.fill("{{curve | irad | pgd | ra}}", "note.md")
    with pytest.raises(SystemExit, match="0 elements match"):
        report.fill("{{curve | irad | pgd | eps=8/255 | ra}}", "note.md")


def test_other_files_are_walked_by_keys_indices_and_filters(results):
    assert report.fill("{{speed | rows | side=32 | x | a:.3f}}") == "1.235"
    assert report.fill("{{speed | rows | -1 | x}} and {{speed | ratio}}") == "7 and 1.5"


@pytest.mark.parametrize("text", ["{{table | irad | cw | ra}}", "{{table | irad | ra}}",
                                  "{{speed | rows | side=1 | x}}", "{{speed | missing}}", "{{nofile | a}}"])
def test_unresolvable_placeholders_are_errors_naming_them(results, text):
    with pytest.raises(SystemExit, match="cannot fill"):
        report.fill(text, "note.md")


def test_every_shipped_note_resolves_against_the_committed_results():
    notes = sorted((BENCHMARKS / "notes").glob("*.md"))
    assert notes
    for path in notes:
        text = report.note(path.stem)[0]
        assert "{{" not in text and "}}" not in text, path.name


def test_benchmarks_md_renders_without_the_local_training_runs(monkeypatch):
    """A fresh clone has no benchmarks/work: the learning-curve section's command then names the snapshots its
    committed evaluation used, instead of the render failing."""
    import run
    import sections

    monkeypatch.setattr(sections, "IMPLICIT_RUN", "benchmarks/work/absent-run")
    monkeypatch.setattr(sections, "IMPLICIT_RESTART", "benchmarks/work/absent-restart")
    text = run.render()
    evaluated = json.loads((BENCHMARKS / "results" / "implicit_curve_eval.json").read_text())["results"]
    curve = text.split("## Learning curve", 1)[1].split("\n## ", 1)[0]
    assert len(evaluated) > 1
    assert all(f"--defense '{r['defense']}'" in curve or f"--defense {r['defense']}" in curve for r in evaluated)


def test_aliasing_table_has_a_row_per_layer_when_the_models_downsample_differently():
    import tables

    def model(name: str, layers: list[str]) -> dict:
        return {"model": name, "robust_accuracy": 10.0,
                "layers": [{"name": n, "kind": "conv", "input_size": [8, 8], "am": 0.5} for n in layers]}

    data = {"dataset": "imagenet", "split": "val", "n": 4, "robust_accuracy": "PGD-10"}
    env = {"processor": "x86_64", "cpu_count": 2, "torch_threads": 2, "device": "cpu", "torch": "2"}
    same = tables.aliasing({"models": [model("a", ["s", "t"]), model("b", ["s", "t"])], "data": data,
                            "environment": env})
    differ = tables.aliasing({"models": [model("a", ["s", "t"]), model("b", ["s", "t", "u"])], "data": data,
                              "environment": env})
    rows = lambda lines: [l for l in lines if l.startswith("| ") and not l.startswith("| model")]  # noqa: E731
    assert len(rows(same)) == 2 and "AM s (8x8)" in " ".join(same)
    assert len(rows(differ)) == 5 and "imagenet val" in differ[0]


def test_paired_table_tests_each_pair_on_the_same_images(tmp_path, monkeypatch):
    """The section's paired table: A - B and McNemar's p from per-image outcomes; pairs without rows are left out."""
    import tables

    from irad.evaluation.results import ResultRow, write_results

    def row(defense: str, adv: str) -> ResultRow:
        return ResultRow(defense, "pgd", "oblivious", "Linf", 4 / 255, 20, 100.0, 100 * adv.count("1") / 20, 0.0, 1.0,
                         clean_correct="1" * 20, adv_correct=adv)

    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    assert tables.paired("absent", [("a", "b")]) == []
    write_results(tmp_path / "r.json", {}, {}, [row("a", "1" * 15 + "0" * 5), row("b", "1" * 5 + "0" * 15)])
    text = "\n".join(tables.paired("r", [("a", "b"), ("a", "zzz")]))
    assert "| `a` | `b` | pgd | RA | 75.0 | 25.0 | +50.0 [" in text  # a alone right on 10 images, b alone on 0
    assert "| 0.002 | 10 / 0 |" in text  # McNemar: 2 * 0.5**10
    assert "| SA | 100.0 | 100.0 | +0.0 [" in text and "zzz" not in text


def test_paired_tables_of_a_curve_name_the_budget_and_show_sa_once(tmp_path, monkeypatch):
    import tables
    from irad.evaluation.results import ResultRow, write_results

    def row(defense, eps, adv):
        clean = "1" * 16 + "0" * 4
        return ResultRow(defense, "pgd", "oblivious", "Linf", eps, 20, 80.0, 5.0 * adv.count("1"), 0.0, 1.0,
                         clean_correct=clean, adv_correct=adv)

    rows = [row("a", e, "1" * k + "0" * (20 - k)) for e, k in ((2 / 255, 15), (8 / 255, 10))]
    rows += [row("b", e, "1" * k + "0" * (20 - k)) for e, k in ((2 / 255, 12), (8 / 255, 2))]
    write_results(tmp_path / "curve.json", {}, {}, rows)
    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    lines = [ln for ln in tables.paired("curve", [("a", "b")]) if ln.startswith("| `a`")]
    assert [ln.split(" | ")[3:5] for ln in lines] == [["2/255", "SA"], ["2/255", "RA"], ["8/255", "RA"]]
    assert "+40.0" in lines[2] and "8 / 0" in lines[2]  # a right alone on images 3-10 at 8/255

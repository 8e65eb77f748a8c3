"""Run the benchmark sections and write BENCHMARKS.md from their result files.

    python benchmarks/run.py                 # run every section (resumes finished rows), then write BENCHMARKS.md
    python benchmarks/run.py --only table1   # one section
    python benchmarks/run.py --render        # only rewrite BENCHMARKS.md from benchmarks/results/*.json

The sections are data (benchmarks/sections.py): an `irad eval` section runs its `prepare` commands and then one
`irad eval` per run (every command resumes), its JSON lands in benchmarks/results/<section>[-<run>].json, and its
tables, commands, data, threat model and machine go into BENCHMARKS.md; a script section runs its commands and
renders its JSON with its own renderer. Prose comes from benchmarks/notes/<section>.md, whose numbers are
placeholders filled from the results (benchmarks/report.py).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys

from report import ROOT, note
from sections import SECTIONS, EvalSection, ScriptSection

BY_NAME = {s.name: s for s in SECTIONS}
HEADER = ["# Benchmarks", "",
          "Every table below is produced by `python benchmarks/run.py` (each section's exact command is printed with "
          "it) and read back from `benchmarks/results/*.json`. Accuracies in percent; RA = accuracy on adversarial "
          "examples after the defense; SA / RA 95% CI = Wilson score interval of the rate at that n; "
          "Avg = (SA + RA) / 2; RA worst-of-N (where shown) = right on all N fresh draws of a randomized defense; "
          "ms/img = defense forward time only, on the machine named; "
          "attack s/img (where recorded) = wall seconds crafting the adversarial examples per image. "
          "CIFAR-10 here is the JPEG-75 copy in `../shared/data` (train and test both JPEG-75).", ""]


def _call(cmd: list[str]) -> None:
    print("$", shlex.join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def run_section(sec: EvalSection | ScriptSection) -> None:
    if isinstance(sec, ScriptSection):
        for cmd in sec.commands():
            _call(cmd)
        return
    missing = sec.requires()
    if missing:
        print(f"skipping {sec.name}: {missing}", flush=True)
        return
    for cmd in sec.prepare:  # first: a section's arguments may come from what it prepares (the JPEG table search)
        _call(cmd)
    for _, cmd in sec.result_files():
        _call(cmd)


def _short_commit(commit: str | None) -> str:
    """``abc1234567`` or ``abc1234567, modified`` (the run's source differed from that commit)."""
    if not commit:
        return "uncommitted"
    return commit[:10] + (", modified" if commit.endswith("+modified") else "")


def _commits(env: dict) -> str:
    """The run's commit, then those of rows resumed from earlier runs of the same file."""
    earlier = [_short_commit(c) for c in env.get("earlier_rows_commits", [])]
    return _short_commit(env.get("git_commit")) + (f"; earlier rows: {', '.join(earlier)}" if earlier else "")


def render_eval(sec: EvalSection) -> list[str]:
    from irad.evaluation.results import format_markdown, result_rows

    try:
        files = sec.result_files()
    except SystemExit:  # its arguments come from another section's results, not run yet
        return []
    runs = [(p, c) for p, c in files if p.exists()]
    pending = [p.stem for p, _ in files if not p.exists()]
    missing = sec.requires()
    if missing and not runs:
        return [f"## {sec.title}", "", sec.what, "", f"Not run: {missing}", ""]
    extra = sec.extra()
    if not runs and not extra:
        return []
    parts = [f"## {sec.title}", "", sec.what, ""]
    if sec.prepare:
        parts += ["Prepared with:", "", "```", *[shlex.join(c) for c in sec.prepare], "```", ""]
    if pending:
        which = "The evaluation runs have" if not runs else f"Runs {', '.join(pending)} have"
        parts += [f"{which} not finished yet (`python benchmarks/run.py --only {sec.name}` resumes them).", ""]
    for path, cmd in runs:
        data = json.loads(path.read_text())
        env = data["environment"]
        rows = result_rows(data, path)
        parts += ["```", shlex.join(cmd), "```", "",
                  f"Machine: {env.get('processor')}, {env.get('cpu_count')} CPUs, {env.get('torch_threads')} torch "
                  f"threads, device {env.get('device')}{', ' + env['gpu'] if 'gpu' in env else ''}; torch "
                  f"{env.get('torch')}; irad {env.get('irad')} ({_commits(env)}).", "",
                  format_markdown(rows), ""]
        notes = sorted({n for r in rows for n in r.notes})
        if notes:
            parts += ["Notes from the run:", *[f"- {n}" for n in notes], ""]
    return [*parts, *extra, *note(sec.name)]


def render_script(sec: ScriptSection) -> list[str]:
    if not sec.path.exists():
        return []
    shown = [shlex.join(["python", *c[1:]] if c[0] == sys.executable else c) for c in sec.commands()]
    return [f"## {sec.title}", "", "```", *shown, "```", "", *sec.render(json.loads(sec.path.read_text())), "",
            *note(sec.name)]


def render() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    parts = list(HEADER)
    for sec in SECTIONS:
        parts += render_eval(sec) if isinstance(sec, EvalSection) else render_script(sec)
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=list(BY_NAME))
    ap.add_argument("--render", action="store_true", help="only rewrite BENCHMARKS.md")
    args = ap.parse_args()
    if not args.render:
        for name in args.only or list(BY_NAME):
            run_section(BY_NAME[name])
    (ROOT / "BENCHMARKS.md").write_text(render())
    print("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()

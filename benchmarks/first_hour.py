"""What a new user runs first, timed: the README's first Python example (exactly as the README prints it, run in a
fresh interpreter), its full-size variant on a slice, and the Quick start's main command.

    python benchmarks/first_hour.py [--data-root ../shared/data]

Writes benchmarks/results/first_hour.json (rendered into BENCHMARKS.md by benchmarks/run.py). Each command runs once,
in its own process, wall time from start to exit; the machine is the one named.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from report import machine, table  # noqa: E402

from irad.utils.checkpoint import atomic_write_json  # noqa: E402
from irad.utils.provenance import environment  # noqa: E402


def readme_example() -> str:
    """The README's first ```python block (the Library section's example)."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"```python\n(.*?)```", text, re.S)
    if match is None:
        raise SystemExit("README.md has no ```python block")
    return match.group(1)


def run(label: str, cmd: list[str], cwd: Path, shown: str) -> dict:
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return {"what": label, "command": shown, "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="../shared/data")
    args = ap.parse_args()
    example = readme_example()
    full = example.replace('["pgd"]', '["pgd", "autoattack"]')
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, code in (("README example (100 images, PGD-10)", example),
                            ("the same with AutoAttack added (100 images)", full)):
            path = Path(tmp) / "example.py"
            path.write_text(code)
            rows.append(run(label, [sys.executable, str(path)], ROOT, "python example.py"))
        rows.append(run("Quick start: irad demo", ["irad", "demo", "--data-root", args.data_root, "--out-dir",
                                                    str(Path(tmp) / "demo")], ROOT,
                        f"irad demo --data-root {args.data_root}"))
    atomic_write_json(ROOT / "benchmarks" / "results" / "first_hour.json",
                      {"environment": environment("cpu"), "rows": rows})


def render(d: dict) -> list[str]:
    return [f"Each command once, in a fresh process, wall time to exit. Machine: {machine(d['environment'])}.", "",
            *table(["what", "command", "seconds"], [[r["what"], f"`{r['command']}`", f"{r['seconds']:.0f}"]
                                                   for r in d["rows"]])]


if __name__ == "__main__":
    main()

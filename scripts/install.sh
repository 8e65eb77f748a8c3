#!/usr/bin/env bash
# Install irad into the current Python environment (activate a venv first if you want one).
#   bash scripts/install.sh          # the library and CLI
#   bash scripts/install.sh --test   # plus the test dependencies
# torch/torchvision are installed only when missing (pinned to the releases these machines carry).
# torchattacks is installed with --no-deps: its metadata pins requests~=2.25.1, which would silently downgrade
# requests, and its wheel drops a stale copy of RobustBench as a top-level `robustbench` package, which we remove
# (or, if the real RobustBench is installed, restore) so it never shadows the real one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
  "$PY" -m pip install "torch==2.14.1" "torchvision==0.29.1"
fi
"$PY" -m pip install -e ".${extras}"

real_rb=$("$PY" -c "import importlib.metadata as m
try: print(m.version('robustbench'))
except m.PackageNotFoundError: pass")
"$PY" -m pip install --no-deps "torchattacks==3.5.1" "foolbox==3.3.4"
if [ -n "$real_rb" ]; then
  "$PY" -m pip install --no-deps --force-reinstall "robustbench==$real_rb"
else
  "$PY" - <<'PYEOF'
import importlib.metadata as m, pathlib, shutil
dist = m.distribution("torchattacks")
stray = {pathlib.Path(dist.locate_file(f)).parents[len(f.parts) - 2] for f in dist.files or [] if f.parts[0] == "robustbench"}
for folder in stray:
    if folder.name == "robustbench" and folder.is_dir():
        shutil.rmtree(folder)
        print(f"removed torchattacks' stray copy of robustbench: {folder}")
PYEOF
fi
echo "irad installed: $("$PY" -m irad --version)"

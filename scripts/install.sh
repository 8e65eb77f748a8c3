#!/usr/bin/env bash
# Install irad and its command-line tool.
#   bash scripts/install.sh          # the library and CLI, with irad[imagenet] (the ImageNet classifiers)
#   bash scripts/install.sh --test   # plus the test dependencies
# Where it installs: an active virtual environment, else the interpreter ($PYTHON, default python3) when pip may
# write to it (pyenv, conda, a user install), else -- a distribution's "externally managed" Python (PEP 668: Debian
# 12, Ubuntu 23.04 and later) -- a virtual environment it makes in .venv/ here. Nothing goes into the system Python.
# `bash scripts/run CMD` runs CMD with .venv/bin first on PATH when .venv exists (the README's commands use it).
# torch/torchvision are installed only when missing (pinned to the releases these machines carry).
# torchattacks is installed with --no-deps: its metadata pins requests~=2.25.1, which would silently downgrade
# requests, and its wheel drops a stale copy of RobustBench as a top-level `robustbench` package, which we remove
# (or, if the real RobustBench is installed, restore) so it never shadows the real one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras="[imagenet]"
[ "${1:-}" = "--test" ] && extras="[test]"

if [ -x .venv/bin/python ]; then
  PY=.venv/bin/python
elif [ -z "${VIRTUAL_ENV:-}" ] && "$PY" -c "
import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED'))
sys.exit(0 if managed and sys.prefix == sys.base_prefix else 1)"; then
  echo "$("$PY" -c 'import sys; print(sys.executable)') is externally managed (PEP 668): installing into .venv/"
  if ! "$PY" -c "import ensurepip, venv" 2>/dev/null; then
    echo "error: $PY cannot make a virtual environment; install it with: sudo apt-get install python3-venv" >&2
    exit 1
  fi
  "$PY" -m venv .venv
  PY=.venv/bin/python
fi

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
echo "irad installed: $("$PY" -m irad --version) ($("$PY" -c 'import sys; print(sys.prefix)'))"

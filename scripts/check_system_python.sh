#!/usr/bin/env bash
# CI check (slow: installs torch into a fresh virtual environment): the README's two commands, unchanged, from a
# clean clone of HEAD on the distribution's own python3 (externally managed, PEP 668), with nothing activated.
#   bash scripts/check_system_python.sh [/usr/bin/python3]
set -euo pipefail
SYSPY=${1:-/usr/bin/python3}
repo="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$repo/../shared" && pwd)"
if ! "$SYSPY" -c "import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED'))" 2>/dev/null; then
  echo "skipping: $SYSPY is not an externally managed interpreter"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/main"
ln -s "$shared" "$work/shared"
cd "$work/main"
bin=$(dirname "$SYSPY")
# a shell whose python3 is the system one: no pyenv shims, no active venv
env -u VIRTUAL_ENV -u PYENV_VERSION PATH="$bin:/usr/bin:/bin" bash -c '
  set -euo pipefail
  bash scripts/install.sh && bash scripts/run irad demo --data-root ../shared/data
  bash scripts/install.sh --test && bash scripts/run python3 -m pytest
'
test -x .venv/bin/python
echo "system-python check passed: both README commands ran with $SYSPY through .venv/"

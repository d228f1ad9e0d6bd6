#!/usr/bin/env bash
# Sets everything up and runs the main job:
#   1. finds Python 3.10 and creates .venv (kept if it already exists),
#   2. installs the pinned lock file with uv, then this project (editable),
#   3. runs `tfxgan demo` (see README) unless QUICKSTART_SETUP_ONLY=1.
# Extra arguments are passed to `tfxgan demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCK=requirements/lock-py310-linux.txt
UV_VERSION=0.13.9

if [ ! -x .venv/bin/python ]; then
  PY=$(bash scripts/find_python310.sh)
  echo "[quickstart] creating .venv with $PY"
  "$PY" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
stamp=.venv/.lock-installed
if [ ! -f "$stamp" ] || ! cmp -s "$LOCK" "$stamp"; then
  echo "[quickstart] installing $LOCK (about 3 GB; a minute or two)"
  .venv/bin/uv pip install --quiet --python .venv/bin/python -r "$LOCK"
  cp "$LOCK" "$stamp"
fi
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .

if [ "${QUICKSTART_SETUP_ONLY:-0}" = "1" ]; then
  echo "[quickstart] set-up done (QUICKSTART_SETUP_ONLY=1: main job not run)"
  exit 0
fi
exec .venv/bin/tfxgan demo "$@"

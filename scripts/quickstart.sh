#!/usr/bin/env bash
# Sets everything up and runs the main job:
#   1. finds Python 3.10 and creates .venv (kept if it already exists),
#   2. installs the pinned lock file with uv (compiled to bytecode), then this
#      project (editable),
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
# Installed packages are compiled to bytecode: TensorFlow is thousands of modules,
# and a Python that may not write .pyc files (PYTHONDONTWRITEBYTECODE=1, read-only
# site-packages) would compile them from source on every start (~20 s instead of ~7 s
# for `import tensorflow` on 2 cores; the tests start many such processes).
stamp=.venv/.lock-installed
compiled=.venv/.bytecode-compiled
if [ ! -f "$stamp" ] || ! cmp -s "$LOCK" "$stamp"; then
  echo "[quickstart] installing $LOCK (about 3 GB; two or three minutes)"
  .venv/bin/uv pip install --quiet --python .venv/bin/python --compile-bytecode -r "$LOCK"
  cp "$LOCK" "$stamp"
  touch "$compiled"
fi
if [ ! -f "$compiled" ]; then  # a .venv installed before packages were compiled
  echo "[quickstart] compiling the installed packages to bytecode (a minute or two, once)"
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  .venv/bin/python -m compileall -q -j 0 "$site" >/dev/null \
    || echo "[quickstart] some files did not compile; Python reads those from source"
  touch "$compiled"
fi
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .

if [ "${QUICKSTART_SETUP_ONLY:-0}" = "1" ]; then
  echo "[quickstart] set-up done (QUICKSTART_SETUP_ONLY=1: main job not run)"
  exit 0
fi
exec .venv/bin/tfxgan demo "$@"

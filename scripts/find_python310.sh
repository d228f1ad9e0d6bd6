#!/usr/bin/env bash
# Prints the path of a working Python 3.10 interpreter, or fails saying why.
# TFX 1.16 needs Python 3.10 (see README). Looks on PATH, then in pyenv.
set -u
try() { "$@" -c 'import sys; assert sys.version_info[:2] == (3, 10); print(sys.executable)' 2>/dev/null; }
for cand in "${PYTHON310:-}" python3.10; do
  [ -n "$cand" ] || continue
  try "$cand" && exit 0
  PYENV_VERSION=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10' | tail -1) try "$cand" && exit 0
done
for root in "${PYENV_ROOT:-$HOME/.pyenv}" /root/.pyenv /opt/pyenv; do
  for exe in "$root"/versions/3.10*/bin/python3.10; do
    [ -x "$exe" ] && try "$exe" && exit 0
  done
done
for exe in /usr/bin/python3.10 /usr/local/bin/python3.10; do
  [ -x "$exe" ] && try "$exe" && exit 0
done
echo "error: no Python 3.10 found (TFX 1.16 needs it). Install it (e.g. 'pyenv install 3.10') or set PYTHON310=/path/to/python3.10" >&2
exit 1

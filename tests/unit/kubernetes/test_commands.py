"""The deploy tools run as DEPLOY.md shows them, ``python -m deploy.<tool>`` from the
repository root, with nothing but the interpreter's own path set-up; and the name
``kubernetes`` still imports the Kubernetes client library, not a folder of this project."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deploy import KUBERNETES_DIR, REPO_ROOT


def run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_render_configs_check_passes_on_the_committed_files():
    proc = run("-m", "deploy.render_configs", "--check")
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("overlays, lines", [
    ((), ["overlays/dev: OK", "overlays/prod: OK"]),
    (("base", "overlays/prod"), ["base: OK", "overlays/prod: OK"]),
])
def test_validate_manifests_checks_the_overlays_it_is_given(overlays, lines):
    proc = run("-m", "deploy.validate_manifests", *overlays)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.splitlines() == lines


def test_the_kubernetes_name_is_the_client_library():
    proc = run("-c", "import kubernetes, sys; sys.stdout.write(kubernetes.__file__)")
    assert proc.returncode == 0, proc.stderr
    assert not proc.stdout.startswith(str(KUBERNETES_DIR)), proc.stdout
    assert not (KUBERNETES_DIR / "__init__.py").exists()
    assert not list(KUBERNETES_DIR.glob("*.py")), "Python code for kubernetes/ lives in deploy/"

"""Run a ``bench/`` script as its docs give it, in a subprocess, and check it exits 0."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_bench(script: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python bench/<script> <args>``; fails the test with its stderr's tail unless rc 0."""
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", script), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc

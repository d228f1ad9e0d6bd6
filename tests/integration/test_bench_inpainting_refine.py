"""bench/bench_inpainting_refine.py, the control docs/EVALUATION.md cites: a plain
network refining the converged biharmonic fill, scored with the evaluator's masks."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.tfx


@pytest.mark.parametrize("loss", ["mse", "log_mse"])
def test_the_refiner_starts_as_the_fill_and_trains(tmp_path, loss):
    out = tmp_path / "refine.json"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "bench_inpainting_refine.py"),
         "--count", "48", "--loss", loss, "--steps", "3", "--every", "2", "--width", "4",
         "--batch", "4", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["loss"] == loss and result["count"] == 48
    rows = result["rows"]
    assert [r["steps"] for r in rows] == [0, 2, 3]
    # Zero-initialised, the network adds nothing: step 0 is the fill itself.
    assert rows[0]["gain_over_fill"] == 0.0
    assert all(abs(r["gain_over_scikit_image"]) < 5.0 for r in rows)
    assert rows[-1]["hole_psnr"] != rows[0]["hole_psnr"]        # it did train

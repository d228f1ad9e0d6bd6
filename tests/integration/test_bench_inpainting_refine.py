"""bench/bench_inpainting_refine.py, the control docs/EVALUATION.md cites: a plain
network refining the converged biharmonic fill, scored with the evaluator's masks."""
import json

import pytest

from support.bench import run_bench

pytestmark = pytest.mark.tfx


@pytest.mark.parametrize("loss", ["mse", "log_mse"])
def test_the_refiner_starts_as_the_fill_and_trains(tmp_path, loss):
    out = tmp_path / "refine.json"
    run_bench("bench_inpainting_refine.py", "--count", "48", "--loss", loss, "--steps", "3",
              "--every", "2", "--width", "4", "--batch", "4", "--json", str(out))
    result = json.loads(out.read_text())
    assert result["loss"] == loss and result["count"] == 48
    rows = result["rows"]
    assert [r["steps"] for r in rows] == [0, 2, 3]
    # Zero-initialised, the network adds nothing: step 0 is the fill itself.
    assert rows[0]["gain_over_fill"] == 0.0
    assert all(abs(r["gain_over_scikit_image"]) < 5.0 for r in rows)
    assert rows[-1]["hole_psnr"] != rows[0]["hole_psnr"]        # it did train

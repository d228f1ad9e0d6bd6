"""bench/bench_inpainting_prior.py, the command docs/EVALUATION.md gives for what the
inpainting generator adds to its prior: the classical fills on the eval split, scored
with the evaluator's masks, metric and bootstrap interval."""
import json

import pytest

from support.bench import run_bench

pytestmark = pytest.mark.tfx


def test_the_tensorflow_fill_converges_to_scikit_images(tmp_path):
    out = tmp_path / "prior.json"
    proc = run_bench("bench_inpainting_prior.py",
                     "--count", "48", "--iterations", "1", "300", "--json", str(out))
    result = json.loads(out.read_text())
    rows = {r["fill"]: r for r in result["rows"]}
    assert result["images"] > 2 and result["count"] == 48
    assert result["prior_iterations"] == 30                           # the quick preset's
    assert list(rows) == ["scikit-image inpaint_biharmonic", "TF biharmonic fill, 1 CG steps",
                          "TF biharmonic fill, 30 CG steps", "TF biharmonic fill, 300 CG steps"]
    reference = rows["scikit-image inpaint_biharmonic"]
    assert reference["gain"] == {"mean": 0.0, "low": 0.0, "high": 0.0}
    one = rows["TF biharmonic fill, 1 CG steps"]
    converged = rows["TF biharmonic fill, 300 CG steps"]
    # Converged, the TensorFlow solve is scikit-image's fill up to the image border.
    assert abs(converged["gain"]["mean"]) < 0.3, converged
    assert one["hole_psnr"] < converged["hole_psnr"]
    assert rows["TF biharmonic fill, 30 CG steps"]["gain_over_prior"]["mean"] == 0.0
    assert "| TF biharmonic fill, 300 CG steps |" in proc.stdout

"""The run report in a real browser: headless Chromium loads it, every image
renders, and the screenshot shows the results table (scripts/report_screenshot.sh)."""
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from support.reports import PNG, make_run
from tfx_pipeline import report as R

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("apt-get")),
                    reason="needs Debian's chromium (or apt-get to install it)")
def test_report_loads_in_chromium_and_screenshot_shows_the_table(tmp_path):
    from PIL import Image
    config = make_run(tmp_path)
    pred = tmp_path / "p.png"
    pred.write_bytes(PNG)
    page = R.write_run_report(config, str(tmp_path / "home"), {"pconv_inpainting": [str(pred)]},
                              out=lambda s: None)
    shot = tmp_path / "shot.png"
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "report_screenshot.sh"), page, str(shot)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "images loaded: 2 of 2" in proc.stdout            # pconv panels + 1 served prediction
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape[0] >= 600 and pixels.std() > 5        # not a blank page


@pytest.mark.slow
def test_broken_image_is_reported(tmp_path):
    if not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium")
    page = tmp_path / "index.html"
    page.write_text(R.render_html([], title="t", pipeline_root="p", serving_root="s", assets={})
                    .replace("</body>", "<img src='missing.png'></body>"))
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "report_screenshot.sh"), str(page),
                           str(tmp_path / "s.png")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "1 image(s) failed to load" in proc.stderr

"""The run report: per-GAN table against every baseline, self-contained HTML."""
import re

from support.reports import PNG, make_run
from tfx_pipeline import report as R

def test_report_table_and_page(tmp_path):
    config = make_run(tmp_path)
    pred = tmp_path / "predictions" / "pconv_inpainting"
    pred.mkdir(parents=True)
    (pred / "generated_0.png").write_bytes(PNG)
    lines = []
    path = R.write_run_report(config, str(tmp_path / "home"),
                              {"pconv_inpainting": [str(pred / "generated_0.png")]}, out=lines.append)
    table = "\n".join(lines)
    assert re.search(r"pconv_inpainting\s+hole_psnr ↑\s+27\.5\s+biharmonic_fill 26\.7\s+blessed\s+v1700000000", table), table
    assert re.search(r"dcgan\s+fd_fraction ↓\s+0\.41\s+n/a\s+not blessed\s+-", table), table
    page = open(path).read()
    # Every baseline with its value, the verdict and why not, pushed path, served or not.
    for text in ("mean fill: 18.6", "biharmonic_fill: 26.7", "real-vs-real floor: 0",
                 "fd_fraction: 0.41 &lt;= 0.2 required - FAILED", "version 1700000000",
                 "yes (1 predictions)", "tfxgan tensorboard --logdir"):
        assert text in page, text
    # Self-contained: every local link and image points at a file beside the page.
    home = tmp_path / "home" / "report"
    refs = re.findall(r"(?:src|href)='([^'#]+)'", page)
    assert refs and all((home / ref).is_file() for ref in refs), refs
    assert "pconv_inpainting/panels.png" in refs and "pconv_inpainting/prediction_0.png" in refs


def test_strongest_baseline_follows_the_metric_direction():
    row = R.GanRow("x", "psnr", True, 30.0, {"low-dose input": 28.0, "nlm": 31.0}, "blessed", [],
                   None, [], None)
    assert R._strongest(row) == ("nlm", 31.0)
    row = R.GanRow("x", "fd", False, 3.0, {"a": 2.0, "b": 5.0}, "blessed", [], None, [], None)
    assert R._strongest(row) == ("a", 2.0)


def test_report_uses_every_gate_baseline_and_the_gain(tmp_path):
    """metrics.json of the strong-baseline gate: the table names the strongest
    method (not the trivial one) and the page shows the gain with its interval."""
    import json
    import types
    ev = tmp_path / "pipeline" / "GanEvaluator_pix2pix_wgan_gp" / "evaluation" / "3"
    ev.mkdir(parents=True)
    (ev / "metrics.json").write_text(json.dumps({
        "reasons": ["psnr gain over the strongest baseline nlm_denoise ... FAILED"],
        "metrics": {"candidate": {"psnr": 32.33}, "trivial_baseline": {"psnr": 30.97},
                    "baselines": {"low_dose_input": {"psnr": 30.97}, "nlm_denoise": {"psnr": 36.67}},
                    "latest_blessed": None, "references": {}},
        "baselines": {"trivial_baseline": "the degraded input itself (low-dose CT)"},
        "gain": {"baseline": "nlm_denoise", "mean": -4.34, "low": -5.73, "high": -2.97}}))
    bl = tmp_path / "pipeline" / "GanEvaluator_pix2pix_wgan_gp" / "blessing" / "3"
    bl.mkdir(parents=True)
    (bl / "NOT_BLESSED").write_text("")
    config = types.SimpleNamespace(runs=(types.SimpleNamespace(gan="pix2pix_wgan_gp"),),
                                   pipeline_root=str(tmp_path / "pipeline"),
                                   serving_root=str(tmp_path / "serving"))
    lines = []
    page = open(R.write_run_report(config, str(tmp_path / "home"), None, out=lines.append)).read()
    assert re.search(r"pix2pix_wgan_gp\s+psnr ↑\s+32\.33\s+nlm_denoise 36\.67\s+not blessed", "\n".join(lines))
    assert "low_dose_input: 30.97" in page and "nlm_denoise: 36.67" in page
    assert "-4.34 [-5.73, -2.97] vs nlm_denoise" in page

"""A finished run's folders as the report reads them (two GANs: one blessed, one not)."""
import json
import types

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def make_run(tmp_path):
    root, serving = tmp_path / "pipeline", tmp_path / "serving"
    # pconv: blessed and pushed, with a reference (biharmonic) and panels.
    ev = root / "GanEvaluator_pconv_inpainting" / "evaluation" / "7"
    ev.mkdir(parents=True)
    (ev / "metrics.json").write_text(json.dumps({
        "blessed": True, "reasons": [],
        "metrics": {"candidate": {"hole_psnr": 27.5, "ssim": 0.9},
                    "trivial_baseline": {"hole_psnr": 18.6, "ssim": 0.8},
                    "latest_blessed": None,
                    "references": {"biharmonic_fill": {"hole_psnr": 26.7, "ssim": 0.88}}},
        "baselines": {"trivial_baseline": "mean fill", "latest_blessed": None}}))
    (ev / "panels.png").write_bytes(PNG)
    (ev / "report.html").write_text("<html><img src='panels.png'></html>")
    (ev / "report.md").write_text("# r")
    bl = root / "GanEvaluator_pconv_inpainting" / "blessing" / "7"
    bl.mkdir(parents=True)
    (bl / "BLESSED").write_text("")
    (serving / "pconv_inpainting" / "1700000000").mkdir(parents=True)
    # dcgan: not blessed, nothing pushed.
    ev = root / "GanEvaluator_dcgan" / "evaluation" / "9"
    ev.mkdir(parents=True)
    (ev / "metrics.json").write_text(json.dumps({
        "blessed": False, "reasons": ["fd_fraction: 0.41 <= 0.2 required - FAILED"],
        "metrics": {"candidate": {"fd_fraction": 0.41}, "trivial_baseline": {"fd": 6.8},
                    "latest_blessed": None, "references": {}},
        "baselines": {"trivial_baseline": "real-vs-real floor", "latest_blessed": None}}))
    bl = root / "GanEvaluator_dcgan" / "blessing" / "9"
    bl.mkdir(parents=True)
    (bl / "NOT_BLESSED").write_text("")
    runs = (types.SimpleNamespace(gan="pconv_inpainting"), types.SimpleNamespace(gan="dcgan"))
    return types.SimpleNamespace(runs=runs, pipeline_root=str(root), serving_root=str(serving))

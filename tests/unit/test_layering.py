"""Packages import downwards only: trainer <- serving <- tfx_pipeline.

trainer (models, export) knows nothing of serving or the pipeline; serving
(the TF Serving config, client and local server) knows trainer's shared names
but not the pipeline; tfx_pipeline (components, runners, the tfxgan CLI)
may import both. Checked on the source, so no import cycle can come back."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FORBIDDEN = {"trainer": {"serving", "tfx_pipeline"}, "serving": {"tfx_pipeline"}}


def imported_packages(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package):
    bad = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        upward = imported_packages(path) & FORBIDDEN[package]
        if upward:
            bad[str(path.relative_to(ROOT))] = sorted(upward)
    assert not bad, f"{package} must not import {sorted(FORBIDDEN[package])}: {bad}"

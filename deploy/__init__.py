"""Tools for the Kubernetes manifests under ``kubernetes/``, run from the repository root::

    python -m deploy.render_configs [--check]
    python -m deploy.validate_manifests [OVERLAY ...]

They live in a package of their own rather than in ``kubernetes/``: that name
belongs to the Kubernetes client library (installed with kfp), so a
``kubernetes`` package here would hide it from every process that has the
repository on its path. Like ``bench/`` and ``tests/``, this package is for a
checkout and is not installed by setup.py.
"""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
KUBERNETES_DIR = REPO_ROOT / "kubernetes"   # base/, components/, overlays/

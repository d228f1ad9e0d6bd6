"""What a finished run left behind: pushed models per GAN (read from the serving root)."""
from __future__ import annotations

import os


def latest_version(model_dir: str) -> str | None:
    """Path of the highest integer version folder under ``model_dir`` (TF Serving layout)."""
    if not os.path.isdir(model_dir):
        return None
    versions = [int(v) for v in os.listdir(model_dir) if v.isdigit()]
    return os.path.join(model_dir, str(max(versions))) if versions else None


def pushed_models(config) -> dict[str, str | None]:
    return {run.gan: latest_version(os.path.join(config.serving_root, run.gan)) for run in config.runs}

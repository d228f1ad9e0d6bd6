"""Run the real pipeline (through the `tfxgan` CLI) and read what it left in ML Metadata."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# `--evaluation` thresholds an unconditional GAN's 2-step generator passes (it passes
# no default gate: fd, class coverage, class histogram); for runs that check wiring.
PASS_ANY = {"max_fd_fraction": 1e9, "min_class_coverage": 0.0, "max_class_tv": 1.0}


def tiny_hparams(gan: str) -> dict:
    """Overrides of the quick preset for pipeline tests: the tiny preset's batch
    size, halved for image-to-image GANs (the e2e run checks wiring, not quality)."""
    from trainer import registry
    spec = registry.get(gan)
    batch = spec.presets().tiny["batch_size"]
    return {"batch_size": batch if spec.kind == registry.UNCONDITIONAL else max(1, batch // 2)}


def tfxgan(*args, timeout=1500, check=True, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if cwd is not None:  # `python -m` then needs the project on the path explicitly
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-m", "tfx_pipeline.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"tfxgan {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def run_pipeline(home, data_root, gans, train_steps=2, hparams=None, extra=(),
                 cwd=None) -> tuple[subprocess.CompletedProcess, float]:
    hp = {gan: tiny_hparams(gan) for gan in gans}
    for gan, over in (hparams or {}).items():
        hp[gan] = {**hp.get(gan, {}), **over}
    args = ["run", "--home", str(home), "--data-root", str(data_root), "--gans", *gans,
            "--train-steps", str(train_steps), "--beam-mode", "in_memory", *extra]
    for gan in gans:
        args += ["--hparams", f"{gan}={json.dumps(hp[gan])}"]
    start = time.monotonic()
    proc = tfxgan(*args, cwd=cwd)
    return proc, time.monotonic() - start


STATE_NAMES = {0: "UNKNOWN", 1: "NEW", 2: "RUNNING", 3: "COMPLETE", 4: "FAILED", 5: "CACHED",
               6: "CANCELED"}


def node_states(metadata_path: str, pipeline_name: str = "tfx-gan") -> dict[str, list[str]]:
    """component id -> states of its executions, oldest first."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    cfg = metadata_store_pb2.ConnectionConfig()
    cfg.sqlite.filename_uri = str(metadata_path)
    cfg.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(cfg)
    out = {}
    for ctx in store.get_contexts_by_type("node"):
        prefix = f"{pipeline_name}."
        if not ctx.name.startswith(prefix):
            continue
        execs = sorted(store.get_executions_by_context(ctx.id), key=lambda e: e.id)
        out[ctx.name[len(prefix):]] = [STATE_NAMES[e.last_known_state] for e in execs]
    return out

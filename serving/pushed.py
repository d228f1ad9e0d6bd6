"""What the Pushers left in the serving root, read and summarised through tf.io.gfile.

The serving root (``<serving_root>/<gan>/<version>/``, the Pushers' destination)
is the record of what was blessed and shipped: the GanEvaluator compares a
candidate with the newest version pushed for its GAN, and after every push the
pipeline rewrites ``<serving_root>/models.config`` to list exactly the GANs that
have at least one pushed version. TF Serving reads that file
(``--model_config_file``, re-read every ``--model_config_file_poll_wait_seconds``),
so a GAN that was never blessed cannot keep the server from becoming ready.

Every path may be a local folder or an object-store URI (gs://, s3://).
"""
from __future__ import annotations

import hashlib
import logging
import re
import uuid

from serving import config as C
from trainer import registry

log = logging.getLogger(__name__)

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
# What identifies a SavedModel's content: the graph and the variables index (which
# holds a checksum of every tensor's bytes). The Pusher copies the files byte for byte.
FINGERPRINT_FILES = ("saved_model.pb", "saved_model.pbtxt", "variables/variables.index")
_VERSION = re.compile(r"[0-9]+")


def _gfile():
    import tensorflow as tf
    return tf.io.gfile


def pushed_versions(base_path: str) -> list[int]:
    """Integer version folders under ``base_path`` that hold a SavedModel, ascending."""
    gfile = _gfile()
    if not gfile.isdir(base_path):
        return []
    out = []
    for name in gfile.listdir(base_path):
        name = name.rstrip("/")
        if _VERSION.fullmatch(name) and any(
                gfile.exists(C.join_base_path(C.join_base_path(base_path, name), f))
                for f in SAVED_MODEL_FILES):
            out.append(int(name))
    return sorted(out)


def newest_pushed(base_path: str) -> str | None:
    """The newest pushed version folder under ``base_path``, or None."""
    versions = pushed_versions(base_path)
    return C.join_base_path(base_path, str(versions[-1])) if versions else None


def saved_model_fingerprint(model_dir: str) -> str:
    """sha256 over the SavedModel's graph and variables index (see FINGERPRINT_FILES)."""
    gfile = _gfile()
    digest = hashlib.sha256()
    found = False
    for rel in FINGERPRINT_FILES:
        path = C.join_base_path(model_dir, rel)
        if gfile.exists(path):
            found = True
            digest.update(rel.encode() + b"\0")
            with gfile.GFile(path, "rb") as fh:
                digest.update(fh.read())
    if not found:
        raise FileNotFoundError(f"no SavedModel at {model_dir} (no {' or '.join(SAVED_MODEL_FILES)})")
    return digest.hexdigest()


def served_gans(serving_root: str) -> dict[str, list[int]]:
    """{gan: pushed versions} for every registry GAN with at least one pushed version."""
    out = {}
    for gan in registry.GANS:
        versions = pushed_versions(C.join_base_path(serving_root, gan))
        if versions:
            out[gan] = versions
    return out


def models_config_text(serving_root: str) -> str:
    """``models.config`` for what is pushed: one ``latest {1}`` entry per pushed GAN.

    An empty model list is valid: TF Serving then starts, serves nothing and reads
    the file again at its next poll.
    """
    from tensorflow_serving.config import model_server_config_pb2
    served = served_gans(serving_root)
    lines = ["# TF Serving --model_config_file, rewritten by the pipeline after every push.",
             "# Only GANs with a pushed version are listed; pushed versions:"]
    lines += [f"#   {gan}: {', '.join(map(str, versions))}" for gan, versions in served.items()]
    cfg = (C.build_model_server_config(serving_root, list(served)) if served
           else model_server_config_pb2.ModelServerConfig(
               model_config_list=model_server_config_pb2.ModelConfigList()))
    return "\n".join(lines) + "\n" + C.models_config_text(cfg)


def write_models_config(serving_root: str, attempts: int = 5) -> str:
    """Atomically replace ``<serving_root>/models.config`` with what is pushed now.

    Written to a temporary file, then renamed over the old one, so TF Serving never
    reads half a file. Two Pushers finishing together may each list the root before
    the other's version exists; each writer re-reads the root after its rename and
    writes again until the file matches the root, so the last writer leaves the
    full list.
    Returns the file's path.
    """
    gfile = _gfile()
    gfile.makedirs(serving_root)
    path = C.join_base_path(serving_root, C.MODELS_CONFIG)
    for _ in range(attempts):
        text = models_config_text(serving_root)
        tmp = C.join_base_path(serving_root, f".{C.MODELS_CONFIG}.tmp-{uuid.uuid4().hex[:8]}")
        with gfile.GFile(tmp, "w") as fh:
            fh.write(text)
        gfile.rename(tmp, path, overwrite=True)
        with gfile.GFile(path) as fh:
            if fh.read() == models_config_text(serving_root):
                break
    log.info("wrote %s: %s", path, ", ".join(served_gans(serving_root)) or "no pushed GANs")
    return path

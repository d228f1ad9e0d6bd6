"""The end of the main job: serve the pushed generators locally and ask each for images.

Writes the TF Serving config for what was pushed, starts the local
TF-Serving-API server on free loopback ports, sends every pushed GAN a few
real eval inputs over gRPC (seeds for the unconditional GANs) and writes the
generated PNGs, exactly as `tfxgan predict` would.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from trainer import features as F
from trainer import registry

SAMPLES = 4


def sample_inputs(gan: str, data_root: str, out_dir: str) -> tuple[list[str], list[str]]:
    """Write up to SAMPLES eval inputs of ``gan`` (and masks) as PNG files; returns paths."""
    import tensorflow as tf
    from tfx_pipeline.ingest.records import parse_example_bytes
    spec = registry.get(gan)
    role = F.INPUT if spec.kind == registry.PAIRED else F.IMAGE
    files = sorted(glob.glob(os.path.join(data_root, "Span-*", "eval", "*.tfrecord")))
    os.makedirs(out_dir, exist_ok=True)
    images, masks, size = [], [], None
    for n, raw in enumerate(tf.data.TFRecordDataset(files).take(SAMPLES)):
        pixels = parse_example_bytes(raw.numpy())["images"][role].pixels
        size = pixels.shape[0]
        path = os.path.join(out_dir, f"input_{n}.png")
        with open(path, "wb") as fh:
            fh.write(tf.io.encode_png(pixels).numpy())
        images.append(path)
    if spec.kind == registry.INPAINTING and images:
        from trainer.masks import fixed_masks
        for n, mask in enumerate(fixed_masks(len(images), size, seed=0).numpy()):
            path = os.path.join(out_dir, f"mask_{n}.png")
            with open(path, "wb") as fh:
                fh.write(tf.io.encode_png((mask * 255).astype(np.uint8)).numpy())
            masks.append(path)
    return images, masks


def serve_and_predict(config, home: str, out=print) -> dict[str, list[str]]:
    """Serve every pushed generator and write its predictions under HOME/predictions/<gan>/."""
    from serving.client import GrpcClient, predict_to_files
    from serving.config import MODELS_CONFIG, write_serving_configs
    from serving.server import LocalServer, ServerOptions
    from tfx_pipeline.summary import outcomes
    pushed = [o.gan for o in outcomes(config) if o.pushed]
    if not pushed:
        out("no generator was pushed, so none is served")
        return {}
    paths = write_serving_configs(os.path.join(home, "serving-config"), config.serving_root, gans=pushed)
    runs = {r.gan: r for r in config.runs}
    written = {}
    with LocalServer(ServerOptions(model_config_file=str(paths[MODELS_CONFIG]), rest_port=None,
                                   poll_seconds=0)) as server:
        with GrpcClient(server.grpc_address) as client:
            for gan in pushed:
                kind = registry.get(gan).kind
                out = os.path.join(home, "predictions", gan)
                if kind == registry.UNCONDITIONAL:
                    files = predict_to_files(client, gan, count=SAMPLES, seed=0, out_dir=out)
                else:
                    images, masks = sample_inputs(gan, runs[gan].data_root, os.path.join(out, "inputs"))
                    files = predict_to_files(client, gan, images=images, masks=masks or None, out_dir=out)
                written[gan] = [str(f) for f in files]
                out(f"  {gan:18s} served over gRPC ({server.grpc_address}): "
                      f"{len(files)} images in {out}")
    out(f"  TF Serving config for these models: {paths[MODELS_CONFIG]}")
    return written

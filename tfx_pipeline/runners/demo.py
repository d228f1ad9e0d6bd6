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

from trainer import kinds, registry

SAMPLES = 4


def eval_images(data_root: str):
    """``read(role, count)``: the pixels [H, W, C] of ``role`` in the first eval records."""
    def read(role: str, count: int) -> list[np.ndarray]:
        import tensorflow as tf
        from tfx_pipeline.ingest.records import parse_example_bytes
        files = sorted(glob.glob(os.path.join(data_root, "Span-*", "eval", "*.tfrecord")))
        return [parse_example_bytes(raw.numpy())["images"][role].pixels
                for raw in tf.data.TFRecordDataset(files).take(count)]
    return read


def sample_request(gan: str, data_root: str, out_dir: str) -> dict:
    """What to send ``gan`` (up to SAMPLES eval inputs written as PNGs, or seeds): the
    arguments of ``predict_to_files``, as the GAN's kind builds them."""
    return kinds.get(registry.get(gan).kind).sample_request(eval_images(data_root), out_dir,
                                                            SAMPLES)


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
                folder = os.path.join(home, "predictions", gan)
                request = sample_request(gan, runs[gan].data_root, os.path.join(folder, "inputs"))
                files = predict_to_files(client, gan, out_dir=folder, **request)
                written[gan] = [str(f) for f in files]
                out(f"  {gan:18s} served over gRPC ({server.grpc_address}): "
                    f"{len(files)} images in {folder}")
    out(f"  TF Serving config for these models: {paths[MODELS_CONFIG]}")
    return written

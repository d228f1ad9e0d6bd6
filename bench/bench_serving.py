"""Serving benchmark: the local TF-Serving-API server against a warm in-process SavedModel call.

For the pix2pix U-Net generator (256x256x1, 16-bit PNG in, uint16 pixels out)
and the MLP generator of vanilla_gan (seeds in), built from ``trainer.gans``
with freshly initialised weights (speed does not depend on training), this
measures in one run:

1. latency at batch 1: warm in-process SavedModel call vs gRPC Predict to the
   local server (a separate process), interleaved request by request - p50 /
   p99, and the p50 ratio (target <= 1.15x);
2. throughput (images/s) with ``--clients`` concurrent gRPC clients, batch 1
   per request, without and with server-side batching;
3. the client's encode (numpy -> PredictRequest) and decode
   (``tf.make_ndarray`` of every output) time per image.

Usage (2 CPU cores: about 3 minutes, most of it building the U-Net SavedModel)::

    .venv/bin/python bench/bench_serving.py --out bench/results/serving.json

Writes a JSON report and prints a Markdown table for docs/SERVING.md.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from serving import testing  # noqa: E402
from trainer import features as F  # noqa: E402
from trainer import kinds, registry  # noqa: E402

PIX2PIX, MLP = "pix2pix_wgan_gp", "vanilla_gan"


# ------------------------------------------------------------------ models
def hparams_overrides(name: str, image_size: int) -> dict:
    """pix2pix at the measured size (grayscale); the MLP at its defaults."""
    return {PIX2PIX: {"image_size": image_size, "channels": 1}, MLP: {}}[name]


def export_generator(name: str, base_path: Path, image_size: int) -> Path:
    """Version 1 of ``name``'s generator through the Trainer's export path (with warmup).

    Freshly initialised weights and no Transform graph: images are decoded by
    :class:`trainer.export.PlainImages` (pix2pix: 16-bit PNG in, uint16 CT pixels out)."""
    from trainer import export

    spec = registry.get(name)
    hp = spec.hparams(hparams_overrides(name, image_size))
    generator = spec.load().build(hp).generator
    module = export.GeneratorModule(spec, generator, hp, is_ct=kinds.get(spec.kind).ct_capable,
                                    images=export.PlainImages())
    version_dir = base_path / "1"
    base_path.mkdir(parents=True, exist_ok=True)
    export.save(module, str(version_dir), warmup=[batch1_inputs(name, image_size)])
    params = sum(int(np.prod(v.shape)) for v in generator.weights)
    print(f"exported {name}: {params / 1e6:.2f}M parameters, {hp.image_size}x{hp.image_size}x"
          f"{hp.channels}", flush=True)
    return version_dir


def batch1_inputs(name: str, size: int) -> dict:
    """One request of one item: a random 16-bit PNG (pix2pix) or seed 7 (the MLP)."""
    k = kinds.get(registry.get(name).kind)
    return k.request(1, (size, size, 1), seed=7, bit_depth=16 if k.ct_capable else 8)


# ------------------------------------------------------------------ server
def start_server(config: Path, batching_file: Path | None) -> testing.ServeProcess:
    """``tfxgan serve`` in its own process (as a deployment would run it), gRPC only."""
    args = ["--model-config-file", config, "--port", "0", "--rest-api-port", "-1",
            "--file-system-poll-wait-seconds", "0", "--max-receive-message-mb", "256"]
    if batching_file:
        args += ["--enable-batching", "--batching-parameters-file", batching_file]
    return testing.ServeProcess(args)


# ------------------------------------------------------------- measurement
def percentiles(samples_s: list[float]) -> dict:
    a = np.array(samples_s) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean()), "n": len(a)}


def time_calls(fn, n: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def latency_pair(version_dir: Path, address: str, name: str, inputs: dict, n: int) -> dict:
    """Batch-1 latency of a warm in-process SavedModel call and of gRPC Predict, interleaved.

    Interleaving (in-process, gRPC, in-process, ...) gives both the same machine
    state: TF's thread pools fall asleep between requests, which makes a small
    model ~3x slower than in a tight loop. The tight-loop number is reported too.
    """
    import tensorflow as tf

    from serving.client import GrpcClient

    fn = tf.saved_model.load(str(version_dir)).signatures[F.SERVING_SIGNATURE]
    feed = {k: tf.constant(v) for k, v in inputs.items()}

    def local():
        return {k: v.numpy() for k, v in fn(**feed).items()}

    back_to_back = percentiles(time_calls(local, n))
    with GrpcClient(address, timeout=120) as c:
        remote = lambda: c.predict(name, inputs)  # noqa: E731
        for _ in range(3):
            local(), remote()
        t_local, t_remote = [], []
        for _ in range(n):
            t_local += time_calls(local, 1, warmup=0)
            t_remote += time_calls(remote, 1, warmup=0)
    return {"in_process": percentiles(t_local), "in_process_tight_loop": back_to_back,
            "grpc": percentiles(t_remote)}


def throughput(address: str, name: str, inputs: dict, clients: int, seconds: float) -> dict:
    from serving.client import GrpcClient

    stop = threading.Event()
    counts = [0] * clients
    errors = []

    def worker(i):
        with GrpcClient(address, timeout=120) as c:
            c.predict(name, inputs)  # connect + warm
            while not stop.is_set():
                try:
                    c.predict(name, inputs)
                    counts[i] += 1
                except Exception as e:  # noqa: BLE001 - counted and reported
                    errors.append(str(e))

    with cf.ThreadPoolExecutor(clients) as pool:
        futs = [pool.submit(worker, i) for i in range(clients)]
        time.sleep(1.0)  # let every client connect
        start = sum(counts)
        t0 = time.perf_counter()
        time.sleep(seconds)
        done = sum(counts) - start
        elapsed = time.perf_counter() - t0
        stop.set()
        for f in futs:
            f.result()
    return {"images_per_s": done / elapsed, "requests": done, "clients": clients,
            "errors": len(errors)}


def codec_cost(address: str, name: str, inputs: dict, n: int) -> dict:
    """Client-side encode (numpy -> PredictRequest bytes) and decode (make_ndarray) per image."""
    from serving import tensors
    from serving.client import GrpcClient

    with GrpcClient(address, timeout=120) as c:
        resp = c.predict_raw(c.predict_request(name, inputs))
        enc = time_calls(lambda: c.predict_request(name, inputs).SerializeToString(), n)
        dec = time_calls(lambda: {k: tensors.decode(v) for k, v in resp.outputs.items()}, n)
    return {"encode_ms": float(np.median(enc) * 1e3), "decode_ms": float(np.median(dec) * 1e3),
            "response_bytes": resp.ByteSize()}


# -------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image-size", type=int, default=256, help="pix2pix image size")
    p.add_argument("--latency-requests", type=int, default=30, help="pix2pix requests per latency "
                                                                    "sample (MLP: 10x)")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients for throughput")
    p.add_argument("--seconds", type=float, default=10.0, help="pix2pix throughput window (MLP: 1/2)")
    p.add_argument("--work-dir", help="where to write the SavedModels (default: a temp dir)")
    p.add_argument("--out", help="JSON report path")
    args = p.parse_args(argv)

    from serving.config import BatchingConfig, write_serving_configs

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-serving-"))
    models = work / "models"
    t0 = time.perf_counter()
    dirs = {name: export_generator(name, models / name, args.image_size) for name in (PIX2PIX, MLP)}
    export_s = time.perf_counter() - t0
    batching = BatchingConfig(max_batch_size=args.clients, batch_timeout_micros=2000,
                              num_batch_threads=1)
    cfg = write_serving_configs(work / "config", str(models), gans=[PIX2PIX, MLP],
                                batching=batching)

    report = {"command": " ".join([os.path.relpath(sys.argv[0], ROOT), *(argv or sys.argv[1:])]),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average_at_start": os.getloadavg()},
              "image_size": args.image_size, "export_s": export_s, "models": {}}
    plans = {PIX2PIX: (args.latency_requests, args.seconds),
             MLP: (args.latency_requests * 10, args.seconds / 2)}
    for label, batching_file in (("unbatched", None), ("batched", cfg["batching_parameters.txt"])):
        server = start_server(cfg["models.config"], batching_file)
        try:
            for name in (PIX2PIX, MLP):
                inputs = batch1_inputs(name, args.image_size)
                r = report["models"].setdefault(name, {})
                if label == "unbatched":
                    r.update(latency_pair(dirs[name], server.grpc, name, inputs,
                                          plans[name][0]))
                    r["grpc_over_in_process_p50"] = r["grpc"]["p50_ms"] / r["in_process"]["p50_ms"]
                    r["client_codec_per_image"] = codec_cost(server.grpc, name, inputs, 50)
                r[f"throughput_{label}"] = throughput(server.grpc, name, inputs, args.clients,
                                                      plans[name][1])
                print(f"{name} {label}: {json.dumps(r)}", flush=True)
        finally:
            server.stop()

    print()
    print(markdown(report))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2))
    return 0


def markdown(report: dict) -> str:
    rows = ["| model | in-process p50 / p99 (ms) | gRPC p50 / p99 (ms) | p50 ratio | "
            "in-process tight loop p50 (ms) | "
            f"img/s, {report['models'][PIX2PIX]['throughput_unbatched']['clients']} clients, "
            "no batching | img/s, batching | client encode / decode per image (ms) |",
            "|---|---|---|---|---|---|---|---|"]
    for name, r in report["models"].items():
        ip, g, c = r["in_process"], r["grpc"], r["client_codec_per_image"]
        rows.append(
            f"| {name} | {ip['p50_ms']:.2f} / {ip['p99_ms']:.2f} | {g['p50_ms']:.2f} / "
            f"{g['p99_ms']:.2f} | {r['grpc_over_in_process_p50']:.2f}x | "
            f"{r['in_process_tight_loop']['p50_ms']:.2f} | "
            f"{r['throughput_unbatched']['images_per_s']:.1f} | "
            f"{r['throughput_batched']['images_per_s']:.1f} | "
            f"{c['encode_ms']:.3f} / {c['decode_ms']:.3f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())

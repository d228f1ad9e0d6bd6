"""Benchmark: GAN training steps per second and achieved GFLOP/s against the
machine's own matrix-product ceiling, measured in the same run.

    .venv/bin/python bench/bench_gans.py                        # everything
    .venv/bin/python bench/bench_gans.py --gans pix2pix_wgan_gp --repeats 2
    .venv/bin/python bench/bench_gans.py --forward-only         # pix2pix generator variants only

Reports, as JSON (``--out``, default bench/results/bench_gans.json) and a
table on stdout:

* the ceiling: best GFLOP/s of a 4096² float32 matmul (and bfloat16);
* the pix2pix U-Net forward pass at 256×256×1, batch 1, in float32 and in
  ``mixed_bfloat16``, and (in a subprocess) with oneDNN disabled;
* per GAN at its seed image size: train steps/s and GFLOP/s, the FLOPs per
  step counted by the TF profiler on the traced ``train_step`` graph
  (forward, backward and gradient-penalty ops).

Batch sizes are those in ``BENCH_BATCH`` (batch 1 for the big image GANs so a
step fits a short run on 2 cores). VGG19 uses the random stand-in when the
ImageNet file is absent (same FLOPs).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from tensorflow.python.profiler import model_analyzer, option_builder  # noqa: E402

from trainer import perceptual, registry  # noqa: E402

BENCH_BATCH = {"pix2pix_wgan_gp": 1, "vanilla_gan": 256, "dcgan": 256,
               "pconv_inpainting": 1, "srrescycgan": 1}


def best_time(fn, repeats: int, inner: int) -> float:
    """Best mean seconds per call of ``fn`` over ``repeats`` runs of ``inner`` calls."""
    fn()  # warm-up (tracing, oneDNN primitive creation)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def graph_flops(concrete) -> int:
    opts = option_builder.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return model_analyzer.profile(concrete.graph, options=opts).total_float_ops


def matmul_ceiling(dtype, repeats: int, n: int = 4096) -> float:
    a = tf.random.stateless_normal([n, n], seed=[0, 0], dtype=tf.float32)
    a = tf.cast(a, dtype)
    mm = tf.function(lambda x: tf.matmul(x, x))
    seconds = best_time(lambda: mm(a).numpy(), repeats, 3)
    return 2 * n ** 3 / seconds / 1e9


def _ceiling_probe(n: int = 2048):
    """A short float32 matmul timed between forward passes: GFLOP/s now."""
    a = tf.random.stateless_normal([n, n], seed=[0, 0])
    mm = tf.function(lambda x: tf.matmul(x, x))
    mm(a).numpy()

    def probe():
        start = time.perf_counter()
        mm(a).numpy()
        mm(a).numpy()
        return 2 * 2 * n ** 3 / (time.perf_counter() - start) / 1e9
    return probe


def unet_forward(policy: str, repeats: int) -> dict:
    """Forward GFLOP/s, best and as a median fraction of a ceiling probe run
    just before each timing (the machine is shared; both see the same load)."""
    from trainer.models.unet import unet_generator
    keras.mixed_precision.set_global_policy(policy)
    try:
        gen = unet_generator(256, 1, 64)
        fwd = tf.function(lambda x: gen(x, training=False), jit_compile=False)
        x = tf.random.stateless_uniform([1, 256, 256, 1], seed=[1, 1], minval=-1, maxval=1)
        flops = graph_flops(fwd.get_concrete_function(tf.TensorSpec([1, 256, 256, 1])))
        probe = _ceiling_probe()
        fwd(x).numpy()
        ratios, times = [], []
        for _ in range(max(repeats, 3)):
            ceiling_now = probe()
            start = time.perf_counter()
            for _ in range(3):
                fwd(x).numpy()
            seconds = (time.perf_counter() - start) / 3
            times.append(seconds)
            ratios.append(flops / seconds / 1e9 / ceiling_now)
        out = fwd(x).numpy()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    seconds = min(times)
    return {"policy": policy, "gflop": flops / 1e9, "images_per_s": 1 / seconds,
            "gflops": flops / seconds / 1e9,
            "median_pct_of_adjacent_float32_ceiling": 100 * float(np.median(ratios)),
            "output": out}


def gan_step(name: str, repeats: int, steps: int) -> dict:
    spec = registry.get(name)
    module = spec.load()
    overrides = {"batch_size": BENCH_BATCH[name]}
    fields = module.HParams.__dataclass_fields__
    if "perceptual_weights" in fields:
        try:
            perceptual.resolve_weights(perceptual.IMAGENET)
        except FileNotFoundError:
            overrides["perceptual_weights"] = perceptual.RANDOM
    hp = spec.hparams(overrides)
    gan = module.build(hp)
    rng = np.random.default_rng(0)
    batch = {role: tf.constant(rng.uniform(-1, 1, (hp.batch_size, *shape)).astype("float32"))
             for role, shape in module.input_shapes(hp).items()}
    step = tf.function(gan.train_step, jit_compile=False)
    specs = {k: tf.TensorSpec(v.shape, v.dtype) for k, v in batch.items()}
    flops = graph_flops(step.get_concrete_function(specs))
    seconds = best_time(lambda: {k: v.numpy() for k, v in step(batch).items()}, repeats, steps)
    return {"gan": name, "image_size": hp.image_size, "channels": hp.channels,
            "batch": hp.batch_size, "gflop_per_step": flops / 1e9,
            "steps_per_s": 1 / seconds, "gflops": flops / seconds / 1e9,
            "params": int(sum(np.prod(v.shape) for v in gan.trainable_variables))}


def forward_variants(repeats: int) -> list[dict]:
    fp32 = unet_forward("float32", repeats)
    bf16 = unet_forward("mixed_bfloat16", repeats)
    diff = float(np.max(np.abs(fp32.pop("output") - bf16.pop("output"))))
    bf16["max_abs_diff_vs_float32"] = diff
    return [fp32, bf16]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gans", nargs="*", default=sorted(BENCH_BATCH))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="train steps per timed repeat")
    parser.add_argument("--forward-only", action="store_true")
    parser.add_argument("--no-subprocess", action="store_true",
                        help="skip the oneDNN-disabled forward pass (a separate process)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "bench_gans.json"))
    args = parser.parse_args(argv)

    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "tensorflow": tf.__version__, "keras": keras.__version__,
                          "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")}}
    ceiling = matmul_ceiling(tf.float32, args.repeats)
    result["ceiling_gflops"] = {"float32": ceiling,
                                "bfloat16": matmul_ceiling(tf.bfloat16, args.repeats)}
    forward = forward_variants(args.repeats)
    if not args.no_subprocess and os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0")
        tmp = pathlib.Path(args.out).with_suffix(".onednn_off.json")
        subprocess.run([sys.executable, __file__, "--forward-only", "--no-subprocess",
                        "--repeats", str(args.repeats), "--out", str(tmp)], env=env, check=True)
        off = json.loads(tmp.read_text())
        for row in off["forward"]:
            row["policy"] += " (oneDNN off)"
            row["pct_of_float32_ceiling"] = 100 * row["gflops"] / ceiling
            forward.append(row)
    for row in forward:
        row.setdefault("pct_of_float32_ceiling", 100 * row["gflops"] / ceiling)
    result["forward"] = forward
    if not args.forward_only:
        rows = []
        for name in args.gans:
            row = gan_step(name, args.repeats, args.steps)
            row["pct_of_float32_ceiling"] = 100 * row["gflops"] / ceiling
            rows.append(row)
            print(json.dumps(row), flush=True)
            keras.backend.clear_session()
        result["train"] = rows
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nceiling: float32 {ceiling:.1f} GFLOP/s, bfloat16 "
          f"{result['ceiling_gflops']['bfloat16']:.1f} GFLOP/s")
    print("pix2pix U-Net forward, 256x256x1, batch 1:")
    for r in forward:
        print(f"  {r['policy']:<28} {r['images_per_s']:6.2f} img/s {r['gflops']:7.1f} GFLOP/s "
              f"{r['pct_of_float32_ceiling']:5.1f}% of float32 ceiling (best); median "
              f"{r['median_pct_of_adjacent_float32_ceiling']:5.1f}% of an adjacent probe")
    for r in result.get("train", []):
        print(f"  {r['gan']:<18} {r['image_size']}x{r['image_size']}x{r['channels']} batch "
              f"{r['batch']:<4} {r['steps_per_s']:7.3f} steps/s {r['gflop_per_step']:8.1f} "
              f"GFLOP/step {r['gflops']:7.1f} GFLOP/s {r['pct_of_float32_ceiling']:5.1f}%")
    print(f"written {out}")


if __name__ == "__main__":
    main()

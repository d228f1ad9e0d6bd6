"""Can any small network improve the biharmonic fill on the inpainting data?

    nice -n 10 .venv/bin/python bench/bench_inpainting_refine.py --count 1024 --loss mse
    nice -n 10 .venv/bin/python bench/bench_inpainting_refine.py --count 1024 --loss log_mse

A control for pconv_inpainting, outside the pipeline: not the seed's
partial-convolution U-Net but a plain stack of dilated 3x3 convolutions
(dilations 1, 2, 4, 8, 4, 2, 1; receptive field 45 px) that reads the
converged biharmonic fill and the mask and adds a correction in the holes.
It trains on the train split of the demo data (``--count`` records, the
records and Transform graph of ``bench/bench_quality.py``) with fresh
stroke masks of the quick preset every step, on the hole MSE (``mse``) or
on the mean over images of log10 of each image's hole MSE (``log_mse``:
the per-image hole PSNR the gate averages). Every ``--every`` steps it
prints the mean hole PSNR on the evaluator's eval images and masks, its
gain over the fill it starts from and over scikit-image's fill.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

DILATIONS = (1, 2, 4, 8, 4, 2, 1)
FILL_ITERATIONS = 100      # CG steps: the converged fill (trainer.layers.harmonic_fill)
LOG_FLOOR = 1e-6


def refiner(width: int):
    import keras
    inp = keras.Input((None, None, 4))                      # fill [.., 3] + mask [.., 1]
    x = inp
    for d in DILATIONS:
        x = keras.layers.Conv2D(width, 3, padding="same", dilation_rate=d, activation="relu")(x)
    return keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same",
                                                kernel_initializer="zeros")(x))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, help="records of the demo dataset (default: demo-data's)")
    ap.add_argument("--loss", choices=["mse", "log_mse"], default="mse")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=500, help="score the eval images this often")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the scores here")
    args = ap.parse_args(argv)

    import keras
    import tensorflow as tf

    from bench.bench_inpainting_prior import evaluator_task
    from trainer import masks as MK
    from trainer import metrics as M
    from trainer.layers.harmonic_fill import biharmonic_fill

    _, hp, gate, train = evaluator_task(args.count)   # the evaluator's targets, masks, fill
    train = tf.constant(train)
    target, holes = gate.target, gate.holes
    masks = 1.0 - holes
    reference = M.masked_psnr(gate.candidates["biharmonic_fill"], target, holes)
    fill = biharmonic_fill(target * masks, masks, FILL_ITERATIONS).numpy()
    start = M.masked_psnr(np.clip(fill, -1, 1), target, holes)

    keras.utils.set_random_seed(args.seed)
    net = refiner(args.width)
    optimizer = keras.optimizers.Adam(1e-3)
    side = int(train.shape[1])

    @tf.function
    def step(i):
        idx = tf.random.stateless_uniform([args.batch], tf.stack([args.seed, i]), 0,
                                          tf.shape(train)[0],
                                          tf.int32)
        y = tf.gather(train, idx)
        params = MK.draw_mask_params(args.batch, tf.stack([args.seed + 1, i]), hp.max_masks,
                                     hp.max_size_ratio, hp.max_thickness)
        m = MK.rasterize_masks(params, side, side, hp.mask_type, hp.max_size_ratio)
        prior = biharmonic_fill(y * m, m, FILL_ITERATIONS)
        h = tf.broadcast_to(1.0 - m, tf.shape(y))
        with tf.GradientTape() as tape:
            out = prior + h * net(tf.concat([prior, m], -1), training=True)
            err = tf.reduce_sum(h * tf.square(out - y), axis=[1, 2, 3])
            count = tf.maximum(tf.reduce_sum(h, axis=[1, 2, 3]), 1.0)
            if args.loss == "mse":
                loss = tf.reduce_sum(err) / tf.reduce_sum(count)
            else:
                loss = tf.reduce_mean(tf.math.log(err / count + LOG_FLOOR))
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    rows = []

    def score(steps):
        correction = net.predict(np.concatenate([fill, masks], -1), verbose=0)
        p = M.masked_psnr(np.clip(fill + holes * correction, -1, 1), target, holes)
        row = {"steps": steps, "hole_psnr": float(p.mean()),
               "gain_over_fill": float(np.mean(p - start)),
               "gain_over_scikit_image": float(np.mean(p - reference))}
        rows.append(row)
        print(f"step {steps}: hole PSNR {row['hole_psnr']:.3f} dB; over the "
              f"{FILL_ITERATIONS}-step fill {row['gain_over_fill']:+.3f}, over scikit-image "
              f"{row['gain_over_scikit_image']:+.3f}", flush=True)

    print(f"{len(target)} eval images; scikit-image's fill {reference.mean():.3f} dB, the "
          f"{FILL_ITERATIONS}-step fill {start.mean():.3f}; loss {args.loss}", flush=True)
    score(0)
    for i in range(args.steps):
        step(tf.constant(i))
        if (i + 1) % args.every == 0 or i + 1 == args.steps:
            score(i + 1)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"count": args.count, "loss": args.loss, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

"""pix2pix quick-preset check: eval PSNR gain over the low-dose input for given
(steps, learning rate, seed) settings, trained in-process on a pipeline's
materialised Transform output.

    .venv/bin/python bench/quick_pix2pix.py outputs/pipeline/Transform_pix2pix_wgan_gp/transformed_examples \\
        300:1e-3:0 300:1e-3:1 600:5e-4:0 600:5e-4:1

Each setting is STEPS:LR:SEED; PSNR is tf.image.psnr on [-1, 1] images (data range 2),
averaged over the eval split. It scores the trained generator itself, in process: no
weight averaging and no self-ensemble, so not what the pipeline serves; for that, use
bench/bench_quality.py, which scores the exported model with the Evaluator's code.
"""
import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from trainer import registry  # noqa: E402


def main(root, settings):
    spec = registry.get("pix2pix_wgan_gp")
    quick = spec.presets().quick
    base_hp = spec.hparams(quick)
    shapes = spec.load().input_shapes(base_hp)
    feature_spec = {k: tf.io.FixedLenFeature(list(v), tf.float32) for k, v in shapes.items()}

    def load(split):
        files = glob.glob(os.path.join(root, "*", f"Split-{split}", "*"))
        ds = tf.data.TFRecordDataset(files, compression_type="GZIP").map(
            lambda r: tf.io.parse_single_example(r, feature_spec))
        rows = list(ds)
        return {k: tf.stack([r[k] for r in rows]) for k in feature_spec}

    train, evals = load("train"), load("eval")
    base = float(tf.reduce_mean(tf.image.psnr(evals["input"], evals["target"], 2.0)))
    for setting in settings:
        steps, lr, seed = setting.split(":")
        steps, lr, seed = int(steps), float(lr), int(seed)
        hp = spec.hparams({**quick, "g_learning_rate": lr,
                           "d_learning_rate": lr, "seed": seed})
        tf.keras.utils.set_random_seed(seed)
        model = spec.load().build(hp)
        ds = tf.data.Dataset.from_tensor_slices(train).shuffle(200, seed=seed).repeat() \
            .batch(hp.batch_size, drop_remainder=True)
        start = time.time()
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
        out = model.generator(evals["input"], training=False)
        psnr = float(tf.reduce_mean(tf.image.psnr(out, evals["target"], 2.0)))
        print(f"steps {steps} lr {lr} seed {seed}: psnr {psnr:.2f} vs input {base:.2f} "
              f"gain {psnr - base:+.2f} dB ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])

"""How an unconditional GAN's class shares move during training, and what
generator averages of one run make of them.

    nice -n 5 .venv/bin/python bench/bench_class_shares.py --gan dcgan --seeds 0 1
    .venv/bin/python bench/bench_class_shares.py --gan dcgan --seeds 0 --set '{"minibatch_std": 4}'

The quick preset's settings on the bundled digits (``bench_quality.Task``: the
demo records, the Transform graph, the transformed train split), trained with
the Trainer's ``fit_gan``. Every ``--every`` steps the raw generator draws
``--samples`` digits (``noise_from_seeds(0..n-1)``) and the evaluator's
domain classifier (``trainer.feature_extractors.train_domain_classifier``,
seed 0) labels them: the line shows the total variation between their class
shares and the train split's, and the most and least drawn digit. At the end
several averages of the generator's weights, all kept during the same run,
are scored the same way, with the Fréchet distance under the classifier's
features as a multiple of the real-vs-real floor (256 samples, as the gate):

* ``ema<d>w``: the preset's average (``trainer.callbacks.GeneratorEMA``'s
  update and warm-up ``min(d, (1+n)/(10+n))``);
* ``ema<d>@<s>``: an exponential average with decay ``d`` started at step ``s``;
* ``tail@<s>``: the uniform average of the weights after steps ``s``..end.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def averages(steps: int, ema: float) -> dict[str, tuple[str, float, int]]:
    """name -> (kind, decay, first step) of the averages kept side by side."""
    return {f"ema{ema:g}w": ("warm", ema, 1), f"ema0.999@{steps // 4}": ("ema", 0.999, steps // 4),
            f"ema0.998@{steps // 4}": ("ema", 0.998, steps // 4),
            f"tail@{steps // 2}": ("tail", 0.0, steps // 2),
            f"tail@{3 * steps // 4}": ("tail", 0.0, 3 * steps // 4)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gan", default="dcgan", choices=["dcgan", "vanilla_gan"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--set", default="{}",
                    help="JSON hyper-parameter overrides of the quick preset")
    ap.add_argument("--steps", type=int, help="train steps (default: the preset's)")
    ap.add_argument("--every", type=int, default=100, help="score the raw generator every N steps")
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--json", help="write every number here")
    args = ap.parse_args(argv)

    import keras
    import tensorflow as tf

    from bench_quality import Task, one_pass, train_dataset
    from tfx_pipeline.configs import QUICK, preset_runs
    from trainer import distribute
    from trainer import evaluation as E
    from trainer import feature_extractors as FX
    from trainer import failure_modes as FM
    from trainer import features as F
    from trainer.gans.unconditional import noise_from_seeds
    from trainer.task import build_model, fit_gan

    run = next(iter(preset_runs(QUICK, "/unused", gans=[args.gan],
                                hparams={args.gan: json.loads(args.set)})))
    steps = args.steps or run.train_steps
    work = tempfile.mkdtemp(prefix="bench_class_shares_")
    task = Task(run, work)
    key, lab = F.transformed_key(F.IMAGE), F.TRANSFORMED_LABEL
    train = E.transform_records(task.tft_output, task.train_records)
    real = E.transform_records(task.tft_output, task.eval_records)
    clf = FX.train_domain_classifier(train[key], train[lab], real[key], real[lab], "digits", seed=0)
    classes = clf.details["classes"]
    latent_dim = run.spec.hparams(run.hparams).latent_dim
    f_real = clf.embed(real[key][:256])
    rng = np.random.default_rng(0)
    floor = E.distribution_metrics(
        clf.embed(train[key][rng.choice(len(train[key]), 256, replace=False)]), f_real, 0)["fd"]

    def score(generator, n):
        z = noise_from_seeds(tf.range(n, dtype=tf.int64), latent_dim)
        images = generator(z, training=False).numpy()
        coverage = FM.class_coverage(clf.classify(images), train[lab], classes)
        least = int(np.argmin(coverage["generated"]))
        out = {"tv": coverage["tv"], "top": coverage["top_class"],
               "top_share": coverage["top_share"], "least": least,
               "least_share": coverage["generated"][least]}
        if n >= 256:
            fd = E.distribution_metrics(clf.embed(images[:256]), f_real, 0)["fd"]
            out["fd_x_floor"] = float(fd / floor)
        return out

    kinds = averages(steps, run.ema_decay or 0.995)

    class Watch(keras.callbacks.Callback):
        """Raw-generator scores every ``args.every`` steps; the averages after every step."""

        def on_train_begin(self, logs=None):
            self.weights = [w for w in self.model.generator.weights
                            if tf.as_dtype(w.dtype).is_floating]
            self.avg = {k: [np.array(w) for w in self.weights] for k in kinds}
            self.count = {k: 0 for k in kinds}
            self.step, self.trajectory = 0, []

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            current = None
            for name, (kind, decay, start) in kinds.items():
                if self.step < start:
                    continue
                current = current or [np.array(w) for w in self.weights]
                self.count[name] += 1
                n = self.count[name]
                d = {"warm": min(decay, (1 + n) / (10 + n)), "ema": decay if n > 1 else 0.0,
                     "tail": (n - 1) / n}[kind]
                self.avg[name] = [d * a + (1 - d) * c for a, c in zip(self.avg[name], current)]
            if self.step % args.every == 0:
                s = score(self.model.generator, args.samples)
                self.trajectory.append({"step": self.step, **s})
                print(f"  step {self.step}: TV {s['tv']:.3f}; most drawn {s['top']} "
                      f"({s['top_share']:.0%}), least {s['least']} ({s['least_share']:.0%})",
                      flush=True)

    rows = []
    for seed in args.seeds:
        hp = run.spec.hparams({**run.hparams, "seed": seed})
        model = build_model(run.spec.load(), hp, distribute.get_strategy("default"))
        ds = train_dataset(task, hp.batch_size, seed)
        watch = Watch()
        print(f"{args.gan} seed {seed}, {steps} steps, overrides {args.set}", flush=True)
        out = os.path.join(work, f"seed{seed}")
        fit_gan(model, run.spec.kind, ds, {k: v[:8] for k, v in task.train.items()},
                train_steps=steps, steps_per_epoch=min(run.steps_per_epoch, steps),
                backup_dir=os.path.join(out, "backup"), log_dir=os.path.join(out, "logs"),
                verbose=0, name=args.gan, callbacks=[watch],
                adapt_data=one_pass(task))
        n_final = max(args.samples, 256)  # the FD takes 256, as the gate
        final = {"raw": score(model.generator, n_final)}
        raw = [np.array(w) for w in watch.weights]
        for name in kinds:
            for w, a in zip(watch.weights, watch.avg[name]):
                w.assign(a)
            final[name] = score(model.generator, n_final)
        for w, a in zip(watch.weights, raw):
            w.assign(a)
        for name, s in final.items():
            print(f"  {name:14s} TV {s['tv']:.3f}  FD {s['fd_x_floor']:.2f}x real-vs-real",
                  flush=True)
        rows.append({"seed": seed, "trajectory": watch.trajectory, "final": final})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"gan": args.gan, "overrides": json.loads(args.set), "steps": steps,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

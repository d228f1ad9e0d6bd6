"""Quality of every GAN's quick preset over several seeds, against every baseline
of its task and against its supervised twin.

    nice -n 10 .venv/bin/python bench/bench_quality.py                       # all GANs, seeds 0 1 2
    .venv/bin/python bench/bench_quality.py --gans pix2pix_wgan_gp --seeds 0 \\
        --set pix2pix_wgan_gp:residual=true --ema pix2pix_wgan_gp=0.999 --json /tmp/q.json

For each GAN: the bundled demo data of its task (``tfxgan demo-data`` defaults:
the same records and the same 20 % eval split by record id), decoded to [-1, 1]
as the Transform graph does (``bench_baselines.unit``); the model built from the
registry with the quick preset (``PRESETS.quick``, ``quick_train_steps``) and
``fit()`` in-process on the train split, one seed per run; the generator scored on
the eval split with the evaluator's own functions - ``trainer.evaluation.gate_images``
(paired, inpainting: every baseline, the per-image gain over the strongest with
its bootstrap interval, the blessing decision) or the unconditional path's
pieces (domain-classifier features, ``fd_fraction``, class coverage and total
variation, the decision). ``twin`` is the same generator trained on the pixel
loss only (``PRESETS.twin``: adversarial weight 0), same data, same steps - a
benchmark, not a gate. Numbers can differ a little from a pipeline run's: the
eval records are in id order here, in shard order there.

Prints one line per run and a mean ± std table; ``--json`` keeps every number.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from bench.bench_baselines import NLM_PAIRS, load  # noqa: E402
from trainer import features as F  # noqa: E402
from trainer import registry  # noqa: E402

ALL = ("pix2pix_wgan_gp", "pconv_inpainting", "srrescycgan", "dcgan", "vanilla_gan")
MAX_EVAL = 256  # EvalConfig.max_examples


def parse_overrides(items: list[str]) -> dict[str, dict]:
    """['gan:key=value', ...] -> {gan: {key: json value (or the string)}}."""
    out: dict[str, dict] = {}
    for item in items:
        try:
            gan, assignment = item.split(":", 1)
            key, value = assignment.split("=", 1)
        except ValueError:
            raise SystemExit(f"--set wants GAN:KEY=VALUE, received {item!r}") from None
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(gan, {})[key] = tuple(parsed) if isinstance(parsed, list) else parsed
    return out


def parse_per_gan(items: list[str], cast) -> dict[str, object]:
    out = {}
    for item in items:
        gan, _, value = item.partition("=")
        if not value:
            raise SystemExit(f"expected GAN=VALUE, received {item!r}")
        out[gan] = cast(value)
    return out


class Task:
    """The data, baselines and scoring of one GAN's task, computed once for all seeds."""

    def __init__(self, gan: str, hp):
        from trainer import evaluation as E
        self.gan, self.spec = gan, registry.get(gan)
        self.kind = self.spec.kind
        is_ct = self.spec.dataset == "ct"
        roles = self.spec.roles
        data = load(self.spec.dataset, roles, is_ct=is_ct)
        self.train, self.eval = data["train"], data["eval"]
        shapes = self.spec.load().input_shapes(hp)
        for role in roles:
            got = self.train[role].shape[1:]
            if tuple(got) != tuple(shapes[role]):
                raise SystemExit(f"{gan}: demo {role} images are {got}, the quick preset "
                                 f"expects {shapes[role]}")
        self.holes = None
        self.config = E.blessing.EvalConfig()
        if self.kind == registry.UNCONDITIONAL:
            self._unconditional_setup()
        elif self.kind == registry.INPAINTING:
            from trainer import baselines as B
            from trainer.masks import fixed_masks
            target = self.eval[F.IMAGE][:MAX_EVAL]
            masks = fixed_masks(len(target), target.shape[1], seed=self.config.seed,
                                mask_type=hp.mask_type, max_masks=hp.max_masks,
                                max_size_ratio=hp.max_size_ratio,
                                max_thickness=hp.max_thickness).numpy()
            self.target, self.masks, self.holes = target, masks, 1.0 - masks
            self.baselines = {"biharmonic_fill": B.biharmonic_fill(target, masks),
                              "mean_fill": B.mean_fill(target, masks)}
        else:
            inp, target = self.eval[F.INPUT][:MAX_EVAL], self.eval[F.TARGET][:MAX_EVAL]
            pairs = (self.train[F.INPUT][:NLM_PAIRS], self.train[F.TARGET][:NLM_PAIRS])
            self.baselines, _, _, self.details = E.paired_baselines(inp, target, is_ct, pairs)
            self.inp, self.target = inp, target
        self.ct_window = F.DEFAULT_CT_WINDOW if is_ct else None

    def _unconditional_setup(self):
        from trainer import baselines as B
        from trainer import evaluation as E
        from trainer import feature_extractors as FX
        cfg = self.config
        real = self.eval[F.IMAGE][:MAX_EVAL]
        train = self.train[F.IMAGE]
        self.real, n = real, len(real)
        labels = (self.train["label"], self.eval["label"][:MAX_EVAL])
        self.extractor = FX.distribution_extractor(train, labels[0], real, labels[1],
                                                   self.spec.dataset, seed=cfg.seed)
        self.classifier = self.extractor if self.extractor.classify is not None else (
            FX.train_domain_classifier(train, labels[0], real, labels[1], self.spec.dataset,
                                       seed=cfg.seed))
        rng = np.random.default_rng(cfg.seed)
        floor_images = train[rng.choice(len(train), min(n, len(train)), replace=False)]
        noise = B.uniform_noise(n, real.shape[1:], seed=cfg.seed)
        self.f_real = self.extractor.embed(real)
        self.floor = E.distribution_metrics(self.extractor.embed(floor_images), self.f_real, cfg.seed)
        self.ceiling = E.distribution_metrics(self.extractor.embed(noise), self.f_real, cfg.seed)
        self.baselines = {"real_vs_real_fd": self.floor["fd"], "real_vs_noise_fd": self.ceiling["fd"]}

    # ------------------------------------------------------------- generate
    def generated(self, model, hp) -> np.ndarray:
        import tensorflow as tf
        g = model.generator
        batches = lambda xs: [xs[i:i + 64] for i in range(0, len(xs), 64)]  # noqa: E731
        if self.kind == registry.UNCONDITIONAL:
            z = self.spec.load().noise_from_seeds(tf.range(len(self.real), dtype=tf.int64),
                                                  hp.latent_dim)
            return np.concatenate([g(b, training=False).numpy() for b in batches(z.numpy())])
        if self.kind == registry.INPAINTING:
            from trainer.gans.pconv_inpainting import composite
            out = []
            for x, m in zip(batches(self.target), batches(self.masks)):
                pred = g([x * m, m], training=False)
                out.append(composite(pred, x, m).numpy())
            return np.concatenate(out)
        return np.concatenate([g(b, training=False).numpy() for b in batches(self.inp)])

    # ---------------------------------------------------------------- score
    def score(self, images: np.ndarray) -> dict:
        from trainer import blessing
        from trainer import evaluation as E
        from trainer import failure_modes as FM
        if self.kind == registry.UNCONDITIONAL:
            cfg = self.config
            m = E.distribution_metrics(self.extractor.embed(images), self.f_real, cfg.seed)
            m["fd_fraction"] = blessing.fd_fraction(m["fd"], self.floor["fd"], self.ceiling["fd"])
            m["fd_ratio"] = m["fd"] / self.floor["fd"]
            clf = self.classifier
            classes = clf.details["classes"]
            cov = FM.class_coverage(clf.classify(images), self.train["label"], classes,
                                    cfg.min_class_share_ratio)
            checks = FM.mode_collapse_checks(cov, cfg, self.spec.dataset)
            m["classes_covered"], m["class_tv"] = cov["covered"], cov["tv"]
            decision = blessing.decide(registry.UNCONDITIONAL, m,
                                       {"fd_real_vs_real": self.floor["fd"],
                                        "fd_real_vs_noise": self.ceiling["fd"]},
                                       None, cfg, failure_checks=checks)
            return {"primary": "fd_fraction", "value": m["fd_fraction"], "metrics": m,
                    "blessed": decision.blessed, "reasons": decision.reasons}
        metrics, decision, _ = E.gate_images(self.kind, images, self.target, self.baselines,
                                             self.config, holes=self.holes,
                                             ct_window=self.ct_window)
        primary = "hole_psnr" if self.holes is not None else "psnr"
        gain = decision.gain
        return {"primary": primary, "value": metrics[E.CANDIDATE][primary],
                "baselines": {k: v[primary] for k, v in metrics[E.BASELINES].items()},
                "gain": dataclasses.asdict(gain) if gain else None,
                "blessed": decision.blessed, "reasons": decision.reasons}


def train(gan: str, overrides: dict, steps: int, seed: int, task: Task, ema: float):
    import tempfile

    import tensorflow as tf
    from trainer.callbacks import GeneratorEMA
    from trainer.failure_modes import TrainingHealth
    spec = registry.get(gan)
    hp = spec.hparams({**overrides, "seed": seed})
    tf.keras.utils.set_random_seed(seed)
    model = spec.load().build(hp)
    ds = tf.data.Dataset.from_tensor_slices({r: task.train[r] for r in spec.roles})
    ds = ds.shuffle(len(task.train[spec.roles[0]]), seed=seed).repeat() \
        .batch(hp.batch_size, drop_remainder=True).prefetch(2)
    health = TrainingHealth(tempfile.mkdtemp(prefix="bench_quality_"))
    callbacks = [health] + ([GeneratorEMA(ema)] if ema else [])
    per_epoch = min(steps, 100)  # the health detectors run at epoch ends
    start = time.monotonic()
    model.fit(ds, epochs=-(-steps // per_epoch), steps_per_epoch=per_epoch, verbose=0,
              callbacks=callbacks)
    findings = [f.message for f in health.findings if f.detected]
    return model, hp, time.monotonic() - start, findings


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gans", nargs="+", default=list(ALL), choices=sorted(registry.GANS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--variants", nargs="+", default=["gan", "twin"], choices=["gan", "twin"])
    ap.add_argument("--set", nargs="*", default=[], metavar="GAN:KEY=VALUE",
                    help="hyper-parameter override on top of the quick preset (JSON value)")
    ap.add_argument("--steps", nargs="*", default=[], metavar="GAN=N",
                    help="train steps (default: the preset's quick_train_steps)")
    ap.add_argument("--ema", nargs="*", default=[], metavar="GAN=DECAY",
                    help="generator weight averaging decay (0 = off; default: PRESETS.quick_ema_decay)")
    ap.add_argument("--json", help="write every run's numbers here")
    args = ap.parse_args(argv)
    extra = parse_overrides(args.set)
    steps_by = parse_per_gan(args.steps, int)
    ema_by = parse_per_gan(args.ema, float)

    rows = []
    for gan in args.gans:
        spec = registry.get(gan)
        presets = spec.presets()
        quick = {**presets.quick, **extra.get(gan, {})}
        steps = steps_by.get(gan, presets.quick_train_steps)
        ema = ema_by.get(gan, presets.quick_ema_decay)
        t0 = time.monotonic()
        task = Task(gan, spec.hparams(quick))
        print(f"{gan}: data and baselines in {time.monotonic() - t0:.0f} s; "
              f"{len(task.train[spec.roles[0]])} train / {len(task.eval[spec.roles[0]])} eval "
              f"images; {steps} steps, EMA {ema or 'off'}, overrides {extra.get(gan, {})}",
              flush=True)
        for variant in args.variants:
            if variant == "twin" and presets.twin is None:
                continue
            overrides = {**quick, **(presets.twin if variant == "twin" else {})}
            for seed in args.seeds:
                model, hp, seconds, findings = train(gan, overrides, steps, seed, task, ema)
                result = task.score(task.generated(model, hp))
                result.update(gan=gan, variant=variant, seed=seed, steps=steps, ema=ema,
                              train_s=round(seconds, 1), overrides=extra.get(gan, {}),
                              training_findings=findings)
                rows.append(result)
                gain = result.get("gain")
                more = (f" gain over {gain['baseline']} {gain['mean']:+.2f} "
                        f"[{gain['low']:+.2f}, {gain['high']:+.2f}]" if gain else
                        f" fd x{result['metrics']['fd_ratio']:.2f} of real-vs-real, "
                        f"{result['metrics']['classes_covered']} classes, "
                        f"TV {result['metrics']['class_tv']:.3f}"
                        if task.kind == registry.UNCONDITIONAL else "")
                base = (" vs " + ", ".join(f"{k} {v:.2f}" for k, v in result["baselines"].items())
                        if "baselines" in result else "")
                print(f"  {gan} {variant} seed {seed}: {result['primary']} {result['value']:.3f}"
                      f"{base};{more}; {'BLESSED' if result['blessed'] else 'refused'} "
                      f"({seconds:.0f} s train)"
                      + "".join(f"\n    training: {m}" for m in findings), flush=True)
                del model
    print()
    print("| GAN | variant | primary | mean ± std | blessed | baselines |")
    print("|---|---|---|---|---|---|")
    for gan in args.gans:
        for variant in args.variants:
            mine = [r for r in rows if r["gan"] == gan and r["variant"] == variant]
            if not mine:
                continue
            values = np.array([r["value"] for r in mine])
            base = mine[0].get("baselines")
            btxt = ", ".join(f"{k} {v:.2f}" for k, v in base.items()) if base else \
                f"classes {[r['metrics']['classes_covered'] for r in mine]}, " \
                f"TV {[round(r['metrics']['class_tv'], 3) for r in mine]}, " \
                f"FD x{[round(r['metrics']['fd_ratio'], 2) for r in mine]}"
            print(f"| {gan} | {variant} | {mine[0]['primary']} | {values.mean():.3f} ± "
                  f"{values.std(ddof=1) if len(values) > 1 else 0:.3f} | "
                  f"{sum(r['blessed'] for r in mine)}/{len(mine)} | {btxt} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=float)


if __name__ == "__main__":
    main()

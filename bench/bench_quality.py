"""Quality of every GAN's quick preset over several seeds, against every baseline
of its task and against its supervised twin, judged by the pipeline's own gate.

    nice -n 10 .venv/bin/python bench/bench_quality.py --json /tmp/bench_quality.json
    .venv/bin/python bench/bench_quality.py --gans pix2pix_wgan_gp --seeds 0 --variants gan \\
        --set pix2pix_wgan_gp:full_res_filters=16 --ema pix2pix_wgan_gp=0.99

Per GAN, the main job's settings (``tfx_pipeline.configs.preset_runs("quick")``:
the quick preset's hyper-parameters, steps and generator averaging, the
evaluation thresholds) on the bundled demo data of its task (``tfxgan
demo-data`` defaults: the same records and 20 % eval split), without a pipeline
run: the records are written as ImportExampleGen's output, the Transform graph
of ``preprocessing_fn`` is analysed on the train split (``tfx_pipeline.offline``),
the model is built from the registry and trained with the Trainer's
``fit_gan`` on the transformed train split, exported with
``trainer.export.export_generator`` and scored by
``trainer.evaluation.evaluate`` - the GanEvaluator's code: every baseline, the
per-image gain over the strongest with its bootstrap interval, the failure
modes, the blessing decision. ``twin`` is the same generator trained on the
pixel loss only (``PRESETS.twin``: adversarial weight 0), same data, same steps
- reported beside the GAN, not gated.

Prints one line per run and a mean ± std table; ``--json`` keeps every number.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from bench import harness  # noqa: E402
from trainer import registry  # noqa: E402
from trainer.config import DEFAULT_STRATEGY, MIRRORED  # noqa: E402

ALL = ("pix2pix_wgan_gp", "pconv_inpainting", "srrescycgan", "dcgan", "vanilla_gan")
# Extra numbers reported when the evaluator measured them (unconditional GANs).
EXTRAS = ("class_coverage", "class_tv", "fd", "ssim")


def parse_overrides(items: list[str]) -> dict[str, dict]:
    """['gan:key=value', ...] -> {gan: {key: JSON value (or the string)}}."""
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
    """One GAN's data, Transform graph and records, prepared once for all its runs."""

    def __init__(self, run, work: str, count: int | None = None):
        import tensorflow_transform as tft

        from tfx_pipeline.ingest.demo_data import DemoOptions, items_for
        from tfx_pipeline.ingest.records import example_id
        from tfx_pipeline.offline import write_examples, write_transform_graph
        from trainer import evaluation as E
        from trainer import features as F
        self.run, self.spec = run, run.spec
        root = os.path.join(work, run.gan)
        examples = write_examples(items_for(self.spec.dataset, DemoOptions(count=count)), root)
        shapes = {r: list(s) for r, s in
                  self.spec.load().input_shapes(self.spec.hparams(run.hparams)).items()}
        graph = write_transform_graph(examples, shapes, run.bit_depth,
                                      os.path.join(root, "transform"), ct_window=run.ct_window)
        self.tft_output = tft.TFTransformOutput(graph)
        self.train_records = E.read_records(str(examples), "train")
        self.eval_records = E.read_records(str(examples), "eval")
        self.eval_ids = [example_id(r) for r in self.eval_records]
        data = E.transform_records(self.tft_output, self.train_records)
        self.train = {r: data[F.transformed_key(r)] for r in self.spec.roles}
        self.root = root


def train_dataset(task: Task, batch_size: int, seed: int):
    """The transformed train split, reshuffled each epoch from ``seed``, repeated, batched."""
    import tensorflow as tf
    n = len(task.train[task.spec.roles[0]])
    return tf.data.Dataset.from_tensor_slices(task.train).shuffle(n, seed=seed).repeat() \
        .batch(batch_size, drop_remainder=True).prefetch(2)


def one_pass(task: Task):
    """The transformed train split once, in order: ``fit_gan``'s ``adapt_data``."""
    import tensorflow as tf
    return tf.data.Dataset.from_tensor_slices(task.train).batch(256)


def serving_ms_per_image(model_dir: str, spec, hp, is_ct: bool, batch: int = 16,
                         repeats: int = 5) -> float:
    """Milliseconds per image of the exported ``serving_default`` (decode, generator,
    encode) on a batch of ``batch`` seeded random inputs: the median of ``repeats`` warm
    calls. What a self-ensemble (``HParams.self_ensemble``) costs shows here."""
    import tensorflow as tf

    from trainer import features as F
    from trainer import kinds
    kind = kinds.get(spec.kind)
    shape = spec.load().input_shapes(hp)[kind.generator_role] if kind.generator_role else ()
    request = {k: tf.constant(v) for k, v in
               kind.request(batch, shape, bit_depth=16 if is_ct else 8).items()}
    serve = tf.saved_model.load(model_dir).signatures[F.SERVING_SIGNATURE]
    stats = harness.measure(lambda: serve(**request), warmup=1, repeats=repeats)
    return round(stats.median * 1000.0 / batch, 2)


def train_and_score(task: Task, overrides: dict, steps: int, seed: int, ema: float, tag: str,
                    strategy: str = DEFAULT_STRATEGY):
    import tensorflow as tf

    from trainer import evaluation as E
    from trainer import distribute, export, kinds
    from trainer.failure_modes import read_training_health
    from trainer.task import build_model, fit_gan
    run, spec = task.run, task.spec
    overrides = {**overrides, "seed": seed}
    hp = spec.hparams(overrides)
    strategy = distribute.get_strategy(strategy)
    model = build_model(spec.load(), hp, strategy)  # seeded as the Trainer
    ds = train_dataset(task, hp.batch_size, seed)
    eval_batch = {r: v[:8] for r, v in task.train.items()}
    out = os.path.join(task.root, tag)
    log_dir = os.path.join(out, "logs")
    start = time.monotonic()
    fit_gan(model, spec.kind, ds, eval_batch, train_steps=steps,
            steps_per_epoch=min(run.steps_per_epoch, steps), backup_dir=os.path.join(out, "backup"),
            log_dir=log_dir, verbose=0, name=spec.name, ema_decay=ema,
            adapt_data=one_pass(task))
    seconds = time.monotonic() - start
    findings = [f["message"] for f in read_training_health(log_dir) if f["detected"]]
    is_ct = kinds.get(spec.kind).is_ct(run.bit_depth)
    model_dir = os.path.join(out, "model")
    export.export_generator(spec.name, model.generator, hp, model_dir, task.tft_output,
                            is_ct=is_ct, ct_window=run.ct_window)
    result = E.evaluate(spec.name, model_dir, task.eval_records, task.tft_output, run.evaluation,
                        train_records=task.train_records, hparams=overrides,
                        ct_window=run.ct_window)
    serve_ms = serving_ms_per_image(model_dir, spec, hp, is_ct)
    primary = kinds.get(spec.kind).primary_metrics[0][0]
    candidate = result.metrics[E.CANDIDATE]
    gain = result.decision.gain
    reference = result.metrics.get(E.TRIVIAL) or {}
    return {
        "primary": primary, "value": candidate[primary],
        "baselines": {name: m.get(primary) for name, m in
                      (result.metrics.get(E.BASELINES) or {}).items()},
        "extras": {k: candidate[k] for k in EXTRAS if k in candidate},
        "fd_real_vs_real": reference.get("fd_real_vs_real"),
        "gain": None if gain is None else {"baseline": gain.baseline, "mean": gain.mean,
                                           "low": gain.low, "high": gain.high,
                                           "per_image": [[i, g] for i, g in
                                                         zip(task.eval_ids, gain.per_image)]},
        "blessed": result.decision.blessed, "reasons": result.decision.reasons,
        "training_findings": findings, "train_s": round(seconds, 1), "serve_ms": serve_ms,
    }


def describe(r: dict) -> str:
    parts = [f"{r['primary']} {r['value']:.3f}"]
    if r["baselines"]:
        parts.append("vs " + ", ".join(f"{k} {v:.2f}" for k, v in r["baselines"].items()))
    if r["gain"]:
        g = r["gain"]
        parts.append(f"gain over {g['baseline']} {g['mean']:+.2f} [{g['low']:+.2f}, {g['high']:+.2f}]")
    if r["fd_real_vs_real"]:
        parts.append(f"FD {r['extras']['fd']:.1f} = {r['extras']['fd'] / r['fd_real_vs_real']:.2f}x "
                     f"real-vs-real")
    if "class_coverage" in r["extras"]:
        parts.append(f"classes {r['extras']['class_coverage']:.0%}, TV {r['extras']['class_tv']:.3f}")
    parts.append("BLESSED" if r["blessed"] else "refused")
    parts.append(f"served in {r['serve_ms']:.1f} ms/image")
    return "; ".join(parts)


def table(rows: list[dict], gans, variants) -> list[str]:
    lines = ["| GAN | variant | primary metric, mean ± std | strongest baseline | gain (mean of "
             "seeds) | blessed | other |", "|---|---|---|---|---|---|---|"]
    for gan in gans:
        for variant in variants:
            mine = [r for r in rows if r["gan"] == gan and r["variant"] == variant]
            if not mine:
                continue
            values = np.array([r["value"] for r in mine], np.float64)
            std = values.std(ddof=1) if len(values) > 1 else 0.0
            base = ""
            if mine[0]["gain"]:
                name = mine[0]["gain"]["baseline"]
                base = f"{name} {mine[0]['baselines'][name]:.2f}"
            gains = [r["gain"]["mean"] for r in mine if r["gain"]]
            other = []
            if mine[0]["fd_real_vs_real"]:
                ratios = [r["extras"]["fd"] / r["fd_real_vs_real"] for r in mine]
                other.append("FD " + "/".join(f"{x:.1f}x" for x in ratios) + " real-vs-real")
            if "class_coverage" in mine[0]["extras"]:
                other.append("classes " + "/".join(
                    f"{round(r['extras']['class_coverage'] * 10)}" for r in mine) + " of 10, TV "
                    + "/".join(f"{r['extras']['class_tv']:.2f}" for r in mine))
            other.append(f"served in {np.mean([r['serve_ms'] for r in mine]):.1f} ms/image")
            lines.append(f"| {gan} | {variant} | {mine[0]['primary']} {values.mean():.3f} ± "
                         f"{std:.3f} | {base} | {np.mean(gains):+.2f} |" if gains else
                         f"| {gan} | {variant} | {mine[0]['primary']} {values.mean():.3f} ± "
                         f"{std:.3f} | {base} | |")
            lines[-1] += (f" {sum(r['blessed'] for r in mine)}/{len(mine)} | "
                          f"{'; '.join(other)} |")
    return lines


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
                    help="generator weight averaging decay (0 = off; default: the quick preset's)")
    ap.add_argument("--count", type=int,
                    help="records of each GAN's demo dataset (default: tfxgan demo-data's)")
    ap.add_argument("--work", help="folder for data, graphs and models (default: a temporary one)")
    ap.add_argument("--strategy", default=DEFAULT_STRATEGY, choices=[DEFAULT_STRATEGY, MIRRORED],
                    help="tf.distribute strategy to train under (the Trainer's default is "
                         "'mirrored'; 'default': one device, as the recorded tables)")
    ap.add_argument("--json", help="write every run's numbers here")
    args = ap.parse_args(argv)
    from tfx_pipeline.configs import QUICK, preset_runs
    extra = parse_overrides(args.set)
    steps_by = parse_per_gan(args.steps, int)
    ema_by = parse_per_gan(args.ema, float)
    work = args.work or tempfile.mkdtemp(prefix="bench_quality_")

    rows = []
    started = time.monotonic()
    for run in preset_runs(QUICK, "/unused", gans=args.gans, hparams=extra):
        presets = run.spec.presets()
        steps = steps_by.get(run.gan, run.train_steps)
        ema = ema_by.get(run.gan, run.ema_decay)
        t0 = time.monotonic()
        task = Task(run, work, args.count)
        print(f"{run.gan}: data and Transform graph in {time.monotonic() - t0:.0f} s; "
              f"{len(task.train_records)} train / {len(task.eval_records)} eval records; "
              f"{steps} steps, EMA {ema or 'off'}, extra overrides {extra.get(run.gan, {})}",
              flush=True)
        for variant in args.variants:
            if variant == "twin" and presets.twin is None:
                continue
            overrides = {**run.hparams, **(presets.twin if variant == "twin" else {})}
            for seed in args.seeds:
                r = train_and_score(task, overrides, steps, seed, ema, f"{variant}_{seed}",
                                    args.strategy)
                r.update(gan=run.gan, variant=variant, seed=seed, steps=steps, ema=ema,
                         strategy=args.strategy,
                         overrides=extra.get(run.gan, {}))
                rows.append(r)
                print(f"  {run.gan} {variant} seed {seed}: {describe(r)} ({r['train_s']:.0f} s "
                      f"train)" + "".join(f"\n    training: {m}" for m in r["training_findings"]),
                      flush=True)
    print(f"\n{len(rows)} runs in {(time.monotonic() - started) / 60:.1f} min\n")
    print("\n".join(table(rows, args.gans, args.variants)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=float)


if __name__ == "__main__":
    main()

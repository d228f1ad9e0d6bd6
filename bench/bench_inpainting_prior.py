"""What the inpainting generator adds to its classical-fill prior.

    nice -n 10 .venv/bin/python bench/bench_inpainting_prior.py
    .venv/bin/python bench/bench_quality.py --gans pconv_inpainting --seeds 0 \\
        --variants gan --work /tmp/pconv
    .venv/bin/python bench/bench_inpainting_prior.py \\
        --generator /tmp/pconv/pconv_inpainting/gan_0/model

pconv_inpainting's quick preset predicts a correction of the biharmonic fill
that ``trainer.layers.BiharmonicFill`` solves inside the generator
(``prior_iterations`` conjugate-gradient steps). This scores, on the
inpainting eval split as the pipeline's evaluator sees it (the records and
Transform graph of ``bench/bench_quality.py``, the first ``max_examples`` eval
records, the evaluation masks of the quick preset): scikit-image's
``inpaint_biharmonic`` (the gate's baseline), the TensorFlow fill after each
of ``--iterations`` steps with no network at all (clipped to [-1, 1], as the
generator's output layer does), and, with ``--generator``, an exported
generator. Each row gives the mean hole PSNR, the per-image gain over
scikit-image's fill with the gate's bootstrap interval
(``trainer.blessing.paired_gain``) and the mean gain over the preset's own
prior: for the generator, what training adds. Give ``--count`` as the
generator's ``bench_quality.py`` run did (both default to ``tfxgan
demo-data``'s), or its eval split is not the one scored here.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

GAN = "pconv_inpainting"


def evaluator_task(count: int | None):
    """The quick preset's inpainting run on ``count`` demo records, scored as the
    GanEvaluator scores it: (run, hparams, the evaluator's own inpainting task - its
    targets, masks, masked records and scikit-image's fill - on the first
    ``max_examples`` eval records, the transformed train images [N, S, S, C])."""
    from bench.bench_quality import Task
    from tfx_pipeline.configs import QUICK, preset_runs
    from trainer import evaluation as E
    from trainer import features as F

    run = preset_runs(QUICK, "/unused", gans=[GAN])[0]
    with tempfile.TemporaryDirectory(prefix="bench_inpainting_") as work:
        task = Task(run, work, count)
        records = list(task.eval_records[:run.evaluation.max_examples])   # as the evaluator
        data = E.transform_records(task.tft_output, records)
        train = task.train[F.transformed_key(F.IMAGE)]
    gate = E.inpainting_task(run.spec, records, data, run.evaluation, run.hparams)
    return run, run.spec.hparams(run.hparams), gate, train


def gain(per_image, reference, name, config) -> dict:
    from trainer.blessing import paired_gain
    g = paired_gain(per_image, reference, metric="hole_psnr", baseline_name=name, config=config)
    return {"mean": g.mean, "low": g.low, "high": g.high}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", nargs="+", type=int, default=[10, 30, 100, 300],
                    help="conjugate-gradient steps of the TensorFlow biharmonic fill")
    ap.add_argument("--count", type=int, help="records of the demo dataset (default: demo-data's)")
    ap.add_argument("--generator", help="an exported pconv_inpainting generator to score too")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)

    from trainer import evaluation as E
    from trainer import metrics as M
    from trainer.layers.harmonic_fill import biharmonic_fill

    run, hp, gate, _ = evaluator_task(args.count)
    target, holes = gate.target, gate.holes
    masks = 1.0 - holes                                                      # [N, S, S, 1]

    def score(images):
        return M.masked_psnr(masks * target + holes * np.clip(images, -1, 1), target, holes)

    reference = score(gate.candidates["biharmonic_fill"])
    fills = {"scikit-image inpaint_biharmonic": reference}
    for n in sorted(set(args.iterations) | {hp.prior_iterations}):
        fills[f"TF biharmonic fill, {n} CG steps"] = score(
            biharmonic_fill(target * masks, masks, n).numpy())
    prior = fills[f"TF biharmonic fill, {hp.prior_iterations} CG steps"]
    if args.generator:
        fills[f"generator {args.generator}"] = score(E.generate(args.generator, gate.feed))
    print(f"{len(target)} eval images; the quick preset's prior: {hp.prior_iterations} CG steps")
    print("| fill | hole PSNR dB | gain over scikit-image [95% CI] | gain over the prior |")
    print("|---|---|---|---|")
    rows = []
    for name, per_image in fills.items():
        row = {"fill": name, "hole_psnr": float(np.mean(per_image)),
               "gain": gain(per_image, reference, "biharmonic_fill", run.evaluation),
               "gain_over_prior": gain(per_image, prior, "prior", run.evaluation)}
        rows.append(row)
        g, p = row["gain"], row["gain_over_prior"]
        print(f"| {name} | {row['hole_psnr']:.3f} | {g['mean']:+.2f} [{g['low']:+.2f}, "
              f"{g['high']:+.2f}] | {p['mean']:+.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"images": len(target), "count": args.count,
                       "prior_iterations": hp.prior_iterations, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

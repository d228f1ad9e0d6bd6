"""What the evaluator's classical baselines score on the bundled demo data.

    nice -n 10 .venv/bin/python bench/bench_baselines.py [ct] [inpainting] [sr]

On the eval split of the demo datasets (``tfxgan demo-data`` defaults: the
same records, the same 20 % eval split by record id), with the evaluator's
own code: CT - the low-dose input and non-local means tuned on 8 train
pairs (trainer.baselines.tune_nlm), PSNR on the windowed [-1, 1] images;
inpainting - mean and biharmonic fill, PSNR inside the evaluation masks
of the pconv quick preset; super-resolution - bicubic and Lanczos-3; digits
- the class coverage and total variation to the train class histogram of
256 real eval digits under the evaluator's domain classifier (the scale of
EvalConfig.max_class_tv), and of real digits re-sampled so that one class
is a third of the samples.
PSNR is tf.image.psnr with data range 2, averaged over the eval images.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfx_pipeline.ingest.demo_data import DemoOptions, DATASETS  # noqa: E402
from tfx_pipeline.ingest.records import split_of  # noqa: E402
from trainer import baselines as B  # noqa: E402
from trainer import features as F  # noqa: E402
from trainer import metrics as M  # noqa: E402

EVAL_FRACTION = 0.2          # tfx_pipeline.ingest.writer's default
NLM_PAIRS = 8                # trainer.blessing.EvalConfig.nlm_tuning_pairs


def unit(decoded, is_ct):
    """A Decoded image -> [-1, 1] as the Transform graph computes it (trainer.preprocessing)."""
    stored = decoded.pixels.astype(np.float64)
    if is_ct:
        level, width = F.DEFAULT_CT_WINDOW
        hu = stored * decoded.value_scale + decoded.value_offset
        x = np.clip((hu - (level - width / 2.0)) / width, 0.0, 1.0)
    else:
        x = stored / (2.0 ** decoded.bit_depth - 1.0)
    return (x * 2.0 - 1.0).astype(np.float32)


def load(dataset, roles, is_ct=False):
    splits = {"train": {r: [] for r in (*roles, "label")},
              "eval": {r: [] for r in (*roles, "label")}}
    for item in DATASETS[dataset](DemoOptions(eval_fraction=EVAL_FRACTION)):
        record = item.load()
        split = splits[item.split or split_of(record.id, EVAL_FRACTION)]
        for role in roles:
            split[role].append(unit(record.images[role], is_ct))
        split["label"].append(record.label)
    return {s: {r: np.stack(v) for r, v in d.items()} for s, d in splits.items()}


def mean_psnr(images, target, holes=None):
    values = M.masked_psnr(images, target, holes) if holes is not None else M.psnr(images, target)
    return float(np.mean(values))


def ct():
    data = load("ct", (F.INPUT, F.TARGET), is_ct=True)
    train, ev = data["train"], data["eval"]
    start = time.monotonic()
    params, tuning = B.tune_nlm(train[F.INPUT][:NLM_PAIRS], train[F.TARGET][:NLM_PAIRS])
    nlm = B.nlm_denoise(ev[F.INPUT], params)
    print(f"ct: {len(ev[F.TARGET])} eval images; NLM {params.describe()} "
          f"(tuned on {tuning['pairs']} train pairs in {time.monotonic() - start:.1f} s)")
    print(f"  low-dose input PSNR {mean_psnr(ev[F.INPUT], ev[F.TARGET]):.2f} dB, "
          f"SSIM {float(np.mean(M.ssim(ev[F.INPUT], ev[F.TARGET]))):.3f}")
    print(f"  non-local means PSNR {mean_psnr(nlm, ev[F.TARGET]):.2f} dB, "
          f"SSIM {float(np.mean(M.ssim(nlm, ev[F.TARGET]))):.3f}")


def inpainting():
    from trainer import registry
    from trainer.masks import fixed_masks
    target = load("inpainting", (F.IMAGE,))["eval"][F.IMAGE]
    spec = registry.get("pconv_inpainting")
    hp = spec.hparams(spec.presets().quick)
    masks = fixed_masks(len(target), target.shape[1], seed=0, mask_type=hp.mask_type,
                        max_masks=hp.max_masks, max_size_ratio=hp.max_size_ratio,
                        max_thickness=hp.max_thickness).numpy()
    holes = 1.0 - masks
    start = time.monotonic()
    bih = B.biharmonic_fill(target, masks)
    print(f"inpainting: {len(target)} eval images (evaluation masks, seed 0); biharmonic fill "
          f"in {time.monotonic() - start:.1f} s")
    print(f"  mean fill hole PSNR {mean_psnr(B.mean_fill(target, masks), target, holes):.2f} dB")
    print(f"  biharmonic fill hole PSNR {mean_psnr(bih, target, holes):.2f} dB")


def sr():
    data = load("sr", (F.INPUT, F.TARGET))["eval"]
    size = data[F.TARGET].shape[1:3]
    print(f"sr: {len(data[F.TARGET])} eval images, {data[F.INPUT].shape[1]} -> {size[0]} px")
    for name, fn in (("bicubic", B.bicubic_upsample), ("lanczos3", B.lanczos_upsample)):
        print(f"  {name} PSNR {mean_psnr(fn(data[F.INPUT], size), data[F.TARGET]):.2f} dB")


def digits():
    from trainer import failure_modes as FM
    from trainer.feature_extractors import train_domain_classifier
    data = load("digits", (F.IMAGE,))
    train, ev = data["train"], data["eval"]
    ev_images, ev_labels = ev[F.IMAGE][:256], ev["label"][:256]
    clf = train_domain_classifier(train[F.IMAGE], train["label"], ev_images, ev_labels,
                                  "digits", seed=0)
    classes = clf.details["classes"]
    real = FM.class_coverage(clf.classify(ev_images), train["label"], classes)
    print(f"digits: {len(ev_images)} eval images; {clf.description}")
    print(f"  real eval digits: {real['covered']} of {real['num_classes']} classes, "
          f"TV to the train histogram {real['tv']:.3f}")
    rng = np.random.default_rng(0)
    third = np.concatenate([rng.choice(np.flatnonzero(ev_labels == 2), 86),
                            rng.choice(np.flatnonzero(ev_labels != 2), 170)])
    skew = FM.class_coverage(clf.classify(ev_images[third]), train["label"], classes)
    print(f"  real digits, class 2 a third of them: {skew['covered']} classes, TV {skew['tv']:.3f}")
    for k in (1, 3):
        keep = np.flatnonzero(np.isin(ev_labels, np.arange(k)))
        few = FM.class_coverage(clf.classify(ev_images[rng.choice(keep, 256)]), train["label"],
                                classes)
        print(f"  real digits of {k} class(es) only: {few['covered']} classes covered, "
              f"TV {few['tv']:.3f}")


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["ct", "inpainting", "sr", "digits"]
    for name in chosen:
        {"ct": ct, "inpainting": inpainting, "sr": sr, "digits": digits}[name]()

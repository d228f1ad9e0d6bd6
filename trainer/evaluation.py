"""Evaluate an exported generator on the eval split against its baselines.

This is the work of the ``GanEvaluator`` component
(:mod:`tfx_pipeline.components.evaluator`) on plain paths, without TFX:

1. read the raw eval records (ImportExampleGen's ``Split-eval``);
2. run the candidate SavedModel's ``serving_tf_example`` signature on them -
   the exact Transform graph + generator that TF Serving will run
   (inpainting records get fixed evaluation masks as ``mask_encoded``;
   unconditional GANs get one record per seed);
3. transform the same records with the Transform graph to get the targets /
   real images in [-1, 1];
4. compute the metrics of the candidate, of the task's baselines
   (:mod:`trainer.baselines`: the simple methods a user would otherwise use,
   chosen from the data - CT or not, input size vs target size) and, when
   given, of the latest blessed generator, on the same images with the same
   feature extractor; per image for the primary metric, and the GAN failure
   modes (:mod:`trainer.failure_modes`);
5. decide the blessing (:func:`trainer.blessing.decide`: a bootstrap
   interval of the per-image gain over the strongest baseline) and write
   ``metrics.json``, ``report.md``/``report.html`` with image panels, and
   TensorBoard summaries (:func:`write_outputs`).
"""
from __future__ import annotations

import dataclasses
import html
import json
import logging
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np

from trainer import blessing, kinds, registry
from trainer import features as F
from trainer.blessing import EvalConfig

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
PANELS_PNG = "panels.png"
TENSORBOARD_DIR = "tensorboard"
MASK_FEATURE = kinds.MASK_FEATURE   # what serving_tf_example reads besides the record
SEED_FEATURE = kinds.SEED_FEATURE
CANDIDATE, TRIVIAL, LATEST = "candidate", "trivial_baseline", "latest_blessed"
BASELINES = "baselines"         # metrics of every baseline of the gate, by name


# --------------------------------------------------------------------- inputs
def read_records(examples_dir: str, split: str, limit: int | None = None) -> list[bytes]:
    """Serialized tf.Examples of ``<examples_dir>/Split-<split>/*`` (GZIP when named *.gz)."""
    import tensorflow as tf
    files = sorted(tf.io.gfile.glob(os.path.join(examples_dir, f"Split-{split}", "*")))
    if not files:
        raise FileNotFoundError(f"no {split!r} records under {examples_dir}/Split-{split}/")
    out: list[bytes] = []
    for path in files:
        compression = "GZIP" if path.endswith(".gz") else ""
        for record in tf.data.TFRecordDataset(path, compression_type=compression):
            out.append(record.numpy())
            if limit is not None and len(out) >= limit:
                return out
    return out


def transform_records(tft_output, records: Sequence[bytes], batch: int = 64) -> dict[str, np.ndarray]:
    """Raw records -> the Transform outputs as numpy ({role: [N, H, W, C] in [-1, 1], label})
    plus ``modality`` [N] bytes."""
    import tensorflow as tf
    spec = tft_output.raw_feature_spec()
    parts: dict[str, list] = {}
    for i in range(0, len(records), batch):
        parsed = tf.io.parse_example(tf.constant(list(records[i:i + batch])), spec)
        out = tft_output.transform_raw_features(parsed, drop_unused_features=True)
        out = {k: v.numpy() for k, v in out.items() if not isinstance(v, tf.SparseTensor)}
        out[F.MODALITY] = tf.reshape(tf.sparse.to_dense(parsed[F.MODALITY])
                                     if isinstance(parsed[F.MODALITY], tf.SparseTensor)
                                     else parsed[F.MODALITY], [-1]).numpy()
        for k, v in out.items():
            parts.setdefault(k, []).append(v)
    return {k: np.concatenate(v, axis=0) for k, v in parts.items()}


def with_masks(records: Sequence[bytes], masks: np.ndarray) -> list[bytes]:
    """Each record with its mask [H, W, 1] (1 = known) added as a PNG ``mask_encoded``."""
    import tensorflow as tf
    out = []
    for record, mask in zip(records, masks):
        example = tf.train.Example.FromString(record)
        png = tf.io.encode_png(tf.cast(np.round(mask * 255.0), tf.uint8)).numpy()
        example.features.feature[MASK_FEATURE].CopyFrom(
            kinds.example_features(kinds.INPAINTING, **{MASK_FEATURE: png})[MASK_FEATURE])
        out.append(example.SerializeToString())
    return out


def seed_records(count: int, first: int = 0) -> list[bytes]:
    """One tf.Example per seed for an unconditional generator's example signature."""
    import tensorflow as tf
    return [tf.train.Example(features=tf.train.Features(feature=kinds.example_features(
        kinds.UNCONDITIONAL, **{SEED_FEATURE: s}))).SerializeToString()
        for s in range(first, first + count)]


def generate(model, records: Sequence[bytes], batch: int = 32) -> np.ndarray:
    """``generated`` [N, H, W, C] of the SavedModel's ``serving_tf_example`` signature.

    ``model`` is the SavedModel's directory, or the SavedModel already loaded
    with ``tf.saved_model.load`` (to generate several times without reloading it).
    """
    import tensorflow as tf
    is_path = isinstance(model, (str, os.PathLike))
    loaded = tf.saved_model.load(model) if is_path else model
    if F.EXAMPLE_SIGNATURE not in loaded.signatures:
        where = model if is_path else "the SavedModel"
        raise ValueError(f"{where} has no {F.EXAMPLE_SIGNATURE!r} signature; "
                         f"it has {sorted(loaded.signatures)}")
    fn = loaded.signatures[F.EXAMPLE_SIGNATURE]
    outs = [fn(**{F.IN_EXAMPLES: tf.constant(list(records[i:i + batch]))})[F.OUT_GENERATED].numpy()
            for i in range(0, len(records), batch)]
    return np.concatenate(outs, axis=0).astype(np.float32)


# -------------------------------------------------------------------- metrics
def _mean(values) -> float:
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.inf if np.isposinf(values).any() else math.nan
    if np.isposinf(values).any():   # an uncapped metric's +inf (the PSNRs are capped)
        return math.inf
    return float(finite.mean())


def image_metrics(images: np.ndarray, target: np.ndarray, *, holes: np.ndarray | None = None,
                  ct_window=None, perceptual_net=None) -> dict[str, float]:
    """Paired metrics of ``images`` against ``target`` (both [N, H, W, C] in [-1, 1])."""
    from trainer import metrics as M
    out = {"psnr": _mean(M.psnr(images, target)), "ssim": _mean(M.ssim(images, target)),
           "l1": float(np.abs(images - target).mean())}
    ms, scales = M.ms_ssim(images, target)
    if ms is not None:
        out["ms_ssim"] = _mean(ms)
        out["ms_ssim_scales"] = float(scales)
    if holes is not None:
        out["hole_psnr"] = _mean(M.masked_psnr(images, target, holes))
        out["hole_l1"] = _mean(M.masked_l1(images, target, holes))
    if ct_window is not None:
        out.update(M.hu_errors(images, target, ct_window))
    if perceptual_net is not None:
        from trainer.feature_extractors import perceptual_distance
        out["perceptual"] = _mean(perceptual_distance(perceptual_net, images, target))
    return out


def distribution_metrics(features: np.ndarray, reference: np.ndarray, seed: int) -> dict[str, float]:
    from trainer import metrics as M
    kid, kid_std = M.kernel_distance(features, reference, seed=seed)
    return {"fd": M.frechet_distance(features, reference), "kid": kid, "kid_std": kid_std}


# --------------------------------------------------------------------- result
@dataclasses.dataclass
class EvalResult:
    gan: str
    kind: str
    num_examples: int
    metrics: dict[str, dict | None]   # CANDIDATE, TRIVIAL, LATEST, BASELINES, "references"
    baselines: dict[str, str | None]  # what each baseline was (TRIVIAL, LATEST, gate baselines)
    decision: blessing.Decision
    config: EvalConfig
    feature_extractor: dict[str, Any] | None = None
    perceptual: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)
    panels: np.ndarray | None = None               # [rows, H, k*W, C] in [-1, 1]
    panel_columns: tuple[str, ...] = ()
    gate: dict = dataclasses.field(default_factory=dict)  # NLM tuning, failure-mode measurements
    # The Trainer's failure-mode detectors (trainer.failure_modes.TrainingHealth findings:
    # discriminator wins, divergence), shown in the report; not part of the decision.
    training: list[dict] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict:
        gain = self.decision.gain
        return {
            "gan": self.gan, "kind": self.kind, "num_examples": self.num_examples,
            "blessed": self.decision.blessed, "summary": self.decision.summary(),
            "reasons": self.decision.reasons,
            "gain": dataclasses.asdict(gain) if gain else None, "gate": self.gate,
            "checks": [dict(dataclasses.asdict(c), passed=c.passed) for c in self.decision.checks],
            "metrics": self.metrics, "baselines": self.baselines,
            "feature_extractor": self.feature_extractor, "perceptual": self.perceptual,
            "notes": self.notes, "config": dataclasses.asdict(self.config),
            "training": self.training,
        }


def _panel_rows(columns: Sequence[np.ndarray], rows: int) -> np.ndarray:
    """[rows, H, k*W, C]: the columns side by side (smaller images up-sampled, nearest)."""
    import tensorflow as tf
    h, w = columns[-1].shape[1:3]
    c = max(col.shape[-1] for col in columns)
    shown = []
    for col in columns:
        col = np.asarray(col[:rows], np.float32)
        if col.shape[1:3] != (h, w):
            col = tf.image.resize(col, (h, w), method="nearest").numpy()
        if col.shape[-1] != c:
            col = np.repeat(col, c, axis=-1)
        shown.append(col)
    return np.concatenate(shown, axis=2)


def _shape_mismatch(latest: np.ndarray, candidate: np.ndarray) -> str | None:
    if latest.shape[1:] != candidate.shape[1:]:
        return (f"the latest blessed generator outputs {list(latest.shape[1:])}, the candidate "
                f"{list(candidate.shape[1:])}: not comparable, the regression check is skipped")
    return None


def evaluate(gan: str, model_dir: str, eval_records: Sequence[bytes], tft_output,
             config: EvalConfig | None = None, *, train_records: Sequence[bytes] | None = None,
             baseline_model_dir: str | None = None, hparams: Mapping[str, Any] | None = None,
             ct_window=(0.0, 2000.0), dataset: str | None = None) -> EvalResult:
    """Evaluate the generator at ``model_dir`` (a SavedModel) on ``eval_records``.

    ``train_records`` train the feature extractor and give the real-vs-real
    floor (unconditional GANs) and choose the non-local-means parameters (the
    first ``config.nlm_tuning_pairs`` of them; CT denoising). ``baseline_model_dir`` is the latest blessed
    generator's SavedModel, evaluated here on the same data.
    """
    config = config or EvalConfig()
    spec = registry.get(gan)
    records = list(eval_records[:config.max_examples])
    if len(records) < 2:
        raise ValueError(f"{gan}: need at least 2 eval records, received {len(records)}")
    dataset = dataset or spec.dataset
    result = kinds.get(spec.kind).evaluate(
        gan, spec, model_dir, records, tft_output, config, train_records=train_records,
        baseline_model_dir=baseline_model_dir, hparams=hparams, ct_window=ct_window,
        dataset=dataset)
    log.info("%s: %s", gan, result.decision.summary())
    return result


def paired_baselines(inp: np.ndarray, target: np.ndarray, is_ct: bool,
                     train_pairs: tuple[np.ndarray, np.ndarray] | None
                     ) -> tuple[dict[str, np.ndarray], dict[str, str], str, dict]:
    """The baselines of a paired task, decided by the data (not the GAN's name):

    * input and target of one size, CT records: denoising - the low-dose input
      and non-local means tuned on ``train_pairs`` (input, target);
    * one size, other records: the input itself (image-to-image translation);
    * a smaller input: super-resolution - bicubic and Lanczos-3 up-sampling.

    Returns (images by name, descriptions by name, the trivial one's name,
    extra details for the report)."""
    from trainer import baselines as B
    if inp.shape[1:3] != target.shape[1:3]:
        size = f"{inp.shape[1]}x{inp.shape[2]}"
        return ({"bicubic": B.bicubic_upsample(inp, target.shape[1:3]),
                 "lanczos3": B.lanczos_upsample(inp, target.shape[1:3])},
                {"bicubic": f"bicubic up-sampling of the {size} input (tf.image.resize)",
                 "lanczos3": f"Lanczos-3 up-sampling of the {size} input (tf.image.resize)"},
                "bicubic", {})
    if not is_ct:
        return ({"input": inp}, {"input": "the degraded input itself"}, "input", {})
    if train_pairs is not None and len(train_pairs[0]):
        params, tuning = B.tune_nlm(*train_pairs)
        how = (f"chosen on {tuning['pairs']} train pairs from a grid of {len(tuning['grid'])} "
               f"in {tuning['seconds']:g} s")
    else:
        params, tuning = B.NlmParams(), {"grid": [], "pairs": 0, "seconds": 0.0}
        how = "defaults: no train pairs were given to choose them"
    details = {"nlm": {"params": dataclasses.asdict(params), **tuning}}
    return ({"low_dose_input": inp, "nlm_denoise": B.nlm_denoise(inp, params)},
            {"low_dose_input": "the degraded input itself (low-dose CT)",
             "nlm_denoise": (f"non-local means (scikit-image, fast mode, {params.describe()}; "
                             f"{how})")},
            "low_dose_input", details)


def per_image_primary(images: np.ndarray, target: np.ndarray, holes: np.ndarray | None
                      ) -> np.ndarray:
    """The primary metric per image [N]: PSNR, or PSNR inside the holes (inpainting)."""
    from trainer import metrics as M
    if holes is not None:
        return np.asarray(M.masked_psnr(images, target, holes), np.float64)
    return np.asarray(M.psnr(images, target), np.float64)


def gate_images(kind: str, generated: np.ndarray, target: np.ndarray,
                baseline_images: Mapping[str, np.ndarray], config: EvalConfig, *,
                holes: np.ndarray | None = None, latest_images: np.ndarray | None = None,
                ct_window=None, perceptual_net=None
                ) -> tuple[dict, blessing.Decision, dict]:
    """The decision path of paired and inpainting GANs on arrays ([N, H, W, C] in [-1, 1]).

    Scores the candidate ``generated``, every baseline and the latest blessed
    generator's images against ``target`` (per image for the primary metric),
    measures output collapse and decides. Returns (metrics {CANDIDATE,
    BASELINES, LATEST, "references"}, decision, failure-mode measurements)."""
    from trainer import failure_modes as FM
    kwargs = dict(holes=holes, ct_window=ct_window, perceptual_net=perceptual_net)
    base_metrics = {name: image_metrics(images, target, **kwargs)
                    for name, images in baseline_images.items()}
    metrics = {CANDIDATE: image_metrics(generated, target, **kwargs), LATEST: None,
               BASELINES: base_metrics, "references": {}}
    per_image = {CANDIDATE: per_image_primary(generated, target, holes)}
    per_image.update({name: per_image_primary(images, target, holes)
                      for name, images in baseline_images.items()})
    if latest_images is not None:
        metrics[LATEST] = image_metrics(latest_images, target, **kwargs)
    ratio = FM.output_spread_ratio(generated, target)
    decision = blessing.decide(kind, metrics[CANDIDATE], base_metrics, metrics[LATEST], config,
                               per_image=per_image,
                               failure_checks=[FM.output_collapse_check(ratio, config)])
    return metrics, decision, {"output_spread_ratio": ratio}


@dataclasses.dataclass
class ImageTask:
    """What an image-to-image kind evaluates against (``trainer.kinds`` builds it)."""
    target: np.ndarray                 # [N, H, W, C] in [-1, 1]: what the generator should make
    feed: list[bytes]                  # the records given to serving_tf_example
    candidates: dict[str, np.ndarray]  # baseline images by name
    described: dict[str, str]          # what each baseline is
    trivial_key: str                   # the simplest baseline (reported as TRIVIAL)
    shown_input: np.ndarray            # the panels' first column
    input_title: str
    is_ct: bool = False                # CT records: metrics in HU through the CT window
    holes: np.ndarray | None = None    # [N, H, W, 1], 1 = hole (inpainting)
    details: dict = dataclasses.field(default_factory=dict)  # extra gate details (NLM tuning)


def inpainting_task(spec, records, data, config: EvalConfig, hparams) -> ImageTask:
    """Inpainting: the records' images behind fixed evaluation masks; hole-filling baselines."""
    from trainer import baselines
    from trainer.masks import fixed_masks
    target = data[F.transformed_key(F.IMAGE)]
    hp = spec.hparams(hparams or {})
    masks = fixed_masks(len(records), target.shape[1], seed=config.seed,
                        mask_type=hp.mask_type, max_masks=hp.max_masks,
                        max_size_ratio=hp.max_size_ratio,
                        max_thickness=hp.max_thickness).numpy()       # [N, H, W, 1]
    masks = masks[:, :target.shape[1], :target.shape[2]]
    return ImageTask(
        target=target, feed=with_masks(records, masks),
        candidates={"biharmonic_fill": baselines.biharmonic_fill(target, masks),
                    "mean_fill": baselines.mean_fill(target, masks)},
        described={"biharmonic_fill": "holes filled by biharmonic interpolation of the known "
                                      "pixels (scikit-image)",
                   "mean_fill": "holes filled with the mean of the known pixels (per channel)"},
        trivial_key="mean_fill",
        shown_input=masks * target + (1.0 - masks) * 1.0,               # holes white
        input_title="masked input", holes=1.0 - masks)


def paired_task(records, data, tft_output, config: EvalConfig, train_records) -> ImageTask:
    """Paired: input -> target; the baselines the data calls for (:func:`paired_baselines`)."""
    target = data[F.transformed_key(F.TARGET)]
    inp = data[F.transformed_key(F.INPUT)]
    is_ct = bool((data[F.MODALITY] == b"CT").all())
    train_pairs = None
    if is_ct and inp.shape[1:3] == target.shape[1:3] and train_records:
        train = transform_records(tft_output, list(train_records[:config.nlm_tuning_pairs]))
        train_pairs = (train[F.transformed_key(F.INPUT)], train[F.transformed_key(F.TARGET)])
    candidates, described, trivial_key, details = paired_baselines(inp, target, is_ct,
                                                                   train_pairs)
    return ImageTask(target=target, feed=list(records), candidates=candidates,
                     described=described, trivial_key=trivial_key, shown_input=inp,
                     input_title="input", is_ct=is_ct, details=details)


def _evaluate_image(gan, spec, model_dir, records, tft_output, config, baseline_model_dir,
                    hparams, ct_window, train_records=None) -> EvalResult:
    from trainer.feature_extractors import perceptual_model
    data = transform_records(tft_output, records)
    notes: list[str] = []
    task = kinds.get(spec.kind).eval_task(spec, records, data, tft_output, config, hparams,
                                          train_records)
    target, feed, holes, is_ct = task.target, task.feed, task.holes, task.is_ct
    candidates, described, trivial_key = task.candidates, task.described, task.trivial_key
    shown_input, input_title, details = task.shown_input, task.input_title, task.details
    window = ct_window if is_ct else None

    generated = generate(model_dir, feed)
    if generated.shape != target.shape:
        raise ValueError(f"{gan}: the generator outputs {list(generated.shape)}, the eval "
                         f"targets are {list(target.shape)}")
    net, unavailable = perceptual_model("imagenet", channels=target.shape[-1])
    perceptual = unavailable or "LPIPS-style distance on ImageNet VGG19 features (layer weights 1)"
    latest_images = None
    if baseline_model_dir:
        latest_images = generate(baseline_model_dir, feed)
        mismatch = _shape_mismatch(latest_images, generated)
        if mismatch:
            notes.append(mismatch)
            latest_images = None
    metrics, decision, failure = gate_images(
        spec.kind, generated, target, candidates, config, holes=holes,
        latest_images=latest_images, ct_window=window, perceptual_net=net)
    metrics[TRIVIAL] = metrics[BASELINES][trivial_key]
    best = decision.gain.baseline
    columns = [shown_input, candidates[best], generated, target]
    titles = (input_title, f"strongest baseline ({best})", "generated", "target")
    return EvalResult(
        gan=gan, kind=spec.kind, num_examples=len(records), metrics=metrics,
        baselines={TRIVIAL: described[trivial_key], LATEST: baseline_model_dir, **described},
        decision=decision, config=config, perceptual=perceptual, notes=notes,
        panels=_panel_rows(columns, config.num_panels) if config.num_panels else None,
        panel_columns=titles, gate={**details, "failure_modes": failure})


def _evaluate_unconditional(gan, model_dir, records, train_records, tft_output, config,
                            baseline_model_dir, dataset) -> EvalResult:
    from trainer import baselines
    from trainer import failure_modes as FM
    from trainer import feature_extractors as FX
    key = F.transformed_key(F.IMAGE)
    real = transform_records(tft_output, records)
    train = transform_records(tft_output, train_records)
    labels = lambda d: d.get(F.TRANSFORMED_LABEL)  # noqa: E731
    extractor = FX.distribution_extractor(train[key], labels(train), real[key], labels(real),
                                          dataset, seed=config.seed)
    n = len(records)
    rng = np.random.default_rng(config.seed)
    floor_images = train[key][rng.choice(len(train[key]), min(n, len(train[key])), replace=False)]
    noise = baselines.uniform_noise(n, real[key].shape[1:], seed=config.seed)
    import tensorflow as tf
    loaded = tf.saved_model.load(model_dir)   # FD's samples and the extra class samples
    generated = generate(loaded, seed_records(n))
    if generated.shape[1:] != real[key].shape[1:]:
        raise ValueError(f"{gan}: the generator outputs {list(generated.shape[1:])} images, "
                         f"the eval images are {list(real[key].shape[1:])}")
    f_real = extractor.embed(real[key])
    floor = distribution_metrics(extractor.embed(floor_images), f_real, config.seed)
    ceiling = distribution_metrics(extractor.embed(noise), f_real, config.seed)

    def scored(images):
        m = distribution_metrics(extractor.embed(images), f_real, config.seed)
        m["fd_fraction"] = blessing.fd_fraction(m["fd"], floor["fd"], ceiling["fd"])
        m["kid_fraction"] = blessing.fd_fraction(m["kid"], floor["kid"], ceiling["kid"])
        return m

    metrics = {CANDIDATE: scored(generated),
               TRIVIAL: {"fd_real_vs_real": floor["fd"], "fd_real_vs_noise": ceiling["fd"],
                         "kid_real_vs_real": floor["kid"], "kid_real_vs_noise": ceiling["kid"]},
               LATEST: None, "references": {"real_vs_real": floor, "real_vs_noise": ceiling}}
    notes = []
    gate: dict = {}
    failure_checks = []
    train_labels, eval_labels = labels(train), labels(real)
    if FX.has_labels(train_labels, eval_labels):
        classifier = extractor if extractor.classify is not None else (
            FX.train_domain_classifier(train[key], train_labels, real[key], eval_labels,
                                       dataset, seed=config.seed))
        classes = classifier.details["classes"]
        # The class shares come from more samples than FD: the TV of N draws from the
        # right shares is about 0.075 * sqrt(256 / N) (sampling noise), as large as the
        # distance being judged at the eval split's few hundred samples.
        counted = generated[:config.class_samples]
        if config.class_samples > n:
            counted = np.concatenate([generated, generate(
                loaded, seed_records(config.class_samples - n, first=n), batch=256)])
        coverage = FM.class_coverage(classifier.classify(counted), train_labels, classes,
                                     config.min_class_share_ratio)
        real_coverage = FM.class_coverage(classifier.classify(real[key]), train_labels, classes,
                                          config.min_class_share_ratio)
        failure_checks = FM.mode_collapse_checks(coverage, config, dataset,
                                                 real_tv=real_coverage["tv"])
        metrics[CANDIDATE]["class_coverage"] = coverage["covered"] / coverage["num_classes"]
        metrics[CANDIDATE]["class_tv"] = coverage["tv"]
        metrics["references"]["real_vs_real"]["class_tv"] = real_coverage["tv"]
        gate["mode_collapse"] = {"generated": coverage, "real_eval": real_coverage,
                                 "classifier": classifier.description}
    else:
        notes.append("the data has no class labels: class coverage (mode collapse) is not "
                     "checked")
    latest = None
    if baseline_model_dir:
        latest_images = generate(baseline_model_dir, seed_records(n))
        mismatch = _shape_mismatch(latest_images, generated)
        if mismatch:
            notes.append(mismatch)
        else:
            latest = metrics[LATEST] = scored(latest_images)
    decision = blessing.decide(kinds.UNCONDITIONAL, metrics[CANDIDATE], metrics[TRIVIAL],
                               latest, config, failure_checks=failure_checks)
    k = config.num_panels
    panels = None
    if k:
        # Rows of k generated samples, then k real eval images.
        gen_row = np.concatenate(list(generated[:k]), axis=1)[None]
        real_row = np.concatenate(list(real[key][:k]), axis=1)[None]
        panels = np.concatenate([gen_row, real_row], axis=0)
    return EvalResult(
        gan=gan, kind=kinds.UNCONDITIONAL, num_examples=n, metrics=metrics,
        baselines={TRIVIAL: f"real-vs-real ({len(floor_images)} train vs {n} eval images) floor "
                            f"and real-vs-noise ({n} uniform-noise images) ceiling",
                   LATEST: baseline_model_dir},
        decision=decision, config=config,
        feature_extractor={"name": extractor.name, "description": extractor.description,
                           **extractor.details},
        perceptual="not applicable (unconditional)", notes=notes, panels=panels,
        panel_columns=("generated (row 1)", "real eval (row 2)"), gate=gate)


# -------------------------------------------------------------------- outputs
def _to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def panel_png(panels: np.ndarray, min_side: int = 128) -> bytes:
    """Stack the panel rows vertically into one PNG (up-sampled to >= ``min_side`` rows each)."""
    import tensorflow as tf
    grid = np.concatenate(list(panels), axis=0)                        # [rows*H, k*W, C]
    factor = max(1, min_side // panels.shape[1])
    grid = np.repeat(np.repeat(grid, factor, axis=0), factor, axis=1)
    return tf.io.encode_png(_to_uint8(grid)).numpy()


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.4g}"
    return str(value)


def metrics_table(result: EvalResult) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the metrics table: one row per metric, one column per model."""
    m = result.metrics
    strongest = result.decision.gain.baseline if result.decision.gain else None
    columns = [(CANDIDATE, m[CANDIDATE])]
    if m.get(BASELINES):
        columns += [(name + (" (strongest)" if name == strongest else ""), values)
                    for name, values in m[BASELINES].items()]
    else:
        columns.append((TRIVIAL, m[TRIVIAL]))
    if m.get(LATEST):
        columns.append((LATEST, m[LATEST]))
    for name, values in (m.get("references") or {}).items():
        columns.append((name, values))
    names: list[str] = []
    for _, values in columns:
        for k in values or {}:
            if k not in names:
                names.append(k)
    header = ["metric"] + [c for c, _ in columns]
    rows = [[k] + [_fmt((values or {}).get(k)) for _, values in columns] for k in names]
    return header, rows


def baseline_lines(result: EvalResult) -> list[str]:
    """One line per baseline of the gate: name, what it is (and the strongest marked)."""
    strongest = result.decision.gain.baseline if result.decision.gain else None
    names = list((result.metrics.get(BASELINES) or {}))
    if not names:
        return [f"{TRIVIAL}: {result.baselines[TRIVIAL]}"]
    return [f"{name}{' (strongest: the gate compares with it)' if name == strongest else ''}: "
            f"{result.baselines.get(name, '')}" for name in names]


def gate_lines(result: EvalResult) -> list[str]:
    """The gate's measurements in words: the paired gain, NLM tuning, failure modes."""
    lines = []
    gain = result.decision.gain
    if gain:
        lines.append(f"{gain.describe()}; blessing needs the lower bound above "
                     f"{_margin(result)} ({gain.resamples} seeded resamples).")
    nlm = result.gate.get("nlm")
    if nlm:
        p = nlm["params"]
        lines.append(f"Non-local means parameters: h = {p['h_multiplier']:g} x estimated sigma, "
                     f"patch {p['patch_size']}, distance {p['patch_distance']} (chosen on "
                     f"{nlm['pairs']} train pairs, {len(nlm['grid'])} grid points).")
    ratio = (result.gate.get("failure_modes") or {}).get("output_spread_ratio")
    if ratio is not None:
        lines.append(f"Output spread across inputs (generated / targets per-pixel std over the "
                     f"eval batch): {_fmt(ratio)}; collapse below "
                     f"{result.config.min_output_std_ratio:g}.")
    mc = result.gate.get("mode_collapse")
    if mc:
        g, r = mc["generated"], mc["real_eval"]
        lines.append(f"Class coverage: {g['covered']} of {g['num_classes']} classes generated "
                     f"(real eval images: {r['covered']}); total variation to the train class "
                     f"histogram {g['tv']:.3g} (real eval images {r['tv']:.3g}); classifier: "
                     f"{mc['classifier']}.")
        lines.append("Generated class shares: " + ", ".join(
            f"{k}: {v:.0%}" for k, v in enumerate(g["generated"])) + ".")
    return lines


def _margin(result: EvalResult) -> str:
    gain = result.decision.gain
    margin = (result.config.min_hole_psnr_gain_db if gain.metric == "hole_psnr"
              else result.config.min_psnr_gain_db)
    return f"{margin:g} dB"


def report_markdown(result: EvalResult) -> str:
    header, rows = metrics_table(result)
    verdict = "**BLESSED**" if result.decision.blessed else "**NOT BLESSED**"
    lines = [f"# {result.gan}: {verdict}", "", f"{result.num_examples} eval examples.", ""]
    if not result.decision.blessed:
        lines += ["## Why it was refused", ""] + [f"- {r}" for r in result.decision.reasons]
        lines += [""]
    lines += ["## Baselines", ""] + [f"- {b}" for b in baseline_lines(result)] + [""]
    if result.baselines.get(LATEST):
        lines += [f"Latest blessed generator: `{result.baselines[LATEST]}`.", ""]
    else:
        lines += ["No earlier blessed generator of this GAN.", ""]
    if result.feature_extractor:
        lines += [f"Feature extractor: {result.feature_extractor['description']}. FD/KID "
                  f"numbers from other extractors are not comparable.", ""]
    lines += [f"Perceptual distance: {result.perceptual}.", ""]
    gate = gate_lines(result)
    if gate:
        lines += ["## Gate and failure modes", ""] + [f"- {g}" for g in gate] + [""]
    lines += ["## Checks", ""]
    lines += [f"- {c.describe()}" for c in result.decision.checks]
    lines += ["", "## Metrics", "", "| " + " | ".join(header) + " |",
              "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if result.training:
        lines += ["", "## Training", ""] + [f"- {t}" for t in training_lines(result)]
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    if result.panels is not None:
        lines += ["", "## Images", "", "Columns: " + " | ".join(result.panel_columns) + ".", "",
                  f"![panels]({PANELS_PNG})"]
    return "\n".join(lines) + "\n"


def training_lines(result: EvalResult) -> list[str]:
    """The Trainer's failure-mode findings in words, detected ones first and marked."""
    found = sorted(result.training, key=lambda f: not f.get("detected"))
    return [("DETECTED - " if f.get("detected") else "") + str(f.get("message", f.get("name")))
            for f in found]


def report_html(result: EvalResult) -> str:
    header, rows = metrics_table(result)
    esc = html.escape
    verdict = "BLESSED" if result.decision.blessed else "NOT BLESSED"
    colour = "#1a7f37" if result.decision.blessed else "#b42318"
    items = lambda xs: "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in xs) + "</ul>"  # noqa: E731
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(result.gan)} "
             f"evaluation</title><style>body{{font-family:sans-serif;margin:2em}}"
             f"table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;"
             f"text-align:right}}td:first-child,th:first-child{{text-align:left}}"
             f"img{{image-rendering:pixelated;max-width:100%}}</style></head><body>",
             f"<h1>{esc(result.gan)}: <span style='color:{colour}'>{verdict}</span></h1>",
             f"<p>{result.num_examples} eval examples.</p>"]
    if not result.decision.blessed:
        parts.append("<h2>Why it was refused</h2>" + items(result.decision.reasons))
    parts.append("<h2>Baselines</h2>" + items(baseline_lines(result)))
    latest = result.baselines.get(LATEST)
    parts.append(f"<p>Latest blessed generator: <code>{esc(latest)}</code></p>" if latest
                 else "<p>No earlier blessed generator of this GAN.</p>")
    if result.feature_extractor:
        parts.append(f"<p>Feature extractor: {esc(result.feature_extractor['description'])}. "
                     "FD/KID numbers from other extractors are not comparable.</p>")
    parts.append(f"<p>Perceptual distance: {esc(result.perceptual)}.</p>")
    gate = gate_lines(result)
    if gate:
        parts.append("<h2>Gate and failure modes</h2>" + items(gate))
    parts.append("<h2>Checks</h2>" + items(c.describe() for c in result.decision.checks))
    parts.append("<h2>Metrics</h2><table><tr>"
                 + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    parts += ["<tr>" + "".join(f"<td>{esc(v)}</td>" for v in r) + "</tr>" for r in rows]
    parts.append("</table>")
    if result.training:
        parts.append("<h2>Training</h2>" + items(training_lines(result)))
    if result.notes:
        parts.append("<h2>Notes</h2>" + items(result.notes))
    if result.panels is not None:
        parts.append("<h2>Images</h2><p>Columns: " + esc(" | ".join(result.panel_columns))
                     + f"</p><img src='{PANELS_PNG}' alt='side-by-side panels'>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_outputs(result: EvalResult, output_dir: str) -> dict[str, str]:
    """metrics.json, report.md, report.html, panels.png and TensorBoard events under ``output_dir``."""
    import tensorflow as tf
    tf.io.gfile.makedirs(output_dir)
    paths = {name: os.path.join(output_dir, name)
             for name in (METRICS_FILE, REPORT_MD, REPORT_HTML)}
    with tf.io.gfile.GFile(paths[METRICS_FILE], "w") as fh:
        json.dump(_json_safe(result.to_json()), fh, indent=2, sort_keys=True)
    with tf.io.gfile.GFile(paths[REPORT_MD], "w") as fh:
        fh.write(report_markdown(result))
    with tf.io.gfile.GFile(paths[REPORT_HTML], "w") as fh:
        fh.write(report_html(result))
    if result.panels is not None:
        paths[PANELS_PNG] = os.path.join(output_dir, PANELS_PNG)
        with tf.io.gfile.GFile(paths[PANELS_PNG], "wb") as fh:
            fh.write(panel_png(result.panels))
    paths[TENSORBOARD_DIR] = os.path.join(output_dir, TENSORBOARD_DIR)
    writer = tf.summary.create_file_writer(paths[TENSORBOARD_DIR])
    with writer.as_default():
        groups = [(who, result.metrics.get(who)) for who in (CANDIDATE, TRIVIAL, LATEST)]
        groups += [(f"{BASELINES}/{name}", values)
                   for name, values in (result.metrics.get(BASELINES) or {}).items()]
        for who, values in groups:
            for name, value in (values or {}).items():
                if value is not None and math.isfinite(value):
                    tf.summary.scalar(f"{who}/{name}", value, step=0)
        gain = result.decision.gain
        if gain:
            for part in ("mean", "low", "high"):
                if math.isfinite(getattr(gain, part)):
                    tf.summary.scalar(f"gate/{gain.metric}_gain_{part}", getattr(gain, part),
                                      step=0)
        tf.summary.scalar("blessed", float(result.decision.blessed), step=0)
        tf.summary.text("report", report_markdown(result), step=0)
        if result.panels is not None:
            grid = np.concatenate(list(result.panels), axis=0)[None]
            tf.summary.image("panels/" + " | ".join(result.panel_columns), (grid + 1.0) / 2.0,
                             step=0)
    writer.close()
    return paths


def _json_safe(value):
    """NaN/inf as strings so that metrics.json is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value

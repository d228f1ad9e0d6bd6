"""``GanEvaluator``: GAN-aware evaluation and blessing, a Python-function TFX component.

(No ``from __future__ import annotations`` here: TFX reads the type hints.)

Inputs: the raw ``examples`` (ImportExampleGen; the ``eval`` split is
evaluated, ``train`` trains the feature extractor of unconditional GANs),
the Trainer's ``model`` (``Format-Serving`` SavedModel) and ``model_run``
(its training-health findings are reported) and the ``transform_graph``. Parameter ``pushed_model_base``: the GAN's Pusher
destination, ``<serving_root>/<gan>``. The newest version pushed there (what
TF Serving serves) is the baseline the candidate must not fall behind; the
serving root is the record of what was blessed and shipped, so the pipeline
needs no Resolver (which open-source Kubeflow Pipelines cannot run).

When the candidate's SavedModel is byte-identical to that pushed version
(:func:`serving.pushed.saved_model_fingerprint`: e.g. the evaluation settings
changed but the Trainer came from the cache), it is already served: it is not
evaluated and not pushed again.

Outputs:

* ``evaluation`` (ModelEvaluation): ``metrics.json``, ``report.md``,
  ``report.html``, ``panels.png`` and ``tensorboard/`` event files; the key
  metrics are also custom properties (``candidate_psnr``,
  ``trivial_baseline_psnr``, ...) so ML Metadata queries can read them;
* ``blessing`` (ModelBlessing): a ``BLESSED`` or ``NOT_BLESSED`` marker file
  and the custom properties TFX's own Evaluator sets (``blessed``,
  ``current_model``, ``current_model_id``, ``baseline_model``: here the pushed
  version folder compared with), which the Pusher reads, plus
  ``baseline_version``, ``reasons`` and ``summary``.

The work itself is :func:`trainer.evaluation.evaluate` (no TFX inside).
"""

import json
import logging
import math
import os

from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from tfx_pipeline.components.artifacts import read_split_records, serving_model_dir
from trainer import features as F
from trainer.blessing import EvalConfig
from trainer.events import emit

log = logging.getLogger(__name__)

# The keys TFX's Evaluator writes (tfx.components.evaluator.constants); the
# Pusher (model_utils.is_model_blessed) reads them.
BLESSED_KEY = "blessed"
CURRENT_MODEL_KEY = "current_model"
CURRENT_MODEL_ID_KEY = "current_model_id"
BASELINE_MODEL_KEY = "baseline_model"
BASELINE_VERSION_KEY = "baseline_version"
BLESSED_FILE, NOT_BLESSED_FILE = "BLESSED", "NOT_BLESSED"
EVAL_SPLIT, TRAIN_SPLIT = "eval", "train"
MAX_TRAIN_RECORDS = 5000   # feature-extractor training set cap (unconditional GANs)


def write_marker(folder: str, name: str) -> None:
    """An empty marker file. Written explicitly: tf.io.gfile creates a file only on its
    first write, so an object-store marker opened and closed unwritten would not exist."""
    with fileio.open(os.path.join(folder, name), "w") as fh:
        fh.write("")


def record_evaluation(result, evaluation, blessing, model, baseline_dir=None) -> None:
    """Write the outputs of ``result`` (trainer.evaluation.EvalResult) into the artifacts."""
    from trainer import evaluation as E
    E.write_outputs(result, evaluation.uri)
    for who in (E.CANDIDATE, E.TRIVIAL, E.LATEST):
        for name, value in (result.metrics.get(who) or {}).items():
            if value is not None and math.isfinite(value):
                evaluation.set_float_custom_property(f"{who}_{name}", float(value))
    evaluation.set_int_custom_property(BLESSED_KEY, int(result.decision.blessed))
    evaluation.set_string_custom_property("gan", result.gan)
    if result.feature_extractor:
        evaluation.set_string_custom_property("feature_extractor", result.feature_extractor["name"])
    evaluation.set_string_custom_property("perceptual", result.perceptual)

    fileio.makedirs(blessing.uri)
    marker = BLESSED_FILE if result.decision.blessed else NOT_BLESSED_FILE
    write_marker(blessing.uri, marker)
    blessing.set_int_custom_property(BLESSED_KEY, int(result.decision.blessed))
    blessing.set_string_custom_property(CURRENT_MODEL_KEY, model.uri)
    blessing.set_int_custom_property(CURRENT_MODEL_ID_KEY, int(model.id or 0))
    if baseline_dir is not None:
        blessing.set_string_custom_property(BASELINE_MODEL_KEY, baseline_dir)
        blessing.set_int_custom_property(BASELINE_VERSION_KEY,
                                         int(baseline_dir.rstrip("/").rsplit("/", 1)[-1]))
    blessing.set_string_custom_property("summary", result.decision.summary())
    blessing.set_string_custom_property("reasons", json.dumps(result.decision.reasons))
    blessing.set_string_custom_property("report", os.path.join(evaluation.uri, E.REPORT_MD))


def already_blessed(gan: str, model, evaluation, blessing, pushed_dir: str) -> None:
    """The candidate *is* the newest pushed generator (``pushed_dir``; e.g. a re-run
    whose Trainer came from the cache): it is already in TF Serving, so nothing is
    evaluated and it is not pushed again (blessed=0; the Pusher skips it)."""
    reason = (f"unchanged: this generator (model artifact {model.id}) is already the latest "
              f"blessed one and was pushed then as {pushed_dir}; not pushed again")
    fileio.makedirs(evaluation.uri)
    with fileio.open(os.path.join(evaluation.uri, "metrics.json"), "w") as fh:
        json.dump({"gan": gan, "unchanged_model_id": model.id, "pushed": pushed_dir,
                   "reasons": [reason]}, fh, indent=2)
    with fileio.open(os.path.join(evaluation.uri, "report.md"), "w") as fh:
        fh.write(f"# {gan}\n\n{reason}.\n")
    evaluation.set_int_custom_property(BLESSED_KEY, 0)
    evaluation.set_string_custom_property("gan", gan)
    fileio.makedirs(blessing.uri)
    write_marker(blessing.uri, NOT_BLESSED_FILE)
    blessing.set_int_custom_property(BLESSED_KEY, 0)
    blessing.set_string_custom_property(CURRENT_MODEL_KEY, model.uri)
    blessing.set_int_custom_property(CURRENT_MODEL_ID_KEY, int(model.id or 0))
    blessing.set_string_custom_property("summary", f"NOT PUSHED AGAIN: {reason}")
    blessing.set_string_custom_property("reasons", json.dumps([reason]))
    emit("verdict", gan=gan, verdict=reason)


def evaluate_and_bless(examples, model, transform_graph, evaluation, blessing, gan: str,
                       eval_config: str, run_info: str, pushed_model_base: str = "",
                       model_run=None):
    """The component's body, on artifacts (callable directly in tests).

    ``pushed_model_base``: the GAN's push destination; its newest version is the
    baseline ("" or an empty folder: no earlier generator). ``model_run``: the
    Trainer's ModelRun; the failure-mode findings its training wrote there
    (discriminator wins, divergence) go into the report and the verdict line."""
    import tensorflow_transform as tft
    from serving.pushed import newest_pushed, saved_model_fingerprint
    from trainer import evaluation as E
    from trainer import kinds, registry
    from trainer.filesystems import ensure_filesystem
    ensure_filesystem(examples.uri, model.uri, transform_graph.uri, evaluation.uri, blessing.uri,
                      pushed_model_base or None)
    config = EvalConfig.from_json(eval_config)
    info = json.loads(run_info or "{}")
    spec = registry.get(gan)
    candidate_dir = serving_model_dir(model)
    baseline_dir = newest_pushed(pushed_model_base) if pushed_model_base else None
    if baseline_dir and saved_model_fingerprint(baseline_dir) == saved_model_fingerprint(candidate_dir):
        return already_blessed(gan, model, evaluation, blessing, baseline_dir)
    eval_records = read_split_records(examples, EVAL_SPLIT, limit=config.max_examples)
    limit = kinds.get(spec.kind).eval_train_limit(config, MAX_TRAIN_RECORDS)
    train_records = read_split_records(examples, TRAIN_SPLIT, limit=limit)
    result = E.evaluate(
        gan, candidate_dir, eval_records, tft.TFTransformOutput(transform_graph.uri),
        config, train_records=train_records, baseline_model_dir=baseline_dir,
        hparams=info.get("hparams"), ct_window=tuple(info.get("ct_window", F.DEFAULT_CT_WINDOW)),
        dataset=info.get("dataset"))
    if model_run is not None:
        from trainer.failure_modes import read_training_health
        result.training = read_training_health(model_run.uri) or []
    record_evaluation(result, evaluation, blessing, model, baseline_dir)
    verdict = result.decision.summary()
    detected = [f["message"] for f in result.training if f.get("detected")]
    if detected:
        verdict += " | training: " + "; ".join(detected)
    if result.decision.blessed:
        log.info("GanEvaluator %s: %s", gan, verdict)
    else:
        log.warning("GanEvaluator %s: %s - the Pusher will not push this generator; report: %s",
                    gan, verdict, os.path.join(evaluation.uri, E.REPORT_MD))
    emit("verdict", gan=gan, verdict=verdict)
    return result


@tfx.dsl.components.component
def GanEvaluator(
        examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
        model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
        model_run: tfx.dsl.components.InputArtifact[standard_artifacts.ModelRun],
        transform_graph: tfx.dsl.components.InputArtifact[standard_artifacts.TransformGraph],
        evaluation: tfx.dsl.components.OutputArtifact[standard_artifacts.ModelEvaluation],
        blessing: tfx.dsl.components.OutputArtifact[standard_artifacts.ModelBlessing],
        gan: tfx.dsl.components.Parameter[str],
        eval_config: tfx.dsl.components.Parameter[str],
        run_info: tfx.dsl.components.Parameter[str],
        pushed_model_base: tfx.dsl.components.Parameter[str],
) -> None:
    """Evaluates ``model`` on the eval split against its baselines and blesses it or not.

    ``eval_config``: :class:`trainer.blessing.EvalConfig` as JSON. ``run_info``:
    ``{"hparams": {...}, "ct_window": [level, width], "dataset": name}``.
    ``pushed_model_base``: ``<serving_root>/<gan>``, the Pusher's destination.
    """
    evaluate_and_bless(examples, model, transform_graph, evaluation, blessing, gan,
                       eval_config, run_info, pushed_model_base, model_run=model_run)

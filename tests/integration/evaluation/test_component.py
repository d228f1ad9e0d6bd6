"""The GanEvaluator component's body on TFX artifacts, and TFX's Pusher reading its blessing."""
import json
import logging
import os
import shutil

import pytest

from trainer.events import EVENT_ATTR, PROGRESS_LOGGER

pytestmark = pytest.mark.tfx


def artifacts(ct, model_dir, tmp_path, model_id):
    from tfx.types import standard_artifacts
    examples = standard_artifacts.Examples()
    examples.uri = str(ct["examples"])
    examples.split_names = json.dumps(["train", "eval"])
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / f"model{model_id}")
    os.makedirs(model.uri)
    os.symlink(model_dir, os.path.join(model.uri, "Format-Serving"))
    model.id = model_id
    graph = standard_artifacts.TransformGraph()
    graph.uri = ct["transform_dir"]
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = str(tmp_path / f"evaluation{model_id}")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / f"blessing{model_id}")
    os.makedirs(evaluation.uri)
    os.makedirs(blessing.uri)
    return examples, model, graph, evaluation, blessing


def push(model, blessing, destination):
    from google.protobuf import json_format
    from tfx.components.pusher import executor as pusher_executor
    from tfx.proto import pusher_pb2
    from tfx.types import standard_artifacts
    from tfx.types import standard_component_specs as sc
    pushed = standard_artifacts.PushedModel()
    pushed.uri = destination + "_artifact"
    dest = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=destination))
    pusher_executor.Executor().Do(
        {sc.MODEL_KEY: [model], sc.MODEL_BLESSING_KEY: [blessing]}, {sc.PUSHED_MODEL_KEY: [pushed]},
        {sc.PUSH_DESTINATION_KEY: json_format.MessageToJson(dest), sc.CUSTOM_CONFIG_KEY: None})
    return pushed


# The stand-in filters lose to the gate's non-local means; a non-inferiority margin (within
# 10 dB / any SSIM of it) lets the blur reach the blessed path, the zeros stay far below.
NON_INFERIOR = dict(min_psnr_gain_db=-10.0, min_ssim_gain=-1.0)


def run_component(ct, model_dir, tmp_path, model_id, pushed_base="", model_run=None, **config):
    from tfx_pipeline.components.evaluator import evaluate_and_bless
    from trainer.blessing import EvalConfig
    os.makedirs(tmp_path, exist_ok=True)
    examples, model, graph, evaluation, blessing = artifacts(ct, model_dir, tmp_path, model_id)
    run_info = json.dumps({"hparams": {}, "ct_window": [0.0, 2000.0], "dataset": "ct"})
    result = evaluate_and_bless(examples, model, graph, evaluation, blessing, "pix2pix_wgan_gp",
                                EvalConfig(num_panels=2, **config).to_json(), run_info, pushed_base,
                                model_run=model_run)
    return result, model, evaluation, blessing


def test_the_trainers_failure_mode_findings_reach_the_report_and_the_verdict(
        ct, ct_models, tmp_path, caplog):
    """The Trainer's TrainingHealth findings (in its ModelRun folder) are shown in the
    report and the verdict line; they do not decide the blessing."""
    from tfx.types import standard_artifacts

    from trainer.failure_modes import HEALTH_FILE, discriminator_wins, divergence
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    model_run = standard_artifacts.ModelRun()
    model_run.uri = str(tmp_path / "model_run")
    os.makedirs(model_run.uri)
    wins = discriminator_wins([1.0] * 20 + [0.001] * 80)         # D loss near 0 for 80 steps
    calm = divergence({"d_loss": [1.0] * 100, "g_loss": [2.0] * 100})
    assert wins.detected and not calm.detected
    with open(os.path.join(model_run.uri, HEALTH_FILE), "w") as fh:
        json.dump({"steps": 100, "epoch": 2, "findings": [calm.to_json(), wins.to_json()]}, fh)
    result, _, evaluation, _ = run_component(ct, ct_models["blur"], tmp_path, 14,
                                             model_run=model_run, **NON_INFERIOR)
    assert result.decision.blessed                                   # reported, not gated
    report = open(os.path.join(evaluation.uri, "report.md")).read()
    training = report.split("## Training", 1)[1]
    assert training.index("DETECTED - " + wins.message) < training.index(calm.message)
    assert "<h2>Training</h2>" in open(os.path.join(evaluation.uri, "report.html")).read()
    metrics = json.load(open(os.path.join(evaluation.uri, "metrics.json")))
    assert [f["name"] for f in metrics["training"]] == [calm.name, wins.name]
    verdicts = [getattr(r, EVENT_ATTR)["verdict"] for r in caplog.records if hasattr(r, EVENT_ATTR)]
    assert verdicts and verdicts[-1].endswith("| training: " + wins.message)


@pytest.mark.parametrize("standin", ["zeros", "copy"])
def test_useless_generators_are_not_blessed_and_not_pushed(ct, ct_models, tmp_path, standin, caplog):
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    result, model, evaluation, blessing = run_component(ct, ct_models[standin], tmp_path, 11)
    assert not result.decision.blessed
    assert os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert not os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    assert blessing.get_int_custom_property("blessed") == 0
    assert blessing.get_int_custom_property("current_model_id") == 11
    assert blessing.get_string_custom_property("current_model") == model.uri
    reasons = json.loads(blessing.get_string_custom_property("reasons"))
    assert reasons and "strongest baseline nlm_denoise" in reasons[0]
    # The component gives the evaluator train pairs to choose the NLM parameters on.
    assert "chosen on 8 train pairs" in open(os.path.join(evaluation.uri, "report.md")).read()
    verdicts = [getattr(r, EVENT_ATTR) for r in caplog.records if hasattr(r, EVENT_ATTR)]
    assert [v["kind"] for v in verdicts] == ["verdict"]     # the run's progress view says why
    assert verdicts[0]["gan"] == "pix2pix_wgan_gp" and "NOT BLESSED" in verdicts[0]["verdict"]
    # Key metrics are custom properties of the evaluation artifact (ML Metadata queries).
    assert evaluation.get_float_custom_property("candidate_psnr") == pytest.approx(
        result.metrics["candidate"]["psnr"])
    assert evaluation.get_float_custom_property("trivial_baseline_psnr") > 0
    assert os.path.isfile(os.path.join(evaluation.uri, "report.html"))

    destination = str(tmp_path / "serving")
    pushed = push(model, blessing, destination)
    assert pushed.get_int_custom_property("pushed") == 0
    assert not os.path.exists(destination) or not os.listdir(destination)


def test_a_blessed_generator_is_pushed_and_names_its_baseline(ct, ct_models, tmp_path):
    """The baseline is the newest version already pushed for the GAN (the serving root)."""
    destination = str(tmp_path / "serving" / "pix2pix_wgan_gp")
    shutil.copytree(ct_models["copy"], os.path.join(destination, "3"))   # older, dominated
    shutil.copytree(ct_models["copy"], os.path.join(destination, "5"))   # the newest pushed
    os.makedirs(os.path.join(destination, "9"))                          # no SavedModel: ignored
    result, model, evaluation, blessing = run_component(ct, ct_models["blur"], tmp_path, 12,
                                                        pushed_base=destination, **NON_INFERIOR)
    assert result.decision.blessed, result.decision.reasons
    assert os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    assert blessing.get_int_custom_property("blessed") == 1
    assert blessing.get_int_custom_property("baseline_version") == 5
    assert blessing.get_string_custom_property("baseline_model") == os.path.join(destination, "5")
    assert evaluation.get_float_custom_property("latest_blessed_psnr") > 0
    pushed = push(model, blessing, destination)
    assert pushed.get_int_custom_property("pushed") == 1
    (version,) = set(os.listdir(destination)) - {"3", "5", "9"}
    assert os.path.isfile(os.path.join(destination, version, "saved_model.pb"))


def test_the_latest_blessed_generator_itself_is_not_evaluated_or_pushed_again(ct, ct_models, tmp_path):
    """A re-run whose Trainer came from the cache finds its candidate already pushed
    (same SavedModel bytes as the newest pushed version): it is already served, so it
    is neither re-evaluated nor pushed twice."""
    from serving.pushed import saved_model_fingerprint
    destination = str(tmp_path / "serving" / "pix2pix_wgan_gp")
    first, model, _, first_blessing = run_component(ct, ct_models["blur"], tmp_path / "a", 21,
                                                    pushed_base=destination, **NON_INFERIOR)
    assert first.decision.blessed
    assert push(model, first_blessing, destination).get_int_custom_property("pushed") == 1
    versions = os.listdir(destination)
    again, _, evaluation, blessing = run_component(ct, ct_models["blur"], tmp_path / "b", 21,
                                                   pushed_base=destination, **NON_INFERIOR)
    assert again is None
    assert blessing.get_int_custom_property("blessed") == 0
    assert "already the latest blessed" in json.loads(blessing.get_string_custom_property("reasons"))[0]
    pushed = push(model, blessing, destination)
    assert pushed.get_int_custom_property("pushed") == 0
    assert os.listdir(destination) == versions          # still the one pushed version
    # Another generator is not mistaken for the pushed one.
    assert saved_model_fingerprint(ct_models["blur_wide"]) != saved_model_fingerprint(
        os.path.join(destination, versions[0]))

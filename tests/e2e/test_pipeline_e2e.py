"""The whole pipeline, every GAN, for real: LocalDagRunner + SQLite ML Metadata.

One tiny run (40 records per dataset, 2 training steps per GAN) is shared by
the tests of this module; they check the artifacts, the pushed SavedModels,
TensorBoard logs, a fully cached re-run and a re-run after one GAN's
hyper-parameters change.
"""
import glob
import os
import pathlib
import re

import numpy as np
import pytest

from support.pipeline_run import node_states, run_pipeline, tfxgan
from trainer import features as F
from trainer import registry

ALL_GANS = list(registry.GANS)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    reuse = os.environ.get("TFXGAN_E2E_REUSE")  # a finished run's folder, to iterate on the checks
    if reuse:
        root = pathlib.Path(reuse)
        return {"home": root / "home", "data": root / "data", "proc": None, "cold_seconds": 0.0}
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    tfxgan("demo-data", "-o", str(data), "--count", "40", "--no-progress")
    home = root / "home"
    # Two worker processes (the parts side by side, as `tfxgan demo` runs them); the
    # re-runs below are sequential and must find everything cached.
    proc, seconds = run_pipeline(home, data, ALL_GANS, extra=["--workers", "2"])
    return {"home": home, "data": data, "proc": proc, "cold_seconds": seconds}


def test_every_component_completed(pipeline):
    states = node_states(pipeline["home"] / "metadata.sqlite")
    expected = {f"ImportExampleGen_{d}" for d in ("ct", "digits", "inpainting", "sr")}
    expected |= {f"StatisticsGen_{d}" for d in ("ct", "digits", "inpainting", "sr")}
    for gan in ALL_GANS:
        expected |= {f"{c}_{gan}" for c in ("CuratedSchemaGen", "ExampleValidator", "ValidationGate",
                                            "Transform", "Trainer", "Pusher")}
    assert expected <= set(states), sorted(expected - set(states))
    for node in expected:
        assert states[node] == ["COMPLETE"], (node, states[node])


def trained_model(home, gan):
    """The Trainer's exported generator (what the Pusher pushes when it is blessed)."""
    dirs = sorted(glob.glob(os.path.join(home, "pipeline", f"Trainer_{gan}", "model", "*", "Format-Serving")),
                  key=lambda p: int(p.split(os.sep)[-2]))
    assert dirs, f"no exported model for {gan}"
    return dirs[-1]


def blessed(home, gan) -> bool:
    dirs = sorted(glob.glob(os.path.join(home, "pipeline", f"GanEvaluator_{gan}", "blessing", "*")),
                  key=lambda p: int(p.split(os.sep)[-1]))
    assert dirs, f"no blessing for {gan}"
    marks = set(os.listdir(dirs[-1])) & {"BLESSED", "NOT_BLESSED"}
    assert len(marks) == 1, (gan, os.listdir(dirs[-1]))
    return marks == {"BLESSED"}


@pytest.mark.parametrize("gan", ALL_GANS)
def test_only_blessed_generators_are_pushed(pipeline, gan):
    pushed = sorted(glob.glob(os.path.join(pipeline["home"], "serving", gan, "[0-9]*")))
    if blessed(pipeline["home"], gan):
        assert len(pushed) == 1
        with open(os.path.join(pushed[0], "saved_model.pb"), "rb") as a, \
                open(os.path.join(trained_model(pipeline["home"], gan), "saved_model.pb"), "rb") as b:
            assert a.read() == b.read()
    else:
        assert pushed == []
        assert f"{gan}" in pipeline["proc"].stdout and "not blessed" in pipeline["proc"].stdout
    # TF Serving's model list (written after each push) holds exactly the pushed GANs.
    from serving.config import parse_model_server_config
    cfg = parse_model_server_config(open(os.path.join(pipeline["home"], "serving", "models.config")).read())
    assert (gan in {m.name for m in cfg.model_config_list.config}) == bool(pushed)


@pytest.mark.parametrize("gan", ALL_GANS)
def test_pushed_generator_follows_the_serving_contract(pipeline, gan):
    import tensorflow as tf
    path = trained_model(pipeline["home"], gan)
    assert os.path.isfile(os.path.join(path, F.WARMUP_FILE))
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {F.SERVING_SIGNATURE, F.EXAMPLE_SIGNATURE}
    sig = loaded.signatures[F.SERVING_SIGNATURE]
    spec = registry.get(gan)
    inputs = sig.structured_input_signature[1]
    expected_inputs = {registry.PAIRED: {F.IN_IMAGES}, registry.INPAINTING: {F.IN_IMAGES, F.IN_MASKS},
                       registry.UNCONDITIONAL: {F.IN_SEEDS}}[spec.kind]
    assert set(inputs) == expected_inputs
    outputs = sig.structured_outputs
    assert set(outputs) == {F.OUT_GENERATED, F.OUT_PIXELS}
    assert outputs[F.OUT_GENERATED].dtype == tf.float32
    assert outputs[F.OUT_PIXELS].dtype == (tf.uint16 if gan == "pix2pix_wgan_gp" else tf.uint8)
    # The generator alone is exported: the SavedModel holds exactly its weights.
    from support.pipeline_run import tiny_hparams
    hp = spec.hparams({**spec.presets().quick, **tiny_hparams(gan)})
    generator = spec.load().build(hp).generator
    saved = tf.train.list_variables(os.path.join(path, "variables", "variables"))
    saved_count = sum(int(np.prod(shape)) for name, shape in saved if "OBJECT_GRAPH" not in name)
    assert saved_count == generator.count_params()


def eval_records(data_root, dataset, n=3):
    import tensorflow as tf
    from tfx_pipeline.ingest.records import parse_example_bytes
    files = sorted(glob.glob(os.path.join(data_root, dataset, "Span-0", "*", "*.tfrecord")))
    raw = [r.numpy() for r in tf.data.TFRecordDataset(files).take(n)]
    return raw, [parse_example_bytes(r) for r in raw]


def transform_output(home, gan):
    import tensorflow_transform as tft
    graphs = sorted(glob.glob(os.path.join(home, "pipeline", f"Transform_{gan}", "transform_graph", "*")))
    return tft.TFTransformOutput(graphs[-1])


@pytest.mark.parametrize("gan", ["pix2pix_wgan_gp", "srrescycgan", "pconv_inpainting"])
def test_serving_on_raw_bytes_equals_transform_plus_generator(pipeline, gan):
    """The signature (bytes in) == tf.Transform's own Python path + the served generator
    (``generate``: the self-ensemble where the preset sets one)."""
    import tensorflow as tf
    spec = registry.get(gan)
    raw, recs = eval_records(pipeline["data"], spec.dataset)
    role = F.INPUT if spec.kind == registry.PAIRED else F.IMAGE
    loaded = tf.saved_model.load(trained_model(pipeline["home"], gan))
    tft_out = transform_output(pipeline["home"], gan)
    feature_spec = tft_out.raw_feature_spec()
    parsed = tf.io.parse_example(tf.constant(raw), feature_spec)
    x = tft_out.transform_raw_features(parsed)[role]
    encoded = tf.constant([_png(r["images"][role].pixels) for r in recs])
    if spec.kind == registry.INPAINTING:
        h, w, _ = x.shape[1:]
        from trainer.masks import fixed_masks
        mask = fixed_masks(len(recs), h, seed=7)
        mask_png = tf.constant([_png(np.asarray(m * 255, np.uint8)) for m in mask.numpy()])
        served = loaded.signatures[F.SERVING_SIGNATURE](images=encoded, masks=mask_png)
        direct = loaded.generate(x * mask, mask)
        direct = mask * x + (1 - mask) * direct
    else:
        served = loaded.signatures[F.SERVING_SIGNATURE](images=encoded)
        direct = loaded.generate(x)
    got = served[F.OUT_GENERATED].numpy()
    np.testing.assert_allclose(got, direct.numpy(), atol=1e-5)
    assert got.min() >= -1.0 and got.max() <= 1.0
    # The example signature, on the stored records, agrees too.
    if spec.kind == registry.PAIRED:
        by_example = loaded.signatures[F.EXAMPLE_SIGNATURE](examples=tf.constant(raw))
        np.testing.assert_allclose(by_example[F.OUT_GENERATED].numpy(), got, atol=1e-5)


def _png(pixels):
    import tensorflow as tf
    return tf.io.encode_png(pixels).numpy()


@pytest.mark.parametrize("gan", ["vanilla_gan", "dcgan"])
def test_unconditional_seeds_are_deterministic(pipeline, gan):
    import tensorflow as tf
    from trainer.gans.unconditional import noise_from_seeds
    loaded = tf.saved_model.load(trained_model(pipeline["home"], gan))
    sig = loaded.signatures[F.SERVING_SIGNATURE]
    a = sig(seeds=tf.constant([1, 2, 3], tf.int64))
    b = sig(seeds=tf.constant([3, 2, 1], tf.int64))
    np.testing.assert_allclose(a[F.OUT_GENERATED].numpy()[0], b[F.OUT_GENERATED].numpy()[2], atol=1e-6)
    assert a[F.OUT_PIXELS].dtype == tf.uint8 and a[F.OUT_GENERATED].shape[1:] == (28, 28, 1)
    hp = registry.get(gan).hparams({})
    direct = loaded.generate(noise_from_seeds(tf.constant([1, 2, 3], tf.int64), hp.latent_dim))
    np.testing.assert_allclose(a[F.OUT_GENERATED].numpy(), direct.numpy(), atol=1e-5)


def test_bad_serving_inputs_raise_named_errors(pipeline):
    import tensorflow as tf
    sig = tf.saved_model.load(trained_model(pipeline["home"], "pix2pix_wgan_gp")).signatures[F.SERVING_SIGNATURE]
    cases = {
        b"definitely not an image": "must be a PNG or JPEG",
        _png(np.zeros((32, 32, 1), np.uint16)): "must be 64x64 pixels",
        _png(np.zeros((64, 64, 3), np.uint16)): "expected 1 channel",
    }
    for data, message in cases.items():
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            sig(images=tf.constant([data]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty batch"):
        sig(images=tf.constant([], tf.string))


def test_tensorboard_logs_have_losses_and_image_panels(pipeline):
    from tensorboard.backend.event_processing import event_accumulator
    for gan in ALL_GANS:
        runs = glob.glob(os.path.join(pipeline["home"], "pipeline", f"Trainer_{gan}", "model_run", "*"))
        assert runs, gan
        tags = {"scalars": set(), "images": set(), "graph": False}
        for events in glob.glob(os.path.join(runs[-1], "**", "events.out.tfevents.*"), recursive=True):
            acc = event_accumulator.EventAccumulator(events, size_guidance={"images": 0, "tensors": 0})
            acc.Reload()
            t = acc.Tags()
            tags["scalars"] |= set(t.get("scalars", []))
            tags["images"] |= set(t.get("images", []))
            for tag in t.get("tensors", []):  # TF2 summaries: the plugin says what a tensor is
                plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
                if plugin in ("scalars", "images"):
                    tags[plugin].add(tag)
            tags["graph"] |= bool(t.get("graph"))
        assert any("g_loss" in s for s in tags["scalars"]), (gan, tags)
        assert any("d_loss" in s for s in tags["scalars"]), (gan, tags)
        assert "samples" in tags["images"], (gan, tags)
        assert tags["graph"], (gan, "no graph written")


def test_run_prints_progress_not_logs(pipeline):
    """Piped output: one line per component and a few training lines, no escape
    codes; everything else is in the run's log file; the run report is written."""
    proc = pipeline["proc"]
    if proc is None:
        pytest.skip("TFXGAN_E2E_REUSE: the cold run's output is not available")
    lines = (proc.stdout + proc.stderr).splitlines()
    assert len(lines) < 250, len(lines)
    assert "\x1b[" not in proc.stdout
    log = pathlib.Path(re.search(r"full log in (\S+\.log)", proc.stdout).group(1))
    assert log.parent == pipeline["home"] / "logs"
    text = log.read_text()
    assert "Component Trainer_dcgan is running." in text
    for gan in ALL_GANS:
        assert re.search(rf"\] done\s+Trainer_{gan} \(", proc.stdout), gan
        assert re.search(rf"training {gan}: step \d+/\d+", proc.stdout), gan
        assert f"verdict   {gan}: " in proc.stdout, gan
    page = (pipeline["home"] / "report" / "index.html").read_text()
    assert all(f"id='{gan}'" in page for gan in ALL_GANS)
    assert "report: " in proc.stdout


def test_tensorboard_serves_scalars_and_image_panels(pipeline):
    """`tfxgan tensorboard` starts from the lock and lists, through TensorBoard's
    own HTTP API, each GAN's loss scalars and image panels."""
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tfx_pipeline.cli", "tensorboard", "--logdir",
                             str(pipeline["home"] / "pipeline"), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(base + "/", timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "TensorBoard did not answer within 180 s"
                time.sleep(1)

        def get(path):
            for _ in range(60):       # the first load of the event files takes a moment
                with urllib.request.urlopen(base + path, timeout=30) as r:
                    data = json.load(r)
                if data:
                    return data
                time.sleep(1)
            return data
        scalars, images = get("/data/plugin/scalars/tags"), get("/data/plugin/images/tags")
        for gan in ALL_GANS:
            runs = [r for r in scalars if f"Trainer_{gan}/" in r]
            tags = {t for r in runs for t in scalars[r]}
            assert any("g_loss" in t for t in tags) and any("d_loss" in t for t in tags), (gan, tags)
            image_tags = {t for r in images if f"Trainer_{gan}/" in r for t in images[r]}
            assert "samples" in image_tags, (gan, image_tags)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def evaluation_numbers(home, gan) -> dict:
    import json
    folders = sorted(glob.glob(os.path.join(home, "pipeline", f"GanEvaluator_{gan}", "evaluation",
                                            "*")), key=lambda p: int(p.split(os.sep)[-1]))
    with open(os.path.join(folders[-1], "metrics.json")) as fh:
        metrics = json.load(fh)
    return {k: metrics[k] for k in ("metrics", "gain", "blessed")}


def test_one_process_trains_what_the_two_workers_trained(pipeline, tmp_path):
    """The cold run ran the parts in two workers, SR and inpainting each after other
    parts in its worker; run alone in one process they train the same weights and
    score the same (a Trainer does not depend on what ran before it)."""
    if pipeline["proc"] is None:
        pytest.skip("TFXGAN_E2E_REUSE: the cold run's settings are not known")
    assert "LocalDagRunner in 2 processes" in pipeline["proc"].stdout
    gans = ["srrescycgan", "pconv_inpainting"]
    sequential, _ = run_pipeline(tmp_path / "home", pipeline["data"], gans)
    assert "with the LocalDagRunner" in sequential.stdout
    for gan in gans:
        weights = [pathlib.Path(trained_model(home, gan), "variables",
                                "variables.data-00000-of-00001").read_bytes()
                   for home in (pipeline["home"], tmp_path / "home")]
        assert weights[0] == weights[1], gan
        assert evaluation_numbers(pipeline["home"], gan) == evaluation_numbers(tmp_path / "home", gan)


def test_cached_rerun_then_one_gan_changed(pipeline):
    home, data = pipeline["home"], pipeline["data"]
    pushed_before = sorted(glob.glob(os.path.join(home, "serving", "*", "[0-9]*")))
    warm, warm_seconds = run_pipeline(home, data, ALL_GANS)
    assert len((warm.stdout + warm.stderr).splitlines()) < 80, warm.stdout
    states = node_states(home / "metadata.sqlite")
    # No Resolver: the evaluators' inputs are unchanged, so every node, Pushers
    # included, comes from the cache and nothing is pushed again.
    for node, history in states.items():
        assert history[-1] == "CACHED", (node, history)
    assert sorted(glob.glob(os.path.join(home, "serving", "*", "[0-9]*"))) == pushed_before
    # Change one GAN's hyper-parameters: only its Trainer and what follows re-run.
    run_pipeline(home, data, ALL_GANS, hparams={"dcgan": {"seed": 123}})
    states = node_states(home / "metadata.sqlite")
    rerun = {node for node, history in states.items()
             if history[-1] == "COMPLETE"}
    assert {"Trainer_dcgan", "Pusher_dcgan"} <= rerun
    assert all(node.endswith("_dcgan") for node in rerun), rerun     # no other GAN re-ran
    assert "Transform_dcgan" not in rerun and "ImportExampleGen_digits" not in rerun
    print(f"cold run {pipeline['cold_seconds']:.0f} s, cached re-run {warm_seconds:.0f} s")

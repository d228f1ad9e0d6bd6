"""Bulk inference after the Pusher: the component's executor and Beam job on real records,
its wiring, configuration and CLI flag (no full pipeline run except the `slow` test)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from support.dicom import STANDIN_WINDOW, expected_hu, pointwise
from support.pipeline_run import tiny_hparams
from support.transform_graph import Filter, ct_small_items, write_examples, write_transform_graph
from trainer import features as F

pytestmark = pytest.mark.tfx

GAN = "pix2pix_wgan_gp"
SIZE = 64
WINDOW = STANDIN_WINDOW


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Records at the model's size (64) and larger (96), and a pushed-like CT model dir."""
    import tensorflow_transform as tft

    from trainer import registry
    from trainer.export import export_generator

    root = tmp_path_factory.mktemp("bulk")
    examples = write_examples(ct_small_items(8, SIZE), root / "same")
    larger = write_examples(ct_small_items(3, 96, seed=3), root / "larger")
    hp = registry.get(GAN).hparams(dict(image_size=SIZE, channels=1, base_filters=8))
    shapes = registry.get(GAN).load().input_shapes(hp)
    transform = write_transform_graph(examples, shapes, 16, root / "transform")
    model = root / "model"
    export_generator(GAN, Filter(pointwise), hp, str(model), tft.TFTransformOutput(transform),
                     is_ct=True, ct_window=WINDOW)
    return {"examples": examples, "larger": larger, "model": str(model), "root": root,
            "shapes": {k: list(v) for k, v in shapes.items()}}


def _records(folder, split):
    import tensorflow as tf
    files = sorted(str(p) for p in (folder / f"Split-{split}").iterdir())
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP"
                                                       if files[0].endswith(".gz") else "")]


def _read_png(path):
    import tensorflow as tf
    return tf.io.decode_png(open(path, "rb").read(), dtype=tf.uint16).numpy()


def _run_executor(setup, tmp_path, examples, pushed=1, split="eval"):
    """GanBulkInferrer's executor on hand-made artifacts (what the orchestrator passes)."""
    from tfx.types import artifact_utils, standard_artifacts

    from tfx_pipeline.components.bulk_inference import GanBulkInferrer, GeneratedImages

    ex = standard_artifacts.Examples()
    ex.uri = str(examples)
    ex.split_names = artifact_utils.encode_split_names(list(F.SPLITS))
    pm = standard_artifacts.PushedModel()
    pm.uri = setup["model"]
    pm.set_int_custom_property("pushed", pushed)
    if pushed:
        pm.set_string_custom_property("pushed_version", "1700000000")
        pm.set_string_custom_property("pushed_destination", "/serving/pix2pix_wgan_gp/1700000000")
    out = GeneratedImages()
    out.uri = str(tmp_path / "generated")
    executor = GanBulkInferrer.EXECUTOR_SPEC.executor_class()
    executor.Do({"examples": [ex], "pushed_model": [pm]}, {"generated": [out]},
                {"gan": GAN, "split": split, "shapes_json": json.dumps(setup["shapes"]),
                 "batch_size": 3})
    return tmp_path / "generated"


def test_records_of_the_model_size_give_the_models_pixels(setup, tmp_path):
    import tensorflow as tf

    out = _run_executor(setup, tmp_path, setup["examples"], split="train")
    manifest = json.loads((out / "manifest.json").read_text())
    records = _records(setup["examples"], "train")
    assert manifest["count"] == len(records) == len(manifest["images"]) > 0
    assert (manifest["gan"], manifest["split"], manifest["model_version"]) == \
        (GAN, "train", "1700000000")
    assert manifest["dicom"] is False and "no DICOM header" in manifest["dicom_note"]
    fn = tf.saved_model.load(setup["model"]).signatures[F.EXAMPLE_SIGNATURE]
    want = fn(examples=tf.constant(records))[F.OUT_PIXELS].numpy()
    ids = [tf.train.Example.FromString(r).features.feature[F.ID].bytes_list.value[0].decode()
           for r in records]
    by_id = {e["id"]: e for e in manifest["images"]}
    assert sorted(by_id) == sorted(ids)
    for rid, w in zip(ids, want):
        entry = by_id[rid]
        assert (entry["value_offset"], entry["value_scale"], entry["bit_depth"]) == \
            (F.CT_STORAGE_OFFSET, 1.0, 16)
        assert entry["tiled"] is False
        np.testing.assert_array_equal(_read_png(out / entry["file"]), w)
    assert len(list((out / "images").iterdir())) == len(records)


def test_larger_records_are_tiled(setup, tmp_path):
    from tfx_pipeline.ingest.records import parse_example_bytes

    out = _run_executor(setup, tmp_path, setup["larger"], split="train")
    manifest = json.loads((out / "manifest.json").read_text())
    records = {p["id"]: p for p in map(parse_example_bytes, _records(setup["larger"], "train"))}
    assert manifest["count"] == len(records) > 0
    for entry in manifest["images"]:
        src = records[entry["id"]]["images"][F.INPUT]
        hu_in = src.pixels[..., 0] * src.value_scale + src.value_offset
        got = _read_png(out / entry["file"])[..., 0].astype(np.float64) + F.CT_STORAGE_OFFSET
        assert entry["tiled"] is True and got.shape == (96, 96)
        assert np.max(np.abs(got - expected_hu(hu_in))) <= 1.0


def test_nothing_pushed_writes_a_manifest_saying_so(setup, tmp_path):
    out = _run_executor(setup, tmp_path, setup["examples"], pushed=0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == 0 and "not blessed" in manifest["skipped"]
    assert not (out / "images").exists()


def test_an_unknown_split_is_refused(setup, tmp_path):
    with pytest.raises(ValueError, match=r"split 'test' is not in the Examples artifact at "
                                         r".* \(splits: \['train', 'eval'\]\)"):
        _run_executor(setup, tmp_path, setup["examples"], split="test")


def test_the_component_follows_the_pusher_when_configured(tmp_path):
    from tfx_pipeline.configs import PipelineConfig, preset_runs
    from tfx_pipeline.pipeline import create_pipeline

    runs = preset_runs("quick", str(tmp_path), [GAN, "dcgan"])
    runs = (runs[0].__class__(**{**runs[0].__dict__, "bulk_infer_split": "eval"}), runs[1])
    p = create_pipeline(PipelineConfig("t", str(tmp_path / "root"), str(tmp_path / "serving"),
                                       runs))
    ids = {c.id: c for c in p.components}
    assert "BulkInferrer_dcgan" not in ids
    bulk = ids[f"BulkInferrer_{GAN}"]
    assert bulk.exec_properties["split"] == "eval"
    assert {c.id for c in bulk.upstream_nodes} >= {f"Pusher_{GAN}", "ImportExampleGen_ct"}


def test_the_component_compiles_for_kubeflow(tmp_path):
    from tfx_pipeline.runners.cli import build_parser_for, run_compile

    argv = ["compile", "--image", "r/tfx-gan:0.1.0", "--output", str(tmp_path / "p.json"),
            "--gans", GAN, "--bulk-infer", f"{GAN}=eval", "--home", "gs://b/h",
            "--data-root", "gs://b/data"]
    assert run_compile(build_parser_for(argv)) == 0
    doc = json.loads((tmp_path / "p.json").read_text())
    tasks = doc["pipelineSpec"]["root"]["dag"]["tasks"]
    assert f"Pusher_{GAN}" in tasks[f"BulkInferrer_{GAN}"]["dependentTasks"]


def test_config_and_cli_errors(tmp_path):
    from tfx_pipeline.configs import GanRun
    from tfx_pipeline.runners.cli import build_config, build_parser_for

    with pytest.raises(ValueError, match="must be one of \\('train', 'eval'\\), got 'test'"):
        GanRun(GAN, str(tmp_path), bulk_infer_split="test")
    with pytest.raises(ValueError, match="bulk inference runs paired GANs.*dcgan"):
        GanRun("dcgan", str(tmp_path), bulk_infer_split="eval")
    argv = ["run", "--gans", GAN, "--bulk-infer", f"{GAN}=eval", "--home", str(tmp_path)]
    config = build_config(build_parser_for(argv))
    assert config.runs[0].bulk_infer_split == "eval"
    argv = ["run", "--gans", GAN, "--bulk-infer", "dcgan=eval", "--home", str(tmp_path)]
    with pytest.raises(ValueError, match="--bulk-infer names GANs not in the run: \\['dcgan'\\]"):
        build_config(build_parser_for(argv))


@pytest.mark.slow
def test_a_pipeline_run_writes_generated_images(tmp_path):
    """The smallest real run: pix2pix, 2 steps, blessing thresholds opened so it is pushed."""
    import dataclasses

    from tfx_pipeline.configs import PipelineConfig, preset_runs
    from tfx_pipeline.ingest.demo_data import DemoOptions, ct_items
    from tfx_pipeline.ingest.writer import write_span
    from tfx_pipeline.runners import local
    from trainer.blessing import EvalConfig

    # 22 records: 3 in the eval split (the evaluator needs 2)
    write_span(ct_items(DemoOptions(count=22)), str(tmp_path / "data" / "ct"), progress=False)
    (run,) = preset_runs("quick", str(tmp_path / "data"), [GAN], {GAN: tiny_hparams(GAN)}, 2)
    run = dataclasses.replace(run, bulk_infer_split="eval", steps_per_epoch=2,
                              evaluation=EvalConfig(min_psnr_gain_db=-100.0, min_ssim_gain=-2.0))
    config = PipelineConfig("bulk", str(tmp_path / "root"), str(tmp_path / "serving"), (run,),
                            metadata_path=str(tmp_path / "m.sqlite"),
                            beam_pipeline_args=local.DIRECT_IN_MEMORY)
    local.run(config)
    (manifest,) = (tmp_path / "root").glob(f"BulkInferrer_{GAN}/generated/*/manifest.json")
    m = json.loads(manifest.read_text())
    assert m["count"] > 0 and "skipped" not in m
    assert all((manifest.parent / e["file"]).exists() for e in m["images"])

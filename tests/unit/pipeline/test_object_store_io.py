"""The pipeline's own file I/O goes through tf.io.gfile / TFX fileio, so object-store
roots (gs://, s3://) work. TensorFlow's in-memory ``ram://`` file system stands in for
an object store: a component that used ``open``/``os.makedirs`` on such a URI would
create a local ``./ram:/...`` folder (or fail) instead of writing into the store."""
import json
import os
import uuid

import pytest

pytestmark = pytest.mark.tfx


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh ram:// root; the test runs in an empty folder to catch local ./ram: writes."""
    monkeypatch.chdir(tmp_path)
    yield f"ram://store-{uuid.uuid4().hex[:8]}"
    assert os.listdir(tmp_path) == [], "a local folder was created for an object-store URI"


def _artifact(cls, uri):
    a = cls()
    a.uri = uri
    return a


def _write(path, data=b""):
    import tensorflow as tf
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "wb") as fh:
        fh.write(data)


def test_curated_schema_gen_writes_into_the_store(store):
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import schema_pb2
    from google.protobuf import text_format
    from tfx.types import standard_artifacts
    from tfx_pipeline.components.custom import SCHEMA_FILE, CuratedSchemaGen

    schema = _artifact(standard_artifacts.Schema, f"{store}/CuratedSchemaGen/schema/7")
    CuratedSchemaGen.EXECUTOR_SPEC.executor_class._FUNCTION(
        schema=schema, shapes_json=json.dumps({"image": [28, 28, 1]}), bit_depth=8)
    path = f"{schema.uri}/{SCHEMA_FILE}"
    assert tf.io.gfile.exists(path)
    proto = text_format.Parse(tf.io.gfile.GFile(path).read(), schema_pb2.Schema())
    assert "image_encoded" in {f.name for f in proto.feature}


def test_unchanged_generator_record_is_written_into_the_store(store):
    import tensorflow as tf
    from tfx.types import standard_artifacts
    from tfx_pipeline.components.evaluator import NOT_BLESSED_FILE, already_blessed

    model = _artifact(standard_artifacts.Model, f"{store}/Trainer/model/3")
    model.id = 3
    evaluation = _artifact(standard_artifacts.ModelEvaluation, f"{store}/GanEvaluator/evaluation/9")
    blessing = _artifact(standard_artifacts.ModelBlessing, f"{store}/GanEvaluator/blessing/9")
    already_blessed("dcgan", model, evaluation, blessing, f"{store}/serving/dcgan/5")
    assert tf.io.gfile.exists(f"{blessing.uri}/{NOT_BLESSED_FILE}")
    metrics = json.loads(tf.io.gfile.GFile(f"{evaluation.uri}/metrics.json").read())
    assert metrics["unchanged_model_id"] == 3
    assert tf.io.gfile.exists(f"{evaluation.uri}/report.md")


def test_data_check_reads_the_store(store):
    from tfx_pipeline.cli import build_parser
    from tfx_pipeline.runners.cli import _check_data, build_config

    def config(data):
        args = build_parser().parse_args(["run", "--home", f"{store}/home", "--gans", "dcgan",
                                          "--data", f"dcgan={data}"])
        return build_config(args)

    _write(f"{store}/digits/Span-0/train/data-00000-of-00001.tfrecord")
    _check_data(config(f"{store}/digits"))  # no error: the span is there
    with pytest.raises(FileNotFoundError, match=f"no ingested data for dcgan at {store}/empty"):
        _check_data(config(f"{store}/empty"))


def test_read_records_globs_the_store(store, tmp_path):
    import tensorflow as tf
    from trainer.evaluation import read_records

    path = f"{store}/examples/Split-eval/data.tfrecord"
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as w:
        for i in range(3):
            w.write(f"record{i}".encode())
    assert read_records(f"{store}/examples", "eval") == [b"record0", b"record1", b"record2"]
    with pytest.raises(FileNotFoundError, match="no 'train' records"):
        read_records(f"{store}/examples", "train")


def test_run_summary_reads_the_store(store, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("local")
    from tfx_pipeline.cli import build_parser
    from tfx_pipeline.runners.cli import build_config
    from tfx_pipeline.summary import outcomes

    home = f"{store}/home"
    config = build_config(build_parser().parse_args(
        ["run", "--home", home, "--gans", "dcgan", "vanilla_gan"]))
    _write(f"{home}/serving/dcgan/1700000000/saved_model.pb")
    _write(f"{home}/pipeline/GanEvaluator_dcgan/blessing/12/BLESSED")
    _write(f"{home}/pipeline/GanEvaluator_dcgan/evaluation/12/report.md", b"# dcgan\n")
    _write(f"{home}/pipeline/GanEvaluator_vanilla_gan/blessing/13/NOT_BLESSED")
    by_gan = {o.gan: o for o in outcomes(config)}
    assert by_gan["dcgan"].pushed == f"{home}/serving/dcgan/1700000000"
    assert by_gan["dcgan"].blessed is True
    assert by_gan["dcgan"].report == f"{home}/pipeline/GanEvaluator_dcgan/evaluation/12/report.md"
    assert by_gan["vanilla_gan"].blessed is False and by_gan["vanilla_gan"].pushed is None

    # The run report reads the evaluation's metrics and copies its report from the store.
    from tfx_pipeline.report import _copy, gan_row
    evaluation = f"{home}/pipeline/GanEvaluator_dcgan/evaluation/12"
    _write(f"{evaluation}/metrics.json", json.dumps(
        {"metrics": {"candidate": {"fd_fraction": 0.25}}, "reasons": ["good"]}).encode())
    row = gan_row(by_gan["dcgan"], None)
    assert row.generator == 0.25 and row.reasons == ["good"] and row.verdict == "blessed"
    local = str(tmp_path / "report" / "report.md")
    assert _copy(f"{evaluation}/report.md", local) == local
    assert open(local, "rb").read() == b"# dcgan\n"

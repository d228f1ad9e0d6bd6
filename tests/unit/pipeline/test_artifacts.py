"""tfx_pipeline.components.artifacts: the split folders, SavedModel and push record the
GAN components read from TFX artifacts."""
from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.tfx


def examples(uri, splits=("train", "eval")):
    from tfx.types import standard_artifacts
    artifact = standard_artifacts.Examples()
    artifact.uri = str(uri)
    artifact.split_names = json.dumps(list(splits))
    return artifact


def test_split_folders_follow_tfx_layout_and_unknown_splits_are_named(tmp_path):
    from tfx.types import artifact_utils

    from tfx_pipeline.components.artifacts import split_file_pattern, split_names, split_uri
    ex = examples("s3://bucket/Examples/7")
    assert split_names(ex) == ["train", "eval"]
    assert split_uri(ex, "eval") == "s3://bucket/Examples/7/Split-eval"
    assert split_uri(ex, "eval") == artifact_utils.get_split_uri([ex], "eval")
    assert split_file_pattern(ex, "train") == "s3://bucket/Examples/7/Split-train/*"
    with pytest.raises(ValueError, match=r"split 'test' is not in the Examples artifact at "
                                         r"s3://bucket/Examples/7 \(splits: \['train', 'eval'\]\)"):
        split_uri(ex, "test")


def test_split_records_are_read_only_from_a_listed_split(tmp_path):
    import tensorflow as tf

    from tfx_pipeline.components.artifacts import read_split_records
    for split in ("train", "eval", "extra"):
        os.makedirs(tmp_path / f"Split-{split}")
        with tf.io.TFRecordWriter(str(tmp_path / f"Split-{split}" / "data.tfrecord")) as w:
            for i in range(3):
                w.write(f"{split}{i}".encode())
    ex = examples(tmp_path)
    assert read_split_records(ex, "eval") == [b"eval0", b"eval1", b"eval2"]
    assert read_split_records(ex, "train", limit=2) == [b"train0", b"train1"]
    with pytest.raises(ValueError, match=r"split 'extra' is not in the Examples artifact"):
        read_split_records(ex, "extra")   # on disk, but not one of the artifact's splits


def test_serving_model_dir_is_format_serving(tmp_path):
    from tfx.types import standard_artifacts

    from tfx_pipeline.components.artifacts import serving_model_dir
    model = standard_artifacts.Model()
    model.uri = str(tmp_path)
    assert serving_model_dir(model) == os.path.join(str(tmp_path), "Format-Serving")


def test_push_record_of_a_pushed_and_a_skipped_model(tmp_path):
    from tfx.types import standard_artifacts

    from tfx_pipeline.components.artifacts import Push, push_of
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    pushed.set_int_custom_property("pushed", 1)
    pushed.set_string_custom_property("pushed_version", "1700000000")
    pushed.set_string_custom_property("pushed_destination", "/serving/dcgan/1700000000")
    assert push_of(pushed) == Push(True, "1700000000", "/serving/dcgan/1700000000",
                                   str(tmp_path / "pushed"))
    skipped = standard_artifacts.PushedModel()
    skipped.uri = str(tmp_path / "skipped")
    skipped.set_int_custom_property("pushed", 0)
    assert push_of(skipped) == Push(False, "", "", str(tmp_path / "skipped"))

"""The loopback S3 fixture, and tf.io.gfile / the model server on s3:// through it."""
from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest

from support.s3 import loopback_s3
from trainer.filesystems import ensure_filesystem

pytestmark = pytest.mark.tfx


def test_server_is_up_with_its_bucket_and_killed_on_exit():
    with loopback_s3(bucket="fixture-check") as server:
        assert server.endpoint.startswith("http://127.0.0.1:")
        server.client().put_object(Bucket="fixture-check", Key="a/b.txt", Body=b"x")
        assert server.keys("a/") == ["a/b.txt"]
        endpoint = server.endpoint
    with pytest.raises((urllib.error.URLError, OSError)):
        urllib.request.urlopen(endpoint + "/moto-api/", timeout=2)


def test_server_keeps_answering_after_more_log_than_a_pipe_holds():
    # moto logs one line (~100 bytes) per request; 64 KiB of unread pipe once hung it
    from botocore.config import Config
    with loopback_s3(bucket="many-requests") as server:
        client = server.client(Config(read_timeout=10, retries={"max_attempts": 1}))
        for _ in range(1000):
            client.head_bucket(Bucket="many-requests")


def test_gfile_and_tfrecords_on_s3(s3, tmp_path, monkeypatch):
    import tensorflow as tf
    monkeypatch.chdir(tmp_path)
    root = s3.uri("gfile-check")
    ensure_filesystem(root)
    tf.io.gfile.makedirs(root + "/dir")
    with tf.io.gfile.GFile(root + "/dir/hello.txt", "w") as fh:
        fh.write("hello")
    with tf.io.TFRecordWriter(root + "/dir/data.tfrecord") as writer:
        for i in range(3):
            writer.write(f"record-{i}".encode())
    assert sorted(tf.io.gfile.listdir(root + "/dir")) == ["data.tfrecord", "hello.txt"]
    assert [r.numpy() for r in tf.data.TFRecordDataset(root + "/dir/data.tfrecord")] == [
        b"record-0", b"record-1", b"record-2"]
    assert set(s3.keys("gfile-check/")) >= {"gfile-check/dir/hello.txt",
                                            "gfile-check/dir/data.tfrecord"}
    assert os.listdir(tmp_path) == []  # nothing landed in a local ./s3:/ folder


def test_model_server_finds_and_loads_a_version_from_s3(s3, tmp_path, monkeypatch):
    import numpy as np
    import tensorflow as tf

    from serving.config import pushed_versions
    from serving.model_manager import LoadedVersion
    monkeypatch.chdir(tmp_path)

    class Double(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def serve(self, x):
            return {"y": 2.0 * x}

    base = s3.uri("serving-check", "double")
    ensure_filesystem(base)
    assert pushed_versions(base) == []
    module = Double()
    tf.saved_model.save(module, base + "/3", signatures={"serving_default": module.serve})
    tf.io.gfile.makedirs(base + "/7")  # a version folder without a SavedModel yet: not counted
    assert pushed_versions(base) == [3]
    version = LoadedVersion("double", 3, base + "/3")
    assert version.path == base + "/3"
    assert list(version.signature_defs) == ["serving_default"]
    y = version._fns["serving_default"](x=tf.constant(np.ones((1, 2), np.float32)))["y"]
    assert y.numpy().tolist() == [[2.0, 2.0]]
    assert version.replay_warmup() == 0  # no assets.extra/ warmup file on the bucket
    assert os.listdir(tmp_path) == []

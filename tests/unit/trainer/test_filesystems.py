"""trainer.filesystems: which URIs need a plugin, and Beam's S3 options from the environment."""
from __future__ import annotations

import pytest

from trainer import filesystems as fs

ENV = {"S3_ENDPOINT": "http://127.0.0.1:9000", "AWS_ACCESS_KEY_ID": "key",
       "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1"}


@pytest.mark.parametrize("uri, want", [
    ("s3://bucket/a", "s3"), ("S3://bucket", "s3"), ("gs://b/x", "gs"), ("/data/raw", ""),
    ("relative/dir", ""), ("file:///tmp/x", "file"), ("odd name://x", "")])
def test_scheme(uri, want):
    assert fs.scheme(uri) == want


def test_ensure_filesystem_names_the_uri_when_the_plugin_is_missing(monkeypatch):
    monkeypatch.setitem(fs.PLUGIN_MODULES, "s3", "no_such_module_for_s3")
    with pytest.raises(ValueError, match=r"'s3://bucket/pipeline' needs the no_such_module_for_s3"):
        fs.ensure_filesystem("/local", None, "s3://bucket/pipeline")
    fs.ensure_filesystem("/local", "gs://bucket/x", None)  # nothing to import for these


def test_beam_s3_args_from_the_environment():
    args = fs.beam_s3_args(["/local", "s3://bucket/pipeline"], env=ENV)
    assert args == ("--s3_endpoint_url=http://127.0.0.1:9000", "--s3_access_key_id=key",
                    "--s3_secret_access_key=secret", "--s3_region_name=eu-west-1",
                    "--beam_plugins=tensorflow_io")


def test_beam_s3_args_only_for_s3_and_given_options_win():
    assert fs.beam_s3_args(["/local", "gs://bucket/x", None], env=ENV) == ()
    args = fs.beam_s3_args(["s3://b/x"], ["--s3_endpoint_url=https://s3.example.com",
                                          "--beam_plugins=my.plugin"], env=ENV)
    assert not any(a.startswith(("--s3_endpoint_url", "--beam_plugins")) for a in args)
    assert "--s3_access_key_id=key" in args


@pytest.mark.parametrize("https, scheme", [("0", "http"), ("1", "https"), (None, "https")])
def test_beam_endpoint_without_scheme_follows_s3_use_https(https, scheme):
    env = {"S3_ENDPOINT": "minio.local:9000", **({"S3_USE_HTTPS": https} if https else {})}
    assert fs.beam_s3_args(["s3://b"], env=env) == (
        f"--s3_endpoint_url={scheme}://minio.local:9000", "--beam_plugins=tensorflow_io")

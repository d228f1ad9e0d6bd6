"""serving.config: the generated files parse with TF Serving's protos and say what they should."""
from __future__ import annotations

import pytest
from google.protobuf import text_format

from serving import config as C
from serving import tfs_protos
from trainer import registry


def _push(root, gan, *versions):
    for v in versions:
        d = root / gan / str(v)
        d.mkdir(parents=True)
        (d / "saved_model.pb").write_bytes(b"")


def test_models_config_one_entry_per_gan_latest_policy(tmp_path):
    paths = C.write_serving_configs(tmp_path / "cfg", "gs://bucket/models")
    assert set(paths) == {C.MODELS_CONFIG, C.MONITORING_CONFIG, C.BATCHING_PARAMETERS}
    cfg = C.parse_model_server_config(paths[C.MODELS_CONFIG])
    entries = {m.name: m for m in cfg.model_config_list.config}
    assert list(entries) == list(registry.GANS)
    for name, m in entries.items():
        assert m.base_path == f"gs://bucket/models/{name}"
        assert m.model_platform == "tensorflow"
        assert m.model_version_policy.WhichOneof("policy_choice") == "latest"
        assert m.model_version_policy.latest.num_versions == 1
        assert dict(m.version_labels) == {}


def test_models_config_labels_pin_specific_versions(tmp_path):
    root = tmp_path / "models"
    _push(root, "dcgan", 1, 2, 3)
    _push(root, "vanilla_gan", 7)
    p = C.write_serving_configs(tmp_path / "cfg", str(root), gans=["dcgan", "vanilla_gan"],
                                stable={"dcgan": 2, "vanilla_gan": 7}, canary={"dcgan": 3})
    cfg = C.parse_model_server_config(p[C.MODELS_CONFIG])
    dc, va = cfg.model_config_list.config
    assert dc.base_path == str(root / "dcgan")
    assert list(dc.model_version_policy.specific.versions) == [2, 3]
    assert dict(dc.version_labels) == {"stable": 2, "canary": 3}
    assert list(va.model_version_policy.specific.versions) == [7]
    assert dict(va.version_labels) == {"stable": 7}


def test_container_path_base(tmp_path):
    cfg = C.build_model_server_config("/models", gans=["dcgan"], num_versions=2)
    (m,) = cfg.model_config_list.config
    assert m.base_path == "/models/dcgan"
    assert m.model_version_policy.latest.num_versions == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(gans=["nope"]), "unknown GAN 'nope'"),
    (dict(gans=["dcgan"], stable=9), r"version\(s\) \[9\] of 'dcgan' not pushed"),
    (dict(gans=["dcgan"], canary=2), "needs a stable version"),
    (dict(gans=["dcgan"], stable={"vanilla_gan": 1}), "not configured"),
    (dict(gans=["dcgan"], stable=-1), "non-negative int"),
])
def test_models_config_rejects_bad_arguments(tmp_path, kwargs, message):
    _push(tmp_path, "dcgan", 1)
    with pytest.raises(ValueError, match=message):
        C.build_model_server_config(str(tmp_path), **kwargs)


def test_monitoring_and_batching_parse_with_tf_serving_schema(tmp_path):
    b = C.BatchingConfig(max_batch_size=8, batch_timeout_micros=1000, num_batch_threads=4,
                         allowed_batch_sizes=(2, 4, 8))
    p = C.write_serving_configs(tmp_path, "/models", gans=["dcgan"], batching=b)
    mon = C.parse_monitoring_config(p[C.MONITORING_CONFIG])
    assert mon.DESCRIPTOR.full_name == "tensorflow.serving.MonitoringConfig"
    assert mon.prometheus_config.enable is True
    assert mon.prometheus_config.path == "/monitoring/prometheus/metrics"
    bp = C.parse_batching_parameters(p[C.BATCHING_PARAMETERS])
    assert bp.DESCRIPTOR.full_name == "tensorflow.serving.BatchingParameters"
    assert bp.max_batch_size.value == 8
    assert bp.batch_timeout_micros.value == 1000
    assert bp.num_batch_threads.value == 4
    assert list(bp.allowed_batch_sizes) == [2, 4, 8]
    assert C.batching_config_from_proto(bp) == b
    # The file documents its defaults in comments.
    comments = [l for l in p[C.BATCHING_PARAMETERS].read_text().splitlines() if l.startswith("#")]
    assert any("num_batch_threads" in l and "CPU core" in l for l in comments)


def test_tf_serving_schema_rejects_unknown_fields():
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_size { value: 8 } bogus: 1", tfs_protos.BatchingParameters())
    with pytest.raises(text_format.ParseError):
        C.parse_model_server_config("model_config_list { config { name: 'a' versions: 1 } }")


@pytest.mark.parametrize("kwargs", [
    dict(max_batch_size=0), dict(num_batch_threads=0), dict(batch_timeout_micros=-1),
    dict(max_batch_size=8, allowed_batch_sizes=(4, 2, 8)),
    dict(max_batch_size=8, allowed_batch_sizes=(2, 4)),
])
def test_batching_config_validates(kwargs):
    with pytest.raises(ValueError):
        C.BatchingConfig(**kwargs)


def test_model_server_flags_point_at_files(tmp_path):
    flags = C.model_server_flags(tmp_path, grpc_port=9000, rest_port=9001)
    assert f"--model_config_file={tmp_path / 'models.config'}" in flags
    assert f"--batching_parameters_file={tmp_path / 'batching_parameters.txt'}" in flags
    assert "--port=9000" in flags and "--rest_api_port=9001" in flags


def test_cli_serving_config_auto_labels(tmp_path, capsys):
    from tfx_pipeline.cli import main as tfxgan
    root = tmp_path / "models"
    _push(root, "dcgan", 1, 2, 5)
    rc = tfxgan(["serving-config", "--out-dir", str(tmp_path / "cfg"), "--model-base-path",
                   str(root), "--gans", "dcgan", "--auto-labels"])
    assert rc == 0
    cfg = C.parse_model_server_config(tmp_path / "cfg" / "models.config")
    assert dict(cfg.model_config_list.config[0].version_labels) == {"stable": 2, "canary": 5}
    rc = tfxgan(["serving-config", "--out-dir", str(tmp_path / "x"), "--model-base-path",
                   str(root), "--gans", "dcgan", "--stable", "4"])
    assert rc == 2
    assert "not pushed" in capsys.readouterr().err


def test_pushed_versions_ignores_non_ascii_and_int64_overflow_folders(tmp_path):
    # '²' and '٣' pass str.isdigit() but are no versions; 2**63 does not fit int64.
    _push(tmp_path, "g", 1, 7, "²", "٣", 2 ** 63, 2 ** 63 - 1, "1e3", "-4")
    assert C.pushed_versions(tmp_path / "g") == [1, 7, 2 ** 63 - 1]
    assert C.parse_version_dir("0012") == 12
    assert C.parse_version_dir("9" * 20) is None
    assert C.parse_version_dir("²") is None

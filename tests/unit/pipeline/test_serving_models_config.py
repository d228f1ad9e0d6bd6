"""``<serving_root>/models.config`` lists only what was pushed, rewritten by the Pusher step."""
import json
import os
import uuid

import pytest

from trainer import registry


def _fake_version(base, version, files=("saved_model.pb",)):
    import tensorflow as tf
    folder = f"{base}/{version}"
    tf.io.gfile.makedirs(f"{folder}/variables")
    for name in files:
        with tf.io.gfile.GFile(f"{folder}/{name}", "wb") as fh:
            fh.write(f"{base}{version}{name}".encode())
    return folder


def test_models_config_lists_only_pushed_gans_in_an_object_store(tmp_path, monkeypatch):
    import tensorflow as tf
    from serving.config import parse_model_server_config
    from serving.pushed import write_models_config

    monkeypatch.chdir(tmp_path)
    root = f"ram://serving-{uuid.uuid4().hex[:8]}"
    path = write_models_config(root)          # nothing pushed yet: a valid, empty list
    assert path == f"{root}/models.config"
    assert list(parse_model_server_config(tf.io.gfile.GFile(path).read())
                .model_config_list.config) == []
    unblessed = "srrescycgan"
    for gan in registry.GANS:
        if gan != unblessed:
            _fake_version(f"{root}/{gan}", 1700000000)
    _fake_version(f"{root}/{unblessed}", 1700000001, files=())   # a push still copying: no .pb
    write_models_config(root)
    cfg = parse_model_server_config(tf.io.gfile.GFile(path).read())
    entries = {m.name: m for m in cfg.model_config_list.config}
    assert set(entries) == set(registry.GANS) - {unblessed}
    assert len(entries) == len(registry.GANS) - 1
    for gan, m in entries.items():
        assert m.base_path == f"{root}/{gan}"
        assert m.model_version_policy.latest.num_versions == 1
    assert sorted(tf.io.gfile.listdir(root)) == sorted([*registry.GANS, "models.config"])
    assert os.listdir(tmp_path) == []        # no local ./ram: folder


def test_newest_pushed_and_fingerprint(tmp_path):
    from serving.pushed import newest_pushed, pushed_versions, saved_model_fingerprint
    base = str(tmp_path / "dcgan")
    assert newest_pushed(base) is None
    a = _fake_version(base, 5, ("saved_model.pb", "variables/variables.index"))
    _fake_version(base, 12, ("saved_model.pb", "variables/variables.index"))
    os.makedirs(os.path.join(base, "40"))          # no SavedModel yet
    os.makedirs(os.path.join(base, "tmp-3"))
    assert pushed_versions(base) == [5, 12]
    assert newest_pushed(base) == os.path.join(base, "12")
    assert saved_model_fingerprint(a) != saved_model_fingerprint(os.path.join(base, "12"))
    with pytest.raises(FileNotFoundError, match="no SavedModel at .*40"):
        saved_model_fingerprint(os.path.join(base, "40"))


@pytest.mark.tfx
def test_pusher_step_rewrites_models_config(tmp_path):
    from google.protobuf import json_format
    from tfx.proto import pusher_pb2
    from tfx.types import standard_artifacts
    from tfx.types import standard_component_specs as sc

    from serving.config import parse_model_server_config
    from tfx_pipeline.components.artifacts import push_of
    from tfx_pipeline.components.pusher import ServingPusherExecutor, serving_root_of

    serving_root = tmp_path / "serving"
    runs = iter(range(100))

    def push(gan, blessed):
        run = next(runs)
        model = standard_artifacts.Model()
        model.uri = str(tmp_path / f"model-{run}")
        _fake_version(model.uri, "Format-Serving")
        blessing = standard_artifacts.ModelBlessing()
        blessing.uri = str(tmp_path / f"blessing-{run}")
        os.makedirs(blessing.uri)
        blessing.set_int_custom_property("blessed", int(blessed))
        pushed = standard_artifacts.PushedModel()
        pushed.uri = str(tmp_path / f"pushed-{run}")
        dest = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(
            base_directory=str(serving_root / gan)))
        ServingPusherExecutor().Do(
            {sc.MODEL_KEY: [model], sc.MODEL_BLESSING_KEY: [blessing]},
            {sc.PUSHED_MODEL_KEY: [pushed]},
            {sc.PUSH_DESTINATION_KEY: json_format.MessageToJson(dest), sc.CUSTOM_CONFIG_KEY: None})
        record = push_of(pushed)        # what the bulk inferrer reads of TFX's Pusher
        if record.pushed:
            assert record.destination == str(serving_root / gan / record.version)
            assert os.path.isdir(record.destination)
        else:
            assert (record.version, record.destination) == ("", "")
        return int(record.pushed)

    def listed():
        cfg = parse_model_server_config((serving_root / "models.config").read_text())
        return {m.name for m in cfg.model_config_list.config}

    assert push("vanilla_gan", blessed=False) == 0
    assert listed() == set()                       # written even when nothing was pushed
    assert push("dcgan", blessed=True) == 1
    assert listed() == {"dcgan"}
    assert push("vanilla_gan", blessed=True) == 1
    assert listed() == {"dcgan", "vanilla_gan"}
    assert serving_root_of(json.dumps({"filesystem": {"baseDirectory": "gs://b/serving/dcgan/"}})) \
        == "gs://b/serving"
    with pytest.raises(ValueError, match="<serving_root>/<gan>, got 'dcgan'"):
        serving_root_of(json.dumps({"filesystem": {"baseDirectory": "dcgan"}}))

"""The local server follows ``<serving_root>/models.config`` as the pipeline rewrites it."""
from __future__ import annotations

import time

import numpy as np
import pytest

from serving import testing
from serving.errors import ServingError
from trainer import features as F
from trainer import registry

from .conftest import SIZE


def _wait_for(predicate, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_only_pushed_gans_are_served_and_a_later_push_is_picked_up(tmp_path):
    from serving.client import GrpcClient
    from serving.pushed import write_models_config
    from serving.server import LocalServer, ServerOptions

    root = tmp_path / "serving"
    # pix2pix and vanilla_gan were blessed and pushed; dcgan was not blessed.
    testing.write_standin_model(root / "pix2pix_wgan_gp", 1700000000, registry.PAIRED,
                                size=SIZE, bias=0.1, model_name="pix2pix_wgan_gp")
    testing.write_standin_model(root / "vanilla_gan", 1700000000, registry.UNCONDITIONAL,
                                size=SIZE, bias=0.1, model_name="vanilla_gan")
    config = write_models_config(str(root))
    seeds = {F.IN_SEEDS: np.array([0, 1], np.int64)}
    options = ServerOptions(model_config_file=config, poll_seconds=0.1,
                            model_config_poll_seconds=0.1, rest_port=None)
    with LocalServer(options) as s, GrpcClient(s.grpc_address, timeout=30) as c:
        assert sorted(s.manager.model_names) == ["pix2pix_wgan_gp", "vanilla_gan"]
        assert c.predict("vanilla_gan", seeds).version == 1700000000
        with pytest.raises(ServingError) as e:
            c.predict("dcgan", seeds)
        assert e.value.code.name == "NOT_FOUND"
        # A later run blesses and pushes dcgan: served without a restart.
        testing.write_standin_model(root / "dcgan", 1700000500, registry.UNCONDITIONAL,
                                    size=SIZE, bias=0.1, model_name="dcgan")
        write_models_config(str(root))
        assert _wait_for(lambda: "dcgan" in s.manager.model_names
                         and s.manager.available_versions("dcgan") == [1700000500])
        assert c.predict("dcgan", seeds).version == 1700000500
        assert c.predict("vanilla_gan", seeds).version == 1700000000

"""Stand-in generator SavedModels (8x8 grayscale) and a local server over them."""
from __future__ import annotations

import pytest

from trainer import registry

SIZE = 8
# Served model name -> kind; registry names so `tfxgan predict` picks the kind itself.
MODELS = {
    "pix2pix_wgan_gp": registry.PAIRED,
    "vanilla_gan": registry.UNCONDITIONAL,
    "pconv_inpainting": registry.INPAINTING,
}
MAX_RECEIVE = 1024 * 1024  # the test server's request limit (oversized-message test)


@pytest.fixture(scope="session")
def model_root(tmp_path_factory):
    from serving.testing import write_standin_model

    root = tmp_path_factory.mktemp("models")
    for name, kind in MODELS.items():
        write_standin_model(root / name, 1, kind, size=SIZE, model_name=name,
                            refine_signature=(kind == registry.PAIRED))
    return root


@pytest.fixture(scope="session")
def config_dir(model_root, tmp_path_factory):
    from serving.config import write_serving_configs

    out = tmp_path_factory.mktemp("config")
    write_serving_configs(out, str(model_root), gans=list(MODELS))
    return out


@pytest.fixture(scope="session")
def server(config_dir):
    from serving.server import LocalServer, ServerOptions

    s = LocalServer(ServerOptions(model_config_file=str(config_dir / "models.config"),
                                  poll_seconds=0, max_receive_message_bytes=MAX_RECEIVE))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def grpc_client(server):
    from serving.client import GrpcClient

    with GrpcClient(server.grpc_address, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def rest_client(server):
    from serving.client import RestClient

    with RestClient(server.rest_address, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def in_process(model_root):
    """Direct SavedModel calls: what the server must return for valid requests."""
    import tensorflow as tf

    cache = {}

    def call(name, inputs, signature="serving_default", version=1):
        key = (name, version)
        if key not in cache:
            cache[key] = tf.saved_model.load(str(model_root / name / str(version)))
        fn = cache[key].signatures[signature]
        return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}

    return call

"""The same client and compatibility checks against real TF Serving, when its binary exists.

Starts ``tensorflow_model_server`` on free loopback ports with the generated
``models.config`` over the stand-in models, and checks that it and the local
server give the same answers: outputs, dtypes, metadata, status, error codes.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

from serving import testing
from serving.errors import ServingError
from trainer import features as F

from .conftest import MODELS, SIZE
from .test_bad_requests import _bad_cases

BINARY = shutil.which("tensorflow_model_server")
pytestmark = pytest.mark.skipif(
    BINARY is None, reason="tensorflow_model_server is not on PATH (TF Serving has no pip or "
                           "Debian package; install it or run in the tensorflow/serving image)")

# The local server refuses these; TF Serving hands them to the model, which may accept them.
STRICTER_THAN_TF_SERVING = {"empty batch", "NaN values", "Inf values"}
NOT_COMPARED = {"oversized message"}  # TF Serving sets no receive limit by default


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tf_serving(config_dir):
    from serving.client import GrpcClient
    from serving.config import model_server_flags

    grpc_port, rest_port = _free_port(), _free_port()
    flags = [f for f in model_server_flags(config_dir, grpc_port, rest_port, enable_batching=False)
             if not f.startswith("--monitoring")]
    proc = subprocess.Popen([BINARY, *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = GrpcClient(f"127.0.0.1:{grpc_port}", timeout=10)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if all(client.get_model_status(m)["model_version_status"][0]["state"] == "AVAILABLE"
                       for m in MODELS):
                    break
            except ServingError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
                pytest.fail(f"tensorflow_model_server did not become ready:\n{out[-4000:]}")
            time.sleep(0.5)
        yield {"grpc": f"127.0.0.1:{grpc_port}", "rest": f"127.0.0.1:{rest_port}",
               "client": client}
    finally:
        client.close()
        proc.terminate()
        proc.wait(30)


@pytest.mark.parametrize("name", list(MODELS))
def test_valid_predictions_match(name, tf_serving, grpc_client, rest_client):
    import tensorflow as tf

    from serving.client import RestClient

    inputs = testing.sample_inputs(MODELS[name], 2, SIZE, seed=1)
    ref = tf_serving["client"].predict_raw(tf_serving["client"].predict_request(name, inputs))
    ours = grpc_client.predict_raw(grpc_client.predict_request(name, inputs))
    assert ours.model_spec == ref.model_spec
    assert set(ours.outputs) == set(ref.outputs)
    for k in ref.outputs:
        assert ours.outputs[k].dtype == ref.outputs[k].dtype
        assert ours.outputs[k].tensor_shape == ref.outputs[k].tensor_shape
        np.testing.assert_array_equal(tf.make_ndarray(ours.outputs[k]),
                                      tf.make_ndarray(ref.outputs[k]))
    with RestClient(tf_serving["rest"]) as tfs_rest:
        for fmt in ("row", "columnar"):
            body = tfs_rest.encode_inputs(inputs, fmt)
            path = f"/v1/models/{name}:predict"
            s1, a = tfs_rest.request("POST", path, json.dumps(body).encode())
            s2, b = rest_client.request("POST", path, json.dumps(body).encode())
            assert s1 == s2 == 200
            ja, jb = json.loads(a), json.loads(b)
            assert ja.keys() == jb.keys()
            np.testing.assert_allclose(np.array(_flatten(ja)), np.array(_flatten(jb)), rtol=1e-6)


def _flatten(j):
    if isinstance(j, dict):
        return [x for k in sorted(j) for x in _flatten(j[k])]
    if isinstance(j, list):
        return [x for v in j for x in _flatten(v)]
    return [j]


def test_metadata_and_status_match(tf_serving, grpc_client, rest_client):
    from serving.client import RestClient

    for name in MODELS:
        assert grpc_client.get_model_metadata(name) == tf_serving["client"].get_model_metadata(name)
        assert grpc_client.get_model_status(name) == tf_serving["client"].get_model_status(name)
        with RestClient(tf_serving["rest"]) as r:
            assert rest_client.get_model_metadata(name) == r.get_model_metadata(name)
            assert rest_client.get_model_status(name) == r.get_model_status(name)


def test_bad_request_status_codes_match(tf_serving, grpc_client):
    ref = {case: thunk for case, thunk, _, _ in _bad_cases(tf_serving["client"])}
    diffs = []
    for case, thunk, code, _ in _bad_cases(grpc_client):
        if case in NOT_COMPARED:
            continue
        try:
            ref[case]()
            ref_code = None
        except ServingError as e:
            ref_code = e.code
        if case in STRICTER_THAN_TF_SERVING and ref_code is None:
            continue
        if ref_code != code:
            diffs.append(f"{case}: TF Serving {ref_code}, local {code}")
    assert not diffs, "\n".join(diffs)
    assert tf_serving["client"].predict("vanilla_gan", {F.IN_SEEDS: np.array([1])}).version == 1

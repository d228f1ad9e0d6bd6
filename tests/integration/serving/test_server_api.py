"""Valid requests: gRPC and REST answers equal an in-process SavedModel call, in TF Serving's shapes."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from serving import testing
from trainer import features as F
from trainer import registry

from .conftest import MODELS, SIZE


@pytest.mark.parametrize("name", list(MODELS))
def test_grpc_and_rest_match_in_process_call(name, grpc_client, rest_client, server, in_process):
    from serving.client import RestClient

    inputs = testing.sample_inputs(MODELS[name], 3, SIZE, seed=5)
    want = in_process(name, inputs)
    got_grpc = grpc_client.predict(name, inputs)
    assert got_grpc.version == 1 and got_grpc.signature_name == F.SERVING_SIGNATURE
    with RestClient(server.rest_address, request_format="row") as rows:
        got_rows = rows.predict(name, inputs)
    got_cols = rest_client.predict(name, inputs)
    for got in (got_grpc, got_rows, got_cols):
        assert set(got.outputs) == {F.OUT_GENERATED, F.OUT_PIXELS}
        for k, v in want.items():
            assert got[k].dtype == v.dtype, k
            assert got[k].shape == (3, SIZE, SIZE, 1)
            np.testing.assert_array_equal(got[k], v)


def test_grpc_response_fields_and_tensor_content(grpc_client):
    inputs = testing.sample_inputs(registry.PAIRED, 2, SIZE)
    resp = grpc_client.predict_raw(grpc_client.predict_request("pix2pix_wgan_gp", inputs))
    assert resp.model_spec.name == "pix2pix_wgan_gp"
    assert resp.model_spec.version.value == 1
    assert resp.model_spec.signature_name == F.SERVING_SIGNATURE
    gen = resp.outputs[F.OUT_GENERATED]
    assert gen.dtype == 1  # DT_FLOAT
    assert [d.size for d in gen.tensor_shape.dim] == [2, SIZE, SIZE, 1]
    assert len(gen.tensor_content) == 2 * SIZE * SIZE * 4 and not gen.float_val
    assert resp.outputs[F.OUT_PIXELS].dtype == 4  # DT_UINT8


def test_request_tensors_travel_as_tensor_content(grpc_client):
    req = grpc_client.predict_request("vanilla_gan", {F.IN_SEEDS: np.arange(4, dtype=np.int64)})
    seeds = req.inputs[F.IN_SEEDS]
    assert len(seeds.tensor_content) == 4 * 8 and not seeds.int64_val


def test_example_signature_and_output_filter(grpc_client, rest_client, in_process):
    img = testing.random_png(SIZE, seed=3)
    ex = np.array([testing.example_bytes(registry.PAIRED, img)], dtype=object)
    want = in_process("pix2pix_wgan_gp", {F.IN_IMAGES: np.array([img], dtype=object)})
    for c in (grpc_client, rest_client):
        got = c.predict("pix2pix_wgan_gp", {F.IN_EXAMPLES: ex}, signature=F.EXAMPLE_SIGNATURE,
                        output_filter=[F.OUT_PIXELS])
        assert list(got.outputs) == [F.OUT_PIXELS]
        np.testing.assert_array_equal(got[F.OUT_PIXELS], want[F.OUT_PIXELS])


def test_rest_b64_row_and_columnar_bodies(rest_client, in_process):
    imgs = [testing.random_png(SIZE, seed=i) for i in range(2)]
    b64 = [{"b64": base64.b64encode(b).decode()} for b in imgs]
    want = in_process("pix2pix_wgan_gp", {F.IN_IMAGES: np.array(imgs, dtype=object)})
    path = "/v1/models/pix2pix_wgan_gp:predict"
    # Row format, single input: instances are the values; multiple outputs: list of objects.
    status, body = rest_client.request("POST", path, json.dumps({"instances": b64}).encode())
    assert status == 200
    preds = json.loads(body)["predictions"]
    assert len(preds) == 2 and set(preds[0]) == {F.OUT_GENERATED, F.OUT_PIXELS}
    np.testing.assert_array_equal(np.array([p[F.OUT_PIXELS] for p in preds], np.uint8),
                                  want[F.OUT_PIXELS])
    # Columnar format, named input; versioned URL; one filtered output: "outputs" is the value.
    body = {"inputs": {F.IN_IMAGES: b64}, "output_filter": [F.OUT_GENERATED]}
    status, raw = rest_client.request("POST", "/v1/models/pix2pix_wgan_gp/versions/1:predict",
                                      json.dumps(body).encode())
    assert status == 200
    out = json.loads(raw)["outputs"]
    np.testing.assert_allclose(np.array(out, np.float32), want[F.OUT_GENERATED], rtol=1e-6)
    # Row format with named inputs (inpainting: two inputs).
    mask = testing.sample_inputs(registry.INPAINTING, 1, SIZE)[F.IN_MASKS][0]
    rows = [{F.IN_IMAGES: b64[0], F.IN_MASKS: {"b64": base64.b64encode(mask).decode()}}]
    status, raw = rest_client.request("POST", "/v1/models/pconv_inpainting:predict",
                                      json.dumps({"instances": rows}).encode())
    assert status == 200 and len(json.loads(raw)["predictions"]) == 1


def test_metadata_matches_saved_model_on_grpc_and_rest(grpc_client, rest_client, model_root):
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel.FromString(
        (model_root / "pix2pix_wgan_gp" / "1" / "saved_model.pb").read_bytes())
    want = {k: json_format.MessageToDict(v, preserving_proto_field_name=True,
                                         including_default_value_fields=True)
            for k, v in sm.meta_graphs[0].signature_def.items()}
    g = grpc_client.get_model_metadata("pix2pix_wgan_gp")
    r = rest_client.get_model_metadata("pix2pix_wgan_gp")
    assert g == r
    assert r["model_spec"] == {"name": "pix2pix_wgan_gp", "version": "1", "signature_name": ""}
    sigs = r["metadata"]["signature_def"]["signature_def"]
    assert sigs == want
    default = sigs[F.SERVING_SIGNATURE]
    assert default["method_name"] == F.PREDICT_METHOD
    assert default["inputs"][F.IN_IMAGES]["dtype"] == "DT_STRING"
    assert default["outputs"][F.OUT_PIXELS]["dtype"] == "DT_UINT8"
    assert F.EXAMPLE_SIGNATURE in sigs
    raw = grpc_client.get_model_metadata_raw("pix2pix_wgan_gp")
    assert raw.metadata["signature_def"].type_url.endswith("tensorflow.serving.SignatureDefMap")


def test_model_status_grpc_and_rest(grpc_client, rest_client):
    want = {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    for c in (grpc_client, rest_client):
        assert c.get_model_status("vanilla_gan") == want
        assert c.get_model_status("vanilla_gan", version=1) == want


def test_prometheus_metrics(rest_client, grpc_client):
    grpc_client.predict("vanilla_gan", {F.IN_SEEDS: np.array([1], np.int64)})
    status, body = rest_client.request("GET", "/monitoring/prometheus/metrics")
    assert status == 200
    text = body.decode()
    assert ':tensorflow:serving:request_count{model_name="vanilla_gan",API="predict",status="OK"}' \
        in text

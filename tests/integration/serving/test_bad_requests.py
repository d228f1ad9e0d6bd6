"""Every bad request gets TF Serving's status code and a clear message; the server keeps serving."""
from __future__ import annotations

import json

import grpc
import numpy as np
import pytest

from serving import testing
from serving.errors import ServingError
from trainer import features as F
from trainer import registry

from .conftest import MAX_RECEIVE, SIZE

C = grpc.StatusCode
PIX = "pix2pix_wgan_gp"


def _images(*pngs):
    return {F.IN_IMAGES: np.array(list(pngs), dtype=object)}


def _raw_images_request(client, mutate):
    req = client.predict_request(PIX, _images(testing.random_png(SIZE)))
    mutate(req.inputs[F.IN_IMAGES])
    return req


def _raw_refine_request(client, mutate):
    req = client.predict_request(PIX, {F.OUT_GENERATED: np.zeros((1, SIZE, SIZE, 1), np.float32)},
                                 signature=testing.REFINE_SIGNATURE)
    mutate(req.inputs[F.OUT_GENERATED])
    return req


def _set_dims(t, dims):
    del t.tensor_shape.dim[:]
    for d in dims:
        t.tensor_shape.dim.add(size=d)


def _bad_cases(c):
    """(case, thunk, expected code, message fragment)."""
    good = _images(testing.random_png(SIZE))
    nan = np.zeros((1, SIZE, SIZE, 1), np.float32)
    nan[0, 0, 0, 0] = np.nan
    inf = np.full((1, SIZE, SIZE, 1), np.inf, np.float32)
    return [
        ("unknown model", lambda: c.predict("no_such_model", good),
         C.NOT_FOUND, "Servable not found for request: Latest(no_such_model)"),
        ("unknown version", lambda: c.predict(PIX, good, version=99),
         C.NOT_FOUND, f"Servable not found for request: Specific({PIX}, 99)"),
        ("unknown label", lambda: c.predict(PIX, good, label="canary"),
         C.INVALID_ARGUMENT, "Unrecognized servable version label: canary"),
        ("unknown signature", lambda: c.predict(PIX, good, signature="nope"),
         C.FAILED_PRECONDITION, 'Serving signature key "nope" not found.'),
        ("missing input", lambda: c.predict("pconv_inpainting", good),
         C.INVALID_ARGUMENT, "Missing but required: {masks}"),
        ("extra input", lambda: c.predict(PIX, {**good, "bogus": np.array([1])}),
         C.INVALID_ARGUMENT, "Sent extra: {bogus}"),
        ("wrong dtype", lambda: c.predict(PIX, {F.IN_IMAGES: np.array([1.5], np.float32)}),
         C.INVALID_ARGUMENT, "Expects arg[0] to be string but float is provided"),
        ("wrong dtype (seeds)", lambda: c.predict("vanilla_gan", {F.IN_SEEDS: np.array([1.0])}),
         C.INVALID_ARGUMENT, "Expects arg[0] to be int64 but double is provided"),
        ("wrong rank", lambda: c.predict(PIX, {F.IN_IMAGES: np.array([[testing.random_png(SIZE)]],
                                                                     dtype=object)}),
         C.INVALID_ARGUMENT, "input 'images' must have rank 1"),
        ("wrong height/width", lambda: c.predict(PIX, _images(testing.random_png(SIZE * 2))),
         C.INVALID_ARGUMENT, f"images: every image must be {SIZE}x{SIZE} pixels"),
        ("wrong channels", lambda: c.predict(PIX, _images(testing.random_png(SIZE, channels=3))),
         C.INVALID_ARGUMENT, "shape"),
        ("wrong dims (float signature)", lambda: c.predict(
            PIX, {F.OUT_GENERATED: np.zeros((1, SIZE, SIZE + 1, 1), np.float32)},
            signature=testing.REFINE_SIGNATURE),
         C.INVALID_ARGUMENT, "dimension 2 is 9, expected 8"),
        ("empty batch", lambda: c.predict(PIX, {F.IN_IMAGES: np.array([], dtype=object)}),
         C.INVALID_ARGUMENT, "empty batch"),
        ("tensor_content length", lambda: c.predict_raw(_raw_refine_request(
            c, lambda t: setattr(t, "tensor_content", t.tensor_content[:-4]))),
         C.INVALID_ARGUMENT, "tensor parsing error: generated"),
        ("string count vs shape", lambda: c.predict_raw(_raw_images_request(
            c, lambda t: _set_dims(t, [3]))),
         C.INVALID_ARGUMENT, "tensor parsing error: images"),
        ("negative dimension", lambda: c.predict_raw(_raw_refine_request(
            c, lambda t: _set_dims(t, [-1, SIZE, SIZE, 1]))),
         C.INVALID_ARGUMENT, "tensor parsing error: generated"),
        ("huge dimension", lambda: c.predict_raw(_raw_refine_request(
            c, lambda t: _set_dims(t, [1 << 40, SIZE, SIZE, 1]))),
         C.INVALID_ARGUMENT, "tensor parsing error: generated"),
        ("not an image", lambda: c.predict(PIX, _images(b"this is not a PNG")),
         C.INVALID_ARGUMENT, "images: every value must be a PNG or JPEG image"),
        ("NaN values", lambda: c.predict(PIX, {F.OUT_GENERATED: nan},
                                         signature=testing.REFINE_SIGNATURE),
         C.INVALID_ARGUMENT, "NaN or Inf"),
        ("Inf values", lambda: c.predict(PIX, {F.OUT_GENERATED: inf},
                                         signature=testing.REFINE_SIGNATURE),
         C.INVALID_ARGUMENT, "NaN or Inf"),
        ("oversized message", lambda: c.predict(PIX, _images(b"x" * (MAX_RECEIVE + 1))),
         C.RESOURCE_EXHAUSTED, "larger than max"),
        # Big enough that no machine answers it within 1 ms (64 seeds sometimes did), and
        # within the default batch limit (1024).
        ("1 ms deadline", lambda: c.predict("vanilla_gan", {F.IN_SEEDS: np.arange(1024)},
                                            timeout=0.001),
         C.DEADLINE_EXCEEDED, "Deadline"),
    ]


def test_every_bad_grpc_request_then_a_valid_one(grpc_client, in_process):
    failures = []
    for case, thunk, code, fragment in _bad_cases(grpc_client):
        try:
            thunk()
        except ServingError as e:
            if e.code != code or fragment not in e.message:
                failures.append(f"{case}: got {e.code.name} {e.message!r}, want {code.name} "
                                f"containing {fragment!r}")
        else:
            failures.append(f"{case}: no error")
    assert not failures, "\n".join(failures)
    inputs = testing.sample_inputs(registry.PAIRED, 2, SIZE)
    got = grpc_client.predict(PIX, inputs)
    np.testing.assert_array_equal(got[F.OUT_PIXELS], in_process(PIX, inputs)[F.OUT_PIXELS])


def test_bad_requests_are_answered_while_others_are_served(grpc_client):
    """Bad and good requests interleaved from threads: each gets its own answer."""
    import concurrent.futures as cf

    good = testing.sample_inputs(registry.UNCONDITIONAL, 1, SIZE)

    def bad():
        with pytest.raises(ServingError) as e:
            grpc_client.predict(PIX, _images(b"junk"))
        return e.value.code

    def ok():
        return grpc_client.predict("vanilla_gan", good)[F.OUT_PIXELS].shape

    with cf.ThreadPoolExecutor(8) as pool:
        futs = [pool.submit(bad if i % 2 else ok) for i in range(40)]
        results = [f.result() for f in futs]
    assert results[1::2] == [C.INVALID_ARGUMENT] * 20
    assert results[0::2] == [(1, SIZE, SIZE, 1)] * 20


@pytest.mark.parametrize("path, body, http_status, fragment", [
    ("/v1/models/no_such_model:predict", {"instances": [1]}, 404, "Servable not found"),
    ("/v1/models/vanilla_gan/versions/7:predict", {"instances": [1]}, 404,
     "Specific(vanilla_gan, 7)"),
    ("/v1/models/vanilla_gan/labels/canary:predict", {"instances": [1]}, 400,
     "Unrecognized servable version label"),
    ("/v1/models/vanilla_gan:predict", {"signature_name": "x", "instances": [1]}, 400,
     'Serving signature key "x" not found'),
    ("/v1/models/vanilla_gan:predict", {"instances": [1.5]}, 400, "is not of expected type: int64"),
    ("/v1/models/vanilla_gan:predict", {"instances": []}, 400, "empty batch"),
    ("/v1/models/vanilla_gan:predict", {"nothing": 1}, 400, "Missing 'inputs' or 'instances' key"),
    ("/v1/models/vanilla_gan:predict", {"inputs": [1], "instances": [1]}, 400, "only one of"),
    ("/v1/models/vanilla_gan:predict", {"inputs": {"seeds": [1], "x": [2]}}, 400, "Sent extra: {x}"),
    ("/v1/models/pix2pix_wgan_gp:predict", {"instances": [{"b64": "!!!"}]}, 400,
     "base64"),
    ("/v1/models/pix2pix_wgan_gp:predict", {"instances": [{"b64": "bm90IGEgcG5n"}]}, 400,
     "images: every value must be a PNG or JPEG image"),
    ("/v1/models/vanilla_gan:classify", {"instances": [1]}, 501, "not supported"),
    ("/v1/models/vanilla_gan:predict", "{not json", 400, "JSON Parse error"),
])
def test_bad_rest_requests(rest_client, path, body, http_status, fragment):
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    status, data = rest_client.request("POST", path, raw)
    assert status == http_status, data
    assert fragment in json.loads(data)["error"]
    status, _ = rest_client.request("POST", "/v1/models/vanilla_gan:predict",
                                    json.dumps({"instances": [3]}).encode())
    assert status == 200


def test_rest_status_errors(rest_client):
    for path, code, fragment in [
            ("/v1/models/no_such_model", 404, "Could not find any versions of model no_such_model"),
            ("/v1/models/vanilla_gan/versions/5", 404, "Could not find version 5 of model"),
            ("/v1/models/vanilla_gan/labels/stable", 400, "Unrecognized servable version label"),
            ("/v2/whatever", 404, "Malformed request")]:
        status, data = rest_client.request("GET", path)
        assert status == code and fragment in json.loads(data)["error"], (path, data)


def test_rest_oversized_body(rest_client):
    body = json.dumps({"instances": ["x" * (MAX_RECEIVE + 10)]}).encode()
    status, data = rest_client.request("POST", "/v1/models/pix2pix_wgan_gp:predict", body)
    assert status == 413 and "exceeds the limit" in json.loads(data)["error"]

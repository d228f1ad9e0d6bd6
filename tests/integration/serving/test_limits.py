"""Bounded work per request, REST body framing and timeouts, metric labels, concurrency."""
from __future__ import annotations

import concurrent.futures as cf
import json
import socket
import threading
import time

import grpc
import numpy as np
import pytest

from serving import testing
from serving.errors import ServingError
from trainer import features as F

from .conftest import MAX_RECEIVE, SIZE

C = grpc.StatusCode
GAN = "vanilla_gan"
PIX = "pix2pix_wgan_gp"


def _seeds_request(client, dims, values=(3,)):
    """A tiny request that declares seeds of shape ``dims`` with a few int64_val values."""
    req = client.predict_request(GAN, {F.IN_SEEDS: np.array([1], np.int64)})
    t = req.inputs[F.IN_SEEDS]
    t.ClearField("tensor_content")
    del t.tensor_shape.dim[:]
    for d in dims:
        t.tensor_shape.dim.add(size=d)
    t.int64_val.extend(values)
    return req


def _code(thunk):
    with pytest.raises(ServingError) as e:
        thunk()
    return e.value.code, e.value.message


# ------------------------------------------------------------ bounded work
def test_declared_batch_above_limit_is_refused_before_expansion(grpc_client):
    req = _seeds_request(grpc_client, [1 << 20])
    assert req.ByteSize() < 100
    t0 = time.monotonic()
    code, msg = _code(lambda: grpc_client.predict_raw(req, timeout=20))
    assert code == C.INVALID_ARGUMENT
    assert "batch size 1048576 is larger than the maximum batch size 1024" in msg
    assert "--max-request-batch-size" in msg
    assert time.monotonic() - t0 < 5
    # The same few bytes within the limit are expanded and served (TF fills with the last value).
    got = grpc_client.predict_raw(_seeds_request(grpc_client, [4]))
    assert list(got.outputs[F.OUT_PIXELS].tensor_shape.dim[0:1])[0].size == 4


@pytest.fixture(scope="module")
def small_server(model_root):
    """One model, 1000 elements per tensor / request outputs, 1 s REST read timeout."""
    from serving.client import GrpcClient
    from serving.server import LocalServer, ServerOptions

    with LocalServer(ServerOptions(model_name=GAN, model_base_path=str(model_root / GAN),
                                   poll_seconds=0, max_request_elements=1000,
                                   rest_read_timeout_s=1.0,
                                   max_receive_message_bytes=MAX_RECEIVE)) as s, \
            GrpcClient(s.grpc_address, timeout=30) as c:
        yield s, c


def test_output_elements_lower_the_batch_limit(small_server):
    s, c = small_server
    per_row = 2 * SIZE * SIZE  # generated + pixels, [B, 8, 8, 1] each
    limit = 1000 // per_row
    assert s.manager.resolve(GAN).max_batch_size(F.SERVING_SIGNATURE) == limit
    assert c.predict(GAN, {F.IN_SEEDS: np.arange(limit)})[F.OUT_PIXELS].shape[0] == limit
    code, msg = _code(lambda: c.predict(GAN, {F.IN_SEEDS: np.arange(limit + 1)}))
    assert code == C.INVALID_ARGUMENT
    assert f"maximum batch size {limit}" in msg and "1000 output elements" in msg


def test_input_elements_above_limit_are_resource_exhausted(small_server):
    _, c = small_server
    code, msg = _code(lambda: c.predict_raw(_seeds_request(c, [1001])))
    assert code == C.RESOURCE_EXHAUSTED
    assert "1001 elements, above the server's limit of 1000" in msg


def test_rest_batch_limit_checked_before_conversion(small_server):
    from serving.client import RestClient

    s, _ = small_server
    with RestClient(s.rest_address) as r:
        status, data = r.request("POST", f"/v1/models/{GAN}:predict",
                                 json.dumps({"instances": list(range(50))}).encode())
    assert status == 400 and "maximum batch size 7" in json.loads(data)["error"]


@pytest.mark.parametrize("case, mutate, fragment", [
    ("resource as tensor_content", lambda t: (setattr(t, "dtype", 20),
                                              setattr(t, "tensor_content", b"\0" * 8)),
     "DT_RESOURCE is not a request value type"),
    ("variant", lambda t: (setattr(t, "dtype", 21), setattr(t, "tensor_content", b"\0" * 8)),
     "DT_VARIANT is not a request value type"),
    ("reference type", lambda t: setattr(t, "dtype", 109), "DT_INT64_REF"),
    ("unknown enum", lambda t: setattr(t, "dtype", 77), "dtype 77 is not"),
    ("int4", lambda t: setattr(t, "dtype", 29), "is not a request value type"),
    ("rank 33", lambda t: [t.tensor_shape.dim.add(size=1) for _ in range(32)],
     "rank 33 is above the maximum rank 32"),
])
def test_bad_dtype_and_rank_are_invalid_argument(grpc_client, case, mutate, fragment):
    req = grpc_client.predict_request(GAN, {F.IN_SEEDS: np.array([1], np.int64)})
    mutate(req.inputs[F.IN_SEEDS])
    code, msg = _code(lambda: grpc_client.predict_raw(req))
    assert code == C.INVALID_ARGUMENT, (case, msg)
    assert "tensor parsing error: seeds" in msg and fragment in msg, (case, msg)


# ------------------------------------------------------------------- REST
def _http(address, raw: bytes, timeout=10.0) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers until it closes
    (or the status line and headers, for a kept-alive connection)."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(body) >= int(line.split(b":")[1]):
                            return data
    return data


def _post(path, headers: dict, body: bytes = b"") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


PREDICT = f"/v1/models/{GAN}:predict"
GOOD = json.dumps({"instances": [1, 2]}).encode()


@pytest.mark.parametrize("headers, body, status, fragment", [
    ({"Content-Length": "-1"}, GOOD, b"400", "is not a non-negative integer"),
    ({"Content-Length": "abc"}, GOOD, b"400", "'abc' is not a non-negative integer"),
    ({}, GOOD, b"411", "Content-Length header or Transfer-Encoding: chunked"),
    ({"Content-Length": str(MAX_RECEIVE + 1)}, b"", b"413", "exceeds the limit"),
    ({"Transfer-Encoding": "gzip"}, GOOD, b"501", "not supported"),
    ({"Transfer-Encoding": "chunked"}, b"zz\r\n", b"400", "malformed chunk size"),
])
def test_rest_body_framing_errors_get_an_answer(server, headers, body, status, fragment):
    t0 = time.monotonic()
    answer = _http(server.rest_address, _post(PREDICT, headers, body))
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert fragment in answer.decode(), answer
    assert time.monotonic() - t0 < 5  # answered, not read until a timeout


def _chunked(data: bytes, size: int) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size])
                   for i in range(0, len(data), size))
    return out + b"0\r\n\r\n"


def test_rest_chunked_body_is_served_and_bounded(server):
    answer = _http(server.rest_address, _post(PREDICT, {"Transfer-Encoding": "chunked"},
                                              _chunked(GOOD, 5)))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b'"predictions"' in answer
    big = json.dumps({"instances": ["x" * (MAX_RECEIVE + 10)]}).encode()
    answer = _http(server.rest_address, _post(PREDICT, {"Transfer-Encoding": "chunked"},
                                              _chunked(big, 64 * 1024)))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]


def test_rest_idle_and_slow_connections_time_out(small_server):
    s, _ = small_server
    host, port = s.rest_address.rsplit(":", 1)
    socks = [socket.create_connection((host, int(port)), timeout=10) for _ in range(3)]
    socks[1].sendall(b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
    socks[2].sendall(b"GET /v1/models/")  # an unfinished request line
    t0 = time.monotonic()
    for sock in socks:
        with sock:
            rest = b""
            while chunk := sock.recv(4096):
                rest += chunk
            assert not rest or rest.startswith(b"HTTP/1.1"), rest
    assert time.monotonic() - t0 < 5  # closed after the 1 s read timeout


@pytest.mark.parametrize("path", [f"/v1/models/{GAN}/versions/{'9' * 20}",
                                  f"/v1/models/{GAN}/versions/{'9' * 20}/metadata"])
def test_rest_version_paths_outside_int64_get_an_answer(rest_client, path):
    status, data = rest_client.request("GET", path)
    assert status == 404 and "Malformed request" in json.loads(data)["error"]


@pytest.mark.parametrize("body, fragment", [
    (b"[" * 5000 + b"]" * 5000, "JSON Parse error"),
    (b'{"inputs": {"seeds": ' + b"[" * 34 + b"1" + b"]" * 34 + b"}}",
     "nested deeper than the maximum rank 32"),
    (json.dumps({"signature_name": ["a"], "instances": [1]}).encode(),
     "'signature_name' must be a JSON string, got [\"a\"]"),
    (json.dumps({"output_filter": 3, "instances": [1]}).encode(), "'output_filter' must be"),
])
def test_rest_bad_json_shapes_are_400(rest_client, body, fragment):
    status, data = rest_client.request("POST", PREDICT, body)
    assert status == 400, data[:300]
    assert fragment in json.loads(data)["error"]


def test_rest_output_filter_list_is_honoured(rest_client):
    status, data = rest_client.request("POST", PREDICT, json.dumps(
        {"instances": [1], "output_filter": [F.OUT_PIXELS]}).encode())
    assert status == 200, data
    assert np.asarray(json.loads(data)["predictions"]).shape == (1, SIZE, SIZE, 1)


# ---------------------------------------------------------------- metrics
def test_unknown_model_names_share_one_metric_series(server, grpc_client, rest_client):
    names = ['evil"name', "new\nline", "back\\slash"] + [f"nope{i}" for i in range(20)]
    for n in names:
        with pytest.raises(ServingError):
            grpc_client.predict(n, {F.IN_SEEDS: np.array([1])})
        rest_client.request("POST", f"/v1/models/{n.replace(chr(10), '')}:predict", GOOD)
    text = server.metrics.prometheus_text()
    models = {line.split('model_name="', 1)[1].split('"', 1)[0]
              for line in text.splitlines() if 'model_name="' in line}
    assert models <= {"__unknown__", "pix2pix_wgan_gp", "vanilla_gan", "pconv_inpainting"}
    assert "__unknown__" in models
    assert "nope" not in text and "evil" not in text


# ------------------------------------------------------------ concurrency
def test_calls_into_one_concrete_function_are_serialised(server, grpc_client):
    """Concurrent requests to one signature never run its function at the same time (TF 2.16's
    oneDNN kernels crash when one function runs on several threads); other models still run."""
    lv = server.manager.resolve(GAN)
    original = lv._fns[F.SERVING_SIGNATURE]
    active, peak, lock = [0], [0], threading.Lock()

    def probe(**kw):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        try:
            return original(**kw)
        finally:
            with lock:
                active[0] -= 1

    lv._fns[F.SERVING_SIGNATURE] = probe
    try:
        with cf.ThreadPoolExecutor(8) as pool:
            futs = [pool.submit(grpc_client.predict, GAN, {F.IN_SEEDS: np.arange(i % 4 + 1)})
                    for i in range(24)]
            futs += [pool.submit(grpc_client.predict, PIX,
                                 {F.IN_IMAGES: np.array([testing.random_png(SIZE)], object)})
                     for _ in range(8)]
            for f in futs:
                f.result()
    finally:
        lv._fns[F.SERVING_SIGNATURE] = original
    assert peak[0] == 1


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_oversized_body_sent_in_full_still_reads_its_413(server, framing):
    """The client is still sending when the server refuses the body. The server answers and
    then drains what follows before closing (a lingering close), so the close does not reset
    the connection and discard the answer the client has yet to read."""
    big = json.dumps({"instances": ["x" * (8 * MAX_RECEIVE)]}).encode()
    if framing == "chunked":
        raw = _post(PREDICT, {"Transfer-Encoding": "chunked"}, _chunked(big, 256 * 1024))
    else:
        raw = _post(PREDICT, {"Content-Length": str(len(big))}, big)
    for _ in range(3):
        answer = _http(server.rest_address, raw)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
        assert b"Connection: close" in answer

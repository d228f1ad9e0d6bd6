"""TensorProto packing/parsing, REST JSON conversion, errors, version policies, client inputs."""
from __future__ import annotations

import numpy as np
import pytest

from serving import tensors
from serving.errors import Code, HTTP_STATUS, ServingError, code_from_int
from serving.model_manager import ModelConfig, clean_tf_message, model_configs_from_proto


@pytest.mark.parametrize("arr", [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.arange(5, dtype=np.int64),
    np.array([[0, 255]], np.uint8),
    np.array([1, 65535], np.uint16),
    np.array([b"a", b"\x00\xffpng"], dtype=object),
])
def test_tensor_proto_round_trip(arr):
    p = tensors.to_tensor_proto(arr)
    if arr.dtype.kind != "O":
        assert p.tensor_content and not p.float_val and not p.int64_val
    back = tensors.from_tensor_proto("x", p)
    assert back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    np.testing.assert_array_equal(tensors.decode(p), arr)


def _err(fn):
    with pytest.raises(ServingError) as e:
        fn()
    assert e.value.code == Code.INVALID_ARGUMENT
    return e.value.message


def test_malformed_tensor_protos_are_parsing_errors():
    p = tensors.to_tensor_proto(np.zeros((2, 3), np.float32))
    p.tensor_content = p.tensor_content[:-1]
    assert "tensor parsing error: x" in _err(lambda: tensors.from_tensor_proto("x", p))
    p = tensors.to_tensor_proto(np.zeros((2,), np.float32))
    p.tensor_shape.dim[0].size = -2
    assert "tensor parsing error: x" in _err(lambda: tensors.from_tensor_proto("x", p))
    p = tensors.to_tensor_proto(np.zeros((1,), np.float32))
    p.tensor_shape.dim[0].size = 1 << 40
    assert "more than" in _err(lambda: tensors.from_tensor_proto("x", p))
    p = tensors.to_tensor_proto(np.array([b"a"], dtype=object))
    p.tensor_shape.dim[0].size = 2
    assert "string values" in _err(lambda: tensors.from_tensor_proto("x", p))


def test_repeated_field_tensors_are_accepted_like_tf_serving():
    from tensorflow.core.framework import tensor_pb2, types_pb2

    p = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0, 2.0])
    p.tensor_shape.dim.add(size=2)
    np.testing.assert_array_equal(tensors.from_tensor_proto("x", p), [1.0, 2.0])


def test_dtype_names_follow_tf():
    from tensorflow.core.framework import types_pb2

    assert tensors.dtype_name(types_pb2.DT_FLOAT) == "float"
    assert tensors.dtype_name(types_pb2.DT_DOUBLE) == "double"
    assert tensors.dtype_name(types_pb2.DT_STRING) == "string"


def test_rest_json_conversion_is_strict():
    from serving.server import _json_value_to_array

    a = _json_value_to_array([{"b64": "aGk="}, "plain"], np.dtype(object), "k")
    assert a.tolist() == [b"hi", b"plain"]
    np.testing.assert_array_equal(_json_value_to_array([[1, 2]], np.dtype(np.int64), "k"), [[1, 2]])
    assert _json_value_to_array([1, 2.5], np.dtype(np.float32), "k").dtype == np.float32
    assert "is not of expected type: int64" in _err(
        lambda: _json_value_to_array([1.5], np.dtype(np.int64), "k"))
    assert "same length" in _err(lambda: _json_value_to_array([[1], [1, 2]], np.dtype(np.int64), "k"))
    assert "base64" in _err(lambda: _json_value_to_array([{"b64": "%%"}], np.dtype(object), "k"))
    assert "is not of expected type: string" in _err(
        lambda: _json_value_to_array([3], np.dtype(object), "k"))


def test_error_codes_and_http_mapping():
    assert code_from_int(3) == Code.INVALID_ARGUMENT
    assert HTTP_STATUS[Code.NOT_FOUND] == 404 and HTTP_STATUS[Code.FAILED_PRECONDITION] == 400
    e = ServingError(Code.DEADLINE_EXCEEDED, "late")
    assert str(e) == "DEADLINE_EXCEEDED: late" and e.http_status == 504


def test_clean_tf_message():
    msg = ("Graph execution error:\n\nDetected at node x defined at (most recent call last):\n"
           "<stack traces unavailable>\nUnknown image file format.\n\t [[{{node x}}]] "
           "[Op:__inference_fn_1]")
    assert clean_tf_message(msg) == "Unknown image file format.\n\t [[{{node x}}]]"


def test_version_policies():
    pushed = [1, 3, 7]
    assert ModelConfig("m", "/b").wanted(pushed) == {7}
    assert ModelConfig("m", "/b", num_versions=2).wanted(pushed) == {3, 7}
    assert ModelConfig("m", "/b", policy="all").wanted(pushed) == {1, 3, 7}
    assert ModelConfig("m", "/b", policy="specific", versions=(3, 9)).wanted(pushed) == {3}
    assert ModelConfig("m", "/b").wanted([]) == set()


def test_model_configs_from_generated_models_config():
    from serving.config import build_model_server_config

    cfg = build_model_server_config("/models", gans=["dcgan", "vanilla_gan"],
                                    stable={"dcgan": 1}, canary={"dcgan": 2})
    dc, va = model_configs_from_proto(cfg)
    assert (dc.policy, dc.versions, dict(dc.labels)) == ("specific", (1, 2),
                                                         {"stable": 1, "canary": 2})
    assert (va.policy, va.num_versions, va.base_path) == ("latest", 1, "/models/vanilla_gan")


def test_client_builds_inputs_per_kind(tmp_path):
    from serving.client import RestClient, build_inputs
    from trainer import registry

    inputs, stems = build_inputs(registry.UNCONDITIONAL, count=3, seed=4)
    assert inputs["seeds"].tolist() == [4, 5, 6] and stems == ["seed_4", "seed_5", "seed_6"]
    img = tmp_path / "a.png"
    img.write_bytes(b"png")
    inputs, stems = build_inputs(registry.PAIRED, [img])
    assert inputs["images"].tolist() == [b"png"] and stems == ["a"]
    with pytest.raises(ValueError, match="one mask per image"):
        build_inputs(registry.INPAINTING, [img])
    with pytest.raises(ValueError, match="--count"):
        build_inputs(registry.UNCONDITIONAL, count=0)
    body = RestClient.encode_inputs({"images": np.array([b"hi"], dtype=object),
                                     "seeds": np.array([1])}, "row")
    assert body == {"instances": [{"images": {"b64": "aGk="}, "seeds": 1}]}
    assert RestClient.model_path("m", label="stable") == "/v1/models/m/labels/stable"


def test_prometheus_label_values_are_escaped_and_unknown_models_collapsed():
    from serving.errors import Code
    from serving.server import Metrics

    odd = 'a"b\\c\nd'
    m = Metrics(lambda: [odd])
    m.request(odd, "predict", Code.OK, 0.001)
    for i in range(50):
        m.request(f"not_served_{i}", "predict", Code.NOT_FOUND, 0.001)
    text = m.prometheus_text()
    assert 'model_name="a\\"b\\\\c\\nd",API="predict",status="OK"} 1' in text
    assert 'model_name="__unknown__",API="predict",status="NOT_FOUND"} 50' in text
    assert "not_served" not in text
    assert all(line.startswith(("# TYPE", ":tensorflow:serving:")) for line in text.splitlines())


def _refusing_server():
    """A server that answers 413 after the headers and closes without reading the body, the
    way a server without a lingering close does. Returns (address, thread)."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve():
        with listener, listener.accept()[0] as conn:
            conn.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            body = b'{"error": "Request body exceeds the limit"}'
            conn.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
                         b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        # closed with the body unread: the kernel resets the connection

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return "127.0.0.1:%d" % listener.getsockname()[1], t


def test_rest_client_reads_an_answer_sent_before_its_body_was_taken():
    from serving.client import RestClient

    for _ in range(3):
        address, t = _refusing_server()
        with RestClient(address, timeout=10) as c:
            status, data = c.request("POST", "/v1/models/m:predict", b"x" * (16 << 20))
        t.join(10)
        assert status == 413 and b"exceeds the limit" in data

"""Clients for TF Serving's gRPC and REST APIs (and the local server, which speaks both).

gRPC (``tensorflow-serving-api``'s ``PredictionService`` / ``ModelService``):

* numeric tensors are sent packed in ``tensor_content``; string tensors (encoded
  images) in ``string_val``; responses are decoded with ``tf.make_ndarray``;
* gRPC's default 4 MiB receive limit is too small for generated images
  (one 256x256x3 image is ~1 MB of outputs), so both message-size limits are
  raised explicitly to ``GRPC_MAX_MESSAGE_BYTES`` (256 MiB: a batch of ~200
  such images); the server must accept requests that large as well
  (``tensorflow_model_server`` has no receive limit by default);
* server errors raise :class:`ServingError` with the status code and message.

REST (``/v1/models/...``): row (``instances``) or columnar (``inputs``)
format, strings sent as ``{"b64": ...}``, outputs cast back to the dtypes the
model's metadata declares.

``predict_to_files`` is the library behind ``tfxgan predict``.
"""
from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import threading
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from serving.errors import ServingError, code_from_http

GRPC_MAX_MESSAGE_BYTES = 256 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0


@dataclasses.dataclass
class Prediction:
    outputs: dict[str, np.ndarray]   # output name -> array
    version: int | None              # the version that answered (gRPC only)
    signature_name: str | None

    def __getitem__(self, key: str) -> np.ndarray:
        return self.outputs[key]


def _model_spec(spec, model: str, version: int | None, label: str | None,
                signature: str | None = None):
    if version is not None and label:
        raise ValueError(f"give version ({version}) or label ({label!r}), not both")
    spec.name = model
    if version is not None:
        spec.version.value = int(version)
    if label:
        spec.version_label = label
    if signature:
        spec.signature_name = signature
    return spec


def _as_array(value) -> np.ndarray:
    if isinstance(value, (bytes, str)):
        return np.array([value], dtype=object)
    a = np.asarray(value)
    if a.dtype.kind in ("S", "U"):
        a = a.astype(object)
    return a


# --------------------------------------------------------------------- gRPC
class GrpcClient:
    """``PredictionService`` / ``ModelService`` over one gRPC channel (thread-safe)."""

    def __init__(self, address: str, timeout: float = DEFAULT_TIMEOUT_S,
                 max_message_bytes: int = GRPC_MAX_MESSAGE_BYTES):
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        self.address, self.timeout = address, timeout
        self._channel = grpc.insecure_channel(address, options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes)])
        self._predict_stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._model_stub = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, fn, request, timeout):
        import grpc

        try:
            return fn(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as e:
            raise ServingError(e.code(), e.details() or "") from None

    # -- predict -------------------------------------------------------
    @staticmethod
    def predict_request(model: str, inputs: Mapping[str, object], version: int | None = None,
                        label: str | None = None, signature: str | None = None,
                        output_filter: Sequence[str] = ()):
        """A ``PredictRequest`` with every input packed by :func:`tensors.to_tensor_proto`."""
        from tensorflow_serving.apis import predict_pb2

        from serving import tensors

        req = predict_pb2.PredictRequest()
        _model_spec(req.model_spec, model, version, label, signature)
        for k, v in inputs.items():
            req.inputs[k].CopyFrom(tensors.to_tensor_proto(_as_array(v)))
        req.output_filter.extend(output_filter)
        return req

    def predict_raw(self, request, timeout: float | None = None):
        return self._call(self._predict_stub.Predict, request, timeout)

    def predict(self, model: str, inputs: Mapping[str, object], version: int | None = None,
                label: str | None = None, signature: str | None = None,
                output_filter: Sequence[str] = (), timeout: float | None = None) -> Prediction:
        from serving import tensors

        resp = self.predict_raw(
            self.predict_request(model, inputs, version, label, signature, output_filter), timeout)
        return Prediction({k: tensors.decode(v) for k, v in resp.outputs.items()},
                          resp.model_spec.version.value if resp.model_spec.HasField("version")
                          else None, resp.model_spec.signature_name or None)

    # -- metadata and status (REST-shaped dicts) -----------------------
    def get_model_metadata_raw(self, model: str, version=None, label=None, timeout=None):
        from tensorflow_serving.apis import get_model_metadata_pb2

        req = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        _model_spec(req.model_spec, model, version, label)
        return self._call(self._predict_stub.GetModelMetadata, req, timeout)

    def get_model_metadata(self, model: str, version: int | None = None,
                           label: str | None = None, timeout: float | None = None) -> dict:
        """``{"model_spec": ..., "metadata": {"signature_def": {"signature_def": {...}}}}``."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        resp = self.get_model_metadata_raw(model, version, label, timeout)
        sdm = get_model_metadata_pb2.SignatureDefMap()
        resp.metadata["signature_def"].Unpack(sdm)
        return {"model_spec": _to_dict(resp.model_spec),
                "metadata": {"signature_def": _to_dict(sdm)}}

    def get_model_status_raw(self, model: str, version=None, label=None, timeout=None):
        from tensorflow_serving.apis import get_model_status_pb2

        req = get_model_status_pb2.GetModelStatusRequest()
        _model_spec(req.model_spec, model, version, label)
        return self._call(self._model_stub.GetModelStatus, req, timeout)

    def get_model_status(self, model: str, version: int | None = None,
                         label: str | None = None, timeout: float | None = None) -> dict:
        """``{"model_version_status": [{"version", "state", "status"}]}`` as REST returns it."""
        return _to_dict(self.get_model_status_raw(model, version, label, timeout))


def _to_dict(msg) -> dict:
    from google.protobuf import json_format

    return json_format.MessageToDict(msg, preserving_proto_field_name=True,
                                     including_default_value_fields=True)


# --------------------------------------------------------------------- REST
class RestClient:
    """TF Serving's REST API; one keep-alive connection per thread."""

    def __init__(self, address: str, timeout: float = DEFAULT_TIMEOUT_S,
                 request_format: str = "columnar"):
        if request_format not in ("columnar", "row"):
            raise ValueError(f"request_format must be 'columnar' or 'row', got {request_format!r}")
        address = address.split("://", 1)[-1].rstrip("/")
        self.host, _, port = address.rpartition(":")
        self.port = int(port)
        self.timeout, self.request_format = timeout, request_format
        self._local = threading.local()
        self._dtypes: dict[tuple, dict[str, np.dtype]] = {}

    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def model_path(model: str, version: int | None = None, label: str | None = None) -> str:
        if version is not None and label:
            raise ValueError(f"give version ({version}) or label ({label!r}), not both")
        p = f"/v1/models/{model}"
        if version is not None:
            p += f"/versions/{int(version)}"
        elif label:
            p += f"/labels/{label}"
        return p

    def _early_answer(self, conn) -> tuple[int, bytes] | None:
        try:
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException):
            return None
        finally:
            self.close()

    def request(self, method: str, path: str, body: bytes | None = None,
                timeout: float | None = None) -> tuple[int, bytes]:
        """Raw HTTP call; returns (status, body). Retries once on a dropped keep-alive."""
        for attempt in (0, 1):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or
                                                  self.timeout)
                self._local.conn = conn
            conn.timeout = timeout or self.timeout
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                try:
                    conn.request(method, path, body=body, headers=headers)
                except (ConnectionResetError, BrokenPipeError):
                    # A server may answer (413) and close before the body is all sent:
                    # read that answer if it arrived; if not, this counts as a drop.
                    answer = self._early_answer(conn)
                    if answer is None:
                        raise
                    return answer
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
            except TimeoutError:
                self.close()
                raise ServingError(code_from_http(504), "Deadline Exceeded (client timeout)",
                                   504) from None
        raise AssertionError("unreachable")

    def _json(self, method, path, payload=None, timeout=None) -> dict:
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        status, data = self.request(method, path, body, timeout)
        try:
            out = json.loads(data or b"{}")
        except ValueError:
            out = {"error": data.decode("utf-8", "replace")}
        if status != 200:
            msg = out.get("error", "") if isinstance(out, dict) else str(out)
            raise ServingError(code_from_http(status), msg, http_status=status)
        return out

    def get_model_status(self, model: str, version: int | None = None,
                         label: str | None = None, timeout: float | None = None) -> dict:
        return self._json("GET", self.model_path(model, version, label), timeout=timeout)

    def get_model_metadata(self, model: str, version: int | None = None,
                           label: str | None = None, timeout: float | None = None) -> dict:
        return self._json("GET", self.model_path(model, version, label) + "/metadata",
                          timeout=timeout)

    def _output_dtypes(self, model, version, label, signature) -> dict[str, np.dtype]:
        from tensorflow.core.framework import types_pb2

        from serving import tensors
        from trainer import features as F

        key = (model, version, label, signature)
        if key not in self._dtypes:
            md = self.get_model_metadata(model, version, label)
            sig = md["metadata"]["signature_def"]["signature_def"][signature or F.SERVING_SIGNATURE]
            self._dtypes[key] = {k: tensors.numpy_dtype(types_pb2.DataType.Value(v["dtype"]))
                                 for k, v in sig["outputs"].items()}
        return self._dtypes[key]

    @staticmethod
    def encode_inputs(inputs: Mapping[str, object], request_format: str = "columnar") -> dict:
        """The JSON body's ``inputs`` / ``instances`` (bytes as ``{"b64": ...}``)."""
        def js(a: np.ndarray):
            if a.dtype.kind in ("O", "S"):
                enc = np.vectorize(
                    lambda b: {"b64": base64.b64encode(b).decode("ascii")}
                    if isinstance(b, (bytes, np.bytes_)) else str(b), otypes=[object])
                return enc(a).tolist()
            return a.tolist()
        arrays = {k: _as_array(v) for k, v in inputs.items()}
        if request_format == "columnar":
            return {"inputs": {k: js(a) for k, a in arrays.items()}}
        batch = {a.shape[0] for a in arrays.values()}
        if len(batch) != 1:
            raise ValueError(f"row format needs one batch size for all inputs, got {batch}")
        cols = {k: js(a) for k, a in arrays.items()}
        return {"instances": [{k: cols[k][i] for k in cols} for i in range(batch.pop())]}

    def predict(self, model: str, inputs: Mapping[str, object], version: int | None = None,
                label: str | None = None, signature: str | None = None,
                output_filter: Sequence[str] = (), timeout: float | None = None) -> Prediction:
        body = self.encode_inputs(inputs, self.request_format)
        if signature:
            body["signature_name"] = signature
        # TF Serving's REST API has no output filter: every output comes back, filtered here.
        out = self._json("POST", self.model_path(model, version, label) + ":predict", body, timeout)
        dtypes = self._output_dtypes(model, version, label, signature)
        if "outputs" in out:
            res = out["outputs"]
            if not isinstance(res, dict) or not set(res) <= set(dtypes):
                (name,) = list(dtypes)
                res = {name: res}
        else:
            rows = out["predictions"]
            if rows and isinstance(rows[0], dict) and set(rows[0]) <= set(dtypes):
                res = {k: [r[k] for r in rows] for k in rows[0]}
            else:
                (name,) = list(dtypes)
                res = {name: rows}
        if output_filter:
            missing = [k for k in output_filter if k not in res]
            if missing:
                raise ServingError(code_from_http(400), f"output(s) {missing} not in the "
                                   f"signature's outputs {sorted(res)}", http_status=400)
            res = {k: res[k] for k in output_filter}
        return Prediction({k: _from_json(v, dtypes[k]) for k, v in res.items()}, None,
                          signature)


def _from_json(value, dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "O":
        def dec(v):
            if isinstance(v, list):
                return [dec(x) for x in v]
            if isinstance(v, dict) and "b64" in v:
                return base64.b64decode(v["b64"])
            return str(v).encode("utf-8")
        return np.array(dec(value), dtype=object)
    return np.asarray(value, dtype=dtype)


# ------------------------------------------------------- tfxgan predict library
def save_png(array: np.ndarray, path: str | Path) -> Path:
    """Write one [H, W, C] image: uint8/uint16 as is, float in [-1, 1] scaled to uint8."""
    from serving.testing import png_bytes

    a = np.asarray(array)
    if a.dtype.kind == "f":
        a = np.clip(np.round((a + 1.0) * 127.5), 0, 255).astype(np.uint8)
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected an [H, W, C] image with C in (1, 3, 4), got {a.shape}")
    path = Path(path)
    path.write_bytes(png_bytes(a))
    return path


def build_inputs(kind: str, images: Sequence[str | Path] = (), masks: Sequence | None = None,
                 count: int | None = None, seed: int = 0) -> tuple[dict[str, np.ndarray], list[str]]:
    """Signature inputs for a GAN kind, and one output file stem per generated image
    (what each kind takes: ``client_inputs`` in :mod:`trainer.kinds`)."""
    from trainer import kinds

    k = kinds.get(kind)
    data = [Path(p).read_bytes() for p in images]
    mask_data = [Path(p).read_bytes() for p in masks] if masks else masks
    return k.client_inputs(data, [Path(p).stem for p in images], mask_data, count, seed)


def predict_to_files(client, model: str, *, images: Sequence = (), masks: Sequence | None = None,
                     count: int | None = None, seed: int = 0, kind: str | None = None,
                     out_dir: str | Path = "generated", batch_size: int = 8,
                     version: int | None = None, label: str | None = None,
                     signature: str | None = None, output_key: str | None = None) -> list[Path]:
    """Send inputs in batches, write one PNG per generated image; returns the paths."""
    from trainer import features as F
    from trainer import registry

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if kind is None:
        if model not in registry.GANS:
            raise ValueError(f"model {model!r} is not a registered GAN; pass --kind "
                             f"(paired, inpainting or unconditional)")
        kind = registry.get(model).kind
    inputs, stems = build_inputs(kind, images, masks, count, seed)
    key = output_key or F.OUT_PIXELS
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = len(stems)
    paths = []
    for start in range(0, n, batch_size):
        chunk = {k: v[start:start + batch_size] for k, v in inputs.items()}
        result = client.predict(model, chunk, version=version, label=label, signature=signature,
                                output_filter=[key])
        arr = result[key]
        for i, stem in enumerate(stems[start:start + batch_size]):
            paths.append(save_png(arr[i], out / f"{stem}_{model}.png"))
    return paths

"""A local server that speaks TF Serving's gRPC and REST APIs.

The local and test stand-in for ``tensorflow_model_server`` on machines that
lack it (no binary, no Docker): same ``models.config``, same model base paths,
same request and response messages, status codes and REST JSON. It is not a
production server; production runs TF Serving (see docs/SERVING.md).

gRPC: ``PredictionService.Predict`` / ``GetModelMetadata`` and
``ModelService.GetModelStatus`` (``tensorflow_serving.apis``).
REST: ``GET /v1/models/<name>[/versions/<v>|/labels/<l>][/metadata]``,
``POST /v1/models/<name>[/versions/<v>|/labels/<l>]:predict`` (row
``instances`` and columnar ``inputs`` formats, ``{"b64": ...}`` binary
values), and Prometheus metrics at the monitoring path.
"""
from __future__ import annotations

import base64
import collections
import dataclasses
import http.server
import json
import logging
import re
import signal
import socket
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from serving import tensors
from serving.config import PROMETHEUS_PATH, BatchingConfig
from serving.errors import Code, ServingError, invalid, not_found
from serving.model_manager import DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_ELEMENTS

log = logging.getLogger(__name__)

DEFAULT_MAX_RECEIVE_BYTES = 64 * 1024 * 1024
MAX_SEND_BYTES = 1024 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"                # bind address (loopback by default)
    grpc_port: int = 0                     # 0 = pick a free port
    rest_port: int | None = 0              # None = no REST server, 0 = pick a free port
    model_config_file: str | None = None   # models.config (ModelServerConfig)
    model_name: str | None = None          # or one model by name ...
    model_base_path: str | None = None     # ... and base path
    poll_seconds: float = 2.0              # version polling period; 0 = never
    model_config_poll_seconds: float = 0.0  # re-read model_config_file when it changed; 0 = never
    enable_batching: bool = False          # server-side batching
    batching_parameters_file: str | None = None  # BatchingParameters text proto
    batching: BatchingConfig | None = None       # or the parameters directly
    max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_BYTES  # larger: RESOURCE_EXHAUSTED
    rest_timeout_s: float = 30.0           # as --rest_api_timeout_in_ms
    rest_read_timeout_s: float = 10.0      # REST socket reads and idle keep-alive connections
    warmup: bool = True                    # replay assets.extra warmup requests at load
    grpc_workers: int = 16                 # gRPC handler threads
    monitoring_path: str | None = PROMETHEUS_PATH  # Prometheus metrics on REST; None = off
    max_request_batch_size: int = DEFAULT_MAX_BATCH_SIZE  # rows per request, any model
    max_request_elements: int = DEFAULT_MAX_ELEMENTS  # per input tensor and per request's outputs


# ------------------------------------------------------------------ metrics
UNKNOWN_MODEL = "__unknown__"  # the model_name label of requests for models not served


def escape_label_value(value: str) -> str:
    """A Prometheus label value as the text exposition format writes it (\\, \", \n)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """A few TF-Serving-named counters, exposed in Prometheus text format.

    Requests for models the server does not serve share the model_name
    ``__unknown__``, so clients cannot grow the number of series.
    """

    def __init__(self, served: Callable[[], Iterable[str]] = tuple):
        self._lock = threading.Lock()
        self._served = served                    # () -> names of the configured models
        self.requests = collections.Counter()   # (model, api, status) -> count
        self.latency_us = collections.Counter()  # (model, api) -> total microseconds
        self.loads = collections.Counter()       # (model, event) -> count

    def request(self, model: str, api: str, code: Code, seconds: float):
        if model not in self._served():
            model = UNKNOWN_MODEL
        with self._lock:
            self.requests[(model, api, code.name)] += 1
            self.latency_us[(model, api)] += int(seconds * 1e6)

    def event(self, event: str, model: str, version: int):
        with self._lock:
            self.loads[(model, event)] += 1

    def prometheus_text(self) -> str:
        lines = ["# TYPE :tensorflow:serving:request_count counter"]
        q = escape_label_value
        with self._lock:
            for (m, api, st), n in sorted(self.requests.items()):
                m = q(m)
                lines.append(f':tensorflow:serving:request_count{{model_name="{m}",'
                             f'API="{api}",status="{st}"}} {n}')
            lines.append("# TYPE :tensorflow:serving:request_latency_sum counter")
            for (m, api), us in sorted(self.latency_us.items()):
                m = q(m)
                lines.append(f':tensorflow:serving:request_latency_sum{{model_name="{m}",'
                             f'API="{api}"}} {us}')
            lines.append("# TYPE :tensorflow:serving:model_load_count counter")
            for (m, ev), n in sorted(self.loads.items()):
                m = q(m)
                lines.append(f':tensorflow:serving:model_load_count{{model_name="{m}",'
                             f'event="{ev}"}} {n}')
        return "\n".join(lines) + "\n"


# ------------------------------------------------------- shared request logic
class Handlers:
    """Request handling shared by the gRPC and REST front ends."""

    def __init__(self, manager, metrics: Metrics):
        self.manager = manager
        self.metrics = metrics

    @staticmethod
    def _spec(spec) -> tuple[str, int | None, str | None]:
        if not spec.name:
            raise invalid("Missing ModelSpec")
        version = spec.version.value if spec.HasField("version") else None
        return spec.name, version, spec.version_label or None

    def predict_arrays(self, name, version, label, signature_name, decode_inputs,
                       output_filter=(), deadline=None):
        """Resolve, decode (``decode_inputs(version) -> dict``), validate and run."""
        from trainer import features as F

        lv = self.manager.resolve(name, version, label)
        sig = signature_name or F.SERVING_SIGNATURE
        lv.signature(sig)
        inputs = decode_inputs(lv, sig)
        return lv, sig, lv.run(sig, inputs, tuple(output_filter), deadline)

    def predict_proto(self, request, deadline=None):
        from tensorflow_serving.apis import predict_pb2

        name, version, label = self._spec(request.model_spec)

        def decode(lv, sig):
            lv.check_input_names(sig, request.inputs.keys())
            # Shapes, dtypes and limits first: a few bytes can declare a huge tensor
            # (e.g. shape [2^20] with int64_val=[3]), which decoding would expand.
            lv.check_shapes(sig, {k: tensors.proto_shape(k, v) for k, v in request.inputs.items()},
                            {k: v.dtype for k, v in request.inputs.items()})
            return {k: tensors.from_tensor_proto(k, v) for k, v in request.inputs.items()}

        lv, sig, outputs = self.predict_arrays(name, version, label,
                                               request.model_spec.signature_name, decode,
                                               request.output_filter, deadline)
        resp = predict_pb2.PredictResponse()
        resp.model_spec.name = name
        resp.model_spec.version.value = lv.version
        resp.model_spec.signature_name = sig
        for k, v in outputs.items():
            resp.outputs[k].CopyFrom(tensors.to_tensor_proto(v))
        return resp

    def metadata_proto(self, request):
        from tensorflow_serving.apis import get_model_metadata_pb2

        name, version, label = self._spec(request.model_spec)
        if not request.metadata_field:
            raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
        for f in request.metadata_field:
            if f != "signature_def":
                raise invalid(f"Metadata field {f} is not supported")
        lv = self.manager.resolve(name, version, label)
        sdm = get_model_metadata_pb2.SignatureDefMap()
        for k, v in lv.all_signature_defs.items():
            sdm.signature_def[k].CopyFrom(v)
        resp = get_model_metadata_pb2.GetModelMetadataResponse()
        resp.model_spec.name = name
        resp.model_spec.version.value = lv.version
        resp.metadata["signature_def"].Pack(sdm)
        return resp

    def status_proto(self, request):
        from tensorflow_serving.apis import get_model_status_pb2

        if not request.model_spec.name:
            raise invalid("Missing ModelSpec")
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None
        states = self.manager.version_states(spec.name, version, spec.version_label or None)
        resp = get_model_status_pb2.GetModelStatusResponse()
        for v, st in states:
            s = resp.model_version_status.add(version=v)
            s.state = get_model_status_pb2.ModelVersionStatus.State.Value(st.state)
            s.status.error_code = st.error_code.value[0]
            s.status.error_message = st.error_message
        return resp


# --------------------------------------------------------------------- gRPC
def _grpc_servicers(handlers: Handlers):
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    def call(api, request, context, fn):
        t0 = time.monotonic()
        model = getattr(getattr(request, "model_spec", None), "name", "")
        remaining = context.time_remaining()
        deadline = None if remaining is None else t0 + remaining
        try:
            if deadline is not None and remaining <= 0:
                raise ServingError(Code.DEADLINE_EXCEEDED, "Deadline Exceeded")
            resp = fn(request, deadline) if api == "predict" else fn(request)
        except ServingError as e:
            handlers.metrics.request(model, api, e.code, time.monotonic() - t0)
            context.abort(e.code, e.message)
        except Exception as e:  # noqa: BLE001 - report, keep serving
            log.exception("%s failed", api)
            handlers.metrics.request(model, api, Code.INTERNAL, time.monotonic() - t0)
            context.abort(Code.INTERNAL, f"{type(e).__name__}: {e}")
        handlers.metrics.request(model, api, Code.OK, time.monotonic() - t0)
        return resp

    class Prediction(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802 - gRPC method name
            return call("predict", request, context, handlers.predict_proto)

        def GetModelMetadata(self, request, context):  # noqa: N802
            return call("GetModelMetadata", request, context, handlers.metadata_proto)

    class Models(model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):  # noqa: N802
            return call("GetModelStatus", request, context, handlers.status_proto)

    return Prediction(), Models()


# --------------------------------------------------------------------- REST
# Versions in paths: ASCII digits that fit int64 (\d would also match non-ASCII digits).
_MODEL_PATH = (r"/v1/models/(?P<name>[^/:]+)"
               r"(?:/versions/(?P<version>-?[0-9]{1,18})|/labels/(?P<label>[^/:]+))?")
_GET_RE = re.compile(rf"^{_MODEL_PATH}(?P<metadata>/metadata)?/?$", re.I)
_POST_RE = re.compile(rf"^{_MODEL_PATH}:(?P<method>classify|regress|predict)$", re.I)


def _json_value_to_array(value, dtype: np.dtype, key: str) -> np.ndarray:
    """JSON (nested lists) -> numpy of the signature's dtype, strict like TF Serving."""
    if dtype.kind == "O":
        def conv(v):
            if isinstance(v, list):
                return [conv(x) for x in v]
            if isinstance(v, dict):
                if set(v) != {"b64"} or not isinstance(v["b64"], str):
                    raise invalid(f"JSON object for input '{key}' must be {{\"b64\": <string>}}")
                try:
                    return base64.b64decode(v["b64"], validate=True)
                except (ValueError, TypeError):
                    raise invalid(f"Unable to base64 decode input '{key}'") from None
            if isinstance(v, str):
                return v.encode("utf-8")
            raise invalid(f"JSON Value: {json.dumps(v)} Type: {type(v).__name__} is not of "
                          f"expected type: string (input '{key}')")
        nested = conv(value)
        arr = np.empty(_nested_shape(nested, key), dtype=object)
        arr[...] = _fill(nested, arr.shape)
        return arr

    def check(v):
        if isinstance(v, list):
            for x in v:
                check(x)
            return
        if dtype.kind == "b":
            ok = isinstance(v, bool)
        elif dtype.kind in ("i", "u"):
            ok = isinstance(v, int) and not isinstance(v, bool)
        else:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok:
            raise invalid(f"JSON Value: {json.dumps(v)} Type: {type(v).__name__} is not of "
                          f"expected type: {dtype.name} (input '{key}')")
    check(value)
    _nested_shape(value, key)
    try:
        return np.asarray(value, dtype=dtype)
    except (ValueError, OverflowError) as e:
        raise invalid(f"input '{key}': {e}") from None


def _nested_shape(v, key, depth: int = 0) -> tuple[int, ...]:
    if not isinstance(v, list):
        return ()
    if depth >= tensors.MAX_RANK:
        raise invalid(f"input '{key}': JSON lists nested deeper than the maximum rank "
                      f"{tensors.MAX_RANK}")
    if not v:
        return (0,)
    shapes = {_nested_shape(x, key, depth + 1) for x in v}
    if len(shapes) != 1:
        raise invalid(f"input '{key}': all lists at the same depth must have the same length")
    return (len(v), *shapes.pop())


def _fill(nested, shape):
    if not shape:
        return nested
    out = np.empty(shape, dtype=object)
    for i, x in enumerate(nested):
        out[i] = _fill(x, shape[1:])
    return out


def _to_json(name: str, arr: np.ndarray):
    if arr.dtype.kind in ("O", "S"):
        if name.endswith("_bytes"):
            enc = np.vectorize(lambda b: {"b64": base64.b64encode(bytes(b)).decode("ascii")},
                               otypes=[object])
        else:
            enc = np.vectorize(lambda b: bytes(b).decode("utf-8", "replace"), otypes=[object])
        return enc(arr).tolist() if arr.size else arr.tolist()
    return arr.tolist()


def _short_json(v, limit: int = 80) -> str:
    text = json.dumps(v)
    return text if len(text) <= limit else text[:limit] + "..."


def _is_b64_object(v) -> bool:
    return isinstance(v, dict) and set(v) == {"b64"}


def rest_predict(handlers: Handlers, name, version, label, body: dict, deadline):
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object")
    has_rows, has_cols = "instances" in body, "inputs" in body
    if has_rows == has_cols:
        raise invalid("Missing 'inputs' or 'instances' key" if not has_rows else
                      "Not formatted correctly expecting only one of 'inputs' or 'instances' keys")
    sig_name = body.get("signature_name")
    if sig_name is not None and not isinstance(sig_name, str):
        raise invalid(f"'signature_name' must be a JSON string, got {_short_json(sig_name)}")
    output_filter = body.get("output_filter") or []
    if isinstance(output_filter, str):
        output_filter = [output_filter]
    if not (isinstance(output_filter, list) and all(isinstance(k, str) for k in output_filter)):
        raise invalid(f"'output_filter' must be a JSON string or list of strings, got "
                      f"{_short_json(output_filter)}")

    def named_values(lv, sig, dtypes):
        """{input name: JSON value} as the request lays them out."""
        single = next(iter(dtypes)) if len(dtypes) == 1 else None
        if has_rows:
            rows = body["instances"]
            if not isinstance(rows, list):
                raise invalid("'instances' must be a JSON list")
            if not rows:
                raise invalid("empty batch: 'instances' is an empty list")
            named = all(isinstance(r, dict) and not _is_b64_object(r) for r in rows)
            if named:
                keys = set(rows[0])
                if any(set(r) != keys for r in rows):
                    raise invalid("Failed to process element: every instance must have the "
                                  "same named inputs")
                lv.check_input_names(sig, keys)
                return {k: [r[k] for r in rows] for k in keys}
            if single is None:
                raise invalid(f"instances must be JSON objects naming the inputs "
                              f"{sorted(dtypes)} of signature '{sig}'")
            return {single: rows}
        cols = body["inputs"]
        if isinstance(cols, dict) and not _is_b64_object(cols):
            lv.check_input_names(sig, cols.keys())
            return dict(cols)
        if single is None:
            raise invalid(f"'inputs' must be a JSON object naming the inputs {sorted(dtypes)} "
                          f"of signature '{sig}'")
        return {single: cols}

    def decode(lv, sig):
        sd = lv.signature(sig)
        dtypes = {k: tensors.numpy_dtype(v.dtype) for k, v in sd.inputs.items()}
        values = named_values(lv, sig, dtypes)
        lv.check_shapes(sig, {k: _nested_shape(v, k) for k, v in values.items()})
        return {k: _json_value_to_array(v, dtypes[k], k) for k, v in values.items()}

    _, _, outputs = handlers.predict_arrays(name, version, label, sig_name or None, decode,
                                            output_filter, deadline)
    if has_rows:
        batch = next(iter(outputs.values())).shape[0] if outputs else 0
        if len(outputs) == 1:
            ((k, v),) = outputs.items()
            return {"predictions": _to_json(k, v)}
        return {"predictions": [{k: _to_json(k, v[i]) for k, v in outputs.items()}
                                for i in range(batch)]}
    if len(outputs) == 1:
        ((k, v),) = outputs.items()
        return {"outputs": _to_json(k, v)}
    return {"outputs": {k: _to_json(k, v) for k, v in outputs.items()}}


def _rest_handler(handlers: Handlers, options: ServerOptions):
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

    def spec_json(name, version, label):
        return name, (int(version) if version is not None else None), label

    def to_dict(msg):
        return json_format.MessageToDict(msg, preserving_proto_field_name=True,
                                         including_default_value_fields=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tfxgan-local-serving"
        # Socket timeout for every read (request line, headers, body) and idle keep-alive:
        # a silent client gives up its connection thread after this long.
        timeout = options.rest_read_timeout_s

        def log_message(self, fmt, *args):  # quiet; debug only
            log.debug("REST %s", fmt % args)

        def _send(self, status: int, payload: dict | str, content_type="application/json"):
            data = (payload if isinstance(payload, str) else
                    json.dumps(payload, indent=None)).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def _error(self, e: ServingError):
            self._send(e.http_status, {"error": e.message})

        def do_GET(self):  # noqa: N802
            t0 = time.monotonic()
            path = self.path.split("?", 1)[0]
            if options.monitoring_path and path == options.monitoring_path:
                return self._send(200, handlers.metrics.prometheus_text(),
                                  "text/plain; version=0.0.4")
            m = _GET_RE.match(path)
            if not m:
                return self._error(not_found(f"Malformed request: GET {path}"))
            name, version, label = spec_json(m["name"], m["version"], m["label"])
            api = "GetModelMetadata" if m["metadata"] else "GetModelStatus"
            try:
                if m["metadata"]:
                    req = get_model_metadata_pb2.GetModelMetadataRequest(
                        metadata_field=["signature_def"])
                    _fill_spec(req.model_spec, name, version, label)
                    resp = handlers.metadata_proto(req)
                    sdm = get_model_metadata_pb2.SignatureDefMap()
                    resp.metadata["signature_def"].Unpack(sdm)
                    payload = {"model_spec": to_dict(resp.model_spec),
                               "metadata": {"signature_def": to_dict(sdm)}}
                else:
                    req = get_model_status_pb2.GetModelStatusRequest()
                    _fill_spec(req.model_spec, name, version, label)
                    payload = to_dict(handlers.status_proto(req))
            except ServingError as e:
                handlers.metrics.request(name, api, e.code, time.monotonic() - t0)
                return self._error(e)
            handlers.metrics.request(name, api, Code.OK, time.monotonic() - t0)
            self._send(200, payload)

        def _read_body(self) -> bytes:
            """The request body, never more than the limit; on a framing error the connection
            is closed (the rest of the body is left unread)."""
            limit = options.max_receive_message_bytes
            too_big = ServingError(Code.RESOURCE_EXHAUSTED, f"Request body exceeds the limit of "
                                   f"{limit} bytes", http_status=413)
            te = self.headers.get("Transfer-Encoding")
            if te is not None:
                self.close_connection = True  # until the whole body has been read
                if te.strip().lower() != "chunked":
                    raise ServingError(Code.UNIMPLEMENTED,
                                       f"Transfer-Encoding {te!r} is not supported", 501)
                body = _read_chunked(self.rfile, limit, too_big)
                self.close_connection = False
                return body
            text = self.headers.get("Content-Length")
            if text is None:
                self.close_connection = True
                raise ServingError(Code.INVALID_ARGUMENT, "POST needs a Content-Length header or "
                                   "Transfer-Encoding: chunked", http_status=411)
            if not re.fullmatch(r"[0-9]{1,20}", text.strip()):
                self.close_connection = True
                raise invalid(f"Content-Length {text!r} is not a non-negative integer")
            length = int(text)
            if length > limit:
                self.close_connection = True
                raise ServingError(Code.RESOURCE_EXHAUSTED, f"Request body of {length} bytes "
                                   f"exceeds the limit of {limit} bytes", http_status=413)
            return self.rfile.read(length)

        def do_POST(self):  # noqa: N802
            t0 = time.monotonic()
            path = self.path.split("?", 1)[0]
            try:
                raw = self._read_body()
            except ServingError as e:
                return self._error(e)
            m = _POST_RE.match(path)
            if not m:
                return self._error(not_found(f"Malformed request: POST {path}"))
            name, version, label = spec_json(m["name"], m["version"], m["label"])
            try:
                if m["method"].lower() != "predict":
                    raise ServingError(Code.UNIMPLEMENTED,
                                       f"{m['method']} is not supported by this server "
                                       f"(the generators have predict signatures only)")
                try:
                    body = json.loads(raw or b"null")
                except (ValueError, UnicodeDecodeError) as e:
                    raise invalid(f"JSON Parse error: {e}") from None
                except RecursionError:
                    raise invalid("JSON Parse error: the document is nested too deeply") from None
                payload = rest_predict(handlers, name, version, label, body,
                                       t0 + options.rest_timeout_s)
            except ServingError as e:
                handlers.metrics.request(name, "predict", e.code, time.monotonic() - t0)
                return self._error(e)
            except Exception as e:  # noqa: BLE001
                log.exception("REST predict failed")
                handlers.metrics.request(name, "predict", Code.INTERNAL, time.monotonic() - t0)
                return self._error(ServingError(Code.INTERNAL, f"{type(e).__name__}: {e}"))
            handlers.metrics.request(name, "predict", Code.OK, time.monotonic() - t0)
            self._send(200, payload)

    return Handler


def _read_chunked(rfile, limit: int, too_big: ServingError) -> bytes:
    """A ``Transfer-Encoding: chunked`` body (RFC 9112 section 7.1), at most ``limit`` bytes."""
    parts, total = [], 0
    while True:
        line = rfile.readline(1026)
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
            raise invalid(f"malformed chunk size line {line[:40]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > limit:
            raise too_big
        data = rfile.read(size)
        if len(data) != size or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise invalid("chunked body ends inside a chunk")
        parts.append(data)
    for _ in range(100):  # trailer fields, up to the empty line
        line = rfile.readline(8194)
        if line in (b"\r\n", b"\n", b""):
            return b"".join(parts)
    raise invalid("too many trailer fields after a chunked body")


def _fill_spec(spec, name, version, label):
    spec.name = name
    if version is not None:
        spec.version.value = version
    if label:
        spec.version_label = label


class _RestServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Lingering close (RFC 9112 section 9.6): after refusing a body it has not read (too
    # big, bad framing), the server has answered while the client may still be sending.
    # Closing with unread bytes makes the kernel reset the connection, and the reset can
    # discard the answer before the client reads it. So, on every close: finish writing,
    # then read and drop what still arrives, for at most LINGER_S in all and LINGER_IDLE_S
    # of silence (a client that has already closed ends the drain at once).
    LINGER_S = 5.0
    LINGER_IDLE_S = 1.0

    def shutdown_request(self, request):
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(self.LINGER_IDLE_S)
            deadline = time.monotonic() + self.LINGER_S
            while time.monotonic() < deadline and request.recv(1 << 16):
                pass
        except OSError:  # reset, timed out or already closed: nothing more to drain
            pass
        self.close_request(request)


# ------------------------------------------------------------------- server
class LocalServer:
    """Loads the models, then serves gRPC (and REST) until :meth:`stop`."""

    def __init__(self, options: ServerOptions):
        self.options = options
        self.metrics = Metrics(lambda: self.manager.model_names if self.manager else ())
        self.manager = None
        self._grpc = None
        self._rest = None
        self._rest_thread = None
        self.grpc_port: int | None = None
        self.rest_port: int | None = None
        self._config_stop: threading.Event | None = None

    @property
    def grpc_address(self) -> str:
        return f"{self.options.host}:{self.grpc_port}"

    @property
    def rest_address(self) -> str:
        return f"{self.options.host}:{self.rest_port}"

    def _model_configs(self):
        from serving.config import parse_model_server_config
        from serving.model_manager import ModelConfig, model_configs_from_proto

        o = self.options
        if o.model_config_file:
            return model_configs_from_proto(parse_model_server_config(Path(o.model_config_file)))
        if o.model_name and o.model_base_path:
            return [ModelConfig(name=o.model_name, base_path=o.model_base_path)]
        raise ValueError("give model_config_file, or model_name and model_base_path")

    def _batching(self) -> BatchingConfig | None:
        from serving.config import batching_config_from_proto, parse_batching_parameters

        o = self.options
        if not o.enable_batching:
            return None
        if o.batching is not None:
            return o.batching
        if o.batching_parameters_file:
            return batching_config_from_proto(
                parse_batching_parameters(Path(o.batching_parameters_file)))
        return BatchingConfig()

    def start(self) -> "LocalServer":
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        from serving.batching import batcher_factory
        from serving.model_manager import ModelManager, RequestLimits

        o = self.options
        batching = self._batching()
        self.manager = ModelManager(
            self._model_configs(), warmup=o.warmup,
            make_batcher=batcher_factory(batching) if batching else None,
            on_event=self.metrics.event,
            limits=RequestLimits(o.max_request_batch_size, o.max_request_elements))
        self.manager.sync()  # every wanted version loaded and warmed up before serving
        handlers = Handlers(self.manager, self.metrics)
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=o.grpc_workers, thread_name_prefix="grpc"),
            options=[("grpc.max_receive_message_length", o.max_receive_message_bytes),
                     ("grpc.max_send_message_length", MAX_SEND_BYTES),
                     ("grpc.so_reuseport", 0)])
        pred, models = _grpc_servicers(handlers)
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(pred, self._grpc)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(models, self._grpc)
        self.grpc_port = self._grpc.add_insecure_port(f"{o.host}:{o.grpc_port}")
        if not self.grpc_port:
            raise OSError(f"cannot bind gRPC port {o.host}:{o.grpc_port}")
        self._grpc.start()
        if o.rest_port is not None:
            self._rest = _RestServer((o.host, o.rest_port), _rest_handler(handlers, o))
            self.rest_port = self._rest.server_address[1]
            self._rest_thread = threading.Thread(target=self._rest.serve_forever,
                                                 name="rest", daemon=True)
            self._rest_thread.start()
        self.manager.start_polling(o.poll_seconds)
        self._watch_model_config()
        log.info("serving %s on gRPC %s%s", ", ".join(self.manager.model_names),
                 self.grpc_address, f", REST {self.rest_address}" if self._rest else "")
        return self

    def _watch_model_config(self) -> None:
        """As ``--model_config_file_poll_wait_seconds``: when the file changed (it is
        replaced by a rename after each push), re-read it and add or drop models."""
        o = self.options
        if not o.model_config_file or o.model_config_poll_seconds <= 0:
            return
        path = Path(o.model_config_file)

        def stamp():
            st = path.stat()
            return st.st_mtime_ns, st.st_ino, st.st_size

        self._config_stop = threading.Event()
        seen = stamp()

        def loop():
            nonlocal seen
            while not self._config_stop.wait(o.model_config_poll_seconds):
                try:
                    now = stamp()
                    if now == seen:
                        continue
                    configs = self._model_configs()
                    seen = now
                    self.manager.reconfigure(configs)
                    log.info("re-read %s: serving %s", path, ", ".join(self.manager.model_names))
                except Exception:  # noqa: BLE001 - keep the current models, try again
                    log.exception("re-reading %s failed; keeping the current models", path)

        threading.Thread(target=loop, name="model-config-poller", daemon=True).start()

    def stop(self, grace: float = 1.0) -> None:
        if self._config_stop is not None:
            self._config_stop.set()
        if self._rest is not None:
            self._rest.shutdown()
            self._rest.server_close()
            self._rest = None
        if self._grpc is not None:
            self._grpc.stop(grace).wait()
            self._grpc = None
        if self.manager is not None:
            self.manager.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


ADDRESS_LINE = re.compile(r"^gRPC (\S+)(?:\s+REST http://(\S+))?\s*$")


def address_line(grpc_address: str, rest_address: str | None) -> str:
    """The line ``tfxgan serve`` prints once its ports listen (parse_address_line reads it)."""
    return f"gRPC {grpc_address}" + (f"  REST http://{rest_address}" if rest_address else "")


def parse_address_line(line: str) -> tuple[str, str | None] | None:
    """(gRPC "host:port", REST "host:port" or None) of an address line, else None."""
    m = ADDRESS_LINE.match(line)
    return (m.group(1), m.group(2)) if m else None


def serve_forever(options: ServerOptions) -> int:
    """``tfxgan serve``: run until SIGINT/SIGTERM."""
    server = LocalServer(options).start()
    print(address_line(server.grpc_address, server.rest_address if server.rest_port else None),
          flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0

"""Loads, warms up, hot-swaps and runs SavedModel versions for the local server.

Behaviour follows ``tensorflow_model_server``'s file-system source and its
availability-preserving policy:

* each model's ``base_path`` holds integer version directories; a version is
  seen once its ``saved_model.pb`` exists;
* the version policy (``latest{N}``, ``all{}``, ``specific{...}``) from
  ``models.config`` picks the versions to serve;
* a new version is loaded and its warmup requests
  (``assets.extra/tf_serving_warmup_requests``) are replayed *before* it is
  published; only then are versions the policy no longer wants unloaded, and
  never the last available one while no wanted version could be loaded;
* requests resolve a version once (``latest`` = the highest available) and
  keep a reference to it, so unloading never fails an in-flight request.

Nothing here is GAN-specific: requests are validated against each signature's
``TensorInfo`` (dtype, rank, fixed dimensions) before the model runs.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import posixpath
import re
import threading
import time
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from serving import tensors
from serving.config import pushed_versions
from serving.errors import Code, ServingError, code_from_int, invalid, not_found

log = logging.getLogger(__name__)

SERVE_TAG = "serve"
MAX_WARMUP_RECORDS = 1000   # TF Serving's limit on warmup records
MAX_LOAD_RETRIES = 5        # TF Serving's --max_num_load_retries default

# Version states as reported by GetModelStatus (ModelVersionStatus.State names).
LOADING, AVAILABLE, UNLOADING, END = "LOADING", "AVAILABLE", "UNLOADING", "END"

DEFAULT_MAX_BATCH_SIZE = 1024        # rows per request (dimension 0 of the inputs)
DEFAULT_MAX_ELEMENTS = 1 << 25       # elements per input tensor and per request's outputs


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    """Work one request may ask for; checked on the declared shapes, before any decoding."""
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE  # larger batch: INVALID_ARGUMENT
    max_elements: int = DEFAULT_MAX_ELEMENTS      # larger input / outputs: RESOURCE_EXHAUSTED

    def __post_init__(self):
        for f in ("max_batch_size", "max_elements"):
            if getattr(self, f) < 1:
                raise ValueError(f"{f} must be >= 1, got {getattr(self, f)}")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: str                       # model name clients use
    base_path: str                  # directory holding integer version dirs
    policy: str = "latest"          # "latest", "all" or "specific"
    num_versions: int = 1           # for "latest"
    versions: tuple[int, ...] = ()  # for "specific"
    labels: Mapping[str, int] = dataclasses.field(default_factory=dict)  # label -> version

    def wanted(self, pushed: list[int]) -> set[int]:
        if self.policy == "all":
            return set(pushed)
        if self.policy == "specific":
            return set(self.versions) & set(pushed)
        return set(sorted(pushed)[-self.num_versions:]) if pushed else set()


def model_configs_from_proto(cfg) -> list[ModelConfig]:
    """``ModelServerConfig`` -> list of ModelConfig (policy default: latest 1, as TF Serving)."""
    out = []
    for m in cfg.model_config_list.config:
        if m.model_platform and m.model_platform != "tensorflow":
            raise ValueError(f"model {m.name!r}: unsupported model_platform {m.model_platform!r}")
        pol = m.model_version_policy
        which = pol.WhichOneof("policy_choice") or "latest"
        out.append(ModelConfig(
            name=m.name, base_path=m.base_path, policy=which,
            num_versions=(pol.latest.num_versions or 1) if which == "latest" else 1,
            versions=tuple(pol.specific.versions) if which == "specific" else (),
            labels=dict(m.version_labels)))
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate model names in config: {names}")
    return out


def _join(base: str | os.PathLike, *names: str) -> str:
    """``base/names...`` for a local path or a URI (``Path`` would turn s3:// into s3:/)."""
    base = os.fspath(base)
    return posixpath.join(base, *names) if "://" in base else os.path.join(base, *names)


# ---------------------------------------------------------------- a version
class LoadedVersion:
    """One loaded SavedModel version: its signature defs and callable signatures."""

    def __init__(self, name: str, version: int, path: str | Path,
                 limits: RequestLimits = RequestLimits()):
        import tensorflow as tf
        from tensorflow.core.protobuf import saved_model_pb2

        from trainer.filesystems import ensure_filesystem

        # A local path or an object-store URI (gs://, s3://): read through tf.io.gfile.
        self.name, self.version, self.path = name, int(version), os.fspath(path)
        ensure_filesystem(self.path)
        sm = saved_model_pb2.SavedModel()
        with tf.io.gfile.GFile(_join(self.path, "saved_model.pb"), "rb") as fh:
            sm.ParseFromString(fh.read())
        graphs = [g for g in sm.meta_graphs if SERVE_TAG in g.meta_info_def.tags]
        if not graphs:
            raise ValueError(f"{self.path}: no MetaGraph tagged {SERVE_TAG!r}")
        # Signature defs exactly as saved (what GetModelMetadata returns).
        self.all_signature_defs = dict(graphs[0].signature_def)
        # The callable ones (TF Serving lists __saved_model_init_op in metadata too).
        self.signature_defs = {k: v for k, v in self.all_signature_defs.items()
                               if not k.startswith("__")}
        self._loaded = tf.saved_model.load(self.path, tags=[SERVE_TAG])
        self._fns = {k: self._loaded.signatures[k] for k in self.signature_defs}
        # One call at a time into each concrete function. Concurrent calls of one function
        # share its kernel objects, and TF 2.16's oneDNN kernels (MklConvOp and its cached
        # primitives/reorders) are not safe for that: 8 clients crashed the server with
        # SIGSEGV. Different signatures, versions and models still run in parallel, and each
        # call uses TF's intra-op thread pool. See docs/SERVING.md ("Concurrency").
        self._fn_locks = {k: threading.Lock() for k in self.signature_defs}
        self.warmup_replayed = 0
        self._batchers: dict[str, object] = {}
        self.limits = limits
        # Output elements per batch row (None: an output has an unknown non-batch dimension).
        self._out_per_row = {k: _output_elements_per_row(v) for k, v in self.signature_defs.items()}

    def max_batch_size(self, signature_name: str) -> int:
        """The largest batch this signature accepts: the server's batch limit, lowered so that
        the outputs (known from the signature) stay within the element limit."""
        per_row = self._out_per_row[signature_name]
        limit = self.limits.max_batch_size
        if per_row:
            limit = min(limit, max(1, self.limits.max_elements // per_row))
        return limit

    # -- validation ----------------------------------------------------
    def signature(self, name: str):
        try:
            return self.signature_defs[name]
        except KeyError:
            raise ServingError(Code.FAILED_PRECONDITION,
                               f'Serving signature key "{name}" not found.') from None

    def check_input_names(self, signature_name: str, names) -> None:
        sig = self.signature(signature_name)
        sent, want = set(names), set(sig.inputs)
        if sent != want:
            extra, missing = sorted(sent - want), sorted(want - sent)
            raise invalid(
                f"input size does not match signature: {len(sent)}!={len(want)} "
                f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(want))}}}). "
                f"Sent extra: {{{','.join(extra)}}}. Missing but required: "
                f"{{{','.join(missing)}}}.")

    def check_shapes(self, signature_name: str, shapes: Mapping[str, tuple[int, ...]],
                     dtypes: Mapping[str, int] | None = None) -> None:
        """Dtype (TF enums, when given), rank, fixed dims, equal non-empty batch and the
        request limits, from declared shapes only: called before a tensor is decoded."""
        sig = self.signature(signature_name)
        self.check_input_names(signature_name, shapes)
        batch = None
        for i, key in enumerate(sorted(sig.inputs)):
            info, shape = sig.inputs[key], tuple(shapes[key])
            if dtypes is not None and dtypes[key] != info.dtype:
                raise invalid(f"Expects arg[{i}] to be {tensors.dtype_name(info.dtype)} but "
                              f"{_dtype_text(dtypes[key])} is provided (input '{key}')")
            if not info.tensor_shape.unknown_rank:
                want = [d.size for d in info.tensor_shape.dim]
                shape_txt = "[" + ",".join("?" if d < 0 else str(d) for d in want) + "]"
                if len(shape) != len(want):
                    raise invalid(f"input '{key}' must have rank {len(want)} (shape {shape_txt}), "
                                  f"got shape {list(shape)}")
                for axis, (w, g) in enumerate(zip(want, shape)):
                    if w >= 0 and w != g:
                        raise invalid(f"input '{key}' must have shape {shape_txt}, got "
                                      f"{list(shape)} (dimension {axis} is {g}, expected {w})")
            if shape:
                if shape[0] == 0:
                    raise invalid(f"empty batch: input '{key}' has batch size 0")
                if batch is not None and shape[0] != batch:
                    raise invalid(f"inputs have different batch sizes: '{key}' has "
                                  f"{shape[0]}, others {batch}")
                batch = shape[0]
            n = int(np.prod(shape, dtype=object)) if shape else 1
            if n > self.limits.max_elements:
                raise ServingError(
                    Code.RESOURCE_EXHAUSTED,
                    f"input '{key}' of shape {list(shape)} has {n} elements, above the server's "
                    f"limit of {self.limits.max_elements} elements per tensor "
                    f"(--max-request-elements)")
        if batch is not None:
            limit = self.max_batch_size(signature_name)
            if batch > limit:
                per_row = self._out_per_row[signature_name]
                why = (f"{self.limits.max_elements} output elements (--max-request-elements) / "
                       f"{per_row} per row" if limit < self.limits.max_batch_size else
                       "--max-request-batch-size")
                raise invalid(f"batch size {batch} is larger than the maximum batch size {limit} "
                              f"of model {self.name} signature '{signature_name}' ({why})")

    def validate(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> None:
        """Dtype, rank, fixed dims, equal non-empty batch, limits, finite floats."""
        sig = self.signature(signature_name)
        self.check_input_names(signature_name, inputs)
        for i, key in enumerate(sorted(sig.inputs)):
            info, arr = sig.inputs[key], inputs[key]
            want_dt = tensors.numpy_dtype(info.dtype)
            if want_dt.kind == "O":
                ok = arr.dtype.kind in ("O", "S")
            else:
                ok = arr.dtype == want_dt
            if not ok:
                got = "string" if arr.dtype.kind in ("O", "S", "U") else tensors.dtype_name(
                    tensors.dtype_enum(arr))
                raise invalid(f"Expects arg[{i}] to be {tensors.dtype_name(info.dtype)} but "
                              f"{got} is provided (input '{key}')")
        self.check_shapes(signature_name, {k: v.shape for k, v in inputs.items()})
        for key, arr in inputs.items():
            if arr.dtype.kind in ("f", "c") and not np.all(np.isfinite(arr)):
                raise invalid(f"input '{key}' contains NaN or Inf values")

    def output_keys(self, signature_name: str, output_filter=()) -> list[str]:
        sig = self.signature(signature_name)
        if not output_filter:
            return sorted(sig.outputs)
        for k in output_filter:
            if k not in sig.outputs:
                raise invalid(f"output tensor alias not found in signature: {k} Outputs expected "
                              f"to be in the set {{{','.join(sorted(sig.outputs))}}}.")
        return list(dict.fromkeys(output_filter))

    # -- running -------------------------------------------------------
    def run_unbatched(self, signature_name: str, inputs: Mapping[str, np.ndarray]
                      ) -> dict[str, np.ndarray]:
        import tensorflow as tf

        fn = self._fns[signature_name]
        sig = self.signature_defs[signature_name]
        feed = {k: tf.constant(v, dtype=tf.as_dtype(sig.inputs[k].dtype)) for k, v in inputs.items()}
        try:
            with self._fn_locks[signature_name]:
                out = fn(**feed)
        except tf.errors.OpError as e:
            raise ServingError(code_from_int(e.error_code), clean_tf_message(e.message)) from None
        except (TypeError, ValueError) as e:  # argument conversion in the tf.function layer
            raise invalid(str(e)) from None
        return {k: v.numpy() for k, v in out.items()}

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray],
            output_filter=(), deadline: float | None = None) -> dict[str, np.ndarray]:
        """Validate, run (through the batcher when batching is on), filter outputs."""
        self.validate(signature_name, inputs)
        keys = self.output_keys(signature_name, output_filter)
        if deadline is not None and time.monotonic() >= deadline:
            raise ServingError(Code.DEADLINE_EXCEEDED, "Deadline Exceeded")
        batcher = self._batchers.get(signature_name)
        if batcher is not None:
            out = batcher.submit(inputs, deadline)
        else:
            out = self.run_unbatched(signature_name, inputs)
        return {k: out[k] for k in keys}

    def enable_batching(self, make_batcher: Callable) -> None:
        for sig_name, sig in self.signature_defs.items():
            if all(not i.tensor_shape.unknown_rank and i.tensor_shape.dim
                   and i.tensor_shape.dim[0].size == -1 for i in sig.inputs.values()):
                self._batchers[sig_name] = make_batcher(self, sig_name)

    def batcher(self, signature_name: str):
        """The signature's batcher, or None when batching is off."""
        return self._batchers.get(signature_name)

    def close(self) -> None:
        for b in self._batchers.values():
            b.stop()
        self._batchers = {}

    # -- warmup --------------------------------------------------------
    def replay_warmup(self) -> int:
        """Run every predict request in the warmup file once, as TF Serving does."""
        import tensorflow as tf
        from tensorflow_serving.apis import prediction_log_pb2

        from trainer import features as F

        path = _join(self.path, F.WARMUP_FILE)
        if not tf.io.gfile.exists(path):
            return 0
        n = 0
        for record in tf.data.TFRecordDataset(path):
            n += 1
            if n > MAX_WARMUP_RECORDS:
                raise invalid(f"Number of warmup records exceeds the maximum "
                              f"({MAX_WARMUP_RECORDS}) at {path}")
            log_ = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            if log_.WhichOneof("log_type") != "predict_log":
                raise invalid(f"unsupported warmup log type {log_.WhichOneof('log_type')!r} in "
                              f"{path} (only predict_log)")
            req = log_.predict_log.request
            sig = req.model_spec.signature_name or _default_signature()
            inputs = {k: tensors.from_tensor_proto(k, v) for k, v in req.inputs.items()}
            self.run(sig, inputs, tuple(req.output_filter))
        self.warmup_replayed = n
        return n


def _output_elements_per_row(sig) -> int | None:
    """Elements of all outputs per batch row, from the signature (None if not known)."""
    total = 0
    for info in sig.outputs.values():
        if info.tensor_shape.unknown_rank:
            return None
        dims = [d.size for d in info.tensor_shape.dim]
        rest = dims[1:] if dims and dims[0] < 0 else dims
        if any(d < 0 for d in rest):
            return None
        total += int(np.prod(rest, dtype=np.int64)) if rest else 1
    return total or None


def _dtype_text(enum: int) -> str:
    try:
        return tensors.dtype_name(enum)
    except ValueError:
        return f"dtype {enum}"


def clean_tf_message(message: str) -> str:
    """Drop eager-mode decoration so the message reads like TF Serving's (op error + node)."""
    marker = "<stack traces unavailable>\n"
    if marker in message:
        message = message.split(marker, 1)[1]
    elif message.startswith("Graph execution error:"):
        message = message.split("\n", 1)[-1].strip()
    return re.sub(r"\s*\[Op:[^\]]*\]\s*$", "", message).strip()


def _default_signature() -> str:
    from trainer import features as F
    return F.SERVING_SIGNATURE


# ---------------------------------------------------------------- a model
@dataclasses.dataclass
class _VersionState:
    state: str
    error_code: Code = Code.OK
    error_message: str = ""
    failures: int = 0


class _Model:
    def __init__(self, config: ModelConfig):
        self.config = config
        self.available: dict[int, LoadedVersion] = {}   # replaced, never mutated
        self.states: dict[int, _VersionState] = {}


class ModelManager:
    """Keeps every configured model's wanted versions loaded; thread-safe."""

    def __init__(self, configs: list[ModelConfig], *, warmup: bool = True,
                 make_batcher: Callable | None = None,
                 on_event: Callable[[str, str, int], None] | None = None,
                 limits: RequestLimits = RequestLimits()):
        self._models = {c.name: _Model(c) for c in configs}
        self._limits = limits
        self._warmup = warmup
        self._make_batcher = make_batcher
        self._on_event = on_event or (lambda *a: None)
        self._sync_lock = threading.Lock()   # one sync at a time
        self._state_lock = threading.Lock()  # guards states and the available swap
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def model_names(self) -> list[str]:
        return list(self._models)

    # -- lifecycle -----------------------------------------------------
    def sync(self) -> None:
        """Load newly wanted versions, then unload unwanted ones (load first)."""
        with self._sync_lock:
            for model in self._models.values():
                try:
                    self._sync_model(model)
                except Exception:  # noqa: BLE001 - one model's trouble must not stop the others
                    log.exception("version poll of model %s failed", model.config.name)

    def _sync_model(self, model: _Model) -> None:
        cfg = model.config
        pushed = pushed_versions(cfg.base_path)
        wanted = cfg.wanted(pushed)
        with self._state_lock:  # a failed version whose folder is gone is forgotten
            for v in [v for v, st in model.states.items() if st.error_code != Code.OK
                      and v not in pushed and v not in model.available]:
                del model.states[v]
        for v in sorted(wanted - set(model.available)):
            st = model.states.get(v)
            if st is not None and st.failures >= MAX_LOAD_RETRIES:
                continue
            self._load(model, v)
        with self._state_lock:
            available_wanted = wanted & set(model.available)
            if not available_wanted:
                return  # keep serving what we have until a wanted version loads
            stale = [v for v in model.available if v not in wanted]
            if not stale:
                return
            for v in stale:
                model.states[v] = _VersionState(UNLOADING)
            old = model.available
            model.available = {v: lv for v, lv in model.available.items() if v in wanted}
        for v in stale:
            old.get(v).close()  # in-flight requests keep their reference and finish
            log.info("unloaded %s version %d", cfg.name, v)
            with self._state_lock:
                model.states[v] = _VersionState(END)
            self._on_event("unload", cfg.name, v)

    def _load(self, model: _Model, version: int) -> None:
        cfg = model.config
        with self._state_lock:
            prev = model.states.get(version)
            model.states[version] = _VersionState(LOADING, failures=prev.failures if prev else 0)
        t0 = time.monotonic()
        try:
            lv = LoadedVersion(cfg.name, version, _join(cfg.base_path, str(version)),
                               self._limits)
            if self._make_batcher is not None:
                lv.enable_batching(self._make_batcher)
            if self._warmup:
                lv.replay_warmup()
        except Exception as e:  # noqa: BLE001 - a bad version must not stop the server
            code = e.code if isinstance(e, ServingError) else Code.UNKNOWN
            log.error("failed to load %s version %d: %s", cfg.name, version, e)
            with self._state_lock:
                st = model.states[version]
                model.states[version] = _VersionState(END, code, str(e), st.failures + 1)
            self._on_event("load_failed", cfg.name, version)
            return
        with self._state_lock:
            model.available = {**model.available, version: lv}
            model.states[version] = _VersionState(AVAILABLE)
        log.info("loaded %s version %d in %.2fs (%d warmup requests; max batch size %s)",
                 cfg.name, version, time.monotonic() - t0, lv.warmup_replayed,
                 {k: lv.max_batch_size(k) for k in lv.signature_defs})
        self._on_event("load", cfg.name, version)

    def reconfigure(self, configs: list[ModelConfig]) -> None:
        """Adopt a re-read ``models.config``: models not listed before are added, models
        no longer listed are unloaded (as TF Serving does on a config reload), the others
        take their new policy; then the wanted versions are loaded."""
        with self._sync_lock:
            old, new = self._models, {}
            for c in configs:
                m = old.get(c.name)
                if m is None or m.config.base_path != c.base_path:
                    m = _Model(c)
                else:
                    m.config = c
                new[c.name] = m
            self._models = new
        for name, m in old.items():
            if new.get(name) is not m:
                for v, lv in m.available.items():
                    lv.close()
                    self._on_event("unload", name, v)
                log.info("model %s is no longer configured; unloaded", name)
        self.sync()

    def start_polling(self, interval_s: float) -> None:
        if interval_s <= 0 or self._poller is not None:
            return

        def loop():
            while not self._stop.wait(interval_s):
                try:
                    self.sync()
                except Exception:  # noqa: BLE001 - keep polling
                    log.exception("version poll failed")

        self._poller = threading.Thread(target=loop, name="version-poller", daemon=True)
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
        for m in self._models.values():
            for lv in m.available.values():
                lv.close()

    # -- lookups -------------------------------------------------------
    def _model(self, name: str, request: str) -> _Model:
        m = self._models.get(name)
        if m is None:
            raise not_found(f"Servable not found for request: {request}")
        return m

    def resolve(self, name: str, version: int | None = None, label: str | None = None
                ) -> LoadedVersion:
        """The version a request addresses (TF Serving's Latest / Specific / label)."""
        if version is not None and label:
            raise invalid("ModelSpec may set version or version_label, not both")
        if label:
            m = self._model(name, f"Latest({name})")
            if label not in m.config.labels:
                raise invalid(f"Unrecognized servable version label: {label}")
            version = m.config.labels[label]
        if version is None:
            m = self._model(name, f"Latest({name})")
            available = m.available
            if not available:
                raise not_found(f"Servable not found for request: Latest({name})")
            return available[max(available)]
        m = self._model(name, f"Specific({name}, {version})")
        lv = m.available.get(int(version))
        if lv is None:
            raise not_found(f"Servable not found for request: Specific({name}, {version})")
        return lv

    def version_states(self, name: str, version: int | None = None, label: str | None = None
                       ) -> list[tuple[int, _VersionState]]:
        """States for GetModelStatus (TF Serving's messages for unknown models/versions)."""
        m = self._models.get(name)
        if label:
            if m is None or label not in m.config.labels:
                raise invalid(f"Unrecognized servable version label: {label}")
            version = m.config.labels[label]
        if m is None or not m.states:
            raise not_found(f"Could not find any versions of model {name}")
        with self._state_lock:
            states = dict(m.states)
        if version is not None:
            st = states.get(int(version))
            if st is None:
                raise not_found(f"Could not find version {version} of model {name}")
            return [(int(version), st)]
        return sorted(states.items(), reverse=True)

    def available_versions(self, name: str) -> list[int]:
        return sorted(self._model(name, f"Latest({name})").available)

    def labels(self, name: str) -> dict[str, int]:
        return dict(self._model(name, f"Latest({name})").config.labels)

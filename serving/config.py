"""TF Serving configuration files, generated from the GAN registry.

Three files, each the text proto that ``tensorflow_model_server`` reads:

===========================  ==================================  ==========================
file                         flag                                message
===========================  ==================================  ==========================
``models.config``            ``--model_config_file``             ``ModelServerConfig``
``monitoring.config``        ``--monitoring_config_file``        ``MonitoringConfig``
``batching_parameters.txt``  ``--batching_parameters_file``      ``BatchingParameters``
===========================  ==================================  ==========================

``models.config`` has one entry per GAN: ``name`` is the registry name,
``base_path`` is ``<model_base_path>/<name>`` (the Pusher's destination, with
integer version sub-directories), ``model_platform`` is ``tensorflow``.

Version policy and labels:

* no labels given: ``latest { num_versions: N }`` (default 1) - the server
  follows the Pusher and hot-swaps to each newly pushed version;
* ``stable`` (and optionally ``canary``) given: ``specific { versions: ... }``
  pinned to exactly those versions plus ``version_labels`` ``stable``/``canary``.
  TF Serving only lets a label point at a loaded version, which the specific
  policy guarantees.

``model_base_path`` may be a local directory, a container path (``/models``)
or an object-store URI (``gs://bucket/models``). Only local directories are
inspected (to check that pinned versions were pushed).

This module imports no TensorFlow; only protobuf and the serving-api protos.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path
from typing import Iterable, Mapping, Union

from google.protobuf import text_format

from trainer import registry

log = logging.getLogger(__name__)

MODELS_CONFIG = "models.config"
MONITORING_CONFIG = "monitoring.config"
BATCHING_PARAMETERS = "batching_parameters.txt"
STABLE = "stable"
CANARY = "canary"
MODEL_PLATFORM = "tensorflow"
PROMETHEUS_PATH = "/monitoring/prometheus/metrics"  # TF Serving's default path

# A label value: one version for every GAN, or a version per GAN name.
Versions = Union[int, Mapping[str, int], None]

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclasses.dataclass(frozen=True)
class BatchingConfig:
    """Server-side batching, CPU defaults after TF Serving's batching guide.

    The guide's CPU recipe: one batch thread per core, a large
    ``max_batch_size`` and a timeout of 0, then try 1-10 ms. The generators
    here are heavy per image (pix2pix: ~12 GFLOP at 256x256), so a small
    timeout costs little latency and lets concurrent clients share a batch.
    """
    max_batch_size: int = 16            # largest merged batch (images)
    batch_timeout_micros: int = 2000    # wait at most 2 ms for a batch to fill
    max_enqueued_batches: int = 100     # queue depth before UNAVAILABLE
    num_batch_threads: int = 2          # = CPU cores of the serving pod / machine
    allowed_batch_sizes: tuple[int, ...] = ()  # empty: any size (no padding)
    pad_variable_length_inputs: bool = False   # generator inputs are fixed-size

    def __post_init__(self):
        for name in ("max_batch_size", "max_enqueued_batches", "num_batch_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.batch_timeout_micros < 0:
            raise ValueError(f"batch_timeout_micros must be >= 0, got {self.batch_timeout_micros!r}")
        sizes = list(self.allowed_batch_sizes)
        if sizes and (sizes != sorted(set(sizes)) or sizes[-1] != self.max_batch_size):
            raise ValueError(
                f"allowed_batch_sizes must increase and end at max_batch_size "
                f"({self.max_batch_size}), got {sizes!r}")


# ------------------------------------------------------------------ helpers
def is_local(path: str) -> bool:
    return not _URI.match(str(path))


def join_base_path(model_base_path: str, name: str) -> str:
    """``<model_base_path>/<name>`` without doubling slashes; URIs kept as URIs."""
    base = str(model_base_path)
    if not base:
        raise ValueError("model_base_path is empty")
    if is_local(base):
        return str(Path(base) / name) if base.startswith("/") else os.path.join(base, name)
    return base.rstrip("/") + "/" + name


def pushed_versions(base_path: str | os.PathLike) -> list[int]:
    """Integer version directories under ``base_path``, ascending.

    A version counts once its ``saved_model.pb`` (or ``.pbtxt``) exists,
    as for TF Serving's file-system source. Only folders named with ASCII
    digits whose value fits TF Serving's int64 version numbers count; any other
    folder holding a SavedModel is logged (once per name) and ignored.
    ``base_path`` is a local folder or an object-store URI (read through tf.io.gfile).
    """
    if not is_local(os.fspath(base_path)):
        return _pushed_versions_gfile(os.fspath(base_path).rstrip("/"))
    base = Path(base_path)
    if not base.is_dir():
        return []
    out = []
    for child in base.iterdir():
        if not child.is_dir() or not (
                (child / "saved_model.pb").exists() or (child / "saved_model.pbtxt").exists()):
            continue
        version = parse_version_dir(child.name)
        if version is None:
            if child.name not in _IGNORED_LOGGED and not child.name.startswith("."):
                _IGNORED_LOGGED.add(child.name)
                log.warning("ignoring %s: a version folder's name must be ASCII digits with a "
                            "value of at most %d", child, MAX_VERSION)
            continue
        out.append(version)
    return sorted(out)


MAX_VERSION = (1 << 63) - 1   # versions are int64 in TF Serving's protos
_VERSION_RE = re.compile(r"[0-9]+")
_IGNORED_LOGGED: set[str] = set()


def parse_version_dir(name: str) -> int | None:
    """``name`` as a version number, or None: ASCII digits only (``str.isdigit`` also
    accepts e.g. ``'²'`` or Arabic-Indic digits) and a value that fits int64."""
    if not _VERSION_RE.fullmatch(name):
        return None
    value = int(name)
    return value if value <= MAX_VERSION else None


def _pushed_versions_gfile(base: str) -> list[int]:
    import tensorflow as tf

    from trainer.filesystems import ensure_filesystem
    ensure_filesystem(base)
    if not tf.io.gfile.isdir(base):
        return []
    out = []
    for child in tf.io.gfile.listdir(base):
        name = child.rstrip("/")
        version = parse_version_dir(name)
        if version is not None and any(tf.io.gfile.exists(f"{base}/{name}/{pb}")
                                       for pb in ("saved_model.pb", "saved_model.pbtxt")):
            out.append(version)
    return sorted(out)


def _per_gan(value: Versions, gan: str, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        v = value.get(gan)
    else:
        v = value
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{what} version for {gan!r} must be a non-negative int, got {v!r}")
    return v


def _gan_names(gans: Iterable[str] | None) -> list[str]:
    names = list(registry.GANS) if gans is None else list(gans)
    if not names:
        raise ValueError("no GANs to configure")
    for n in names:
        registry.get(n)  # raises ValueError naming the unknown GAN
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate GAN names in {names!r}")
    return names


# ------------------------------------------------------------ models.config
def build_model_server_config(model_base_path: str, gans: Iterable[str] | None = None,
                              stable: Versions = None, canary: Versions = None,
                              num_versions: int = 1):
    """The ``ModelServerConfig`` message (see module docstring for the policy)."""
    from tensorflow_serving.config import model_server_config_pb2

    if num_versions < 1:
        raise ValueError(f"num_versions must be >= 1, got {num_versions!r}")
    names = _gan_names(gans)
    for label, value in ((STABLE, stable), (CANARY, canary)):
        if isinstance(value, Mapping):
            extra = sorted(set(value) - set(names))
            if extra:
                raise ValueError(f"{label} versions given for GANs not configured: {extra}")
    cfg = model_server_config_pb2.ModelServerConfig()
    for name in names:
        base = join_base_path(model_base_path, name)
        s, c = _per_gan(stable, name, STABLE), _per_gan(canary, name, CANARY)
        if c is not None and s is None:
            raise ValueError(f"canary version {c} for {name!r} needs a stable version too")
        if is_local(base) and Path(base).is_dir():
            have = pushed_versions(base)
            missing = [v for v in (s, c) if v is not None and v not in have]
            if missing:
                raise ValueError(
                    f"version(s) {missing} of {name!r} not pushed under {base}; found {have}")
        m = cfg.model_config_list.config.add(name=name, base_path=base,
                                             model_platform=MODEL_PLATFORM)
        if s is None:
            m.model_version_policy.latest.num_versions = num_versions
        else:
            pinned = sorted({s} | ({c} if c is not None else set()))
            m.model_version_policy.specific.versions.extend(pinned)
            m.version_labels[STABLE] = s
            if c is not None:
                m.version_labels[CANARY] = c
    return cfg


def models_config_text(cfg) -> str:
    return text_format.MessageToString(cfg)


def parse_model_server_config(text_or_path: str | os.PathLike):
    """Parse a ``models.config`` (path or text) with TF Serving's proto."""
    from tensorflow_serving.config import model_server_config_pb2

    text = _read(text_or_path)
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


# ------------------------------------------------------- monitoring, batching
def build_monitoring_config(path: str = PROMETHEUS_PATH):
    from serving import tfs_protos

    if not path.startswith("/"):
        raise ValueError(f"Prometheus path must start with '/', got {path!r}")
    cfg = tfs_protos.MonitoringConfig()
    cfg.prometheus_config.enable = True
    cfg.prometheus_config.path = path
    return cfg


def parse_monitoring_config(text_or_path: str | os.PathLike):
    from serving import tfs_protos

    return text_format.Parse(_read(text_or_path), tfs_protos.MonitoringConfig())


def build_batching_parameters(batching: BatchingConfig | None = None):
    from serving import tfs_protos

    b = batching or BatchingConfig()
    p = tfs_protos.BatchingParameters()
    p.max_batch_size.value = b.max_batch_size
    p.batch_timeout_micros.value = b.batch_timeout_micros
    p.max_enqueued_batches.value = b.max_enqueued_batches
    p.num_batch_threads.value = b.num_batch_threads
    p.allowed_batch_sizes.extend(b.allowed_batch_sizes)
    p.pad_variable_length_inputs = b.pad_variable_length_inputs
    return p


def parse_batching_parameters(text_or_path: str | os.PathLike):
    from serving import tfs_protos

    return text_format.Parse(_read(text_or_path), tfs_protos.BatchingParameters())


def batching_config_from_proto(p) -> BatchingConfig:
    """Back to the dataclass; unset wrapper fields take the dataclass defaults."""
    d = BatchingConfig()
    get = lambda field, default: getattr(p, field).value if p.HasField(field) else default  # noqa: E731
    return BatchingConfig(
        max_batch_size=get("max_batch_size", d.max_batch_size),
        batch_timeout_micros=get("batch_timeout_micros", d.batch_timeout_micros),
        max_enqueued_batches=get("max_enqueued_batches", d.max_enqueued_batches),
        num_batch_threads=get("num_batch_threads", d.num_batch_threads),
        allowed_batch_sizes=tuple(p.allowed_batch_sizes),
        pad_variable_length_inputs=p.pad_variable_length_inputs)


_BATCHING_HEADER = """\
# TF Serving --batching_parameters_file (BatchingParameters text proto), used with
# --enable_batching. CPU defaults (TF Serving batching guide): num_batch_threads =
# CPU cores, a max_batch_size above the expected concurrency, a short timeout.
#   max_batch_size        largest merged batch, in images
#   batch_timeout_micros  longest wait for a batch to fill
#   max_enqueued_batches  queue depth; beyond it requests fail UNAVAILABLE
#   num_batch_threads     threads running batches: one per CPU core
"""

_MODELS_HEADER = """\
# TF Serving --model_config_file (ModelServerConfig text proto), generated by
# `tfxgan serving-config` from the GAN registry. One entry per GAN; base_path is
# the Pusher's destination (integer version directories).
"""

_MONITORING_HEADER = """\
# TF Serving --monitoring_config_file (MonitoringConfig text proto): Prometheus
# metrics on the REST port at the path below.
"""


# ----------------------------------------------------------------- writing
def write_serving_configs(out_dir: str | os.PathLike, model_base_path: str,
                          gans: Iterable[str] | None = None, stable: Versions = None,
                          canary: Versions = None, *, num_versions: int = 1,
                          batching: BatchingConfig | None = None,
                          prometheus_path: str = PROMETHEUS_PATH) -> dict[str, Path]:
    """Write the three TF Serving files into ``out_dir``.

    Returns ``{"models.config": path, "monitoring.config": path,
    "batching_parameters.txt": path}``.
    """
    models = build_model_server_config(model_base_path, gans, stable, canary, num_versions)
    monitoring = build_monitoring_config(prometheus_path)
    batch = build_batching_parameters(batching)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        MODELS_CONFIG: out / MODELS_CONFIG,
        MONITORING_CONFIG: out / MONITORING_CONFIG,
        BATCHING_PARAMETERS: out / BATCHING_PARAMETERS,
    }
    paths[MODELS_CONFIG].write_text(_MODELS_HEADER + text_format.MessageToString(models))
    paths[MONITORING_CONFIG].write_text(_MONITORING_HEADER + text_format.MessageToString(monitoring))
    paths[BATCHING_PARAMETERS].write_text(_BATCHING_HEADER + text_format.MessageToString(batch))
    return paths


def model_server_flags(config_dir: str | os.PathLike, grpc_port: int = 8500,
                       rest_port: int = 8501, enable_batching: bool = True,
                       poll_seconds: int = 60) -> list[str]:
    """The ``tensorflow_model_server`` flags that use the generated files."""
    d = Path(config_dir)
    flags = [
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        f"--model_config_file={d / MODELS_CONFIG}",
        f"--model_config_file_poll_wait_seconds={poll_seconds}",
        f"--monitoring_config_file={d / MONITORING_CONFIG}",
        "--enable_model_warmup=true",
    ]
    if enable_batching:
        flags += ["--enable_batching=true", f"--batching_parameters_file={d / BATCHING_PARAMETERS}"]
    return flags


def _read(text_or_path: str | os.PathLike) -> str:
    if isinstance(text_or_path, os.PathLike):
        return Path(text_or_path).read_text()
    s = str(text_or_path)
    if "\n" not in s and "{" not in s and Path(s).exists():
        return Path(s).read_text()
    return s

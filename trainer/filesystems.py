"""File systems behind pipeline, serving and data URIs: one place that makes them usable.

TensorFlow 2.16 reads and writes local paths and ``gs://`` by itself (the
``tensorflow-io-gcs-filesystem`` package it loads). ``s3://`` needs the
``tensorflow-io`` plugin imported into the process first, and Beam's ``s3://``
file system (boto3) needs its endpoint and credentials as pipeline options.

``ensure_filesystem(uri, ...)`` is called wherever a process is handed a URI
before TensorFlow touches it: the ``tfxgan`` commands, the Trainer's ``run_fn``,
the GAN evaluator and the local model server. ``beam_s3_args`` turns the
tensorflow-io/AWS environment into Beam's options, so one set of variables
configures both.
"""
from __future__ import annotations

import importlib
import os
from typing import Iterable, Mapping

# URI scheme -> module whose import registers it with tf.io.gfile (TF 2.16 lacks these).
PLUGIN_MODULES = {"s3": "tensorflow_io"}


def scheme(uri: str | os.PathLike) -> str:
    """``"s3"`` for ``s3://bucket/key``; ``""`` for a local path."""
    text = os.fspath(uri)
    head, sep, _ = text.partition("://")
    return head.lower() if sep and head.isalnum() else ""


def is_remote(uri: str | os.PathLike) -> bool:
    return scheme(uri) not in ("", "file")


def ensure_filesystem(*uris: str | os.PathLike | None) -> None:
    """Make every URI's file system usable by tf.io.gfile in this process.

    Imports the plugin a scheme needs (once; later calls are a dict lookup).
    Raises ValueError naming the URI when that plugin is not installed.
    """
    for uri in uris:
        if uri is None:
            continue
        name = PLUGIN_MODULES.get(scheme(uri))
        if name is None:
            continue
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ValueError(f"{os.fspath(uri)!r} needs the {name} package for its file system "
                             f"({err}); it is in requirements/runtime.in") from None


# Beam option -> environment variables read for it, first set wins (tensorflow-io
# and boto3 read the same names). Beam's --s3_verify is left alone: it takes a
# CA bundle path or nothing, and a plain-http endpoint needs neither.
_BEAM_S3_ENV = (
    ("--s3_access_key_id", ("AWS_ACCESS_KEY_ID",)),
    ("--s3_secret_access_key", ("AWS_SECRET_ACCESS_KEY",)),
    ("--s3_region_name", ("AWS_REGION", "AWS_DEFAULT_REGION")),
)


def beam_s3_args(uris: Iterable[str | os.PathLike | None], beam_args: Iterable[str] = (),
                 env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Beam options for ``s3://`` taken from the environment, or () when no URI is s3://.

    Options already in ``beam_args`` win. The endpoint comes from ``S3_ENDPOINT``
    (``http://host:port``, or ``host:port`` with ``S3_USE_HTTPS=0`` meaning http),
    so Beam and tensorflow-io talk to the same server. ``--beam_plugins=tensorflow_io``
    makes Beam worker processes (multi-processing DirectRunner, remote runners)
    register s3:// for TensorFlow too.
    """
    if not any(uri is not None and scheme(uri) == "s3" for uri in uris):
        return ()
    env = os.environ if env is None else env
    given = {a.split("=", 1)[0] for a in beam_args}
    out = []
    endpoint = env.get("S3_ENDPOINT")
    if endpoint and "--s3_endpoint_url" not in given:
        if "://" not in endpoint:
            https = env.get("S3_USE_HTTPS", "1") not in ("0", "false", "False")
            endpoint = ("https://" if https else "http://") + endpoint
        out.append(f"--s3_endpoint_url={endpoint}")
    for option, names in _BEAM_S3_ENV:
        value = next((env[n] for n in names if env.get(n)), None)
        if value and option not in given:
            out.append(f"{option}={value}")
    if "--beam_plugins" not in given:
        out.append(f"--beam_plugins={PLUGIN_MODULES['s3']}")
    return tuple(out)


def exit_now_if_plugins_loaded(code: int) -> None:
    """Exit with ``code`` without running C++ static destructors, if a plugin was loaded.

    tensorflow-io 0.37.1 (the release for TF 2.16) aborts at interpreter exit
    once its S3 file system was used ("pure virtual method called", exit status
    134; tensorflow/io#2039, fixed upstream after that release). A process that
    finished its work calls this last: it flushes output and logs, then leaves
    with ``os._exit`` so the exit status is the real one. No-op otherwise.
    """
    import logging
    import sys
    if not any(name in sys.modules for name in PLUGIN_MODULES.values()):
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)

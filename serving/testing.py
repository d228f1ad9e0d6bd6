"""Small stand-in generator SavedModels that follow the serving contract.

Used by the serving tests and benchmarks (and handy for trying ``tfxgan
serve`` without a trained model). A stand-in is exported by the Trainer's own
export path (:mod:`trainer.export`), so it has the exact layout, signatures,
tensor names, dtypes and warmup file that the Pusher writes for a real
generator, with the tiny generator of :mod:`serving.standin`: ``tanh(w * x +
b)`` on the decoded input (or on noise drawn from each seed), where ``b``
differs per version so tests can tell versions apart. Having no Transform
graph, it decodes images with :class:`trainer.export.PlainImages`.

Layout: ``<base_path>/<version>/{saved_model.pb, variables/,
assets.extra/tf_serving_warmup_requests}``. The version directory is written
under a temporary name and renamed into place, so a polling server never sees
a half-written version.
"""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np

from trainer import features as F
from trainer import kinds, registry

REFINE_SIGNATURE = "refine"  # optional float-input signature (tests NaN/Inf handling)


def png_bytes(array: np.ndarray) -> bytes:
    """Encode a [H, W] or [H, W, C] uint8/uint16 array as PNG."""
    from PIL import Image

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.dtype == np.uint16:
        img = Image.fromarray(a.astype(np.uint16), mode="I;16")
    else:
        img = Image.fromarray(a.astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def random_png(size: int, channels: int = 1, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return png_bytes(rng.integers(0, 256, (size, size, channels), dtype=np.uint8))


def _input_key(kind: str) -> str:
    return F.key(kinds.get(kind).generator_role, F.ENCODED)


def example_bytes(kind: str, image: bytes | None = None, seed: int = 0,
                  mask: bytes | None = None) -> bytes:
    """A serialized tf.Example as a stand-in's ``serving_tf_example`` reads it: the image
    (and for inpainting ``mask``, by default a quarter hole), or the seed (unconditional)."""
    import tensorflow as tf

    k = kinds.get(kind)
    if k.generator_role is None:
        feat = kinds.example_features(k, **{kinds.SEED_FEATURE: seed})
    else:
        feat = {_input_key(kind): F.bytes_feature(image)}
        if kinds.MASK_FEATURE in k.example_features:
            if mask is None:
                from PIL import Image
                w, h = Image.open(io.BytesIO(image)).size
                mask = k.request(1, (h, w, 1))[F.IN_MASKS][0]
            feat.update(kinds.example_features(k, **{kinds.MASK_FEATURE: mask}))
    return tf.train.Example(features=tf.train.Features(feature=feat)).SerializeToString()


def sample_inputs(kind: str, batch: int, size: int, channels: int = 1, seed: int = 0) -> dict:
    """Valid ``serving_default`` inputs for a stand-in of ``kind``, as numpy arrays: seeded
    random images (masks with a hole in the top-left quarter), or seeds ``seed``..."""
    return kinds.get(kind).request(batch, (size, size, channels), seed=seed)


def write_standin_model(base_path: str | os.PathLike, version: int, kind: str = registry.PAIRED,
                        *, size: int = 8, channels: int = 1, bias: float | None = None,
                        warmup_records: int = 2, model_name: str = "model",
                        refine_signature: bool = False, pixel_dtype: str = "uint8",
                        warmup_inputs: list[dict] | None = None, conv: bool = False) -> Path:
    """Write version ``version`` of a stand-in generator; returns the version dir.

    The warmup file holds ``warmup_records`` one-image requests, or one request
    per dict of ``warmup_inputs`` when given. ``conv`` adds a 3x3 convolution
    (the oneDNN ``Conv2D`` kernel real generators run) before the ``tanh``.
    ``pixel_dtype`` "uint16" serves ``pixels`` as CT stored values (HU + 32768)
    like a 16-bit CT generator. ``refine_signature`` adds ``refine``: the generator
    on float images [B, H, W, C] (tests NaN/Inf handling).
    """
    import tensorflow as tf

    from serving import standin
    from trainer import export

    k = kinds.get(kind)
    if pixel_dtype not in ("uint8", "uint16"):
        raise ValueError(f"pixel_dtype must be 'uint8' or 'uint16', received {pixel_dtype!r}")
    bias = float(version) / 10.0 if bias is None else float(bias)
    hp = standin.HParams(kind=k.name, image_size=size, channels=channels)
    spec = registry.GanSpec(model_name, standin.__name__, k.name, "", "a stand-in generator")
    module = export.GeneratorModule(spec, standin.StandInGenerator(hp, bias, conv), hp,
                                    is_ct=pixel_dtype == "uint16", images=export.PlainImages())
    extra = {}
    if refine_signature:
        module.refine = tf.function(
            lambda generated: module.outputs(module.generator(generated)),
            input_signature=[tf.TensorSpec([None, size, size, channels], tf.float32,
                                           name=F.OUT_GENERATED)])
        extra[REFINE_SIGNATURE] = module.refine.get_concrete_function()
    if warmup_inputs is None:
        warmup_inputs = [sample_inputs(kind, 1, size, channels, seed=i)
                         for i in range(warmup_records)]

    base = Path(base_path)
    base.mkdir(parents=True, exist_ok=True)
    final = base / str(int(version))
    if final.exists():
        raise FileExistsError(f"version {version} already exists at {final}")
    tmp = base / f".tmp-{version}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    export.save(module, str(tmp), model_name=model_name, warmup=warmup_inputs,
                extra_signatures=extra)
    os.rename(tmp, final)   # a polling server never sees a half-written version
    return final


class ServeProcess:
    """``tfxgan serve ARGS`` in its own process, as a deployment runs it.

    Runs ``python -m tfx_pipeline.cli serve`` with the folder holding this
    ``serving`` package first on ``PYTHONPATH`` (so the child runs the same
    code) and returns once the server printed its address line, that is once
    its ports listen: ``grpc`` and ``rest`` are ``host:port`` (``rest`` is None
    with ``--rest-api-port -1``). stderr goes to ``log_path`` (default:
    discarded). If the server exits before printing the line, RuntimeError
    names its exit code and what it printed.
    """

    def __init__(self, args, log_path: str | os.PathLike | None = None):
        import subprocess
        import sys

        from serving.server import parse_address_line

        root = str(Path(__file__).resolve().parents[1])
        pythonpath = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": pythonpath, "TF_CPP_MIN_LOG_LEVEL": "2"}
        self.args = [str(a) for a in args]
        self.log_path = log_path
        self._log = open(log_path, "w") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tfx_pipeline.cli", "serve", *self.args], cwd=root, env=env,
            stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.proc.stdout.readline()
        addresses = parse_address_line(line)
        if addresses is None:
            self.proc.kill()
            code = self.proc.wait()
            self._close_log()
            raise RuntimeError(f"tfxgan serve did not start (exit {code}): printed {line!r}"
                               + (f"; see {log_path}" if log_path else ""))
        self.grpc, self.rest = addresses

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        """The exit code if the server has exited, else None."""
        return self.proc.poll()

    def rss_mb(self) -> float | None:
        """Resident memory of the server process (Linux ``/proc``), None once it is gone."""
        import re
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        m = re.search(r"VmRSS:\s+(\d+) kB", text)
        return int(m.group(1)) / 1024 if m else None

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (``tfxgan serve`` then drains and exits 0), SIGKILL after ``timeout_s``;
        returns the exit code."""
        import subprocess
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._close_log()
        return self.proc.returncode

    def _close_log(self) -> None:
        if hasattr(self._log, "close"):
            self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

"""Small stand-in generator SavedModels that follow the serving contract.

Used by the serving tests (and handy for trying ``tfxgan serve`` without a
trained model). A stand-in has the exact layout, signatures, tensor names,
dtypes and warmup file that the Pusher writes for a real generator
(``trainer/features.py``), with a tiny "generator": ``tanh(w * x + b)`` on
the decoded input (or on noise drawn from each seed), where ``b`` differs per
version so tests can tell versions apart.

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
from trainer import registry

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
    return F.key(F.INPUT if kind == registry.PAIRED else F.IMAGE, F.ENCODED)


def example_bytes(kind: str, image: bytes | None = None, seed: int = 0) -> bytes:
    """A serialized tf.Example as the stand-in's ``serving_tf_example`` reads it."""
    import tensorflow as tf

    if kind == registry.UNCONDITIONAL:
        feat = {F.LABEL: tf.train.Feature(int64_list=tf.train.Int64List(value=[seed]))}
    else:
        feat = {_input_key(kind): tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))}
    return tf.train.Example(features=tf.train.Features(feature=feat)).SerializeToString()


def sample_inputs(kind: str, batch: int, size: int, channels: int = 1, seed: int = 0) -> dict:
    """Valid ``serving_default`` inputs for a stand-in of ``kind``, as numpy arrays."""
    if kind == registry.UNCONDITIONAL:
        return {F.IN_SEEDS: np.arange(seed, seed + batch, dtype=np.int64)}
    images = np.array([random_png(size, channels, seed + i) for i in range(batch)], dtype=object)
    if kind == registry.INPAINTING:
        mask = np.full((size, size), 255, np.uint8)
        mask[: size // 2, : size // 2] = 0
        return {F.IN_IMAGES: images, F.IN_MASKS: np.array([png_bytes(mask)] * batch, dtype=object)}
    return {F.IN_IMAGES: images}


def write_standin_model(base_path: str | os.PathLike, version: int, kind: str = registry.PAIRED,
                        *, size: int = 8, channels: int = 1, bias: float | None = None,
                        warmup_records: int = 2, model_name: str = "model",
                        refine_signature: bool = False, pixel_dtype: str = "uint8",
                        warmup_inputs: list[dict] | None = None, conv: bool = False) -> Path:
    """Write version ``version`` of a stand-in generator; returns the version dir.

    The warmup file holds ``warmup_records`` one-image requests, or one request
    per dict of ``warmup_inputs`` when given. ``conv`` adds a 3x3 convolution
    (the oneDNN ``Conv2D`` kernel real generators run) before the ``tanh``.
    """
    import tensorflow as tf

    if kind not in (registry.PAIRED, registry.INPAINTING, registry.UNCONDITIONAL):
        raise ValueError(f"unknown kind {kind!r}")
    bias = float(version) / 10.0 if bias is None else float(bias)
    shape = [size, size, channels]
    pdt = tf.as_dtype(pixel_dtype)
    pmax = float(pdt.max)

    class StandIn(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(0.5, name="w")
            self.b = tf.Variable(bias, name="b")
            # [3, 3, C, C] identity-centred kernel: a real Conv2D that keeps values in range
            k = np.zeros((3, 3, channels, channels), np.float32)
            k[1, 1] = np.eye(channels) * 0.5
            k[0, 1] = np.eye(channels) * 0.25
            self.k = tf.Variable(k, name="k") if conv else None

        def _outputs(self, x):  # x: [B, H, W, C] float32 in [-1, 1]
            if self.k is not None:
                x = tf.nn.conv2d(x, self.k, strides=1, padding="SAME")  # [B, H, W, C]
            g = tf.tanh(self.w * x + self.b)
            pixels = tf.cast(tf.round((g + 1.0) * (pmax / 2.0)), pdt)
            return {F.OUT_GENERATED: g, F.OUT_PIXELS: pixels}

        def _decode(self, encoded):  # [B] string -> [B, H, W, C]
            def one(b):
                img = tf.io.decode_image(b, channels=0, dtype=tf.float32, expand_animations=False)
                img = tf.ensure_shape(img, shape)  # wrong size/channels: InvalidArgumentError
                return img * 2.0 - 1.0
            return tf.map_fn(one, encoded, fn_output_signature=tf.TensorSpec(shape, tf.float32))

        def _from_seeds(self, seeds):  # [B] int64 -> [B, H, W, C]
            def one(s):
                z = tf.random.stateless_normal(shape, seed=tf.stack([s, tf.constant(0, tf.int64)]))
                return tf.clip_by_value(z / 3.0, -1.0, 1.0)
            return tf.map_fn(one, seeds, fn_output_signature=tf.TensorSpec(shape, tf.float32))

    m = StandIn()
    specs = {}
    if kind == registry.UNCONDITIONAL:
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name=F.IN_SEEDS)])
        def serve(seeds):
            return m._outputs(m._from_seeds(seeds))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=F.IN_EXAMPLES)])
        def serve_examples(examples):
            parsed = tf.io.parse_example(
                examples, {F.LABEL: tf.io.FixedLenFeature([], tf.int64)})
            return m._outputs(m._from_seeds(parsed[F.LABEL]))
    elif kind == registry.PAIRED:
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=F.IN_IMAGES)])
        def serve(images):
            return m._outputs(m._decode(images))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=F.IN_EXAMPLES)])
        def serve_examples(examples):
            key = _input_key(kind)
            parsed = tf.io.parse_example(examples, {key: tf.io.FixedLenFeature([], tf.string)})
            return m._outputs(m._decode(parsed[key]))
    else:
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=F.IN_IMAGES),
                                      tf.TensorSpec([None], tf.string, name=F.IN_MASKS)])
        def serve(images, masks):
            x = m._decode(images)
            k = (m._decode(masks) + 1.0) / 2.0  # 1 = known
            k = tf.reduce_mean(k, axis=-1, keepdims=True)  # [B, H, W, 1]
            return m._outputs(x * k)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=F.IN_EXAMPLES)])
        def serve_examples(examples):
            key = _input_key(kind)
            parsed = tf.io.parse_example(examples, {key: tf.io.FixedLenFeature([], tf.string)})
            return m._outputs(m._decode(parsed[key]))
    specs[F.SERVING_SIGNATURE] = serve
    specs[F.EXAMPLE_SIGNATURE] = serve_examples
    if refine_signature:
        @tf.function(input_signature=[tf.TensorSpec([None, *shape], tf.float32,
                                                    name=F.OUT_GENERATED)])
        def refine(generated):
            return m._outputs(generated)
        specs[REFINE_SIGNATURE] = refine

    base = Path(base_path)
    base.mkdir(parents=True, exist_ok=True)
    final = base / str(int(version))
    if final.exists():
        raise FileExistsError(f"version {version} already exists at {final}")
    tmp = base / f".tmp-{version}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tf.saved_model.save(m, str(tmp), signatures=specs)
    if warmup_records or warmup_inputs:
        write_warmup_requests(tmp, model_name, kind, warmup_records, size, channels,
                              inputs=warmup_inputs)
    os.rename(tmp, final)
    return final


def write_warmup_requests(version_dir, model_name: str, kind: str, n: int, size: int,
                          channels: int = 1, inputs: list[dict] | None = None) -> Path:
    """TF Serving's warmup file: ``n`` PredictionLog records of one-image predict requests."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = Path(version_dir) / F.WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if inputs is None:
        inputs = [sample_inputs(kind, 1, size, channels, seed=i) for i in range(n)]
    with tf.io.TFRecordWriter(str(path)) as w:
        for one in inputs:
            req = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(
                name=model_name, signature_name=F.SERVING_SIGNATURE))
            for k, v in one.items():
                req.inputs[k].CopyFrom(tf.make_tensor_proto(v))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=req))
            w.write(log.SerializeToString())
    return path


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

"""Export the generator alone as a SavedModel that TF Serving serves.

Signatures (names in :mod:`trainer.features`):

``serving_default`` - what a client has:
  * paired GANs: ``images`` string [B] (PNG/JPEG of the model's input size);
  * inpainting: ``images`` string [B] and ``masks`` string [B] (PNG, 255 = known);
  * unconditional GANs: ``seeds`` int64 [B] (one image per seed, deterministic).
``serving_tf_example`` - ``examples`` string [B], serialized tf.Example in the
  ingestion contract (inpainting adds a ``mask_encoded`` PNG feature;
  unconditional GANs read an int64 ``seed`` feature).

Both return ``generated`` float32 [B, H, W, C] in [-1, 1] and ``pixels`` in the
input's range: uint8, or for CT uint16 stored values (HU + 32768, the
ingestion storage convention). Images go through the Transform graph
(``transform_features_layer``), so serving preprocessing is training's.
Nothing is XLA-compiled (TF Serving's CPU build has no XLA). A GAN whose
``HParams.self_ensemble`` is set is served averaged over the 8 flips/rotations
of its input (:class:`trainer.models.ensemble.DihedralEnsemble`), so the gate
and every client see that function.

What differs by GAN kind (inputs, the example features, how the generator is
called) is :mod:`trainer.kinds`; this module is the one export path, used by
the Trainer, the serving stand-ins (:mod:`serving.testing`) and the
benchmarks. Those without a Transform graph decode images with
:class:`PlainImages`.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import tensorflow as tf

from trainer import features as F
from trainer import kinds
from trainer import preprocessing as P
from trainer import registry
from trainer.models.ensemble import DihedralEnsemble

MASK_FEATURE = kinds.MASK_FEATURE    # inpainting: the mask of serving_tf_example's records
SEED_FEATURE = kinds.SEED_FEATURE    # unconditional: the seed of serving_tf_example's records


def image_size_check(images: tf.Tensor, height: int, width: int, name: str) -> tf.Tensor:
    """Assert every encoded image [B] is a PNG or JPEG of height x width pixels."""
    is_png = tf.strings.substr(images, 0, 8) == P.PNG_SIGNATURE
    is_jpeg = tf.strings.substr(images, 0, 2) == b"\xff\xd8"
    checks = [tf.debugging.assert_equal(
        tf.reduce_all(is_png | is_jpeg), True,
        message=f"{name}: every value must be a PNG or JPEG image")]

    def dims(data):
        def png():
            hw = tf.io.decode_raw(tf.strings.substr(data, 16, 8), tf.uint8)
            hw = tf.cast(hw, tf.int32)
            w = hw[0] * 16777216 + hw[1] * 65536 + hw[2] * 256 + hw[3]
            h = hw[4] * 16777216 + hw[5] * 65536 + hw[6] * 256 + hw[7]
            return tf.stack([h, w])
        return tf.cond(tf.strings.substr(data, 0, 8) == P.PNG_SIGNATURE, png,
                       lambda: tf.io.extract_jpeg_shape(data)[:2])
    with tf.control_dependencies(checks):
        hw = tf.map_fn(dims, images, fn_output_signature=tf.int32)
    ok = tf.reduce_all((hw[:, 0] == height) & (hw[:, 1] == width))
    return tf.debugging.assert_equal(
        ok, True, message=f"{name}: every image must be {height}x{width} pixels (height x width)")


def to_pixels(generated: tf.Tensor, is_ct: bool, ct_window) -> tf.Tensor:
    """[-1, 1] -> uint8, or uint16 CT stored values (HU + 32768)."""
    if is_ct:
        hu = P.denormalize_ct(generated, ct_window)
        stored = tf.clip_by_value(tf.round(hu - F.CT_STORAGE_OFFSET), 0.0, 65535.0)
        return tf.cast(stored, tf.uint16)
    return tf.cast(tf.clip_by_value(tf.round((generated + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


class TransformImages(tf.Module):
    """Encoded images -> model inputs through the Transform graph (what training saw).

    The serving path of every trained generator: the raw features of one role
    go through ``transform_features_layer``, so serving preprocessing is
    training's."""

    def __init__(self, tft_output, is_ct: bool = False):
        super().__init__(name="transform_images")
        self.layer = tft_output.transform_features_layer()
        self.raw_feature_spec = tft_output.raw_feature_spec()
        self.is_ct = bool(is_ct)

    def feature_spec(self, role: str) -> dict:
        """What ``serving_tf_example`` parses for ``role``: its image and value mapping."""
        return {k: v for k, v in self.raw_feature_spec.items()
                if k in (F.key(role, F.ENCODED), F.key(role, F.VALUE_OFFSET),
                         F.key(role, F.VALUE_SCALE), F.MODALITY)}

    def __call__(self, role: str, encoded, shape, offset=None, scale=None, modality=None):
        col = lambda t: tf.reshape(t, [-1, 1])  # noqa: E731  raw features are [B, 1]
        n = tf.shape(encoded)[0]
        if offset is None:
            offset = tf.fill([n], F.CT_STORAGE_OFFSET if self.is_ct else 0.0)
        if scale is None:
            scale = tf.ones([n], tf.float32)
        if modality is None:
            modality = tf.fill([n], "CT" if self.is_ct else "other")
        raw = {F.key(role, F.ENCODED): col(encoded), F.key(role, F.VALUE_OFFSET): col(offset),
               F.key(role, F.VALUE_SCALE): col(scale), F.MODALITY: col(modality)}
        return self.layer(raw)[F.transformed_key(role)]


class PlainImages(tf.Module):
    """Encoded images -> [-1, 1] without a Transform graph: ``value / max * 2 - 1``.

    For generators that were not trained through the pipeline (the serving
    stand-ins, the serving benchmark): an 8-bit PNG/JPEG maps 0..255 and a
    16-bit PNG 0..65535 onto [-1, 1]; no CT windowing. The image must have
    exactly the role's channels (no silent conversion). Records given to
    ``serving_tf_example`` need only the role's ``R_encoded`` feature."""

    def feature_spec(self, role: str) -> dict:
        return {F.key(role, F.ENCODED): tf.io.FixedLenFeature([1], tf.string)}

    def __call__(self, role: str, encoded, shape, offset=None, scale=None, modality=None):
        shape = list(shape)

        def one(data):
            img = tf.io.decode_image(data, channels=0, dtype=tf.float32, expand_animations=False)
            return tf.ensure_shape(img, shape) * 2.0 - 1.0   # wrong channels: InvalidArgument
        return tf.map_fn(one, encoded, fn_output_signature=tf.TensorSpec(shape, tf.float32))


class GeneratorModule(tf.Module):
    """The generator, its image decoding and the serving functions of one GAN.

    ``gan`` is a registered GAN's name or a :class:`trainer.registry.GanSpec`
    (a generator outside the registry: its objective module provides
    ``input_shapes`` and what its kind's contract asks for). Images are decoded
    by the Transform graph of ``tft_output``, or by ``images`` (e.g.
    :class:`PlainImages`) when there is none. What the serving functions do is
    the GAN kind's (:mod:`trainer.kinds`); this class gives them the shared
    pieces: :meth:`decode`, :meth:`parse_examples`, :meth:`outputs`."""

    def __init__(self, gan, generator, hparams, tft_output=None, *, is_ct: bool = False,
                 ct_window=P.DEFAULT_CT_WINDOW, images=None):
        self.spec = gan if isinstance(gan, registry.GanSpec) else registry.get(gan)
        super().__init__(name=f"{self.spec.name}_generator")
        self.kind = kinds.get(self.spec.kind)
        self.objective = self.spec.load()
        self.hparams = hparams
        self.is_ct = bool(is_ct)
        self.ct_window = tuple(float(v) for v in ct_window)
        self.shapes = self.objective.input_shapes(hparams)
        # HParams.self_ensemble: serve the generator averaged over the 8 orientations
        self.generator = generator
        if getattr(hparams, "self_ensemble", False):
            self._check_self_ensemble()
            self.generator = DihedralEnsemble(generator)
        if tft_output is not None and images is not None:
            raise ValueError(f"{self.spec.name}: give tft_output or images, not both")
        self.images = TransformImages(tft_output, self.is_ct) if tft_output is not None else images
        if self.kind.generator_role is not None and self.images is None:
            raise ValueError(f"{self.spec.name}: image GANs need the Transform output to export "
                             f"(or images=PlainImages() for a generator trained elsewhere)")

    def _check_self_ensemble(self):
        """Before any tracing: the self-ensemble turns image inputs, which must be square."""
        if self.kind.generator_role is None:
            raise ValueError(f"{self.spec.name}: self_ensemble needs a generator of images; "
                             f"this {self.spec.kind} generator reads seeds")
        for role, (h, w, _) in self.shapes.items():
            if h != w:
                raise ValueError(f"{self.spec.name}: self_ensemble needs square images, "
                                 f"{role} is {h}x{w}")

    # ------------------------------------------------- pieces the kinds use
    image_size_check = staticmethod(image_size_check)

    def outputs(self, generated) -> dict:
        return {F.OUT_GENERATED: tf.identity(generated, name=F.OUT_GENERATED),
                F.OUT_PIXELS: to_pixels(generated, self.is_ct, self.ct_window)}

    def check_batch(self, t, name):
        return tf.debugging.assert_positive(tf.size(t), message=f"{name}: empty batch")

    def decode(self, role: str, encoded, name: str, *, offset=None, scale=None, modality=None):
        """Encoded images [B] of ``role`` (checked: non-empty, PNG/JPEG of the role's size)
        -> model input [B, H, W, C]."""
        h, w, _ = self.shapes[role]
        with tf.control_dependencies([self.check_batch(encoded, name),
                                      image_size_check(encoded, h, w, name)]):
            return self.images(role, encoded, self.shapes[role], offset, scale, modality)

    def parse_examples(self, examples, role: str | None, extra: Mapping[str, str]) -> dict:
        """Serialized tf.Examples [B] -> {feature: [B]}: ``role``'s image features and the
        kind's ``extra`` features (name -> ``kinds.STRING`` / ``kinds.INT64``)."""
        dtypes = {kinds.STRING: tf.string, kinds.INT64: tf.int64}
        spec = self.images.feature_spec(role) if role is not None else {}
        spec.update({k: tf.io.FixedLenFeature([1], dtypes[d]) for k, d in extra.items()})
        return {k: tf.reshape(v, [-1]) for k, v in tf.io.parse_example(examples, spec).items()}

    def warmup_requests(self, batch: int = 2) -> list[dict]:
        """One valid serving_default request (blank images, all-known masks, seeds 0..)."""
        role = self.kind.generator_role
        shape = self.shapes[role] if role is not None else ()
        return [self.kind.request(batch, shape, bit_depth=16 if self.is_ct else 8, blank=True)]

    # ------------------------------------------------------------ signatures
    def signatures(self) -> dict:
        """Concrete functions keyed by signature name.

        Also saves ``generate`` (not a serving signature): the served generator (the
        self-ensemble when ``HParams.self_ensemble`` is set) on already-preprocessed
        inputs, for evaluation and for parity checks.
        """
        dtypes = {kinds.STRING: tf.string, kinds.INT64: tf.int64}
        kind = self.kind
        self.generate = tf.function(lambda *x: kind.call_generator(self.generator, *x),
                                    input_signature=kind.generator_inputs(self))
        default = tf.function(lambda *x: kind.serve(self, *x), input_signature=[
            tf.TensorSpec([None], dtypes[d], name=n) for n, d in kind.serving_inputs])
        examples = tf.function(lambda x: kind.serve_examples(self, x),
                               input_signature=[tf.TensorSpec([None], tf.string, name=F.IN_EXAMPLES)])
        self._serve_default, self._serve_examples = default, examples  # tracked for saving
        return {F.SERVING_SIGNATURE: default.get_concrete_function(),
                F.EXAMPLE_SIGNATURE: examples.get_concrete_function()}


def write_warmup(export_dir: str, model_name: str, requests: Mapping | Sequence[Mapping]) -> str:
    """TF Serving warmup records in ``assets.extra/``: one PredictionLog per request
    ({input name: numpy array} for ``serving_default``)."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    if isinstance(requests, Mapping):
        requests = [requests]
    path = os.path.join(str(export_dir), F.WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=F.SERVING_SIGNATURE))
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def save(module: GeneratorModule, export_dir: str, *, model_name: str | None = None,
         warmup: Sequence[Mapping] | None = None, extra_signatures: Mapping | None = None) -> str:
    """Save ``module`` with its signatures (plus ``extra_signatures``) and warmup records
    (``warmup``: the requests; None: :meth:`GeneratorModule.warmup_requests`; []: none)."""
    signatures = {**module.signatures(), **(extra_signatures or {})}
    tf.saved_model.save(module, str(export_dir), signatures=signatures,
                        options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    requests = module.warmup_requests() if warmup is None else list(warmup)
    if requests:
        write_warmup(export_dir, model_name or module.spec.name, requests)
    return str(export_dir)


def export_generator(gan, generator, hparams, export_dir: str, tft_output=None, *,
                     is_ct: bool = False, ct_window=P.DEFAULT_CT_WINDOW, images=None) -> str:
    """Save the generator with both signatures and warmup requests to ``export_dir``."""
    module = GeneratorModule(gan, generator, hparams, tft_output, is_ct=is_ct,
                             ct_window=ct_window, images=images)
    return save(module, export_dir)

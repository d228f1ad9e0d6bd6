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
Nothing is XLA-compiled (TF Serving's CPU build has no XLA).
"""
from __future__ import annotations

import os

import tensorflow as tf

from trainer import features as F
from trainer import preprocessing as P
from trainer import registry

MASK_FEATURE = "mask_encoded"
SEED_FEATURE = "seed"


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


class GeneratorModule(tf.Module):
    """The generator, the Transform layer and the serving functions of one GAN."""

    def __init__(self, gan: str, generator, hparams, tft_output=None, *, is_ct: bool = False,
                 ct_window=P.DEFAULT_CT_WINDOW):
        super().__init__(name=f"{gan}_generator")
        self.spec = registry.get(gan)
        self.generator = generator
        self.hparams = hparams
        self.is_ct = bool(is_ct)
        self.ct_window = tuple(float(v) for v in ct_window)
        self.shapes = self.spec.load().input_shapes(hparams)
        self.tft_layer = tft_output.transform_features_layer() if tft_output is not None else None
        self.raw_feature_spec = tft_output.raw_feature_spec() if tft_output is not None else None
        if self.spec.kind != registry.UNCONDITIONAL and self.tft_layer is None:
            raise ValueError(f"{gan}: image GANs need the Transform output to export")

    # ------------------------------------------------------------- helpers
    def _outputs(self, generated):
        return {F.OUT_GENERATED: tf.identity(generated, name=F.OUT_GENERATED),
                F.OUT_PIXELS: to_pixels(generated, self.is_ct, self.ct_window)}

    def _transform(self, role: str, encoded, offset=None, scale=None, modality=None):
        """Encoded images [B] of ``role`` -> model input [B, H, W, C] via the Transform graph."""
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
        return self.tft_layer(raw)[F.transformed_key(role)]

    def _check_batch(self, t, name):
        return tf.debugging.assert_positive(tf.size(t), message=f"{name}: empty batch")

    # --------------------------------------------------------- by GAN kind
    def paired(self, images):
        h, w, _ = self.shapes[F.INPUT]
        with tf.control_dependencies([self._check_batch(images, F.IN_IMAGES),
                                      image_size_check(images, h, w, F.IN_IMAGES)]):
            x = self._transform(F.INPUT, images)
        return self._outputs(self.generator(x, training=False))

    def inpaint(self, images, masks):
        h, w, _ = self.shapes[F.IMAGE]
        with tf.control_dependencies([
                self._check_batch(images, F.IN_IMAGES),
                image_size_check(images, h, w, F.IN_IMAGES),
                image_size_check(masks, h, w, F.IN_MASKS),
                tf.debugging.assert_equal(tf.size(images), tf.size(masks),
                                          message="images and masks must have the same batch size")]):
            x = self._transform(F.IMAGE, images)
            mask = tf.map_fn(lambda m: tf.io.decode_image(m, channels=1, expand_animations=False),
                             masks, fn_output_signature=tf.TensorSpec([None, None, 1], tf.uint8))
        mask = tf.reshape(tf.cast(mask > 127, tf.float32), [-1, h, w, 1])  # [B, H, W, 1], 1 = known
        from trainer.gans.pconv_inpainting import composite
        prediction = self.generator([x * mask, mask], training=False)
        return self._outputs(composite(prediction, x, mask))

    def sample(self, seeds):
        noise = self.spec.load().noise_from_seeds(seeds, self.hparams.latent_dim)
        with tf.control_dependencies([self._check_batch(seeds, F.IN_SEEDS)]):
            noise = tf.identity(noise)
        return self._outputs(self.generator(noise, training=False))

    def from_examples(self, examples):
        kind = self.spec.kind
        if kind == registry.UNCONDITIONAL:
            parsed = tf.io.parse_example(examples, {SEED_FEATURE: tf.io.FixedLenFeature([], tf.int64)})
            return self.sample(parsed[SEED_FEATURE])
        role = F.INPUT if kind == registry.PAIRED else F.IMAGE
        spec = {k: v for k, v in self.raw_feature_spec.items()
                if k in (F.key(role, F.ENCODED), F.key(role, F.VALUE_OFFSET),
                         F.key(role, F.VALUE_SCALE), F.MODALITY)}
        if kind == registry.INPAINTING:
            spec[MASK_FEATURE] = tf.io.FixedLenFeature([1], tf.string)
        parsed = {k: tf.reshape(v, [-1]) for k, v in tf.io.parse_example(examples, spec).items()}
        if kind == registry.INPAINTING:
            return self.inpaint(parsed[F.key(role, F.ENCODED)], parsed[MASK_FEATURE])
        h, w, _ = self.shapes[role]
        images = parsed[F.key(role, F.ENCODED)]
        with tf.control_dependencies([self._check_batch(images, F.IN_EXAMPLES),
                                      image_size_check(images, h, w, F.IN_EXAMPLES)]):
            x = self._transform(role, images, parsed[F.key(role, F.VALUE_OFFSET)],
                                parsed[F.key(role, F.VALUE_SCALE)], parsed[F.MODALITY])
        return self._outputs(self.generator(x, training=False))

    def generator_input_specs(self):
        """Input signature of ``generate``: the generator's own inputs."""
        kind = self.spec.kind
        if kind == registry.UNCONDITIONAL:
            return [tf.TensorSpec([None, self.hparams.latent_dim], tf.float32)]
        if kind == registry.INPAINTING:
            h, w, c = self.shapes[F.IMAGE]
            return [tf.TensorSpec([None, h, w, c], tf.float32), tf.TensorSpec([None, h, w, 1], tf.float32)]
        return [tf.TensorSpec([None, *self.shapes[F.INPUT]], tf.float32)]

    def signatures(self) -> dict:
        """Concrete functions keyed by signature name.

        Also saves ``generate`` (not a serving signature): the bare generator on
        already-preprocessed inputs, for evaluation and for parity checks.
        """
        string_batch = lambda name: tf.TensorSpec([None], tf.string, name=name)  # noqa: E731
        kind = self.spec.kind
        specs = self.generator_input_specs()
        if kind == registry.INPAINTING:
            self.generate = tf.function(lambda x, m: self.generator([x, m], training=False),
                                        input_signature=specs)
        else:
            self.generate = tf.function(lambda x: self.generator(x, training=False),
                                        input_signature=specs)
        if kind == registry.PAIRED:
            default = tf.function(self.paired, input_signature=[string_batch(F.IN_IMAGES)])
        elif kind == registry.INPAINTING:
            default = tf.function(self.inpaint, input_signature=[string_batch(F.IN_IMAGES),
                                                                 string_batch(F.IN_MASKS)])
        else:
            default = tf.function(self.sample,
                                  input_signature=[tf.TensorSpec([None], tf.int64, name=F.IN_SEEDS)])
        examples = tf.function(self.from_examples, input_signature=[string_batch(F.IN_EXAMPLES)])
        self._serve_default, self._serve_examples = default, examples  # tracked for saving
        return {F.SERVING_SIGNATURE: default.get_concrete_function(),
                F.EXAMPLE_SIGNATURE: examples.get_concrete_function()}


def warmup_inputs(module: GeneratorModule, batch: int = 2) -> dict:
    """A valid serving_default request as numpy inputs (blank images / fixed seeds)."""
    import numpy as np
    kind = module.spec.kind
    if kind == registry.UNCONDITIONAL:
        return {F.IN_SEEDS: np.arange(batch, dtype=np.int64)}
    role = F.INPUT if kind == registry.PAIRED else F.IMAGE
    h, w, c = module.shapes[role]
    dtype = tf.uint16 if module.is_ct else tf.uint8
    png = tf.io.encode_png(tf.zeros([h, w, c], dtype)).numpy()
    out = {F.IN_IMAGES: np.array([png] * batch, dtype=object)}
    if kind == registry.INPAINTING:
        mask = tf.io.encode_png(tf.fill([h, w, 1], tf.constant(255, tf.uint8))).numpy()
        out[F.IN_MASKS] = np.array([mask] * batch, dtype=object)
    return out


def write_warmup(export_dir: str, model_name: str, inputs: dict) -> str:
    """TF Serving warmup records (PredictionLog) in assets.extra/."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    path = os.path.join(export_dir, F.WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=F.SERVING_SIGNATURE))
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(log.SerializeToString())
    return path


def export_generator(gan: str, generator, hparams, export_dir: str, tft_output=None, *,
                     is_ct: bool = False, ct_window=P.DEFAULT_CT_WINDOW) -> str:
    """Save the generator with both signatures and warmup requests to ``export_dir``."""
    module = GeneratorModule(gan, generator, hparams, tft_output, is_ct=is_ct, ct_window=ct_window)
    signatures = module.signatures()
    tf.saved_model.save(module, export_dir, signatures=signatures,
                        options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    write_warmup(export_dir, gan, warmup_inputs(module))
    return export_dir

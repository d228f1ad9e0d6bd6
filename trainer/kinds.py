"""One table of GAN kinds: everything that differs between what a generator consumes.

A GAN's *kind* says what its generator reads and therefore what a record
holds, what a client sends, how the result is judged and shown. Every piece of
that lives here, one :class:`Kind` subclass per kind, and the rest of the
project looks the kind up (:func:`get`) instead of comparing kind strings:

=====================  ============================================================
piece                  read by
=====================  ============================================================
``roles``              :attr:`trainer.registry.GanSpec.roles` (what a record holds)
``generator_role``     the demo's sample requests, ``warmup``/stand-in requests
``contract``           :func:`trainer.registry.check_contract` (objective additions)
``serving_inputs``     :class:`trainer.export.GeneratorModule` (``serving_default``)
``example_features``   ``serving_tf_example`` (parsed besides the image),
                       :func:`example_features` (evaluation feeds, test examples)
``serve`` /            the two serving functions and ``generate`` of the exported
``serve_examples`` /   SavedModel (:mod:`trainer.export`)
``generator_inputs``
``request``            warmup records and stand-in requests (a valid request)
``client_inputs``      ``tfxgan predict`` (:func:`serving.client.build_inputs`)
``primary_metrics`` /  :mod:`trainer.blessing` (the gate and its primary metric),
``gate_checks``        the run report
``evaluate`` /         :func:`trainer.evaluation.evaluate`, the GanEvaluator
``eval_train_limit``
``panel_rows`` /       the TensorBoard training panels (:mod:`trainer.summaries`)
``panel_columns``
``ct_capable`` /       the Trainer (16-bit records are CT), the pipeline config
``bulk_inference``     (bulk inference over the input images)
=====================  ============================================================

Adding a kind means adding one subclass and one entry in :data:`KINDS`;
``tests/unit/test_kinds.py`` fails when a kind lacks a piece or when a module
outside this file and the registry compares kind names.

Import-light: no TensorFlow at module level (the registry, the CLI and the
Kubernetes tests import it); methods that build tensors import TF themselves.
The GAN-specific maths stays in the objective modules: a kind calls what its
``contract`` asks them for (``noise_from_seeds``, ``composite``).
"""
from __future__ import annotations

import abc
from typing import Any, Mapping, Sequence

from trainer import features as F

# Kind names (GanSpec.kind); trainer.registry re-exports them.
UNCONDITIONAL = "unconditional"   # seeds -> images
PAIRED = "paired"                 # input image -> target-like image
INPAINTING = "inpainting"         # image + mask -> completed image

# Features of serving_tf_example besides the ingestion contract.
MASK_FEATURE = "mask_encoded"     # inpainting: PNG mask [H, W, 1], 255 = known
SEED_FEATURE = "seed"             # unconditional: int64 seed of one image

STRING, INT64 = "string", "int64"  # dtypes of serving inputs and extra example features


class Kind(abc.ABC):
    """What one kind of GAN consumes and how it is served, judged and shown.

    Class attributes describe; methods build (tensors inside the exported
    SavedModel, numpy requests, evaluation results). ``module`` arguments are
    :class:`trainer.export.GeneratorModule` instances."""

    name: str = ""
    summary: str = ""                                   # one line for docs and errors
    roles: tuple[str, ...] = ()                         # image roles a record holds
    generator_role: str | None = None                   # role the generator reads (None: noise)
    contract: Mapping[str, str] = {}                    # objective-module additions of the kind
    serving_inputs: tuple[tuple[str, str], ...] = ()    # serving_default inputs (name, dtype), [B]
    example_features: Mapping[str, str] = {}            # serving_tf_example extras (feature, dtype)
    primary_metrics: tuple[tuple[str, bool], ...] = ()  # (metric, higher is better); first = primary
    panel_columns: int | None = None                    # TensorBoard grid columns (None: square)
    ct_capable: bool = False                            # 16-bit records are CT (uint16 HU pixels)
    bulk_inference: bool = False                        # bulk inference runs it over input images

    def is_ct(self, bit_depth: int) -> bool:
        """Whether records of this bit depth are CT for this kind (16-bit HU pixels)."""
        return self.ct_capable and bit_depth == 16

    # ------------------------------------------------------------ serving
    @abc.abstractmethod
    def serve(self, module, *inputs) -> dict:
        """``serving_default``: the ``serving_inputs`` tensors -> the serving outputs."""

    @abc.abstractmethod
    def serve_examples(self, module, examples) -> dict:
        """``serving_tf_example``: serialized tf.Examples [B] -> the serving outputs."""

    @abc.abstractmethod
    def generator_inputs(self, module) -> list:
        """TensorSpecs of the generator's own (preprocessed) inputs, for ``generate``."""

    def call_generator(self, generator, *inputs):
        """The generator on its ``generator_inputs`` (one tensor, or a list for several)."""
        return generator(inputs[0] if len(inputs) == 1 else list(inputs), training=False)

    # ----------------------------------------------------------- requests
    @abc.abstractmethod
    def request(self, batch: int, shape: Sequence[int], *, seed: int = 0, bit_depth: int = 8,
                blank: bool = False) -> dict:
        """A valid ``serving_default`` request of ``batch`` items as numpy arrays, for a
        generator reading ``shape`` = (H, W, C) images: seeded random images (or blank ones,
        ``blank``), masks with a hole, consecutive seeds from ``seed``."""

    @abc.abstractmethod
    def client_inputs(self, images: Sequence[bytes], stems: Sequence[str],
                      masks: Sequence[bytes] | None, count: int | None,
                      seed: int) -> tuple[dict, list[str]]:
        """``tfxgan predict``: the request inputs from file contents (or a count of seeds), and
        one output file stem per generated image. Raises ValueError on what the kind does not
        take."""

    @abc.abstractmethod
    def sample_request(self, read_images, out_dir: str, count: int) -> dict:
        """Arguments of :func:`serving.client.predict_to_files` for up to ``count`` samples:
        ``read_images(role, count)`` gives real [H, W, C] images of a role, written here as
        PNG files under ``out_dir`` (with masks where the kind takes them)."""

    # --------------------------------------------------- blessing, evaluation
    @abc.abstractmethod
    def gate_checks(self, candidate, baselines, per_image, config) -> tuple[list, Any]:
        """The blessing's checks on the primary metrics and the per-image gain (or None)."""

    @abc.abstractmethod
    def evaluate(self, gan: str, spec, model_dir: str, records: list, tft_output, config, *,
                 train_records, baseline_model_dir, hparams, ct_window, dataset):
        """The candidate's :class:`trainer.evaluation.EvalResult` on ``records``."""

    @abc.abstractmethod
    def eval_train_limit(self, config, cap: int) -> int:
        """How many train records evaluation reads (``cap``: the component's maximum)."""

    @abc.abstractmethod
    def panel_rows(self, batch: dict, generator_inputs, generated):
        """TensorBoard training panels: [N, H, k*W, C] rows in [-1, 1]."""

    def __repr__(self) -> str:
        return f"<Kind {self.name}>"


def _seed_stems(count: int | None, seed: int, images: Sequence) -> tuple[Any, list[str]]:
    import numpy as np
    if images:
        raise ValueError(f"an unconditional GAN takes --count/--seed, not image files: "
                         f"{list(images)}")
    if count is None or count < 1:
        raise ValueError(f"--count must be >= 1 for an unconditional GAN, got {count!r}")
    seeds = np.arange(seed, seed + count, dtype=np.int64)
    return seeds, [f"seed_{s}" for s in seeds]


def _png_batch(batch: int, shape: Sequence[int], seed: int, bit_depth: int, blank: bool):
    """[batch] object array of PNGs of ``shape``: seeded random or blank (zeros)."""
    import numpy as np
    import tensorflow as tf
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    top = np.iinfo(dtype).max
    out = []
    for i in range(batch):
        if blank:
            a = np.zeros(shape, dtype)
        else:
            a = np.random.default_rng(seed + i).integers(0, top + 1, shape, dtype=dtype)
        out.append(tf.io.encode_png(a).numpy())
    return np.array(out, dtype=object)


def _write_pngs(images, out_dir: str, stem: str) -> list[str]:
    """Each [H, W, C] uint8/uint16 image as ``<out_dir>/<stem>_<n>.png``; returns the paths."""
    import os

    import tensorflow as tf
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for n, image in enumerate(images):
        path = os.path.join(out_dir, f"{stem}_{n}.png")
        with open(path, "wb") as fh:
            fh.write(tf.io.encode_png(image).numpy())
        paths.append(path)
    return paths


def _check_image_files(kind: str, images: Sequence, count: int | None):
    if not images:
        raise ValueError(f"a {kind} GAN needs image files")
    if count is not None:
        raise ValueError("--count is for unconditional GANs; give image files instead")


class Unconditional(Kind):
    name = UNCONDITIONAL
    summary = "seeds -> images"
    roles = F.UNPAIRED_ROLES
    generator_role = None
    contract = {"noise_from_seeds": "noise_from_seeds(seeds [B] int64, latent_dim) -> "
                                    "z [B, latent_dim], used by the serving signature"}
    serving_inputs = ((F.IN_SEEDS, INT64),)
    example_features = {SEED_FEATURE: INT64}
    primary_metrics = (("fd_fraction", False),)
    panel_columns = None

    def serve(self, module, seeds):
        import tensorflow as tf
        noise = module.objective.noise_from_seeds(seeds, module.hparams.latent_dim)
        with tf.control_dependencies([module.check_batch(seeds, F.IN_SEEDS)]):
            noise = tf.identity(noise)                   # z [B, latent_dim]
        return module.outputs(self.call_generator(module.generator, noise))

    def serve_examples(self, module, examples):
        parsed = module.parse_examples(examples, None, self.example_features)
        return self.serve(module, parsed[SEED_FEATURE])

    def generator_inputs(self, module):
        import tensorflow as tf
        return [tf.TensorSpec([None, module.hparams.latent_dim], tf.float32)]

    def request(self, batch, shape, *, seed=0, bit_depth=8, blank=False):
        import numpy as np
        return {F.IN_SEEDS: np.arange(seed, seed + batch, dtype=np.int64)}

    def client_inputs(self, images, stems, masks, count, seed):
        seeds, stems = _seed_stems(count, seed, images)
        if masks:
            raise ValueError("--masks is only for inpainting GANs")
        return {F.IN_SEEDS: seeds}, stems

    def sample_request(self, read_images, out_dir, count):
        return {"count": count, "seed": 0}

    def gate_checks(self, candidate, baselines, per_image, config):
        from trainer import blessing
        return blessing.fd_fraction_checks(candidate, config), None

    def evaluate(self, gan, spec, model_dir, records, tft_output, config, *, train_records,
                 baseline_model_dir, hparams, ct_window, dataset):
        from trainer import evaluation
        if not train_records:
            raise ValueError(f"{gan}: unconditional GANs need train_records (feature extractor, "
                             "real-vs-real floor)")
        return evaluation._evaluate_unconditional(gan, model_dir, records, list(train_records),
                                                  tft_output, config, baseline_model_dir, dataset)

    def eval_train_limit(self, config, cap):
        return cap                                       # the feature extractor trains on them

    def panel_rows(self, batch, generator_inputs, generated):
        import numpy as np
        return np.asarray(generated)                     # samples from fixed noise


class _ImageKind(Kind):
    """Kinds whose generator reads an image of ``generator_role``."""
    primary_metrics = (("psnr", True), ("ssim", True))
    panel_columns = 1

    def generator_inputs(self, module):
        import tensorflow as tf
        return [tf.TensorSpec([None, *module.shapes[self.generator_role]], tf.float32)]

    def serve_examples(self, module, examples):
        role = self.generator_role
        parsed = module.parse_examples(examples, role, self.example_features)
        images = parsed[F.key(role, F.ENCODED)]
        x = module.decode(role, images, F.IN_EXAMPLES, offset=parsed.get(F.key(role, F.VALUE_OFFSET)),
                          scale=parsed.get(F.key(role, F.VALUE_SCALE)),
                          modality=parsed.get(F.MODALITY))
        return self.complete(module, x, parsed)

    @abc.abstractmethod
    def complete(self, module, x, parsed: dict) -> dict:
        """The serving outputs for decoded images ``x`` [B, H, W, C] and the kind's extras."""

    def request(self, batch, shape, *, seed=0, bit_depth=8, blank=False):
        return {F.IN_IMAGES: _png_batch(batch, shape, seed, bit_depth, blank)}

    def sample_request(self, read_images, out_dir, count):
        images = read_images(self.generator_role, count)
        return {"images": _write_pngs(images, out_dir, "input")}

    def gate_checks(self, candidate, baselines, per_image, config):
        from trainer import blessing
        return blessing.gain_checks(self.name, self.primary_metrics, candidate, baselines,
                                    per_image, config)

    def evaluate(self, gan, spec, model_dir, records, tft_output, config, *, train_records,
                 baseline_model_dir, hparams, ct_window, dataset):
        from trainer import evaluation
        return evaluation._evaluate_image(gan, spec, model_dir, records, tft_output, config,
                                          baseline_model_dir, hparams, ct_window, train_records)

    @abc.abstractmethod
    def eval_task(self, spec, records, data: dict, tft_output, config, hparams, train_records):
        """The evaluation task of the kind: a :class:`trainer.evaluation.ImageTask`."""

    def eval_train_limit(self, config, cap):
        return config.nlm_tuning_pairs                   # NLM tuning pairs (CT denoising)


class Paired(_ImageKind):
    name = PAIRED
    summary = "input image -> target-like image"
    roles = F.PAIRED_ROLES
    generator_role = F.INPUT
    serving_inputs = ((F.IN_IMAGES, STRING),)
    example_features = {}
    ct_capable = True
    bulk_inference = True

    def serve(self, module, images):
        x = module.decode(F.INPUT, images, F.IN_IMAGES)
        return self.complete(module, x, {})

    def complete(self, module, x, parsed):
        return module.outputs(self.call_generator(module.generator, x))

    def client_inputs(self, images, stems, masks, count, seed):
        import numpy as np
        _check_image_files(self.name, images, count)
        if masks:
            raise ValueError("--masks is only for inpainting GANs")
        return {F.IN_IMAGES: np.array(list(images), dtype=object)}, list(stems)

    def eval_task(self, spec, records, data, tft_output, config, hparams, train_records):
        from trainer import evaluation
        return evaluation.paired_task(records, data, tft_output, config, train_records)

    def panel_rows(self, batch, generator_inputs, generated):
        import numpy as np
        import tensorflow as tf
        generated = tf.convert_to_tensor(generated)
        inp = tf.image.resize(batch[F.INPUT], generated.shape[1:3], method="nearest")
        return np.asarray(tf.concat([inp, generated, batch[F.TARGET]], axis=2))  # [N, H, 3W, C]


class Inpainting(_ImageKind):
    name = INPAINTING
    summary = "image + mask -> completed image"
    roles = F.UNPAIRED_ROLES
    generator_role = F.IMAGE
    contract = {"composite": "composite(prediction, image, mask) -> the completed image "
                             "[B, H, W, C] (mask 1 = known), used by the serving signature"}
    serving_inputs = ((F.IN_IMAGES, STRING), (F.IN_MASKS, STRING))
    example_features = {MASK_FEATURE: STRING}
    primary_metrics = (("hole_psnr", True), ("ssim", True))

    def serve(self, module, images, masks):
        import tensorflow as tf
        checks = [tf.debugging.assert_equal(tf.size(images), tf.size(masks),
                                            message="images and masks must have the same batch size")]
        with tf.control_dependencies(checks):
            x = module.decode(F.IMAGE, images, F.IN_IMAGES)
        return self.complete(module, x, {MASK_FEATURE: masks})

    def complete(self, module, x, parsed):
        import tensorflow as tf
        masks = parsed[MASK_FEATURE]
        h, w, _ = module.shapes[F.IMAGE]
        with tf.control_dependencies([module.image_size_check(masks, h, w, F.IN_MASKS)]):
            mask = tf.map_fn(lambda m: tf.io.decode_image(m, channels=1, expand_animations=False),
                             masks, fn_output_signature=tf.TensorSpec([None, None, 1], tf.uint8))
        mask = tf.reshape(tf.cast(mask > 127, tf.float32), [-1, h, w, 1])  # [B, H, W, 1], 1 = known
        prediction = self.call_generator(module.generator, x * mask, mask)
        return module.outputs(module.objective.composite(prediction, x, mask))

    def generator_inputs(self, module):
        import tensorflow as tf
        h, w, c = module.shapes[F.IMAGE]
        return [tf.TensorSpec([None, h, w, c], tf.float32), tf.TensorSpec([None, h, w, 1], tf.float32)]

    def request(self, batch, shape, *, seed=0, bit_depth=8, blank=False):
        import numpy as np
        import tensorflow as tf
        h, w = shape[0], shape[1]
        mask = np.full((h, w, 1), 255, np.uint8)
        if not blank:
            mask[: h // 2, : w // 2] = 0                 # a hole in the top-left quarter
        png = tf.io.encode_png(mask).numpy()
        return {**super().request(batch, shape, seed=seed, bit_depth=bit_depth, blank=blank),
                F.IN_MASKS: np.array([png] * batch, dtype=object)}

    def client_inputs(self, images, stems, masks, count, seed):
        import numpy as np
        _check_image_files(self.name, images, count)
        if not masks or len(masks) != len(images):
            raise ValueError(f"an inpainting GAN needs one mask per image: {len(images)} images, "
                             f"{len(masks or [])} masks")
        return {F.IN_IMAGES: np.array(list(images), dtype=object),
                F.IN_MASKS: np.array(list(masks), dtype=object)}, list(stems)

    def sample_request(self, read_images, out_dir, count):
        import numpy as np
        from trainer.masks import fixed_masks
        images = read_images(self.generator_role, count)
        request = {"images": _write_pngs(images, out_dir, "input")}
        if images:
            masks = fixed_masks(len(images), images[0].shape[0], seed=0).numpy()  # [N, S, S, 1]
            request["masks"] = _write_pngs((masks * 255).astype(np.uint8), out_dir, "mask")
        return request

    def eval_task(self, spec, records, data, tft_output, config, hparams, train_records):
        from trainer import evaluation
        return evaluation.inpainting_task(spec, records, data, config, hparams)

    def panel_rows(self, batch, generator_inputs, generated):
        import numpy as np
        import tensorflow as tf
        masked, mask = generator_inputs
        completed = mask * batch[F.IMAGE] + (1.0 - mask) * generated
        shown = masked + (1.0 - mask) * 1.0              # holes shown white
        return np.asarray(tf.concat([shown, completed, batch[F.IMAGE]], axis=2))  # [N, H, 3W, C]


KINDS: dict[str, Kind] = {k.name: k for k in (Unconditional(), Paired(), Inpainting())}


def get(kind: str | Kind) -> Kind:
    """The :class:`Kind` named ``kind`` (a Kind is returned as is)."""
    if isinstance(kind, Kind):
        return kind
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown GAN kind {kind!r}; expected one of {sorted(KINDS)}") from None


def example_features(kind: str | Kind, **values) -> dict:
    """tf.train.Features of the kind's ``example_features`` from ``values`` (by feature name),
    e.g. ``seed=3`` or ``mask_encoded=png``; a feature the kind does not read is an error."""
    k = get(kind)
    unknown = sorted(set(values) - set(k.example_features))
    if unknown:
        raise ValueError(f"a {k.name} GAN's examples have no {unknown} feature; it reads "
                         f"{sorted(k.example_features) or 'none besides the image'}")
    build = {STRING: F.bytes_feature, INT64: F.int64_feature}
    return {name: build[k.example_features[name]](v) for name, v in values.items()}


"""Bulk inference after the Pusher: the pushed generator over one split, as images.

Why not TFX's ``BulkInferrer``: it writes ``PredictionLog`` records
(``InferenceResult``) or, with ``output_example_spec``, adds each output
tensor to the input tf.Example as one feature; its ``_parse_predict_log``
raises "All output values must be convertible to 1D arrays" for anything
that does not squeeze to 1-D, and an image is [H, W, C]. So it cannot carry
a generated image, and nothing in it writes image files. This component does,
with Beam: the split's TFRecords are read, batched, and run through the
pushed SavedModel's ``serving_tf_example`` signature in a ``DoFn`` that loads
the model once per worker (``setup``); each output ``pixels`` image is
written as a PNG (16-bit for CT: HU + 32768, the ingestion convention) and
described in ``manifest.json``.

Records whose input is not the model's size are tiled and blended
(:mod:`serving.tiling`) like ``tfxgan predict --dicom`` does. CT records hold
a PNG, its rescale and the modality only - no DICOM header (patient, study,
geometry) - so no DICOM can be written from them: the manifest says so.

No ``from __future__ import annotations`` here: TFX reads the type hints.
"""

import hashlib
import json
import os
import re

import apache_beam as beam
from tfx import v1 as tfx
from tfx.types import standard_artifacts
from tfx.types.artifact import Artifact

from tfx_pipeline.components.artifacts import push_of, split_file_pattern
from trainer import features as F

MANIFEST_FILE = "manifest.json"
IMAGES_DIR = "images"
NO_DICOM_NOTE = ("records carry a PNG, its rescale and the modality but no DICOM header "
                 "(patient, study, geometry), so images are PNG; HU = stored * value_scale "
                 "+ value_offset")


class GeneratedImages(Artifact):
    """A folder of generated PNG images (``images/``) and ``manifest.json``."""
    TYPE_NAME = "tfxgan.GeneratedImages"  # <namespace>.<Name>: what Kubeflow V2 accepts


def image_file(record_id: str) -> str:
    """A file name for ``record_id``: readable, and unique through a short hash."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", record_id).strip("_.")[:80] or "record"
    return f"{safe}_{hashlib.sha256(record_id.encode('utf-8')).hexdigest()[:8]}.png"


class InferRecords(beam.DoFn):
    """Batches of serialized records -> PNG files + one manifest entry per record."""

    def __init__(self, model_dir: str, out_dir: str, input_shape, batch_size: int = 16):
        self.model_dir, self.out_dir = model_dir, out_dir
        self.input_shape = tuple(int(v) for v in input_shape)  # model input (H, W, C)
        self.batch_size = int(batch_size)
        self._fn = None

    def setup(self):
        import tensorflow as tf
        self._fn = tf.saved_model.load(self.model_dir).signatures[F.EXAMPLE_SIGNATURE]

    def _pixels(self, examples):
        import numpy as np
        import tensorflow as tf
        out = self._fn(**{F.IN_EXAMPLES: tf.constant(list(examples), tf.string)})
        return np.asarray(out[F.OUT_PIXELS].numpy())

    def _tiled(self, record_id, image):
        """Run a record of another size than the model's input through tiles."""
        import numpy as np

        from serving.tiling import apply_tiled
        from tfx_pipeline.ingest.decode import Decoded
        from tfx_pipeline.ingest.records import Record, to_example_bytes

        h, w, _ = self.input_shape
        dtypes = []

        def model(tiles):  # [N, h, w, C] stored values -> [N, h, w, C] output pixels
            examples = [to_example_bytes(Record(
                f"{record_id}/tile{i}", {F.INPUT: Decoded(
                    np.ascontiguousarray(t).astype(image.pixels.dtype), image.value_offset,
                    image.value_scale, image.modality)}, modality=image.modality))
                for i, t in enumerate(tiles)]
            pixels = self._pixels(examples)
            dtypes.append(pixels.dtype)
            if pixels.shape[1:3] != (h, w):
                raise ValueError(
                    f"record {record_id!r} is {image.pixels.shape[:2]} but the model takes "
                    f"{(h, w)} and returns {pixels.shape[1:3]}: records of another size can be "
                    "tiled only when the output has the input's size")
            return pixels.astype(np.float64)

        out = apply_tiled(image.pixels.astype(np.float64), (h, w), model,
                          batch_size=self.batch_size)
        dtype = dtypes[0]
        return np.clip(np.rint(out), 0, np.iinfo(dtype).max).astype(dtype)

    def process(self, batch):
        import numpy as np
        import tensorflow as tf

        from tfx_pipeline.ingest.records import parse_example_bytes

        direct, tiled = [], []
        for data in batch:
            parsed = parse_example_bytes(data)
            if F.INPUT not in parsed["images"]:
                raise ValueError(f"record {parsed['id']!r} has no {F.INPUT!r} image: bulk "
                                 "inference runs paired GANs on their input role")
            image = parsed["images"][F.INPUT]
            same = tuple(image.pixels.shape[:2]) == self.input_shape[:2]
            (direct if same else tiled).append((parsed, data))
        results = []
        if direct:
            pixels = self._pixels([d for _, d in direct])
            results += [(p, pixels[i], False) for i, (p, _) in enumerate(direct)]
        for parsed, _ in tiled:
            results.append((parsed, self._tiled(parsed["id"], parsed["images"][F.INPUT]), True))
        for parsed, pixels, was_tiled in results:
            name = image_file(parsed["id"])
            tf.io.gfile.makedirs(os.path.join(self.out_dir, IMAGES_DIR))
            with tf.io.gfile.GFile(os.path.join(self.out_dir, IMAGES_DIR, name), "wb") as fh:
                fh.write(tf.io.encode_png(pixels).numpy())
            is_ct = pixels.dtype == np.uint16
            yield {"id": parsed["id"], "file": f"{IMAGES_DIR}/{name}",
                   "modality": parsed["modality"], "height": int(pixels.shape[0]),
                   "width": int(pixels.shape[1]), "channels": int(pixels.shape[2]),
                   "bit_depth": 16 if is_ct else 8,
                   "value_offset": F.CT_STORAGE_OFFSET if is_ct else 0.0, "value_scale": 1.0,
                   "tiled": was_tiled}


def write_manifest(entries, out_dir: str, info: dict) -> str:
    import tensorflow as tf

    entries = sorted(entries, key=lambda e: e["id"])
    manifest = dict(info, count=len(entries), dicom=False, dicom_note=NO_DICOM_NOTE,
                    images=entries)
    path = os.path.join(out_dir, MANIFEST_FILE)
    tf.io.gfile.makedirs(out_dir)
    with tf.io.gfile.GFile(path, "w") as fh:
        fh.write(json.dumps(manifest, indent=2, sort_keys=True))
    return path


def run_bulk_inference(pipeline: beam.Pipeline, file_pattern: str, model_dir: str,
                       out_dir: str, input_shape, info: dict, batch_size: int = 16) -> None:
    """Build and run the Beam job: records matching ``file_pattern`` -> ``out_dir``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    with pipeline as p:
        entries = (p
                   | "ReadRecords" >> beam.io.ReadFromTFRecord(file_pattern)
                   | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=batch_size)
                   | "Infer" >> beam.ParDo(InferRecords(model_dir, out_dir, input_shape,
                                                        batch_size)))
        _ = (entries
             | "Collect" >> beam.combiners.ToList()
             | "WriteManifest" >> beam.Map(write_manifest, out_dir, info))


@tfx.dsl.components.component(use_beam=True)
def GanBulkInferrer(
        examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
        pushed_model: tfx.dsl.components.InputArtifact[standard_artifacts.PushedModel],
        generated: tfx.dsl.components.OutputArtifact[GeneratedImages],
        gan: tfx.dsl.components.Parameter[str],
        split: tfx.dsl.components.Parameter[str],
        shapes_json: tfx.dsl.components.Parameter[str],
        batch_size: tfx.dsl.components.Parameter[int] = 16,
        beam_pipeline: tfx.dsl.components.BeamComponentParameter[beam.Pipeline] = None) -> None:
    """Runs the generator the Pusher pushed over ``split``; PNGs + manifest.json.

    ``shapes_json`` = {role: [H, W, C]} (the model's input sizes). When the
    Pusher pushed nothing (the model was not blessed), only a manifest saying
    so is written.
    """
    import tensorflow as tf

    push = push_of(pushed_model)
    info = {"gan": gan, "split": split, "signature": F.EXAMPLE_SIGNATURE, "model_uri": push.uri}
    if not push.pushed:
        write_manifest([], generated.uri, dict(
            info, skipped="the Pusher pushed no model in this run (not blessed)"))
        return
    info["model_version"] = push.version
    info["pushed_destination"] = push.destination
    pattern = split_file_pattern(examples, split)
    shapes = json.loads(shapes_json)
    if F.INPUT not in shapes:
        raise ValueError(f"{gan}: bulk inference runs paired GANs (an {F.INPUT!r} role), got "
                         f"roles {sorted(shapes)}")
    tf.io.gfile.makedirs(generated.uri)
    run_bulk_inference(beam_pipeline, pattern, push.uri, generated.uri, shapes[F.INPUT], info,
                       batch_size)

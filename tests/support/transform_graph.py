"""A Transform graph written with the project's preprocessing_fn, and stand-in generators
(test support): SavedModels exported with ``trainer.export.export_generator`` from
these carry the real serving signatures."""
import os
import shutil


def write_examples(items, root):
    """An ImportExampleGen-like folder: <root>/Split-{train,eval}/*.tfrecord."""
    from tfx_pipeline.ingest.writer import write_span
    spans = root / "spans"
    write_span(items, str(spans), progress=False)
    examples = root / "examples"
    for split in ("train", "eval"):
        shutil.copytree(spans / "Span-0" / split, examples / f"Split-{split}")
    return examples


def write_transform_graph(examples, shapes, bit_depth, out):
    import apache_beam as beam
    import tensorflow_transform.beam as tft_beam
    from tfx_bsl.public import tfxio

    from tfx_pipeline.components.schema import curated_schema
    from trainer.config import TransformConfig
    from trainer.preprocessing import preprocessing_fn

    schema = curated_schema(shapes, bit_depth)
    source = tfxio.TFExampleRecord(file_pattern=str(examples / "Split-train" / "*"), schema=schema)
    config = TransformConfig(shapes=shapes, ct_window=(0.0, 2000.0)).to_dict()
    with beam.Pipeline() as p, tft_beam.Context(temp_dir=str(out) + "_tmp", force_tf_compat_v1=False):
        raw = p | source.BeamSource()
        transform_fn = (raw, source.TensorAdapterConfig()) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing_fn(inputs, custom_config=config))
        _ = transform_fn | tft_beam.WriteTransformFn(str(out))
    # Raw metadata, as the Transform component writes it (read by raw_feature_spec()).
    import tensorflow_transform as tft
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema),
                               os.path.join(str(out), tft.TFTransformOutput.RAW_METADATA_DIR))
    return str(out)


class Filter:
    """A stand-in generator: ``fn`` applied to the input (Keras-call compatible)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x, training=False):
        return self.fn(x)


def ct_small_items(count: int, size: int, seed: int = 0):
    """``count`` paired CT records: random ``size`` crops (wrapped when larger) of pydicom's
    CT_small slice, the same crop on both sides (cheap: no dose simulation)."""
    import numpy as np

    from support.dicom import bundled_file
    from tfx_pipeline.ingest.decode import Decoded, read_dicom
    from tfx_pipeline.ingest.records import Record
    from tfx_pipeline.ingest.writer import Item
    from trainer import features as F

    src = read_dicom(bundled_file("CT_small.dcm"))
    reps = -(-size // src.pixels.shape[0]) + 1
    big = np.tile(src.pixels, (reps, reps, 1))
    rng = np.random.default_rng(seed)
    items = []
    for n in range(count):
        y, x = (int(v) for v in rng.integers(0, big.shape[0] - size + 1, 2))
        img = Decoded(np.ascontiguousarray(big[y:y + size, x:x + size]), src.value_offset,
                      src.value_scale, "CT")
        rid = f"ct_small/{size}/{n:03d}"
        items.append(Item(rid, lambda rid=rid, img=img: Record(
            rid, {F.INPUT: img, F.TARGET: img}, modality="CT")))
    return items

"""The pipeline's data steps without a pipeline run, for benchmarks and tests.

``write_examples`` publishes records as ImportExampleGen's output folder
(``Split-train``/``Split-eval``) and ``write_transform_graph`` writes the
Transform graph of ``trainer.preprocessing.preprocessing_fn`` with
tf.Transform's Beam API (the Transform component's work, on the train split),
so a generator exported with ``trainer.export.export_generator`` on it carries
the exact serving signatures a pipeline run produces, and
``trainer.evaluation.evaluate`` scores it as the GanEvaluator does.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from trainer import features as F


def write_examples(items, root) -> Path:
    """``items`` (``tfx_pipeline.ingest.writer.Item``) -> ``<root>/examples/Split-{train,eval}/``."""
    from tfx_pipeline.ingest.writer import write_span
    root = Path(root)
    spans = root / "spans"
    write_span(items, str(spans), progress=False)
    examples = root / "examples"
    for split in F.SPLITS:
        shutil.copytree(spans / F.SPAN_DIR.format(span=0) / split, examples / f"Split-{split}")
    return examples


def write_transform_graph(examples, shapes, bit_depth: int, out,
                          ct_window=F.DEFAULT_CT_WINDOW) -> str:
    """The Transform graph for model ``shapes`` ({role: [H, W, C]}), analysed on the train
    split of ``examples``; also the raw metadata the Transform component writes."""
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
    from tfx_bsl.public import tfxio

    from tfx_pipeline.components.schema import curated_schema
    from trainer.config import TransformConfig
    from trainer.preprocessing import preprocessing_fn

    schema = curated_schema(shapes, bit_depth)
    source = tfxio.TFExampleRecord(file_pattern=str(Path(examples) / "Split-train" / "*"),
                                   schema=schema)
    config = TransformConfig(shapes=shapes, ct_window=ct_window).to_dict()
    with beam.Pipeline() as p, tft_beam.Context(temp_dir=str(out) + "_tmp", force_tf_compat_v1=False):
        raw = p | source.BeamSource()
        transform_fn = (raw, source.TensorAdapterConfig()) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing_fn(inputs, custom_config=config))
        _ = transform_fn | tft_beam.WriteTransformFn(str(out))
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema),
                               os.path.join(str(out), tft.TFTransformOutput.RAW_METADATA_DIR))
    return str(out)

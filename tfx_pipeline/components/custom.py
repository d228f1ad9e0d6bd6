"""Python-function TFX components of this pipeline (no `from __future__ import
annotations` here: TFX reads the type hints at import).

* ``CuratedSchemaGen`` writes the curated schema for a GAN's input records;
* ``ValidationGate`` stops the run when ExampleValidator found anomalies,
  naming the features, and otherwise hands the schema on to Transform, so
  Transform cannot start on data that failed validation.
"""

import json
import os

from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from tfx_pipeline.components.artifacts import split_names, split_uri
from tfx_pipeline.components.schema import anomaly_messages, curated_schema

SCHEMA_FILE = "schema.pbtxt"


class DataValidationError(RuntimeError):
    """The input data does not match the GAN's curated schema."""


@tfx.dsl.components.component
def CuratedSchemaGen(
        schema: tfx.dsl.components.OutputArtifact[standard_artifacts.Schema],
        shapes_json: tfx.dsl.components.Parameter[str],
        bit_depth: tfx.dsl.components.Parameter[int]) -> None:
    """Writes the curated schema: ``shapes_json`` = {role: [H, W, C]} (model input sizes)."""
    from google.protobuf import text_format
    shapes = {role: tuple(v) for role, v in json.loads(shapes_json).items()}
    proto = curated_schema(shapes, bit_depth)
    fileio.makedirs(schema.uri)
    with fileio.open(os.path.join(schema.uri, SCHEMA_FILE), "w") as fh:
        fh.write(text_format.MessageToString(proto))


@tfx.dsl.components.component
def ValidationGate(
        anomalies: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleAnomalies],
        schema: tfx.dsl.components.InputArtifact[standard_artifacts.Schema],
        validated_schema: tfx.dsl.components.OutputArtifact[standard_artifacts.Schema]) -> None:
    """Fails with every anomaly named when validation found any; else passes the schema on."""
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    problems = []
    for split in split_names(anomalies):
        path = os.path.join(split_uri(anomalies, split), "SchemaDiff.pb")
        if not tf.io.gfile.exists(path):
            raise DataValidationError(f"no anomalies file for split {split!r} at {path}")
        proto = anomalies_pb2.Anomalies()
        proto.ParseFromString(tf.io.gfile.GFile(path, "rb").read())
        problems += [f"[{split}] {m}" for m in anomaly_messages(proto)]
    if problems:
        raise DataValidationError(
            "the input data does not match the GAN's schema (ExampleValidator anomalies):\n  "
            + "\n  ".join(problems))
    tf.io.gfile.makedirs(validated_schema.uri)
    tf.io.gfile.copy(os.path.join(schema.uri, SCHEMA_FILE),
                     os.path.join(validated_schema.uri, SCHEMA_FILE), overwrite=True)

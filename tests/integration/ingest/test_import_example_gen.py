"""ImportExampleGen reads `tfxgan ingest` output as it is: spans, splits, every record."""
import glob
import json
import os

import numpy as np

from support.images import rand_image, write_file
from trainer import features as F


def test_import_example_gen_accepts_ingested_spans(tmp_path):
    import tensorflow as tf
    from tfx import v1 as tfx
    from tfx_pipeline.ingest import sources
    from tfx_pipeline.ingest.records import parse_example_bytes
    from tfx_pipeline.ingest.writer import write_span
    from tfx_pipeline.pipeline import span_input_config

    src = tmp_path / "images"
    for i in range(30):
        write_file(str(src / f"{i:02d}.png"), rand_image((8, 8, 3), np.uint16, seed=i), "png")
    out = tmp_path / "ingested"
    items, _ = sources.image_folder(str(src))
    write_span(items[:10], str(out), span=0, progress=False)
    second = write_span(items, str(out), span=1, progress=False)  # the latest span wins

    gen = tfx.components.ImportExampleGen(input_base=str(out), input_config=span_input_config())
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="import-only", pipeline_root=str(tmp_path / "root"), components=[gen],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(tmp_path / "m.sqlite")),
        beam_pipeline_args=["--direct_running_mode=in_memory"])
    tfx.orchestration.LocalDagRunner().run(pipeline)

    [examples] = glob.glob(str(tmp_path / "root" / "ImportExampleGen" / "examples" / "*"))
    report = json.load(open(os.path.join(second.span_dir, "ingest_report.json")))
    ids = set()
    for split in F.SPLITS:
        files = glob.glob(os.path.join(examples, f"Split-{split}", "*"))
        records = [parse_example_bytes(r.numpy())
                   for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
        assert len(records) == report["counts"][split]
        ids |= {r["id"] for r in records}
    assert ids == {f"{i:02d}.png" for i in range(30)}     # span 1, complete and exact

"""A Transform graph written with the project's preprocessing_fn, and stand-in generators
(test support): SavedModels exported with ``trainer.export.export_generator`` from
these carry the real serving signatures."""
from tfx_pipeline.offline import write_examples, write_transform_graph  # noqa: F401  (re-exported)


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

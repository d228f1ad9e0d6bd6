"""Sources + writer: round trips through TFRecords, skips with reasons, determinism."""
import gzip
import json
import os
import struct

import numpy as np
import pytest

from tfx_pipeline.ingest import sources
from tfx_pipeline.ingest.records import parse_example_bytes, split_of
from tfx_pipeline.ingest.writer import NothingValid, write_span
from trainer import features as F

from support.images import rand_image, write_file


def read_span(span_dir):
    import tensorflow as tf
    out = {}
    for split in F.SPLITS:
        files = sorted(tf.io.gfile.glob(os.path.join(span_dir, split, "*.tfrecord")))
        out[split] = [parse_example_bytes(r.numpy()) for r in tf.data.TFRecordDataset(files)]
    return out


def by_id(span):
    return {r["id"]: r for split in span.values() for r in split}


def test_folder_round_trip_every_format_exact(tmp):
    src = tmp / "in"
    expected = {}
    for i, (fmt, shape, dtype) in enumerate([
            ("png", (5, 6), np.uint16), ("png", (5, 6, 3), np.uint16), ("tiff", (5, 6, 3), np.uint16),
            ("bmp", (5, 6, 3), np.uint8), ("jpeg", (8, 8), np.uint8), ("tiff", (7, 3), np.uint8)]):
        rel = f"sub/{i}_{fmt}.{'jpg' if fmt == 'jpeg' else fmt}"
        expected[rel] = write_file(str(src / rel), rand_image(shape, dtype, seed=i), fmt)
    items, skipped = sources.image_folder(str(src))
    assert not skipped
    res = write_span(items, str(tmp / "out"), eval_fraction=0.5, progress=False)
    got = by_id(read_span(res.span_dir))
    assert set(got) == set(expected)
    for rel, pixels in expected.items():
        img = got[rel]["images"][F.IMAGE]
        assert img.pixels.dtype == pixels.dtype
        np.testing.assert_array_equal(img.pixels, pixels)


def test_dicom_folder_round_trip_in_hu(tmp):
    import shutil
    import pydicom
    from pydicom.data import get_testdata_file
    series = tmp / "series"
    series.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), series / "slice001")  # no extension
    shutil.copy(get_testdata_file("CT_small.dcm"), series / "slice002.dcm")
    items, skipped = sources.image_folder(str(series))
    assert not skipped and len(items) == 2
    res = write_span(items, str(tmp / "out"), eval_fraction=0.0, progress=False)
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    for rec in read_span(res.span_dir)["train"]:
        img = rec["images"][F.IMAGE]
        assert rec["modality"] == "CT" and img.bit_depth == 16
        np.testing.assert_array_equal(img.pixels[:, :, 0] * img.value_scale + img.value_offset, hu)


def write_idx(path, arr, gz):
    code = {np.dtype(np.uint8): 0x08}[arr.dtype]
    data = b"\0\0" + bytes([code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_with_labels(tmp, gz):
    imgs = rand_image((12, 28, 28), np.uint8)
    labels = np.arange(12, dtype=np.uint8) % 10
    ext = ".gz" if gz else ""
    write_idx(str(tmp / f"train-images-idx3-ubyte{ext}"), imgs, gz)
    write_idx(str(tmp / f"train-labels-idx1-ubyte{ext}"), labels, gz)
    items, _ = sources.idx_files(str(tmp / f"train-images-idx3-ubyte{ext}"),
                                 str(tmp / f"train-labels-idx1-ubyte{ext}"))
    got = by_id(read_span(write_span(items, str(tmp / "o"), progress=False).span_dir))
    assert len(got) == 12
    for rid, rec in got.items():
        n = int(rid.rsplit("/", 1)[1])
        np.testing.assert_array_equal(rec["images"][F.IMAGE].pixels[:, :, 0], imgs[n])
        assert rec["label"] == labels[n] and rec["modality"] == "digit"


def test_truncated_idx_is_an_error(tmp):
    write_idx(str(tmp / "x-idx3"), rand_image((3, 4, 4), np.uint8), False)
    data = (tmp / "x-idx3").read_bytes()
    (tmp / "x-idx3").write_bytes(data[:-5])
    with pytest.raises(ValueError, match="truncated"):
        sources.idx_files(str(tmp / "x-idx3"))


def test_npz_round_trip_16bit_rgb(tmp):
    imgs = rand_image((5, 6, 7, 3), np.uint16)
    np.savez(tmp / "a.npz", images=imgs, labels=np.arange(5))
    items, _ = sources.npz_file(str(tmp / "a.npz"))
    got = by_id(read_span(write_span(items, str(tmp / "o"), progress=False).span_dir))
    for rid, rec in got.items():
        n = int(rid.rsplit("/", 1)[1])
        np.testing.assert_array_equal(rec["images"][F.IMAGE].pixels, imgs[n])
        assert rec["label"] == n


def test_npz_bad_arrays_named(tmp):
    np.savez(tmp / "b.npz", foo=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no images array"):
        sources.npz_file(str(tmp / "b.npz"))
    np.savez(tmp / "c.npz", images=np.zeros((2, 3, 3, 4), np.uint8))
    items, _ = sources.npz_file(str(tmp / "c.npz"))
    with pytest.raises(NothingValid):
        write_span(items, str(tmp / "o"), progress=False)


def test_paired_folders_match_and_skip_with_reasons(tmp):
    lo, hi = tmp / "low_dose", tmp / "normal_dose"
    for name in ("a", "b", "c", "only_in"):
        write_file(str(lo / f"{name}.png"), rand_image((8, 8), np.uint16, seed=1), "png")
    for name in ("a", "b", "only_target"):
        write_file(str(hi / f"{name}.tiff"), rand_image((8, 8), np.uint16, seed=2), "tiff")
    write_file(str(hi / "c.png"), rand_image((9, 8), np.uint16), "png")     # size mismatch
    items, skipped = sources.paired_folders(str(lo), str(hi))
    res = write_span(items, str(tmp / "o"), extra_skipped=skipped, progress=False)
    reasons = {s.id: s.reason for s in res.skipped}
    assert "unmatched" in reasons["only_in.png"] and "unmatched" in reasons["only_target.tiff"]
    assert "size mismatch" in reasons["c"]
    got = by_id(read_span(res.span_dir))
    assert set(got) == {"a", "b"}
    np.testing.assert_array_equal(got["a"]["images"][F.INPUT].pixels[:, :, 0],
                                  rand_image((8, 8), np.uint16, seed=1))
    np.testing.assert_array_equal(got["a"]["images"][F.TARGET].pixels[:, :, 0],
                                  rand_image((8, 8), np.uint16, seed=2))
    report = json.loads(open(os.path.join(res.span_dir, "ingest_report.json")).read())
    assert {s["id"] for s in report["skipped"]} == set(reasons)


def test_paired_same_stem_reports_the_file_actually_skipped(tmp):
    lo, hi = tmp / "lo", tmp / "hi"
    kept = write_file(str(lo / "a.jpg"), rand_image((8, 8), np.uint8, seed=1), "jpeg")
    write_file(str(lo / "a.png"), rand_image((8, 8), np.uint8, seed=2), "png")
    write_file(str(hi / "a.png"), rand_image((8, 8), np.uint8, seed=3), "png")
    items, skipped = sources.paired_folders(str(lo), str(hi))
    res = write_span(items, str(tmp / "o"), extra_skipped=skipped, progress=False)
    assert [(s.id, s.reason) for s in res.skipped] == [
        (f"{lo}:a.png", "two files share this name (extension differs); paired 'a.jpg' instead")]
    np.testing.assert_array_equal(by_id(read_span(res.span_dir))["a"]["images"][F.INPUT].pixels, kept)


def test_paired_scale_checks_sr_sizes(tmp):
    write_file(str(tmp / "lr/x.png"), rand_image((4, 4, 3), np.uint8), "png")
    write_file(str(tmp / "hr/x.png"), rand_image((16, 16, 3), np.uint8), "png")
    write_file(str(tmp / "lr/y.png"), rand_image((4, 4, 3), np.uint8), "png")
    write_file(str(tmp / "hr/y.png"), rand_image((8, 8, 3), np.uint8), "png")
    items, _ = sources.paired_folders(str(tmp / "lr"), str(tmp / "hr"), scale=4)
    res = write_span(items, str(tmp / "o"), progress=False)
    assert res.written == 1 and res.skipped[0].id == "y" and "expected target = 4 x input" in res.skipped[0].reason


def test_bad_files_skipped_and_good_ones_kept(tmp):
    from pydicom.data import get_testdata_file
    import shutil
    src = tmp / "mixed"
    good = write_file(str(src / "good.png"), rand_image((6, 6, 3), np.uint8), "png")
    (src / "zero.png").write_bytes(b"")
    (src / "fake.jpg").write_bytes(b"not a jpeg")
    (src / "readme.txt").write_text("hello")
    shutil.copy(get_testdata_file("MR_truncated.dcm"), src / "mr.dcm")
    items, skipped = sources.image_folder(str(src))
    res = write_span(items, str(tmp / "o"), extra_skipped=skipped, progress=False)
    assert res.written == 1
    assert {s.id for s in res.skipped} == {"zero.png", "fake.jpg", "readme.txt", "mr.dcm"}
    np.testing.assert_array_equal(by_id(read_span(res.span_dir))["good.png"]["images"][F.IMAGE].pixels, good)


def test_empty_folder_writes_nothing_and_reports(tmp):
    (tmp / "empty").mkdir()
    items, skipped = sources.image_folder(str(tmp / "empty"))
    with pytest.raises(NothingValid) as err:
        write_span(items, str(tmp / "o"), extra_skipped=skipped, progress=False)
    assert not os.path.exists(tmp / "o" / "Span-0")
    assert os.path.exists(err.value.report_path)


def test_missing_folder_is_named():
    with pytest.raises(FileNotFoundError, match="/no/such/dir"):
        sources.image_folder("/no/such/dir")


def test_split_is_deterministic_and_near_fraction():
    ids = [f"img/{i}.png" for i in range(4000)]
    first = [split_of(i, 0.2) for i in ids]
    assert first == [split_of(i, 0.2) for i in ids]
    assert 0.18 < first.count("eval") / len(ids) < 0.22
    with pytest.raises(ValueError, match="1.5"):
        split_of("x", 1.5)


def test_rewrite_is_byte_identical_and_replaces_span(tmp):
    src = tmp / "in"
    for i in range(20):
        write_file(str(src / f"{i:02d}.png"), rand_image((6, 6), np.uint8, seed=i), "png")

    def run(workers):
        items, _ = sources.image_folder(str(src))
        return write_span(items, str(tmp / "o"), workers=workers, progress=False)

    def snapshot(span_dir):
        return {os.path.join(d, f): open(os.path.join(d, f), "rb").read()
                for d, _, fs in os.walk(span_dir) for f in fs if f.endswith(".tfrecord")}

    first = snapshot(run(1).span_dir)
    second = snapshot(run(2).span_dir)
    assert first == second  # same input -> same bytes, whatever the thread count
    assert sum(len(v) for v in read_span(str(tmp / "o" / "Span-0")).values()) == 20
    assert [d for d in os.listdir(tmp / "o") if d.startswith(".")] == []


def test_example_id_reads_the_id_without_the_pixels_and_names_a_missing_one():
    import tensorflow as tf
    from tfx_pipeline.ingest.decode import Decoded
    from tfx_pipeline.ingest.records import Record, example_id, to_example_bytes
    data = to_example_bytes(Record("scans/ct 7.png", {F.IMAGE: Decoded(
        rand_image((4, 5, 1), np.uint8, seed=0), modality=F.MODALITIES[0])}))
    assert example_id(data) == parse_example_bytes(data)["id"] == "scans/ct 7.png"
    ex = tf.train.Example.FromString(data)
    del ex.features.feature[F.ID]
    with pytest.raises(ValueError, match=f"no '{F.ID}' feature"):
        example_id(ex.SerializeToString())


def test_an_item_pinned_to_a_split_lands_there_whatever_its_hash(tmp):
    from tfx_pipeline.ingest.decode import Decoded
    from tfx_pipeline.ingest.records import Record
    from tfx_pipeline.ingest.writer import Item

    def item(i, split):
        rid = f"pinned/{i}"
        px = rand_image((4, 4, 1), np.uint8, seed=i)
        return Item(rid, lambda: Record(rid, {F.IMAGE: Decoded(px, modality="photo")}), split)
    ids = [f"pinned/{i}" for i in range(40)]
    hashed = [split_of(i, 0.2) for i in ids]
    assert "train" in hashed and "eval" in hashed
    pinned = ["eval" if s == "train" else "train" for s in hashed]  # against the hash
    write_span([item(i, s) for i, s in enumerate(pinned)], str(tmp / "o"), progress=False)
    span = read_span(str(tmp / "o" / "Span-0"))
    assert {r["id"] for r in span["eval"]} == {i for i, s in zip(ids, pinned) if s == "eval"}
    assert {r["id"] for r in span["train"]} == {i for i, s in zip(ids, pinned) if s == "train"}
    with pytest.raises(ValueError, match="'pinned/x'.*'test'"):
        Item("pinned/x", lambda: None, "test")


@pytest.mark.parametrize("dataset", ["sr", "inpainting", "ct"])
def test_demo_sources_are_either_trained_on_or_evaluated_on(dataset):
    """A photograph, face or CT slice lands in one split only (ids name the source)."""
    from tfx_pipeline.ingest import demo_data as D
    train, evaluated = ((D.TRAIN_CT, D.EVAL_CT) if dataset == "ct"
                        else (D.TRAIN_PHOTOS, D.EVAL_PHOTOS))
    assert not set(train) & set(evaluated)
    items = D.items_for(dataset, D.DemoOptions(count=400))
    eval_share = sum(i.split == "eval" for i in items) / len(items)
    assert 0.15 < eval_share < 0.25                   # the eval fraction, by record
    for i in items:
        name = i.id.split("/")[1]
        if name != "lfw":
            assert name in (evaluated if i.split == "eval" else train), i
    used = {s: {i.id.split("/")[1] for i in items if i.split == s} for s in F.SPLITS}
    assert set(evaluated) <= used["eval"] and set(train) <= used["train"]
    if dataset == "inpainting":                       # no face in both splits
        faces = {s: {i.load().images[F.IMAGE].pixels.tobytes() for i in items
                     if i.split == s and "/lfw/" in i.id} for s in F.SPLITS}
        assert faces["train"] and faces["eval"] and not faces["train"] & faces["eval"]

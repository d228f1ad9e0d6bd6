"""Hostile inputs found by fuzzing: each is a named skip and every good file is still written.

Symlinks that dangle or loop, FIFOs, names that are not UTF-8, DICOM tags that
are not one number, and headers that declare more pixels than allowed (or than
TensorFlow's PNG decoder can read back).
"""
import json
import os
import shutil
import struct
import zlib

import numpy as np
import pytest

from tfx_pipeline.ingest import decode as D
from tfx_pipeline.ingest import sources
from tfx_pipeline.ingest.records import Record, to_example_bytes
from tfx_pipeline.ingest.writer import write_span
from trainer import features as F

from support.images import rand_image, write_file


def ingest(src, out):
    items, skipped = sources.image_folder(str(src))
    return write_span(items, str(out), extra_skipped=skipped, progress=False)


def records(span_dir):
    import tensorflow as tf
    from tfx_pipeline.ingest.records import parse_example_bytes
    files = tf.io.gfile.glob(os.path.join(span_dir, "*", "*.tfrecord"))
    return {r["id"]: r for r in (parse_example_bytes(x.numpy()) for x in tf.data.TFRecordDataset(files))}


def reasons(result):
    return {s.id: s.reason for s in result.skipped}


# ------------------------------------------------------------------ files that are not regular files
def test_dangling_and_looping_symlinks_are_skipped(tmp):
    src = tmp / "in"
    good = write_file(str(src / "good.png"), rand_image((6, 6), np.uint8), "png")
    os.symlink("no_such_file.dcm", src / "dangling.dcm")
    os.symlink("loop.dcm", src / "loop.dcm")                       # points at itself
    os.symlink("good.png", src / "link_to_good.png")               # a working link is followed
    os.symlink(str(tmp), src / "folder_link")                      # would recurse into src
    res = ingest(src, tmp / "out")
    why = reasons(res)
    assert set(why) == {"dangling.dcm", "loop.dcm", "folder_link"}
    assert "dangling symlink" in why["dangling.dcm"] and "no_such_file.dcm" in why["dangling.dcm"]
    assert "symlink loop" in why["loop.dcm"]
    assert "symlink to a folder" in why["folder_link"]
    got = records(res.span_dir)
    assert set(got) == {"good.png", "link_to_good.png"}
    np.testing.assert_array_equal(got["link_to_good.png"]["images"][F.IMAGE].pixels, good)


@pytest.mark.timeout(60)  # the bug was a hang: opening a FIFO blocks until a writer appears
def test_fifos_are_skipped_without_being_opened(tmp):
    src = tmp / "in"
    write_file(str(src / "good.png"), rand_image((6, 6), np.uint8), "png")
    os.mkfifo(src / "pipe")          # no extension: was opened to look for a DICOM preamble
    os.mkfifo(src / "pipe.dcm")
    os.mkfifo(src / "pipe.png")
    res = ingest(src, tmp / "out")
    why = reasons(res)
    assert set(why) == {"pipe", "pipe.dcm", "pipe.png"}
    assert all(r == "not a regular file: named pipe (FIFO)" for r in why.values()), why
    assert set(records(res.span_dir)) == {"good.png"}
    with pytest.raises(D.BadInput, match="named pipe"):   # the readers refuse one too
        D.read_image(str(src / "pipe.png"))
    with pytest.raises(D.BadInput, match="named pipe"):
        D.read_dicom(str(src / "pipe.dcm"))


def test_non_utf8_file_name_is_skipped_and_reported_printably(tmp):
    src = tmp / "in"
    good = write_file(str(src / "good.png"), rand_image((6, 6), np.uint8), "png")
    with open(os.path.join(os.fsencode(src), b"bad\xff.png"), "wb") as fh:
        fh.write((src / "good.png").read_bytes())
    res = ingest(src, tmp / "out")
    assert [(s.id, s.reason.split(" (")[0]) for s in res.skipped] == [
        ("bad\\xff.png", "file name is not valid UTF-8")]
    res.summary().encode("utf-8")                                   # printable as is
    report = json.loads((tmp / "out" / "Span-0" / "ingest_report.json").read_text())
    assert report["skipped"][0]["id"] == "bad\\xff.png"
    np.testing.assert_array_equal(records(res.span_dir)["good.png"]["images"][F.IMAGE].pixels, good)


def test_unreadable_file_is_skipped(tmp):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    src = tmp / "in"
    write_file(str(src / "good.png"), rand_image((6, 6), np.uint8), "png")
    write_file(str(src / "locked.png"), rand_image((6, 6), np.uint8), "png")
    os.chmod(src / "locked.png", 0)
    res = ingest(src, tmp / "out")
    assert reasons(res) == {"locked.png": "cannot read file: Permission denied"}
    assert set(records(res.span_dir)) == {"good.png"}


# ------------------------------------------------------------------ DICOM tags that are not one number
def ct_with(tmp, name, keyword, raw=None, vr="DS"):
    """pydicom's CT_small.dcm with ``keyword`` set to the raw bytes ``raw`` (None: deleted)."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    tag = Tag(keyword)
    if raw is None:
        del ds[tag]
    else:  # raw bytes: pydicom refuses to set an invalid value through the API
        ds[tag] = RawDataElement(tag, vr, len(raw), raw, 0, ds.is_implicit_VR, ds.is_little_endian)
    path = tmp / name
    ds.save_as(str(path))
    return path


@pytest.mark.parametrize("keyword,raw,vr,reason", [
    ("RescaleSlope", b"abc ", "DS", "DICOM RescaleSlope is not a number: 'abc'"),
    ("RescaleSlope", b"1\\2 ", "DS", "DICOM RescaleSlope has 2 values"),
    ("RescaleSlope", b"0 ", "DS", "DICOM RescaleSlope is 0"),
    ("RescaleSlope", b"nan ", "DS", "DICOM RescaleSlope is not finite"),
    ("RescaleIntercept", b"-1024\\0", "DS", "DICOM RescaleIntercept has 2 values"),
    ("RescaleIntercept", b"x ", "DS", "DICOM RescaleIntercept is not a number: 'x'"),
    ("NumberOfFrames", b"abc ", "IS", "DICOM NumberOfFrames is not a number: 'abc'"),
    ("Rows", None, None, "DICOM Rows is missing"),
], ids=lambda v: str(v))
def test_bad_dicom_numbers_are_named(tmp, keyword, raw, vr, reason):
    with pytest.raises(D.BadInput, match=reason.replace("(", r"\(")):
        D.read_dicom(str(ct_with(tmp, "x.dcm", keyword, raw, vr)))


def test_bad_dicom_tags_are_skipped_and_good_slices_kept(tmp):
    from pydicom.data import get_testdata_file
    src = tmp / "series"
    src.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), src / "good.dcm")
    ct_with(src, "abc.dcm", "RescaleSlope", b"abc ")
    ct_with(src, "multi.dcm", "RescaleSlope", b"1\\2 ")
    res = ingest(src, tmp / "out")
    why = reasons(res)
    assert set(why) == {"abc.dcm", "multi.dcm"}
    assert "'abc'" in why["abc.dcm"] and "2 values" in why["multi.dcm"]
    assert set(records(res.span_dir)) == {"good.dcm"}


# ------------------------------------------------------------------ declared sizes
def png_header_only(width, height, bit_depth=16, colour_type=2):
    """A PNG whose IHDR declares ``width`` x ``height`` but whose IDAT holds almost nothing."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (D.PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def jpeg_declaring(width, height):
    """A real 8x8 JPEG with its SOF0 segment patched to declare ``width`` x ``height``."""
    import tensorflow as tf
    data = bytearray(tf.io.encode_jpeg(rand_image((8, 8, 3), np.uint8)).numpy())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_declaring(width, height):
    """A BMP (BITMAPINFOHEADER, 24-bit) header declaring ``width`` x ``height``, no pixel rows."""
    dib = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(dib), 0, 0, 14 + len(dib)) + dib


def tiff_declaring(width, height):
    """A little-endian 8-bit grayscale TIFF whose tags declare ``width`` x ``height``, no strip."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
               (273, 4, 8), (277, 3, 1), (278, 4, height), (279, 4, width * height)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3
                                             else struct.pack("<I", value))
        for tag, kind, value in entries) + struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", 8) + ifd


@pytest.mark.parametrize("name,make,declared", [
    ("huge.png", lambda: png_header_only(20000, 20000), "20000x20000 = 400,000,000 pixels"),
    ("huge.jpg", lambda: jpeg_declaring(20000, 20000), "20000x20000 = 400,000,000 pixels"),
    ("huge.bmp", lambda: bmp_declaring(20000, -20000), "20000x20000 = 400,000,000 pixels"),
    ("huge.tif", lambda: tiff_declaring(30000, 30000), "30000x30000 = 900,000,000 pixels"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_header_declaring_too_many_pixels_is_refused_before_decoding(tmp, name, make, declared):
    (tmp / name).write_bytes(make())
    with pytest.raises(D.BadInput, match=f"declares {declared}, over the limit of 67,108,864"):
        D.read_image(str(tmp / name))


def test_dicom_declaring_too_many_pixels_is_refused(tmp):
    import pydicom
    path = ct_with(tmp, "big.dcm", "RescaleSlope", b"1 ")
    ds = pydicom.dcmread(str(path))
    ds.Rows, ds.Columns = 20000, 20000
    ds.save_as(str(path))
    with pytest.raises(D.BadInput, match="DICOM declares 20000x20000 = 400,000,000 pixels"):
        D.read_dicom(str(path))
    with pytest.raises(D.BadInput, match="over the limit of 1,000"):
        D.read_dicom(pydicom.data.get_testdata_file("CT_small.dcm"), max_pixels=1000)


def test_max_pixels_is_a_limit_the_user_sets(tmp):
    src = tmp / "in"
    write_file(str(src / "small.png"), rand_image((10, 10), np.uint8), "png")     # 100 pixels
    write_file(str(src / "large.tif"), rand_image((10, 11), np.uint8), "tiff")    # 110 pixels
    items, skipped = sources.image_folder(str(src), max_pixels=100)
    res = write_span(items, str(tmp / "out"), extra_skipped=skipped, progress=False)
    assert reasons(res) == {"large.tif": "TIFF declares 11x10 = 110 pixels, over the limit of 100 "
                                         "(--max-pixels)"}
    for bad in (0, -1, D.TF_PNG_MAX_PIXELS + 1, 1.5):
        with pytest.raises(ValueError, match=f"max_pixels must be .* got {bad}"):
            sources.image_folder(str(src), max_pixels=bad)


@pytest.mark.parametrize("width,height,reason", [
    (1024, 524288, "over the limit of 536,870,911"),      # the highest --max-pixels allowed
    (1_000_001, 1, "TensorFlow's PNG decoder cannot read it back"),
])
def test_sizes_tf_cannot_decode_back_are_refused_at_any_limit(tmp, width, height, reason):
    """TF's decode_png refuses width*height >= 2**29 and a side over 1,000,000 pixels."""
    import tensorflow as tf
    data = png_header_only(width, height, 8, 0)
    with pytest.raises(tf.errors.InvalidArgumentError):               # the limit is real
        tf.io.decode_png(data)
    (tmp / "x.png").write_bytes(data)
    with pytest.raises(D.BadInput, match=reason):
        D.read_image(str(tmp / "x.png"), max_pixels=D.TF_PNG_MAX_PIXELS)


def test_no_record_is_written_that_decode_png_cannot_read():
    """The last guard, for arrays (npz, IDX, demo data) that have no header to check."""
    # 2**29 pixels: tf.io.encode_png writes it, tf.io.decode_png refuses it ("PNG size too
    # large for int"); a broadcast view, so the test allocates nothing.
    too_many = np.broadcast_to(np.zeros((1, 1, 1), np.uint8), (1024, 524288, 1))
    with pytest.raises(D.BadInput, match="the image PNG would be 524288x1024: TensorFlow's PNG decoder"):
        to_example_bytes(Record("too_many", {F.IMAGE: D.Decoded(too_many)}))
    # A side over 1,000,000: libpng refuses to encode it (an InternalError that stopped the run).
    wide = np.zeros((1, 1_000_001, 1), np.uint8)
    with pytest.raises(D.BadInput, match="the image PNG would be 1000001x1: TensorFlow's PNG decoder"):
        to_example_bytes(Record("wide", {F.IMAGE: D.Decoded(wide)}))


def test_record_over_protobuf_limit_is_refused(monkeypatch):
    from tfx_pipeline.ingest import records as R
    monkeypatch.setattr(R, "MAX_ENCODED_BYTES", 100)
    noise = rand_image((32, 32, 3), np.uint8)
    with pytest.raises(D.BadInput, match="record too large: .* bytes of PNG, over the 100"):
        to_example_bytes(Record("noise", {F.IMAGE: D.Decoded(noise)}))


def test_npz_images_over_max_pixels_are_skipped(tmp):
    np.savez(tmp / "a.npz", images=rand_image((3, 10, 11), np.uint8))
    items, _ = sources.npz_file(str(tmp / "a.npz"), max_pixels=100)
    with pytest.raises(D.BadInput, match="array declares 11x10 = 110 pixels, over the limit of 100"):
        items[0].load()

"""Readers: exact pixels for every format, and a named reason for every bad input."""
import numpy as np
import pytest

from tfx_pipeline.ingest import decode as D

from support.images import rand_image, write_file

FORMATS = [
    ("png", (9, 7), np.uint8), ("png", (9, 7, 3), np.uint8),
    ("png", (9, 7), np.uint16), ("png", (9, 7, 3), np.uint16),
    ("tiff", (9, 7), np.uint8), ("tiff", (9, 7, 3), np.uint8),
    ("tiff", (9, 7), np.uint16), ("tiff", (9, 7, 3), np.uint16),
    ("bmp", (9, 7), np.uint8), ("bmp", (9, 7, 3), np.uint8),
    ("jpeg", (16, 16), np.uint8), ("jpeg", (16, 16, 3), np.uint8),
]


@pytest.mark.parametrize("fmt,shape,dtype", FORMATS, ids=lambda v: str(v))
def test_read_image_is_pixel_exact(tmp, fmt, shape, dtype):
    arr = rand_image(shape, dtype, seed=len(shape))
    path = str(tmp / f"img.{fmt}")
    expected = write_file(path, arr, fmt)
    got = D.read_image(path)
    assert got.pixels.dtype == dtype
    assert got.bit_depth == (16 if dtype == np.uint16 else 8)
    np.testing.assert_array_equal(got.pixels, expected)


def test_ct_dicom_keeps_hounsfield_units_exactly():
    import pydicom
    from pydicom.data import get_testdata_file
    path = get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    got = D.read_dicom(path)
    assert got.modality == "CT" and got.pixels.dtype == np.uint16 and got.pixels.shape == (128, 128, 1)
    back = got.pixels[:, :, 0].astype(np.float64) * got.value_scale + got.value_offset
    np.testing.assert_array_equal(back, hu)


def write_bytes(tmp, name, data):
    p = tmp / name
    p.write_bytes(data)
    return str(p)


def valid_png_bytes():
    import tensorflow as tf
    return tf.io.encode_png(rand_image((32, 32, 3), np.uint8)).numpy()


@pytest.mark.parametrize("name,make,reason", [
    ("zero.png", lambda: b"", "empty file"),
    ("text.png", lambda: b"hello, I am not an image at all" * 3, "not a PNG"),
    ("text.jpg", lambda: b"hello, I am not an image", "not a JPEG"),
    ("text.bmp", lambda: b"hello, I am not an image", "not a BMP"),
    ("text.tif", lambda: b"hello, I am not an image", "cannot decode TIFF"),
    ("trunc.png", lambda: valid_png_bytes()[:200], "cannot decode PNG"),
    ("notes.txt", lambda: b"x", "unsupported file extension"),
])
def test_bad_images_raise_a_named_reason(tmp, name, make, reason):
    with pytest.raises(D.BadInput, match=reason):
        D.read_image(write_bytes(tmp, name, make()))


def test_truncated_jpeg_is_rejected(tmp):
    import tensorflow as tf
    data = tf.io.encode_jpeg(rand_image((64, 64, 3), np.uint8)).numpy()
    with pytest.raises(D.BadInput, match="cannot decode JPEG"):
        D.read_image(write_bytes(tmp, "t.jpg", data[: len(data) // 2]))


def test_unsupported_modes_are_rejected(tmp):
    import tensorflow as tf
    rgba = tf.io.encode_png(rand_image((8, 8, 4), np.uint8)).numpy()
    with pytest.raises(D.BadInput, match="alpha"):
        D.read_image(write_bytes(tmp, "rgba.png", rgba))
    import tifffile
    tifffile.imwrite(str(tmp / "f.tif"), np.zeros((4, 4), np.float32))
    with pytest.raises(D.BadInput, match="unsupported pixel type float32"):
        D.read_image(str(tmp / "f.tif"))


def test_truncated_dicom_is_rejected():
    from pydicom.data import get_testdata_file
    with pytest.raises(D.BadInput, match="DICOM"):
        D.read_dicom(get_testdata_file("MR_truncated.dcm"))


def test_non_dicom_with_dcm_extension(tmp):
    with pytest.raises(D.BadInput, match="DICOM"):
        D.read_dicom(write_bytes(tmp, "x.dcm", b"not dicom" * 50))

"""Decoding source files into pixel arrays, with a clear reason on bad input.

Every reader returns a :class:`Decoded` (an ``[H, W, C]`` uint8/uint16 array
plus how stored values map to physical ones) or raises :class:`BadInput`
naming what is wrong. PNG, JPEG and BMP go through ``tf.io``; TIFF through
``tifffile`` (tf.io has no TIFF decoder); DICOM through ``pydicom``.
"""
from __future__ import annotations

import dataclasses
import os
import struct

import numpy as np

from trainer import features as F

PNG_EXT = (".png",)
JPEG_EXT = (".jpg", ".jpeg")
BMP_EXT = (".bmp",)
TIFF_EXT = (".tif", ".tiff")
DICOM_EXT = (".dcm", ".dicom")
IMAGE_EXT = PNG_EXT + JPEG_EXT + BMP_EXT + TIFF_EXT
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class BadInput(ValueError):
    """A source item that cannot be converted; the message is the reason."""


@dataclasses.dataclass(frozen=True)
class Decoded:
    pixels: np.ndarray          # [H, W, C] uint8 or uint16, C in {1, 3}
    value_offset: float = 0.0   # physical = stored * value_scale + value_offset
    value_scale: float = 1.0
    modality: str = "other"

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8


def check_pixels(arr: np.ndarray, source: str = "image") -> np.ndarray:
    """Return ``arr`` as ``[H, W, C]`` if it is a supported image, else raise BadInput."""
    if arr.dtype not in (np.uint8, np.uint16):
        raise BadInput(f"unsupported pixel type {arr.dtype} in {source} (need 8- or 16-bit unsigned)")
    if arr.ndim == 2:
        arr = arr[:, :, None]  # [H, W] -> [H, W, 1]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3):
        raise BadInput(f"unsupported mode in {source}: shape {arr.shape} "
                       "(need grayscale [H, W] / [H, W, 1] or RGB [H, W, 3])")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise BadInput(f"empty image in {source}: shape {arr.shape}")
    return arr


def _png_header(data: bytes) -> tuple[int, int]:
    """(bit depth, colour type) from a PNG's IHDR chunk (PNG spec, section 11.2.2)."""
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise BadInput("not a PNG file (bad signature or header)")
    bit_depth, colour_type = struct.unpack(">BB", data[24:26])
    return bit_depth, colour_type


def _tf_decode(fn, data: bytes, what: str, **kwargs) -> np.ndarray:
    import tensorflow as tf
    try:
        return fn(data, **kwargs).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as err:
        msg = getattr(err, "message", str(err)).splitlines()[0]
        raise BadInput(f"cannot decode {what}: {msg}") from None


def decode_png(data: bytes) -> np.ndarray:
    import tensorflow as tf
    bit_depth, colour_type = _png_header(data)
    if colour_type in (4, 6):
        raise BadInput("unsupported mode: PNG with an alpha channel "
                       "(grayscale+alpha or RGBA); save it as grayscale or RGB")
    if colour_type == 3:  # palette -> RGB
        return _tf_decode(tf.io.decode_png, data, "PNG", channels=3)
    dtype = tf.uint16 if bit_depth == 16 else tf.uint8
    return _tf_decode(tf.io.decode_png, data, "PNG", dtype=dtype)


def decode_jpeg(data: bytes) -> np.ndarray:
    import tensorflow as tf
    return _tf_decode(tf.io.decode_jpeg, data, "JPEG")


def decode_bmp(data: bytes) -> np.ndarray:
    import tensorflow as tf
    if not data.startswith(b"BM"):
        raise BadInput("not a BMP file (bad signature)")
    return _tf_decode(tf.io.decode_bmp, data, "BMP")


def decode_tiff(path: str) -> np.ndarray:
    import tifffile
    try:
        arr = tifffile.imread(path)
    except Exception as err:  # tifffile raises many types for corrupt files
        raise BadInput(f"cannot decode TIFF: {type(err).__name__}: {err}") from None
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        raise BadInput(f"unsupported TIFF layout: planar shape {arr.shape}")
    return arr


def read_image(path: str) -> Decoded:
    """Decode an image file (PNG, JPEG, BMP, TIFF; 8/16-bit; gray or RGB)."""
    ext = os.path.splitext(path)[1].lower()
    try:
        size = os.path.getsize(path)
    except OSError as err:
        raise BadInput(f"cannot read file: {err.strerror}") from None
    if size == 0:
        raise BadInput("empty file (0 bytes)")
    if ext in TIFF_EXT:
        arr = decode_tiff(path)
    else:
        with open(path, "rb") as fh:
            data = fh.read()
        if ext in PNG_EXT:
            arr = decode_png(data)
        elif ext in JPEG_EXT:
            if not data.startswith(b"\xff\xd8"):
                raise BadInput("not a JPEG file (bad signature)")
            arr = decode_jpeg(data)
        elif ext in BMP_EXT:
            arr = decode_bmp(data)
        else:
            raise BadInput(f"unsupported file extension {ext!r}")
    return Decoded(check_pixels(arr, os.path.basename(path)), modality="other")


def read_dicom(path: str) -> Decoded:
    """Decode one DICOM slice, keeping stored values exactly.

    The stored integers are kept losslessly as uint16 (signed data shifted by
    +32768) and the record carries ``value_scale``/``value_offset`` so that
    ``stored * scale + offset`` is the physical value: Hounsfield units for CT
    (DICOM Rescale Slope/Intercept, PS3.3 C.11.1.1.2).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError
    if os.path.getsize(path) == 0:
        raise BadInput("empty file (0 bytes)")
    try:
        ds = pydicom.dcmread(path)
        raw = ds.pixel_array
    except InvalidDicomError as err:
        raise BadInput(f"not a DICOM file: {err}") from None
    except Exception as err:  # truncated pixel data, missing tags, unknown transfer syntax
        raise BadInput(f"cannot read DICOM pixel data: {type(err).__name__}: {err}") from None
    if raw.ndim != 2:
        raise BadInput(f"unsupported DICOM pixel layout {raw.shape} (need one 2-D slice; "
                       "multi-frame and colour DICOM are not supported)")
    slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0)
    intercept = float(getattr(ds, "RescaleIntercept", 0.0) or 0.0)
    modality = str(getattr(ds, "Modality", "other")).upper()
    modality = modality if modality in F.MODALITIES else "other"
    if raw.dtype.kind == "i":  # signed: shift into uint16 without loss
        shifted = raw.astype(np.int32) - int(F.CT_STORAGE_OFFSET)
        stored = shifted.astype(np.uint16)
        offset = intercept + F.CT_STORAGE_OFFSET * slope
    elif raw.dtype.kind == "u" and raw.dtype.itemsize <= 2:
        stored = raw.astype(np.uint16)
        offset = intercept
    else:
        raise BadInput(f"unsupported DICOM pixel type {raw.dtype}")
    return Decoded(stored[:, :, None], value_offset=offset, value_scale=slope, modality=modality)


def read_any(path: str) -> Decoded:
    ext = os.path.splitext(path)[1].lower()
    return read_dicom(path) if ext in DICOM_EXT else read_image(path)

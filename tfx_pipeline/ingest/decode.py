"""Decoding source files into pixel arrays, with a clear reason on bad input.

Every reader returns a :class:`Decoded` (an ``[H, W, C]`` uint8/uint16 array
plus how stored values map to physical ones) or raises :class:`BadInput`
naming what is wrong. PNG, JPEG and BMP go through ``tf.io``; TIFF through
``tifffile`` (tf.io has no TIFF decoder); DICOM through ``pydicom``.

Files are only opened when ``os.stat`` says they are regular files (a FIFO
would block the open), and the image size a header declares is checked
against ``max_pixels`` and against what TensorFlow's PNG decoder can read back
before any pixel is decoded.
"""
from __future__ import annotations

import dataclasses
import errno
import io
import math
import os
import stat
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

# What tf.io.decode_png (and decode_image) can read back, so that no record is
# written that the pipeline cannot decode. DecodePngV2
# (tensorflow/core/kernels/image/decode_image_op.cc) refuses width * height
# >= 2**29 ("PNG size too large for int"); libpng's default user limit, which
# TF keeps, refuses a side over 1,000,000 ("Failed to initialize decoder").
# Both measured on TF 2.16 with crafted headers (docs/PIPELINE.md, Ingestion).
TF_PNG_MAX_PIXELS = 2**29 - 1
TF_PNG_MAX_SIDE = 1_000_000
# Default --max-pixels: 64 megapixels (8192 x 8192), 8x under TF's limit and
# far above GAN training sizes. A 16-bit RGB image that size is 384 MiB
# decoded, and each worker holds a few such buffers (decoded array, PNG bytes).
DEFAULT_MAX_PIXELS = 64 * 2**20


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


def validate_max_pixels(max_pixels: int) -> int:
    """``max_pixels`` if it is a usable limit, else ValueError naming it."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) \
            or not 1 <= max_pixels <= TF_PNG_MAX_PIXELS:
        raise ValueError(f"max_pixels must be an integer in [1, {TF_PNG_MAX_PIXELS:,}] (TensorFlow's "
                         f"PNG decoder reads width*height < 2**29), got {max_pixels!r}")
    return max_pixels


def check_png_readable(width: int, height: int, what: str = "image is") -> None:
    """BadInput unless tf.io.decode_png can decode a PNG of ``width`` x ``height``."""
    if max(width, height) > TF_PNG_MAX_SIDE or width * height > TF_PNG_MAX_PIXELS:
        raise BadInput(f"{what} {width}x{height}: TensorFlow's PNG decoder cannot read it back "
                       f"(it needs sides <= {TF_PNG_MAX_SIDE:,} and width*height < 2**29 = "
                       f"{TF_PNG_MAX_PIXELS + 1:,})")


def check_declared_size(what: str, width: int, height: int, max_pixels: int, frames: int = 1) -> None:
    """BadInput if a header declares an empty image or more than ``max_pixels`` pixels.

    Called before decoding, so a small file that declares a huge image costs
    nothing. ``frames`` counts the 2-D images a file holds (pages, DICOM frames).
    """
    if width < 1 or height < 1 or frames < 1:
        raise BadInput(f"{what} declares an empty image: {width}x{height}"
                       + (f" x {frames} frames" if frames != 1 else ""))
    pixels = width * height * frames
    if pixels > max_pixels:
        raise BadInput(f"{what} declares {width}x{height}" + (f" x {frames} frames" if frames != 1 else "")
                       + f" = {pixels:,} pixels, over the limit of {max_pixels:,} (--max-pixels)")
    check_png_readable(width, height, f"{what} declares")


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "named pipe (FIFO)"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISDIR, "directory")):
        if test(mode):
            return name
    return "special file"


def stat_regular(path: str) -> os.stat_result:
    """``os.stat(path)`` (symlinks followed) if it is a regular file, else BadInput.

    ``os.stat`` never blocks, unlike opening a FIFO, so nothing that is not a
    regular file is ever opened.
    """
    try:
        st = os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise BadInput("symlink loop (too many levels of symbolic links)") from None
        if err.errno == errno.ENOENT and os.path.islink(path):
            raise BadInput(f"dangling symlink (its target {os.readlink(path)!r} does not exist)") from None
        raise BadInput(f"cannot read file: {err.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"not a regular file: {_file_kind(st.st_mode)}")
    return st


def open_regular(path: str):
    """Open a regular file for binary reading; BadInput for anything else or an I/O error.

    ``stat_regular`` first; the open itself is non-blocking and re-checked
    with ``fstat``, so a file swapped for a FIFO in between cannot hang.
    """
    stat_regular(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise BadInput(f"cannot read file: {err.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise BadInput(f"not a regular file: {_file_kind(mode)}")
    return os.fdopen(fd, "rb")


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


def _png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk (PNG spec, 11.2.2)."""
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise BadInput("not a PNG file (bad signature or header)")
    return struct.unpack(">IIBB", data[16:26])


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's SOF segment; Pillow reads the headers only."""
    from PIL import JpegImagePlugin
    try:  # the plugin class, not Image.open: its decompression-bomb check would preempt ours
        with JpegImagePlugin.JpegImageFile(io.BytesIO(data)) as im:
            return im.size
    except Exception as err:  # Pillow raises SyntaxError, OSError, struct.error... on bad headers
        raise BadInput(f"cannot decode JPEG header: {type(err).__name__}: {err}") from None


def _bmp_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a BMP's DIB header (negative height = top-down rows)."""
    if not data.startswith(b"BM"):
        raise BadInput("not a BMP file (bad signature)")
    if len(data) < 26:
        raise BadInput(f"not a BMP file (header truncated at {len(data)} bytes)")
    (dib_size,) = struct.unpack("<I", data[14:18])
    width, height = struct.unpack("<HH" if dib_size == 12 else "<ii", data[18:22 if dib_size == 12 else 26])
    return width, abs(height)


def _tf_decode(fn, data: bytes, what: str, **kwargs) -> np.ndarray:
    import tensorflow as tf
    try:
        return fn(data, **kwargs).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as err:
        msg = getattr(err, "message", str(err)).splitlines()[0]
        raise BadInput(f"cannot decode {what}: {msg}") from None


def decode_png(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    import tensorflow as tf
    width, height, bit_depth, colour_type = _png_header(data)
    check_declared_size("PNG", width, height, max_pixels)
    if colour_type in (4, 6):
        raise BadInput("unsupported mode: PNG with an alpha channel "
                       "(grayscale+alpha or RGBA); save it as grayscale or RGB")
    if colour_type == 3:  # palette -> RGB
        return _tf_decode(tf.io.decode_png, data, "PNG", channels=3)
    dtype = tf.uint16 if bit_depth == 16 else tf.uint8
    return _tf_decode(tf.io.decode_png, data, "PNG", dtype=dtype)


def decode_jpeg(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    import tensorflow as tf
    if not data.startswith(b"\xff\xd8"):
        raise BadInput("not a JPEG file (bad signature)")
    check_declared_size("JPEG", *_jpeg_size(data), max_pixels)
    return _tf_decode(tf.io.decode_jpeg, data, "JPEG")


def decode_bmp(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    import tensorflow as tf
    check_declared_size("BMP", *_bmp_size(data), max_pixels)
    return _tf_decode(tf.io.decode_bmp, data, "BMP")


def decode_tiff(fh, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image.tif") -> np.ndarray:
    """The first series of a TIFF (an open binary file), size checked from its tags first."""
    import tifffile
    try:
        with tifffile.TiffFile(fh, name=name) as tif:
            series = tif.series[0]
            page = series.keyframe
            width, height, samples = page.imagewidth, page.imagelength, max(page.samplesperpixel, 1)
            frames = max(math.prod(series.shape) // max(width * height * samples, 1), 1)
            check_declared_size("TIFF", width, height, max_pixels, frames)
            arr = tif.asarray()
    except BadInput:
        raise
    except Exception as err:  # tifffile raises many types for corrupt files
        raise BadInput(f"cannot decode TIFF: {type(err).__name__}: {err}") from None
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        raise BadInput(f"unsupported TIFF layout: planar shape {arr.shape}")
    return arr


def _read_all(fh) -> bytes:
    try:
        return fh.read()
    except OSError as err:
        raise BadInput(f"cannot read file: {err.strerror}") from None


def read_image(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    """Decode an image file (PNG, JPEG, BMP, TIFF; 8/16-bit; gray or RGB).

    Raises BadInput for a file that is not regular, unreadable, corrupt, or
    whose header declares more than ``max_pixels`` pixels (checked before decoding).
    """
    ext = os.path.splitext(path)[1].lower()
    with open_regular(path) as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            raise BadInput("empty file (0 bytes)")
        if ext in TIFF_EXT:
            arr = decode_tiff(fh, max_pixels, os.path.basename(path))
        elif ext in PNG_EXT:
            arr = decode_png(_read_all(fh), max_pixels)
        elif ext in JPEG_EXT:
            arr = decode_jpeg(_read_all(fh), max_pixels)
        elif ext in BMP_EXT:
            arr = decode_bmp(_read_all(fh), max_pixels)
        else:
            raise BadInput(f"unsupported file extension {ext!r}")
    return Decoded(check_pixels(arr, os.path.basename(path)), modality="other")


def _dicom_number(ds, keyword: str, default: float | None = None) -> float:
    """One numeric DICOM value; ``default`` when absent or empty, else BadInput naming it."""
    from pydicom.multival import MultiValue
    try:
        value = ds.get(keyword)
    except Exception as err:  # pydicom converts on access and can raise many types
        raise BadInput(f"DICOM {keyword} cannot be read: {type(err).__name__}: {err}") from None
    if value is None or value == "":
        if default is None:
            raise BadInput(f"DICOM {keyword} is missing")
        return default
    if isinstance(value, (MultiValue, list, tuple)):
        raise BadInput(f"DICOM {keyword} has {len(value)} values {list(value)!r}; need one number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"DICOM {keyword} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise BadInput(f"DICOM {keyword} is not finite: {value!r}")
    return number


def _dicom_count(ds, keyword: str, default: int | None = None) -> int:
    """A DICOM count (Rows, Columns, NumberOfFrames): an integer >= 1, else BadInput."""
    number = _dicom_number(ds, keyword, None if default is None else float(default))
    if number < 1 or number != int(number):
        raise BadInput(f"DICOM {keyword} must be a whole number >= 1, got {ds.get(keyword)!r}")
    return int(number)


def read_dicom(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    """Decode one DICOM slice, keeping stored values exactly.

    The stored integers are kept losslessly as uint16 (signed data shifted by
    +32768) and the record carries ``value_scale``/``value_offset`` so that
    ``stored * scale + offset`` is the physical value: Hounsfield units for CT
    (DICOM Rescale Slope/Intercept, PS3.3 C.11.1.1.2).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError
    with open_regular(path) as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            raise BadInput("empty file (0 bytes)")
        try:
            ds = pydicom.dcmread(fh)
        except InvalidDicomError as err:
            raise BadInput(f"not a DICOM file: {err}") from None
        except OSError as err:
            raise BadInput(f"cannot read file: {err.strerror or err}") from None
        except Exception as err:  # truncated or malformed data elements
            raise BadInput(f"cannot read DICOM file: {type(err).__name__}: {err}") from None
    return decode_dicom_dataset(ds, max_pixels)


def decode_dicom_dataset(ds, max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    """Pixels of one read ``pydicom.Dataset``, stored as :func:`read_dicom` describes.

    The one conversion from DICOM to stored values: ingestion and
    ``tfxgan predict --dicom`` both use it, so served slices are encoded as
    the training records were.
    """
    rows, columns = _dicom_count(ds, "Rows"), _dicom_count(ds, "Columns")
    check_declared_size("DICOM", columns, rows, max_pixels, _dicom_count(ds, "NumberOfFrames", 1))
    slope = _dicom_number(ds, "RescaleSlope", 1.0)
    if slope == 0:
        raise BadInput("DICOM RescaleSlope is 0 (every pixel would map to the intercept)")
    intercept = _dicom_number(ds, "RescaleIntercept", 0.0)
    try:
        raw = ds.pixel_array
    except Exception as err:  # truncated pixel data, missing tags, unknown transfer syntax
        raise BadInput(f"cannot read DICOM pixel data: {type(err).__name__}: {err}") from None
    if raw.ndim != 2:
        raise BadInput(f"unsupported DICOM pixel layout {raw.shape} (need one 2-D slice; "
                       "multi-frame and colour DICOM are not supported)")
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


def read_any(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    ext = os.path.splitext(path)[1].lower()
    return read_dicom(path, max_pixels) if ext in DICOM_EXT else read_image(path, max_pixels)

"""Real multi-slice CT series built from pydicom's bundled test data (test support)."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np


def bundled_file(name: str) -> str:
    from pydicom.data import get_testdata_file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = get_testdata_file(name)
    if path is None:
        raise FileNotFoundError(f"pydicom test file {name!r} is not installed")
    return path


def ct_small():
    import pydicom
    return pydicom.dcmread(bundled_file("CT_small.dcm"))


def slice_pixels(shape=(160, 200), shift: int = 0) -> np.ndarray:
    """CT_small's stored values (int16) wrapped to ``shape``, rolled by ``shift`` pixels."""
    base = ct_small().pixel_array
    h, w = shape
    reps = (-(-h // base.shape[0]), -(-w // base.shape[1]))
    return np.roll(np.tile(base, reps)[:h, :w], shift, axis=1).astype(np.int16)


def write_series(folder, n: int = 4, shape=(160, 200), *, spacing: float = 5.0,
                 series_uid: str | None = None, pixels=None, names=None,
                 window=(40, 400)) -> list[Path]:
    """Write ``n`` CT slices of one series into ``folder``; returns the paths in slice order.

    Files get names unrelated to their order and InstanceNumbers that run the
    other way round to the positions, so only ImagePositionPatient sorts them.
    ``pixels(i)`` gives slice i's int16 stored values (default: shifted CT_small).
    """
    from pydicom.uid import generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    paths = []
    for i in range(n):
        ds = ct_small()
        arr = np.asarray(pixels(i) if pixels else slice_pixels(shape, shift=7 * i), dtype=np.int16)
        ds.Rows, ds.Columns = arr.shape
        ds.PixelData = arr.tobytes()
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, z + spacing * i]
        ds.SliceLocation = z + spacing * i
        ds.InstanceNumber = n - i
        if window:
            ds.WindowCenter, ds.WindowWidth = window
        name = names[i] if names else f"{(i * 7919) % 1000:03d}_{generate_uid()[-6:]}"
        path = folder / name
        ds.save_as(str(path), write_like_original=False)
        paths.append(path)
    return paths


BAD_SERIES = ("mixed", "mr", "no_slope", "truncated", "mr_truncated", "jpeg_ls", "not_dicom")


def bad_series(tmp_path, kind):
    """A series folder broken in one way; returns (folder, reason, file name in the error)."""
    import pydicom

    folder = tmp_path / kind
    paths = write_series(folder, n=3, shape=(32, 32))
    bad = paths[1]
    if kind == "mixed":
        write_series(folder, n=1, shape=(32, 32), names=["other_series.dcm"])
        return folder, "mixed series, 2 SeriesInstanceUIDs", "other_series.dcm"
    if kind == "mr":
        shutil.copy(bundled_file("MR_small.dcm"), folder / "mr.dcm")
        return folder, "Modality is 'MR'", "mr.dcm"
    if kind == "no_slope":
        ds = pydicom.dcmread(str(bad))
        del ds.RescaleSlope
        ds.save_as(str(bad))
        return folder, "RescaleSlope is missing", bad.name
    if kind == "truncated":
        data = bad.read_bytes()
        bad.write_bytes(data[: len(data) - 1000])
        return folder, "cannot read DICOM pixel data", bad.name
    if kind == "mr_truncated":
        shutil.copy(bundled_file("MR_truncated.dcm"), folder / "mr_truncated.dcm")
        return folder, "Modality is 'MR'", "mr_truncated.dcm"  # refused before its pixels
    if kind == "jpeg_ls":
        # A real JPEG-LS encoded slice (no installed pydicom handler decodes JPEG-LS), made CT.
        ds = pydicom.dcmread(bundled_file("MR_small_jpeg_ls_lossless.dcm"))
        ref = pydicom.dcmread(str(bad))
        ds.Modality = "CT"
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.SeriesInstanceUID = ref.SeriesInstanceUID
        ds.save_as(str(folder / "jpegls.dcm"))
        return folder, ("compressed transfer syntax JPEG-LS Lossless Image Compression "
                        "(1.2.840.10008.1.2.4.80) could not be decoded"), "jpegls.dcm"
    if kind == "not_dicom":
        (folder / "notes.txt").write_text("not an image")
        return folder, "not a DICOM file", "notes.txt"
    raise AssertionError(kind)


# The pointwise stand-in CT generator of the DICOM and bulk-inference tests.
STANDIN_WINDOW = (0.0, 2000.0)


def pointwise(x):
    """The stand-in generator, on [-1, 1]."""
    return 0.8 * x + 0.1


def expected_hu(hu, window=STANDIN_WINDOW):
    """The stand-in's output in HU through the CT window, computed without TensorFlow."""
    level, width = window
    x = np.clip((hu - (level - width / 2)) / width, 0, 1) * 2 - 1
    return (pointwise(x) + 1) / 2 * width + (level - width / 2)

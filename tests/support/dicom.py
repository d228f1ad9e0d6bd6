"""Real multi-slice CT series built from pydicom's bundled test data (test support)."""
from __future__ import annotations

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

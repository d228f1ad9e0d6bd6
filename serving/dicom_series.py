"""A CT DICOM series through a served generator, and back to a derived DICOM series.

The library behind ``tfxgan predict --dicom SERIES_DIR --output OUT_DIR``:

1. :func:`read_series` reads one folder (any file names), checks that it holds
   exactly one CT series whose slices carry Rescale Slope/Intercept, decodes
   the pixel data (compressed transfer syntaxes where pydicom's installed
   handlers can) and sorts the slices along the slice normal
   (ImagePositionPatient . (row x column direction)), else by InstanceNumber.
   Every error is a :class:`DicomSeriesError` naming the file.
2. :func:`serving.tiling.apply_tiled` runs a model of a fixed input size over
   a slice of any size: smaller slices are reflect-padded and cropped back,
   larger ones cut into overlapping tiles blended with raised-cosine weights
   that sum to one, so a pointwise model gives the same image as applied to
   the whole slice.
3. The model is called through the ``serving_tf_example`` signature with
   tf.Examples in the ingestion contract (``stored_values`` + ``tile_examples``,
   checked by a test against ingestion's ``decode_dicom_dataset`` and
   ``to_example_bytes``): stored values and Rescale Slope/Intercept travel
   unchanged, so the served Transform graph sees exactly the HU a training
   record of the same slice holds. The ``pixels`` output (uint16, HU + 32768)
   is what comes back.
4. :func:`write_series` writes a new series - new Series and SOP Instance
   UIDs, patient and study kept, geometry kept, ImageType DERIVED\\SECONDARY,
   the model and version in SeriesDescription and DerivationDescription - to
   a temporary folder beside the output folder, renamed into place only when
   every slice is written.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from serving.tiling import DEFAULT_OVERLAP_FRACTION, apply_tiled
from trainer import features as F

CT_MODALITY = "CT"
MIN_BITS_STORED = 12              # CT's usual depth; more bits only when the HU range needs them
SERIES_NUMBER_OFFSET = 1000       # derived SeriesNumber = source SeriesNumber + this
# Tags whose values describe the source pixel data and would be wrong in the derived image.
_STALE_TAGS = ("SmallestImagePixelValue", "LargestImagePixelValue",
               "SmallestPixelValueInSeries", "LargestPixelValueInSeries",
               "PixelPaddingValue", "PixelPaddingRangeLimit", "IconImageSequence",
               "RescaleType", "NumberOfFrames")


class DicomSeriesError(ValueError):
    """A series that cannot be read, processed or written; the message names the file."""


@dataclasses.dataclass
class Slice:
    """One decoded CT slice."""
    path: Path
    dataset: object          # pydicom.Dataset (header and pixel data)
    stored: np.ndarray       # [H, W] uint16 stored values, as ingestion keeps them
    value_scale: float       # HU = stored * value_scale + value_offset
    value_offset: float

    @property
    def hu(self) -> np.ndarray:  # [H, W] float64
        return self.stored.astype(np.float64) * self.value_scale + self.value_offset


# ------------------------------------------------------------------ reading
def _read_header(path: Path):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(str(path))
    except InvalidDicomError as err:
        raise DicomSeriesError(f"{path}: not a DICOM file ({err})") from None
    except Exception as err:  # a truncated header raises EOFError, struct.error, ...
        raise DicomSeriesError(f"{path}: cannot read DICOM file: {type(err).__name__}: {err}") \
            from None


def _transfer_syntax(ds) -> str:
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return f"{uid.name} ({uid})" if uid is not None else "unknown transfer syntax"


def stored_values(ds) -> tuple[np.ndarray, float, float]:
    """(stored [H, W] uint16, value_scale, value_offset) of a CT slice, as ingestion stores it.

    Ingestion's ``decode_dicom_dataset`` rule (``serving`` does not import the
    pipeline package; a test checks the two agree): signed data is shifted by
    +32768 into uint16 and ``stored * RescaleSlope + offset`` is HU.
    """
    raw = ds.pixel_array
    if raw.ndim != 2:
        raise ValueError(f"unsupported DICOM pixel layout {raw.shape} (need one 2-D slice; "
                         "multi-frame and colour DICOM are not supported)")
    slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
    if slope == 0:
        raise ValueError("RescaleSlope is 0 (every pixel would map to the intercept)")
    if raw.dtype.kind == "i":  # signed: shift into uint16 without loss
        stored = (raw.astype(np.int32) - int(F.CT_STORAGE_OFFSET)).astype(np.uint16)
        return stored, slope, intercept + F.CT_STORAGE_OFFSET * slope
    if raw.dtype.kind == "u" and raw.dtype.itemsize <= 2:
        return raw.astype(np.uint16), slope, intercept
    raise ValueError(f"unsupported DICOM pixel type {raw.dtype}")


def _decode(path: Path, ds) -> Slice:
    if int(getattr(ds, "SamplesPerPixel", 1)) != 1:
        raise DicomSeriesError(f"{path}: SamplesPerPixel {ds.SamplesPerPixel}; a CT slice has 1")
    try:
        stored, scale, offset = stored_values(ds)
    except Exception as err:  # truncated pixel data, unknown transfer syntax, bad layout
        reason = f"cannot read DICOM pixel data: {type(err).__name__}: {err}"
        uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        if uid is not None and uid.is_compressed:
            raise DicomSeriesError(
                f"{path}: compressed transfer syntax {_transfer_syntax(ds)} could not be decoded "
                f"with pydicom's installed pixel data handlers: {reason}") from None
        raise DicomSeriesError(f"{path}: {reason} [transfer syntax {_transfer_syntax(ds)}]") \
            from None
    return Slice(path, ds, stored, scale, offset)


def _check_header(path: Path, ds) -> None:
    modality = str(getattr(ds, "Modality", "") or "")
    if modality.upper() != CT_MODALITY:
        raise DicomSeriesError(f"{path}: Modality is {modality or 'missing'!r}; only CT series "
                               "can be denoised (the model is trained on HU)")
    for tag in ("RescaleSlope", "RescaleIntercept"):
        if getattr(ds, tag, None) in (None, ""):
            raise DicomSeriesError(f"{path}: {tag} is missing; HU cannot be computed without "
                                   "Rescale Slope and Intercept")
    if not getattr(ds, "SeriesInstanceUID", None):
        raise DicomSeriesError(f"{path}: SeriesInstanceUID is missing")


def slice_order_key(datasets: Sequence) -> list[float]:
    """A sort key per dataset: position along the slice normal, else InstanceNumber."""
    def geometry(ds):
        ipp, iop = getattr(ds, "ImagePositionPatient", None), getattr(ds, "ImageOrientationPatient",
                                                                       None)
        if ipp is None or iop is None or len(ipp) != 3 or len(iop) != 6:
            return None
        iop = np.asarray([float(v) for v in iop])
        normal = np.cross(iop[:3], iop[3:])
        return float(np.dot(normal, [float(v) for v in ipp]))

    positions = [geometry(ds) for ds in datasets]
    if all(p is not None for p in positions):
        return positions
    numbers = [getattr(ds, "InstanceNumber", None) for ds in datasets]
    if all(n not in (None, "") for n in numbers):
        return [float(n) for n in numbers]
    raise DicomSeriesError("cannot order the slices: neither ImagePositionPatient with "
                           "ImageOrientationPatient nor InstanceNumber is present in every file")


def read_series(folder: str | os.PathLike) -> list[Slice]:
    """Every file of ``folder`` as one CT series, sorted along the slice normal."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DicomSeriesError(f"{folder}: not a directory")
    paths = sorted(p for p in folder.iterdir() if p.is_file())
    if not paths:
        raise DicomSeriesError(f"{folder}: no files")
    headers = []
    for path in paths:
        ds = _read_header(path)
        _check_header(path, ds)
        headers.append((path, ds))
    series: dict[str, Path] = {}
    for path, ds in headers:
        series.setdefault(str(ds.SeriesInstanceUID), path)
    if len(series) > 1:
        listed = "; ".join(f"{uid} (e.g. {p.name})" for uid, p in series.items())
        raise DicomSeriesError(f"{folder}: mixed series, {len(series)} SeriesInstanceUIDs: "
                               f"{listed}; give one series per folder")
    slices = [_decode(path, ds) for path, ds in headers]
    keys = slice_order_key([s.dataset for s in slices])
    return [s for _, s in sorted(zip(keys, slices), key=lambda kv: kv[0])]


# -------------------------------------------------------------- the model
@dataclasses.dataclass(frozen=True)
class ServedModel:
    """A served CT generator as ``GetModelMetadata`` describes it."""
    name: str
    version: int | None
    tile: tuple[int, int]                  # input height, width
    signature: str = F.EXAMPLE_SIGNATURE


def served_model(metadata: dict, name: str) -> ServedModel:
    """Input size and version from a GetModelMetadata answer (gRPC or REST dict)."""
    sigs = metadata.get("metadata", {}).get("signature_def", {}).get("signature_def", {})
    sig = sigs.get(F.EXAMPLE_SIGNATURE)
    if sig is None:
        raise ValueError(f"model {name!r} has no {F.EXAMPLE_SIGNATURE!r} signature "
                         f"(signatures: {sorted(sigs)})")
    if F.IN_EXAMPLES not in sig.get("inputs", {}):
        raise ValueError(f"model {name!r}: signature {F.EXAMPLE_SIGNATURE!r} has no "
                         f"{F.IN_EXAMPLES!r} input (inputs: {sorted(sig.get('inputs', {}))})")
    out = sig.get("outputs", {}).get(F.OUT_PIXELS)
    if out is None:
        raise ValueError(f"model {name!r}: no {F.OUT_PIXELS!r} output in {F.EXAMPLE_SIGNATURE!r}")
    if out.get("dtype") != "DT_UINT16":
        raise ValueError(f"model {name!r} is not a CT model: its {F.OUT_PIXELS!r} output is "
                         f"{out.get('dtype')}, a CT generator returns DT_UINT16 (HU + 32768)")
    dims = [int(d.get("size", -1)) for d in out.get("tensor_shape", {}).get("dim", [])]
    if len(dims) != 4 or min(dims[1:]) < 1 or dims[3] != 1:
        raise ValueError(f"model {name!r}: {F.OUT_PIXELS!r} has shape {dims}; expected "
                         "[batch, height, width, 1] with a known height and width")
    version = metadata.get("model_spec", {}).get("version")
    return ServedModel(name, int(version) if version not in (None, "") else None,
                       (dims[1], dims[2]))


def tile_examples(tiles: np.ndarray, value_scale: float, value_offset: float) -> np.ndarray:
    """Stored-value tiles [N, th, tw] uint16 -> serialized tf.Examples [N].

    The ingestion contract (:mod:`trainer.features`; byte for byte what
    ``tfx_pipeline.ingest.records.to_example_bytes`` writes for a CT record of
    the tile, which a test checks): a lossless 16-bit PNG of the stored
    values with their rescale, so the served Transform graph computes HU exactly.
    """
    import tensorflow as tf

    b, i, f = F.bytes_feature, F.int64_feature, F.float_feature

    out = []
    for n, t in enumerate(tiles):
        t = np.ascontiguousarray(t, dtype=np.uint16)[:, :, None]  # [th, tw, 1]
        feats = {F.key(F.INPUT, F.ENCODED): b(tf.io.encode_png(t).numpy()),
                 F.key(F.INPUT, F.HEIGHT): i(t.shape[0]), F.key(F.INPUT, F.WIDTH): i(t.shape[1]),
                 F.key(F.INPUT, F.CHANNELS): i(1), F.key(F.INPUT, F.BIT_DEPTH): i(16),
                 F.key(F.INPUT, F.VALUE_OFFSET): f(value_offset),
                 F.key(F.INPUT, F.VALUE_SCALE): f(value_scale),
                 F.ID: b(f"tile/{n}".encode("utf-8")), F.LABEL: i(F.NO_LABEL),
                 F.MODALITY: b(CT_MODALITY.encode("utf-8"))}
        example = tf.train.Example(features=tf.train.Features(feature=feats))
        out.append(example.SerializeToString(deterministic=True))
    return np.array(out, dtype=object)


def denoise_slice(sl: Slice, predict: Callable[[np.ndarray], np.ndarray],
                  tile: tuple[int, int], *, batch_size: int = 8,
                  overlap: tuple[int, int] | None = None) -> np.ndarray:
    """One slice through ``predict`` (examples [N] -> pixels [N, th, tw, 1] uint16); HU [H, W]."""
    def model(stored_tiles):
        pixels = np.asarray(predict(tile_examples(stored_tiles, sl.value_scale, sl.value_offset)))
        return pixels[..., 0].astype(np.float64) + F.CT_STORAGE_OFFSET  # HU + 32768 -> HU
    return apply_tiled(sl.stored, tile, model, batch_size=batch_size, overlap=overlap)


# ------------------------------------------------------------------ writing
def bits_for(values: np.ndarray) -> int:
    """BitsStored for signed integers ``values``: two's complement, at least MIN_BITS_STORED."""
    lo, hi = int(np.min(values)), int(np.max(values))
    bits = MIN_BITS_STORED
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    if bits > 16:
        raise ValueError(f"HU range [{lo}, {hi}] does not fit 16-bit signed pixels")
    return bits


@dataclasses.dataclass(frozen=True)
class Provenance:
    model: str
    version: int | None
    tile: tuple[int, int]
    overlap: tuple[int, int]

    @property
    def model_label(self) -> str:
        return f"{self.model} v{self.version}" if self.version is not None else self.model


def derived_dataset(source, hu: np.ndarray, *, series_uid: str, instance_number: int,
                    bits_stored: int, provenance: Provenance, when: datetime.datetime):
    """The derived slice: ``source``'s header with new UIDs, HU pixels and provenance."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

    hu = np.asarray(hu)
    if hu.dtype != np.int16:
        raise ValueError(f"derived pixels must be int16 HU, got {hu.dtype}")
    ds = copy.deepcopy(source)
    ds.remove_private_tags()
    for tag in (*_STALE_TAGS, "PixelData"):
        if tag in ds:
            delattr(ds, tag)
    sop_uid = generate_uid()
    ds.SOPInstanceUID = sop_uid
    ds.SeriesInstanceUID = series_uid
    ds.InstanceNumber = instance_number
    ds.SeriesNumber = int(getattr(source, "SeriesNumber", 0) or 0) + SERIES_NUMBER_OFFSET
    old_type = list(getattr(source, "ImageType", []) or [])
    ds.ImageType = ["DERIVED", "SECONDARY", *[str(v) for v in old_type[2:]]]
    label = provenance.model_label
    source_desc = str(getattr(source, "SeriesDescription", "") or "")
    ds.SeriesDescription = (f"{label} denoised" + (f": {source_desc}" if source_desc else ""))[:64]
    ds.DerivationDescription = (
        f"Denoised by the TF Serving model {provenance.model} version "
        f"{provenance.version if provenance.version is not None else 'unknown'} "
        f"(signature {F.EXAMPLE_SIGNATURE}, tfxgan predict --dicom) from series "
        f"{source.SeriesInstanceUID}, image {source.SOPInstanceUID}; "
        f"{provenance.tile[0]}x{provenance.tile[1]} tiles overlapping by "
        f"{provenance.overlap[0]}x{provenance.overlap[1]} px, raised-cosine blending")[:1024]
    ref = Dataset()
    ref.ReferencedSOPClassUID = source.SOPClassUID
    ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
    ds.SourceImageSequence = pydicom.Sequence([ref])
    date, time = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
    ds.SeriesDate = ds.ContentDate = ds.InstanceCreationDate = date
    ds.SeriesTime = ds.ContentTime = ds.InstanceCreationTime = time
    # Image pixel module: signed HU, slope 1, intercept 0.
    rows, cols = hu.shape
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = str(getattr(source, "PhotometricInterpretation", "MONOCHROME2"))
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 1
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = np.ascontiguousarray(hu, dtype="<i2").tobytes()
    ds["PixelData"].VR = "OW"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = source.SOPClassUID
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    return ds


def _publish(tmp: Path, out_dir: Path) -> None:
    """Move the finished ``tmp`` folder to ``out_dir`` (an absent or empty folder)."""
    if out_dir.exists():
        out_dir.rmdir()  # empty (checked before any work); fails loudly if something appeared
    os.rename(tmp, out_dir)


def check_output_dir(out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DicomSeriesError(f"output {out} exists and is not an empty directory; "
                               "choose a new one (a derived series is never merged into files)")
    return out


def write_series(slices: Sequence[Slice], hu: Sequence[np.ndarray], out_dir: str | os.PathLike,
                 provenance: Provenance) -> list[Path]:
    """Write the derived series to ``out_dir`` all at once (nothing there on failure).

    ``hu`` holds one [H, W] HU image per slice (rounded to integers here).
    """
    from pydicom.uid import generate_uid

    if len(slices) != len(hu):
        raise ValueError(f"{len(slices)} slices but {len(hu)} HU images")
    out = check_output_dir(out_dir)
    images = []
    for sl, img in zip(slices, hu):
        img = np.asarray(img)
        if img.shape != sl.stored.shape:
            raise ValueError(f"{sl.path}: HU image {img.shape} != slice {sl.stored.shape}")
        images.append(np.clip(np.rint(img), -32768, 32767).astype(np.int16))
    bits = bits_for(np.stack([(i.min(), i.max()) for i in images]))
    series_uid = generate_uid()
    when = datetime.datetime.now()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        names = []
        for i, (sl, img) in enumerate(zip(slices, images)):
            ds = derived_dataset(sl.dataset, img, series_uid=series_uid, instance_number=i + 1,
                                 bits_stored=bits, provenance=provenance, when=when)
            name = f"slice_{i + 1:04d}.dcm"
            ds.save_as(str(tmp / name), write_like_original=False)
            names.append(name)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / n for n in names]


# ------------------------------------------------------------ end to end
def predict_series(client, model: str, series_dir: str | os.PathLike,
                   out_dir: str | os.PathLike, *, version: int | None = None,
                   label: str | None = None, batch_size: int = 8,
                   overlap: int | None = None) -> list[Path]:
    """Denoise the CT series in ``series_dir`` with the served ``model``; write ``out_dir``.

    The version is resolved once (GetModelMetadata) and pinned for every
    request, so a version switch on the server mid-series cannot mix models.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    check_output_dir(out_dir)
    slices = read_series(series_dir)
    served = served_model(client.get_model_metadata(model, version=version, label=label), model)
    th, tw = served.tile
    if overlap is None:
        ov = (int(th * DEFAULT_OVERLAP_FRACTION), int(tw * DEFAULT_OVERLAP_FRACTION))
    else:
        if not 0 <= overlap < min(th, tw):
            raise ValueError(f"overlap must be in [0, {min(th, tw)}) for a {th}x{tw} model, "
                             f"got {overlap}")
        ov = (overlap, overlap)
    pin = dict(version=served.version) if served.version is not None else \
        dict(version=version, label=label)

    def predict(examples):
        return client.predict(model, {F.IN_EXAMPLES: examples}, signature=served.signature,
                              output_filter=[F.OUT_PIXELS], **pin)[F.OUT_PIXELS]

    hu = [denoise_slice(sl, predict, served.tile, batch_size=batch_size, overlap=ov)
          for sl in slices]
    return write_series(slices, hu, out_dir, Provenance(model, served.version, served.tile, ov))

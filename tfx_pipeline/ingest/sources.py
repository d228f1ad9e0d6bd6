"""Input sources for `tfxgan ingest`: each yields Items (id + loader) and upfront skips.

* :func:`image_folder` - a folder of images (or DICOM files / series), recursively;
* :func:`paired_folders` - two folders matched by relative path (extension ignored);
* :func:`idx_files` - MNIST IDX image (+ label) files, raw or gzip;
* :func:`npz_file` - NumPy ``.npz`` arrays.
"""
from __future__ import annotations

import gzip
import os
import struct
import numpy as np

from trainer import features as F
from tfx_pipeline.ingest import decode as D
from tfx_pipeline.ingest.records import Record
from tfx_pipeline.ingest.writer import Item, Skipped

SOURCE_EXT = D.IMAGE_EXT + D.DICOM_EXT


def printable_name(rel: str) -> str:
    """``rel`` with bytes that are not UTF-8 shown as ``\\xNN`` (for ids of skipped files)."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _walk(root: str) -> tuple[list[str], list[Skipped]]:
    """Relative paths of the regular files under ``root``, sorted, and the entries skipped.

    Hidden entries are ignored. Symlinks are followed; dangling or looping ones,
    FIFOs, sockets and devices, names that are not valid UTF-8 (record ids are
    UTF-8) and folders that cannot be listed become skips with their reason.
    Nothing is opened here: ``os.stat`` decides.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"input folder not found: {root}")
    files, skipped = [], []

    def unlistable(err: OSError) -> None:
        rel = os.path.relpath(err.filename, root) if err.filename else "."
        skipped.append(Skipped(printable_name(rel), f"cannot list folder: {err.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable):
        kept = []
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            if os.path.islink(os.path.join(dirpath, name)):  # os.walk would drop it silently
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                skipped.append(Skipped(printable_name(rel), "symlink to a folder (not followed)"))
            else:
                kept.append(name)
        dirnames[:] = kept
        for name in filenames:
            if name.startswith("."):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                skipped.append(Skipped(printable_name(rel), "file name is not valid UTF-8 "
                                       "(record ids must be UTF-8; rename the file)"))
                continue
            try:
                D.stat_regular(os.path.join(root, rel))
            except D.BadInput as err:
                skipped.append(Skipped(rel, str(err)))
                continue
            files.append(rel)
    return sorted(files), sorted(skipped, key=lambda s: s.id)


def _is_dicom_without_ext(path: str) -> bool:
    """DICOM series often have no extension: look for the 'DICM' preamble marker."""
    try:
        with D.open_regular(path) as fh:
            head = fh.read(132)
    except (D.BadInput, OSError):
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def image_folder(root: str, modality: str | None = None,
                 max_pixels: int = D.DEFAULT_MAX_PIXELS) -> tuple[list[Item], list[Skipped]]:
    """Every image / DICOM file under ``root`` -> role ``image``; id = relative path.

    Images whose header declares more than ``max_pixels`` pixels are skipped
    before decoding.
    """
    D.validate_max_pixels(max_pixels)
    rels, skipped = _walk(root)
    items = []
    for rel in rels:
        path = os.path.join(root, rel)
        ext = os.path.splitext(rel)[1].lower()
        if ext not in SOURCE_EXT and not (ext == "" and _is_dicom_without_ext(path)):
            skipped.append(Skipped(rel, f"unsupported file type {ext or '(no extension)'!r}"))
            continue
        reader = D.read_dicom if ext in D.DICOM_EXT or ext == "" else D.read_image

        def load(path=path, rel=rel, reader=reader):
            img = reader(path, max_pixels)
            return Record(rel, {F.IMAGE: img}, modality=modality or img.modality)
        items.append(Item(rel, load))
    return items, skipped


def paired_folders(input_root: str, target_root: str, *, scale: int = 1,
                   modality: str | None = None,
                   max_pixels: int = D.DEFAULT_MAX_PIXELS) -> tuple[list[Item], list[Skipped]]:
    """Pairs matched by relative path without extension; target = ``scale`` x input size.

    When several files in one folder share a path without extension (``a.jpg``,
    ``a.png``), the first in sorted order is paired and the others are skipped.
    """
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    D.validate_max_pixels(max_pixels)

    def index(root):
        idx, skipped = {}, []
        rels, unusable = _walk(root)
        skipped += [Skipped(f"{root}:{s.id}", s.reason) for s in unusable]
        for rel in rels:  # sorted: the first file of a stem is paired, the others are skipped
            stem = os.path.splitext(rel)[0]
            if stem in idx:
                skipped.append(Skipped(f"{root}:{rel}", f"two files share this name (extension "
                                       f"differs); paired {idx[stem]!r} instead"))
            else:
                idx[stem] = rel
        return idx, skipped

    inputs, skipped_in = index(input_root)
    targets, skipped_t = index(target_root)
    skipped = skipped_in + skipped_t
    for stem in sorted(set(inputs) - set(targets)):
        skipped.append(Skipped(inputs[stem], f"unmatched: no file {stem}.* in {target_root}"))
    for stem in sorted(set(targets) - set(inputs)):
        skipped.append(Skipped(targets[stem], f"unmatched: no file {stem}.* in {input_root}"))
    items = []
    for stem in sorted(set(inputs) & set(targets)):
        a, b = os.path.join(input_root, inputs[stem]), os.path.join(target_root, targets[stem])

        def load(a=a, b=b, stem=stem):
            x, y = D.read_any(a, max_pixels), D.read_any(b, max_pixels)
            (h, w, c), (th, tw, tc) = x.pixels.shape, y.pixels.shape
            if (th, tw) != (h * scale, w * scale):
                raise BadPair(f"size mismatch: input {h}x{w}, target {th}x{tw} "
                              f"(expected target = {scale} x input = {h * scale}x{w * scale})")
            if c != tc:
                raise BadPair(f"channel mismatch: input has {c}, target has {tc}")
            return Record(stem, {F.INPUT: x, F.TARGET: y}, modality=modality or y.modality)
        items.append(Item(stem, load))
    return items, skipped


class BadPair(D.BadInput):
    pass


# ------------------------------------------------------------------ MNIST IDX
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (http://yann.lecun.com/exdb/mnist/ format), raw or gzip."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"cannot read IDX file {path}: {err}") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4].hex()})")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = data[4 + 4 * ndim:]
    if len(body) != expected:
        raise ValueError(f"IDX file {path} is truncated or padded: header says {dims} "
                         f"({expected} bytes of data), found {len(body)} bytes")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _array_items(images: np.ndarray, labels: np.ndarray | None, prefix: str,
                 modality: str, max_pixels: int) -> tuple[list[Item], list[Skipped]]:
    D.validate_max_pixels(max_pixels)
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{prefix}: {len(images)} images but {len(labels)} labels")
    items, skipped = [], []
    width = len(str(max(len(images) - 1, 0)))
    for n in range(len(images)):
        rid = f"{prefix}/{n:0{width}d}"

        def load(n=n, rid=rid):
            D.check_declared_size("array", images.shape[2], images.shape[1], max_pixels)
            pixels = D.check_pixels(np.ascontiguousarray(images[n]), rid)
            label = int(labels[n]) if labels is not None else F.NO_LABEL
            return Record(rid, {F.IMAGE: D.Decoded(pixels, modality=modality)}, label=label)
        items.append(Item(rid, load))
    return items, skipped


def idx_files(images_path: str, labels_path: str | None = None, modality: str = "digit",
              max_pixels: int = D.DEFAULT_MAX_PIXELS) -> tuple[list[Item], list[Skipped]]:
    images = read_idx(images_path)
    if images.ndim != 3:
        raise ValueError(f"IDX images must be [N, H, W], got shape {images.shape}")
    labels = read_idx(labels_path) if labels_path else None
    name = os.path.basename(images_path).split(".")[0]
    return _array_items(images, labels, name, modality, max_pixels)


def npz_file(path: str, images_key: str | None = None, labels_key: str | None = None,
             modality: str = "other",
             max_pixels: int = D.DEFAULT_MAX_PIXELS) -> tuple[list[Item], list[Skipped]]:
    """Images from a ``.npz`` ([N, H, W] or [N, H, W, C], uint8/uint16)."""
    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read npz file {path}: {err}") from None
    keys = list(arrays.keys())
    images_key = images_key or next((k for k in ("images", "x", "x_train") if k in keys), None)
    if images_key is None or images_key not in keys:
        raise ValueError(f"{path}: no images array (looked for {images_key or 'images, x, x_train'}; "
                         f"found {keys}); name it with --images-key")
    if labels_key is None:
        labels_key = next((k for k in ("labels", "y", "y_train") if k in keys), None)
    elif labels_key not in keys:
        raise ValueError(f"{path}: no array {labels_key!r}; found {keys}")
    images = arrays[images_key]
    if images.ndim not in (3, 4):
        raise ValueError(f"{path}:{images_key} must be [N, H, W] or [N, H, W, C], got {images.shape}")
    labels = arrays[labels_key] if labels_key else None
    name = os.path.splitext(os.path.basename(path))[0]
    return _array_items(images, labels, name, modality, max_pixels)


"""Run a model of a fixed input size over images of any size.

Dimensions smaller than the model's input are reflect-padded (centred) and
cropped back; larger ones are cut into tiles of the model's size, evenly
spread, neighbours overlapping by at least ``overlap`` pixels, and blended
with raised-cosine weights across each overlap (1 elsewhere). Neighbours'
weights sum to one, so an identity model gives the input back exactly, a
pointwise model gives the whole-image result, and a constant image stays
constant: no seams. Used by ``tfxgan predict --dicom`` and the pipeline's
bulk inference.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import numpy as np

DEFAULT_OVERLAP_FRACTION = 0.25   # tile overlap as a fraction of the model's input size


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``length`` >= ``tile`` pixels,
    evenly spread, neighbours overlapping by at least ``overlap``."""
    if tile < 1 or length < tile:
        raise ValueError(f"need 1 <= tile <= length, got tile {tile}, length {length}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, {tile}), got {overlap}")
    if length == tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    n = max(n, 2)
    return [int(round(i * (length - tile) / (n - 1))) for i in range(n)]


def _ramp(n: int) -> np.ndarray:
    """Raised-cosine ramp of ``n`` samples rising from ~0 to ~1; ramp + reversed ramp = 1."""
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)


def tile_weights(starts: Sequence[int], tile: int) -> list[np.ndarray]:
    """1-D blending weights per tile: 1 inside, raised-cosine ramps across each overlap."""
    out = []
    for k, s in enumerate(starts):
        w = np.ones(tile)
        if k > 0:
            o = starts[k - 1] + tile - s
            if o > 0:
                w[:o] *= _ramp(o)
        if k + 1 < len(starts):
            o = s + tile - starts[k + 1]
            if o > 0:
                w[tile - o:] *= _ramp(o)[::-1]
        out.append(w)
    return out


@dataclasses.dataclass(frozen=True)
class TileLayout:
    """Where the tiles of one (padded) image go."""
    shape: tuple[int, ...]                 # padded image [H, W(, C)]
    crop: tuple[int, int, int, int]        # (top, left, height, width) of the original image
    tile: tuple[int, int]                  # model input (th, tw)
    origins: tuple[tuple[int, int], ...]   # (y, x) per tile, row-major
    weights: tuple[np.ndarray, ...]        # [th, tw] per tile


def pad_amounts(size: int, tile: int) -> tuple[int, int]:
    extra = max(0, tile - size)
    return extra // 2, extra - extra // 2


def tile_image(image: np.ndarray, tile: tuple[int, int],
               overlap: tuple[int, int] | None = None) -> tuple[np.ndarray, TileLayout]:
    """[H, W] or [H, W, C] image -> tiles [N, th, tw(, C)] and their layout.

    Dimensions smaller than the tile are reflect-padded (centred);
    ``overlap`` defaults to a quarter of the tile.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an [H, W] or [H, W, C] image, got shape {image.shape}")
    th, tw = (int(v) for v in tile)
    if overlap is None:
        overlap = (int(th * DEFAULT_OVERLAP_FRACTION), int(tw * DEFAULT_OVERLAP_FRACTION))
    (top, bottom), (left, right) = pad_amounts(image.shape[0], th), pad_amounts(image.shape[1], tw)
    channels = ((0, 0),) * (image.ndim - 2)
    padded = np.pad(image, ((top, bottom), (left, right), *channels), mode="reflect") \
        if top or bottom or left or right else image
    ys = tile_starts(padded.shape[0], th, overlap[0])
    xs = tile_starts(padded.shape[1], tw, overlap[1])
    wy, wx = tile_weights(ys, th), tile_weights(xs, tw)
    origins, weights, tiles = [], [], []
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            origins.append((y, x))
            weights.append(np.outer(wy[i], wx[j]))
            tiles.append(padded[y:y + th, x:x + tw])
    layout = TileLayout(padded.shape, (top, left, image.shape[0], image.shape[1]), (th, tw),
                        tuple(origins), tuple(weights))
    return np.stack(tiles), layout  # [N, th, tw(, C)]


def blend(tiles: np.ndarray, layout: TileLayout) -> np.ndarray:
    """Tiles [N, th, tw(, C)] (model outputs) -> the original image's [H, W(, C)] float64
    (weighted mean)."""
    tiles = np.asarray(tiles, dtype=np.float64)
    want = (len(layout.origins), *layout.tile, *layout.shape[2:])
    if tiles.shape != want:
        raise ValueError(f"expected tiles of shape {want}, got {tiles.shape}")
    acc = np.zeros(layout.shape)
    total = np.zeros(layout.shape[:2])
    th, tw = layout.tile
    for t, (y, x), w in zip(tiles, layout.origins, layout.weights):
        acc[y:y + th, x:x + tw] += (w if t.ndim == 2 else w[:, :, None]) * t
        total[y:y + th, x:x + tw] += w
    if acc.ndim == 3:
        total = total[:, :, None]
    top, left, h, w = layout.crop
    return (acc / total)[top:top + h, left:left + w]


def apply_tiled(image: np.ndarray, tile: tuple[int, int],
                model: Callable[[np.ndarray], np.ndarray], *, batch_size: int = 8,
                overlap: tuple[int, int] | None = None) -> np.ndarray:
    """Run ``model`` (tiles [N, th, tw(, C)] -> the same shape) over an image of any size."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    tiles, layout = tile_image(image, tile, overlap)
    outs = [np.asarray(model(tiles[i:i + batch_size])) for i in range(0, len(tiles), batch_size)]
    return blend(np.concatenate(outs), layout)

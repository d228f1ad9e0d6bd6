"""Real datasets that ship inside installed packages, built offline into spans.

=============  =========================================================  ==================
dataset        made from                                                  roles
=============  =========================================================  ==================
``digits``     scikit-learn ``load_digits`` (1,797 real 8x8 digits),       image (+ label)
               upscaled to 28x28
``ct``         real CT slices from pydicom's test data (HU) and            input (low dose),
               scikit-image's Shepp-Logan phantom; augmented crops /       target (normal
               flips / rotations; low dose simulated on the projections;   dose)
               eval from a slice never trained on
``inpainting`` crops of scikit-image's and scikit-learn's photographs and  image
               LFW face crops (train and eval from different photographs
               and faces)
``sr``         crops of the same photographs (HR) and their bicubic        input (LR),
               x``scale`` down-sampled versions (LR)                       target (HR)
=============  =========================================================  ==================

Every item draws from its own ``numpy`` generator seeded with ``(seed,
index)``, so a dataset is identical whatever the thread count. Provenance and
licences are listed in README.md ("Bundled datasets").
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np

from trainer import features as F
from tfx_pipeline.ingest.decode import Decoded
from tfx_pipeline.ingest.records import Record, split_of
from tfx_pipeline.ingest.writer import Item

# Water's linear attenuation at ~70 keV, per mm: HU = 1000 (mu - mu_w) / mu_w.
MU_WATER_PER_MM = 0.0192
PHANTOM_FOV_MM = 256.0   # the phantom drawn as a 256 mm head


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    count: int | None = None       # number of records (None: the dataset's default)
    size: int | None = None        # output side in pixels (HR side for sr)
    seed: int = 0                  # base seed of every random draw
    dose_fraction: float = 0.25    # ct: low-dose photons / full-dose photons
    photons: float = 2.0e4         # ct: full-dose photons per detector ray (I0)
    scale: int = 4                 # sr: HR side / LR side
    eval_fraction: float = 0.2     # inpainting, sr: share of records cropped from eval photos


DEFAULTS = {  # dataset -> (count, size): small enough for a quick run on 2 CPU cores
    "digits": (1797, 28),
    "ct": (160, 64),
    "inpainting": (256, 64),
    "sr": (256, 64),
}


def _resize(img: np.ndarray, size: tuple[int, int], method: str = "bilinear") -> np.ndarray:
    """Resize float [H, W, C] with tf.image (antialiased when shrinking)."""
    import tensorflow as tf
    return tf.image.resize(img, size, method=method, antialias=True).numpy()


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------- digits
def _split(dataset: str, n: int, opts: DemoOptions) -> str:
    return split_of(f"{dataset}/{n:04d}", opts.eval_fraction)


def digits_items(opts: DemoOptions) -> list[Item]:
    from sklearn.datasets import load_digits
    count, size = opts.count or DEFAULTS["digits"][0], opts.size or DEFAULTS["digits"][1]
    bunch = load_digits()
    if count > len(bunch.images):
        raise ValueError(f"digits has {len(bunch.images)} images; asked for {count}")
    images = bunch.images[:count] * (255.0 / 16.0)  # [N, 8, 8] in 0..16 -> 0..255

    def make(n):
        rid = f"digits/{n:04d}"

        def load():
            pixels = _to_uint8(_resize(images[n][:, :, None], (size, size)))  # [size, size, 1]
            return Record(rid, {F.IMAGE: Decoded(pixels, modality="digit")},
                          label=int(bunch.target[n]))
        return Item(rid, load)
    return [make(n) for n in range(count)]


# -------------------------------------------------------------------------- ct
# A CT source is either trained on or evaluated on, never both (as the photographs
# below): the eval split measures denoising of anatomy the generator has not seen.
TRAIN_CT = ("ct_small", "shepp_logan", "cq500_head")
EVAL_CT = ("head_skull_base",)
_CT_FILES = {"ct_small": "CT_small.dcm", "cq500_head": "693_J2KI.dcm",
             "head_skull_base": "J2K_pixelrep_mismatch.dcm"}


def ct_sources(split: str = "train") -> list[tuple[str, np.ndarray, float]]:
    """(name, HU image, field of view in mm) for ``split``: real CT slices from pydicom's
    test data and, for training, the Shepp-Logan phantom. Values below air (the padding
    outside a scanner's field of view) are set to air, -1000 HU."""
    import pydicom
    from pydicom.data import get_testdata_file
    from skimage.data import shepp_logan_phantom
    if split not in F.SPLITS:
        raise ValueError(f"split must be one of {F.SPLITS}, received {split!r}")

    def load(name):
        if name == "shepp_logan":  # intensities 0..1 mapped to -1000 (air) .. +1000 HU (bone)
            return name, shepp_logan_phantom() * 2000.0 - 1000.0, PHANTOM_FOV_MM
        ds = pydicom.dcmread(get_testdata_file(_CT_FILES[name]))
        hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(
            ds.RescaleIntercept)
        return name, np.maximum(hu, -1000.0), float(ds.PixelSpacing[1]) * hu.shape[1]
    return [load(name) for name in (TRAIN_CT if split == "train" else EVAL_CT)]


def augment(img: np.ndarray, size: int, rng: np.random.Generator,
            fill: float) -> tuple[np.ndarray, float]:
    """Random square crop (50-100% of the side), flips, rotation, resize to ``size``.

    Returns the image and the crop's side as a fraction of the source's.
    """
    from skimage.transform import rotate
    h, w = img.shape[:2]
    side = int(rng.uniform(0.5, 1.0) * min(h, w))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = img[y:y + side, x:x + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1, :]
    crop = rotate(crop, rng.uniform(-30, 30), mode="constant", cval=fill, preserve_range=True)
    if crop.ndim == 2:
        crop = crop[:, :, None]
    out = _resize(np.ascontiguousarray(crop, dtype=np.float32), (size, size))[:, :, 0]
    return out, side / min(h, w)


def simulate_low_dose(hu: np.ndarray, rng: np.random.Generator, *, dose_fraction: float,
                      photons: float, fov_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(low-dose HU, normal-dose HU) for a square HU image.

    Physics: mu = mu_water (1 + HU/1000); line integrals p = radon(mu) * pixel
    size; detected counts I ~ Poisson(I0 * d * exp(-p)) (Beer-Lambert); the
    noisy integrals -log(I / (I0 d)) are reconstructed with filtered
    back-projection (ramp filter). Normal dose is the FBP of the noise-free
    integrals, so the pair differs only by dose noise, not by reconstruction.
    """
    from skimage.transform import iradon, radon
    if not 0.0 < dose_fraction <= 1.0:
        raise ValueError(f"dose_fraction must be in (0, 1], got {dose_fraction}")
    n = hu.shape[0]
    pixel_mm = fov_mm / n
    mu = np.clip(MU_WATER_PER_MM * (1.0 + hu / 1000.0), 0.0, None) * pixel_mm  # per pixel
    theta = np.linspace(0.0, 180.0, max(n, 32), endpoint=False)
    sino = radon(mu, theta=theta, circle=False)              # [detectors, angles]
    expected = photons * dose_fraction * np.exp(-sino)
    counts = np.maximum(rng.poisson(expected), 1.0)          # no zero counts (log)
    noisy = -np.log(counts / (photons * dose_fraction))

    def fbp(s):
        mu_img = iradon(s, theta=theta, circle=False, output_size=n, filter_name="ramp")
        return 1000.0 * (mu_img / pixel_mm / MU_WATER_PER_MM - 1.0)
    return fbp(noisy), fbp(sino)


def _hu_decoded(hu: np.ndarray) -> Decoded:
    stored = np.clip(np.round(hu) - F.CT_STORAGE_OFFSET, 0, 65535).astype(np.uint16)
    return Decoded(stored[:, :, None], value_offset=F.CT_STORAGE_OFFSET, modality="CT")


def ct_items(opts: DemoOptions) -> list[Item]:
    count, size = opts.count or DEFAULTS["ct"][0], opts.size or DEFAULTS["ct"][1]
    sources = {s: ct_sources(s) for s in F.SPLITS}

    def make(n):
        split = _split("ct", n, opts)
        name, hu, fov_mm = sources[split][n % len(sources[split])]
        rid = f"ct/{name}/{n:04d}"

        def load():
            rng = np.random.default_rng([opts.seed, n])
            clean, fraction = augment(hu, size, rng, fill=-1000.0)
            low, normal = simulate_low_dose(clean, rng, dose_fraction=opts.dose_fraction,
                                            photons=opts.photons, fov_mm=fov_mm * fraction)
            return Record(rid, {F.INPUT: _hu_decoded(low), F.TARGET: _hu_decoded(normal)},
                          modality="CT")
        return Item(rid, load, split=split)
    return [make(n) for n in range(count)]


# ------------------------------------------------------------ photographs
# Crops of one photograph look alike, so a photograph is either trained on or
# evaluated on, never both: the eval split measures photographs the generator
# has not seen. Records are assigned to a split by a hash of their index (the
# share is ``eval_fraction``), then cropped from that split's photographs.
TRAIN_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")
EVAL_PHOTOS = ("china", "flower", "camera", "coins")
FACES = 100           # lfw_subset's first 100 images are faces (the rest background patches)
EVAL_FACES = 20       # faces[-20:] are evaluated on, the others trained on


def photo_sources(split: str = "train") -> list[tuple[str, np.ndarray]]:
    """(name, RGB uint8 photograph) for ``split``: scikit-image's and scikit-learn's photos."""
    import skimage.data as sd
    from sklearn.datasets import load_sample_images

    if split not in F.SPLITS:
        raise ValueError(f"split must be one of {F.SPLITS}, received {split!r}")
    names = TRAIN_PHOTOS if split == "train" else EVAL_PHOTOS
    samples = {}  # scikit-learn's sample photographs, decoded once
    if {"china", "flower"} & set(names):
        bundle = load_sample_images()
        samples = {os.path.basename(f)[:-4]: im for f, im in zip(bundle.filenames, bundle.images)}

    def load(name):
        if name in samples:
            return samples[name]
        photo = getattr(sd, name)()
        return np.repeat(photo[:, :, None], 3, axis=-1) if photo.ndim == 2 else photo[:, :, :3]
    return [(name, load(name)) for name in names]


def random_photo_crop(photo: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop of 1-3x ``side`` pixels, flipped at random, resized to ``side``."""
    h, w = photo.shape[:2]
    crop_side = int(min(h, w, side * rng.uniform(1.0, 3.0)))
    y, x = rng.integers(0, h - crop_side + 1), rng.integers(0, w - crop_side + 1)
    crop = photo[y:y + crop_side, x:x + crop_side].astype(np.float32)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return _resize(np.ascontiguousarray(crop), (side, side))


def inpainting_items(opts: DemoOptions) -> list[Item]:
    from skimage.data import lfw_subset
    count, size = opts.count or DEFAULTS["inpainting"][0], opts.size or DEFAULTS["inpainting"][1]
    photos = {s: photo_sources(s) for s in F.SPLITS}
    faces = lfw_subset()[:FACES]  # [100, 25, 25] float in [0, 1], grayscale
    face_pool = {"train": faces[:-EVAL_FACES], "eval": faces[-EVAL_FACES:]}

    def make(n):
        split = _split("inpainting", n, opts)
        if n % 4 == 3:  # every fourth record is a face
            pool = face_pool[split]
            k = (n // 4) % len(pool)
            rid = f"inpainting/lfw/{n:04d}"

            def load():
                face = pool[k][:, :, None].astype(np.float32) * 255.0      # [25, 25, 1]
                rgb = np.repeat(_resize(face, (size, size)), 3, axis=-1)   # [S, S, 3]
                return Record(rid, {F.IMAGE: Decoded(_to_uint8(rgb), modality="photo")})
        else:
            m = n - (n + 1) // 4  # the record's place among the photograph records
            name, photo = photos[split][m % len(photos[split])]
            rid = f"inpainting/{name}/{n:04d}"

            def load():
                rng = np.random.default_rng([opts.seed, n])
                crop = random_photo_crop(photo, size, rng)
                return Record(rid, {F.IMAGE: Decoded(_to_uint8(crop), modality="photo")})
        return Item(rid, load, split=split)
    return [make(n) for n in range(count)]


# -------------------------------------------------------------------------- sr
def sr_items(opts: DemoOptions) -> list[Item]:
    count, size = opts.count or DEFAULTS["sr"][0], opts.size or DEFAULTS["sr"][1]
    if size % opts.scale:
        raise ValueError(f"sr size {size} must be a multiple of scale {opts.scale}")
    photos = {s: photo_sources(s) for s in F.SPLITS}

    def make(n):
        split = _split("sr", n, opts)
        name, photo = photos[split][n % len(photos[split])]
        rid = f"sr/{name}/{n:04d}"

        def load():
            rng = np.random.default_rng([opts.seed, n])
            hr = _to_uint8(random_photo_crop(photo, size, rng))                    # [S, S, 3]
            lr = _resize(hr.astype(np.float32), (size // opts.scale,) * 2, "bicubic")
            return Record(rid, {F.INPUT: Decoded(_to_uint8(lr), modality="photo"),
                                F.TARGET: Decoded(hr, modality="photo")})
        return Item(rid, load, split=split)
    return [make(n) for n in range(count)]


DATASETS: dict[str, Callable[[DemoOptions], list[Item]]] = {
    "digits": digits_items,
    "ct": ct_items,
    "inpainting": inpainting_items,
    "sr": sr_items,
}


def items_for(name: str, opts: DemoOptions) -> list[Item]:
    try:
        return DATASETS[name](opts)
    except KeyError:
        raise ValueError(f"unknown demo dataset {name!r}; known: {', '.join(DATASETS)}") from None

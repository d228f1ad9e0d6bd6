"""Writers of real image files in every format ingestion supports (test support)."""
import os

import numpy as np


def rand_image(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    hi = 65535 if dtype == np.uint16 else 255
    return rng.integers(0, hi + 1, size=shape, dtype=np.int64).astype(dtype)


def write_png(path, arr):
    import tensorflow as tf
    with open(path, "wb") as fh:
        fh.write(tf.io.encode_png(arr if arr.ndim == 3 else arr[:, :, None]).numpy())


def write_file(path, arr, fmt):
    """Write ``arr`` in ``fmt``; returns the pixels a lossless decoder must give back."""
    from PIL import Image
    os.makedirs(os.path.dirname(path), exist_ok=True)
    a3 = arr if arr.ndim == 3 else arr[:, :, None]
    if fmt == "png":
        write_png(path, a3)
        return a3
    if fmt == "tiff":
        import tifffile
        tifffile.imwrite(path, arr)
        return a3
    if fmt == "bmp":
        Image.fromarray(arr if arr.ndim == 2 else arr).save(path, format="BMP")
        return a3
    if fmt == "jpeg":
        import tensorflow as tf
        data = tf.io.encode_jpeg(a3, quality=95).numpy()
        with open(path, "wb") as fh:
            fh.write(data)
        return tf.io.decode_jpeg(data).numpy()  # lossy format: the stored pixels are the decoded ones
    raise ValueError(fmt)

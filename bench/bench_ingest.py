"""Ingestion throughput (images/s) on 1 and 2 worker threads, side by side.

    .venv/bin/python bench/bench_ingest.py [--images 1500] [--size 64]

Writes a folder of RGB PNGs (natural-image crops) and converts it with
``tfxgan ingest``'s writer, and builds the ``ct`` demo dataset (dominated by
the radon/iradon low-dose simulation), each with 1 and 2 workers.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import harness  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=1500)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--ct", type=int, default=160)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    import numpy as np
    import tensorflow as tf
    from tfx_pipeline.ingest import demo_data, sources
    from tfx_pipeline.ingest.writer import write_span

    work = tempfile.mkdtemp(prefix="bench_ingest_")
    try:
        src = os.path.join(work, "png")
        os.makedirs(src)
        photos = demo_data.photo_sources()
        for i in range(args.images):
            rng = np.random.default_rng(i)
            crop = demo_data.random_photo_crop(photos[i % len(photos)][1], args.size, rng)
            with open(os.path.join(src, f"{i:05d}.png"), "wb") as fh:
                fh.write(tf.io.encode_png(np.clip(crop, 0, 255).astype(np.uint8)).numpy())
        results = {"ceiling": harness.matmul_ceiling()}
        for workers in (1, 2):
            def folder():
                items, _ = sources.image_folder(src)
                write_span(items, os.path.join(work, "out"), workers=workers, progress=False)
            stats = harness.measure(folder, warmup=1, repeats=args.repeats)
            results[f"png_folder_{workers}w"] = stats.summary(per=args.images, unit="images/s")

            def ct():
                items = demo_data.ct_items(demo_data.DemoOptions(count=args.ct))
                write_span(items, os.path.join(work, "ct"), workers=workers, progress=False)
            stats = harness.measure(ct, warmup=1, repeats=args.repeats)
            results[f"ct_demo_{workers}w"] = stats.summary(per=args.ct, unit="pairs/s")
        results["config"] = vars(args)
        path = harness.save("ingest", results)
        print(json.dumps(results, indent=2))
        print(f"saved {path}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

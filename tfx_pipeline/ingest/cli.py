"""`tfxgan ingest` and `tfxgan demo-data`."""
from __future__ import annotations

import argparse
import logging
import os
import sys

log = logging.getLogger(__name__)


def add_commands(sub) -> None:
    from tfx_pipeline.ingest.decode import DEFAULT_MAX_PIXELS, TF_PNG_MAX_PIXELS
    p = sub.add_parser(
        "ingest", help="convert images / DICOM / MNIST IDX / .npz into TFRecord spans",
        description="Convert images into sharded tf.Example TFRecords under OUTPUT/Span-N/{train,eval}/ "
                    "(the layout ImportExampleGen reads). Bad inputs are skipped and reported.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", metavar="DIR", help="a folder of images or DICOM files (recursive)")
    src.add_argument("--pair", nargs=2, metavar=("INPUT_DIR", "TARGET_DIR"),
                     help="paired folders matched by relative path, e.g. low_dose/ normal_dose/")
    src.add_argument("--idx", metavar="IMAGES_IDX", help="MNIST IDX image file (raw or .gz)")
    src.add_argument("--npz", metavar="FILE", help="NumPy .npz with an images array")
    p.add_argument("--labels-idx", metavar="LABELS_IDX", help="MNIST IDX label file for --idx")
    p.add_argument("--images-key", help="array name of the images in --npz (default: images/x)")
    p.add_argument("--labels-key", help="array name of the labels in --npz (default: labels/y)")
    p.add_argument("--pair-scale", type=int, default=1,
                   help="target side / input side for --pair (4 for x4 super-resolution)")
    p.add_argument("--modality", choices=("CT", "MR", "photo", "digit", "other"),
                   help="modality to record (default: from DICOM, else 'other')")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="skip images whose header declares more than N pixels (width x height x "
                        f"frames), checked before decoding (default {DEFAULT_MAX_PIXELS} = 8192x8192; "
                        f"at most {TF_PNG_MAX_PIXELS}, TensorFlow's PNG decoding limit)")
    _common(p)
    p.set_defaults(func=run_ingest)

    d = sub.add_parser("demo-data", help="build the bundled real datasets offline",
                       description="Build bundled datasets (digits, ct, inpainting, sr) from data "
                                   "that ships inside installed packages.")
    d.add_argument("datasets", nargs="*", default=None,
                   help="datasets to build (default: all): digits ct inpainting sr")
    d.add_argument("--count", type=int, help="records per dataset (default: per dataset)")
    d.add_argument("--size", type=int, help="image side in pixels (HR side for sr)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--dose-fraction", type=float, default=0.25, help="ct: low-dose fraction")
    d.add_argument("--scale", type=int, default=4, help="sr: HR side / LR side")
    _common(d, default_output=os.path.join("data"))
    d.set_defaults(func=run_demo_data)


def _common(p: argparse.ArgumentParser, default_output: str | None = None) -> None:
    p.add_argument("--output", "-o", required=default_output is None, default=default_output,
                   help="output folder (demo-data writes OUTPUT/<dataset>/Span-N)"
                   + (f" (default: {default_output})" if default_output else ""))
    p.add_argument("--span", type=int, default=0, help="span number (default 0)")
    p.add_argument("--eval-fraction", type=float, default=0.2,
                   help="share of records in the eval split, by hash of the id; demo photographs "
                        "are split by photograph (default 0.2)")
    p.add_argument("--shards", type=int, default=2, help="TFRecord shards per split (default 2)")
    p.add_argument("--workers", type=int, default=None, help="conversion threads (default: 2)")
    p.add_argument("--strict", action="store_true",
                   help="exit non-zero when anything was skipped (valid records are still written)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _write(items, skipped, args, metadata) -> int:
    from tfx_pipeline.ingest.writer import NothingValid, write_span
    try:
        result = write_span(items, args.output, span=args.span, eval_fraction=args.eval_fraction,
                            num_shards=args.shards, workers=args.workers, extra_skipped=skipped,
                            total=len(items), progress=not args.no_progress, metadata=metadata)
    except NothingValid as err:
        print(err.result.summary(), file=sys.stderr)
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(result.summary())
    if result.skipped:
        print(f"report: {os.path.join(result.span_dir, 'ingest_report.json')}")
        if args.strict:
            print("error: --strict and some inputs were skipped", file=sys.stderr)
            return 1
    return 0


def run_ingest(args) -> int:
    from tfx_pipeline.ingest import sources
    try:
        if args.images:
            items, skipped = sources.image_folder(args.images, modality=args.modality,
                                                  max_pixels=args.max_pixels)
        elif args.pair:
            items, skipped = sources.paired_folders(*args.pair, scale=args.pair_scale,
                                                    modality=args.modality, max_pixels=args.max_pixels)
        elif args.idx:
            items, skipped = sources.idx_files(args.idx, args.labels_idx,
                                               modality=args.modality or "digit",
                                               max_pixels=args.max_pixels)
        else:
            items, skipped = sources.npz_file(args.npz, args.images_key, args.labels_key,
                                              modality=args.modality or "other",
                                              max_pixels=args.max_pixels)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    source = args.images or args.pair or args.idx or args.npz
    return _write(items, skipped, args, {"source": source})


def run_demo_data(args) -> int:
    from tfx_pipeline.ingest import demo_data
    names = args.datasets or list(demo_data.DATASETS)
    opts = demo_data.DemoOptions(count=args.count, size=args.size, seed=args.seed,
                                 dose_fraction=args.dose_fraction, scale=args.scale,
                                 eval_fraction=args.eval_fraction)
    root = args.output
    rc = 0
    for name in names:
        try:
            items = demo_data.items_for(name, opts)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        args.output = os.path.join(root, name)
        rc = max(rc, _write(items, [], args, {"source": f"demo-data {name}",
                                               "options": vars(opts) | {"dataset": name}}))
    args.output = root
    return rc

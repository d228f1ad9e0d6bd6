"""`tfxgan ingest` / `tfxgan demo-data` as a user runs them: exit codes, atomicity, datasets."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from support.images import rand_image, write_file
from trainer import features as F

TFXGAN = [sys.executable, "-m", "tfx_pipeline.cli"]


def tfxgan(*args, timeout=300, **kw):
    return subprocess.run([*TFXGAN, *args], capture_output=True, text=True, timeout=timeout, **kw)


def count_records(span_dir):
    import tensorflow as tf
    files = tf.io.gfile.glob(os.path.join(span_dir, "*", "*.tfrecord"))
    return sum(1 for _ in tf.data.TFRecordDataset(files))


def test_exit_codes_strict_and_nothing_valid(tmp_path):
    src = tmp_path / "in"
    write_file(str(src / "ok.png"), rand_image((8, 8), np.uint8), "png")
    (src / "bad.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "out"
    r = tfxgan("ingest", "--images", str(src), "-o", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "bad.png: not a PNG" in r.stdout and "wrote 1 records" in r.stdout
    r = tfxgan("ingest", "--images", str(src), "-o", str(out), "--no-progress", "--strict")
    assert r.returncode == 1 and "--strict" in r.stderr
    assert count_records(str(out / "Span-0")) == 1          # valid data still written, not doubled
    (src / "ok.png").unlink()
    r = tfxgan("ingest", "--images", str(src), "-o", str(out), "--span", "1", "--no-progress")
    assert r.returncode == 1 and "no valid input found" in r.stderr
    assert not (out / "Span-1").exists() and (out / "Span-0").exists()
    r = tfxgan("ingest", "--images", str(tmp_path / "nope"), "-o", str(out))
    assert r.returncode == 2 and "input folder not found" in r.stderr


def test_hostile_folder_is_ingested_with_named_skips_and_max_pixels(tmp_path):
    """One run over a FIFO, dangling and looping symlinks, a non-UTF-8 name and a big image."""
    src = tmp_path / "in"
    write_file(str(src / "ok.png"), rand_image((8, 8), np.uint8), "png")
    write_file(str(src / "big.png"), rand_image((16, 16), np.uint8), "png")
    os.mkfifo(src / "pipe")
    os.symlink("missing.dcm", src / "dangling.dcm")
    os.symlink("loop.dcm", src / "loop.dcm")
    with open(os.path.join(os.fsencode(src), b"bad\xff.png"), "wb") as fh:
        fh.write((src / "ok.png").read_bytes())
    out = tmp_path / "out"
    r = tfxgan("ingest", "--images", str(src), "-o", str(out), "--no-progress", "--max-pixels", "100",
               timeout=120)  # the FIFO used to hang the run
    assert r.returncode == 0, r.stderr
    assert "wrote 1 records" in r.stdout and "skipped 5 item(s)" in r.stdout
    report = json.loads((out / "Span-0" / "ingest_report.json").read_text())
    why = {s["id"]: s["reason"] for s in report["skipped"]}
    assert set(why) == {"big.png", "pipe", "dangling.dcm", "loop.dcm", "bad\\xff.png"}
    assert "16x16 = 256 pixels, over the limit of 100 (--max-pixels)" in why["big.png"]
    assert count_records(str(out / "Span-0")) == 1
    r = tfxgan("ingest", "--images", str(src), "-o", str(out), "--max-pixels", "0")
    assert r.returncode == 2 and "max_pixels must be an integer" in r.stderr and "got 0" in r.stderr


def test_killed_run_leaves_previous_span_intact_and_rerun_is_exact(tmp_path):
    src = tmp_path / "in"
    for i in range(3):
        write_file(str(src / f"a{i}.png"), rand_image((16, 16, 3), np.uint8, seed=i), "png")
    out = tmp_path / "out"
    assert tfxgan("ingest", "--images", str(src), "-o", str(out), "--no-progress").returncode == 0
    assert count_records(str(out / "Span-0")) == 3
    n = 1500
    for i in range(n):
        write_file(str(src / f"b{i:04d}.png"), rand_image((32, 32, 3), np.uint8, seed=i), "png")
    proc = subprocess.Popen([*TFXGAN, "ingest", "--images", str(src), "-o", str(out), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until shards are being written
        tmp = [d for d in os.listdir(out) if d.startswith(".incomplete-")]
        train = os.path.join(out, tmp[0], "train") if tmp else None
        try:  # the folder appears a moment before its split folders
            if train and any(os.path.getsize(os.path.join(train, f)) for f in os.listdir(train)):
                break
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "ingest finished before it could be killed; make the input bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert count_records(str(out / "Span-0")) == 3        # old span untouched, no partial shard in it
    r = tfxgan("ingest", "--images", str(src), "-o", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert count_records(str(out / "Span-0")) == n + 3     # exactly once each
    assert [d for d in os.listdir(out) if d.startswith(".")] == []


def test_demo_data_builds_every_dataset_small(tmp_path):
    r = tfxgan("demo-data", "-o", str(tmp_path), "--count", "12", "--no-progress")
    assert r.returncode == 0, r.stderr
    from tfx_pipeline.ingest.records import parse_example_bytes
    import tensorflow as tf
    roles = {"digits": {F.IMAGE: (28, 28, 1)}, "ct": {F.INPUT: (64, 64, 1), F.TARGET: (64, 64, 1)},
             "inpainting": {F.IMAGE: (64, 64, 3)}, "sr": {F.INPUT: (16, 16, 3), F.TARGET: (64, 64, 3)}}
    for name, shapes in roles.items():
        span = tmp_path / name / "Span-0"
        report = json.loads((span / "ingest_report.json").read_text())
        assert sum(report["counts"].values()) == 12 and not report["skipped"]
        files = tf.io.gfile.glob(str(span / "*" / "*.tfrecord"))
        recs = [parse_example_bytes(r.numpy()) for r in tf.data.TFRecordDataset(files)]
        for rec in recs:
            assert {k: v.pixels.shape for k, v in rec["images"].items()} == shapes
        if name == "ct":
            for rec in recs:
                lo, hi = (rec["images"][k] for k in (F.INPUT, F.TARGET))
                assert lo.bit_depth == 16 and rec["modality"] == "CT"
                lo_hu = lo.pixels.astype(float) + lo.value_offset
                hi_hu = hi.pixels.astype(float) + hi.value_offset
                # plausible HU (air -1000 .. dense bone); the low-dose image is the noisier one
                assert -1300 < hi_hu.min() and hi_hu.max() < 3100
                assert 5 < np.abs(lo_hu - hi_hu).mean() < 300
        if name == "digits":
            assert {rec["label"] for rec in recs} <= set(range(10))

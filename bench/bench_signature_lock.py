"""What serialising calls into one concrete function costs (the server's per-signature lock).

``--threads`` threads call one conv stand-in generator's ``serving_default``
(``serving.testing``, 64x64x3 with a 3x3 Conv2D; batches of 1-4 seeds) for
``--seconds`` each, alternately without and with a lock around the call, for
``--rounds`` rounds; prints calls/s and p50 / p99 latency per run.

Usage::

    .venv/bin/python bench/bench_signature_lock.py --seconds 20 --rounds 2
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from serving import testing  # noqa: E402
from trainer import features as F  # noqa: E402
from trainer import registry  # noqa: E402


def measure(fn, locked: bool, threads: int, seconds: float) -> dict:
    import tensorflow as tf

    lock = threading.Lock()
    stop = time.monotonic() + seconds
    latencies: list[float] = []

    def work(i):
        rng = np.random.default_rng(i)
        while time.monotonic() < stop:
            seeds = tf.constant(np.arange(int(rng.integers(1, 5)), dtype=np.int64))
            t0 = time.perf_counter()
            if locked:
                with lock:
                    fn(seeds=seeds)
            else:
                fn(seeds=seeds)
            latencies.append(time.perf_counter() - t0)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ms = np.array(latencies) * 1e3
    return {"locked": locked, "calls_per_s": round(len(ms) / seconds, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def main(argv=None) -> int:
    import tensorflow as tf

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        testing.write_standin_model(tmp, 1, registry.UNCONDITIONAL, size=64, channels=3,
                                    conv=True, warmup_records=0)
        fn = tf.saved_model.load(f"{tmp}/1").signatures[F.SERVING_SIGNATURE]
        for _ in range(3):
            fn(seeds=tf.constant(np.arange(4, dtype=np.int64)))
        for _ in range(args.rounds):
            for locked in (False, True):
                print(measure(fn, locked, args.threads, args.seconds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

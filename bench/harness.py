"""A small benchmark harness: warm-up, repeated runs, median and spread, the
machine's description, JSON results.

Every benchmark script in bench/ measures with :func:`measure`, states the
machine with :func:`machine`, and writes ``bench/results/<name>.json`` with
:func:`save`. Ratios are only claimed between figures of the same run.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


@dataclasses.dataclass
class Stats:
    """Seconds per call over ``repeats`` timed runs (after ``warmup`` untimed ones)."""
    samples: list

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> tuple[float, float]:
        """(min, max) of the samples."""
        return min(self.samples), max(self.samples)

    @property
    def iqr(self) -> float:
        if len(self.samples) < 4:
            return max(self.samples) - min(self.samples)
        q = statistics.quantiles(self.samples, n=4)
        return q[2] - q[0]

    def summary(self, per: float = 1.0, unit: str = "s") -> dict:
        """Median / min / max / IQR of ``per / seconds`` (a rate) when ``unit`` is not 's'."""
        if unit == "s":
            conv = lambda s: s  # noqa: E731
        else:
            conv = lambda s: per / s  # noqa: E731
        values = sorted(conv(s) for s in self.samples)
        return {"unit": unit, "median": conv(self.median), "min": values[0], "max": values[-1],
                "iqr": (statistics.quantiles(values, n=4)[2] - statistics.quantiles(values, n=4)[0])
                if len(values) >= 4 else values[-1] - values[0], "repeats": len(values)}


def measure(fn: Callable[[], object], *, warmup: int = 2, repeats: int = 5) -> Stats:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed ones."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Stats(samples)


def machine() -> dict:
    """CPU model, cores, memory, load and library versions of this run."""
    info = {"platform": platform.platform(), "python": sys.version.split()[0],
            "cpu_count": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as fh:
            info["memory_gib"] = round(int(fh.readline().split()[1]) / 2 ** 20, 1)
        info["load_average_1m"] = os.getloadavg()[0]
    except OSError:
        pass
    for mod in ("numpy", "tensorflow", "keras"):
        if mod in sys.modules:
            info[mod] = getattr(sys.modules[mod], "__version__", "?")
    return info


def matmul_ceiling(n: int = 2048, repeats: int = 7) -> dict:
    """float32 matrix-product throughput through TensorFlow, GFLOP/s (2 n^3 per product)."""
    import tensorflow as tf
    a = tf.random.normal([n, n], seed=1)
    b = tf.random.normal([n, n], seed=2)
    mm = tf.function(lambda x, y: tf.matmul(x, y))
    stats = measure(lambda: mm(a, b).numpy(), warmup=2, repeats=repeats)
    return {"n": n, "gflops": stats.summary(per=2 * n ** 3 / 1e9, unit="GFLOP/s")}


def save(name: str, results: dict, out_dir: str = RESULTS_DIR) -> str:
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.json")
    payload = {"benchmark": name, "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
               "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(),
               "results": results}
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2)
    return path

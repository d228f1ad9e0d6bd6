"""This machine's float32 matrix-product ceiling (GFLOP/s) through TensorFlow.

    .venv/bin/python bench/bench_matmul.py

Other benchmarks quote their efficiency against this figure, measured in
their own run (bench.harness.matmul_ceiling).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import harness  # noqa: E402


def main() -> None:
    results = {str(n): harness.matmul_ceiling(n) for n in (1024, 2048, 4096)}
    path = harness.save("matmul", results)
    print(json.dumps(results, indent=2))
    print(f"saved {path}")


if __name__ == "__main__":
    main()

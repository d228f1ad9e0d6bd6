"""The batcher merges concurrent requests, splits results back, isolates bad requests."""
from __future__ import annotations

import concurrent.futures as cf
import threading

import numpy as np
import pytest

from serving.batching import Batcher
from serving.config import BatchingConfig
from serving.errors import Code, ServingError, invalid


class FakeVersion:
    name, version = "m", 1

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def run_unbatched(self, sig, inputs):
        x = inputs["x"]
        with self.lock:
            self.calls.append(len(x))
        if np.any(x < 0):
            raise invalid("negative input")
        return {"y": x * 2}


def test_concurrent_requests_are_merged_and_split_back():
    v = FakeVersion()
    b = Batcher(v, "s", BatchingConfig(max_batch_size=8, batch_timeout_micros=100_000,
                                       num_batch_threads=1))
    try:
        with cf.ThreadPoolExecutor(8) as pool:
            futs = [pool.submit(b.submit, {"x": np.array([i, i])}) for i in range(8)]
            results = [f.result()["y"].tolist() for f in futs]
        assert results == [[2 * i, 2 * i] for i in range(8)]
        assert sum(v.calls) == 16 and len(v.calls) < 8 and max(v.calls) <= 8
    finally:
        b.stop()


def test_bad_request_does_not_fail_its_batch_mates():
    v = FakeVersion()
    b = Batcher(v, "s", BatchingConfig(max_batch_size=8, batch_timeout_micros=100_000,
                                       num_batch_threads=1))
    try:
        with cf.ThreadPoolExecutor(4) as pool:
            futs = [pool.submit(b.submit, {"x": np.array([-1 if i == 2 else i])}) for i in range(4)]
            for i, f in enumerate(futs):
                if i == 2:
                    with pytest.raises(ServingError, match="negative"):
                        f.result()
                else:
                    assert f.result()["y"].tolist() == [2 * i]
    finally:
        b.stop()


def test_oversized_task_and_stopped_batcher():
    v = FakeVersion()
    b = Batcher(v, "s", BatchingConfig(max_batch_size=2, num_batch_threads=1))
    with pytest.raises(ServingError) as e:
        b.submit({"x": np.arange(3)})
    assert e.value.code == Code.INVALID_ARGUMENT and "Task size 3" in e.value.message
    b.stop()
    assert b.submit({"x": np.array([4])})["y"].tolist() == [8]  # runs unbatched once stopped

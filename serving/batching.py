"""Server-side batching for the local server, with TF Serving's BatchingParameters.

Like TF Serving's ``BatchingSession``: concurrent requests to one signature of
one version are queued; a batch thread takes the oldest request, waits up to
``batch_timeout_micros`` for more, concatenates inputs along dimension 0 up to
``max_batch_size`` rows, runs the model once and splits the outputs back.
A request larger than ``max_batch_size`` fails with INVALID_ARGUMENT and a full
queue with UNAVAILABLE, as in TF Serving.
"""
from __future__ import annotations

import collections
import threading
import time

import numpy as np

from serving.config import BatchingConfig
from serving.errors import Code, ServingError, invalid


class _Task:
    __slots__ = ("inputs", "size", "deadline", "done", "result", "error", "enqueued")

    def __init__(self, inputs, size, deadline):
        self.inputs, self.size, self.deadline = inputs, size, deadline
        self.done = threading.Event()
        self.result = None
        self.error = None
        self.enqueued = time.monotonic()


class Batcher:
    def __init__(self, version, signature_name: str, params: BatchingConfig):
        self._version, self._sig, self._p = version, signature_name, params
        self._queue: collections.deque[_Task] = collections.deque()
        self._cv = threading.Condition()
        self._stopped = False
        self.batches_run = 0  # model calls made (for tests and benchmarks)
        self.rows_run = 0
        self._threads = [threading.Thread(target=self._work, daemon=True,
                                          name=f"batch-{version.name}-{version.version}-{i}")
                         for i in range(params.num_batch_threads)]
        for t in self._threads:
            t.start()

    def submit(self, inputs, deadline=None):
        size = int(next(iter(inputs.values())).shape[0])
        if size > self._p.max_batch_size:
            raise invalid(f"Task size {size} is larger than maximum input batch size "
                          f"{self._p.max_batch_size}")
        task = _Task(inputs, size, deadline)
        with self._cv:
            if self._stopped:  # version being unloaded: finish this request unbatched
                task = None
            elif len(self._queue) >= self._p.max_enqueued_batches * self._p.max_batch_size:
                raise ServingError(Code.UNAVAILABLE, "The batch scheduling queue to which this "
                                                     "task was submitted is full")
            else:
                self._queue.append(task)
                self._cv.notify()
        if task is None:
            return self._version.run_unbatched(self._sig, inputs)
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.result

    def _take_batch(self) -> list[_Task]:
        timeout = self._p.batch_timeout_micros / 1e6
        with self._cv:
            while not self._queue and not self._stopped:
                self._cv.wait(0.5)
            if not self._queue:
                return []
            first = self._queue[0]
            # Wait for more rows until the oldest task has waited batch_timeout.
            while True:
                rows = sum(t.size for t in self._queue)
                left = first.enqueued + timeout - time.monotonic()
                if rows >= self._p.max_batch_size or left <= 0 or self._stopped:
                    break
                self._cv.wait(left)
            batch, rows = [], 0
            while self._queue and rows + self._queue[0].size <= self._p.max_batch_size:
                t = self._queue.popleft()
                batch.append(t)
                rows += t.size
            return batch

    def _work(self):
        while True:
            batch = self._take_batch()
            if not batch:
                if self._stopped:
                    return
                continue
            now = time.monotonic()
            live = []
            for t in batch:
                if t.deadline is not None and now >= t.deadline:
                    t.error = ServingError(Code.DEADLINE_EXCEEDED, "Deadline Exceeded")
                    t.done.set()
                else:
                    live.append(t)
            if not live:
                continue
            try:
                merged = {k: np.concatenate([t.inputs[k] for t in live]) for k in live[0].inputs}
                out = self._version.run_unbatched(self._sig, merged)
                with self._cv:
                    self.batches_run += 1
                    self.rows_run += sum(t.size for t in live)
                start = 0
                for t in live:
                    t.result = {k: v[start:start + t.size] for k, v in out.items()}
                    start += t.size
            except ServingError as e:
                if len(live) == 1:
                    live[0].error = e
                else:  # one bad request must not fail its batch-mates: run each alone
                    for t in live:
                        try:
                            t.result = self._version.run_unbatched(self._sig, t.inputs)
                        except ServingError as e1:
                            t.error = e1
            except Exception as e:  # noqa: BLE001
                for t in live:
                    t.error = ServingError(Code.INTERNAL, str(e))
            for t in live:
                t.done.set()

    def stop(self):
        with self._cv:
            self._stopped = True
            self._cv.notify_all()


def batcher_factory(params: BatchingConfig):
    return lambda version, signature_name: Batcher(version, signature_name, params)

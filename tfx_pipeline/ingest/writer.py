"""Write records into a span folder that ImportExampleGen reads, atomically.

Layout (``trainer.features``)::

    <output>/Span-<N>/train/data-00000-of-0000K.tfrecord
    <output>/Span-<N>/eval/data-00000-of-0000K.tfrecord
    <output>/Span-<N>/ingest_report.json

Records are converted on a thread pool (TF's PNG codecs release the GIL, so
two threads use both cores) and written in input order, so the same input
gives byte-identical shards. Everything is written under a hidden
``.incomplete-Span-<N>-*`` folder that is renamed into place only when the
whole span is done: an interrupted run leaves no half-written shard where
ImportExampleGen looks, and a re-run replaces the span instead of adding
duplicate records.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import logging
import os
import shutil
import time
import uuid
from typing import Callable, Iterable, Iterator

from trainer import features as F
from tfx_pipeline.ingest.decode import BadInput
from tfx_pipeline.ingest.records import Record, shard_of, split_of, to_example_bytes

log = logging.getLogger(__name__)

REPORT_FILE = "ingest_report.json"
FAILED_REPORT_FILE = "ingest_report.failed.json"


@dataclasses.dataclass(frozen=True)
class Item:
    """One unit of input: an id and a thunk that loads it (may raise BadInput).

    ``split`` pins the item to a split, for sources that must not straddle
    train and eval (crops of one photograph); ``None`` splits by a hash of the id.
    """
    id: str
    load: Callable[[], Record]
    split: str | None = None

    def __post_init__(self):
        if self.split is not None and self.split not in F.SPLITS:
            raise ValueError(f"item {self.id!r}: split must be one of {F.SPLITS} or None, "
                             f"received {self.split!r}")


@dataclasses.dataclass(frozen=True)
class Skipped:
    id: str
    reason: str


@dataclasses.dataclass
class IngestResult:
    span_dir: str
    counts: dict          # split -> records written
    skipped: list         # [Skipped]
    seconds: float

    @property
    def written(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        lines = [f"wrote {self.written} records to {self.span_dir} "
                 f"({', '.join(f'{k}: {v}' for k, v in sorted(self.counts.items()))}) "
                 f"in {self.seconds:.1f} s"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} item(s):")
            lines += [f"  {s.id}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


class NothingValid(ValueError):
    """No item could be converted; nothing was published."""

    def __init__(self, result: "IngestResult", report_path: str):
        self.result, self.report_path = result, report_path
        super().__init__(f"no valid input found; nothing written ({len(result.skipped)} item(s) "
                         f"skipped, report: {report_path})")


def _convert(item: Item) -> tuple[Item, bytes | None, str | None]:
    try:
        record = item.load()
        return item, to_example_bytes(record), None
    except BadInput as err:
        return item, None, str(err)
    except OSError as err:  # an I/O error on one file must not stop the others
        return item, None, f"cannot read file: {err}"


def _ordered_parallel(fn, items: Iterable[Item], workers: int) -> Iterator:
    """``map(fn, items)`` on ``workers`` threads, in input order, bounded memory."""
    if workers <= 1:
        yield from map(fn, items)
        return
    window = workers * 8
    with cf.ThreadPoolExecutor(workers) as pool:
        pending: list[cf.Future] = []
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


def write_span(items: Iterable[Item], output_dir: str, *, span: int = 0,
               eval_fraction: float = 0.2, num_shards: int = 2, workers: int | None = None,
               extra_skipped: Iterable[Skipped] = (), total: int | None = None,
               progress: bool = True, metadata: dict | None = None) -> IngestResult:
    """Convert ``items`` and publish them as ``<output_dir>/Span-<span>``.

    Items that raise :class:`BadInput` are skipped and reported; the rest is
    written. Nothing is published when no item is valid (``ValueError``).
    """
    import tensorflow as tf
    from tqdm import tqdm

    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    split_of("probe", eval_fraction)  # validates the fraction before any work
    workers = workers or min(2, os.cpu_count() or 1)
    os.makedirs(output_dir, exist_ok=True)
    span_name = F.SPAN_DIR.format(span=span)
    final_dir = os.path.join(output_dir, span_name)
    prefix = f".incomplete-{span_name}-"
    for stale in os.listdir(output_dir):  # left behind by a killed run
        if stale.startswith((prefix, f".replaced-{span_name}-")):
            shutil.rmtree(os.path.join(output_dir, stale), ignore_errors=True)
    tmp_dir = os.path.join(output_dir, f"{prefix}{uuid.uuid4().hex[:8]}")

    start = time.monotonic()
    skipped = list(extra_skipped)
    counts = {s: 0 for s in F.SPLITS}
    seen: set[str] = set()
    writers = {}
    try:
        for split in F.SPLITS:
            os.makedirs(os.path.join(tmp_dir, split))
            for k in range(num_shards):
                path = os.path.join(tmp_dir, split, F.SHARD_PATTERN.format(index=k, count=num_shards))
                writers[split, k] = tf.io.TFRecordWriter(path)
        bar = tqdm(total=total, unit="img", desc=f"ingest {span_name}", disable=not progress)
        for item, data, reason in _ordered_parallel(_convert, items, workers):
            item_id = item.id
            bar.update(1)
            if data is None:
                skipped.append(Skipped(item_id, reason))
                continue
            if item_id in seen:
                skipped.append(Skipped(item_id, "duplicate id (already written)"))
                continue
            seen.add(item_id)
            split = item.split or split_of(item_id, eval_fraction)
            writers[split, shard_of(item_id, num_shards)].write(data)
            counts[split] += 1
        bar.close()
        for w in writers.values():
            w.close()
        writers.clear()
        result = IngestResult(final_dir, counts, skipped, time.monotonic() - start)
        report = {"span": span, "counts": counts, "eval_fraction": eval_fraction,
                  "num_shards": num_shards, "seconds": round(result.seconds, 3),
                  "skipped": [dataclasses.asdict(s) for s in skipped], **(metadata or {})}
        if result.written == 0:
            failed = os.path.join(output_dir, f"{span_name}.{FAILED_REPORT_FILE}")
            with open(failed, "w") as fh:
                json.dump(report, fh, indent=2)
            raise NothingValid(result, failed)
        with open(os.path.join(tmp_dir, REPORT_FILE), "w") as fh:
            json.dump(report, fh, indent=2)
        _publish(tmp_dir, final_dir)
        return result
    finally:
        for w in writers.values():
            w.close()
        if os.path.exists(tmp_dir):
            shutil.rmtree(tmp_dir, ignore_errors=True)


def _publish(tmp_dir: str, final_dir: str) -> None:
    """Swap ``tmp_dir`` in as ``final_dir`` (two renames; old span removed last)."""
    old = None
    if os.path.exists(final_dir):
        old = os.path.join(os.path.dirname(final_dir),
                           f".replaced-{os.path.basename(final_dir)}-{uuid.uuid4().hex[:8]}")
        os.rename(final_dir, old)
    os.rename(tmp_dir, final_dir)
    if old:
        shutil.rmtree(old, ignore_errors=True)


"""Local runner with worker processes: the pipeline's independent parts side by side.

LocalDagRunner runs one component after another. The quick preset's Trainers
keep about 1.2 of 2 cores busy (a small model's step leaves cores idle between
ops), so two Trainers side by side finish sooner than one after the other
(BENCHMARKS.md, "Parts side by side"). The pipeline falls apart into parts that
share no node: a dataset's ImportExampleGen and StatisticsGen with every GAN
that reads them. :func:`run` hands the parts, the one with the most GANs first,
to ``workers`` processes; each runs LocalDagRunner on its part's pipeline.

The parts keep the whole pipeline's name, root and ML Metadata store, so node
ids, output folders, lineage and the cache are those of one run of the whole
pipeline: a parallel run followed by a sequential one is fully cached. Each
part is computed exactly as in a sequential run (the same seeds, the same
ops), so the artifacts are the same.

Workers are spawned (not forked: TensorFlow's threads do not survive a fork).
Their log records come back to this process's logging, where the progress
console and the log file see them as they would a sequential run's; what they
print goes to this process's stdout and stderr (the run's log file). A part
that fails does not stop the others: every part runs to its end, finished
components stay cached, and then :class:`PartFailed` names the component.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import logging.handlers
import multiprocessing
import sys
import traceback

from tfx_pipeline.configs import GanRun, PipelineConfig
from tfx_pipeline.progress import COMPONENT_ATTR, RUNNING


class PartFailed(RuntimeError):
    """A component of one part failed (the others ran to their end)."""

    def __init__(self, component: str | None, message: str, gans: tuple[str, ...]):
        self.component = component
        self.gans = gans
        where = f"component {component}" if component else f"the part of {', '.join(gans)}"
        super().__init__(f"{where} failed: {message}")


def parts(runs: tuple[GanRun, ...]) -> list[tuple[GanRun, ...]]:
    """The runs grouped by data root (they share that dataset's ImportExampleGen and
    StatisticsGen), the group with the most GANs first, then in the runs' order."""
    groups: dict[str, list[GanRun]] = {}
    for run in runs:
        groups.setdefault(run.data_root, []).append(run)
    ordered = sorted(enumerate(groups.values()), key=lambda item: (-len(item[1]), item[0]))
    return [tuple(group) for _, group in ordered]


class _Tag(logging.Filter):
    """In a worker: follows which component LocalDagRunner runs and tags every record
    with it (``COMPONENT_ATTR``), so the parent knows whose cache hit a record reports."""

    def __init__(self):
        super().__init__()
        self.component: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if m := RUNNING.match(record.getMessage()):
                self.component = m.group(1)
        except Exception:  # noqa: BLE001 - a malformed record is not a component start
            pass
        setattr(record, COMPONENT_ATTR, self.component)
        return True


_tag: _Tag | None = None


def _init_worker(log_queue, absl_verbosity: int, beam_level: int) -> None:
    """In a worker: every log record goes to ``log_queue`` (and nowhere else), at the
    parent's levels (``tfx_pipeline.cli.configure_logging``)."""
    global _tag
    import absl.logging
    root = logging.getLogger()
    absl_handler = absl.logging.get_absl_handler()
    for handler in list(root.handlers):
        if handler is not absl_handler:
            root.removeHandler(handler)
    # absl's stderr handler stays on the root logger but writes nothing (the parent
    # writes the records): TFX calls absl.logging.use_absl_handler(), which would put
    # a missing handler back and lower the root logger to WARNING.
    if absl_handler not in root.handlers:
        root.addHandler(absl_handler)
    absl_handler.addFilter(lambda record: False)
    handler = logging.handlers.QueueHandler(log_queue)
    _tag = _Tag()
    handler.addFilter(_tag)
    root.addHandler(handler)
    # Pinned as in the parent: TensorFlow's SavedModel writer resets the root level to
    # absl's verbosity flag, and TFX's "Component X is running" lines are INFO.
    absl.logging.set_verbosity(absl_verbosity)
    logging.getLogger("absl").propagate = True
    logging.getLogger("apache_beam").setLevel(beam_level)


def _run_part(config: PipelineConfig) -> dict:
    """In a worker: LocalDagRunner on ``config``'s pipeline. Returns how it ended."""
    from tfx_pipeline.progress import error_paragraph
    from tfx_pipeline.runners import local
    if _tag is not None:
        _tag.component = None
    try:
        local.run(config)
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which raises
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        return {"ok": False, "component": _tag.component if _tag else None,
                "error": error_paragraph(err)}
    return {"ok": True}


class _Forward(logging.Handler):
    """In the parent: a worker's record, handled as if this process had logged it."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def run(config: PipelineConfig, workers: int = 2) -> None:
    """Runs ``config``'s pipeline as :func:`parts` on ``workers`` processes.

    Raises :class:`PartFailed` (the first failed part's component) after every part
    has ended.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, received {workers}")
    import absl.logging
    groups = parts(config.runs)
    context = multiprocessing.get_context("spawn")
    log_queue = context.Queue()
    listener = logging.handlers.QueueListener(log_queue, _Forward())
    listener.start()
    failures = []
    try:
        with concurrent.futures.ProcessPoolExecutor(
                max_workers=min(workers, len(groups)), mp_context=context,
                initializer=_init_worker,
                initargs=(log_queue, absl.logging.get_verbosity(),
                          logging.getLogger("apache_beam").level)) as pool:
            futures = {pool.submit(_run_part, dataclasses.replace(config, runs=group)):
                       tuple(r.gan for r in group) for group in groups}
            try:
                for future in concurrent.futures.as_completed(futures):
                    result = future.result()
                    if not result["ok"]:
                        failures.append(PartFailed(result["component"], result["error"],
                                                   futures[future]))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        listener.stop()
    if failures:
        raise failures[0]

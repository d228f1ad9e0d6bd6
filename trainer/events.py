"""Structured progress events: training steps, evaluation verdicts.

Code anywhere in the project calls :func:`emit`; the run console
(``tfx_pipeline/progress.py``) listens on the ``tfxgan.progress`` logger and
draws them. Nobody listening: they are ordinary INFO log lines.
"""
from __future__ import annotations

import logging

PROGRESS_LOGGER = "tfxgan.progress"
EVENT_ATTR = "tfxgan_event"   # the LogRecord attribute that carries the event dict


def emit(kind: str, **fields) -> None:
    """Log a structured progress event, e.g. ``emit("verdict", gan=..., verdict=...)``."""
    logging.getLogger(PROGRESS_LOGGER).info("%s %s", kind, fields,
                                            extra={EVENT_ATTR: {"kind": kind, **fields}})

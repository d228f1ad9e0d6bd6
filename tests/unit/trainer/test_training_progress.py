"""The Trainer's progress events: global step across epochs, rate, losses, throttling."""
import logging

import pytest

from trainer.callbacks import TrainingProgress
from trainer.events import EVENT_ATTR, PROGRESS_LOGGER


@pytest.fixture
def events():
    seen = []

    class Grab(logging.Handler):
        def emit(self, record):
            seen.append(getattr(record, EVENT_ATTR))

    logger = logging.getLogger(PROGRESS_LOGGER)
    handler, old = Grab(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield seen
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_global_step_rate_and_last_step_always_reported(events):
    t = [0.0]
    cb = TrainingProgress("dcgan", total_steps=6, steps_per_epoch=3, every_s=1.0, clock=lambda: t[0])
    for epoch in range(2):
        cb.on_epoch_begin(epoch)
        for batch in range(3):
            t[0] += 0.25
            cb.on_train_batch_end(batch, {"d_loss": 0.5, "g_loss": 2, "note": "x"})
    steps = [e["step"] for e in events]
    assert steps == [1, 5, 6]                       # first, then at most once a second, and the end
    last = events[-1]
    assert last == {"kind": "train", "gan": "dcgan", "step": 6, "steps": 6,
                    "steps_per_s": pytest.approx(5 / 1.25), "losses": {"d_loss": 0.5, "g_loss": 2.0}}


def test_resumed_run_counts_from_its_epoch(events):
    cb = TrainingProgress("x", total_steps=20, steps_per_epoch=10, every_s=0.0, clock=lambda: 1.0)
    cb.on_epoch_begin(1)
    cb.on_train_batch_end(0, {})
    assert events[-1]["step"] == 11


def test_invalid_counts_are_named():
    with pytest.raises(ValueError, match="received 0 and 5"):
        TrainingProgress("x", total_steps=0, steps_per_epoch=5)

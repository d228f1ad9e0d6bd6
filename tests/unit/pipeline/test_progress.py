"""The run console: progress lines from TFX's log records, the log file, failures."""
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from tfx_pipeline import progress as P
from trainer.events import emit


def record(message, name="absl", **extra):
    rec = logging.LogRecord(name, logging.INFO, __file__, 1, message, (), None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_components_cached_and_timed():
    lines, clock = [], Clock()
    p = P.RunProgress(total=3, on_line=lines.append, clock=clock)
    p.feed(record("Component ImportExampleGen_ct is running."))
    clock.t = 12.4
    p.feed(record("Component ImportExampleGen_ct is finished."))
    p.feed(record("Component StatisticsGen_ct is running."))
    p.feed(record("A cached execution 7 is used."))
    p.feed(record("Component StatisticsGen_ct is finished."))
    p.feed(record("node Trainer_dcgan is running."))      # BeamDagRunner's wording
    clock.t = 100.0
    p.feed(record("node Trainer_dcgan is finished."))
    assert lines == ["   [1/3] done      ImportExampleGen_ct (12s)",
                     "   [2/3] cached    StatisticsGen_ct",
                     "  running   Trainer_dcgan ...",
                     "   [3/3] done      Trainer_dcgan (1m28s)"]
    assert p.running is None and p.done == 3


def test_unrelated_log_lines_print_nothing():
    lines = []
    p = P.RunProgress(on_line=lines.append)
    for msg in ("Using deployment config:\n x", "Setting to DenseTensor", "Execution 3 succeeded.",
                "BatchElements statistics: ..."):
        p.feed(record(msg))
    assert lines == []


def test_plain_training_lines_are_throttled_to_quarters():
    lines, clock = [], Clock()
    p = P.RunProgress(on_line=lines.append, clock=clock, plain=True)
    for step in range(1, 101):
        clock.t = step * 0.1
        p.feed(record("x", name=P.PROGRESS_LOGGER, tfxgan_event={
            "kind": "train", "gan": "dcgan", "step": step, "steps": 100, "steps_per_s": 10.0,
            "losses": {"d_loss": 0.5, "g_loss": 1.25}}))
    train = [line for line in lines if "training dcgan" in line]
    assert len(train) == 5, train                     # step 1, then at 25/50/75/100 %
    assert train[-1] == "  training dcgan: step 100/100 (10.0 steps/s, ETA 0s)  d_loss=0.5 g_loss=1.25"
    assert p.training.step == 100


def test_two_trainers_side_by_side_each_get_their_quarters_and_cache_marks():
    """The parallel runner interleaves two parts' records: each Trainer keeps its own
    throttle, and a cache hit is marked on the component its record names."""
    lines, clock = [], Clock()
    p = P.RunProgress(on_line=lines.append, clock=clock, plain=True)
    p.feed(record("Component Trainer_dcgan is running.", tfxgan_component="Trainer_dcgan"))
    p.feed(record("Component Pusher_srrescycgan is running.",
                  tfxgan_component="Pusher_srrescycgan"))
    p.feed(record("Component Trainer_srrescycgan is running.",
                  tfxgan_component="Trainer_srrescycgan"))
    for step in range(1, 101):
        clock.t = step * 0.1
        for gan in ("dcgan", "srrescycgan"):
            p.feed(record("x", name=P.PROGRESS_LOGGER, tfxgan_event={
                "kind": "train", "gan": gan, "step": step, "steps": 100, "steps_per_s": 10.0,
                "losses": {}}))
    for gan in ("dcgan", "srrescycgan"):
        assert len([line for line in lines if f"training {gan}:" in line]) == 5, lines
    assert {c.name for c in p.active} == {"Trainer_dcgan", "Pusher_srrescycgan",
                                          "Trainer_srrescycgan"}
    # The cache hit is the Pusher's (its worker says so), not the last-started Trainer's.
    p.feed(record("A cached execution 9 is used.", tfxgan_component="Pusher_srrescycgan"))
    p.feed(record("Component Pusher_srrescycgan is finished."))
    p.feed(record("Component Trainer_dcgan is finished."))
    assert lines[-2].endswith("cached    Pusher_srrescycgan")
    assert "done      Trainer_dcgan" in lines[-1]
    assert p.running.name == "Trainer_srrescycgan" and set(p.trainings) == {"srrescycgan"}


def test_emit_reaches_a_listening_handler():
    seen = []
    p = P.RunProgress(on_line=seen.append)
    handler = P.ProgressHandler(p)
    logger = logging.getLogger(P.PROGRESS_LOGGER)
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        emit("verdict", gan="dcgan", verdict="NOT BLESSED: fd_fraction 0.4 > 0.2")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert seen == ["  verdict   dcgan: NOT BLESSED: fd_fraction 0.4 > 0.2"]
    assert p.verdicts == {"dcgan": "NOT BLESSED: fd_fraction 0.4 > 0.2"}


def test_error_paragraph_keeps_lines_and_cuts_long_messages():
    err = RuntimeError("first line\n\n  input_channels: 3 != 1\n" + "\n".join(f"l{i}" for i in range(50)))
    text = P.error_paragraph(err)
    assert text.startswith("RuntimeError: first line\n      input_channels: 3 != 1")
    assert "(22 more lines in the log)" in text


SCRIPT = textwrap.dedent("""
    import logging, os, sys, time
    from tfx_pipeline.progress import RunConsole
    logging.basicConfig(level=logging.INFO)
    absl = logging.getLogger("absl")
    mode = sys.argv[2]
    with RunConsole(sys.argv[1], run_id="r1") as console:
        console.set_total(2)
        absl.info("Component ImportExampleGen_x is running.")
        print("noise on stdout")
        os.write(2, b"C++ noise on fd 2\\n")
        absl.info("Component ImportExampleGen_x is finished.")
        absl.info("Component Trainer_x is running.")
        print("trainer says something")
        if mode == "fail":
            raise ValueError("the data does not match\\n  input_channels: 3 != 1")
        if mode == "interrupt":
            raise KeyboardInterrupt
        absl.info("Component Trainer_x is finished.")
        console.line("summary line")
    sys.exit(console.exit_code)
""")


def run_script(tmp_path, mode):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), mode], capture_output=True,
                          text=True, timeout=60, env=env, cwd=os.path.dirname(P.__file__) + "/../..")


def test_console_sends_noise_to_the_log_and_progress_to_stdout(tmp_path):
    proc = run_script(tmp_path, "ok")
    assert proc.returncode == 0, proc.stderr
    log = tmp_path / "logs" / "r1.log"
    assert proc.stdout.splitlines() == [
        f"tfxgan run r1: full log in {log}",
        "   [1/2] done      ImportExampleGen_x (0s)",
        "  running   Trainer_x ...",
        "   [2/2] done      Trainer_x (0s)",
        "summary line"]
    assert proc.stderr == ""
    text = log.read_text()
    for noise in ("noise on stdout", "C++ noise on fd 2", "trainer says something",
                  "Component Trainer_x is finished."):
        assert noise in text
    assert "\x1b[" not in proc.stdout                    # no escape codes when piped


def test_failure_names_the_component_error_and_log(tmp_path):
    proc = run_script(tmp_path, "fail")
    assert proc.returncode == 1
    log = tmp_path / "logs" / "r1.log"
    err = proc.stderr
    assert "error: component Trainer_x failed" in err
    assert "ValueError: the data does not match" in err and "input_channels: 3 != 1" in err
    assert "| trainer says something" in err             # the component's own last log lines
    assert "| noise on stdout" not in err                # ... not the earlier component's
    assert f"full log: {log}" in err
    assert "Traceback" not in err and "Traceback" in log.read_text()


def test_interrupt_stops_cleanly_and_says_how_to_resume(tmp_path):
    proc = run_script(tmp_path, "interrupt")
    assert proc.returncode == 130
    assert "interrupted during Trainer_x" in proc.stderr and "resumes" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_absl_info_survives_tensorflows_verbosity_round_trip():
    """TF's SavedModel writer does set_verbosity(FATAL) then set_verbosity(old);
    with the verbosity pinned, TFX's component lines still reach the root logger."""
    script = textwrap.dedent("""
        import logging
        from absl import logging as absl_logging
        from tfx_pipeline.cli import configure_logging
        configure_logging(False)
        seen = []
        class Grab(logging.Handler):
            def emit(self, record):
                seen.append(record.getMessage())
        logging.getLogger().addHandler(Grab())
        old = absl_logging.get_verbosity()
        absl_logging.set_verbosity(absl_logging.FATAL)
        absl_logging.set_verbosity(old)
        absl_logging.info("Component Trainer_x is finished.")
        assert seen == ["Component Trainer_x is finished."], seen
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=os.path.dirname(P.__file__) + "/../..")
    assert proc.returncode == 0, proc.stderr


def test_losses_show_the_players_totals_first():
    losses = {"adv_loss": 1.39, "content_loss": 0.0, "d_loss": 1.38, "g_loss": 0.226, "hole_loss": 2.0}
    assert P.format_losses(losses) == "d_loss=1.38 g_loss=0.226 adv_loss=1.39 content_loss=0"

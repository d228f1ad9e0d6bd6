"""The console of `tfxgan run` and `tfxgan demo`: progress a person can follow.

Everything TensorFlow, TFX and Beam print (C++ logs included) goes to one
log file, ``<home>/logs/<run id>.log``; the terminal shows one line per
finished component (its state and duration, cached ones marked), the
training progress of each Trainer (step, steps/s, losses, ETA) and the
evaluator's verdict as it lands. On a terminal the running component and
its training bar are drawn live with rich; piped output (CI) gets plain,
line-buffered lines and no escape codes. ``--verbose`` streams everything
as before.

Progress comes from log records, so nothing here imports TensorFlow:

* TFX's orchestrators log ``Component X is running.`` / ``is finished.``
  (LocalDagRunner; ``node X ...`` in BeamDagRunner) and ``A cached
  execution N is used.`` for a cache hit;
* the project's own code logs structured events on the ``tfxgan.progress``
  logger (:func:`trainer.events.emit`): training steps from the Trainer's callback and the
  evaluator's verdict.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import logging
import os
import re
import sys
import time
from typing import Callable, TextIO

from trainer.events import EVENT_ATTR, PROGRESS_LOGGER, emit  # noqa: F401 - re-exported

# A plain-output training line at most every this many seconds (and at 25 % steps).
PLAIN_TRAIN_EVERY_S = 60.0
FAILURE_LOG_LINES = 25

RUNNING = re.compile(r"^(?:Component|node) (\S+) is running\.$")  # also read by runners/parallel.py
_FINISHED = re.compile(r"^(?:Component|node) (\S+) is finished\.$")
_SKIPPED = re.compile(r"^(?:Skipping component|Node) (\S+)(?: is skipped in this partial run)?\.$")
_CACHED = re.compile(r"^A cached execution \d+ is used\.$")
COMPONENT_ATTR = "tfxgan_component"   # set by the parallel runner's workers


def new_run_id(now: datetime.datetime | None = None) -> str:
    return (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")


# ------------------------------------------------------------------- state
@dataclasses.dataclass
class ComponentState:
    name: str
    started: float
    finished: float | None = None
    cached: bool = False
    log_offset: int = 0            # where its lines start in the log file

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


@dataclasses.dataclass
class TrainingState:
    gan: str
    step: int
    steps: int
    steps_per_s: float
    losses: dict
    started: float

    @property
    def eta_s(self) -> float | None:
        if self.steps_per_s <= 0:
            return None
        return max(0.0, (self.steps - self.step) / self.steps_per_s)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{s:02d}s"
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m"


def format_losses(losses: dict, limit: int = 4) -> str:
    """The first ``limit`` losses, the two players' totals (d_loss, g_loss) first."""
    first = [k for k in ("d_loss", "g_loss") if k in losses]
    keys = first + [k for k in losses if k not in first]
    return " ".join(f"{k}={losses[k]:.3g}" for k in keys[:limit])


def training_line(t: TrainingState) -> str:
    eta = t.eta_s
    return (f"  training {t.gan}: step {t.step}/{t.steps} "
            f"({t.steps_per_s:.1f} steps/s{', ETA ' + format_duration(eta) if eta is not None else ''})"
            + (f"  {format_losses(t.losses)}" if t.losses else ""))


class RunProgress:
    """Folds log records into component and training state; calls ``on_line`` with
    the lines to print and ``on_change`` whenever the live view should redraw."""

    def __init__(self, total: int | None = None, on_line: Callable[[str], None] = print,
                 on_change: Callable[[], None] = lambda: None, plain: bool = True,
                 log_position: Callable[[], int] = lambda: 0, clock=time.monotonic):
        self.total = total
        self.on_line = on_line
        self.on_change = on_change
        self.plain = plain
        self.log_position = log_position
        self.clock = clock
        self.components: dict[str, ComponentState] = {}
        self.running: ComponentState | None = None    # the component started last
        self.trainings: dict[str, TrainingState] = {}  # gan -> its Trainer's progress
        self.verdicts: dict[str, str] = {}
        self._last_plain_train: dict[str, tuple[float, int]] = {}  # gan -> time, quarter

    @property
    def training(self) -> TrainingState | None:
        """The training that reported last (None when no Trainer runs)."""
        return max(self.trainings.values(), key=lambda t: t.started, default=None)

    @property
    def active(self) -> list[ComponentState]:
        """The components running now (several under the parallel runner)."""
        return [c for c in self.components.values() if c.finished is None]

    @property
    def done(self) -> int:
        return sum(1 for c in self.components.values() if c.finished is not None)

    def _counter(self) -> str:
        return f"[{self.done}/{self.total}]" if self.total else f"[{self.done}]"

    def feed(self, record: logging.LogRecord) -> None:
        event = getattr(record, EVENT_ATTR, None)
        if event is not None:
            return self._event(event)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is not a progress event
            return
        if m := RUNNING.match(message):
            self._start(m.group(1))
        elif m := _FINISHED.match(message):
            self._finish(m.group(1))
        elif _CACHED.match(message):
            # Under the parallel runner a record carries the component its worker runs.
            state = self.components.get(getattr(record, COMPONENT_ATTR, None) or "") or self.running
            if state is not None:
                state.cached = True
        elif (m := _SKIPPED.match(message)) and record.name != PROGRESS_LOGGER:
            self.on_line(f"  skipped   {m.group(1)} (not part of this partial run)")

    def _start(self, name: str) -> None:
        self.running = ComponentState(name, self.clock(), log_offset=self.log_position())
        self.components[name] = self.running
        if name.startswith("Trainer_"):
            self.on_line(f"  running   {name} ...")
        self.on_change()

    def _finish(self, name: str) -> None:
        state = self.components.get(name) or ComponentState(name, self.clock())
        state.finished = self.clock()
        self.components[name] = state
        if self.running is state:
            active = self.active
            self.running = active[-1] if active else None
        if name.startswith("Trainer_"):
            self.trainings.pop(name[len("Trainer_"):], None)
        what = "cached   " if state.cached else "done     "
        took = "" if state.cached else f" ({format_duration(state.seconds)})"
        self.on_line(f"{self._counter():>8} {what} {name}{took}")
        self.on_change()

    def _event(self, event: dict) -> None:
        kind = event.get("kind")
        if kind == "train":
            now = self.clock()
            t = TrainingState(event["gan"], int(event["step"]), int(event["steps"]),
                              float(event.get("steps_per_s", 0.0)), dict(event.get("losses", {})),
                              now)
            self.trainings[t.gan] = t
            if self.plain:
                last, quarter = self._last_plain_train.get(t.gan, (None, -1))
                q = (4 * t.step) // max(1, t.steps)
                if last is None or q > quarter or now - last >= PLAIN_TRAIN_EVERY_S:
                    self._last_plain_train[t.gan] = (now, q)
                    self.on_line(training_line(t))
            self.on_change()
        elif kind == "verdict":
            self.verdicts[event["gan"]] = event["verdict"]
            self.on_line(f"  verdict   {event['gan']}: {event['verdict']}")
            self.on_change()
        elif kind == "note":
            self.on_line(f"  {event['text']}")


class ProgressHandler(logging.Handler):
    def __init__(self, progress: RunProgress):
        super().__init__(level=logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.progress.feed(record)
        except Exception:  # noqa: BLE001 - the progress view must never stop a run
            self.handleError(record)


# ------------------------------------------------------------------ console
def _tail(path: str, offset: int, lines: int) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:]


def error_paragraph(err: BaseException, max_lines: int = 30, width: int = 400) -> str:
    """An exception as one short paragraph: its type and message, blank lines
    dropped, long lines and long messages cut (the log has the whole of it)."""
    lines = [ln.rstrip()[:width] for ln in str(err).splitlines() if ln.strip()]
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more lines in the log)"]
    head = f"{type(err).__name__}: " + (lines[0] if lines else "")
    return "\n    ".join([head, *lines[1:]])


class RunConsole:
    """Context manager around a run: log file, fd redirection, progress view.

    ``verbose``: nothing is redirected or hidden (the log file is not written).
    Otherwise file descriptors 1 and 2 point at the log file for the duration
    (TensorFlow's C++ logs and Beam's workers write there too), and the
    progress view writes to the original stdout.
    """

    active: "RunConsole | None" = None

    def __init__(self, home: str, *, verbose: bool = False, run_id: str | None = None,
                 stream: TextIO | None = None, live: bool | None = None):
        self.run_id = run_id or new_run_id()
        self.log_path = os.path.abspath(os.path.join(home, "logs", f"{self.run_id}.log"))
        self.verbose = verbose
        self._stream = stream
        self._live_wanted = live
        self._saved_fds: tuple[int, int] | None = None
        self._log_fd: int | None = None
        self._handler: ProgressHandler | None = None
        self._live = None
        self._console = None
        self._saved_levels: dict[str, int] = {}
        self.out: TextIO = stream or sys.stdout
        self.err: TextIO = sys.stderr
        self.progress: RunProgress | None = None
        self.failed_component: str | None = None
        self.exit_code = 0

    # ---- output
    def line(self, text: str = "") -> None:
        if self._live is not None:
            self._console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self.out.write(text + "\n")
            self.out.flush()

    def error(self, text: str) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self.err.write(text + "\n")
        self.err.flush()

    def set_total(self, total: int) -> None:
        if self.progress is not None:
            self.progress.total = total

    # ---- live view
    def _renderable(self):
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.text import Text
        p = self.progress
        parts = []
        for c in p.active:
            parts.append(Text(f"{p._counter():>8} running   {c.name} "
                              f"({format_duration(c.seconds)})", style="bold"))
        for t in p.trainings.values():
            from rich.table import Table
            row = Table.grid(padding=(0, 1))
            row.add_row(ProgressBar(total=max(1, t.steps), completed=t.step, width=30),
                        Text(training_line(t).strip()))
            parts.append(row)
        return Group(*parts)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._renderable(), refresh=True)

    # ---- context
    def __enter__(self) -> "RunConsole":
        RunConsole.active = self
        if self.verbose:
            self.progress = RunProgress(on_line=lambda s: None)
            return self
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        if self._stream is None:
            self.out = io.TextIOWrapper(os.fdopen(os.dup(1), "wb", buffering=0),
                                        encoding="utf-8", errors="replace", line_buffering=True,
                                        write_through=True)
        self.err = io.TextIOWrapper(os.fdopen(os.dup(2), "wb", buffering=0),
                                    encoding="utf-8", errors="replace", line_buffering=True,
                                    write_through=True)
        self._log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._saved_fds = (os.dup(1), os.dup(2))
        os.dup2(self._log_fd, 1)
        os.dup2(self._log_fd, 2)
        live = self._live_wanted if self._live_wanted is not None else self.out.isatty()
        self.progress = RunProgress(on_line=self.line, on_change=self._refresh, plain=not live,
                                    log_position=self._log_position)
        root = logging.getLogger()
        self._saved_levels = {"": root.level}
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        self._handler = ProgressHandler(self.progress)
        root.addHandler(self._handler)
        # absl's handler writes to the (now redirected) stderr; make sure its
        # records reach the root logger's handlers too.
        logging.getLogger("absl").propagate = True
        if live:
            from rich.console import Console
            from rich.live import Live
            self._console = Console(file=self.out, force_terminal=True)
            self._live = Live(self._renderable(), console=self._console, auto_refresh=True,
                              refresh_per_second=4, transient=True, redirect_stdout=False,
                              redirect_stderr=False)
            self._live.start()
        self.line(f"tfxgan run {self.run_id}: full log in {self.log_path}")
        return self

    def _log_position(self) -> int:
        try:
            return os.fstat(self._log_fd).st_size if self._log_fd is not None else 0
        except OSError:
            return 0

    def _restore(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler = None
        for name, level in self._saved_levels.items():
            logging.getLogger(name or None).setLevel(level)
        if self._saved_fds is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(self._saved_fds[0], 1)
            os.dup2(self._saved_fds[1], 2)
            for fd in self._saved_fds:
                os.close(fd)
            self._saved_fds = None
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None

    def __exit__(self, exc_type, exc, tb) -> bool:
        """A failure is reported (component, error, log path) and swallowed:
        ``exit_code`` says how the run ended. With ``verbose`` it propagates."""
        running = self.progress.running if self.progress is not None else None
        handled = False
        try:
            if exc is not None and not self.verbose and not isinstance(exc, SystemExit):
                self._report_failure(exc, running)
                self.exit_code = 130 if isinstance(exc, KeyboardInterrupt) else 1
                handled = True
        finally:
            self._restore()
            RunConsole.active = None
        return handled

    def _report_failure(self, exc: BaseException, running: ComponentState | None) -> None:
        import traceback
        # The parallel runner's error names the failed component; otherwise it is
        # the one running.
        named = getattr(exc, "component", None)
        if named is not None and self.progress is not None:
            running = self.progress.components.get(named) or ComponentState(named, 0.0)
        where = running.name if running is not None else None
        self.failed_component = where
        tail = []
        if where is not None:
            tail = [s for s in _tail(self.log_path, running.log_offset, FAILURE_LOG_LINES * 4)
                    if s.strip()][-FAILURE_LOG_LINES:]
        # The whole traceback belongs in the log (after the tail shown was read).
        with contextlib.suppress(OSError):
            os.write(self._log_fd, "".join(traceback.format_exception(
                type(exc), exc, exc.__traceback__)).encode("utf-8", "replace"))
        if isinstance(exc, KeyboardInterrupt):
            self.error(f"\ninterrupted{' during ' + where if where else ''}. Finished components "
                       f"are cached: the same command resumes from there. Log: {self.log_path}")
            return
        lines = [f"\nerror: {'component ' + where if where else 'the run'} failed",
                 f"  {error_paragraph(exc)}"]
        if tail:
            lines.append(f"  last lines of {where}'s log:")
            lines += [f"    | {s[:300]}" for s in tail]
        lines.append(f"  full log: {self.log_path}")
        self.error("\n".join(lines))


@contextlib.contextmanager
def run_console(home: str, verbose: bool = False):
    """A RunConsole, or the one already active (``tfxgan demo`` wraps ``tfxgan run``)."""
    if RunConsole.active is not None:
        yield RunConsole.active
        return
    with RunConsole(home, verbose=verbose) as console:
        yield console

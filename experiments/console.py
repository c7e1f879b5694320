"""The console of a run: notice and progress lines, exit statuses, SIGINT/SIGTERM between chunks.

Every line a run prints goes through here: ``notice:`` lines on stderr (:func:`notice`, and the
``mst_jax`` logger's warnings once :func:`install_notice_handler` is called), progress lines on
stdout (:func:`say`, :func:`report_progress`), and the one-line ``error:`` text
(:func:`one_line`) of a :class:`RunError`, whose ``status`` is the exit status. :class:`Stopper`
turns the first SIGINT/SIGTERM into a flag the run polls between chunks.
"""

from __future__ import annotations

import logging
import math
import signal
import sys

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

logger = logging.getLogger("mst_jax.experiments")


class RunError(Exception):
    """A one-line failure with its exit status."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.status = status


class _NoticeHandler(logging.Handler):
    """Prints each ``mst_jax`` notice (legal oddities) as one ``notice:`` line on stderr."""

    def emit(self, record):
        message = " ".join(record.getMessage().splitlines())
        sys.stderr.write(f"notice: {message}\n")
        sys.stderr.flush()


def install_notice_handler():
    """Routes the ``mst_jax`` loggers' warnings to stderr as ``notice:`` lines (once per process)."""
    root = logging.getLogger("mst_jax")
    if not any(isinstance(h, _NoticeHandler) for h in root.handlers):
        root.addHandler(_NoticeHandler(level=logging.WARNING))
    root.setLevel(logging.WARNING)
    root.propagate = False  # absl's handler would print them a second time
    # JAX reports at INFO that it found no TPU; absl would print that on every run.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)


def notice(message: str, notices: list[str] | None = None):
    """One ``notice:`` line on stderr, also appended to ``notices`` (the run record's list) if given."""
    logger.warning(message)
    if notices is not None:
        notices.append(message)


def one_line(message) -> str:
    """``message`` (an exception or text) as one line, whitespace collapsed."""
    return " ".join(str(message).split()) or "unknown error"


def say(line: str):
    """One line on stdout, flushed at once (progress is read while the run goes on)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def hms(seconds: float) -> str:
    """``h:mm:ss`` of ``seconds`` (``?`` if not finite), as the progress lines print an ETA."""
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# Appended to the progress line of a run's first chunk.
FIRST_CHUNK_NOTE = " (first chunk: includes compilation)"


def seconds_left(info: dict, max_iter: int, first: bool) -> float:
    """The progress lines' estimate: the iterations to go at the last chunk's seconds per
    iteration; NaN (printed ``?``) after the first chunk, whose time is mostly compilation,
    unless that chunk finished the run."""
    it = info["iteration"]
    if first and it < max_iter:
        return float("nan")
    return (max_iter - it) * info["seconds_per_iteration"]


def report_progress(script: str, info: dict, max_iter: int, first: bool, extra: str = ""):
    """One progress line: iteration, total loss, seconds per iteration, estimated time left
    (and ``extra``, e.g. the content kept, appended)."""
    eta = seconds_left(info, max_iter, first)
    say(
        f"{script}: iteration {info['iteration']}/{max_iter}  loss {info['loss']:.6g}  "
        f"{info['seconds_per_iteration']:.3g} s/iteration  ETA {hms(eta)}{extra}"
        f"{FIRST_CHUNK_NOTE if first else ''}"
    )


# The stop reason of a run that --time_limit stopped.
TIME_LIMIT = "time limit"


def out_of_time(elapsed: float, seconds_per_iteration: float, iterations: int, limit: float) -> bool:
    """Whether ``iterations`` more, at ``seconds_per_iteration`` each (the last chunk's), would
    take a run that has run ``elapsed`` seconds past ``limit`` seconds; never when ``limit`` is
    0 (``--time_limit`` unset).

    >>> out_of_time(100.0, 1.1, 10, 120.0), out_of_time(110.0, 1.1, 10, 120.0)
    (False, True)
    >>> out_of_time(1e6, 1.0, 10, 0.0)
    False
    """
    return limit > 0 and elapsed + iterations * seconds_per_iteration > limit


class Stopper:
    """SIGINT/SIGTERM set a flag polled between chunks; a second signal kills at once."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def install(self):
        for s in (signal.SIGINT, signal.SIGTERM):
            self._old[s] = signal.signal(s, self._handle)

    def uninstall(self):
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old = {}

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
            sys.stderr.write(
                f"notice: {signal.Signals(signum).name} received: stopping after the current chunk "
                "and saving the best result so far (send it again to abort without saving)\n"
            )
            sys.stderr.flush()
        signal.signal(signum, signal.SIG_DFL)

    def __call__(self) -> bool:
        return self.signum is not None

"""A live progress line for long training runs (no dependencies, no Click).

On a terminal the line redraws in place at most every ``interval`` seconds;
elsewhere (a log file, a pipe, a test runner) only the permanent lines that
``log`` writes appear, so logs stay readable.
"""
import sys
import time


def format_seconds(seconds):
    """``h:mm:ss`` (or ``m:ss``) for a duration in seconds."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """``update(fraction, text)`` redraws the bar; ``log(text)`` prints a line that stays.

    Parameters
    ----------
    stream : file-like, default ``sys.stderr``
    enabled : bool
        False silences everything (``quiet`` runs).
    interval : float
        Least number of seconds between redraws.
    """

    width = 24

    def __init__(self, stream=None, enabled=True, interval=0.2):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.live = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval
        self._last_draw = 0.0
        self._drawn = 0

    def update(self, fraction, text, force=False):
        """Redraw: a bar for ``fraction`` (0..1, or None when unknown) and ``text``."""
        now = time.perf_counter()
        if not self.live or (not force and now - self._last_draw < self.interval):
            return
        self._last_draw = now
        if fraction is None:
            bar = ""
        else:
            fraction = min(max(fraction, 0.0), 1.0)
            done = int(round(fraction * self.width))
            bar = f"[{'#' * done}{'.' * (self.width - done)}] {100 * fraction:3.0f}%  "
        line = bar + text
        pad = max(0, self._drawn - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._drawn = len(line)

    def log(self, text):
        """A permanent line (the live line, if any, is redrawn under it by the next update)."""
        if not self.enabled:
            return
        if self.live and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self._drawn = 0
            self._last_draw = 0.0
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self):
        """End the live line."""
        if self.live and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0

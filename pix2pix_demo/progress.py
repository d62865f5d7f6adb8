"""The one progress bar of the long commands (train, evaluate, render-emoji), on stderr.

On a terminal it is redrawn in place (at most 10 times a second). In a log (stderr is not a terminal) it prints a
line at each tenth of the work only, so a redirected run gets a dozen lines, not one per step.
"""

from __future__ import annotations

import sys
import time

WIDTH = 30  # characters of the bar itself


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class Progress:
    """``Progress(total, "step")``; ``update(done, {"l1": 0.1})`` or ``add(n)``. ``initial``: work already done
    before (a resumed run), left out of the speed and ETA."""

    def __init__(self, total: int, unit: str = "step", initial: int = 0, enabled: bool = True, stream=None):
        self.total, self.unit, self.enabled = max(int(total), 1), unit, enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.initial = self.current = initial
        self.start = time.perf_counter()
        self._drawn_at = 0.0  # terminal: when the bar was last drawn
        self._width = 0  # terminal: length of the line drawn last
        self._tenth = initial * 10 // self.total  # log: the last tenth printed

    def add(self, n: int = 1, values: dict | None = None) -> None:
        self.update(self.current + n, values)

    def update(self, current: int, values: dict | None = None) -> None:
        self.current = current
        if not self.enabled:
            return
        done = current >= self.total
        if self.tty:
            now = time.perf_counter()
            if now - self._drawn_at < 0.1 and not done:
                return
            self._drawn_at = now
            line = self._line(values)
            self.stream.write("\r" + line.ljust(self._width) + ("\n" if done else ""))
            self._width = len(line)
        else:
            tenth = current * 10 // self.total
            if tenth <= self._tenth:
                return
            self._tenth = tenth
            self.stream.write(self._line(values) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line on a terminal when the work stopped short (Ctrl-C, SIGTERM)."""
        if self.enabled and self.tty and self._width and self.current < self.total:
            self.stream.write("\n")
            self.stream.flush()

    def _line(self, values: dict | None) -> str:
        elapsed = time.perf_counter() - self.start
        fraction = min(self.current / self.total, 1.0)
        filled = int(WIDTH * fraction)
        bar = "=" * filled + (">" if filled < WIDTH else "") + "." * max(WIDTH - filled - 1, 0)
        line = f"{self.current}/{self.total} [{bar}] {fraction:4.0%} {_clock(elapsed)}"
        done_here = self.current - self.initial
        if done_here > 0 and self.current < self.total:
            line += f" ETA {_clock(elapsed / done_here * (self.total - self.current))}"
        if done_here > 0:
            per = elapsed / done_here
            line += f", {per * 1000:.0f} ms/{self.unit}" if per < 1 else f", {per:.1f} s/{self.unit}"
        return line + "".join(f" - {k}: {float(v):.4g}" for k, v in (values or {}).items())

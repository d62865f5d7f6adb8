"""One memory budget for every request at once: the bytes that images being decoded and processed take, app-wide.

A 289 KB PNG can hold 99 megapixels, about 300 MB once decoded, and more while it is converted and scaled down. The
queue's concurrency groups bound how many requests run, not how large they are, so ten such uploads at once took
the server past 10 GB. Every event function runs inside :meth:`MemoryBudget.scope`; :func:`load_upload
<pix2pix_demo.ui.inputs.load_upload>` takes what it is about to need from the budget before decoding (an estimate
from the image's header), and the scope gives it back when the function returns. A request that does not fit
waits for others to finish, and after ``wait_s`` is told that the server is busy. When the last large request
ends, freed memory is handed back to the operating system (glibc keeps it otherwise).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import gradio as gr

from ..heap import malloc_trim

log = logging.getLogger(__name__)

BUSY = "The server is busy with large images; try again in a moment."

_taken: contextvars.ContextVar[list | None] = contextvars.ContextVar("memory_budget_taken", default=None)


class MemoryBudget:
    """At most ``capacity`` bytes in flight across all requests; a request waits up to ``wait_s`` for room."""

    def __init__(self, capacity: int, wait_s: float = 30.0, trim_after: int = 100_000_000):
        self.capacity = capacity
        self.wait_s = wait_s
        self.trim_after = trim_after
        self.in_flight = 0
        self.peak = 0
        self.refused = 0
        self._cond = threading.Condition()
        self._trim = malloc_trim
        self._released_since_trim = 0

    @contextlib.contextmanager
    def scope(self):
        """Everything :meth:`take` takes inside this block is given back when it ends."""
        taken: list[int] = []
        token = _taken.set(taken)
        try:
            yield
        finally:
            _taken.reset(token)
            if taken:
                self._give_back(sum(taken))

    def take(self, nbytes: int) -> None:
        """Take ``nbytes`` for the current scope, waiting for room; raise a ``gr.Error`` when the wait runs out."""
        taken = _taken.get()
        if taken is None:  # outside an event (Python callers, tests): nothing to share
            return
        nbytes = min(int(nbytes), self.capacity)  # one request alone always fits
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            while self.in_flight + nbytes > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.refused += 1
                    raise gr.Error(BUSY, print_exception=False)
                self._cond.wait(left)
            self.in_flight += nbytes
            self.peak = max(self.peak, self.in_flight)
        taken.append(nbytes)

    def settle(self, nbytes: int) -> None:
        """Keep only ``nbytes`` of the last :meth:`take` (an image decoded large, then scaled down)."""
        taken = _taken.get()
        if not taken or nbytes >= taken[-1]:
            return
        freed, taken[-1] = taken[-1] - nbytes, nbytes
        self._give_back(freed)

    def _give_back(self, nbytes: int) -> None:
        with self._cond:
            self.in_flight -= nbytes
            self._released_since_trim += nbytes
            trim = self.in_flight == 0 and self._released_since_trim >= self.trim_after
            if trim:
                self._released_since_trim = 0
            self._cond.notify_all()
        if trim:
            self._trim()


# ------------------------------------------------------------------------------------------ priorities
#: Photos and uploaded drawings are decoded, translated and encoded on these threads, at a lower CPU priority
#: (nice +10), so that on a busy 2-core server the live pad's short requests still get the CPU when they need it.
#: Linux schedules each thread on its own, so this lowers these threads only, not the server.
HEAVY_NICE = 10


def _lower_priority():
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HEAVY_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


_heavy = ThreadPoolExecutor(max_workers=8, thread_name_prefix="p2p-heavy", initializer=_lower_priority)


def run_low_priority(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` on a low-priority thread, with the caller's context (Gradio's warnings need it)."""
    ctx = contextvars.copy_context()
    return _heavy.submit(ctx.run, fn, *args, **kwargs).result()

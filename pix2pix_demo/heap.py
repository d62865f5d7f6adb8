"""The C heap (glibc's malloc): set up for the server, and freed memory handed back to the system.

glibc keeps memory that Python, NumPy and TensorFlow free, for later allocations: a process' resident memory then
stays at its peak. Both functions do nothing with another C library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except (OSError, TypeError):
        return None


_LIBC = _libc()
_TRIM = getattr(_LIBC, "malloc_trim", None)
if _TRIM is not None:
    _TRIM.argtypes, _TRIM.restype = [ctypes.c_size_t], ctypes.c_int


def lean_malloc() -> None:
    """glibc's malloc set up for a server whose requests allocate and free large buffers on many threads.

    At most two arenas: by default each thread that allocates may get an arena of its own (up to 8 per core;
    Gradio runs every request on a pool thread), and each arena keeps what its requests freed. And buffers of 1 MB
    or more (decoded uploads, their arrays, full-resolution results) come straight from the system and go back to
    it when freed; glibc would otherwise raise this threshold after the first such buffer is freed and keep the
    later ones in its heaps. ``app.py`` calls it first thing, before TensorFlow and Gradio start threads; the live
    trainer, forked from the app's fork server, inherits it. A setting given in the environment
    (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``) wins.
    """
    mallopt = getattr(_LIBC, "mallopt", None)
    if mallopt is None:
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    for env, param, value in (("MALLOC_ARENA_MAX", -8, 2), ("MALLOC_MMAP_THRESHOLD_", -3, 1 << 20)):
        if env not in os.environ:  # M_ARENA_MAX = -8, M_MMAP_THRESHOLD = -3 in glibc's malloc.h
            mallopt(param, value)


def malloc_trim() -> None:
    """glibc's ``malloc_trim(0)``: hand the heap's free memory back to the system (a few ms)."""
    if _TRIM is not None:
        _TRIM(0)

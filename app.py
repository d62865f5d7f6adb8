"""pix2pix studio — the Gradio app: ``python app.py [--host H] [--port N] [--share] [--weights DIR]``.

The same file runs the Hugging Face Space. The UI lives in ``pix2pix_demo/ui/`` (one file per tab).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


#: Imported at start-up by Keras (through TensorFlow) only to tell whether it runs in a notebook, which this server
#: never does; Keras and Gradio import it inside ``try``/``except ImportError``. Kept out: 20 MB with ``jedi``.
NOTEBOOK_ONLY = ("IPython",)


def lean_malloc() -> None:
    """glibc's malloc set up for a server whose requests allocate and free large buffers on many threads.

    At most two arenas: by default each thread that allocates may get an arena of its own (up to 8 per core;
    Gradio runs every request on a pool thread), and each arena keeps what its requests freed. And buffers of 1 MB
    or more (decoded uploads, their arrays, full-resolution results) come straight from the system and go back to
    it when freed; glibc would otherwise raise this threshold after the first such buffer is freed and keep the
    later ones in its heaps. Called first thing, before TensorFlow and Gradio start threads. A setting given in the
    environment (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``) wins, and a C library without ``mallopt`` is left
    alone. A training's child process starts with glibc's defaults (it has one busy thread).
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError, TypeError):
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    for env, param, value in (("MALLOC_ARENA_MAX", -8, 2), ("MALLOC_MMAP_THRESHOLD_", -3, 1 << 20)):
        if env not in os.environ:  # M_ARENA_MAX = -8, M_MMAP_THRESHOLD = -3 in glibc's malloc.h
            mallopt(param, value)


def main(argv=None):
    lean_malloc()
    for name in NOTEBOOK_ONLY:  # app.py run inside IPython: it stays
        sys.modules.setdefault(name, None)
    ap = argparse.ArgumentParser(description="pix2pix studio: the Gradio app")
    ap.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                    help="address to serve on (default 127.0.0.1; a Space sets GRADIO_SERVER_NAME)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    ap.add_argument("--share", action="store_true", help="also open a public gradio.live link (opt-in)")
    ap.add_argument("--weights", default=None, help="folder with <task>/<arch>/ model folders (default: weights/)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    if os.environ.get("P2P_LEARN_ISOLATION", "process") == "process" and os.environ.get("P2P_FORK_SERVER") != "0":
        from pix2pix_demo.live_run import start_fork_server

        start_fork_server()  # before any model loads: the live trainer then shares the app's TensorFlow
    from pix2pix_demo.ui import build_app, launch

    demo = build_app(args.weights)
    launch(demo, host=args.host, port=args.port, share=args.share)


if __name__ == "__main__":
    main()

"""pix2pix studio — the Gradio app: ``python app.py [--host H] [--port N] [--share] [--weights DIR]``.

The same file runs the Hugging Face Space. The UI lives in ``pix2pix_demo/ui/`` (one file per tab).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


#: Imported at start-up by Keras (through TensorFlow) only to tell whether it runs in a notebook, which this server
#: never does; Keras and Gradio import it inside ``try``/``except ImportError``. Kept out: 20 MB with ``jedi``.
NOTEBOOK_ONLY = ("IPython",)


def main(argv=None):
    from pix2pix_demo.heap import lean_malloc  # the package imports nothing heavy before it is asked to

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

"""The Gradio 6 app: five tabs built from the task records, every action a named API endpoint.

``build_app(weights_dir)`` loads every model in ``weights_dir/<task>/<arch>/`` once, warms it up, and returns a
``gr.Blocks``; ``launch(demo, …)`` serves it with the app's limits. Tabs whose models are missing show a notice.

One file per concept: :mod:`.model_zoo` (the loaded models), :mod:`.inputs` (every client input checked),
:mod:`.budget` (the app-wide memory budget), :mod:`.outputs` (result files), :mod:`.pad` (the drawing pad), and one
file per tab (:mod:`.sketch_tab`, :mod:`.day_night_tab`, :mod:`.colorize_tab`, :mod:`.compare_tab`,
:mod:`.learn_tab`).

Public endpoints (see the README's API section): ``/sketch`` (drawing file → picture), ``/day_night`` (photo,
direction → full-resolution file), ``/colorize`` (photo → full-resolution file), ``/compare`` (task, image, enabled
skip levels → three pictures and a table). Every user-facing problem is a ``gr.Error`` or ``gr.Warning`` with a
plain sentence.
"""

from __future__ import annotations


import gradio as gr

from .colorize_tab import colorize_tab
from .common import QUEUE_SIZE
from .compare_tab import compare_tab
from .day_night_tab import day_night_tab
from .inputs import EXAMPLES_DIR, MAX_UPLOAD_PIXELS, ROOT, decode_data_url, guard_file_payloads, load_upload
from .learn_tab import learn_tab
from .model_zoo import ModelZoo
from .outputs import Results, shown_as_uploaded
from .pad import PAD_SIZE
from .sketch_tab import sketch_tab

__all__ = ["build_app", "launch", "theme", "ModelZoo", "Results", "load_upload", "decode_data_url",
           "shown_as_uploaded", "MAX_UPLOAD_PIXELS", "MAX_FILE_SIZE", "PAD_SIZE"]

DEFAULT_WEIGHTS = ROOT / "weights"
#: Largest upload accepted by the server (Gradio's max_file_size).
MAX_FILE_SIZE = "100mb"

CSS = """
#p2p-header h1 { margin-bottom: 0; }
"""


def build_app(weights_dir=None, warmup: bool = True, max_upload_pixels: int = MAX_UPLOAD_PIXELS) -> gr.Blocks:
    """Load the models in ``weights_dir`` (default: the repo's ``weights/``) and build the UI.

    ``max_upload_pixels``: larger uploads are scaled down to this many pixels, with a warning.
    """
    zoo = ModelZoo(weights_dir or DEFAULT_WEIGHTS, warmup=warmup, max_upload_pixels=max_upload_pixels)
    with gr.Blocks(title="pix2pix studio", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        results = Results(demo.GRADIO_CACHE)
        gr.Markdown("# pix2pix studio\nImage-to-image translation with pix2pix (Isola et al., 2017): draw, "
                    "turn day into night, colorize, and see what a U-Net's skip connections do.",
                    elem_id="p2p-header")
        with gr.Tabs(selected="sketch"):
            sketch_tab(zoo, results)
            day_night_tab(zoo, results)
            colorize_tab(zoo, results)
            compare_tab(zoo, results)
            learn_tab(zoo, results)
    demo.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    guard_file_payloads(demo)
    demo.zoo = zoo
    return demo


def theme():
    """The default theme with system fonts (nothing is fetched from font servers)."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "Consolas", "monospace"])


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, share: bool = False, **kwargs):
    """Serve the app with its limits: upload size, allowed paths (only examples/), theme and CSS."""
    options = dict(server_name=host, server_port=port, share=share, max_file_size=MAX_FILE_SIZE,
                   allowed_paths=[str(EXAMPLES_DIR)], theme=theme(), css=CSS, footer_links=["api"],
                   show_error=False)
    options.update(kwargs)
    return demo.launch(**options)

"""The live drawing pad shared by the Sketch and Compare tabs: a lean ``gr.HTML`` canvas (``static/pad.*``).

On each stroke end the pad sets its value to a PNG data URL of its 512 × 512 canvas, and the tab's ``change``
listener answers with the picture. A drawing sent to a pad event is small by nature, so anything larger than
:data:`PAD_MAX_PIXELS` is refused from its header, before decoding: the pad's events never wait for the memory
budget that photos share, and a hostile client cannot make them decode a large image.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from PIL import Image

from .. import imaging
from .inputs import decode_data_url

STATIC = Path(__file__).resolve().parent / "static"

#: Side of the pad's canvas, in pixels; the pen is 7 px wide (3.5 px at 256 px).
PAD_SIZE = 512
PAD_PEN = 7
#: Largest drawing a pad event accepts (pixels): the pad sends 512 × 512.
PAD_MAX_PIXELS = 2048 * 2048


def pad(elem_id: str, label: str) -> gr.HTML:
    return gr.HTML(value="", label=label, show_label=True, elem_id=elem_id, elem_classes=["p2p-pad-block"],
                   html_template=(STATIC / "pad.html").read_text(), css_template=(STATIC / "pad.css").read_text(),
                   js_on_load=(STATIC / "pad.js").read_text(), apply_default_css=False, container=True,
                   padding=True)


def pad_drawing(value) -> Image.Image:
    """The pad's value (a PNG data URL) → the drawing as RGB; a plain sentence for anything else."""
    try:
        return imaging.open_image(decode_data_url(value), max_pixels=PAD_MAX_PIXELS, name="the drawing")
    except imaging.ImageError as err:
        message = str(err)
        if "over the limit" in message:
            message = (f"The drawing is too large for the pad (at most {PAD_MAX_PIXELS:,} pixels; the pad sends "
                       f"{PAD_SIZE}×{PAD_SIZE}). Upload large drawings as a file instead.")
        raise gr.Error(message, print_exception=False) from None

"""The live drawing pad shared by the Sketch and Compare tabs: a lean ``gr.HTML`` canvas (``static/pad.*``).

On each stroke end the pad sets its value, and the tab's ``change`` listener answers with the picture. The value is
a PNG data URL of the 512 × 512 drawing, or, once the user has painted colour hints with the colour brush (shown
only for a hint-aware model), a JSON string ``{"drawing": "data:image/png;base64,…", "hints": [{"x": X, "y": Y,
"color": "#rrggbb"}, …]}``. Colour strokes live on a layer of their own: they never become ink in the drawing, and
they reach the server as points (one every few model pixels along each stroke) in the drawing's own pixels.

A drawing sent to a pad event is small by nature, so anything larger than :data:`PAD_MAX_PIXELS` is refused from its
header, before decoding: the pad's events never wait for the memory budget that photos share, and a hostile client
cannot make them decode a large image.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
from PIL import Image

from .. import hints as hint_mod
from .. import imaging
from .inputs import MAX_DATA_URL, checked_hints, decode_data_url

STATIC = Path(__file__).resolve().parent / "static"

#: Side of the pad's canvas, in pixels; the pen is 7 px wide (3.5 px at 256 px).
PAD_SIZE = 512
PAD_PEN = 7
#: Largest drawing a pad event accepts (pixels): the pad sends 512 × 512.
PAD_MAX_PIXELS = 2048 * 2048
#: The most colour points the pad sends (hints.parse's limit).
MAX_PAD_HINTS = 200
BAD_VALUE = ("The drawing could not be read (expected a PNG data URL, or {\"drawing\": a PNG data URL, \"hints\": "
             "[{\"x\": X, \"y\": Y, \"color\": \"#rrggbb\"}]}).")


def static_text(*names: str) -> str:
    return "\n".join((STATIC / n).read_text() for n in names)


def pad(elem_id: str, label: str, colour: bool = False, model_size: int = 256) -> gr.HTML:
    """The pad; ``colour``: offer the colour brush (for a hint-aware model whose input is ``model_size`` px)."""
    return gr.HTML(value="", label=label, show_label=True, elem_id=elem_id, elem_classes=["p2p-pad-block"],
                   html_template=static_text("pad.html"), css_template=static_text("pad.css"),
                   js_on_load=static_text("palette.js", "pad.js"), apply_default_css=False, container=True,
                   padding=True, colour=bool(colour), model_size=int(model_size), patch=hint_mod.PATCH,
                   max_hints=MAX_PAD_HINTS)


def pad_value(value) -> tuple[Image.Image | None, list[hint_mod.Hint]]:
    """The pad's value → (the drawing as RGB or None for an empty pad, its colour hints in the drawing's pixels).

    Takes the plain PNG data URL, the JSON string with ``drawing`` and ``hints``, or the same as a dict (API
    clients). Anything else gets a plain sentence.
    """
    hints: list[hint_mod.Hint] = []
    if isinstance(value, str) and value.lstrip().startswith("{"):
        if len(value) > MAX_DATA_URL:
            raise gr.Error("The drawing is too large for the pad.", print_exception=False)
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise gr.Error(BAD_VALUE, print_exception=False) from None
        if not isinstance(value, dict):
            raise gr.Error(BAD_VALUE, print_exception=False)
    if isinstance(value, dict):
        drawing = value.get("drawing")
        if drawing is None:
            drawing = ""
        if not isinstance(drawing, str) or set(value) - {"drawing", "hints"}:
            raise gr.Error(BAD_VALUE, print_exception=False)
        hints = checked_hints(value.get("hints"))
        value = drawing
    if value is None or value == "":
        return None, hints
    return _open_drawing(value), hints


def pad_drawing(value) -> Image.Image | None:
    """The drawing alone (either form of the pad's value); None for an empty pad."""
    return pad_value(value)[0]


def _open_drawing(value) -> Image.Image:
    try:
        return imaging.open_image(decode_data_url(value), max_pixels=PAD_MAX_PIXELS, name="the drawing")
    except imaging.ImageError as err:
        message = str(err)
        if "over the limit" in message:
            message = (f"The drawing is too large for the pad (at most {PAD_MAX_PIXELS:,} pixels; the pad sends "
                       f"{PAD_SIZE}×{PAD_SIZE}). Upload large drawings as a file instead.")
        raise gr.Error(message, print_exception=False) from None

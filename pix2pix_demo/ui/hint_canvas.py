"""The colour-hint canvas of the Colorize and Compare tabs: a ``gr.HTML`` canvas (``static/hint_canvas.*``) that
shows a photo in gray, where the user clicks points or paints short scribbles and picks their colours, as in
Zhang et al.'s interactive colorization (``ideepcolor``).

The canvas's value goes both ways:

* **Python → canvas**, when a photo arrives: ``{"src": a small gray JPEG as a data URL, "width": W, "height": H}``,
  W × H being the photo's own size (:func:`canvas_photo`). The canvas clears its hints.
* **canvas → Python**, after every stroke, colour change, undo or clear: ``{"hints": [{"x": X, "y": Y, "color":
  "#rrggbb"}, …]}`` in the photo's pixels, a scribble being one point every :data:`~pix2pix_demo.hints.PATCH`
  model pixels along it. :func:`canvas_hints` tells the two apart, so a listener answers only the user's edits.

The colours it suggests at a clicked spot are read, in the browser, from the picture the model made last (the
element ``preview``), plus a fixed palette and a colour picker.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import io
import os
import threading

import gradio as gr
from PIL import Image

from .. import hints as hint_mod
from .. import imaging
from ..hints import scaled  # noqa: F401 - importable from here as before
from ..tasks import TASKS
from .inputs import checked_hints
from .pad import MAX_PAD_HINTS, static_text

#: Long side of the gray photo the canvas shows (its hints are still in the photo's own pixels).
DISPLAY_SIDE = 640
#: The live preview is made at most this large.
PREVIEW_PIXELS = 500_000
BAD_VALUE = "The hint canvas's value must be {\"hints\": [{\"x\": X, \"y\": Y, \"color\": \"#rrggbb\"}, …]} or a list."
_KEYS = {"hints", "src", "width", "height"}
#: The queue group of the canvases' light events (a photo shown, a live preview): never behind full-size photos.
LIVE = dict(concurrency_id="colour_hints", concurrency_limit=2)
#: A browser-side listener body: the canvas's hints → the tab's hidden ``hints`` input (for the buttons that make the
#: full result). Gradio takes a returned array as the list of output values.
COPY_HINTS = "(v) => [(v && Array.isArray(v.hints)) ? v.hints : null]"


def no_hints_note(task: str) -> str:
    """One line under the tools of a tab whose model takes no colour hints."""
    return (f"🎨 The shipped {TASKS[task].title.split(' ')[0].lower()} model takes no colour hints yet: the colour "
            f"tools appear with a model trained with `train --hints`.")


def hint_canvas(elem_id: str, label: str, preview: str, model_size: int, visible: bool = True) -> gr.HTML:
    """The canvas; ``preview``: the elem_id of the image whose pixels are suggested as colours."""
    return gr.HTML(value=None, label=label, show_label=True, elem_id=elem_id, elem_classes=["p2p-hint-block"],
                   html_template=static_text("hint_canvas.html"),
                   css_template=static_text("pad.css", "hint_canvas.css"),
                   js_on_load=static_text("palette.js", "hint_canvas.js"), apply_default_css=False, container=True,
                   padding=True, visible=visible, preview=preview, model_size=int(model_size),
                   patch=hint_mod.PATCH, max_hints=MAX_PAD_HINTS)


def canvas_photo(img: Image.Image, size: tuple[int, int] | None = None) -> dict:
    """The value that shows ``img`` on the canvas, in gray, without hints. ``size``: the photo's own size, when
    ``img`` is a smaller copy of it (the hints are in the photo's pixels)."""
    w, h = size or img.size
    s = min(1.0, DISPLAY_SIDE / max(img.size))
    small = img if s == 1.0 else img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))),
                                            Image.Resampling.BILINEAR, reducing_gap=2.0)
    buf = io.BytesIO()
    Image.fromarray(imaging.gray(small), "L").save(buf, "JPEG", quality=88)
    return {"src": "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"),
            "width": w, "height": h}


def canvas_hints(value) -> list[hint_mod.Hint] | None:
    """The user's hints in a canvas value, or None when the value carries none to act on (a photo the server set,
    an empty canvas). API clients may pass the plain list of hints. Anything else gets a plain sentence."""
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple)):
        return checked_hints(value)
    if not isinstance(value, dict) or not set(value) <= _KEYS:
        raise gr.Error(BAD_VALUE, print_exception=False)
    if "hints" not in value:
        return None
    return checked_hints(value["hints"])


def hints_json(hints: list[hint_mod.Hint]) -> list[dict]:
    return [{"x": h.x, "y": h.y, "color": "#%02x%02x%02x" % h.rgb} for h in hints]


class PreviewCache:
    """The last few photos at preview size, by upload: a stroke re-colorizes without decoding the photo again.

    Keys are the upload's real path with its size and modification time (the upload cache names files by their
    content), or a hash of pasted bytes. Values: (the photo at preview size, the photo's full size).
    """

    def __init__(self, size: int = 8):
        self.size = size
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(src) -> str | None:
        if isinstance(src, (bytes, bytearray)):
            return hashlib.sha1(bytes(src)).hexdigest()
        try:
            st = os.stat(src)
        except (OSError, TypeError, ValueError):
            return None
        return f"{os.path.realpath(src)}:{st.st_size}:{st.st_mtime_ns}"

    def get(self, src):
        k = self.key(src)
        with self._lock:
            if k is None or k not in self._items:
                return None
            self._items.move_to_end(k)
            return self._items[k]

    def put(self, src, img: Image.Image, size: tuple[int, int] | None = None) -> tuple[Image.Image, tuple[int, int]]:
        """Remember ``img`` (the photo as loaded) at preview size; returns (preview, full size). ``size``: the
        upload's own size, when ``img`` was scaled down while loading (hints are in the upload's pixels)."""
        entry = (imaging.downscale_to(img, PREVIEW_PIXELS), tuple(size or img.size))
        k = self.key(src)
        if k is not None:
            with self._lock:
                self._items[k] = entry
                self._items.move_to_end(k)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return entry

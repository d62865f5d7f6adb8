"""Tab 1, Sketch → Image: a live pad (the picture updates on every pen-up) and drawing files."""

from __future__ import annotations

import base64
import io
import time

import gradio as gr
import numpy as np
from PIL import Image

from .. import imaging
from ..tasks import TASKS
from .common import examples, group, notice_box, notice_or_none
from .hint_canvas import no_hints_note
from .inputs import (
    checked_hints,
    fit_hints,
    friendly,
    hints_input,
    image_input,
    load_upload,
    load_upload_sized,
)
from .model_zoo import ModelZoo
from .outputs import Results, to_uint8_gray
from .pad import PAD_PEN, PAD_SIZE, pad, pad_value

SKETCH_EXAMPLES = ["house.png", "cat_face.png", "sun.png", "car.png", "tree.png", "fish.png"]

HINT_EMPTY = ("✏️ **The pad is empty.** Draw something — a house, a cat face, a sun, a car — with a few lines. The "
              "picture appears each time you lift the pen; small or off-centre drawings are fitted automatically.")


def seen_by_model(x: np.ndarray) -> Image.Image:
    """What the model sees: the canonical drawing, and for a hint-aware model its colour patches on top."""
    seen = to_uint8_gray(x[..., :1])
    if x.shape[-1] < 5 or not (x[..., 4] > 0.5).any():
        return seen
    rgb = np.repeat(np.asarray(seen)[..., None], 3, -1)
    mask = x[..., 4] > 0.5
    rgb[mask] = np.clip((x[..., 1:4][mask] + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(rgb)


def sketch_tab(zoo: ModelZoo, results: Results):
    task = TASKS["sketch"]
    main = zoo.main("sketch")
    model_size = main.config.image_size if main is not None else task.image_size
    colour = main is not None and main.takes_hints

    def translate(img: Image.Image, hints=None):
        """(picture, what the model sees, ms) for a drawing, or None for an empty one."""
        tr = zoo.require("sketch")
        t0 = time.perf_counter()
        x, ctx = tr.encode(img, hints)
        if float(x[..., 0].min()) > 0.98:  # canonical_sketch found no ink
            return None
        y = tr.forward(x[None])[0]
        picture = tr.task.finish(y, ctx)
        return picture, seen_by_model(x), (time.perf_counter() - t0) * 1000

    @friendly(heavy=False)
    def sketch_pad(drawing):
        """The pad's value → (picture, what the model sees, hint). The value is a PNG data URL (``""`` for an empty
        pad) or ``{"drawing": the data URL, "hints": [{"x": X, "y": Y, "color": "#rrggbb"}, …]}`` (as a JSON
        string or an object), the hints in the drawing's pixels."""
        img, user_hints = pad_value(drawing)
        out = translate(img, user_hints) if img is not None else None
        if out is None:
            return None, None, HINT_EMPTY
        picture, seen, ms = out
        n = len(user_hints)
        colours = f" with {n} colour point{'s' if n != 1 else ''}" if n else ""
        # JPEG: encoding the 512 px picture as PNG would take longer than the model itself.
        return (results.save(picture, "picture", jpeg=True, quality=92), results.save(seen, "seen", jpeg=False),
                f"Picture made in {ms:.0f} ms{colours}. Keep drawing: it updates each time you lift the pen.")

    @friendly
    def sketch(drawing, hints=None):
        """A drawing (dark lines on a light background, any image file) → the picture, at the drawing's size.
        ``hints``: colour hints for a hint-aware model, [{"x": X, "y": Y, "color": "#rrggbb"}, …] in the drawing's
        pixels."""
        user_hints = checked_hints(hints)
        img, size = load_upload_sized(drawing, "a drawing", zoo.max_upload_pixels)
        out = translate(img, fit_hints(user_hints, size, img))
        if out is None:
            raise gr.Error("The drawing is empty: draw some dark lines on a light background.", print_exception=False)
        return results.save(out[0], "picture", jpeg=False)

    @friendly
    def to_pad(drawing):
        """A drawing file → the pad (auto-fitted, redrawn in the pen's stroke style)."""
        if drawing is None:
            return gr.skip()
        img = load_upload(drawing, "a drawing", zoo.max_upload_pixels)
        canon = imaging.canonical_sketch(np.asarray(img), size=PAD_SIZE, fit=True, width=PAD_PEN)
        if canon.min() > 250:
            return ""
        buf = io.BytesIO()
        Image.fromarray(canon, "L").save(buf, "PNG", compress_level=1)
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

    with gr.Tab(task.title, id="sketch", elem_id="tab-sketch"):
        gr.Markdown(f"{task.description} Draw on the pad: the picture updates every time you lift the pen."
                    + (" With the **Colour** brush, paint inside a shape to say which colour it should be."
                       if colour else ""))
        notice = notice_or_none(zoo, ["sketch"])
        if notice:
            notice_box(notice, "sketch-notice")
        with gr.Row(visible=notice is None, equal_height=False):
            with gr.Column(scale=1, min_width=300):
                drawing_pad = pad("sketch-pad", "Draw here", colour=colour, model_size=model_size)
                if main is not None and not colour:
                    gr.Markdown(no_hints_note("sketch"), elem_id="sketch-hints-note")
                translate_btn = gr.Button("Translate", variant="primary", elem_id="sketch-translate")
                with gr.Accordion("…or upload a drawing", open=False):
                    upload = image_input(label="Drawing (dark lines on white)", elem_id="sketch-upload", height=220)
                    hints = hints_input()
            with gr.Column(scale=1, min_width=300):
                picture = gr.Image(label="Picture", type="pil", format="png", interactive=False,
                                   elem_id="sketch-picture", buttons=["download", "fullscreen"], height=420)
                hint = gr.Markdown(HINT_EMPTY, elem_id="sketch-hint")
                with gr.Row(equal_height=False):
                    # No label over the picture (it would cover the drawing's top): the note beside it says what it is.
                    seen = gr.Image(label=f"What the model sees ({model_size}×{model_size})", show_label=False,
                                    type="pil", format="png", interactive=False, height=200, elem_id="sketch-seen",
                                    elem_classes=["p2p-seen"], buttons=[], scale=0, min_width=200)
                    gr.Markdown(f"**What the model sees** ({model_size}×{model_size} px, left): "
                                "your drawing cropped to its content, centred with a small margin "
                                "and redrawn with even 3 px strokes, exactly like the drawings it was trained on. "
                                "So a small drawing in a corner works as well as a big one in the middle."
                                + (" A colour stroke fills the closed shape it lies in, as shown here, and adds "
                                   "small squares of its colour along the stroke; a shape with a gap in its outline "
                                   "is open and gets the squares only." if colour else ""),
                                elem_id="sketch-seen-note")
        if notice is None:
            gr.Examples(examples("sketch", SKETCH_EXAMPLES), inputs=[upload], outputs=[drawing_pad], fn=to_pad,
                        run_on_click=True, label="Example drawings (click one, then keep drawing)",
                        api_name="sketch_example", examples_per_page=12)

    live = dict(inputs=[drawing_pad], outputs=[picture, seen, hint], **group("pad"))
    drawing_pad.change(sketch_pad, **live, trigger_mode="always_last", show_progress="hidden",
                       api_name="sketch_live", api_visibility="undocumented")
    translate_btn.click(sketch_pad, **live, show_progress="minimal", api_name="sketch_pad",
                        api_visibility="undocumented")
    upload.upload(sketch, inputs=[upload, hints], outputs=[picture], api_name="sketch", **group("sketch")).success(
        to_pad, inputs=[upload], outputs=[drawing_pad], api_name="sketch_to_pad", api_visibility="private",
        **group("sketch"))

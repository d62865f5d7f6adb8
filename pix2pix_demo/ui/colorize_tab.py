"""Tab 3, Colorize: a photo → colours at its full resolution, keeping the photo's own luminance.

With a hint-aware model (``Translator.takes_hints``) the photo also appears in gray on the hint canvas
(:mod:`.hint_canvas`): every point or scribble re-colorizes it live at preview size (``/colorize_live``), and the
"Full resolution" button makes the full-size result with the same hints (``/colorize``). With any other model the
tab colorizes each upload at full resolution at once, and a one-line note says that the model takes no hints.
"""

from __future__ import annotations

import time

import gradio as gr

from ..tasks import TASKS
from .common import examples, group, notice_box, notice_or_none
from ..hints import scaled
from .hint_canvas import COPY_HINTS, LIVE, PreviewCache, canvas_hints, canvas_photo, hint_canvas, no_hints_note
from .inputs import checked_hints, fit_hints, friendly, guard_choice, hints_input, image_input, load_upload_sized, suffix
from .model_zoo import ModelZoo
from .outputs import Results, gray, is_colour, shown_as_uploaded

COLORIZE_EXAMPLES = ["coffee_gray.jpg", "cat.jpg", "meadow.jpg"]


def colorize_tab(zoo: ModelZoo, results: Results):
    task = TASKS["colorize"]
    main = zoo.main("colorize")
    live_hints = main is not None and main.takes_hints
    previews = PreviewCache()

    @friendly
    def colorize(image, hints=None):
        """A photo (colour or black-and-white) → the colorized photo at its full resolution, keeping its luminance.
        ``hints``: colour hints for a hint-aware model, [{"x": X, "y": Y, "color": "#rrggbb"}, …] in the photo's
        pixels."""
        tr = zoo.require("colorize")
        user_hints = checked_hints(hints)
        img, size = load_upload_sized(image, "a photo", zoo.max_upload_pixels)
        colour = is_colour(img)
        gray_img = gray(img)
        # the task takes the photo's luminance: the same gray as shown
        out = tr(img, hints=fit_hints(user_hints, size, img))
        jpeg = suffix(image) in (".jpg", ".jpeg")
        after = results.save(out, "colorized", jpeg)
        state = {"gray": results.save(gray_img, "gray", jpeg), "after": after, "colour": colour,
                 "original": shown_as_uploaded(image, img, results, "original", jpeg) if colour else None}
        return after, state

    def auto(image, hints=None):
        if image is None:
            return None, None
        return colorize(image, hints)

    def preview(image, user_hints):
        """(the colorized photo at preview size, ms), the hints given in the photo's own pixels."""
        tr = zoo.require("colorize")
        t0 = time.perf_counter()
        small, (w, h) = previews.get(image) or previews.put(image, *load_upload_sized(image, "a photo",
                                                                                      zoo.max_upload_pixels))
        out = tr(small, hints=scaled(user_hints, small.width / w, small.height / h))
        return results.save(out, "preview", jpeg=True, quality=90), (time.perf_counter() - t0) * 1000

    @friendly
    def start(image):
        """A new photo → the hint canvas showing it in gray, the automatic colorization at preview size, and no
        full-size result yet."""
        if image is None:
            return None, None, "", None, None
        small, size = previews.put(image, *load_upload_sized(image, "a photo", zoo.max_upload_pixels))
        path, ms = preview(image, [])
        note = (f"Colorized in {ms:.0f} ms without hints. Click or paint on the gray photo to say which colour goes "
                f"where.")
        return canvas_photo(small, size), path, note, None, None

    @friendly(heavy=False)
    def colorize_live(image, hints):
        """A photo and the hint canvas's value ({"hints": [{"x": X, "y": Y, "color": "#rrggbb"}, …]} or the list
        itself, in the photo's pixels) → the colorized photo at preview size (at most 0.5 megapixels)."""
        user_hints = canvas_hints(hints)
        if user_hints is None:  # the canvas showing a new photo: start() made its preview
            return gr.skip(), gr.skip()
        path, ms = preview(image, user_hints)
        n = len(user_hints)
        return path, (f"Colorized in {ms:.0f} ms with {n} colour point{'s' if n != 1 else ''}. Press **Full "
                      f"resolution** for the full-size result." if n else f"Colorized in {ms:.0f} ms without hints.")

    def show(state, show_original):
        if not state:
            return None, "", gr.update(interactive=False)
        if state["colour"]:
            left = state["original"] if show_original else state["gray"]
            note = ("Your photo was in colour, so it was turned to gray first and colorized from the gray version. "
                    + ("Left: **your original colours**." if show_original else
                       "Left: the gray version. Tick *Show original colours* to compare with the real colours."))
        else:
            left = state["gray"]
            note = "Left: your black-and-white photo. Right: colorized, with your photo's own luminance."
        return (left, state["after"]), note, gr.update(interactive=state["colour"])

    with gr.Tab(task.title, id="colorize", elem_id="tab-colorize"):
        gr.Markdown(f"{task.description} Upload a black-and-white photo, or a colour one: it is turned to gray first "
                    f"so you can compare the colorization with the real colours."
                    + (" Then click points or paint short scribbles on it to say which colour goes where: the "
                       "preview follows every stroke." if live_hints else ""))
        notice = notice_or_none(zoo, ["colorize"])
        if notice:
            notice_box(notice, "col-notice")
        with gr.Row(visible=notice is None, equal_height=False):
            with gr.Column(scale=1, min_width=300):
                photo = image_input(label="Photo", elem_id="col-photo", height=240 if live_hints else 360)
                if live_hints:
                    canvas = hint_canvas("col-canvas", "Colour hints", preview="col-preview",
                                         model_size=main.config.image_size)
                elif main is not None:
                    gr.Markdown(no_hints_note("colorize"), elem_id="col-hints-note")
                show_original = guard_choice(gr.Checkbox(False, interactive=False, elem_id="col-original",
                                                         label="Show original colours (when the upload was in colour)"),
                                             "show_original must be true or false.")
                run_btn = gr.Button("Full resolution" if live_hints else "Colorize", variant="primary",
                                    elem_id="col-run")
                hints = hints_input()
            with gr.Column(scale=1, min_width=300):
                if live_hints:
                    live_picture = gr.Image(label="Live preview (with your hints)", type="filepath", format="jpeg",
                                            interactive=False, elem_id="col-preview", height=360,
                                            buttons=["fullscreen"])
                    live_note = gr.Markdown("", elem_id="col-live-note")
                slider = gr.ImageSlider(label="Before / after (drag the handle)", type="filepath",
                                        elem_id="col-slider", interactive=False, max_height=520)
                note = gr.Markdown("", elem_id="col-note")
                download = gr.File(label="Full-size result", elem_id="col-file", interactive=False)
        state = gr.State(None)
        if notice is None:
            gr.Examples(examples("photos", COLORIZE_EXAMPLES), inputs=[photo], label="Example photos",
                        api_name="colorize_example")

    common = dict(outputs=[download, state], **group("photo"))
    view = dict(fn=show, inputs=[state, show_original], outputs=[slider, note, show_original], queue=False,
                api_visibility="private")
    run_btn.click(colorize, inputs=[photo, hints], api_name="colorize", **common).success(api_name="colorize_show",
                                                                                            **view)
    show_original.input(api_name="colorize_toggle", **view)
    if not live_hints:
        photo.change(auto, inputs=[photo, hints], api_name="colorize_auto", api_visibility="private",
                     trigger_mode="always_last", **common).success(api_name="colorize_auto_show", **view)
        return
    # A new photo: the canvas shows it (which clears its hints) and the preview starts without hints. The canvas's
    # hints are copied into the hidden `hints` input in the browser, for the Full resolution button.
    photo.change(start, inputs=[photo], outputs=[canvas, live_picture, live_note, download, state],
                 api_name="colorize_start", api_visibility="private", trigger_mode="always_last",
                 **group("photo")).success(api_name="colorize_start_show", **view)
    canvas.change(None, inputs=[canvas], outputs=[hints], js=COPY_HINTS,
                  api_name="colorize_hints", api_visibility="private", queue=False)
    canvas.change(colorize_live, inputs=[photo, canvas], outputs=[live_picture, live_note], api_name="colorize_live",
                  api_visibility="undocumented", trigger_mode="always_last", show_progress="hidden", **LIVE)

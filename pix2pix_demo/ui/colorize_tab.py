"""Tab 3, Colorize: a photo → colours at its full resolution, keeping the photo's own luminance."""

from __future__ import annotations

import gradio as gr

from ..tasks import TASKS
from .common import examples, group, notice_box, notice_or_none
from .inputs import checked_hints, friendly, guard_choice, hints_input, image_input, load_upload, suffix
from .model_zoo import ModelZoo
from .outputs import Results, gray, is_colour, shown_as_uploaded

COLORIZE_EXAMPLES = ["coffee_gray.jpg", "cat.jpg", "meadow.jpg"]


def colorize_tab(zoo: ModelZoo, results: Results):
    task = TASKS["colorize"]

    @friendly
    def colorize(image, hints=None):
        """A photo (colour or black-and-white) → the colorized photo at its full resolution, keeping its luminance.
        ``hints``: colour hints for a hint-aware model, [{"x": X, "y": Y, "color": "#rrggbb"}, …] in the photo's
        pixels."""
        tr = zoo.require("colorize")
        user_hints = checked_hints(hints)
        img = load_upload(image, "a photo", zoo.max_upload_pixels)
        colour = is_colour(img)
        gray_img = gray(img)
        out = tr(img, hints=user_hints)  # the task takes the photo's luminance: the same gray as shown
        jpeg = suffix(image) in (".jpg", ".jpeg")
        after = results.save(out, "colorized", jpeg)
        state = {"gray": results.save(gray_img, "gray", jpeg), "after": after, "colour": colour,
                 "original": shown_as_uploaded(image, img, results, "original", jpeg) if colour else None}
        return after, state

    def auto(image, hints=None):
        if image is None:
            return None, None
        return colorize(image, hints)

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
                    f"so you can compare the colorization with the real colours.")
        notice = notice_or_none(zoo, ["colorize"])
        if notice:
            notice_box(notice, "col-notice")
        with gr.Row(visible=notice is None, equal_height=False):
            with gr.Column(scale=1, min_width=300):
                photo = image_input(label="Photo", elem_id="col-photo", height=360)
                show_original = guard_choice(gr.Checkbox(False, interactive=False, elem_id="col-original",
                                                         label="Show original colours (when the upload was in colour)"),
                                             "show_original must be true or false.")
                run_btn = gr.Button("Colorize", variant="primary", elem_id="col-run")
                hints = hints_input()
            with gr.Column(scale=1, min_width=300):
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
    photo.change(auto, inputs=[photo, hints], api_name="colorize_auto", api_visibility="private",
                 trigger_mode="always_last", **common).success(api_name="colorize_auto_show", **view)
    show_original.input(api_name="colorize_toggle", **view)

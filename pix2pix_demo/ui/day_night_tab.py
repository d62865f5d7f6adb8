"""Tab 2, Day ↔ Night: a photo of any size and a direction → the translated photo at full resolution."""

from __future__ import annotations

import gradio as gr

from ..tasks import TASKS
from .common import examples, group, notice_box, notice_or_none
from .inputs import friendly, guard_choice, image_input, load_upload, suffix
from .model_zoo import ModelZoo
from .outputs import Results, shown_as_uploaded

DIRECTIONS = ("day2night", "night2day")
DAY_EXAMPLES = ["meadow.jpg", "coffee.jpg", "cat.jpg"]
NIGHT_EXAMPLES = ["meadow_night.jpg", "launch_pad_night.jpg"]
BAD_DIRECTION = f"The direction must be one of {', '.join(DIRECTIONS)}."


def day_night_tab(zoo: ModelZoo, results: Results):
    d2n, n2d = TASKS["day2night"], TASKS["night2day"]

    @friendly
    def day_night(image, direction):
        """A photo and a direction ("day2night" or "night2day") → the translated photo at its full resolution."""
        if direction not in DIRECTIONS:
            raise gr.Error(BAD_DIRECTION, print_exception=False)
        tr = zoo.require(direction)
        img = load_upload(image, "a photo", zoo.max_upload_pixels)
        out = tr(img)
        jpeg = suffix(image) in (".jpg", ".jpeg")
        stem = "night" if direction == "day2night" else "day"
        after = results.save(out, stem, jpeg)
        before = shown_as_uploaded(image, img, results, "input", jpeg)
        return after, {"before": before, "after": after}

    def auto(image, direction):
        if image is None:
            return None, None
        return day_night(image, direction)

    def show(state):
        return None if not state else (state["before"], state["after"])

    with gr.Tab("Day ↔ Night", id="day_night", elem_id="tab-day-night"):
        gr.Markdown(f"**{d2n.title}:** {d2n.description}  \n**{n2d.title}:** {n2d.description}  \n"
                    f"Upload a photo of any size: the result has the photo's full resolution.")
        notice = notice_or_none(zoo, DIRECTIONS)
        if notice:
            notice_box(notice, "dn-notice")
        available = [t for t in DIRECTIONS if zoo.main(t) is not None]
        with gr.Row(visible=bool(available), equal_height=False):
            with gr.Column(scale=1, min_width=300):
                photo = image_input(label="Photo", elem_id="dn-photo", height=360)
                direction = guard_choice(gr.Radio([(TASKS[t].title, t) for t in DIRECTIONS],
                                                  value=available[0] if available else DIRECTIONS[0],
                                                  label="Direction", elem_id="dn-direction"), BAD_DIRECTION)
                run_btn = gr.Button("Translate", variant="primary", elem_id="dn-run")
            with gr.Column(scale=1, min_width=300):
                slider = gr.ImageSlider(label="Before / after (drag the handle)", type="filepath",
                                        elem_id="dn-slider", interactive=False, max_height=520)
                download = gr.File(label="Full-size result", elem_id="dn-file", interactive=False)
        state = gr.State(None)
        if available:
            with gr.Row():
                gr.Examples([[p, "day2night"] for p in examples("photos", DAY_EXAMPLES)], inputs=[photo, direction],
                            visible_columns=[0], label="Day photos (→ Night)", api_name="day_example")
                gr.Examples([[p, "night2day"] for p in examples("photos", NIGHT_EXAMPLES)],
                            inputs=[photo, direction], visible_columns=[0], label="Night photos (→ Day)",
                            api_name="night_example")

    common = dict(outputs=[download, state], **group("photo"))
    run_btn.click(day_night, inputs=[photo, direction], api_name="day_night", **common).success(
        show, inputs=[state], outputs=[slider], api_name="day_night_show", api_visibility="private",
        queue=False)
    gr.on([photo.change, direction.change], auto, inputs=[photo, direction], api_name="day_night_auto",
          api_visibility="private", trigger_mode="always_last", **common).success(
        show, inputs=[state], outputs=[slider], api_name="day_night_auto_show", api_visibility="private",
        queue=False)

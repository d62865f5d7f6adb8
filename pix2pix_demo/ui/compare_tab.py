"""Tab 4, Skip vs No-skip: one input through the encoder–decoder, the U-Net and the MobileNet U-Net, with the U-Net's
skip connections switchable level by level and its encoder feature maps shown."""

from __future__ import annotations

import os

import gradio as gr

from ..models import ARCHS
from ..tasks import TASKS
from .colorize_tab import COLORIZE_EXAMPLES
from .common import examples, group, notice_box
from .day_night_tab import DAY_EXAMPLES, NIGHT_EXAMPLES
from .hint_canvas import COPY_HINTS, LIVE, canvas_hints, canvas_photo, hint_canvas, hints_json, no_hints_note
from .inputs import checked_hints, fit_hints, friendly, guard_choice, hints_input, image_input, load_upload_sized
from .model_zoo import ARCH_TITLES, ModelZoo
from .outputs import Results, feature_tiles
from .pad import pad, pad_value
from .sketch_tab import SKETCH_EXAMPLES

BAD_TASK = f"The task must be one of {', '.join(TASKS)}."
BAD_SKIPS = "skip_levels must be a list of U-Net skip levels to keep on, such as [1, 2, 3] (1 = outermost)."

SKIP_EXPLANATION = (
    "**What skip connections carry.** The encoder squeezes the picture through ever smaller feature maps down to a "
    "1×1 bottleneck: good for *what* is in the picture, bad for *where* exactly its edges are. A U-Net's skip "
    "connections hand each encoder level's feature map straight to the decoder level of the same size, so fine "
    "detail — the exact position of every line and edge, textures, the input's own structure — does not have to "
    "survive the bottleneck. Without them (the encoder–decoder) outputs come out blurrier and shapes drift. Untick "
    "the outer levels to lose the finest detail first; the inner levels carry coarser layout. The maps below show "
    "how strongly each U-Net encoder level responds (mean absolute activation), outermost first.")


def _guard_skips(comp: gr.CheckboxGroup) -> gr.CheckboxGroup:
    """None means every level on; anything that is not a list of offered levels gets :data:`BAD_SKIPS`."""
    guard_choice(comp, BAD_SKIPS)
    checked = comp.preprocess
    comp.preprocess = lambda payload: None if payload is None else checked(payload)
    return comp


def _skip_choices(zoo: ModelZoo, task: str | None = None) -> list[tuple[str, int]]:
    """Checkbox choices (label, level) for the U-Net of ``task``; for None, every level of any U-Net."""
    trs = [zoo.get(t, "unet") for t in ([task] if task else TASKS)]
    trs = [t for t in trs if t is not None]
    if not trs:
        return []
    tr = max(trs, key=lambda t: t.num_skips)
    size = tr.config.image_size
    n = tr.num_skips
    return [(f"{i}{' (outermost)' if i == 1 else ' (innermost)' if i == n else ''} · {size >> i}×{size >> i}", i)
            for i in range(1, n + 1)]


def _hint_label(tr, user_hints) -> str:
    if not user_hints:
        return ""
    if not tr.takes_hints:
        return " · takes no colour hints"
    return f" · {len(user_hints)} colour point{'s' if len(user_hints) != 1 else ''}"


def _hint_aware(zoo: ModelZoo, task: str):
    """The task's U-Net when it takes colour hints (the other generators load later), else None."""
    tr = zoo.get(task, "unet")
    return tr if tr is not None and tr.takes_hints else None


def _measured(metrics: dict) -> tuple[dict, str]:
    """The numbers the table shows for a model: its first held-out source's (the headline: pictures from a source it
    never trained on) when its metrics.json has them, else its in-source validation split's; and which they are."""
    heldout = metrics.get("heldout")
    if isinstance(heldout, dict) and heldout:
        label, measured = next(iter(heldout.items()))
        if isinstance(measured, dict):
            return measured, label
    return metrics, "in-source validation"


def compare_tab(zoo: ModelZoo, results: Results):
    tasks = list(TASKS)
    sketch_colour, colour_canvas = _hint_aware(zoo, "sketch"), _hint_aware(zoo, "colorize")
    default_task = next((t for t in tasks if any(zoo.get(t, a) for a in ARCHS)), tasks[0])
    headers = ["generator", "params", "this input (ms)", "L1 ↓", "PSNR ↑", "SSIM ↑", "hue accuracy (best tint)",
               "colourfulness (target)", "measured on (pictures)"]

    def _fmt(v, spec):
        return format(v, spec) if isinstance(v, (int, float)) else "—"

    def _row(task, arch, ms):
        tr, m = zoo.get(task, arch), zoo.metrics(task, arch)
        if tr is None:
            return [ARCH_TITLES[arch], "—", "not available", "—", "—", "—", "—", "—", "—"]
        m, where = _measured(m)

        def _pair(a, b, spec):
            return f"{_fmt(m.get(a), spec)} ({_fmt(m.get(b), spec)})" if isinstance(m.get(a), (int, float)) else "—"

        n = m.get("n", m.get("val_items"))
        return [ARCH_TITLES[arch], f"{tr.params / 1e6:.2f} M", _fmt(ms, ".0f"), _fmt(m.get("l1"), ".4f"),
                _fmt(m.get("psnr"), ".2f"), _fmt(m.get("ssim"), ".3f"),
                _pair("hue_accuracy", "hue_constant_tint", ".2f"),
                _pair("colourfulness", "colourfulness_target", ".1f"),
                where + (f" ({n})" if isinstance(n, int) else "")]

    def _skips_for(tr, levels):
        if levels is None:
            return None
        if not isinstance(levels, (list, tuple)) or not all(isinstance(v, int) for v in levels):
            raise gr.Error(BAD_SKIPS, print_exception=False)
        on = set(levels)
        return [i + 1 in on for i in range(tr.num_skips)]

    def _label(arch, tr, ms, skips=None):
        label = f"**{ARCH_TITLES[arch]}** · {tr.params / 1e6:.2f} M params · **{ms:.0f} ms**"
        if skips is not None and not all(skips):
            off = [str(i + 1) for i, on in enumerate(skips) if not on]
            label += f" · skip level{'s' if len(off) > 1 else ''} {', '.join(off)} off"
        return label

    def run(task, image, skip_levels, user_hints):
        if task not in TASKS:
            raise gr.Error(BAD_TASK, print_exception=False)
        if not any(zoo.get(task, a) for a in ARCHS):
            raise gr.Error(zoo.notice(task), print_exception=False)
        img, size = load_upload_sized(image, "an image", zoo.max_upload_pixels)
        user_hints = fit_hints(user_hints, size, img)  # given in the upload's own pixels; img may be scaled down
        pictures, rows, labels = [], [], []
        for arch in ("encoder_decoder", "unet", "mobilenet_unet"):
            tr = zoo.get(task, arch)
            if tr is None:
                pictures.append(None)
                labels.append(f"**{ARCH_TITLES[arch]}** · not available for this task ({zoo.problems[task, arch]})")
                rows.append(_row(task, arch, None))
                continue
            skips = _skips_for(tr, skip_levels) if arch == "unet" else None
            out, ms = tr.timed(img, skips, user_hints if tr.takes_hints else None)
            pictures.append(results.save(out, arch, jpeg=False))
            labels.append(_label(arch, tr, ms, skips) + _hint_label(tr, user_hints))
            rows.append(_row(task, arch, ms))
        import pandas as pd

        # The captions (parameters, milliseconds) go on in the next step, so API clients get plain images.
        return (*pictures, pd.DataFrame(rows, columns=headers),
                {"task": task, "image": img, "labels": labels, "hints": user_hints})

    @friendly
    def compare(task, image, skip_levels, hints=None):
        """A task, an input image and the U-Net skip levels to keep on (1 = outermost) → the encoder-decoder's, the
        U-Net's and the MobileNet U-Net's pictures, and a table of parameters, time and metrics (held-out sources).
        ``hints``: colour hints, [{"x": X, "y": Y, "color": "#rrggbb"}, …] in the image's pixels, given to every
        generator that takes them (sketch and colorize)."""
        return run(task, image, skip_levels, checked_hints(hints))

    @friendly
    def auto(task, image, skip_levels, drawn=None):
        """A new input (an upload, an example, the pad's drawing, another task). Its colour hints are the pad's when
        it is the pad's drawing (``drawn``, from :func:`pad_to_image`), else none."""
        if image is None:
            return (*(gr.skip(),) * 4, None)
        same = (isinstance(drawn, dict) and drawn.get("task") == task and isinstance(image, str)
                and os.path.realpath(image) == drawn.get("image"))
        return run(task, image, skip_levels, checked_hints(drawn.get("hints")) if same else [])

    @friendly
    def compare_hinted(task, image, skip_levels, canvas):
        """The hint canvas changed: the same input again, with the canvas's hints (``canvas``: its value)."""
        user_hints = canvas_hints(canvas)
        if user_hints is None or image is None:
            return (*(gr.skip(),) * 5,)
        return run(task, image, skip_levels, user_hints)

    @friendly
    def canvas_for(task, image):
        """The hint canvas's value for a new input: the photo in gray for Colorize, else empty."""
        if task != "colorize" or image is None or not colour_canvas:
            return ""
        return canvas_photo(*load_upload_sized(image, "an image", zoo.max_upload_pixels))

    @friendly
    def unet_only(state, skip_levels):
        if not state:
            return gr.skip(), gr.skip()
        tr = zoo.get(state["task"], "unet")
        if tr is None:
            return gr.skip(), gr.skip()
        skips = _skips_for(tr, skip_levels)
        out, ms = tr.timed(state["image"], skips, state["hints"] if tr.takes_hints else None)
        return results.save(out, "unet", jpeg=False), _label("unet", tr, ms, skips)

    @friendly
    def decorate(state):
        """Label each picture with its parameters and time, and show the U-Net's encoder feature maps."""
        if not state:
            return (*(gr.skip(),) * 3, None)
        tr = zoo.get(state["task"], "unet")
        tiles = feature_tiles(tr.features(state["image"], state["hints"] if tr.takes_hints else None),
                              tr.num_skips) if tr is not None else None
        tiles = [(results.save(img, f"level_{i + 1}", jpeg=False), caption)
                 for i, (img, caption) in enumerate(tiles or [])] or None
        return (*state["labels"], tiles)

    def on_task(task):
        choices = _skip_choices(zoo, task)
        return (gr.update(choices=choices, value=[v for _, v in choices]),
                gr.update(visible=task == "sketch"), gr.update(visible=task == "colorize"),
                f"**{TASKS[task].title}:** {TASKS[task].description}", None)

    @friendly(heavy=False)
    def pad_to_image(drawing):
        """The pad's drawing → the input image, and its colour hints for :func:`auto` and the Compare button."""
        img, user_hints = pad_value(drawing)
        if img is None:
            return gr.skip(), gr.skip(), gr.skip()
        path = results.save(img, "drawing", jpeg=False)
        points = hints_json(user_hints) or None
        return path, {"task": "sketch", "image": os.path.realpath(path), "hints": points}, points

    with gr.Tab("Skip vs No-skip", id="compare", elem_id="tab-compare"):
        gr.Markdown("The same input through three generators: the **encoder–decoder** (no skip connections), the "
                    "pix2pix **U-Net** and a **MobileNet U-Net** (MobileNetV2 encoder). Pick a task, then draw or "
                    "upload an input; untick skip levels to switch the U-Net's skip connections off.")
        notice = None
        if zoo.empty:
            notice = (f"⚠️ No models are available yet: there are no trained models in {zoo.dir}. Train them with "
                      f"`python -m pix2pix_demo train --task TASK --arch ARCH …` and copy each model folder to "
                      f"{zoo.dir}/TASK/ARCH/, then restart the app.")
            notice_box(notice, "cmp-notice")
        with gr.Column(visible=notice is None):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=280):
                    task_radio = guard_choice(gr.Radio([(TASKS[t].title, t) for t in tasks], value=default_task,
                                                       label="Task", elem_id="cmp-task"), BAD_TASK)
                    task_info = gr.Markdown(f"**{TASKS[default_task].title}:** {TASKS[default_task].description}")
                    image = image_input(label="Input", elem_id="cmp-image", height=260, format="png")
                    with gr.Accordion("Draw (for Sketch → Image)", open=False, visible=default_task == "sketch",
                                      elem_id="cmp-draw") as draw_box:
                        cmp_pad = pad("cmp-pad", "Draw here", colour=sketch_colour is not None,
                                      model_size=sketch_colour.config.image_size if sketch_colour else 256)
                    with gr.Column(visible=default_task == "colorize", elem_id="cmp-hints-box") as hint_box:
                        if colour_canvas is not None:
                            gr.Markdown("**Colour hints:** the same points go to all three generators; see which "
                                        "ones follow them.", elem_id="cmp-hints-info")
                            cmp_canvas = hint_canvas("cmp-canvas", "Colour hints", preview="cmp-unet",
                                                     model_size=colour_canvas.config.image_size)
                        elif zoo.get("colorize", "unet") is not None:
                            gr.Markdown(no_hints_note("colorize"), elem_id="cmp-hints-note")
                    all_levels = _skip_choices(zoo)
                    skips = gr.CheckboxGroup(all_levels, value=[v for _, v in _skip_choices(zoo, default_task)],
                                             label="U-Net skip connections (outermost → innermost)",
                                             info="Untick a level to run the U-Net without it.", elem_id="cmp-skips")
                    _guard_skips(skips)
                    run_btn = gr.Button("Compare", variant="primary", elem_id="cmp-run")
                    hints = hints_input()
                with gr.Column(scale=3, min_width=480):
                    outs, captions = [], []
                    with gr.Row(equal_height=True):
                        for a in ("encoder_decoder", "unet", "mobilenet_unet"):
                            with gr.Column(min_width=160):
                                outs.append(gr.Image(label=ARCH_TITLES[a], type="pil", format="png",
                                                     interactive=False, elem_id=f"cmp-{a}", height=260,
                                                     buttons=["download", "fullscreen"]))
                                captions.append(gr.Markdown(f"**{ARCH_TITLES[a]}**", elem_id=f"cmp-{a}-caption"))
                    table = gr.Dataframe(headers=headers, label="Each model's metrics.json (on a source it never "
                                                                "trained on, when measured) and the time on this input",
                                         interactive=False, elem_id="cmp-table", wrap=True,
                                         column_widths=["15%", "8%", "8%", "8%", "7%", "7%", "12%", "14%", "21%"])
                    gr.Markdown(SKIP_EXPLANATION)
                    gallery = gr.Gallery(label="U-Net encoder feature maps, outermost level first",
                                         columns=8, height=170, object_fit="contain", allow_preview=True,
                                         elem_id="cmp-features", interactive=False)
        state = gr.State(None)
        # Inside the tab: a component made directly in the Tabs (outside any Tab) shifts the later tabs' positions,
        # and Gradio 6.31 then shows the next tab's button twice once it is selected.
        drawn = gr.State(None)  # the pad's drawing, as saved for the input image, and its colour hints
        if notice is None:
            ex = [["sketch", p] for p in examples("sketch", SKETCH_EXAMPLES[:2])]
            ex += [["day2night", p] for p in examples("photos", DAY_EXAMPLES[:1])]
            ex += [["night2day", p] for p in examples("photos", NIGHT_EXAMPLES[:1])]
            ex += [["colorize", p] for p in examples("photos", COLORIZE_EXAMPLES[:1])]
            gr.Examples(ex, inputs=[task_radio, image], label="Examples", api_name="compare_example")

    common = dict(outputs=[*outs, table, state], **group("compare"))
    feats = dict(fn=decorate, inputs=[state], outputs=[*captions, gallery], api_visibility="private",
                 **group("compare"))
    run_btn.click(compare, inputs=[task_radio, image, skips, hints], api_name="compare", **common).success(
        api_name="compare_features", **feats)
    image.change(auto, inputs=[task_radio, image, skips, drawn], api_name="compare_auto", api_visibility="private",
                 trigger_mode="always_last", **common).success(api_name="compare_auto_features", **feats)
    task_radio.input(on_task, inputs=[task_radio], outputs=[skips, draw_box, hint_box, task_info, hints],
                     api_name="compare_task", api_visibility="private", queue=False).then(
        auto, inputs=[task_radio, image, skips, drawn], api_name="compare_task_run", api_visibility="private",
        **common).success(api_name="compare_task_features", **feats)
    skips.input(unet_only, inputs=[state, skips], outputs=[outs[1], captions[1]], api_name="compare_skips",
                api_visibility="private", trigger_mode="always_last", **group("compare"))
    cmp_pad.change(pad_to_image, inputs=[cmp_pad], outputs=[image, drawn, hints], api_name="compare_pad",
                   api_visibility="private", trigger_mode="always_last", show_progress="hidden", **group("pad"))
    # An uploaded file has no hints yet (the Compare button reads `hints`; the automatic run reads `drawn`).
    image.upload(None, outputs=[hints], js="() => [null]", api_name="compare_upload", api_visibility="private",
                 queue=False)
    if colour_canvas is None:
        return
    gr.on([image.change, task_radio.input], canvas_for, inputs=[task_radio, image], outputs=[cmp_canvas],
          api_name="compare_canvas", api_visibility="private", trigger_mode="always_last", **LIVE)
    cmp_canvas.change(None, inputs=[cmp_canvas], outputs=[hints], api_name="compare_hints", api_visibility="private",
                      js=COPY_HINTS, queue=False)
    cmp_canvas.change(compare_hinted, inputs=[task_radio, image, skips, cmp_canvas], api_name="compare_hinted",
                      api_visibility="private", trigger_mode="always_last", **common).success(
        api_name="compare_hinted_features", **feats)

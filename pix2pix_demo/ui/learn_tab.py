"""Tab 5, Watch them learn: fresh generators trained side by side, live, on the user's own images.

The training itself is :mod:`pix2pix_demo.live_training` (a child process at low priority on one core, run by
:mod:`pix2pix_demo.live_run`); this
file starts a run, streams its reports (a shared L1 plot, each generator's output on the held-out crop, a table
with steps per second) and offers the trained generators as a zip of model folders. One run at a time for the
whole app: a second visitor is told how long the current run has left.

Endpoints: ``/learn`` (a generator: it streams until the run ends) and ``/learn_stop`` (stops the run that this
session started; the ``/learn`` stream then ends with the saved generators).
"""

from __future__ import annotations

import numbers
import os
import time
import uuid
import zipfile
from pathlib import Path

import gradio as gr
import pandas as pd
from PIL import Image

from .. import live_run as live
from ..tasks import TASKS
from .common import examples
from .inputs import friendly, guard_choice, image_input, load_upload
from .model_zoo import ModelZoo
from .outputs import Results, is_colour

#: Settings applied to every run on top of the task's recipe (tests make the models tiny and the reports frequent).
SPEC_OVERRIDES: dict = {}
#: Built-in examples per task: the last one's far third is the held-out crop.
LEARN_EXAMPLES = {"colorize": ["cat.jpg", "coffee.jpg", "meadow.jpg"], "day2night": ["cat.jpg", "coffee.jpg",
                  "meadow.jpg"], "sketch": ["cat.jpg", "coffee.jpg", "meadow.jpg"]}
NAMES = {"encoder_decoder": "Encoder–decoder", "unet": "U-Net", "mobilenet_unet": "MobileNet U-Net"}
COLOURS = {"encoder_decoder": ("#f4a582", "#ca0020"), "unet": ("#92c5de", "#0571b0"),
           "mobilenet_unet": ("#a6dba0", "#008837")}
HEADERS = ["generator", "params", "steps", "steps/s", "train L1", "held-out L1"]
POLL_S = 1.0
MIN_SIDE = 32  # px: smaller pictures leave too little to crop

BAD_TASK = f"The task must be one of {', '.join(live.LIVE_TASKS)}."
BAD_SECONDS = f"The time limit must be a number of seconds from {live.MIN_SECONDS} to {live.MAX_SECONDS}."
BAD_ARCHS = f"generators must be a list of one to three of {', '.join(live.LIVE_ARCHS)}."

INTRO = (
    "Train small, fresh generators **from scratch, side by side**, on a few of your own images, and watch what "
    "each architecture can learn (Isola et al. 2017, Fig. 5 and Table 2). They get the same batches and the task's "
    f"pix2pix recipe (GAN + 100 × L1, Adam 2e-4) on {live.LIVE_SIZE} px crops. The far third of every image never "
    "appears in training: the held-out L1 is measured there (the input shown comes from the last image). Within a "
    "minute the U-Net, whose skip connections carry the input's detail past the bottleneck, is sharper and closer "
    "to the target than the encoder–decoder, which is still a blur (on Day → Night by far; on Colorize less, as "
    "colour varies slowly across a picture). Leave the image slots empty to use the built-in examples. For Sketch → "
    "Image give pictures (photos, drawings in colour): the line drawings are made from them.")


def curve_name(arch: str, curve: str) -> str:
    return f"{NAMES[arch]} · {curve}"


def _color_map() -> dict:
    return {curve_name(a, c): col for a, (train, held) in COLOURS.items()
            for c, col in (("train", train), ("held-out", held))}


def plot_frame(run: live.LiveRun) -> pd.DataFrame | None:
    """The curve points as the line plot's data: step, L1, curve ("U-Net · held-out", …); None before the first.

    (Never an empty frame: Gradio 6.31's plot keeps the colour encoding of its first data, and an empty frame has
    none, so later lines would be drawn without colour.)"""
    rows = [(p["step"], p["l1"], curve_name(p["arch"], p["curve"])) for p in run.history]
    return pd.DataFrame(rows, columns=["step", "L1", "curve"]) if rows else None


def _big(arr, side: int = 256) -> Image.Image:
    img = Image.fromarray(arr)
    k = max(1, side // max(img.size))
    return img.resize((img.width * k, img.height * k), Image.Resampling.NEAREST)  # pixels as they are


def _table(run: live.LiveRun) -> list[list]:
    gens = run.latest["generators"] if run.latest else {}
    params = run.started["params"] if run.started else {}
    rows = []
    for arch in run.spec.archs:
        g = gens.get(arch, {})
        rows.append([NAMES[arch], f"{params[arch] / 1e6:.2f} M" if arch in params else "—", g.get("steps", 0),
                     round(g["steps_per_s"], 1) if g else "—",
                     round(g["train_l1"], 4) if g.get("train_l1") is not None else "—",
                     round(g["heldout_l1"], 4) if g else "—"])
    return rows


def _verdict(run: live.LiveRun) -> str:
    gens = run.latest["generators"] if run.latest else {}
    if "unet" in gens and "encoder_decoder" in gens:
        u, e = gens["unet"]["heldout_l1"], gens["encoder_decoder"]["heldout_l1"]
        better = "U-Net" if u < e else "encoder–decoder"
        return (f" Held-out L1: U-Net **{u:.4f}**, encoder–decoder **{e:.4f}**: the {better} is closer to the "
                f"target ({max(u, e) / max(min(u, e), 1e-9):.1f}×).")
    return ""


def status_text(run: live.LiveRun, what: str) -> str:
    spec = run.spec
    title = TASKS[spec.task].title
    if run.state == "done" and not run.result["step"]:
        return "⏹️ **Stopped** before training began: nothing to save."
    if run.state == "done":
        why = "you stopped it" if run.result["reason"] == "stopped" else "the time limit was reached"
        return (f"✅ **Done** after {run.result['step']} steps ({why}).{_verdict(run)} The trained generators are "
                f"in the zip below: `pix2pix_demo.load(\"{spec.task}\", \"unet\", weights=<unzipped folder>)` "
                f"opens them.")
    if run.stop_requested is not None:
        return "⏹️ **Stopping**: finishing the step and saving the generators…"
    now = time.monotonic()
    if run.state != "training":
        return (f"⏳ **Setting up** ({run.note}, {now - run.created:.0f} s) for {title} on {what}. Training starts "
                f"in a few seconds; the time limit ({spec.seconds:.0f} s) counts training only.")
    step = run.latest["step"] if run.latest else 0
    elapsed = min(spec.seconds, now - run.training_since)
    return (f"🏋️ **Training** {title} on {what} ({spec.image_size} px crops, batch "
            f"{run.started['batch_size']}): step {step}, {elapsed:.0f} s of {spec.seconds:.0f} s. Press Stop at "
            f"any time.{_verdict(run)}")


def zip_models(folder: Path, task: str) -> str:
    """``folder/<task>/<arch>/…`` → ``folder/watch_them_learn_<task>.zip`` (the same layout inside)."""
    path = folder / f"watch_them_learn_{task}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted((folder / task).rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(folder))
    return str(path)


def learn_tab(zoo: ModelZoo, results: Results):
    image_slots = 3

    @friendly
    def begin(task, images, seconds, generators):
        """Check the arguments, decode the images and start the run (or say how long the current one has left)."""
        if task not in live.LIVE_TASKS:
            raise gr.Error(BAD_TASK, print_exception=False)
        if seconds is None:
            seconds = live.DEFAULT_SECONDS
        if (not isinstance(seconds, numbers.Real) or isinstance(seconds, bool)
                or not live.MIN_SECONDS <= seconds <= live.MAX_SECONDS):
            raise gr.Error(BAD_SECONDS, print_exception=False)
        if generators is None:
            generators = list(live.DEFAULT_ARCHS)
        if (not isinstance(generators, list) or not generators or len(set(map(str, generators))) != len(generators)
                or any(g not in live.LIVE_ARCHS for g in generators)):
            raise gr.Error(BAD_ARCHS, print_exception=False)
        run = live.current()
        if run is not None and run.running:  # answer at once, before decoding anything
            raise gr.Error(f"A training is running; it ends in {run.ends_in():.0f} s. Please try again then.",
                           print_exception=False)
        given = [(k, src) for k, src in enumerate(images) if src is not None]
        if given:
            imgs = [(f"image {k + 1}", load_upload(src, f"image {k + 1}", zoo.max_upload_pixels)) for k, src in given]
        else:
            imgs = [(Path(p).name, load_upload(p, "an example", zoo.max_upload_pixels))
                    for p in examples("photos", LEARN_EXAMPLES[task])]
        small = [name for name, img in imgs if min(img.size) < MIN_SIDE]
        if small:
            raise gr.Error(f"{small[0].capitalize()} is too small to train on: at least {MIN_SIDE} × {MIN_SIDE} "
                           f"pixels, please.", print_exception=False)
        if task == "colorize":
            gray = [name for name, img in imgs if not is_colour(img)]
            imgs = [(name, img) for name, img in imgs if is_colour(img)]
            if not imgs:
                raise gr.Error("Colorize learns colours from colour photos: please give at least one colour photo.",
                               print_exception=False)
            if gray:
                gr.Warning(f"Left out {', '.join(gray)}: it has no colour to learn from.")
        what = (", ".join(name for name, _ in imgs) if given else
                "the examples " + ", ".join(name for name, _ in imgs)) + " (the far third of each is held out)"
        folder = results.root / uuid.uuid4().hex
        settings = {"seconds": float(seconds), "archs": tuple(generators), "export_dir": str(folder),
                    "isolation": os.environ.get("P2P_LEARN_ISOLATION", "process")} | SPEC_OVERRIDES
        try:
            run = live.start_exclusive(live.LiveSpec(task=task, **settings), [img for _, img in imgs])
        except live.Busy as busy:
            raise gr.Error(f"A training is running; it ends in {busy.ends_in:.0f} s. Please try again then.",
                           print_exception=False) from None
        return run, what, folder

    @friendly(heavy=False)
    def follow(run: live.LiveRun, what: str, folder: Path, seen: dict):
        """Wait up to a second for the run's next reports; (outputs, whether the run has ended). Between reports
        only the status changes (a clock); the other outputs are sent again unchanged, never ``gr.skip()``: Gradio
        6.31 streams a generator's outputs as diffs against the previous ones, and the diff from a plot to a skip
        deletes every key of the plot's value in the browser, in place ("Cannot read properties of undefined
        (reading 'step')" once the plot redraws). An unchanged output's diff is empty. An update every second also
        lets Gradio cancel the stream promptly (it can only do so between two updates)."""
        msgs = run.poll(POLL_S)
        if run.state == "error":
            raise gr.Error("The training stopped with an error; please try again.", print_exception=False)
        progress = any(m["kind"] in ("progress", "done") and m["generators"] for m in msgs)
        ended = run.state == "done" and not run.running
        status = status_text(run, what)
        if "input" not in seen and run.started:
            seen["input"] = results.save(_big(run.started["input"]), "input", jpeg=False)
            seen["target"] = results.save(_big(run.started["target"]), "target", jpeg=False)
        if progress:  # new pictures only with a new report; the same files are sent again otherwise
            seen["pictures"] = {arch: results.save(_big(g["picture"]), arch, jpeg=False)
                                for arch, g in run.latest["generators"].items()}
            seen["plot"], seen["table"] = plot_frame(run), _table(run)
        pics = seen.get("pictures", {})
        download = zip_models(folder, run.spec.task) if ended and run.result["folders"] else None
        return ([seen.get("plot"), seen.get("input"), seen.get("target")]
                + [pics.get(a) for a in live.LIVE_ARCHS] + [seen.get("table", _table(run)), status, download]), ended

    def stop(token):
        """Stop the run this session started (its generators are then saved and offered)."""
        live.stop_run(token)

    def learn(task, image_1, image_2, image_3, seconds, generators):
        """Train fresh generators side by side on up to three images (none: the examples) for `seconds` (10–600)
        and stream, every few seconds: the L1 curves (train and held-out), the held-out input and target, each
        generator's output on it, a table (params, steps, steps/s, train L1, held-out L1), a status line and, at
        the end, a zip of the trained model folders."""
        run, what, folder = begin(task, [image_1, image_2, image_3], seconds, generators)
        seen: dict = {}
        try:
            yield [None, None, None, None, None, None, _table(run), status_text(run, what), None, run.token]
            while True:
                outputs, ended = follow(run, what, folder, seen)
                yield outputs + [run.token]
                if ended:
                    return
        finally:  # the page was closed or the client went away: do not train for nobody
            if run.running:
                run.stop()

    with gr.Tab("Watch them learn", id="learn", elem_id="tab-learn"):
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                task = guard_choice(gr.Radio([(TASKS[t].title, t) for t in live.LIVE_TASKS], value="colorize",
                                             label="Task", elem_id="learn-task"), BAD_TASK)
                with gr.Row():
                    images = [image_input(label=f"Image {k + 1}", elem_id=f"learn-image-{k + 1}", height=150)
                              for k in range(image_slots)]
                seconds = guard_choice(gr.Slider(live.MIN_SECONDS, live.MAX_SECONDS, value=live.DEFAULT_SECONDS,
                                                 step=10, label="Time limit (s of training)",
                                                 elem_id="learn-seconds"), BAD_SECONDS)
                archs = guard_choice(gr.CheckboxGroup([(NAMES[a], a) for a in live.LIVE_ARCHS],
                                                      value=list(live.DEFAULT_ARCHS), label="Generators",
                                                      info="The MobileNet U-Net takes longer to start and ~400 MB "
                                                           "more memory.", elem_id="learn-archs"), BAD_ARCHS)
                with gr.Row():
                    start_btn = gr.Button("Start", variant="primary", elem_id="learn-start")
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="learn-stop")
                status = gr.Markdown("Press **Start**.", label="Status", elem_id="learn-status")
                download = gr.File(label="Trained generators (model folders, zipped)", elem_id="learn-file",
                                   interactive=False)
            with gr.Column(scale=2, min_width=400):
                plot = gr.LinePlot(None, x="step", y="L1", color="curve",
                                   color_map=_color_map(), y_lim=[0, None], height=380, elem_id="learn-plot",
                                   x_title="step", y_title="L1 (lower is better)", label="L1: train and held-out",
                                   show_label=False)  # Gradio 6.31: a shown label pushes the legend out of view
                with gr.Row():
                    held_in = gr.Image(label="Held-out input", type="filepath", interactive=False, height=170,
                                       elem_id="learn-input", buttons=[])
                    held_target = gr.Image(label="Target", type="filepath", interactive=False, height=170,
                                           elem_id="learn-target", buttons=[])
                with gr.Row():
                    outs = [gr.Image(label=NAMES[a], type="filepath", interactive=False, height=170,
                                     elem_id=f"learn-{a}", buttons=[]) for a in live.LIVE_ARCHS]
                table = gr.Dataframe(headers=HEADERS, label="Each generator", elem_id="learn-table",
                                     interactive=False)
        token = gr.State(None)

    start_btn.click(learn, inputs=[task, *images, seconds, archs],
                    outputs=[plot, held_in, held_target, *outs, table, status, download, token],
                    api_name="learn", concurrency_id="learn", concurrency_limit=2, show_progress="minimal",
                    show_progress_on=[status])
    stop_btn.click(friendly(stop, heavy=False), inputs=[token], outputs=None, api_name="learn_stop", queue=False)

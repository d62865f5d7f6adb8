"""The Gradio 6 app: four tabs built from the task records, every action a named API endpoint.

``build_app(weights_dir)`` loads every model in ``weights_dir/<task>/<arch>/`` once, warms it up, and returns a
``gr.Blocks``; ``launch(demo, …)`` serves it with the app's limits. Tabs whose models are missing show a notice.

Public endpoints (see ``docs/api.md``): ``/sketch`` (drawing file → picture), ``/day_night`` (photo, direction →
full-resolution file), ``/colorize`` (photo → full-resolution file), ``/compare`` (task, image, enabled skip levels
→ three pictures and a table). Every user-facing problem is a ``gr.Error`` or ``gr.Warning`` with a plain sentence.

The live sketch pad is a lean ``gr.HTML`` canvas (``static/pad.*``): on each stroke end it sets its value to a
PNG data URL, and the ``change`` listener answers with the picture.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import logging
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

import gradio as gr

from . import imaging
from .models import ARCHS
from .tasks import TASKS

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
STATIC = Path(__file__).resolve().parent / "static"
EXAMPLES_DIR = ROOT / "examples"
DEFAULT_WEIGHTS = ROOT / "weights"

#: Uploads above this many pixels are scaled down (with a warning); above imaging.MAX_PIXELS they are refused.
MAX_UPLOAD_PIXELS = 24_000_000
#: Largest upload accepted by the server (Gradio's max_file_size).
MAX_FILE_SIZE = "100mb"
#: Largest drawing (data URL characters) accepted from the pad.
MAX_DATA_URL = 16_000_000
#: Side of the pad's canvas, in pixels; the pen is 7 px wide (3.5 px at 256 px).
PAD_SIZE = 512
PAD_PEN = 7
#: Queue: at most this many jobs wait; each group of events runs this many at once.
QUEUE_SIZE = 200
CONCURRENCY = {"sketch": 2, "photo": 2, "compare": 2}

ARCH_TITLES = {"encoder_decoder": "Encoder–decoder (no skips)", "unet": "U-Net (skips)",
               "mobilenet_unet": "MobileNet U-Net"}
#: The model a task's own tab uses: the first of these that is available.
PREFERRED = ("unet", "mobilenet_unet", "encoder_decoder")
DIRECTIONS = ("day2night", "night2day")

SKIP_EXPLANATION = (
    "**What skip connections carry.** The encoder squeezes the picture through ever smaller feature maps down to a "
    "1×1 bottleneck: good for *what* is in the picture, bad for *where* exactly its edges are. A U-Net's skip "
    "connections hand each encoder level's feature map straight to the decoder level of the same size, so fine "
    "detail — the exact position of every line and edge, textures, the input's own structure — does not have to "
    "survive the bottleneck. Without them (the encoder–decoder) outputs come out blurrier and shapes drift. Untick "
    "the outer levels to lose the finest detail first; the inner levels carry coarser layout. The maps below show "
    "how strongly each U-Net encoder level responds (mean absolute activation), outermost first.")


# ------------------------------------------------------------------------------------------------ models
class ModelZoo:
    """Every model in ``weights_dir/<task>/<arch>/``, loaded once; what is missing is remembered, not fatal.

    The U-Nets, which the task tabs run, load before the UI is built. The compare view's other generators load in a
    background thread while the page is already served (``get`` waits for one that is still loading), and then
    every model is warmed up (its graph traced) so the first request is fast. ``warmed`` is set when all is done.
    """

    def __init__(self, weights_dir, warmup: bool = True):
        t0 = time.perf_counter()
        self.dir = Path(weights_dir).resolve()
        self.max_upload_pixels = MAX_UPLOAD_PIXELS
        self.translators = {}
        self.problems = {}
        self.warmed = threading.Event()
        self._pending: dict[tuple[str, str], threading.Event] = {}
        later = []
        for task in TASKS:
            for arch in ARCHS:
                folder = self.dir / task / arch
                if not (folder / "config.json").exists():
                    self.problems[task, arch] = f"no model in {folder}"
                elif arch != PREFERRED[0]:
                    self._pending[task, arch] = threading.Event()
                    later.append((task, arch, folder))
                else:
                    self._load(task, arch, folder)
        log.info("loaded %d models from %s in %.1f s%s", len(self.translators), self.dir, time.perf_counter() - t0,
                 f"; {len(later)} more load in the background" if later else "")

        def rest():
            t1 = time.perf_counter()
            for task, arch, folder in later:
                try:
                    self._load(task, arch, folder)
                finally:
                    self._pending[task, arch].set()
            if later:
                log.info("loaded %d more models in %.1f s", len(later), time.perf_counter() - t1)
            if warmup:
                self.warmup()
            self.warmed.set()

        if later or warmup:
            threading.Thread(target=rest, name="models", daemon=True).start()
        else:
            self.warmed.set()

    def _load(self, task, arch, folder):
        from .inference import load

        try:
            self.translators[task, arch] = load(task, arch, folder)
        except Exception as err:  # a broken model folder must not stop the other tabs
            log.warning("Could not load %s/%s from %s: %s", task, arch, folder, err)
            self.problems[task, arch] = f"the model in {folder} could not be loaded ({err})"

    @property
    def empty(self) -> bool:
        """No model at all, loaded or loading."""
        return not self.translators and not self._pending

    def warmup(self):
        """Trace every model's tf.function (and the U-Nets' feature extractors) so the first request is fast."""
        t0 = time.perf_counter()
        tf_log = logging.getLogger("tensorflow")
        level = tf_log.level
        tf_log.setLevel(logging.ERROR)  # one trace per model is expected, not a "retracing" problem
        try:
            self._warmup()
        finally:
            tf_log.setLevel(level)
        log.info("warmed up %d models in %.1f s", len(self.translators), time.perf_counter() - t0)

    def _warmup(self):
        drawing = Image.new("RGB", (64, 64), "white")
        drawing.paste((0, 0, 0), (20, 20, 44, 24))
        photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8))
        for (task, arch), tr in list(self.translators.items()):
            try:
                tr(drawing if task == "sketch" else photo)
                if arch == "unet":
                    tr.features(drawing if task == "sketch" else photo)
            except Exception as err:
                log.warning("Warm-up of %s/%s failed: %s", task, arch, err)

    def get(self, task, arch):
        pending = self._pending.get((task, arch))
        if pending is not None:
            pending.wait()
        return self.translators.get((task, arch))

    def main(self, task):
        """The model of a task's own tab (U-Net first), or None."""
        for arch in PREFERRED:
            tr = self.get(task, arch)
            if tr is not None:
                return tr
        return None

    def require(self, task):
        tr = self.main(task)
        if tr is None:
            raise gr.Error(self.notice(task), print_exception=False)
        return tr

    def notice(self, task) -> str:
        t = TASKS[task]
        return (f"The {t.title} model is not available yet: there is no trained model in "
                f"{self.dir / task}. Train one with `python -m pix2pix_demo train --task {task} …` and copy its "
                f"model folder to {self.dir / task / 'unet'}, then restart the app.")

    def metrics(self, task, arch) -> dict:
        tr = self.get(task, arch)
        return tr.metrics if tr is not None else {}


# ------------------------------------------------------------------------------------------ input images
class ImageInput(gr.Image):
    """A ``gr.Image`` that hands the function the uploaded file untouched.

    The stock component opens every upload with PIL before the function runs, so a text file, a decompression bomb
    or a corrupt file fails inside Gradio with a bare "Error". This one passes the file path (or the bytes of a
    pasted data URL) on, and :func:`load_upload` reports problems in plain sentences.
    """

    is_template = True  # rendered by the frontend's stock Image component

    def preprocess(self, payload):
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):
            try:
                return base64.b64decode(payload.url.split(",", 1)[1], validate=False)
            except (IndexError, binascii.Error, ValueError):
                raise gr.Error("The pasted image could not be read.", print_exception=False) from None
        if payload.path is None:
            raise gr.Error("The upload did not arrive; please try again.", print_exception=False)
        return payload.path


def _suffix(src) -> str:
    return Path(src).suffix.lower() if isinstance(src, (str, Path)) else ""


def load_upload(src, what: str = "an image", max_pixels: int = MAX_UPLOAD_PIXELS) -> Image.Image:
    """Open an upload as RGB (EXIF rotation, alpha, 16-bit, CMYK, palette, animations handled) within the limits.

    Files over ``imaging.MAX_PIXELS`` (decompression bombs) are refused; images over ``max_pixels`` are scaled down
    with a warning.
    """
    if src is None or (isinstance(src, str) and not src):
        raise gr.Error(f"Please upload {what} first.", print_exception=False)
    try:
        img = imaging.open_image(src)
    except imaging.ImageError as err:
        raise gr.Error(str(err), print_exception=False) from None
    w, h = img.size
    if w * h > max_pixels:
        img = imaging.downscale_to(img, max_pixels)
        gr.Warning(f"The image is {w}×{h} pixels ({w * h / 1e6:.1f} megapixels): it was scaled down to "
                   f"{img.width}×{img.height}, as the limit is {max_pixels / 1e6:g} megapixels.")
    return img


def decode_data_url(value) -> bytes:
    """The bytes of the pad's PNG data URL."""
    if not isinstance(value, str) or len(value) > MAX_DATA_URL:
        raise gr.Error("The drawing could not be read (expected a PNG data URL of a reasonable size).",
                       print_exception=False)
    head, sep, data = value.partition(",")
    if not sep or not head.startswith("data:image/") or ";base64" not in head:
        raise gr.Error("The drawing could not be read (expected a data:image/png;base64 URL).", print_exception=False)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise gr.Error("The drawing could not be read (broken base64 data).", print_exception=False) from None


def friendly(fn):
    """Turn any unexpected failure of an event function into a plain gr.Error (the server keeps serving)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except imaging.ImageError as err:
            raise gr.Error(str(err), print_exception=False) from None
        except MemoryError:
            raise gr.Error("The image is too large to process with the memory available; try a smaller one.",
                           print_exception=False) from None
        except Exception as err:
            log.exception("%s failed", fn.__name__)
            raise gr.Error(f"Something went wrong while processing the image ({type(err).__name__}); please try "
                           f"another image.", print_exception=False) from None

    return wrapper


# ---------------------------------------------------------------------------------------------- outputs
class Results:
    """Results written straight into Gradio's cache (served without a copy, removed by delete_cache).

    Every result gets its own folder. Returning PIL images instead lets Gradio name the file by a hash of its
    content, and two requests with the same output then write and serve one file at the same time: under load a
    client downloaded a half-written picture (`benchmarks`, 16 clients sending the same drawing to /compare).
    """

    def __init__(self, cache_dir):
        self.root = Path(cache_dir) / "pix2pix_results"

    def save(self, img: Image.Image, stem: str, jpeg: bool, quality: int = 95) -> str:
        folder = self.root / uuid.uuid4().hex
        folder.mkdir(parents=True, exist_ok=True)
        if jpeg:
            path = folder / f"{stem}.jpg"
            img.save(path, "JPEG", quality=quality, subsampling=0 if img.width * img.height <= 4_000_000 else 2)
        else:
            path = folder / f"{stem}.png"
            img.save(path, "PNG", compress_level=1)
        return str(path)


def shown_as_uploaded(src, img: Image.Image, results: Results, stem: str, jpeg: bool) -> str:
    """A file that shows ``img``: the upload itself when a browser would show it exactly so (an RGB JPEG, PNG or WebP
    with no EXIF rotation, not scaled down), else ``img`` saved. Re-encoding a 12-megapixel photo only to show it
    took longer than translating it."""
    if isinstance(src, (str, Path)) and _suffix(src) in (".jpg", ".jpeg", ".png", ".webp"):
        try:
            with Image.open(src) as raw:
                if (raw.size == img.size and raw.mode == "RGB" and not getattr(raw, "is_animated", False)
                        and raw.getexif().get(0x0112, 1) == 1):
                    return str(src)
        except (OSError, ValueError):
            pass
    return results.save(img, stem, jpeg)


def _is_colour(img: Image.Image) -> bool:
    small = img if img.width * img.height <= 250_000 else img.reduce(max(1, int((img.width * img.height / 250_000)
                                                                              ** 0.5)))
    a = np.asarray(small, np.int16)
    return bool(np.abs(a[..., 0] - a[..., 1]).mean() + np.abs(a[..., 1] - a[..., 2]).mean() > 2.0)


def _gray(img: Image.Image) -> Image.Image:
    return Image.fromarray(imaging.gray(img), "L")


def _to_uint8_gray(x: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip((np.asarray(x)[..., 0] + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8), "L")


def _colormap(v: np.ndarray) -> np.ndarray:
    """Values in [0, 1] → RGB uint8 along a dark-blue → magenta → orange → pale-yellow ramp."""
    stops = np.array([[13, 8, 40], [84, 16, 120], [183, 55, 121], [251, 136, 57], [252, 253, 191]], np.float32)
    pos = np.linspace(0, 1, len(stops))
    return np.stack([np.interp(v, pos, stops[:, c]) for c in range(3)], -1).astype(np.uint8)


def feature_tiles(feats: list[np.ndarray], num_skips: int, tile: int = 96) -> list[tuple[Image.Image, str]]:
    """One small image per encoder level: mean |activation| over channels, normalised, nearest-neighbour scaled."""
    tiles = []
    for i, f in enumerate(feats):
        m = np.abs(np.asarray(f, np.float32)).mean(-1)
        lo, hi = np.percentile(m, 1), np.percentile(m, 99)
        norm = np.clip((m - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(m)
        img = Image.fromarray(_colormap(norm)).resize((tile, tile), Image.Resampling.NEAREST)
        h, w, c = f.shape
        tiles.append((img, f"{i + 1} · {h}×{w}×{c}" if i < num_skips else f"{i + 1} · {h}×{w}×{c} · bottleneck"))
    return tiles


# ---------------------------------------------------------------------------------------------- the app
def _pad(elem_id: str, label: str) -> gr.HTML:
    return gr.HTML(value="", label=label, show_label=True, elem_id=elem_id, elem_classes=["p2p-pad-block"],
                   html_template=(STATIC / "pad.html").read_text(), css_template=(STATIC / "pad.css").read_text(),
                   js_on_load=(STATIC / "pad.js").read_text(), apply_default_css=False, container=True,
                   padding=True)


def _examples(sub: str, names: list[str]) -> list[str]:
    return [str(EXAMPLES_DIR / sub / n) for n in names if (EXAMPLES_DIR / sub / n).exists()]


SKETCH_EXAMPLES = ["house.png", "cat_face.png", "sun.png", "car.png", "tree.png", "fish.png"]
DAY_EXAMPLES = ["meadow.jpg", "coffee.jpg", "cat.jpg"]
NIGHT_EXAMPLES = ["meadow_night.jpg", "launch_pad_night.jpg"]
COLORIZE_EXAMPLES = ["coffee_gray.jpg", "cat.jpg", "meadow.jpg"]

HINT_EMPTY = ("✏️ **The pad is empty.** Draw something — a house, a cat face, a sun, a car — with a few lines. The "
              "picture appears each time you lift the pen; small or off-centre drawings are fitted automatically.")
CSS = """
#p2p-header h1 { margin-bottom: 0; }
"""


def build_app(weights_dir=None, warmup: bool = True, max_upload_pixels: int = MAX_UPLOAD_PIXELS) -> gr.Blocks:
    """Load the models in ``weights_dir`` (default: the repo's ``weights/``) and build the UI.

    ``max_upload_pixels``: larger uploads are scaled down to this many pixels, with a warning.
    """
    zoo = ModelZoo(weights_dir or DEFAULT_WEIGHTS, warmup=warmup)
    zoo.max_upload_pixels = max_upload_pixels
    with gr.Blocks(title="pix2pix studio", analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        results = Results(demo.GRADIO_CACHE)
        gr.Markdown("# pix2pix studio\nImage-to-image translation with pix2pix (Isola et al., 2017): draw, "
                    "turn day into night, colorize, and see what a U-Net's skip connections do.",
                    elem_id="p2p-header")
        with gr.Tabs(selected="sketch"):
            _sketch_tab(zoo, results)
            _day_night_tab(zoo, results)
            _colorize_tab(zoo, results)
            _compare_tab(zoo, results)
    demo.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    demo.zoo = zoo
    return demo


def _notice_or_none(zoo: ModelZoo, tasks) -> str | None:
    missing = [t for t in tasks if zoo.main(t) is None]
    if not missing:
        return None
    return "\n\n".join("⚠️ " + zoo.notice(t) for t in missing)


# -------------------------------------------------------------------------------------------- 1. sketch
def _sketch_tab(zoo: ModelZoo, results: Results):
    task = TASKS["sketch"]
    main = zoo.main("sketch")
    model_size = main.config.image_size if main is not None else task.image_size

    def translate(img: Image.Image):
        """(picture, what the model sees, ms) for a drawing, or None for an empty one."""
        tr = zoo.require("sketch")
        t0 = time.perf_counter()
        x, ctx = tr.task.prepare(img, tr.config.image_size)
        if float(x.min()) > 0.98:  # canonical_sketch found no ink
            return None
        y = tr.forward(x[None])[0]
        picture = tr.task.finish(y, ctx)
        return picture, _to_uint8_gray(x), (time.perf_counter() - t0) * 1000

    @friendly
    def sketch_pad(drawing):
        """The pad's drawing (a PNG data URL) → (picture, what the model sees, hint)."""
        if not drawing:
            return None, None, HINT_EMPTY
        out = translate(load_upload(decode_data_url(drawing), "a drawing", zoo.max_upload_pixels))
        if out is None:
            return None, None, HINT_EMPTY
        picture, seen, ms = out
        # JPEG: encoding the 512 px picture as PNG would take longer than the model itself.
        return (results.save(picture, "picture", jpeg=True, quality=92), results.save(seen, "seen", jpeg=False),
                f"Picture made in {ms:.0f} ms. Keep drawing: it updates each time you lift the pen.")

    @friendly
    def sketch(drawing):
        """A drawing (dark lines on a light background, any image file) → the picture, at the drawing's size."""
        out = translate(load_upload(drawing, "a drawing", zoo.max_upload_pixels))
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
        gr.Markdown(f"{task.description} Draw on the pad: the picture updates every time you lift the pen.")
        notice = _notice_or_none(zoo, ["sketch"])
        if notice:
            gr.Markdown(notice, elem_classes=["p2p-notice"], container=True, padding=True, elem_id="sketch-notice")
        with gr.Row(visible=notice is None, equal_height=False):
            with gr.Column(scale=1, min_width=300):
                pad = _pad("sketch-pad", "Draw here")
                translate_btn = gr.Button("Translate", variant="primary", elem_id="sketch-translate")
                with gr.Accordion("…or upload a drawing", open=False):
                    upload = ImageInput(type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                        label="Drawing (dark lines on white)", elem_id="sketch-upload", height=220)
            with gr.Column(scale=1, min_width=300):
                picture = gr.Image(label="Picture", type="pil", format="png", interactive=False,
                                   elem_id="sketch-picture", buttons=["download", "fullscreen"], height=420)
                hint = gr.Markdown(HINT_EMPTY, elem_id="sketch-hint")
                with gr.Row(equal_height=False):
                    seen = gr.Image(label=f"What the model sees ({model_size}×{model_size})", type="pil",
                                    format="png", interactive=False, height=200, elem_id="sketch-seen",
                                    elem_classes=["p2p-seen"], buttons=[], scale=0, min_width=200)
                    gr.Markdown("The model gets your drawing cropped to its content, centred with a small margin "
                                "and redrawn with even 3 px strokes, exactly like the drawings it was trained on. "
                                "So a small drawing in a corner works as well as a big one in the middle.",
                                elem_id="sketch-seen-note")
        if notice is None:
            gr.Examples(_examples("sketch", SKETCH_EXAMPLES), inputs=[upload], outputs=[pad], fn=to_pad,
                        run_on_click=True, label="Example drawings (click one, then keep drawing)",
                        api_name="sketch_example", examples_per_page=12)

    live = dict(inputs=[pad], outputs=[picture, seen, hint], concurrency_id="sketch",
                concurrency_limit=CONCURRENCY["sketch"])
    pad.change(sketch_pad, **live, trigger_mode="always_last", show_progress="hidden", api_name="sketch_live",
               api_visibility="undocumented")
    translate_btn.click(sketch_pad, **live, show_progress="minimal", api_name="sketch_pad",
                        api_visibility="undocumented")
    upload.upload(sketch, inputs=[upload], outputs=[picture], api_name="sketch", concurrency_id="sketch",
                  concurrency_limit=CONCURRENCY["sketch"]).success(
        to_pad, inputs=[upload], outputs=[pad], api_name="sketch_to_pad", api_visibility="private")


# ----------------------------------------------------------------------------------------- 2. day/night
def _day_night_tab(zoo: ModelZoo, results: Results):
    d2n, n2d = TASKS["day2night"], TASKS["night2day"]

    @friendly
    def day_night(image, direction):
        """A photo and a direction ("day2night" or "night2day") → the translated photo at its full resolution."""
        if direction not in DIRECTIONS:
            raise gr.Error(f"The direction must be one of {', '.join(DIRECTIONS)}.", print_exception=False)
        tr = zoo.require(direction)
        img = load_upload(image, "a photo", zoo.max_upload_pixels)
        out = tr(img)
        jpeg = _suffix(image) in (".jpg", ".jpeg")
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
        notice = _notice_or_none(zoo, DIRECTIONS)
        if notice:
            gr.Markdown(notice, elem_classes=["p2p-notice"], container=True, padding=True, elem_id="dn-notice")
        available = [t for t in DIRECTIONS if zoo.main(t) is not None]
        with gr.Row(visible=bool(available), equal_height=False):
            with gr.Column(scale=1, min_width=300):
                photo = ImageInput(type="filepath", image_mode=None, sources=["upload", "clipboard"], label="Photo",
                                   elem_id="dn-photo", height=360)
                direction = gr.Radio([(TASKS[t].title, t) for t in DIRECTIONS],
                                     value=available[0] if available else DIRECTIONS[0], label="Direction",
                                     elem_id="dn-direction")
                run_btn = gr.Button("Translate", variant="primary", elem_id="dn-run")
            with gr.Column(scale=1, min_width=300):
                slider = gr.ImageSlider(label="Before / after (drag the handle)", type="filepath",
                                        elem_id="dn-slider", interactive=False, max_height=520)
                download = gr.File(label="Full-size result", elem_id="dn-file", interactive=False)
        state = gr.State(None)
        if available:
            with gr.Row():
                gr.Examples([[p, "day2night"] for p in _examples("photos", DAY_EXAMPLES)], inputs=[photo, direction],
                            visible_columns=[0], label="Day photos (→ Night)", api_name="day_example")
                gr.Examples([[p, "night2day"] for p in _examples("photos", NIGHT_EXAMPLES)],
                            inputs=[photo, direction], visible_columns=[0], label="Night photos (→ Day)",
                            api_name="night_example")

    common = dict(outputs=[download, state], concurrency_id="photo", concurrency_limit=CONCURRENCY["photo"])
    run_btn.click(day_night, inputs=[photo, direction], api_name="day_night", **common).success(
        show, inputs=[state], outputs=[slider], api_name="day_night_show", api_visibility="private",
        queue=False)
    gr.on([photo.change, direction.change], auto, inputs=[photo, direction], api_name="day_night_auto",
          api_visibility="private", trigger_mode="always_last", **common).success(
        show, inputs=[state], outputs=[slider], api_name="day_night_auto_show", api_visibility="private",
        queue=False)


# ------------------------------------------------------------------------------------------- 3. colorize
def _colorize_tab(zoo: ModelZoo, results: Results):
    task = TASKS["colorize"]

    @friendly
    def colorize(image):
        """A photo (colour or black-and-white) → the colorized photo at its full resolution, keeping its luminance."""
        tr = zoo.require("colorize")
        img = load_upload(image, "a photo", zoo.max_upload_pixels)
        colour = _is_colour(img)
        gray = _gray(img)
        out = tr(img)  # the task takes the photo's luminance: the same gray as shown
        jpeg = _suffix(image) in (".jpg", ".jpeg")
        after = results.save(out, "colorized", jpeg)
        state = {"gray": results.save(gray, "gray", jpeg), "after": after, "colour": colour,
                 "original": shown_as_uploaded(image, img, results, "original", jpeg) if colour else None}
        return after, state

    def auto(image):
        if image is None:
            return None, None
        return colorize(image)

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
        notice = _notice_or_none(zoo, ["colorize"])
        if notice:
            gr.Markdown(notice, elem_classes=["p2p-notice"], container=True, padding=True, elem_id="col-notice")
        with gr.Row(visible=notice is None, equal_height=False):
            with gr.Column(scale=1, min_width=300):
                photo = ImageInput(type="filepath", image_mode=None, sources=["upload", "clipboard"], label="Photo",
                                   elem_id="col-photo", height=360)
                show_original = gr.Checkbox(False, label="Show original colours (when the upload was in colour)",
                                            interactive=False, elem_id="col-original")
                run_btn = gr.Button("Colorize", variant="primary", elem_id="col-run")
            with gr.Column(scale=1, min_width=300):
                slider = gr.ImageSlider(label="Before / after (drag the handle)", type="filepath",
                                        elem_id="col-slider", interactive=False, max_height=520)
                note = gr.Markdown("", elem_id="col-note")
                download = gr.File(label="Full-size result", elem_id="col-file", interactive=False)
        state = gr.State(None)
        if notice is None:
            gr.Examples(_examples("photos", COLORIZE_EXAMPLES), inputs=[photo], label="Example photos",
                        api_name="colorize_example")

    common = dict(outputs=[download, state], concurrency_id="photo", concurrency_limit=CONCURRENCY["photo"])
    view = dict(fn=show, inputs=[state, show_original], outputs=[slider, note, show_original], queue=False,
                api_visibility="private")
    run_btn.click(colorize, inputs=[photo], api_name="colorize", **common).success(api_name="colorize_show", **view)
    photo.change(auto, inputs=[photo], api_name="colorize_auto", api_visibility="private",
                 trigger_mode="always_last", **common).success(api_name="colorize_auto_show", **view)
    show_original.input(api_name="colorize_toggle", **view)


# -------------------------------------------------------------------------------------------- 4. compare
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


def _compare_tab(zoo: ModelZoo, results: Results):
    tasks = list(TASKS)
    default_task = next((t for t in tasks if any(zoo.get(t, a) for a in ARCHS)), tasks[0])
    headers = ["generator", "params", "this input (ms)", "L1 ↓", "PSNR ↑", "SSIM ↑", "colourfulness (target)",
               "held-out images"]

    def _fmt(v, spec):
        return format(v, spec) if isinstance(v, (int, float)) else "—"

    def _row(task, arch, ms):
        tr, m = zoo.get(task, arch), zoo.metrics(task, arch)
        if tr is None:
            return [ARCH_TITLES[arch], "—", "not available", "—", "—", "—", "—", "—"]
        col = (f"{m['colourfulness']:.1f} ({m['colourfulness_target']:.1f})"
               if isinstance(m.get("colourfulness"), (int, float)) and
               isinstance(m.get("colourfulness_target"), (int, float)) else "—")
        return [ARCH_TITLES[arch], f"{tr.params / 1e6:.2f} M", _fmt(ms, ".0f"), _fmt(m.get("l1"), ".4f"),
                _fmt(m.get("psnr"), ".2f"), _fmt(m.get("ssim"), ".3f"), col, _fmt(m.get("n", m.get("val_items")), "d")]

    def _skips_for(tr, levels):
        if levels is None:
            return None
        on = {int(v) for v in levels}
        return [i + 1 in on for i in range(tr.num_skips)]

    def _label(arch, tr, ms, skips=None):
        label = f"**{ARCH_TITLES[arch]}** · {tr.params / 1e6:.2f} M params · **{ms:.0f} ms**"
        if skips is not None and not all(skips):
            off = [str(i + 1) for i, on in enumerate(skips) if not on]
            label += f" · skip level{'s' if len(off) > 1 else ''} {', '.join(off)} off"
        return label

    @friendly
    def compare(task, image, skip_levels):
        """A task, an input image and the U-Net skip levels to keep on (1 = outermost) → the encoder-decoder's, the
        U-Net's and the MobileNet U-Net's pictures, and a table of parameters, time and held-out metrics."""
        if task not in TASKS:
            raise gr.Error(f"The task must be one of {', '.join(TASKS)}.", print_exception=False)
        if not any(zoo.get(task, a) for a in ARCHS):
            raise gr.Error(zoo.notice(task), print_exception=False)
        img = load_upload(image, "an image", zoo.max_upload_pixels)
        pictures, rows, labels = [], [], []
        for arch in ("encoder_decoder", "unet", "mobilenet_unet"):
            tr = zoo.get(task, arch)
            if tr is None:
                pictures.append(None)
                labels.append(f"**{ARCH_TITLES[arch]}** · not available for this task ({zoo.problems[task, arch]})")
                rows.append(_row(task, arch, None))
                continue
            skips = _skips_for(tr, skip_levels) if arch == "unet" else None
            out, ms = tr.timed(img, skips)
            pictures.append(results.save(out, arch, jpeg=False))
            labels.append(_label(arch, tr, ms, skips))
            rows.append(_row(task, arch, ms))
        import pandas as pd

        # The captions (parameters, milliseconds) go on in the next step, so API clients get plain images.
        return (*pictures, pd.DataFrame(rows, columns=headers), {"task": task, "image": img, "labels": labels})

    def auto(task, image, skip_levels):
        if image is None:
            return (*(gr.skip(),) * 4, None)
        return compare(task, image, skip_levels)

    @friendly
    def unet_only(state, skip_levels):
        if not state:
            return gr.skip(), gr.skip()
        tr = zoo.get(state["task"], "unet")
        if tr is None:
            return gr.skip(), gr.skip()
        skips = _skips_for(tr, skip_levels)
        out, ms = tr.timed(state["image"], skips)
        return results.save(out, "unet", jpeg=False), _label("unet", tr, ms, skips)

    @friendly
    def decorate(state):
        """Label each picture with its parameters and time, and show the U-Net's encoder feature maps."""
        if not state:
            return (*(gr.skip(),) * 3, None)
        tr = zoo.get(state["task"], "unet")
        tiles = feature_tiles(tr.features(state["image"]), tr.num_skips) if tr is not None else None
        tiles = [(results.save(img, f"level_{i + 1}", jpeg=False), caption)
                 for i, (img, caption) in enumerate(tiles or [])] or None
        return (*state["labels"], tiles)

    def on_task(task):
        choices = _skip_choices(zoo, task)
        return (gr.update(choices=choices, value=[v for _, v in choices]),
                gr.update(visible=task == "sketch"),
                f"**{TASKS[task].title}:** {TASKS[task].description}")

    @friendly
    def pad_to_image(drawing):
        if not drawing:
            return gr.skip()
        return load_upload(decode_data_url(drawing), "a drawing", zoo.max_upload_pixels)

    with gr.Tab("Skip vs No-skip", id="compare", elem_id="tab-compare"):
        gr.Markdown("The same input through three generators: the **encoder–decoder** (no skip connections), the "
                    "pix2pix **U-Net** and a **MobileNet U-Net** (MobileNetV2 encoder). Pick a task, then draw or "
                    "upload an input; untick skip levels to switch the U-Net's skip connections off.")
        notice = None
        if zoo.empty:
            notice = (f"⚠️ No models are available yet: there are no trained models in {zoo.dir}. Train them with "
                      f"`python -m pix2pix_demo train --task TASK --arch ARCH …` and copy each model folder to "
                      f"{zoo.dir}/TASK/ARCH/, then restart the app.")
            gr.Markdown(notice, elem_classes=["p2p-notice"], container=True, padding=True, elem_id="cmp-notice")
        with gr.Column(visible=notice is None):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=280):
                    task_radio = gr.Radio([(TASKS[t].title, t) for t in tasks], value=default_task, label="Task",
                                          elem_id="cmp-task")
                    task_info = gr.Markdown(f"**{TASKS[default_task].title}:** {TASKS[default_task].description}")
                    image = ImageInput(type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                       label="Input", elem_id="cmp-image", height=260, format="png")
                    with gr.Accordion("Draw (for Sketch → Image)", open=False, visible=default_task == "sketch",
                                      elem_id="cmp-draw") as draw_box:
                        cmp_pad = _pad("cmp-pad", "Draw here")
                    all_levels = _skip_choices(zoo)
                    skips = gr.CheckboxGroup(all_levels, value=[v for _, v in _skip_choices(zoo, default_task)],
                                             label="U-Net skip connections (outermost → innermost)",
                                             info="Untick a level to run the U-Net without it.", elem_id="cmp-skips")
                    run_btn = gr.Button("Compare", variant="primary", elem_id="cmp-run")
                with gr.Column(scale=3, min_width=480):
                    outs, captions = [], []
                    with gr.Row(equal_height=True):
                        for a in ("encoder_decoder", "unet", "mobilenet_unet"):
                            with gr.Column(min_width=160):
                                outs.append(gr.Image(label=ARCH_TITLES[a], type="pil", format="png",
                                                     interactive=False, elem_id=f"cmp-{a}", height=260,
                                                     buttons=["download", "fullscreen"]))
                                captions.append(gr.Markdown(f"**{ARCH_TITLES[a]}**", elem_id=f"cmp-{a}-caption"))
                    table = gr.Dataframe(headers=headers, label="Held-out metrics (from each model's metrics.json) "
                                                                "and the time on this input",
                                         interactive=False, elem_id="cmp-table", wrap=True)
                    gr.Markdown(SKIP_EXPLANATION)
                    gallery = gr.Gallery(label="U-Net encoder feature maps, outermost level first",
                                         columns=8, height=170, object_fit="contain", allow_preview=True,
                                         elem_id="cmp-features", interactive=False)
        state = gr.State(None)
        if notice is None:
            ex = [["sketch", p] for p in _examples("sketch", SKETCH_EXAMPLES[:2])]
            ex += [["day2night", p] for p in _examples("photos", DAY_EXAMPLES[:1])]
            ex += [["night2day", p] for p in _examples("photos", NIGHT_EXAMPLES[:1])]
            ex += [["colorize", p] for p in _examples("photos", COLORIZE_EXAMPLES[:1])]
            gr.Examples(ex, inputs=[task_radio, image], label="Examples", api_name="compare_example")

    common = dict(outputs=[*outs, table, state], concurrency_id="compare", concurrency_limit=CONCURRENCY["compare"])
    feats = dict(fn=decorate, inputs=[state], outputs=[*captions, gallery], api_visibility="private",
                 concurrency_id="compare", concurrency_limit=CONCURRENCY["compare"])
    run_btn.click(compare, inputs=[task_radio, image, skips], api_name="compare", **common).success(
        api_name="compare_features", **feats)
    image.change(auto, inputs=[task_radio, image, skips], api_name="compare_auto", api_visibility="private",
                 trigger_mode="always_last", **common).success(api_name="compare_auto_features", **feats)
    task_radio.input(on_task, inputs=[task_radio], outputs=[skips, draw_box, task_info], api_name="compare_task",
                     api_visibility="private", queue=False).then(
        auto, inputs=[task_radio, image, skips], api_name="compare_task_run", api_visibility="private",
        **common).success(api_name="compare_task_features", **feats)
    skips.input(unet_only, inputs=[state, skips], outputs=[outs[1], captions[1]], api_name="compare_skips",
                api_visibility="private", trigger_mode="always_last", concurrency_id="compare",
                concurrency_limit=CONCURRENCY["compare"])
    cmp_pad.change(pad_to_image, inputs=[cmp_pad], outputs=[image], api_name="compare_pad",
                   api_visibility="private", trigger_mode="always_last", show_progress="hidden")


# ----------------------------------------------------------------------------------------------- launch
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

"""The four tasks, one declarative record each.

A :class:`Task` says three things:

1. **How a training pair is made.** ``make_pair(rgb, rng) → (A, B)`` turns a plain photo or emoji render into an
   (input, target) pair of RGB images (self-supervised). Paired datasets (``A/``+``B/`` folders or side-by-side
   A|B images) skip this step.
2. **How an image becomes model input and target.** ``encode_input(A)`` / ``encode_target(B)`` give the arrays
   the generator sees, in [-1, 1]; ``decode(x, y)`` turns them back into an RGB picture (for grids and metrics).
3. **How a user's image of any size becomes a picture at its full resolution.** ``prepare(img, size)`` and
   ``finish(y, ctx)``: colorize keeps the input's own L at full resolution; day/night applies the
   low-resolution prediction to the full-resolution photo with a guided filter; sketch fits the drawing to its
   content first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PIL import Image

from . import fullres, imaging


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    description: str
    in_channels: int
    out_channels: int
    color_space: str  # what the generator's output is: "rgb" or "lab" (ab channels)
    image_size: int  # the shipped models' input size
    make_pair: Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]
    encode_input: Callable[[np.ndarray], np.ndarray]
    encode_target: Callable[[np.ndarray], np.ndarray]
    decode: Callable[[np.ndarray, np.ndarray], np.ndarray]
    prepare: Callable[[Image.Image, int], tuple[np.ndarray, Any]]
    finish: Callable[[np.ndarray, Any], Image.Image]
    pairs_on_load: bool = False  # make the pair once per image (and cache it) instead of after every crop
    #: "scale_crop": random zoom crops; "paper": resize up 12 % and crop back (the paper's); "inset": scale down up to
    #: 12 % and place anywhere on white, for pictures on paper: the paper's jitter cut the picture at the edge in about
    #: half of the sketch targets (never so at inference, where a drawing is fitted with a margin), and the models
    #: learned to paint along the borders.
    jitter: str = "scale_crop"
    notes: dict = field(default_factory=dict)
    # Colour hints (pix2pix_demo.hints); tasks without ``hint_colour`` take none.
    #: N×3 uint8 RGB colours → N×out_channels, in the output's encoding.
    hint_colour: Callable[[np.ndarray], np.ndarray] | None = None
    #: The encoded target → where training hints may be placed (None: anywhere).
    hint_region: Callable[[np.ndarray], np.ndarray] | None = None
    #: (the user's image, model size) → a function mapping the image's (x, y) to model (row, col).
    hint_position: Callable[[Image.Image, int], Callable[[float, float], tuple[float, float]]] | None = None
    #: The encoded input of a blank picture, per channel (sketch: white paper), which a pix2pix generator's first
    #: convolution pads with instead of zeros (``GeneratorConfig.input_pad``); None: zeros.
    blank_input: tuple[float, ...] | None = None
    #: The encoded input (the task's own channels) → its closed regions, which a hint fills (``hints.regions``);
    #: None: a hint is its square only.
    hint_fill: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def takes_hints(self) -> bool:
        return self.hint_colour is not None

    def hint_aware(self, in_channels: int) -> bool:
        """Whether a generator of this task with ``in_channels`` inputs was trained with colour hints (its input
        carries the hint channels after the task's own)."""
        return in_channels > self.in_channels

    def hint_channels(self, points, size: int, x: np.ndarray | None = None) -> np.ndarray:
        """The rendered hint channels for ``points`` = [(row, col, encoded colour)] in model pixels; ``x``: the
        encoded input they go with (its closed regions are filled where the task has ``hint_fill``)."""
        from . import hints

        fill = self.hint_fill(x[..., :self.in_channels]) if x is not None and self.hint_fill and points else None
        return hints.render(points, size, self.out_channels, fill)

    def user_hints(self, img: Image.Image, size: int, user, x: np.ndarray | None = None) -> np.ndarray:
        """The hint channels for a user's hints (:class:`pix2pix_demo.hints.Hint`, in ``img``'s pixels) on the
        encoded input ``x`` made from ``img``."""
        if not user:
            return self.hint_channels([], size)
        where = self.hint_position(img, size)
        colours = self.hint_colour(np.array([h.rgb for h in user], np.uint8))
        points = []
        for h, colour in zip(user, colours):
            pos = where(h.x, h.y)
            if pos is not None:
                points.append((*pos, colour))
        return self.hint_channels(points, size, x)


# --------------------------------------------------------------------------------------------- shared bits
def _rgb_in(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) / 127.5 - 1.0


def _rgb_out(y: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(y, np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def _decode_rgb(x, y):
    return _rgb_out(y)


# ------------------------------------------------------------------------------------------------ sketch
def _sketch_pair(rgb, rng):
    """Emoji render → (drawing, picture), both cropped to the picture's content the way inference fits drawings."""
    box = imaging.content_box(imaging.luminance(rgb) < 250)
    if box is not None:
        rgb = imaging.crop_square(rgb, box, max(rgb.shape[:2]))
    drawing = imaging.extract_sketch(rgb, rng)
    return np.repeat(drawing[..., None], 3, -1), rgb


def _sketch_encode(a, size, fit):
    return imaging.canonical_sketch(a, size=size, fit=fit)[..., None].astype(np.float32) / 127.5 - 1.0


def _sketch_input(a):
    """A training drawing, already cropped like its target: canonical strokes, no fitting."""
    return _sketch_encode(a, a.shape[0], fit=False)


def _sketch_prepare(img, size):
    """A user's drawing: fitted to its content first, the way the training drawings were cropped."""
    return _sketch_encode(np.asarray(img), size, fit=True), img.size


def _sketch_finish(y, original_size):
    """The picture fills the frame: it is centred on white at the input's size (the drawing was auto-fitted)."""
    pic = Image.fromarray(_rgb_out(y))
    w, h = original_size
    side = min(w, h)
    # Bicubic: the generator's picture is smooth, and on the live pad (256 → 512 px on every pen-up) Lanczos took
    # a third more time for no visible difference.
    pic = pic.resize((side, side), Image.Resampling.BICUBIC)
    if (w, h) == (side, side):
        return pic
    canvas = Image.new("RGB", (w, h), (255, 255, 255))
    canvas.paste(pic, ((w - side) // 2, (h - side) // 2))
    return canvas


def _rgb_hint_colour(rgb):
    return np.asarray(rgb, np.float32) / 127.5 - 1.0


def _sketch_hint_region(y):
    """Inside the picture's coloured regions: not the white paper around it."""
    return (np.asarray(y) < 0.92).any(-1)


def _sketch_hint_fill(x):
    """The paper inside the canonical strokes (encoded: ink -1, paper 1)."""
    from . import hints

    return hints.regions(x[..., 0] > 0.0)


def _sketch_hint_position(img, size):
    """A point of the user's drawing → the model's pixels, through the same fit to content as the drawing."""
    box = imaging.content_box(imaging.ink_of(np.asarray(img)) > 0.5)
    if box is None:
        return lambda x, y: None
    left, top, right, bottom = box
    scale = size / (right - left)
    return lambda x, y: ((y - top + 0.5) * scale - 0.5, (x - left + 0.5) * scale - 0.5)


# ---------------------------------------------------------------------------------------------- colorize
AB_SCALE = 110.0  # CIELAB a and b lie roughly within ±110 for sRGB


def _colorize_pair(rgb, rng):
    return np.repeat(imaging.gray(rgb)[..., None], 3, -1), rgb


def _L_input(a):
    return _gray_L(a) / 50.0 - 1.0


def _ab_target(b):
    return imaging.rgb_to_lab(b)[..., 1:] / AB_SCALE


def _decode_lab(x, y):
    lab = np.concatenate([(np.asarray(x, np.float32)[..., :1] + 1.0) * 50.0,
                          np.asarray(y, np.float32)[..., :2] * AB_SCALE], -1)
    return fullres.lab_to_rgb(lab)


@functools.cache
def _L_table() -> np.ndarray:
    """CIELAB L of each of the 256 gray levels (scikit-image)."""
    return imaging.rgb_to_lab(np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, -1)[None])[0, :, 0]


def _gray_L(rgb: np.ndarray) -> np.ndarray:
    """CIELAB L of the image's gray version, through the 256-entry table."""
    g = rgb[..., 0] if rgb.ndim == 3 and rgb.shape[-1] == 1 else imaging.gray(rgb)
    return _L_table()[g][..., None]


def _colorize_prepare(img, size):
    gray = imaging.gray(img)
    small, lb = imaging.letterbox(Image.fromarray(gray), size)
    return _L_table()[small] / 50.0 - 1.0, (gray, lb)


def _ab_hint_colour(rgb):
    return imaging.rgb_to_lab(np.asarray(rgb, np.uint8)[None])[0, :, 1:] / AB_SCALE


def _letterbox_position(img, size):
    """A point of the user's photo → the model's pixels, through the letterbox that :func:`imaging.letterbox` fits."""
    w, h = img.size
    s = size / max(w, h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    left, top = (size - nw) // 2, (size - nh) // 2
    return lambda x, y: (top + (y + 0.5) * nh / h - 0.5, left + (x + 0.5) * nw / w - 0.5)


def _colorize_finish(y, ctx):
    """Keep the input's own full-resolution L; take a and b from the model, up-sampled bilinearly."""
    gray, lb = ctx
    ab = imaging.unletterbox(np.asarray(y, np.float32), lb) * AB_SCALE
    return Image.fromarray(fullres.compose_lab(gray, _L_table(), ab))


# --------------------------------------------------------------------------------------------- day/night
def _day2night_pair(rgb, rng):
    from .night import render_night

    return rgb, render_night(rgb, rng)


#: The share of night2day's training inputs drawn with the renderer's default look (the look the Day → Night
#: model learned); the rest vary exposure, tint, sky, lights and noise (:func:`~pix2pix_demo.night.random_night`).
#: With varied inputs only, the model has to guess each photo's exposure: in the round trip night2day(day2night(x))
#: a global per-channel gain fitted afterwards was worth 2 dB PSNR. With half the inputs in the default look (and
#: the varied exposures widened to 0.05–0.25 so that bright dusk photos are not over-exposed) the U-Net's round trip
#: rose from 19.9 to 20.6 dB.
DEFAULT_NIGHT_SHARE = 0.5


def _night2day_pair(rgb, rng):
    from .night import random_night, render_night

    night = render_night(rgb, rng) if rng.random() < DEFAULT_NIGHT_SHARE else random_night(rgb, rng)
    return night, rgb


def _photo_prepare(img, size):
    small, lb = imaging.letterbox(img, size)
    x = small.astype(np.float32) / 255.0
    return x * 2.0 - 1.0, (img, x, lb)


def _photo_finish(y, ctx):
    """Apply the low-resolution colour transform to the full-resolution photo (fast guided filter)."""
    img, x, lb = ctx
    lo_in = imaging.unletterbox(x, lb)
    lo_out = np.clip(imaging.unletterbox((np.asarray(y, np.float32) + 1.0) / 2.0, lb), 0.0, 1.0)
    if lo_in.shape[:2] == (img.height, img.width):
        return Image.fromarray((lo_out * 255.0 + 0.5).astype(np.uint8))
    return Image.fromarray(fullres.guided_upsample(lo_in, lo_out, np.asarray(img), radius=max(2, lb.size // 64)))


# ----------------------------------------------------------------------------------------------- registry
TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    TASKS[task.name] = task
    return task


register(Task(
    name="sketch", title="Sketch → Image",
    description="A line drawing (1 channel, canonical strokes) → a coloured, emoji-like picture.",
    in_channels=1, out_channels=3, color_space="rgb", image_size=256,
    make_pair=_sketch_pair, encode_input=_sketch_input, encode_target=_rgb_in, decode=_decode_rgb,
    prepare=_sketch_prepare, finish=_sketch_finish, pairs_on_load=True, jitter="inset",
    hint_colour=_rgb_hint_colour, hint_region=_sketch_hint_region, hint_position=_sketch_hint_position,
    hint_fill=_sketch_hint_fill, blank_input=(1.0,),
    notes={"pairs": "Lines are extracted from the emoji render (Canny edges of the CIELAB channels, wobble, "
                    "varied width), then brought to the canonical stroke style."}))

register(Task(
    name="colorize", title="Colorize",
    description="CIELAB L → ab, as in pix2pix and Zhang et al.; the output keeps the input's own L.",
    in_channels=1, out_channels=2, color_space="lab", image_size=256,
    make_pair=_colorize_pair, encode_input=_L_input, encode_target=_ab_target, decode=_decode_lab,
    prepare=_colorize_prepare, finish=_colorize_finish,
    hint_colour=_ab_hint_colour, hint_position=_letterbox_position,
    notes={"pairs": "The grayscale (luminance) version of a colour photo → the photo."}))

register(Task(
    name="day2night", title="Day → Night",
    description="A day photo → the same scene at night (trained on synthetic night renders).",
    in_channels=3, out_channels=3, color_space="rgb", image_size=256,
    make_pair=_day2night_pair, encode_input=_rgb_in, encode_target=_rgb_in, decode=_decode_rgb,
    prepare=_photo_prepare, finish=_photo_finish,
    notes={"pairs": "A day photo → its synthetic night render (pix2pix_demo.night.render_night)."}))

register(Task(
    name="night2day", title="Night → Day",
    description="A night photo → the same scene by day (the inverse of the synthetic night renderer).",
    in_channels=3, out_channels=3, color_space="rgb", image_size=256,
    make_pair=_night2day_pair, encode_input=_rgb_in, encode_target=_rgb_in, decode=_decode_rgb,
    prepare=_photo_prepare, finish=_photo_finish,
    notes={"pairs": "A synthetic night render of a day photo → the day photo; half the renders have the default "
                    "night look, half randomly varied exposure, tint, sky, lights and noise."}))


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"Unknown task {name!r}; choose one of {', '.join(TASKS)}") from None

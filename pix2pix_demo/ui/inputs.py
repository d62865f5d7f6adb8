"""Everything a client sends, checked before it is used: image inputs, the pad's data URLs, and plain arguments.

Gradio exposes every registered event over HTTP, so each input is treated as hostile:

* An image input arrives as a file path. Gradio checks a path only when the payload carries its ``meta`` field;
  :func:`image_input` accepts a path only inside Gradio's upload cache or the app's ``examples/``, and answers
  anything else with one sentence that says nothing about the file (:data:`NOT_ARRIVED`).
* :func:`load_upload` decodes within the app-wide :class:`~pix2pix_demo.ui.budget.MemoryBudget` and scales large
  images down while decoding.
* :func:`friendly` wraps every event function: the budget's scope, and a plain sentence for any failure.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import os
from pathlib import Path

import gradio as gr
from PIL import Image

from .. import imaging
from ..hints import Hint, HintError, parse, scaled
from .budget import MemoryBudget, run_low_priority

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES_DIR = ROOT / "examples"

#: Uploads above this many pixels are scaled down (with a warning); above imaging.MAX_PIXELS they are refused.
MAX_UPLOAD_PIXELS = 24_000_000
#: Largest drawing (data URL characters) accepted from the pad or pasted into an image input.
MAX_DATA_URL = 16_000_000
#: What an image costs while it is decoded (per decoded pixel: RGB, its conversion, the scaling), then while it is
#: processed at full resolution (per pixel after scaling). Measured peaks: a 99 MP PNG decoded and scaled to 24 MP
#: +757 MB, a 24 MP photo colorized +415 MB, a 24 MP drawing through the sketch model +622 MB.
DECODE_BYTES, PROCESS_BYTES = 8, 26
#: All requests' images at once: a 99 MP decode and a 24 MP photo at full size, or three 24 MP photos. With the
#: app's ~1.1 GB of models this bounds the server near 2.6 GB (benchmarks, "hostile load").
BUDGET = MemoryBudget(capacity=1_400_000_000, wait_s=60.0)

NOT_ARRIVED = "The upload did not arrive; please upload the file again."
NOT_A_FILE = "The image did not arrive as a file: send it with gradio_client's handle_file(path), or upload it again."


def _inside(path: Path, roots) -> bool:
    return any(path == root or root in path.parents for root in roots)


def allowed_roots(cache_dir) -> list[Path]:
    """Folders an input path may point into: Gradio's upload cache and the app's examples."""
    return [Path(os.path.realpath(cache_dir)), Path(os.path.realpath(EXAMPLES_DIR))]


def checked_path(path, cache_dir) -> str:
    """``path`` if it is a regular file inside :func:`allowed_roots` (symlinks resolved), else :data:`NOT_ARRIVED`.

    Existing, missing, unreadable and forbidden files get the same sentence, so a client learns nothing about the
    server's files.
    """
    if not isinstance(path, (str, Path)) or not str(path) or "\x00" in str(path):
        raise gr.Error(NOT_ARRIVED, print_exception=False)
    real = Path(os.path.realpath(path))
    if not _inside(real, allowed_roots(cache_dir)) or not real.is_file():
        raise gr.Error(NOT_ARRIVED, print_exception=False)
    return str(real)


def image_input(**kwargs) -> gr.Image:
    """A stock ``gr.Image(type="filepath")`` that hands the event function the uploaded file untouched, checked.

    The stock component opens every upload with PIL before the function runs (a text file, a decompression bomb or
    a corrupt file then fails inside Gradio with a bare "Error"), and reads any path a client names. This one
    passes on a path inside the upload cache (or the bytes of a pasted data URL), and :func:`load_upload` reports
    problems in plain sentences. The component's ``preprocess`` is replaced on the instance, not in a subclass:
    Gradio writes a ``.pyi`` file beside every component subclass, into the installed package.
    """
    comp = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], **kwargs)

    def preprocess(payload):
        if payload is None:
            return None
        url, path = getattr(payload, "url", None), getattr(payload, "path", None)
        if isinstance(url, str) and url.startswith("data:"):
            if len(url) > MAX_DATA_URL:
                raise gr.Error("The pasted image is too large.", print_exception=False)
            try:
                return base64.b64decode(url.split(",", 1)[1], validate=False)
            except (IndexError, binascii.Error, ValueError):
                raise gr.Error("The pasted image could not be read.", print_exception=False) from None
        return checked_path(path, comp.GRADIO_CACHE)

    comp.preprocess = preprocess
    return comp


def guard_file_payloads(demo: gr.Blocks) -> gr.Blocks:
    """Answer Gradio's own refusals of a file payload with the app's sentences instead of Gradio's generic text: a
    payload that carries ``meta`` and names a path outside the upload cache gets :data:`NOT_ARRIVED` too, one that
    is not a file object at all (a string, a list as path) :data:`NOT_A_FILE`. Only image inputs have a data model
    here, so a validation error can only come from one of them. Arguments left out at the end of a request are
    None (so a client that predates an optional argument such as ``hints`` keeps working)."""
    from gradio.exceptions import InvalidPathError
    from pydantic import ValidationError

    stock = demo.preprocess_data

    async def preprocess_data(block_fn, inputs, *args, **kwargs):
        if not isinstance(inputs, list):
            raise gr.Error("The request's data must be a list of the endpoint's arguments.", print_exception=False)
        if len(inputs) < len(block_fn.inputs):  # arguments left out at the end (e.g. hints) are None
            inputs = inputs + [None] * (len(block_fn.inputs) - len(inputs))
        try:
            return await stock(block_fn, inputs, *args, **kwargs)
        except InvalidPathError:
            raise gr.Error(NOT_ARRIVED, print_exception=False) from None
        except ValidationError:
            raise gr.Error(NOT_A_FILE, print_exception=False) from None

    demo.preprocess_data = preprocess_data
    return demo


def guard_choice(comp, message: str):
    """Replace any error of ``comp``'s own preprocessing (a value of the wrong type or not among its choices) with
    ``message``, so API clients get the app's sentence instead of Gradio's generic one."""
    stock = comp.preprocess

    def preprocess(payload):
        try:
            return stock(payload)
        except Exception:
            raise gr.Error(message, print_exception=False) from None

    comp.preprocess = preprocess
    return comp


def hints_input() -> gr.JSON:
    """The ``hints`` argument of an endpoint: ``[{"x": X, "y": Y, "color": "#rrggbb"}, …]`` in the input image's
    own pixels, or None. Hidden in the page (the app's canvases set it); API clients pass it."""
    return gr.JSON(value=None, visible=False, label="hints")


def checked_hints(value):
    """The API's hints, parsed (a plain sentence for anything malformed)."""
    try:
        return parse(value)
    except HintError as err:
        raise gr.Error(str(err), print_exception=False) from None


def suffix(src) -> str:
    return Path(src).suffix.lower() if isinstance(src, (str, Path)) else ""


def load_upload(src, what: str = "an image", max_pixels: int = MAX_UPLOAD_PIXELS, budget: MemoryBudget = BUDGET):
    """Open an upload as RGB (EXIF rotation, alpha, 16-bit, CMYK, palette, animations handled) within the limits.

    Files over ``imaging.MAX_PIXELS`` (decompression bombs) are refused; images over ``max_pixels`` are scaled down
    with a warning, while decoding where the format allows. What decoding and processing it will take is taken from
    ``budget`` first (and waited for).
    """
    return load_upload_sized(src, what, max_pixels, budget)[0]


def load_upload_sized(src, what: str = "an image", max_pixels: int = MAX_UPLOAD_PIXELS,
                      budget: MemoryBudget = BUDGET) -> tuple[Image.Image, tuple[int, int]]:
    """:func:`load_upload`, and the upload's own size (as shown, after its EXIF rotation): larger than the image's
    when it was scaled down. Hints come in the upload's own pixels: :func:`fit_hints` moves them onto the image."""
    if src is None or (isinstance(src, str) and not src):
        raise gr.Error(f"Please upload {what} first.", print_exception=False)
    if not isinstance(src, (str, Path, bytes, bytearray)):
        raise gr.Error(NOT_ARRIVED, print_exception=False)
    name = None if isinstance(src, (str, Path)) else "the " + what.split(" ", 1)[-1]

    def reserve(decoded_pixels: int):
        budget.take(max(decoded_pixels * DECODE_BYTES, min(decoded_pixels, max_pixels) * PROCESS_BYTES))

    try:
        img, (w, h) = imaging.open_fitted(src, fit_pixels=max_pixels, name=name, before_decode=reserve)
    except imaging.ImageError as err:
        raise gr.Error(str(err), print_exception=False) from None
    budget.settle(img.width * img.height * PROCESS_BYTES)
    if (w, h) != img.size and w * h > max_pixels:
        gr.Warning(f"The image is {w}×{h} pixels ({w * h / 1e6:.1f} megapixels): it was scaled down to "
                   f"{img.width}×{img.height}, as the limit is {max_pixels / 1e6:g} megapixels.")
    return img, (w, h)


def fit_hints(hints: list[Hint], size: tuple[int, int], img: Image.Image) -> list[Hint]:
    """``hints`` given in the pixels of an upload of ``size`` (its own size), in the pixels of ``img``, the upload as
    loaded: the same hints unless it was scaled down (see :func:`load_upload_sized`)."""
    if not hints or tuple(size) == img.size:
        return hints
    return scaled(hints, img.width / size[0], img.height / size[1])


def decode_data_url(value, what: str = "drawing") -> bytes:
    """The bytes of a PNG data URL, as the pad sends it."""
    if not isinstance(value, str) or len(value) > MAX_DATA_URL:
        raise gr.Error(f"The {what} could not be read (expected a PNG data URL of a reasonable size).",
                       print_exception=False)
    head, sep, data = value.partition(",")
    if not sep or not head.startswith("data:image/") or ";base64" not in head:
        raise gr.Error(f"The {what} could not be read (expected a data:image/png;base64 URL).",
                       print_exception=False)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise gr.Error(f"The {what} could not be read (broken base64 data).", print_exception=False) from None


def friendly(fn=None, *, heavy: bool = True):
    """Run an event function within the memory budget, and turn any unexpected failure into a plain gr.Error (the
    server keeps serving). ``heavy`` events (photos, uploaded drawings) run on a low-priority thread; the pad's
    events use ``@friendly(heavy=False)`` and run at normal priority."""
    if fn is None:
        return functools.partial(friendly, heavy=heavy)

    def guarded(*args, **kwargs):
        with BUDGET.scope():
            return fn(*args, **kwargs)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return run_low_priority(guarded, *args, **kwargs) if heavy else guarded(*args, **kwargs)
        except gr.Error:
            raise
        except (imaging.ImageError, HintError) as err:
            raise gr.Error(str(err), print_exception=False) from None
        except MemoryError:
            raise gr.Error("The image is too large to process with the memory available; try a smaller one.",
                           print_exception=False) from None
        except Exception as err:
            log.exception("%s failed", fn.__name__)
            raise gr.Error(f"Something went wrong while processing the image ({type(err).__name__}); please try "
                           f"another image.", print_exception=False) from None

    return wrapper

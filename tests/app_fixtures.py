"""Fixtures and helpers for the app tests (``test_app_api.py``, ``test_app_browser.py``).

``conftest.py`` has already pointed HOME, TMPDIR, GRADIO_TEMP_DIR and the Hugging Face cache at a throw-away tree
and set HF_HUB_OFFLINE=1 before anything imports TensorFlow or Gradio. Here:

* :func:`make_weights` writes tiny random-init models (64 px) in the ``weights/<task>/<arch>/`` layout, with the
  output layer's gain raised so that the random pictures are colourful, and fake held-out metrics;
* ``app_url`` serves the app in-process (``build_app`` + ``launch(prevent_thread_lock=True)``) on a free port,
  once per session, for both test files;
* ``browser`` is Debian's Chromium driven by Playwright, for the browser tests;
* :func:`bad_inputs` writes the awkward files every endpoint must survive.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from benchmarks.serving import free_port, queue_call, wait_http

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TINY_SIZE = 64
ALL_ARCHS = ("unet", "encoder_decoder", "mobilenet_unet")


# ------------------------------------------------------------------------------------------------ models
def fake_metrics(task: str, arch: str, params: int, heldout: bool = False) -> dict:
    """Metrics in the shape ``train`` writes (the in-source split), distinct per model; ``heldout``: also one
    held-out source's, as ``train-all`` adds them."""
    k = ALL_ARCHS.index(arch)
    metrics = {"l1": round(0.2 - 0.03 * k, 4), "psnr": 15.0 + k, "ssim": 0.4 + 0.1 * k, "colourfulness": 20.0 + k,
               "colourfulness_target": 30.0, "colourfulness_ratio": round((20.0 + k) / 30.0, 3), "params": params,
               "forward_ms": 1.0 + k, "n": 10 + k}
    if heldout:
        metrics["heldout"] = {"emoji: test set": {"l1": round(0.3 - 0.03 * k, 4), "psnr": 12.0 + k,
                                                  "ssim": 0.3 + 0.1 * k, "hue_accuracy": 0.4 + 0.1 * k,
                                                  "hue_constant_tint": 0.55, "n": 20 + k}}
    return metrics


def make_weights(root: Path, models=None, size: int = TINY_SIZE, hints: bool = False, heldout: bool = False) -> Path:
    """Tiny random-init models for ``models`` [(task, arch), …] (default: every task × arch) under ``root``.

    ``hints``: the sketch and colorize models are hint-aware (their input carries the hint channels), and their
    U-Nets are wired by :func:`copy_hints` to paint each hint's colour around it, so tests can see hints arrive
    where they were put. The encoder-decoder, which has no skip connections, cannot do that and misses them.
    ``heldout``: their metrics.json also holds a held-out source's numbers.
    """
    from pix2pix_demo.data import input_channels
    from pix2pix_demo.export import export_model
    from pix2pix_demo.models import GeneratorConfig, build_generator
    from pix2pix_demo.tasks import TASKS

    import keras

    keras.utils.set_random_seed(0)
    models = models or [(t, a) for t in TASKS for a in ALL_ARCHS]
    for task_name, arch in models:
        task = TASKS[task_name]
        with_hints = hints and task.takes_hints
        gcfg = GeneratorConfig(arch=arch, image_size=size, in_channels=input_channels(task, with_hints),
                               out_channels=task.out_channels, base_filters=8, max_filters=32, alpha=0.35)
        gen = build_generator(gcfg)
        if with_hints and arch == "unet":
            copy_hints(gen, task)
        else:
            out = gen.get_layer("output").kernel
            out.assign(out.numpy() * 40.0)  # random init is nearly flat gray; a higher gain gives visible colours
        metrics = fake_metrics(task_name, arch, gen.count_params(), heldout)
        export_model(root / task_name / arch, task, gen, gcfg, metrics, dtype="float32")
    return root


def copy_hints(gen, task, gain: float = 1.3) -> None:
    """Wire a hint-aware U-Net to output tanh(gain × each hint's colour) around the hint and 0 elsewhere (gray for
    sketch's RGB, no colour for colorize's ab).

    The path is the outermost skip: ``enc_1`` (4×4 conv, stride 2, no BatchNorm, LeakyReLU 0.2) averages each hint
    colour channel c into a pair of features (+c, −c), whose difference after the LeakyReLU is 1.2 c; the ``output``
    layer (4×4 transposed conv, stride 2) reads only those features. Everything else the decoder says is ignored.
    """
    import numpy as np

    conv = gen.get_layer("enc_1").layers[0]
    out = gen.get_layer("output")
    k1 = np.zeros(conv.kernel.shape, np.float32)   # (4, 4, in_channels, F)
    k2 = np.zeros(out.kernel.shape, np.float32)    # (4, 4, out_channels, decoder features + F)
    first = k2.shape[-1] - k1.shape[-1]           # where enc_1's features start in the output layer's input
    for c in range(task.out_channels):
        k1[:, :, task.in_channels + c, 2 * c] = 1 / 16
        k1[:, :, task.in_channels + c, 2 * c + 1] = -1 / 16
        k2[:, :, c, first + 2 * c] = gain / 1.2 / 4
        k2[:, :, c, first + 2 * c + 1] = -gain / 1.2 / 4
    conv.kernel.assign(k1)
    out.kernel.assign(k2)
    out.bias.assign(np.zeros(out.bias.shape, np.float32))


# ---------------------------------------------------------------------------------------------- serving
def serve(weights: Path, **build_kwargs):
    """Build and launch the app in this process; returns (demo, base URL)."""
    from pix2pix_demo.ui import build_app, launch

    demo = build_app(weights, **build_kwargs)
    port = free_port()
    launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    wait_http(url, 60)
    return demo, url


def settle(demo, timeout: float = 60.0) -> None:
    """Wait until the app runs nothing (its model warm-up, every queued or running event), so that closing it and
    ending the test process never cuts TensorFlow off in the middle of a call: that aborts the process at exit
    ("terminate called without an active exception") and fails the run after every test has passed."""
    import time

    deadline = time.monotonic() + timeout
    zoo, queue = getattr(demo, "zoo", None), getattr(demo, "_queue", None)
    if zoo is not None:
        zoo.warmed.wait(timeout)
    while queue is not None and time.monotonic() < deadline:
        if len(queue) == 0 and all(job is None for job in queue.active_jobs):
            return
        time.sleep(0.1)


@pytest.fixture(scope="session")
def app_weights(tmp_path_factory) -> Path:
    return make_weights(tmp_path_factory.mktemp("weights"), heldout=True)


@pytest.fixture(scope="session")
def app_server(app_weights):
    demo, url = serve(app_weights)
    yield demo, url
    settle(demo)
    demo.close()


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server[1]


#: The hint-aware app: sketch and colorize only, every generator taking hints (see make_weights).
HINT_MODELS = [(t, a) for t in ("sketch", "colorize") for a in ALL_ARCHS]


@pytest.fixture(scope="session")
def hint_app(tmp_path_factory):
    """{"url", "weights", "demo"}: the app with hint-aware tiny models, served once per session."""
    weights = make_weights(tmp_path_factory.mktemp("hint_weights"), HINT_MODELS, hints=True)
    demo, url = serve(weights)
    yield {"url": url, "weights": weights, "demo": demo}
    settle(demo)
    demo.close()


def in_sketch_picture(drawing_img: Image.Image, x: float, y: float, picture_size, model_size: int = TINY_SIZE):
    """Where the drawing's point (x, y) lands in the sketch picture: the drawing is fitted to its content first."""
    from pix2pix_demo.tasks import TASKS

    row, col = TASKS["sketch"].hint_position(drawing_img, model_size)(x, y)
    w, h = picture_size
    side = min(w, h)
    k = side / model_size
    return (w - side) / 2 + (col + 0.5) * k - 0.5, (h - side) / 2 + (row + 0.5) * k - 0.5


@pytest.fixture(scope="module")
def browser():
    """Chromium for the browser tests, one per test module (Playwright's sync API allows one at a time)."""
    from benchmarks.browser import chromium

    with chromium() as b:
        yield b


@pytest.fixture(scope="session")
def client(app_url, tmp_path_factory):
    from gradio_client import Client

    return Client(app_url, verbose=False, download_files=str(tmp_path_factory.mktemp("client_downloads")))


# ------------------------------------------------------------------------------------------------ inputs
def drawing(size=(256, 256), box=(40, 40, 216, 216), width=4) -> Image.Image:
    """A small house: square, roof, door; ``box`` is where it sits on the white paper."""
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    d.rectangle((x0, y0 + h * 0.4, x1, y1), outline="black", width=width)
    d.line((x0, y0 + h * 0.4, x0 + w / 2, y0, x1, y0 + h * 0.4), fill="black", width=width)
    d.rectangle((x0 + w * 0.4, y0 + h * 0.7, x0 + w * 0.6, y1), outline="black", width=width)
    return img


def photo(width=160, height=120, seed=0) -> Image.Image:
    """A smooth colourful gradient with a few discs: a stand-in photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    arr = np.stack([255 * xx / max(width - 1, 1), 255 * yy / max(height - 1, 1),
                    np.full_like(xx, 128.0)], -1)
    img = Image.fromarray(arr.astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(4):
        x, y, r = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(4, 30))
        d.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return img


def png_bomb(path: Path, side: int = 30_000) -> Path:
    """A valid 1-bit PNG of side × side pixels (900 megapixels) that is well under a megabyte on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\xff" * ((side + 7) // 8)  # filter byte + white 1-bit pixels
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row * 1000) for _ in range(side // 1000)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def _exif_rotated(path: Path, base: Image.Image) -> Path:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    base.save(path, "JPEG", quality=92, exif=exif.tobytes())
    return path


#: name → (file name, expected outcome): "ok" (with the displayed size) or "error" (a plain-sentence gr.Error).
def bad_inputs(folder: Path) -> dict[str, tuple[Path, object]]:
    folder.mkdir(parents=True, exist_ok=True)
    base = photo(120, 80, seed=3)
    # Dark strokes on light paper so the same files are valid drawings for /sketch too.
    ink = Image.fromarray(np.where(np.asarray(drawing((120, 80), (10, 8, 110, 72), 3).convert("L")) < 128, 20, 235)
                          .astype(np.uint8))
    out = {}

    def add(name, path, expected):
        out[name] = (path, expected)

    (folder / "notes.txt").write_text("this is not an image\n")
    add("text_file", folder / "notes.txt", "error")
    (folder / "fake.png").write_bytes(os.urandom(2048))
    add("random_bytes_png", folder / "fake.png", "error")
    buf = io.BytesIO()
    base.save(buf, "JPEG", quality=92)
    (folder / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    add("truncated_jpeg", folder / "truncated.jpg", "error")
    buf = io.BytesIO()
    photo(400, 300, seed=4).save(buf, "PNG")
    (folder / "truncated.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    add("truncated_png", folder / "truncated.png", "error")
    add("png_bomb_30000", png_bomb(folder / "bomb.png"), "error")

    Image.new("RGB", (1, 1), (30, 30, 30)).save(folder / "one.png")
    add("one_pixel", folder / "one.png", (1, 1))
    sixteen = (np.asarray(ink, np.uint16) * 257).astype(np.uint16)
    Image.fromarray(sixteen).save(folder / "sixteen.png")  # mode I;16
    add("png_16bit", folder / "sixteen.png", (120, 80))
    ink.convert("RGB").convert("CMYK").save(folder / "cmyk.jpg", quality=92)
    add("cmyk_jpeg", folder / "cmyk.jpg", (120, 80))
    ink.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(folder / "palette.png")
    add("palette_png", folder / "palette.png", (120, 80))
    rgba = ink.convert("RGBA")
    rgba.putalpha(Image.new("L", ink.size, 200))
    rgba.save(folder / "rgba.png")
    add("rgba_png", folder / "rgba.png", (120, 80))
    add("exif_rotated_jpeg", _exif_rotated(folder / "rotated.jpg", ink.convert("RGB")), (80, 120))
    frames = [ink.convert("RGB"), Image.new("RGB", ink.size, (200, 30, 30))]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    add("animated_gif", folder / "anim.gif", (120, 80))
    ink.convert("RGB").save(folder / "image.webp", quality=90)
    add("webp", folder / "image.webp", (120, 80))
    ink.save(folder / "gray.jpg", quality=92)
    add("grayscale_jpeg", folder / "gray.jpg", (120, 80))
    return out


def is_plain_sentence(message: str) -> bool:
    """A user-facing message: one or two short sentences, no traceback, no Python object reprs."""
    bad = ("Traceback", "File \"", "Exception", "Error(", "<class", "object at 0x")
    return 10 < len(message) < 400 and not any(b in message for b in bad) and message.rstrip()[-1] in ".!)"


def colourfulness(img: Image.Image) -> float:
    from pix2pix_demo.imaging import colourfulness as c

    return c(np.asarray(img.convert("RGB")))


def read_config(url: str) -> dict:
    import httpx

    return httpx.get(url + "config", timeout=10).json()


def raw_predict(url: str, api_name: str, data: list, timeout: float = 60) -> tuple[list | None, list[dict]]:
    """Call an endpoint over the queue's own protocol and return (outputs or None, every message received).

    gradio_client keeps only the latest status, so gr.Warning messages ("log" messages) are checked this way.
    Files in ``data`` are given as local paths wrapped in ``{"upload": path}``.
    """
    answer = queue_call(url, api_name, data, timeout)
    return (answer.data if answer.success else None), answer.messages

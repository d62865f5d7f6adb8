"""Shared fixtures for the pix2pix_demo test suite.

Everything runs offline, on the CPU, inside throw-away folders: the environment is pointed at a private temporary
tree *before* TensorFlow, Keras or huggingface_hub are imported, so no test can touch the user's home, caches or
the Hub. Data sets are drawn on the fly with PIL; one tiny model is trained once per session and shared.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

# ------------------------------------------------------------------------------------ environment (first!)
REPO = Path(__file__).resolve().parent.parent
_BASE = Path(tempfile.mkdtemp(prefix="p2p-tests-"))
# Keep finding Playwright's browsers (installed under the real home by default) once HOME moves.
if "PLAYWRIGHT_BROWSERS_PATH" not in os.environ and (Path.home() / ".cache" / "ms-playwright").is_dir():
    os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(Path.home() / ".cache" / "ms-playwright")
for _sub in ("home", "tmp", "gradio", "hf"):
    (_BASE / _sub).mkdir()
os.environ.update({
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "HOME": str(_BASE / "home"),
    "TMPDIR": str(_BASE / "tmp"),
    "GRADIO_TEMP_DIR": str(_BASE / "gradio"),
    "HF_HOME": str(_BASE / "hf"),
    "MPLCONFIGDIR": str(_BASE / "home"),
    "PYTHONUNBUFFERED": "1",
})
os.environ.pop("HF_HUB_CACHE", None)
os.environ.pop("HUGGINGFACE_HUB_CACHE", None)
tempfile.tempdir = None  # forget the cached temp dir so TMPDIR applies from now on
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

#: A tiny generator/discriminator: trains a step in milliseconds on one CPU core.
TINY = dict(image_size=32, base_filters=8, max_filters=32, disc_filters=8)
SESSION_TASK = "sketch"
SESSION_STEPS = 300


def pytest_sessionfinish(session, exitstatus):
    if not os.environ.get("P2P_KEEP_TEST_FILES"):
        shutil.rmtree(_BASE, ignore_errors=True)


# ----------------------------------------------------------------------------------------- image makers
def random_colour(rng, low=0, high=220) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(low, high, 3))


def emoji_like(rng: np.random.Generator, side: int | None = None) -> Image.Image:
    """Flat coloured shapes (circle, square, triangle) with a dark outline, on white: an emoji stand-in."""
    side = side or int(rng.integers(64, 97))
    img = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 3))):
        x0, y0 = (int(v) for v in rng.integers(4, side // 3, 2))
        x1, y1 = (int(v) for v in rng.integers(2 * side // 3, side - 4, 2))
        colour, kind = random_colour(rng), int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour, outline=(20, 20, 20), width=2)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour, outline=(20, 20, 20), width=2)
        else:
            draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) // 2, y0)], fill=colour, outline=(20, 20, 20))
    return img


def photo_like(rng: np.random.Generator, width: int = 96, height: int = 72) -> Image.Image:
    """A smooth two-colour gradient ("sky and ground") with a few soft shapes and a little noise."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    top, bottom = np.array(random_colour(rng, 60, 255), np.float32), np.array(random_colour(rng, 0, 200), np.float32)
    t = (yy / max(height - 1, 1))[..., None]
    base = top * (1 - t) + bottom * t + (xx / width)[..., None] * rng.uniform(-40, 40, 3)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(4, max(5, min(width, height) // 3)))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=random_colour(rng, 0, 255))
    arr = np.asarray(img, np.float32) + rng.normal(0, 3, (height, width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def write_emoji_folder(folder: Path, n: int = 24, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        emoji_like(rng).save(folder / f"set{i % 3}__shape-{i:02d}.png")
    return folder


def write_photo_folder(folder: Path, n: int = 8, seed: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        w, h = int(rng.integers(64, 120)), int(rng.integers(48, 100))
        photo_like(rng, w, h).save(folder / f"photo_{i:02d}.jpg", quality=92)
    return folder


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def emoji_dir(tmp_path_factory) -> Path:
    """24 emoji-like PNGs, 64–96 px, in three 'sets' (``setN__shape-XX.png``). Treat as read-only."""
    return write_emoji_folder(tmp_path_factory.mktemp("emoji"))


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory) -> Path:
    """8 small photo-like JPEGs (gradients and shapes) of different sizes. Treat as read-only."""
    return write_photo_folder(tmp_path_factory.mktemp("photos"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def session_train_config(emoji_dir):
    from pix2pix_demo.training import TrainConfig

    return TrainConfig(task=SESSION_TASK, arch="unet", data=str(emoji_dir), steps=SESSION_STEPS, batch_size=4,
                       lr=1e-3, val_fraction=0.3, seed=0, checkpoint_every=1000, sample_every=SESSION_STEPS // 2,
                       log_every=20, **TINY)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, session_train_config) -> Path:
    """A tiny sketch U-Net (32 px, SESSION_STEPS steps) trained once per session; returns its run folder.

    The exported model is in ``run/model``; samples, logs and checkpoints are next to it. Treat as read-only.
    """
    from pix2pix_demo.training import train

    run = tmp_path_factory.mktemp("session_run")
    model = train(session_train_config, run, verbose=False)
    assert model == run / "model"
    return run


@pytest.fixture(scope="session")
def trained_model(trained_run) -> Path:
    return trained_run / "model"


@pytest.fixture
def model_copy(trained_model, tmp_path) -> Path:
    """A private, writable copy of the session model folder (for tests that damage it)."""
    dst = tmp_path / "model"
    shutil.copytree(trained_model, dst)
    return dst


# ------------------------------------------------------------------------------------------- subprocesses
def cli_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update({k: str(v) for k, v in extra.items()})
    return env


# ----------------------------------------------------------------------------------- app test fixtures
# The app's session fixtures (tiny weights, the in-process servers, a gradio_client) and the browser tests' Chromium
# live in app_fixtures.py; they are registered here so that the test files share one server of each kind.
from app_fixtures import app_server, app_url, app_weights, browser, client, hint_app  # noqa: E402,F401

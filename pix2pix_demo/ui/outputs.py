"""What the app sends back: result files with their own names, and the compare tab's feature-map tiles."""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .. import imaging
from .inputs import suffix


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
    took longer than translating it. ``src`` has passed :func:`~pix2pix_demo.ui.inputs.checked_path`."""
    if isinstance(src, (str, Path)) and suffix(src) in (".jpg", ".jpeg", ".png", ".webp"):
        try:
            with warnings.catch_warnings():  # a large upload was checked against the limits when it was loaded
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                raw = Image.open(src)
            with raw:
                if (raw.size == img.size and raw.mode == "RGB" and not getattr(raw, "is_animated", False)
                        and raw.getexif().get(0x0112, 1) == 1):
                    return str(src)
        except (OSError, ValueError):
            pass
    return results.save(img, stem, jpeg)


def is_colour(img: Image.Image) -> bool:
    small = img if img.width * img.height <= 250_000 else img.reduce(
        max(1, int((img.width * img.height / 250_000) ** 0.5)))
    a = np.asarray(small, np.int16)
    return bool(np.abs(a[..., 0] - a[..., 1]).mean() + np.abs(a[..., 1] - a[..., 2]).mean() > 2.0)


def gray(img: Image.Image) -> Image.Image:
    return Image.fromarray(imaging.gray(img), "L")


def to_uint8_gray(x: np.ndarray) -> Image.Image:
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

"""Render the Iconify JSON emoji sets to PNG files on white (a data-preparation step).

Each set is a folder holding ``icons.json`` in Iconify format::

    {"prefix": ..., "width": W, "height": H, "icons": {name: {"body": ..., "width"?: ..., "height"?: ...}}}

Icons are rendered with resvg (the ``resvg-py`` wheel, no system libraries), composited on white and saved as
``<set>__<name>.png``. Skin-tone variants are skipped by default: they are near-duplicates of the base emoji and
would only leak between the training and validation splits.
"""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from .progress import Progress

log = logging.getLogger(__name__)

SKIN_TONE = re.compile(r"-(light|medium-light|medium|medium-dark|dark)-skin-tone")

#: Licence and author of each set, for the model card.
EMOJI_SETS = {
    "noto": ("Apache-2.0", "Google"),
    "fluent-emoji-flat": ("MIT", "Microsoft"),
    "fxemoji": ("Apache-2.0", "Mozilla"),
    "twemoji": ("CC-BY-4.0", "Twitter"),
}


def iter_icons(set_dir: Path, skip_variants: bool = True) -> Iterator[tuple[str, str]]:
    """Yield ``(name, complete_svg)`` for each icon of one Iconify set (aliases are skipped)."""
    data = json.loads((Path(set_dir) / "icons.json").read_text(encoding="utf-8"))
    default_w, default_h = data.get("width", 16), data.get("height", 16)
    for name, icon in data["icons"].items():
        if skip_variants and SKIN_TONE.search(name):
            continue
        w, h = icon.get("width", default_w), icon.get("height", default_h)
        left, top = icon.get("left", 0), icon.get("top", 0)
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
               f'viewBox="{left} {top} {w} {h}">{icon["body"]}</svg>')
        yield name, svg


def render_svg(svg: str, size: int = 256) -> Image.Image:
    """Render an SVG string to an RGB image of ``size``×``size`` on white."""
    import resvg_py

    png = resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size)
    rgba = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(canvas, rgba).convert("RGB")


def render_sets(src: Path, out: Path, size: int = 256, sets: list[str] | None = None,
                limit: int | None = None, skip_variants: bool = True, progress: bool = True) -> int:
    """Render every icon of ``sets`` (default: all sets found under ``src``) into ``out``; return the count.

    Existing files are kept, so an interrupted run can simply be started again.
    """
    src, out = Path(src), Path(out)
    names = sets or sorted(p.parent.name for p in src.glob("*/icons.json"))
    if not names:
        raise FileNotFoundError(f"No Iconify sets (*/icons.json) found under {src}")
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for set_name in names:
        icons = list(iter_icons(src / set_name, skip_variants=skip_variants))
        jobs += [(set_name, n, s) for n, s in icons[:limit]]
    bar = Progress(len(jobs), "icon", enabled=progress)
    written = 0
    for set_name, name, svg in jobs:
        path = out / f"{set_name}__{name}.png"
        if not path.exists():
            try:
                img = render_svg(svg, size)
            except ValueError as err:  # resvg refuses a malformed icon: skip it, keep going
                log.warning("skipping %s/%s: %s", set_name, name, err)
                bar.add(1)
                continue
            if np.asarray(img).min() > 250:  # renders as blank white: nothing to learn from
                bar.add(1)
                continue
            tmp = path.with_suffix(".tmp.png")
            img.save(tmp)
            tmp.replace(path)
        written += 1
        bar.add(1)
    return written

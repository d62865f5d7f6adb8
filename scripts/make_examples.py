"""Make the app's example inputs: simple line drawings (drawn here with PIL) and a few small photos.

    python scripts/make_examples.py [--photos ../shared/data/photos] [--out examples]

* ``examples/sketch/*.png``: house, cat face, sun, car, tree and fish, drawn as thin black lines (about 3.5 px at
  256 px, like the pad's pen) on white. Deterministic; a few kB each.
* ``examples/photos/*.jpg``: photos from the shared photo folder (public domain / CC0; credit them from its
  ``SOURCES.tsv``), downscaled to at most 640 px; plus two made from them here: a synthetic night render
  (``pix2pix_demo.night.render_night``) for Night → Day and a gray version for Colorize.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
SIZE = 256  # saved size of the drawings
SS = 4  # supersampling factor: drawn at 1024 px, then downscaled (anti-aliased lines)
PEN = 3.5  # line width at 256 px

#: (source file in the shared photo folder, name in examples/photos/); all public domain or CC0.
PHOTOS = {
    "lomiri_seeding_by_Clements_Engelhardt.jpg": "meadow.jpg",  # CC0-1.0, Clements Engelhardt
    "skimage_rocket.jpg": "launch_pad_night.jpg",  # public domain, SpaceX
    "skimage_chelsea.jpg": "cat.jpg",  # CC0, Stefan van der Walt
    "skimage_coffee.jpg": "coffee.jpg",  # CC0, Rachel Michetti
}


class Pen:
    """Draws in 256-px coordinates on a supersampled canvas."""

    def __init__(self):
        self.img = Image.new("L", (SIZE * SS, SIZE * SS), 255)
        self.d = ImageDraw.Draw(self.img)
        self.w = round(PEN * SS)

    def _p(self, pts):
        return [(x * SS, y * SS) for x, y in pts]

    def line(self, *pts, closed=False):
        pts = list(pts) + ([pts[0]] if closed else [])
        self.d.line(self._p(pts), fill=0, width=self.w, joint="curve")
        for x, y in self._p([pts[0], pts[-1]]):  # round caps
            r = self.w / 2
            self.d.ellipse([x - r, y - r, x + r, y + r], fill=0)

    def ellipse(self, cx, cy, rx, ry):
        self.d.ellipse([(cx - rx) * SS, (cy - ry) * SS, (cx + rx) * SS, (cy + ry) * SS], outline=0, width=self.w)

    def arc(self, cx, cy, rx, ry, start, end):
        self.d.arc([(cx - rx) * SS, (cy - ry) * SS, (cx + rx) * SS, (cy + ry) * SS], start, end, fill=0,
                   width=self.w)

    def dot(self, cx, cy, r):
        self.d.ellipse([(cx - r) * SS, (cy - r) * SS, (cx + r) * SS, (cy + r) * SS], fill=0)

    def image(self) -> Image.Image:
        return self.img.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def house(p: Pen):
    p.line((60, 120), (60, 215), (196, 215), (196, 120))
    p.line((45, 128), (128, 50), (211, 128))
    p.line((160, 88), (160, 60), (180, 60), (180, 106))  # chimney
    p.line((110, 215), (110, 160), (146, 160), (146, 215))  # door
    p.line((75, 140), (100, 140), (100, 165), (75, 165), closed=True)  # window
    p.line((87.5, 140), (87.5, 165))
    p.line((75, 152.5), (100, 152.5))


def cat(p: Pen):
    p.ellipse(128, 140, 80, 70)
    p.line((62, 105), (68, 40), (108, 74))  # ears
    p.line((148, 74), (188, 40), (194, 105))
    p.ellipse(100, 125, 12, 14)
    p.ellipse(156, 125, 12, 14)
    p.line((120, 150), (136, 150), (128, 160), closed=True)  # nose
    p.arc(116, 162, 12, 12, 20, 160)
    p.arc(140, 162, 12, 12, 20, 160)
    for dy in (-6, 6):
        p.line((95, 155 + dy), (40, 148 + 2 * dy))
        p.line((161, 155 + dy), (216, 148 + 2 * dy))


def sun(p: Pen):
    p.ellipse(128, 128, 52, 52)
    for k in range(12):
        a = 2 * math.pi * k / 12
        p.line((128 + 68 * math.cos(a), 128 + 68 * math.sin(a)), (128 + 100 * math.cos(a), 128 + 100 * math.sin(a)))
    p.arc(128, 132, 26, 22, 20, 160)  # smile
    p.dot(110, 115, 4)
    p.dot(146, 115, 4)


def car(p: Pen):
    p.line((30, 170), (30, 135), (70, 128), (95, 92), (170, 92), (195, 128), (226, 135), (226, 170),
           (200, 170))
    p.line((145, 170), (112, 170))
    p.line((56, 170), (30, 170))
    p.ellipse(84, 172, 22, 22)
    p.ellipse(172, 172, 22, 22)
    p.line((80, 128), (100, 100), (128, 100), (128, 128), closed=True)  # windows
    p.line((138, 128), (138, 100), (164, 100), (182, 128), closed=True)


def tree(p: Pen):
    p.line((115, 225), (118, 150))
    p.line((141, 225), (138, 150))
    p.line((95, 225), (161, 225))
    for cx, cy, r in ((128, 85, 45), (88, 118, 35), (168, 118, 35), (128, 132, 30)):
        p.ellipse(cx, cy, r, r)


def fish(p: Pen):
    p.ellipse(115, 128, 70, 42)
    p.line((182, 122), (225, 90), (225, 166), (182, 134))
    p.dot(80, 118, 5)
    p.arc(95, 128, 30, 34, -50, 50)  # gill
    p.line((100, 88), (125, 66), (150, 90))  # fin


DRAWINGS = {"house": house, "cat_face": cat, "sun": sun, "car": car, "tree": tree, "fish": fish}


def make_drawings(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in DRAWINGS.items():
        pen = Pen()
        draw(pen)
        path = out / f"{name}.png"
        pen.image().save(path, optimize=True)
        paths.append(path)
    return paths


def _fit(img: Image.Image, max_side: int = 640) -> Image.Image:
    img = img.convert("RGB")
    s = max_side / max(img.size)
    if s < 1:
        img = img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.LANCZOS)
    return img


def make_photos(src: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, target in PHOTOS.items():
        img = _fit(Image.open(src / name))
        img.save(out / target, quality=88, optimize=True)
        paths.append(out / target)
    sys.path.insert(0, str(ROOT))
    from pix2pix_demo.night import render_night

    meadow = np.asarray(Image.open(out / "meadow.jpg").convert("RGB"))
    night = Image.fromarray(render_night(meadow, np.random.default_rng(0)))
    night.save(out / "meadow_night.jpg", quality=88, optimize=True)
    gray = Image.open(out / "coffee.jpg").convert("L")
    gray.save(out / "coffee_gray.jpg", quality=88, optimize=True)
    return paths + [out / "meadow_night.jpg", out / "coffee_gray.jpg"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "photos"))
    ap.add_argument("--out", default=str(ROOT / "examples"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    for path in make_drawings(out / "sketch") + make_photos(Path(args.photos), out / "photos"):
        print(f"{path}  {path.stat().st_size / 1024:.1f} kB")


if __name__ == "__main__":
    main()

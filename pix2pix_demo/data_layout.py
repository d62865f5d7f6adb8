"""How ``data build`` lays out each kind of source in ``DIR`` once it is unpacked (see ``pix2pix_demo.sources``).

- ``emoji``, ``lineart`` (npm): the Iconify JSON set, copied (line art: only the icons its colour set also has).
- ``clipart``, ``stamps`` (PNG trees): each picture as RGBA PNG, long side at most ``MAX_SIDE``; links, duplicates,
  left-out categories, unreadable, tiny, huge, near-empty and grey pictures dropped.
- ``photos``: each picked photo (or each photo of the Qt resource files) as an RGB JPEG, long side at most
  ``MAX_PHOTO_SIDE``, short side at least ``MIN_PHOTO_SIDE``, with ``SOURCES.tsv``.

A held-out source (or clip-art category) goes under ``DIR/heldout/`` in the same layout. The packages' licence files
are copied to ``DIR/licenses/<source>/``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import warnings
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from .packages import Source
from .qt_resources import read_rcc

if TYPE_CHECKING:
    from PIL import Image

MAX_SIDE, MIN_SIDE, MAX_PIXELS = 1024, 48, 50_000_000  # clip-art
MAX_PHOTO_SIDE, MIN_PHOTO_SIDE, PHOTO_QUALITY = 1280, 256, 92  # photos: long side at most, short side at least
PHOTO_TYPES = (".jpg", ".jpeg", ".png", ".webp")
HELDOUT = "heldout"  # DIR/heldout/: the held-out sources, in the training layout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _area(out: Path, heldout: bool) -> Path:
    """Where a source's pictures go: ``out`` for training, ``out/heldout`` for a held-out source."""
    return out / HELDOUT if heldout else out


def _layout_iconify(src: Source, pkg: Path, out: Path) -> tuple[list[dict], int, Counter, str, str]:
    info = json.loads((pkg / "info.json").read_text(encoding="utf-8"))
    licence = info.get("license", {}).get("spdx") or info.get("license", {}).get("title", "")
    author = info.get("author", {})
    credit = f"{author.get('name', '')} ({author['url']})" if author.get("url") else author.get("name", "")
    dest = _area(out, src.heldout) / ("emoji" if src.kind == "emoji" else "lineart") / src.name
    dest.mkdir(parents=True)
    for name in ("info.json", "package.json", "metadata.json"):
        if (pkg / name).exists():
            shutil.copyfile(pkg / name, dest / name)
    data = json.loads((pkg / "icons.json").read_text(encoding="utf-8"))
    skipped = Counter()
    if src.pairs_with:  # keep the drawings that have a colour picture
        found = [a / "emoji" / src.pairs_with / "icons.json" for a in (out, out / HELDOUT)]
        colour = json.loads(next(p for p in found if p.exists()).read_text(encoding="utf-8"))["icons"]
        kept = {k: v for k, v in data["icons"].items() if k in colour}
        skipped["unpaired"] = len(data["icons"]) - len(kept)
        data["icons"] = kept
        data["aliases"] = {k: v for k, v in data.get("aliases", {}).items() if v.get("parent") in kept}
        (dest / "icons.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    else:
        shutil.copyfile(pkg / "icons.json", dest / "icons.json")
    files = [{"path": p.relative_to(out).as_posix(), "origin": f"package/{p.name}"} for p in sorted(dest.iterdir())]
    return files, len(data["icons"]), skipped, licence, credit


def _picture(path: Path) -> tuple[Image.Image | None, str]:
    """The picture as RGBA with its long side at most MAX_SIDE, or ``(None, reason it is dropped)``."""
    import numpy as np
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decompression-bomb and palette-transparency warnings
            with Image.open(path) as im:
                if im.width * im.height > MAX_PIXELS:
                    return None, "huge"
                if max(im.size) < MIN_SIDE:
                    return None, "tiny"
                im = im.convert("RGBA")
    except (OSError, Image.DecompressionBombError):
        return None, "unreadable"
    a = np.asarray(im)
    visible = a[..., 3] > 127
    if visible.mean() < 0.02:
        return None, "empty"
    rgb = a[..., :3][visible].astype(np.int16)
    if np.percentile(rgb.max(1) - rgb.min(1), 99) < 16:  # no colour to learn
        return None, "grey"
    im.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    return im, ""


def _layout_png(src: Source, raw: Path, out: Path) -> tuple[list[dict], int, Counter, str, str]:
    root = raw / src.root
    seen: set[str] = set()
    files, skipped = [], Counter()
    for path in sorted(root.rglob("*.png")):
        rel = path.relative_to(root)
        if path.is_symlink():
            skipped["links"] += 1
            continue
        if rel.parts[0] in src.exclude:
            skipped["left-out categories"] += 1
            continue
        digest = sha256(path)
        if digest in seen:
            skipped["duplicates"] += 1
            continue
        seen.add(digest)
        im, reason = _picture(path)
        if im is None:
            skipped[reason] += 1
            continue
        target = _area(out, rel.parts[0] in src.heldout_categories) / "clipart" / src.name / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        im.save(target)
        files.append({"path": target.relative_to(out).as_posix(), "origin": f"/{src.root}/{rel.as_posix()}"})
    count = len(files)
    return files + _licence_files(src, raw, out), count, skipped, src.licence, src.credit


def _licence_files(src: Source, raw: Path, out: Path) -> list[dict]:
    """Copy the package's licence files to ``out/licenses/<source>/``: a Debian package's ``copyright``, a wheel's
    licence files and the README beside its pictures (scikit-learn credits its photos there)."""
    if src.client == "apt":
        docs = sorted((raw / "usr" / "share" / "doc").glob("*/copyright"))
    else:
        docs = sorted(p for p in raw.glob("*.dist-info/**/*") if p.is_file() and
                      p.name.upper().startswith(("LICEN", "COPYING")))
        docs += sorted((raw / src.root).glob("README*"))
    files = []
    for doc in docs:
        lic = out / "licenses" / src.name / doc.name
        lic.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(doc, lic)
        files.append({"path": lic.relative_to(out).as_posix(), "origin": "/" + doc.relative_to(raw).as_posix()})
    return files


def _photo(data: bytes | Path) -> tuple[Image.Image | None, str]:
    """The photo as RGB with its long side at most MAX_PHOTO_SIDE, or ``(None, reason it is dropped)``."""
    import numpy as np
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
                if im.width * im.height > MAX_PIXELS:
                    return None, "huge"
                if min(im.size) < MIN_PHOTO_SIDE:
                    return None, "small"
                im = ImageOps.exif_transpose(im)
                if "A" in im.mode or "transparency" in im.info:
                    rgba = im.convert("RGBA")
                    if (np.asarray(rgba)[..., 3] < 250).any():  # a cut-out, not a photo
                        return None, "transparent"
                im = im.convert("RGB")
    except (OSError, Image.DecompressionBombError):
        return None, "unreadable"
    im.thumbnail((MAX_PHOTO_SIDE, MAX_PHOTO_SIDE), Image.LANCZOS)
    return im, ""


def _largest(paths: list[Path]) -> Path:
    from PIL import Image

    def pixels(p: Path) -> int:
        try:
            with Image.open(p) as im:
                return im.width * im.height
        except OSError:
            return -1

    return max(paths, key=pixels)


def _photo_candidates(src: Source, raw: Path, skipped: Counter):
    """Yield ``(origin, name, file path or bytes, licence, credit)`` for each photo the source offers."""
    root = raw / src.root
    for pick in src.picks:
        found = [p for p in sorted(root.glob(pick.glob)) if p.is_file() and p.suffix.lower() in PHOTO_TYPES]
        if not found:
            skipped["missing"] += 1
            continue
        path = _largest(found)
        yield (f"/{path.relative_to(raw).as_posix()}", pick.name, path, pick.licence or src.licence,
               pick.credit or src.credit)
    for activity in src.rcc:
        rcc = root / f"{activity}.rcc"
        if not rcc.exists():
            skipped["missing"] += 1
            continue
        for inner, content in read_rcc(rcc.read_bytes()):
            if Path(inner).suffix.lower() not in PHOTO_TYPES:
                continue
            if any(word in inner.lower() for word in src.exclude):
                skipped["left out"] += 1
                continue
            yield (f"/{src.root}/{activity}.rcc:{inner}", f"{src.prefix}{activity}__{Path(inner).stem}.jpg", content,
                   src.licence, src.credit)


def _layout_photos(src: Source, raw: Path, out: Path) -> tuple[list[dict], int, Counter, str, str]:
    dest = _area(out, src.heldout) / "photos"
    dest.mkdir(parents=True, exist_ok=True)
    files, skipped = [], Counter()
    for origin, name, data, licence, credit in _photo_candidates(src, raw, skipped):
        im, reason = _photo(data)
        if im is None:
            skipped[reason] += 1
            continue
        im.save(dest / name, quality=PHOTO_QUALITY)
        files.append({"path": (dest / name).relative_to(out).as_posix(), "origin": origin, "licence": licence,
                      "credit": credit, "size": f"{im.width}x{im.height}"})
    return files + _licence_files(src, raw, out), len(files), skipped, src.licence, src.credit


def describe(src: Source, version: str) -> str:
    """The source column of SOURCES.tsv."""
    if src.client == "pypi":
        return f"PyPI {src.package} {version} ({src.root})"
    if src.client == "npm":
        return f"npm {src.package} {version}"
    return f"Debian package {src.package} {version}" + (" (Qt resource files)" if src.rcc else "")


def write_photo_index(out: Path, manifest: dict) -> None:
    """``photos/SOURCES.tsv`` and ``heldout/photos/SOURCES.tsv`` from the manifest, in the shared data's format."""
    for folder in (out / "photos", out / HELDOUT / "photos"):
        if not folder.is_dir():
            continue
        prefix = folder.relative_to(out).as_posix() + "/"
        rows = [f for f in manifest["files"] if f["path"].startswith(prefix) and "size" in f]
        with open(folder / "SOURCES.tsv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, delimiter="\t", lineterminator="\n")
            w.writerow(["file", "source", "license", "credit", "size"])
            for f in rows:
                w.writerow([f["path"][len(prefix):], manifest["sources"][f["source"]]["label"], f["licence"],
                            f["credit"], f["size"]])


def lay_out(src: Source, raw: Path, out: Path) -> tuple[list[dict], int, Counter, str, str]:
    """Lay out the unpacked package ``raw`` of ``src`` into ``out`` by its kind: ``(files written, items,
    skipped by reason, licence, credit)``."""
    if src.client == "npm":
        return _layout_iconify(src, raw / "package", out)
    if src.kind == "photos":
        return _layout_photos(src, raw, out)
    return _layout_png(src, raw, out)


def remove_layout(out: Path, src: Source, manifest: dict) -> None:
    """Remove what an earlier build laid out for ``src``, in the training and the held-out trees alike (the choice
    of held-out sources may have changed since)."""
    for f in manifest["files"]:
        if f["source"] == src.name:
            (out / f["path"]).unlink(missing_ok=True)
    for area in (out, out / HELDOUT):
        for folder in ("emoji", "lineart", "clipart"):
            shutil.rmtree(area / folder / src.name, ignore_errors=True)
    shutil.rmtree(out / "licenses" / src.name, ignore_errors=True)

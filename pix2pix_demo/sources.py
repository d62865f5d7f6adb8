"""Training data anyone can rebuild: ``python -m pix2pix_demo data build --out DIR [--sources NAME …]``.

Each source is a public package at a pinned version, fetched with its ordinary client (``npm pack``,
``apt-get download``, ``pip download --no-deps``), unpacked into ``DIR/raw/<source>/`` (kept, so a second build
skips the download), then laid out the way the rest of the project reads data:

- ``emoji``: Iconify JSON colour sets in ``DIR/emoji/<set>/`` (``icons.json``, ``info.json``, …), the layout of
  ``../shared/data/emoji``, so ``render-emoji --src DIR/emoji`` and ``train-all --data DIR`` read them unchanged.
- ``lineart``: the designers' own line art of a colour set, in ``DIR/lineart/<set>/`` (Iconify JSON), kept only for
  the icon names the paired colour set also has (its pair is built with it).
- ``clipart``, ``stamps``: PNG trees in ``DIR/clipart/<source>/<category>/…`` as RGBA PNG, long side at most
  1024 px. Links, duplicates, left-out categories, unreadable, tiny, huge, near-empty and grey pictures are dropped.
- ``photos``: ``DIR/photos/<prefix>_<name>.jpg`` (RGB JPEG, quality 92, long side at most 1280 px) with
  ``DIR/photos/SOURCES.tsv`` (file, source, license, credit, size), the layout of ``../shared/data/photos``. Each
  photo source names its photos (``Pick``) or, for GCompris, reads them out of the activities' Qt resource files
  (:func:`read_rcc`).

**Held-out sources** (:data:`SOURCES`' ``heldout`` and ``heldout_categories``) are laid out under ``DIR/heldout/``
in the same layout (``heldout/photos/``, ``heldout/emoji/<set>/``, ``heldout/lineart/<set>/``,
``heldout/clipart/<source>/<category>/``) and never in the training folders: ``train-all`` never sees them and
``zoo.heldout_metrics`` measures the shipped generators on them. The choice is fixed here (see the comments at
:data:`SOURCES`): one whole photo package, one whole emoji artist, and the same two themes of both clip-art sources.

``DIR/MANIFEST.json`` lists every file written with its source package and version, licence, credit and sha256; the
Debian packages' ``copyright`` files (and the PyPI wheels' licence files) are copied to ``DIR/licenses/<source>/``.
OpenMoji is never used: it is kept aside for checks.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


class SourceError(ValueError):
    """A problem ``data build`` reports as ``error: <message>`` (exit status 2)."""


@dataclass(frozen=True)
class Pick:
    """One photo of a photo source: ``glob`` under the source's ``root`` (several matches: the largest picture) is
    written as ``DIR/photos/<name>``; ``licence`` and ``credit`` default to the source's."""

    glob: str
    name: str
    licence: str = ""
    credit: str = ""


@dataclass(frozen=True)
class Source:
    name: str  # the --sources name and the folder name
    client: str  # "npm", "apt" or "pypi"
    package: str
    version: str
    kind: str  # "emoji", "lineart", "clipart", "stamps" or "photos"
    pairs_with: str | None = None  # lineart: the colour set it is paired with by icon name
    licence: str = ""  # apt and pypi sources; npm sources read theirs from info.json
    credit: str = ""
    root: str = ""  # apt and pypi sources: the folder inside the package that holds the pictures
    exclude: tuple[str, ...] = ()  # clipart: top-level categories left out; Qt resources: name fragments left out
    picks: tuple[Pick, ...] = ()  # photos: the photos taken, by path
    rcc: tuple[str, ...] = ()  # photos: the Qt resource files (``<root>/<name>.rcc``) whose photos are taken
    prefix: str = ""  # photos from Qt resource files: ``<prefix><rcc name>__<file stem>.jpg``
    heldout: bool = False  # never trained on: laid out under DIR/heldout/
    heldout_categories: tuple[str, ...] = ()  # clipart: top-level categories laid out under DIR/heldout/

    @property
    def spec(self) -> str:
        if not self.version:
            return self.package
        sep = {"npm": "@", "apt": "=", "pypi": "=="}[self.client]
        return f"{self.package}{sep}{self.version}"


def _iconify(name: str, version: str, kind: str = "emoji", pairs_with: str | None = None,
             heldout: bool = False) -> Source:
    return Source(name, "npm", f"@iconify-json/{name}", version, kind, pairs_with, heldout=heldout)


def _picks(prefix: str, stems: str, ext: str = ".jpg", **kw) -> tuple[Pick, ...]:
    """``stems`` (space-separated) as ``<stem><ext>`` → ``<prefix><stem>.jpg``."""
    return tuple(Pick(f"{stem}{ext}", f"{prefix}{stem}.jpg", **kw) for stem in stems.split())


def _lomiri(stem: str, licence: str, credit: str) -> Pick:
    return Pick(f"{stem}.jpg", f"lomiri_{stem}.jpg", licence, credit)


_KDE = "Autumn BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite MilkyWay OneStandsOut " \
       "Path summer_1am"
_AITZOL = "Aitzol Berasategi"
_GPL_COPYRIGHT = "GPL-2+ (package copyright file)"

# Held out (never trained on; zoo.heldout_metrics measures the shipped generators on them):
# - photos: lomiri-wallpapers-16.04, one whole package of 13 photos by 9 photographers, the most varied of the
#   photo packages (mountains, a meadow, a stream, a room, a fig on a plate, brushes, a bird, a dragonfly, people,
#   a sunset); the other packages are mostly one kind of picture (flower macros, KDE wallpapers, GCompris).
# - emoji: EmojiOne, the whole artist: both of its colour sets (emojione, emojione-v1: 2,674 icons without skin-tone
#   variants) and its line art (emojione-monotone), whatever the icons' names; six sets by five other artists
#   remain for training.
# - clip-art: the themes plants and transport in both clip-art sources (openclipart-png: plants, transportation,
#   197 of its 1,790 kept pictures; tuxpaint-stamps-default: plants, vehicles, 75 of 505).
SOURCES: dict[str, Source] = {s.name: s for s in (
    # The four sets of ../shared/data/emoji, at the same versions.
    _iconify("noto", "1.2.9"), _iconify("fluent-emoji-flat", "1.2.6"), _iconify("fxemoji", "1.2.2"),
    _iconify("twemoji", "1.2.5"),
    _iconify("emojione", "1.2.3", heldout=True), _iconify("emojione-v1", "1.2.3", heldout=True),
    _iconify("noto-v1", "1.2.5"), _iconify("streamline-emojis", "1.2.4"),
    _iconify("fluent-emoji-high-contrast", "1.2.6", "lineart", "fluent-emoji-flat"),
    _iconify("emojione-monotone", "1.2.1", "lineart", "emojione", heldout=True),
    Source("openclipart-png", "apt", "openclipart-png", "1:0.18+dfsg-19", "clipart", licence="public domain",
           credit="Open Clip Art Library contributors (openclipart.org)", root="usr/share/openclipart/png",
           # icons and symbols; gradients and patterns; UI buttons; trademarks
           exclude=("computer", "shapes", "signs_and_symbols", "special", "buttons", "logos"),
           heldout_categories=("plants", "transportation")),
    Source("tuxpaint-stamps-default", "apt", "tuxpaint-stamps-default", "2022.06.04-1", "stamps",
           licence="GPL-2.0-or-later", credit="Bill Kendrick and the Tux Paint contributors (tuxpaint.org)",
           root="usr/share/tuxpaint/stamps", exclude=("symbols",), heldout_categories=("plants", "vehicles")),
    # The photos of ../shared/data/photos, from the same package versions.
    Source("plasma-workspace-wallpapers", "apt", "plasma-workspace-wallpapers", "4:5.27.5-2", "photos",
           licence="GPL-2+", credit="KDE Plasma wallpaper contributors", root="usr/share/wallpapers",
           picks=tuple(Pick(f"{n}/contents/images/*", f"kde_{n}.jpg") for n in _KDE.split())),
    Source("mate-backgrounds", "apt", "mate-backgrounds", "1.26.0-1", "photos", licence=_GPL_COPYRIGHT,
           credit="MATE Desktop backgrounds contributors", root="usr/share/backgrounds/mate/nature",
           picks=_picks("mate_", "Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops Storm TwoWings "
                                 "Wood YellowFlower")),
    Source("lomiri-wallpapers-16.04", "apt", "lomiri-wallpapers-16.04", "20.04.0-2", "photos",
           root="usr/share/backgrounds", heldout=True, picks=(
               _lomiri("Bridge_by_Sander_Klootwijk", "CC-BY-SA-4.0", "Sander Klootwijk"),
               _lomiri("Dragonfly_by_Bolly", "CC-BY-SA-4.0", "Bolly"),
               _lomiri("Picture_0B_by_freespace", "CC-BY-4.0", "Trevor (freespace)"),
               _lomiri("Picture_1A_by_freespace", "CC-BY-4.0", "Trevor (freespace)"),
               _lomiri("Wine_by_Jakkub_Mede", "CC-BY-4.0", "Jakub Mede"),
               _lomiri("aitzgorri_by_Aitzol_Berasategi", "CC-BY-4.0", _AITZOL),
               _lomiri("free_by_Peter_Nerlich", "CC-BY-SA-4.0", "Peter Nerlich"),
               _lomiri("friends_by_Aitzol_Berasategi", "CC-BY-4.0", _AITZOL),
               _lomiri("life_by_Aitzol_Berasategi", "CC-BY-4.0", _AITZOL),
               _lomiri("picosdeeuropa_by_Aitzol_Berasategi", "CC-BY-4.0", _AITZOL),
               _lomiri("seeding_by_Clements_Engelhardt", "CC0-1.0", "Clemens Engelhardt"),
               _lomiri("sunset_by_Aitzol_Berasategi", "CC-BY-4.0", _AITZOL),
               _lomiri("umang_by_Abhishek_Mudgal", "CC-BY-4.0", "Abhishek Mudgal"))),
    Source("lomiri-wallpapers-20.04", "apt", "lomiri-wallpapers-20.04", "20.04.0-2", "photos",
           root="usr/share/backgrounds", picks=(_lomiri("Kleiber_by_Lukas_Baubkus", "CC-BY-SA-3.0", "Lukas Baubkus"),)),
    Source("palapeli-data", "apt", "palapeli-data", "4:22.12.3-1", "photos", licence=_GPL_COPYRIGHT,
           credit="KDE Palapeli contributors", root="usr/share/palapeli/collection",
           picks=_picks("palapeli_", "castle-maintenon cincinnati-bridge citrus-fruits european-honey-bee "
                                     "panther-chameleon-female")),
    # GCompris keeps its pictures inside Qt resource files: the opaque ones with a short side of at least
    # MIN_PHOTO_SIDE from these activities (the paintings by Van Gogh in "details" are left out).
    Source("gcompris-qt-data", "apt", "gcompris-qt-data", "3.1-2", "photos",
           licence="GPL-3+ unless the package copyright file names CC-BY-2.0, CC-BY-SA-2.0/3.0 or public domain "
                   "for the file", credit="GCompris contributors", root="usr/share/gcompris-qt/rcc",
           rcc=("categorization", "clickgame", "details", "erase", "explore_farm_animals", "explore_monuments",
                "explore_world_animals", "explore_world_music"),
           exclude=("gogh", "peretanguy", "auvers-sur-oise"), prefix="gcompris_"),
    Source("scikit-image", "pypi", "scikit-image", "0.26.0", "photos", root="skimage/data", picks=(
        Pick("astronaut.png", "skimage_astronaut.jpg", "Public domain", "NASA (Eileen Collins)"),
        Pick("chelsea.png", "skimage_chelsea.jpg", "CC0", "Stefan van der Walt"),
        Pick("coffee.png", "skimage_coffee.jpg", "CC0", "Rachel Michetti"),
        Pick("rocket.jpg", "skimage_rocket.jpg", "Public domain", "SpaceX"))),
    Source("scikit-learn", "pypi", "scikit-learn", "1.9.1", "photos", root="sklearn/datasets/images",
           licence="CC-BY-2.0", picks=(Pick("china.jpg", "sklearn_china.jpg", credit="danielbuechele (Flickr)"),
                                       Pick("flower.jpg", "sklearn_flower.jpg", credit="vultilion (Flickr)"))),
    Source("matplotlib", "pypi", "matplotlib", "3.11.2", "photos", root="matplotlib/mpl-data/sample_data",
           picks=(Pick("grace_hopper.jpg", "matplotlib_grace_hopper.jpg", "Public domain", "US Navy"),)),
)}

FORBIDDEN = "openmoji"  # kept aside for checks: never training data
HINTS = {"npm": "install Node.js and npm (apt-get install npm)", "apt-get": "it comes with Debian and Ubuntu",
         "dpkg-deb": "install dpkg (apt-get install dpkg)"}
MAX_SIDE, MIN_SIDE, MAX_PIXELS = 1024, 48, 50_000_000  # clip-art
MAX_PHOTO_SIDE, MIN_PHOTO_SIDE, PHOTO_QUALITY = 1280, 256, 92  # photos: long side at most, short side at least
PHOTO_TYPES = (".jpg", ".jpeg", ".png", ".webp")
HELDOUT = "heldout"  # DIR/heldout/: the held-out sources, in the training layout


def _refuse_forbidden(text: str) -> None:
    if FORBIDDEN in text.lower():
        raise SourceError("OpenMoji is kept aside for checks and is never used as training data.")


def resolve(names: list[str] | None) -> list[Source]:
    """The sources ``names`` ask for (default: all), each line-art set after the colour set it pairs with."""
    out: list[Source] = []
    for name in names or list(SOURCES):
        _refuse_forbidden(name)
        if name not in SOURCES:
            raise SourceError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
        src = SOURCES[name]
        for s in ([SOURCES[src.pairs_with]] if src.pairs_with else []) + [src]:
            if s not in out:
                out.append(s)
    return out


# ---------------------------------------------------------------------------------------------- fetch, unpack
def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 900) -> str:
    if shutil.which(cmd[0]) is None:
        raise SourceError(f"{cmd[0]} is not installed: {HINTS.get(cmd[0], 'install it')}")
    try:
        done = subprocess.run(cmd, check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SourceError(f"`{' '.join(cmd)}` took longer than {timeout:.0f} s") from None
    if done.returncode:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip() and not ln.startswith("W:")]
        raise SourceError(f"`{' '.join(cmd)}` failed: {' / '.join(lines[-2:]) or f'exit status {done.returncode}'}")
    return done.stdout


def fetch(src: Source, dest: Path, timeout: float = 900) -> Path:
    """Download ``src`` into the empty folder ``dest`` with its ordinary client; return the archive."""
    if src.client == "npm":
        _run(["npm", "pack", src.spec, "--pack-destination", str(dest)], cwd=dest, timeout=timeout)
    elif src.client == "pypi":  # any wheel of the pinned version: the data files are the same in every one
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
              "--dest", str(dest), src.spec], cwd=dest, timeout=timeout)
    else:
        try:
            _run(["apt-get", "download", src.spec], cwd=dest, timeout=timeout)
        except SourceError as err:
            raise SourceError(f"{err} (is the package list current? try `apt-get update`)") from None
    found = sorted(dest.glob({"npm": "*.tgz", "pypi": "*.whl"}.get(src.client, "*.deb")))
    if len(found) != 1:
        raise SourceError(f"{src.spec}: the download left no archive in {dest}")
    return found[0]


def unpack(archive: Path, raw: Path) -> str:
    """Unpack a ``.deb`` (``dpkg-deb -x``), wheel or npm tarball into ``raw``; return the package's version."""
    raw.mkdir(parents=True)
    if archive.suffix == ".deb":
        _run(["dpkg-deb", "-x", str(archive), str(raw)])
        return _run(["dpkg-deb", "-f", str(archive), "Version"]).strip()
    if archive.suffix == ".whl":  # name-version-tags.whl; zipfile keeps every member inside raw
        with zipfile.ZipFile(archive) as whl:
            whl.extractall(raw)
        return archive.name.split("-")[1]
    with tarfile.open(archive) as tar:
        tar.extractall(raw, filter="data")
    return json.loads((raw / "package" / "package.json").read_text(encoding="utf-8"))["version"]


def read_rcc(blob: bytes) -> list[tuple[str, bytes]]:
    """The files of a compiled Qt resource file (``rcc`` binary format, versions 1–3) as ``(path, content)``.

    Layout: a header (``qres``, version, then the offsets of the tree, the data and the names); the tree is an array
    of nodes (name offset, flags, then a directory's child count and first child, or a file's locale and data
    offset; 14 bytes, 22 from version 2 with the modification time); a name is its length in UTF-16 units, a hash
    and the UTF-16BE text; a file's data is its length and the bytes, zlib-compressed (with a 4-byte length first,
    as ``qCompress`` writes it) when the node's flag 1 is set. Files compressed otherwise (zstd) are left out.
    """
    try:
        magic, version, tree, data, names = struct.unpack_from(">4sIIII", blob)
    except struct.error:
        raise SourceError("not a Qt resource file (too short)") from None
    if magic != b"qres" or version not in (1, 2, 3):
        raise SourceError(f"not a Qt resource file (magic {magic!r}, version {version})")
    node = 14 if version == 1 else 22
    files: list[tuple[str, bytes]] = []

    def name_at(offset: int) -> str:
        (length,) = struct.unpack_from(">H", blob, names + offset)
        return blob[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str, depth: int) -> None:
        if depth > 64:
            raise SourceError("Qt resource tree too deep")
        at = tree + index * node
        name_offset, flags = struct.unpack_from(">IH", blob, at)
        path = f"{prefix}/{name_at(name_offset)}" if index else ""
        if flags & 2:  # a directory
            count, first = struct.unpack_from(">II", blob, at + 6)
            for child in range(first, first + count):
                walk(child, path, depth + 1)
            return
        (offset,) = struct.unpack_from(">I", blob, at + 10)
        (size,) = struct.unpack_from(">I", blob, data + offset)
        content = blob[data + offset + 4:data + offset + 4 + size]
        if flags & 1:
            content = zlib.decompress(content[4:])
        elif flags & ~3:
            return
        files.append((path, content))

    try:
        walk(0, "", 0)
    except (struct.error, zlib.error, UnicodeDecodeError) as err:
        raise SourceError(f"damaged Qt resource file: {err}") from None
    return files


# ---------------------------------------------------------------------------------------------------- layout
def _sha256(path: Path) -> str:
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
        digest = _sha256(path)
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


def _describe(src: Source, version: str) -> str:
    """The source column of SOURCES.tsv."""
    if src.client == "pypi":
        return f"PyPI {src.package} {version} ({src.root})"
    return f"Debian package {src.package} {version}" + (" (Qt resource files)" if src.rcc else "")


def _write_photo_index(out: Path, manifest: dict) -> None:
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


# ----------------------------------------------------------------------------------------------------- build
def build(out, sources: list[Source], fetch: Callable[[Source, Path], Path] = fetch, any_version: bool = False,
          say: Callable[[str], None] = print) -> dict:
    """Fetch, unpack and lay out ``sources`` into ``out``; update and return ``out/MANIFEST.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "MANIFEST.json"
    manifest = (json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists()
                else {"sources": {}, "files": []})
    for src in sources:
        _refuse_forbidden(src.name + " " + src.package)
        start = time.perf_counter()
        raw = out / "raw" / src.name
        stamp, loose = raw / ".fetched", any_version and src.client == "apt"
        if not stamp.exists() or (not loose and json.loads(stamp.read_text())["wanted"] != src.version):
            shutil.rmtree(raw, ignore_errors=True)
            with tempfile.TemporaryDirectory(prefix="p2p-fetch-") as tmp:
                version = unpack(Path(fetch(replace(src, version="") if loose else src, Path(tmp))), raw)
            if version != src.version and not loose:
                shutil.rmtree(raw)
                raise SourceError(f"{src.package}: got version {version}, wanted {src.version}")
            stamp.write_text(json.dumps({"wanted": src.version, "version": version}))
        version = json.loads(stamp.read_text())["version"]
        _remove_layout(out, src, manifest)
        if src.client == "npm":
            files, count, skipped, licence, credit = _layout_iconify(src, raw / "package", out)
        elif src.kind == "photos":
            files, count, skipped, licence, credit = _layout_photos(src, raw, out)
        else:
            files, count, skipped, licence, credit = _layout_png(src, raw, out)
        common = {"source": src.name, "package": src.package, "version": version, "licence": licence, "credit": credit}
        manifest["files"] = [f for f in manifest["files"] if f["source"] != src.name]
        manifest["files"] += [{**common, **f, "sha256": _sha256(out / f["path"])} for f in files]
        manifest["files"].sort(key=lambda f: f["path"])
        held = sum(f["path"].startswith(f"{HELDOUT}/") for f in files if "licenses/" not in f["path"])
        manifest["sources"][src.name] = {**common, "client": src.client, "kind": src.kind, "items": count,
                                         "skipped": dict(skipped), "pairs_with": src.pairs_with,
                                         "heldout": src.heldout or list(src.heldout_categories),
                                         "label": _describe(src, version)}
        _write_photo_index(out, manifest)
        tmp_path = manifest_path.with_suffix(".tmp")
        tmp_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        tmp_path.replace(manifest_path)
        unit = "icons" if src.client == "npm" else "photos" if src.kind == "photos" else "pictures"
        dropped = f" (dropped: {', '.join(f'{n} {k}' for k, n in skipped.items() if n)})" if any(skipped.values()) else ""
        kept = (" (held out)" if src.heldout else
                f" ({held} held out: {', '.join(src.heldout_categories)})" if src.heldout_categories else "")
        say(f"{src.name}: {src.package} {version}, {count} {unit}{kept}{dropped}, {licence or 'licence per file'}, "
            f"{time.perf_counter() - start:.1f} s")
    return manifest


def _remove_layout(out: Path, src: Source, manifest: dict) -> None:
    """Remove what an earlier build laid out for ``src``, in the training and the held-out trees alike (the choice
    of held-out sources may have changed since)."""
    for f in manifest["files"]:
        if f["source"] == src.name:
            (out / f["path"]).unlink(missing_ok=True)
    for area in (out, out / HELDOUT):
        for folder in ("emoji", "lineart", "clipart"):
            shutil.rmtree(area / folder / src.name, ignore_errors=True)
    shutil.rmtree(out / "licenses" / src.name, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ command line
def add_parser(subparsers) -> None:
    """Add ``data {build,list}`` to the command line's sub-parsers."""
    p = subparsers.add_parser("data", help="rebuild the training data from public packages (npm, apt, PyPI)")
    ds = p.add_subparsers(dest="data_command", required=True)
    b = ds.add_parser("build", help="fetch, unpack and lay out sources into DIR, with DIR/MANIFEST.json")
    b.add_argument("--out", required=True, metavar="DIR", help="then: train-all --data DIR")
    b.add_argument("--sources", nargs="+", metavar="NAME", help=f"default: all ({', '.join(SOURCES)})")
    b.add_argument("--any-version", action="store_true",
                   help="Debian packages: take the version apt offers instead of the pinned one (recorded)")
    ds.add_parser("list", help="the sources, their packages, versions and kinds")


def main(args) -> int:
    """Run ``data build`` or ``data list``; an error prints ``error: …`` and returns 2."""
    try:
        if args.data_command == "list":
            for s in SOURCES.values():
                notes = ([f"pairs with {s.pairs_with}"] if s.pairs_with else []) + (["held out"] if s.heldout else []) \
                    + ([f"held out: {', '.join(s.heldout_categories)}"] if s.heldout_categories else [])
                print(f"{s.name:28} {s.client:4} {s.spec:48} {s.kind}" + (f" ({'; '.join(notes)})" if notes else ""))
            return 0
        manifest = build(args.out, resolve(args.sources), any_version=args.any_version)
    except SourceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    n = len(manifest["sources"])
    print(f"{args.out}/MANIFEST.json: {len(manifest['files'])} files from {n} source{'s' * (n != 1)}")
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pix2pix_demo.sources")
    add_parser(parser.add_subparsers(dest="command", required=True))
    sys.exit(main(parser.parse_args(["data"] + sys.argv[1:])))

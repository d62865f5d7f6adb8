"""The pictures each shipped model trains on, and the held-out ones it is measured on.

:func:`task_data` is the folder a task trains on (the emoji sets rendered for sketch, the photos otherwise);
:func:`heldout_sets` the held-out pictures of the same task, from the sources ``python -m pix2pix_demo data build``
lays out in ``DATA/heldout/`` (see ``pix2pix_demo.sources``), which never reach the training folder;
:func:`heldout_metrics` measures the shipped generators on them for the model card (:mod:`pix2pix_demo.card`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from .data import DRAWINGS
from .models import ARCHS
from .sheets import sample_items
from .tasks import get_task

log = logging.getLogger(__name__)

#: ``DATA/heldout/``: the sources ``python -m pix2pix_demo data build`` holds out (never trained on), in the training
#: layout; see ``pix2pix_demo.sources``.
HELDOUT = "heldout"
#: At most this many pictures of each held-out folder are evaluated (a fixed sample, by a hash of the file name).
HELDOUT_LIMIT = 400


def task_data_path(task: str, data_root: Path, cache: Path) -> Path:
    """The folder a task trains on: the rendered emoji and clip art for sketch, the photos otherwise."""
    return cache / "sketch256" if task == "sketch" else data_root / "photos"


def task_data(task: str, data_root: Path, cache: Path) -> Path:
    """:func:`task_data_path`, made first for sketch: the emoji sets of ``data_root/emoji`` rendered into
    ``cache/emoji256``, the clip art of ``data_root/clipart`` (if any) put on white squares in ``cache/clipart256``,
    the designers' line art of ``data_root/lineart`` (if any) paired with its colour set in ``cache/lineart256``,
    and ``cache/sketch256`` linking to them all: a line-art pair as ``<set>__<name>.png`` (the colour picture) and
    ``drawings/<set>__<name>.png`` (the designer's drawing of it, which the sketch task reads instead of edges it
    would extract; :data:`pix2pix_demo.data.DRAWINGS`).

    Each folder holds exactly its sources: renders of any other set (left from another data folder, or of a set that
    is now held out) are removed, and a held-out set is never rendered there.
    """
    folder = task_data_path(task, data_root, cache)
    if task == "sketch":
        sets = iconify_sets(data_root / "emoji")
        held = set(iconify_sets(data_root / HELDOUT / "emoji"))
        if held & set(sets):
            raise ValueError(f"{data_root}: {', '.join(sorted(held & set(sets)))} is both a training and a held-out "
                             f"emoji set; rebuild it with `python -m pix2pix_demo data build`")
        parts = [cache / "emoji256"]
        _render_emoji(data_root / "emoji", parts[0], sets)
        if any((data_root / "clipart").glob("*/*/*.png")):
            parts.append(cache / "clipart256")
            _flatten_clipart(data_root / "clipart", parts[1])
        pictures = {p.name: p for part in parts for p in sorted(part.glob("*.png"))}
        drawings = {}
        for art in iconify_sets(data_root / "lineart"):
            colour = _colour_set_of(art)
            if colour not in sets:
                log.warning("skipping the line art %s: its colour set %s is not a training set", art, colour)
                continue
            pairs = cache / "lineart256" / art
            _render_lineart_pairs(data_root / "lineart" / art, data_root / "emoji" / colour, pairs)
            for drawing in sorted((pairs / "A").glob("*.png")):
                pictures[f"{art}__{drawing.name}"] = pairs / "B" / drawing.name
                drawings[f"{art}__{drawing.name}"] = drawing
        _link_all(pictures, folder)
        if drawings:
            _link_all(drawings, folder / DRAWINGS)
        elif (folder / DRAWINGS).is_dir():
            shutil.rmtree(folder / DRAWINGS)  # links only
    return folder


def _link_all(wanted: dict[str, Path], folder: Path) -> None:
    """Make ``folder`` hold a symbolic link named ``name`` to each ``wanted[name]`` (and no other file)."""
    wanted = {name: path.resolve() for name, path in wanted.items()}
    folder.mkdir(parents=True, exist_ok=True)
    for link in folder.iterdir():
        if link.is_dir() and not link.is_symlink():
            continue
        if link.name not in wanted or not link.is_symlink() or link.resolve() != wanted[link.name]:
            link.unlink()
    for name, target in wanted.items():
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(target)


def iconify_sets(folder: Path) -> list[str]:
    """The Iconify sets in ``folder`` (each ``<set>/icons.json``), sorted."""
    return sorted(p.parent.name for p in folder.glob("*/icons.json"))


def _render_emoji(src: Path, folder: Path, sets: list[str]) -> None:
    """Render ``sets`` of ``src`` into ``folder`` (``<set>__<name>.png``, kept between runs), removing the renders
    of any other set."""
    from .emoji import render_sets

    stale = [p for p in folder.glob("*.png") if p.name.split("__", 1)[0] not in sets] if folder.is_dir() else []
    if stale:
        log.info("removing %d renders of sets not in %s from %s", len(stale), src, folder)
        for p in stale:
            p.unlink()
    log.info("rendering the emoji sets %s to %s", ", ".join(sets), folder)
    render_sets(src, folder, 256, sets=sets)  # no sets: a FileNotFoundError that names src


def heldout_sets(task: str, data_root, cache="cache") -> dict[str, Path]:
    """The held-out pictures ``task`` is measured on, as ``{label: folder}`` ({} when ``data_root`` has no
    ``heldout/``, as ``../shared/data``).

    Photo tasks: ``heldout/photos/`` (one whole photo package). Sketch: the held-out emoji artist's sets, rendered
    like the training sets into ``cache/heldout/emoji256/``; that artist's own line art paired with its colour set
    (``cache/heldout/lineart256/<set>/A`` and ``B``: real drawings, not extracted lines); and the held-out clip-art
    categories, on white squares in ``cache/heldout/clipart256/``. The sketch pairs of the emoji and the clip art
    are made from them as from the training emoji.
    """
    root, cache = Path(data_root) / HELDOUT, Path(cache) / HELDOUT
    found: dict[str, Path] = {}
    if task != "sketch":
        photos = root / "photos"
        if photos.is_dir() and any(p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp") for p in photos.iterdir()):
            found[f"photos: {_photo_sources(photos)}"] = photos
        return found
    sets = iconify_sets(root / "emoji")
    if sets:
        _render_emoji(root / "emoji", cache / "emoji256", sets)
        found[f"emoji: {', '.join(sets)}"] = cache / "emoji256"
    for art in iconify_sets(root / "lineart"):
        colour = _colour_set_of(art)
        if colour and (root / "emoji" / colour / "icons.json").exists():
            _render_lineart_pairs(root / "lineart" / art, root / "emoji" / colour, cache / "lineart256" / art)
            found[f"line art: {art} → {colour}"] = cache / "lineart256" / art
    categories = {src.name: sorted(c.name for c in src.iterdir() if c.is_dir())
                  for src in sorted((root / "clipart").glob("*")) if src.is_dir()}
    if any(categories.values()):
        _flatten_clipart(root / "clipart", cache / "clipart256")
        found["clip-art: " + "; ".join(f"{s} ({', '.join(c)})" for s, c in categories.items() if c)] = \
            cache / "clipart256"
    return found


def _colour_set_of(lineart: str) -> str | None:
    """The colour emoji set a line-art set of ``data build`` is paired with by icon name."""
    from .sources import SOURCES

    src = SOURCES.get(lineart)
    return src.pairs_with if src is not None else None


def _render_lineart_pairs(lineart: Path, colour: Path, folder: Path, size: int = 256) -> None:
    """A designer's line art and its colour picture, icon by icon, as ``folder/A/<name>.png`` (the drawing) and
    ``folder/B/<name>.png`` (the picture): rendered on white, both cropped to the picture's content as the training
    pairs are (kept between runs). The drawing becomes canonical strokes when it is encoded, like any drawing."""
    from . import imaging
    from .emoji import iter_icons, render_svg

    drawings, pictures = dict(iter_icons(lineart)), dict(iter_icons(colour))
    (folder / "A").mkdir(parents=True, exist_ok=True)
    (folder / "B").mkdir(parents=True, exist_ok=True)
    for name in sorted(drawings.keys() & pictures.keys()):
        a_path, b_path = folder / "A" / f"{name}.png", folder / "B" / f"{name}.png"
        if a_path.exists() and b_path.exists():
            continue
        try:
            a, b = (np.asarray(render_svg(svg, size)) for svg in (drawings[name], pictures[name]))
        except ValueError as err:  # resvg refuses a malformed icon
            log.warning("skipping %s: %s", name, err)
            continue
        box = imaging.content_box(imaging.luminance(b) < 250)
        if box is None or (a < 128).sum() == 0:
            continue
        a, b = (imaging.crop_square(im, box, size) for im in (a, b))
        Image.fromarray(a).save(a_path)
        Image.fromarray(b).save(b_path)


def _photo_sources(folder: Path) -> str:
    """The packages of a photo folder, from its SOURCES.tsv ("lomiri-wallpapers-16.04 20.04.0-2")."""
    path = folder / "SOURCES.tsv"
    if not path.exists():
        return folder.name
    with open(path, newline="", encoding="utf-8") as f:
        names = {r["source"].removeprefix("Debian package ").removeprefix("PyPI ").split(" (")[0]
                 for r in csv.DictReader(f, delimiter="\t")}
    return ", ".join(sorted(names))


def _flatten_clipart(src: Path, folder: Path, size: int = 256) -> None:
    """Every PNG under ``src/<source>/<category>/…`` as ``folder/<source>__<category>-….png``: composited on white
    and centred on a white square of ``size`` px (kept between runs; pictures no longer under ``src`` removed)."""
    wanted = {f"{p.relative_to(src).parts[0]}__{'-'.join(p.relative_to(src).with_suffix('').parts[1:])}.png": p
              for p in sorted(src.rglob("*.png"))}
    folder.mkdir(parents=True, exist_ok=True)
    for p in folder.glob("*.png"):
        if p.name not in wanted:
            p.unlink()
    for name, path in wanted.items():
        if (folder / name).exists():
            continue
        with Image.open(path) as im:
            rgba = im.convert("RGBA")
        rgba.thumbnail((size, size), Image.Resampling.LANCZOS)
        canvas = Image.new("RGBA", (size, size), (255, 255, 255, 255))
        canvas.alpha_composite(rgba, ((size - rgba.width) // 2, (size - rgba.height) // 2))
        canvas.convert("RGB").save(folder / name)


def output_spread(task, generator, x: np.ndarray, y: np.ndarray) -> dict:
    """How much a generator's outputs vary from one input to the next: the standard deviation over the pictures at
    each pixel and channel, averaged, in the output's encoding ([-1, 1]; colorize: the ab channels), beside the same
    for the targets. A generator that draws much the same picture for every input has ``output_std`` far below
    ``target_std``."""
    from .evaluation import predict, with_hints

    x_in = with_hints(task, x, y, 0) if generator.input_shape[-1] > x.shape[-1] else x  # as evaluate_arrays does
    pred = predict(generator, x_in)
    return {"output_std": round(float(pred.std(0).mean()), 4), "target_std": round(float(y.std(0).mean()), 4)}


#: Measured held-out metrics are kept in ``CACHE/heldout_metrics/``, one file per model and held-out folder, under a
#: key of the model's weights, the pictures as the model sees them (the encoded arrays: a change to how drawings
#: become canonical strokes changes the key), the hint counts and :data:`METRICS_VERSION`, and reused while those
#: stay the same: a sketch model's numbers take half an hour on the 2 cores, and ``train-all --card-only`` would
#: otherwise measure again what an earlier evaluation of the same weights measured.
METRICS_CACHE = "heldout_metrics"
#: Bump when the metrics change (what they measure or how), so that no stored number is reused.
METRICS_VERSION = 3


def _metrics_file(cache: Path, task: str, label: str, model: Path, arrays: tuple[np.ndarray, ...], counts) -> Path:
    from .export import sha256

    pictures = hashlib.sha256()
    for a in arrays:
        pictures.update(np.ascontiguousarray(a).tobytes())
    key = json.dumps([METRICS_VERSION, task, label, sha256(model / "model.safetensors"), pictures.hexdigest(),
                      list(counts)])
    return Path(cache) / METRICS_CACHE / f"{task}_{model.name}_{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def heldout_metrics(task: str, weights="weights", data_root="../shared/data", cache="cache", archs=None,
                    limit: int = HELDOUT_LIMIT) -> dict[str, dict[str, dict]]:
    """Measure the generators in ``weights/<task>/<arch>/`` on each held-out folder: ``{label: {arch: metrics}}``.

    The metrics are those of ``evaluation.evaluate(..., split="all")`` (the same functions on the same arrays: L1,
    PSNR, SSIM, colourfulness, hue accuracy and its best-constant-tint baseline, gray-only PSNR for colorize, and for a
    hint-aware generator the hints curve under "hints"), on at
    most ``limit`` pictures of each folder (a fixed sample, by a hash of the file name), plus ``n`` and
    :func:`output_spread`. ``{}`` when ``data_root`` has no held-out sources. Numbers measured before on the same
    weights and pictures come from ``cache`` (:data:`METRICS_CACHE`).
    """
    from . import data as data_mod
    from .evaluation import evaluate_arrays
    from .hints import EVAL_COUNTS
    from .inference import load

    weights, spec = Path(weights), get_task(task)
    archs = [a for a in (archs or ARCHS) if (weights / task / a / "config.json").exists()]
    results: dict[str, dict[str, dict]] = {}
    for label, folder in heldout_sets(task, data_root, cache).items():
        ds = data_mod.find_dataset(folder)
        items = sample_items(ds, limit)
        arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        results[label] = {}
        for arch in archs:
            config = json.loads((weights / task / arch / "config.json").read_text())
            counts = EVAL_COUNTS if spec.hint_aware(config["generator"]["in_channels"]) else ()
            size = config["generator"]["image_size"]
            if size not in arrays:
                arrays[size] = data_mod.validation_arrays(spec, ds, items, size)
            x, y = arrays[size]
            stored = _metrics_file(cache, task, label, weights / task / arch, (x, y), counts)
            if stored.exists():  # the model is not even loaded
                results[label][arch] = json.loads(stored.read_text())
                log.info("%s/%s on %s: measured before (%s)", task, arch, label, stored)
                continue
            translator = load(task, arch, weights / task / arch)
            metrics = evaluate_arrays(spec, translator.model, x, y, counts)
            results[label][arch] = {**metrics, **output_spread(spec, translator.model, x, y), "n": len(x)}
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_text(json.dumps(results[label][arch], indent=1))
    return results

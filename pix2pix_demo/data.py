"""tf.data pipelines for the three dataset layouts, with pix2pix jitter and a fixed validation split.

``--data`` may be:

* a folder of images: the task derives each (input, target) pair (self-supervised);
* a folder with ``A/`` and ``B/`` sub-folders holding files of the same names (paired data);
* a folder of pix2pix side-by-side ``A|B`` images, read with ``direction="AtoB"`` or ``"BtoA"``.

Decoding and pair-making run in numpy (``tf.numpy_function``) inside a parallel ``map``; decoded images are
cached in memory, jittered per step (random crop + mirror, as in the paper) and prefetched. Unreadable files are
skipped with a warning, never aborting the run.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import imaging
from .tasks import Task

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
#: In an "images" folder, ``drawings/<name>`` is an artist's own drawing of the picture ``<name>``: a task that makes
#: its input from the picture (sketch) takes that drawing instead (a designer's line art, not extracted edges).
DRAWINGS = "drawings"
_VARIANT = re.compile(r"-(light|medium-light|medium|medium-dark|dark)-skin-tone")


class DataError(ValueError):
    """A problem with a dataset folder, explained in a plain sentence."""


@dataclass
class Dataset:
    """The files of a dataset and how to read them."""

    root: Path
    layout: str  # "images", "ab" or "side-by-side"
    items: list[tuple[str, str]]  # (A path, B path); for "side-by-side" both are the same file, for "images" too
    # unless DRAWINGS holds a drawing of the picture
    direction: str = "AtoB"

    def __len__(self):
        return len(self.items)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def find_dataset(root, direction: str | None = None, layout: str = "auto") -> Dataset:
    """Work out the layout of ``root`` and list its files, with a clear :class:`DataError` when it is unusable."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"Data folder {root} does not exist (or is not a folder).")
    if layout == "auto":
        layout = "ab" if (root / "A").is_dir() and (root / "B").is_dir() else \
            "side-by-side" if direction else "images"
    if layout == "ab":
        a = {p.name: p for p in list_images(root / "A")}
        b = {p.name: p for p in list_images(root / "B")}
        if not a and not b:
            raise DataError(f"{root}/A and {root}/B hold no images ({', '.join(sorted(IMAGE_EXTENSIONS))}).")
        if a.keys() != b.keys():
            only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
            raise DataError(f"A/ and B/ in {root} must hold files of the same names: "
                            f"{len(only_a)} only in A ({', '.join(only_a[:3])}), "
                            f"{len(only_b)} only in B ({', '.join(only_b[:3])}).")
        items = [(str(a[n]), str(b[n])) for n in sorted(a)]
    else:
        files = list_images(root)
        if not files:
            raise DataError(f"No images found in {root} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}).")
        own = {p.name: p for p in list_images(root / DRAWINGS)} if layout == "images" and (root / DRAWINGS).is_dir() \
            else {}
        items = [(str(own.get(p.name, p)), str(p)) for p in files]
    if direction not in (None, "AtoB", "BtoA"):
        raise DataError(f"direction must be AtoB or BtoA, not {direction!r}")
    return Dataset(root, layout, items, direction or "AtoB")


def split_key(path: str) -> str:
    """What decides the split: the file name without set prefix or skin-tone variant, so near-duplicates of one
    picture (the same emoji in four styles, or in five skin tones) always land on the same side."""
    stem = Path(path).stem.lower()
    return _VARIANT.sub("", stem.split("__", 1)[-1])


def in_validation(path: str, val_fraction: float = 0.1) -> bool:
    """Whether a file belongs to the validation split (a hash of :func:`split_key`, stable everywhere)."""
    return int(hashlib.sha1(split_key(path).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < val_fraction


def split(ds: Dataset, val_fraction: float = 0.1) -> tuple[list, list]:
    """A deterministic train/validation split by a hash of :func:`split_key` (stable across runs and machines)."""
    train, val = [], []
    for item in ds.items:
        (val if in_validation(item[1], val_fraction) else train).append(item)
    if not train:
        train, val = val, []
    if not val and len(train) > 1 and val_fraction > 0:
        val = [train.pop()]
    return train, val


def _seed_of(path: str) -> int:
    return int(hashlib.sha1(path.encode()).hexdigest()[:8], 16)


# ------------------------------------------------------------------------------------------- numpy stages
def read_pair(ds: Dataset, item, task: Task, cache_side: int, rng: np.random.Generator):
    """Stage 1 (cached): decode a dataset item into an (A, B) pair of uint8 RGB arrays of the same size.

    For the "images" layout, the task makes the pair here when ``task.pairs_on_load`` (or takes the artist's own
    drawing from :data:`DRAWINGS`); otherwise A is B and the pair is made after the crop. Raises
    :class:`imaging.ImageError` for unreadable files.
    """
    a_path, b_path = item
    if ds.layout == "ab":
        a, b = (np.asarray(_load(p, cache_side)) for p in (a_path, b_path))
        if a.shape != b.shape:
            b = np.asarray(Image.fromarray(b).resize(a.shape[1::-1], Image.Resampling.BICUBIC))
        return a, b
    img = np.asarray(_load(b_path, cache_side * (2 if ds.layout == "side-by-side" else 1)))
    if ds.layout == "side-by-side":
        half = img.shape[1] // 2
        a, b = img[:, :half], img[:, half:2 * half]
        return (a, b) if ds.direction == "AtoB" else (b, a)
    if task.pairs_on_load and a_path != b_path:
        drawing = _load(a_path, cache_side)
        if drawing.size != (img.shape[1], img.shape[0]):
            drawing = drawing.resize((img.shape[1], img.shape[0]), Image.Resampling.BICUBIC)
        return np.asarray(drawing), img
    if task.pairs_on_load:
        return task.make_pair(img, rng)
    return img, img


def _load(path: str, cache_side: int) -> Image.Image:
    img = imaging.open_image(path)
    w, h = img.size
    s = cache_side / min(w, h)
    if s < 1:
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BOX)
    return img


def random_crop(a: np.ndarray, b: np.ndarray, size: int, task: Task, rng: np.random.Generator):
    """Stage 2 (every step): the same random crop, scale and mirror on A and B."""
    h, w = a.shape[:2]
    if task.jitter == "inset":  # scaled down by up to ~12 % (229 for 256) and placed anywhere on white paper
        side = int(rng.integers(round(size * 256 / 286), size + 1))
        y, x = rng.integers(0, size - side + 1, 2)
        placed = []
        for im in (a, b):
            canvas = np.full((size, size, *im.shape[2:]), 255, np.uint8)
            canvas[y:y + side, x:x + side] = np.asarray(Image.fromarray(im).resize((side, side),
                                                                                  Image.Resampling.BICUBIC))
            placed.append(canvas)
        a, b = placed
    elif task.jitter == "paper":  # resize up by ~12 % (286 for 256), random crop back, as in the paper
        big = int(round(size * 286 / 256))
        a, b = (np.asarray(Image.fromarray(x).resize((big, big), Image.Resampling.BICUBIC)) for x in (a, b))
        y, x = rng.integers(0, big - size + 1, 2)
        a, b = a[y:y + size, x:x + size], b[y:y + size, x:x + size]
    else:  # a random zoom: a square crop of any side between ``size`` and the short side, resized to ``size``
        short = min(h, w)
        side = int(rng.integers(min(size, short), short + 1))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        a, b = (np.asarray(Image.fromarray(im[y:y + side, x:x + side]).resize((size, size), Image.Resampling.BOX
                if side > size else Image.Resampling.BICUBIC)) for im in (a, b))
    if rng.random() < 0.5:
        a, b = a[:, ::-1], b[:, ::-1]
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def center_crop(a: np.ndarray, b: np.ndarray, size: int):
    """The validation view: the largest centred square, resized to ``size``."""
    h, w = a.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return tuple(np.asarray(Image.fromarray(im[y:y + side, x:x + side]).resize(
        (size, size), Image.Resampling.BOX if side > size else Image.Resampling.BICUBIC)) for im in (a, b))


def encode_pair(task: Task, ds: Dataset, a, b, rng, hints: bool = False):
    """Make the pair (if not made on load) and encode it for the generator: two float32 arrays in [-1, 1].

    ``hints``: the input also carries colour hints sampled from the target (:func:`pix2pix_demo.hints.sample`).
    """
    if ds.layout == "images" and not task.pairs_on_load:
        a, b = task.make_pair(b, rng)
    x, y = task.encode_input(a).astype(np.float32), task.encode_target(b).astype(np.float32)
    if hints:
        from . import hints as hint_mod

        region = task.hint_region(y) if task.hint_region is not None else None
        x = np.concatenate([x, task.hint_channels(hint_mod.sample(y, rng, region), y.shape[0], x)], -1)
    return x, y


def input_channels(task: Task, hints: bool) -> int:
    """The generator's input channels: the task's own, plus the hint channels of a hint-aware model."""
    from . import hints as hint_mod

    return task.in_channels + (hint_mod.channels(task.out_channels) if hints else 0)


def validation_arrays(task: Task, ds: Dataset, items, size: int, progress=None,
                      hints: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The fixed validation set as arrays: centre crops, pairs made (and hints sampled) with a seed from each file
    name.

    ``progress``: a :class:`~pix2pix_demo.progress.Progress`, advanced by one per item.
    """
    xs, ys = [], []
    for item in items:
        if progress is not None:
            progress.add(1)
        rng = np.random.default_rng(_seed_of(Path(item[1]).name))
        try:
            a, b = read_pair(ds, item, task, size, rng)
        except imaging.ImageError as err:
            log.warning("skipping %s: %s", item[1], err)
            continue
        a, b = center_crop(a, b, size)
        x, y = encode_pair(task, ds, a, b, rng, hints)
        xs.append(x)
        ys.append(y)
    if not xs:
        raise DataError(f"None of the {len(items)} validation images in {ds.root} could be read.")
    return np.stack(xs), np.stack(ys)


# ---------------------------------------------------------------------------------------------- tf.data
def shuffled(items: list, seed: int = 0) -> list:
    """``items`` in one fixed random order. They come sorted by set, and the shuffle buffer of
    :func:`train_dataset` holds 2,048 pictures: a run shorter than an epoch would otherwise see only the first sets."""
    return [items[i] for i in np.random.default_rng(seed).permutation(len(items))]


def train_dataset(task: Task, ds: Dataset, items, size: int, batch_size: int, seed: int = 0, hints: bool = False):
    """An endless, shuffled, jittered, batched and prefetched ``tf.data.Dataset`` of (input, target)."""
    import tensorflow as tf

    cache_side = size if task.jitter in ("paper", "inset") else min(3 * size, 1024)
    paths = tf.data.Dataset.from_tensor_slices(np.array(shuffled(items, seed), dtype=str))

    def load(item):
        def _np(it):
            a_path, b_path = (s.decode() for s in it)
            try:
                rng = np.random.default_rng(_seed_of(Path(b_path).name) + seed)
                a, b = read_pair(ds, (a_path, b_path), task, cache_side, rng)
                return a, b, True
            except (imaging.ImageError, OSError, ValueError) as err:
                log.warning("skipping %s: %s", b_path, err)
                empty = np.zeros((1, 1, 3), np.uint8)
                return empty, empty, False

        return tf.numpy_function(_np, [item], [tf.uint8, tf.uint8, tf.bool])

    def augment(a, b, r):
        def _np(a, b, r):
            rng = np.random.default_rng(int(r) & 0x7FFFFFFF)
            a, b = random_crop(a, b, size, task, rng)
            return encode_pair(task, ds, a, b, rng, hints)

        x, y = tf.numpy_function(_np, [a, b, r], [tf.float32, tf.float32])
        x.set_shape((size, size, input_channels(task, hints)))
        y.set_shape((size, size, task.out_channels))
        return x, y

    pipeline = (paths.map(load, num_parallel_calls=tf.data.AUTOTUNE)
                .filter(lambda a, b, ok: ok)
                .map(lambda a, b, ok: (a, b))
                .cache()
                .shuffle(min(len(items), 2048), seed=seed, reshuffle_each_iteration=True)
                .repeat())
    pipeline = tf.data.Dataset.zip((pipeline, tf.data.Dataset.random(seed=seed)))
    return (pipeline.map(lambda ab, r: augment(ab[0], ab[1], r), num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))

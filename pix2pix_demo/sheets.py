"""The model card's pictures: contact sheets (input | each generator | target) and hint strips.

- :func:`contact_sheet`: a few validation pictures of the training sources (``<task>/contact.jpg``);
- :func:`heldout_sheet`: the same for the held-out sources, which the models never saw
  (``<task>/contact_heldout.jpg``);
- :func:`hints_strip`: one held-out input with 0, 1, 5 and 20 hints sampled from its target, as the hints curve
  measures them, for each generator (``<task>/hints.jpg``). The top row shows where the hints are.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from .models import ARCHS
from .tasks import get_task

#: The hint counts of :func:`hints_strip` (the paper's figure shows 0, 1, 5 and many).
STRIP_COUNTS = (0, 1, 5, 20)


def sample_items(ds, limit: int) -> list:
    """A fixed sample of ``limit`` items of a dataset, by a hash of the file name (the same on every machine)."""
    return sorted(sorted(ds.items, key=lambda it: hashlib.sha1(Path(it[1]).name.encode()).hexdigest())[:limit])


def _archs(task_name: str, weights: Path) -> list[str]:
    return [a for a in ARCHS if (weights / task_name / a / "config.json").exists()]


def _arrays(task, parts, size: int):
    """The encoded (x, y) of ``parts`` = [(dataset, items)], concatenated."""
    from . import data as data_mod

    xs, ys = zip(*(data_mod.validation_arrays(task, ds, items, size) for ds, items in parts))
    return np.concatenate(xs), np.concatenate(ys)


def _sheet(task_name: str, weights: Path, parts, path: Path, tile: int) -> Path | None:
    """input | each generator (no hints) | target, one row per picture of ``parts``."""
    from .evaluation import with_hints
    from .inference import load

    task, archs = get_task(task_name), _archs(task_name, weights)
    if not archs or not any(items for _, items in parts):
        return None
    columns = None
    for arch in archs:
        tr = load(task_name, arch, weights / task_name / arch)
        x, y = _arrays(task, parts, tr.config.image_size)
        pred = tr.forward(with_hints(task, x, y, 0) if tr.takes_hints else x)
        if columns is None:
            columns = [[_tile(_input_picture(xi), tile) for xi in x]]
            target = [_tile(task.decode(xi, yi), tile) for xi, yi in zip(x, y)]
        columns.append([_tile(task.decode(xi, pi), tile) for xi, pi in zip(x, pred)])
    columns.append(target)
    Image.fromarray(np.concatenate([np.concatenate(col, 0) for col in columns], 1)).save(path, quality=85)
    return path


def contact_sheet(task_name: str, weights: Path, data: Path, n: int = 4, tile: int = 128) -> Path | None:
    """input | each generator | target, for ``n`` validation pictures of the training sources, in
    ``weights/<task>/contact.jpg``."""
    from . import data as data_mod

    ds = data_mod.find_dataset(data)
    return _sheet(task_name, weights, [(ds, data_mod.split(ds)[1][:n])], weights / task_name / "contact.jpg", tile)


def heldout_sheet(task_name: str, weights: Path, folders, n: int = 6, tile: int = 128) -> Path | None:
    """The same for the held-out ``folders`` (``n`` pictures spread over them), in
    ``weights/<task>/contact_heldout.jpg``."""
    from . import data as data_mod

    folders = list(folders)
    if not folders:
        return None
    per = max(1, n // len(folders))
    parts = [(ds, sample_items(ds, per)) for ds in map(data_mod.find_dataset, folders)]
    return _sheet(task_name, weights, parts, weights / task_name / "contact_heldout.jpg", tile)


def hints_strip(task_name: str, weights: Path, folder: Path, picks: int = 2, tile: int = 128,
                counts=STRIP_COUNTS) -> Path | None:
    """For ``picks`` held-out pictures of ``folder``: a row with the input and its hints (for each of ``counts``),
    then a row per hint-aware generator with its output for that many hints, and the target at the end of each
    row. Hints are sampled from the target with the same seed as in ``evaluate --hints``."""
    from . import data as data_mod
    from .evaluation import with_hints
    from .inference import load

    task = get_task(task_name)
    archs = [a for a in _archs(task_name, weights) if load(task_name, a, weights / task_name / a).takes_hints]
    if not archs:
        return None
    ds = data_mod.find_dataset(folder)
    rows = []
    for arch in archs:
        tr = load(task_name, arch, weights / task_name / arch)
        x, y = _arrays(task, [(ds, sample_items(ds, picks))], tr.config.image_size)
        with_n = {n: with_hints(task, x, y, n) for n in counts}
        for i in range(len(x)):
            if arch == archs[0]:
                marks = [_tile(_hint_marks(task, x[i], with_n[n][i]), tile) for n in counts]
                rows.append((i, marks + [_tile(task.decode(x[i], y[i]), tile)]))
            outs = [_tile(task.decode(x[i], tr.forward(with_n[n][i:i + 1])[0]), tile) for n in counts]
            rows.append((i, outs + [_tile(task.decode(x[i], y[i]), tile)]))
    rows.sort(key=lambda r: r[0])  # per picture: its hints, then each generator
    path = weights / task_name / "hints.jpg"
    Image.fromarray(np.concatenate([np.concatenate(r, 1) for _, r in rows], 0)).save(path, quality=85)
    return path


def _hint_marks(task, x: np.ndarray, x_hints: np.ndarray) -> np.ndarray:
    """The input picture with its hint patches painted in their colours."""
    c = task.in_channels
    colours, mask = x_hints[..., c:-1], x_hints[..., -1:] > 0
    painted = task.decode(x, colours)
    return np.where(mask, painted, _input_picture(x))


def _input_picture(x: np.ndarray) -> np.ndarray:
    u8 = np.clip((x + 1.0) * 127.5, 0, 255).astype(np.uint8)
    return np.repeat(u8[..., :1], 3, -1) if u8.shape[-1] != 3 else u8


def _tile(rgb: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.LANCZOS))

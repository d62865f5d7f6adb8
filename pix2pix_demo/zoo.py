"""The shipped model zoo: ``train-all`` trains every task × generator with its task's recipe
(:mod:`pix2pix_demo.recipes`), publishes each model into ``weights/`` and writes the model card
(:mod:`pix2pix_demo.card`).

``python -m pix2pix_demo train-all --data ../shared/data`` rebuilds every shipped model, its metrics, the contact
sheets, ``weights/manifest.json`` and ``weights/README.md``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from .card import write_card
from .export import write_tflite
from .heldout import task_data
from .models import ARCHS
from .recipes import LITE_TASKS, RECIPES, command_line, recipe

log = logging.getLogger(__name__)


def train_all(data_root, runs="runs", weights="weights", tasks=None, archs=None, cache="cache") -> None:
    """Train (or resume) every task × arch, then publish each model into ``weights/`` and write the card."""
    from .training import train

    data_root, runs, weights = Path(data_root), Path(runs), Path(weights)
    for task in tasks or list(RECIPES):
        data = task_data(task, data_root, Path(cache))
        for arch in archs or ARCHS:
            out = runs / task / arch
            cfg = recipe(task, arch, data)
            log.info("training %s/%s: %s", task, arch, command_line(cfg, str(out)))
            model = train(cfg, out, resume=(out / "run.json").exists())
            if model is None:  # interrupted: a checkpoint was written, the next train-all resumes it
                return
            publish(model, weights / task / arch)
    write_card(weights, data_root, cache)


def publish(model_folder: Path, dest: Path) -> None:
    """Copy a trained model folder into ``weights/<task>/<arch>``, adding ``model.tflite`` for LITE_TASKS."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors", "metrics.json"):
        shutil.copy2(model_folder / name, dest / name)
    if dest.parent.name in LITE_TASKS:
        write_tflite(dest)

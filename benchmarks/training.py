"""Section 4: training throughput of the shipped recipes' U-Nets against the paper U-Net, in the same run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .common import Section, Target, count_flops, median_ms

#: Goal: a training step reaches this fraction of the machine's matmul peak (reported with an account; not a gate).
PEAK_FRACTION_TARGET = 0.40


def _gan(task_name: str, image_size: int, base: int, max_f: int, disc: int, alpha: float, policy: str):
    """The U-Net GAN that ``train`` builds for these settings."""
    from pix2pix_demo.tasks import get_task
    from pix2pix_demo.training import TrainConfig, build_gan

    task = get_task(task_name)
    cfg = TrainConfig(task=task_name, arch="unet", image_size=image_size, base_filters=base, max_filters=max_f,
                      disc_filters=disc, alpha=alpha, precision=policy)
    return build_gan(cfg, task), task


def _step_ms(gan, task, image_size: int, batch: int, repeats: int) -> float:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(-1, 1, (batch, image_size, image_size, task.in_channels)).astype(np.float32))
    y = tf.constant(rng.uniform(-1, 1, (batch, image_size, image_size, task.out_channels)).astype(np.float32))
    step = tf.function(gan.train_step)  # what Model.fit runs (no XLA: slower on this CPU)
    ms, _ = median_ms(lambda: step((x, y))["g_loss"].numpy(), repeats, warmup=2)
    return ms


def _step_flops(gan) -> float:
    """FLOPs of one training step per image: forward + backward (≈ 2× forward) of G, and of D on two pairs.

    A slight under-count: the generator's gradient also flows back through D on the fake pair.
    """
    return 3.0 * (count_flops(gan.generator) + 2.0 * count_flops(gan.discriminator))


def _pipeline_images_per_s(data: Path, seconds: float = 8.0) -> float | None:
    """The tf.data input pipeline alone (photo task, 128 px, batch 8): can it keep up with training?"""
    from pix2pix_demo import data as data_mod
    from pix2pix_demo.tasks import get_task

    if not data.exists():
        return None
    task = get_task("day2night")
    ds = data_mod.find_dataset(data)
    train_items, _ = data_mod.split(ds)
    it = iter(data_mod.train_dataset(task, ds, train_items, 128, 8))
    for _ in range(30):  # fills the cache of decoded photos first, as the first epoch of a run does
        next(it)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        next(it)
        n += 8
    return n / (time.perf_counter() - t0)


def training(quick: bool, peak_gflops: float, data: Path) -> Section:
    from pix2pix_demo.zoo import RECIPES

    sec = Section("4. Training throughput (one GAN step: G and D forward + backward, Adam)")
    repeats = 1 if quick else 5
    batches = [1, 2] if quick else [1, 4, 8]
    configs = ["sketch"] if quick else ["sketch", "colorize", "day2night"]  # night2day's recipe = day2night's
    rows, data_out = [], []

    def measure(label, task_name, size, base, max_f, disc, alpha, batch, policy="float32"):
        gan, task = _gan(task_name, size, base, max_f, disc, alpha, policy)
        ms = _step_ms(gan, task, size, batch, repeats)
        flops = _step_flops(gan) * batch
        ips = batch / (ms / 1000)
        frac = flops / (ms / 1000) / 1e9 / peak_gflops
        rows.append([label, size, batch, policy, ms, ips, flops / (ms / 1000) / 1e9, frac])
        data_out.append({"model": label, "image_size": size, "batch": batch, "policy": policy, "step_ms": ms,
                         "images_per_s": ips, "gflop_per_s": flops / (ms / 1000) / 1e9, "fraction_of_peak": frac})
        return ips, frac

    paper_ips, _ = measure("paper U-Net (reference)", "day2night", 256, 64, 512, 64, 1.0, 1)
    best = {}
    for name in configs:
        r = RECIPES[name]
        for batch in batches:
            ips, frac = measure(f"{name} U-Net", name, r["image_size"], r["base_filters"], r["max_filters"],
                                r["disc_filters"], r["alpha"], batch)
            if frac > best.get(name, (0, 0))[1]:
                best[name] = (batch, frac, ips)
    r = RECIPES["sketch"]
    if not quick:
        b = RECIPES["sketch"]["batch_size"]
        f32 = next(d["step_ms"] for d in data_out if d["model"] == "sketch U-Net" and d["batch"] == b)
        measure("sketch U-Net", "sketch", r["image_size"], r["base_filters"], r["max_filters"], r["disc_filters"],
                r["alpha"], b, policy="mixed_bfloat16")
        sec.notes.append(f"bf16 mixed precision (sketch, batch {b}): {data_out[-1]['step_ms']:.0f} ms per step vs "
                         f"{f32:.0f} ms in float32 ({f32 / data_out[-1]['step_ms']:.2f}× speed-up).")
    sec.table(["model", "px", "batch", "precision", "ms / step", "images/s", "GFLOP/s", "of matmul peak"], rows)
    for name, (batch, frac, ips) in best.items():
        sec.targets.append(Target(f"{name} U-Net training (best batch, {batch}): fraction of matmul peak", frac,
                                  PEAK_FRACTION_TARGET, ">=", "", gate=False))
        sec.notes.append(f"{name} U-Net at batch {batch}: {ips:.1f} images/s, {ips / paper_ips:.1f}× the paper "
                         f"U-Net's {paper_ips:.2f} images/s.")
    if not quick:
        pipe = _pipeline_images_per_s(data)
        if pipe is not None:
            need = max(d["images_per_s"] for d in data_out if d["image_size"] == 128)
            verdict = "so it is not the limit" if pipe > need else "so it limits training"
            sec.notes.append(f"The tf.data input pipeline alone delivers {pipe:.0f} images/s (128 px photo crops, "
                             f"cached, parallel map, prefetch) against at most {need:.0f} images/s consumed by a "
                             f"128 px training step, {verdict}.")
            sec.data["pipeline_images_per_s"] = pipe
    sec.data.update({"runs": data_out, "paper_images_per_s": paper_ips, "repeats": repeats})
    return sec

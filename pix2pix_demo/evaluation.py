"""Metrics and side-by-side comparisons of generators.

All metrics are computed on decoded RGB pictures in [0, 1] (for colorize: the input's L with the predicted ab):

* L1: mean absolute error; PSNR: ``tf.image.psnr`` with ``max_val=1``; SSIM: Wang et al. (2004) as
  ``tf.image.ssim`` defines it (11×11 Gaussian window, σ 1.5, the valid region), by scikit-image (:func:`ssim`);
* colourfulness: Hasler & Süsstrunk (2003), reported for the output and for the targets;
* hue accuracy: the share of the target's colourful pixels (CIELAB chroma > :data:`CHROMA_MIN`) whose predicted
  hue lies within :data:`HUE_TOLERANCE` degrees of the target's (a gray prediction there counts as a miss), and
  its baseline, the best constant tint: the same share for the single hue that scores best on the whole set. A
  model below that baseline has learned a colour cast, not colours;
* hue concentration: the same best-constant-tint share, of the prediction's own colourful pixels: how much of its
  colour lies within :data:`HUE_TOLERANCE` degrees of one hue. A colour cast shows as a concentration far above the
  targets' (which is their best constant tint), where hue accuracy half-rewards a cast near the targets' main hue;
* grid: the amplitude of a 2-pixel pattern (rows, columns or a checkerboard alternating), per 8 × 8 window, in 0–255
  levels, averaged (:func:`grid_strength`); reported for the targets too, whose edges give them a little of it.

With ``hint_counts``, :func:`evaluate` also measures hint-aware generators with that many hints sampled from each
target (a fixed seed per image and count), as Zhang et al. (2017) do.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import imaging
from .progress import Progress
from .tasks import Task


def ssim(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """SSIM of each pair of N×H×W×3 uint8 pictures, as ``tf.image.ssim(max_val=1)`` defines it, in float64 (TensorFlow
    works in float32, ~1e-4 off on flat areas), from scikit-image's separable Gaussian filter: 6× faster than
    TensorFlow's 11×11 window on the CPU, where SSIM was three quarters of a sketch evaluation's time."""
    from skimage.metrics import structural_similarity

    return np.array([structural_similarity(p, t, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False, data_range=255.0)
                     for p, t in zip(np.asarray(pred, np.float64), np.asarray(true, np.float64))])


def predict(generator, x: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Deterministic inference (dropout off, BatchNorm in inference mode) in batches."""
    import tensorflow as tf

    fn = getattr(generator, "_p2p_predict", None)
    if fn is None:  # any batch size, one trace (a short last batch must not retrace)
        spec = tf.TensorSpec([None, *generator.input_shape[1:]], tf.float32)
        fn = generator._p2p_predict = tf.function(lambda t: tf.cast(generator(t, training=False), tf.float32),
                                                  input_signature=[spec])
    return np.concatenate([fn(tf.constant(x[i:i + batch_size])).numpy() for i in range(0, len(x), batch_size)])


def decode_batch(task: Task, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([task.decode(xi, yi) for xi, yi in zip(x, y)])


CHROMA_MIN = 15.0
HUE_TOLERANCE = 45.0


def _hue_chroma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = imaging.colours_to_lab(rgb)
    return np.degrees(np.arctan2(lab[:, 2], lab[:, 1])) % 360.0, np.hypot(lab[:, 1], lab[:, 2])


def _hue_hits(pred: tuple[np.ndarray, np.ndarray], target: tuple[np.ndarray, np.ndarray]) -> tuple[int, int]:
    """(colourful target pixels whose predicted hue is right, colourful target pixels); ``pred`` and ``target`` are
    the prediction's and the target's :func:`_hue_chroma`."""
    t_hue, t_chroma = target
    p_hue, p_chroma = pred
    colourful = t_chroma > CHROMA_MIN
    diff = np.abs((p_hue - t_hue + 180.0) % 360.0 - 180.0)
    hit = (diff <= HUE_TOLERANCE) & (p_chroma > CHROMA_MIN / 3)
    return int(hit[colourful].sum()), int(colourful.sum())


def _hue_histogram(target: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """How many colourful pixels have each whole-degree hue (360 bins), from a :func:`_hue_chroma` (a target's or a
    prediction's)."""
    t_hue, t_chroma = target
    return np.bincount(np.floor(t_hue[t_chroma > CHROMA_MIN]).astype(int) % 360, minlength=360)


def grid_strength(rgb: np.ndarray, window: int = 8) -> float:
    """The mean amplitude, in 0–255 levels, of a 2-pixel pattern in N×H×W×C pictures: rows, columns or a
    checkerboard alternating ±a (the patterns a stride-2 transposed convolution leaves, Odena et al. 2016).

    Along each axis the picture is high-passed by ``(2 x[i] - x[i-1] - x[i+1]) / 4``, which keeps a ±a alternation
    as ±a and takes a linear gradient to 0, then correlated with the pattern over ``window`` × ``window`` blocks;
    the three patterns' amplitudes add in quadrature and are averaged over blocks and channels. A flat or smoothly
    shaded picture scores 0, an alternation of ±a scores a, and an edge little (it does not alternate)."""
    a = np.asarray(rgb, np.float32)

    def high_pass(x, axis):
        x = np.moveaxis(x, axis, 0)
        return np.moveaxis((2 * x[1:-1] - x[:-2] - x[2:]) / 4, 0, axis)

    by_rows, by_cols = high_pass(a, 1)[:, :, 1:-1], high_pass(a, 2)[:, 1:-1]
    n, h, w, c = by_rows.shape
    h, w = h - h % window, w - w % window
    if h == 0 or w == 0:  # smaller than one block
        return 0.0
    rows = (np.arange(h) % 2 * 2 - 1)[:, None].astype(np.float32)
    cols = (np.arange(w) % 2 * 2 - 1)[None, :].astype(np.float32)
    power = 0.0
    for x, pattern in ((by_rows, rows * np.ones_like(cols)), (by_cols, cols * np.ones_like(rows)),
                       (high_pass(high_pass(a, 1), 2), rows * cols)):
        blocks = (x[:, :h, :w] * pattern[None, :, :, None]).reshape(n, h // window, window, w // window, window, c)
        power = power + blocks.mean((2, 4)) ** 2
    return float(np.sqrt(power).mean())


def _best_tint(hist: np.ndarray) -> tuple[float | None, float | None]:
    total = int(hist.sum())
    if total == 0:
        return None, None
    tol = int(HUE_TOLERANCE)
    window = np.array([hist.take(range(h - tol, h + tol + 1), mode="wrap").sum() for h in range(360)])
    best = int(window.argmax())
    return round(float(window[best] / total), 4), float(best)


def hue_accuracy(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float | None:
    """The share of colourful target pixels whose predicted hue is within :data:`HUE_TOLERANCE`° (None: no colour)."""
    hits, colourful = _hue_hits(_hue_chroma(pred_rgb), _hue_chroma(true_rgb))
    return round(hits / colourful, 4) if colourful else None


def best_constant_tint(true_rgb: np.ndarray) -> tuple[float | None, float | None]:
    """(hue accuracy, hue in degrees) of the single constant hue that scores best on ``true_rgb``."""
    return _best_tint(_hue_histogram(_hue_chroma(true_rgb)))


#: Images per chunk in :func:`image_metrics`: SSIM and the CIELAB conversions hold several float copies of what
#: they measure, 23 GB for 1,231 sketch images of 256 px in one piece.
METRIC_CHUNK = 32


def target_stats(true_rgb: np.ndarray) -> list[tuple]:
    """What :func:`image_metrics` measures of the targets alone, per chunk: (hue and chroma, colourfulness, hue
    histogram, grid strength). The CIELAB conversion is the metrics' slowest step: measuring several predictions of
    the same targets (the hints curve), pass this to each call instead of converting the targets every time."""
    out = []
    for i in range(0, len(true_rgb), METRIC_CHUNK):
        tc = true_rgb[i:i + METRIC_CHUNK]
        target = _hue_chroma(tc)
        out.append((target, [imaging.colourfulness(im) for im in tc], _hue_histogram(target), grid_strength(tc)))
    return out


def image_metrics(pred_rgb: np.ndarray, true_rgb: np.ndarray, targets: list[tuple] | None = None) -> dict:
    """L1, PSNR, SSIM, colourfulness and hue accuracy of uint8 RGB batches (N×H×W×3), measured a chunk at a time.

    ``targets``: :func:`target_stats` of ``true_rgb``, if already made."""
    chunks = (pred_rgb[i:i + METRIC_CHUNK] for i in range(0, len(true_rgb), METRIC_CHUNK))
    return chunked_metrics(chunks, true_rgb, targets)


def chunked_metrics(pred_chunks, true_rgb: np.ndarray, targets: list[tuple] | None = None) -> dict:
    """:func:`image_metrics` of predictions given as consecutive chunks of :data:`METRIC_CHUNK` pictures (an
    iterable, so that a caller can make each chunk only when it is measured: the whole set at once held 14.8 GB for
    the 1,386 sketch validation pictures with their hint curve)."""
    import tensorflow as tf

    l1_sum, psnr, ssims, col_p, col_t, grid_p, grid_t = 0.0, [], [], [], [], [], []
    hits = colourful = 0
    hist, own_hist = np.zeros(360, np.int64), np.zeros(360, np.int64)
    targets = targets if targets is not None else target_stats(true_rgb)
    for chunk, pc in enumerate(pred_chunks):
        tc = true_rgb[chunk * METRIC_CHUNK:(chunk + 1) * METRIC_CHUNK]
        if pc.shape != tc.shape:
            raise ValueError(f"prediction chunk {chunk} has shape {pc.shape}, its targets {tc.shape}")
        p = tf.constant(pc, tf.float32) / 255.0
        t = tf.constant(tc, tf.float32) / 255.0
        l1_sum += float(tf.reduce_sum(tf.abs(p - t)))
        psnr.append(tf.image.psnr(p, t, max_val=1.0).numpy())
        ssims.append(ssim(pc, tc))
        col_p += [imaging.colourfulness(im) for im in pc]
        target, target_col, target_hist, target_grid = targets[chunk]
        col_t += target_col
        pred = _hue_chroma(pc)  # converted once: the CIELAB conversion is the slowest step
        h, c = _hue_hits(pred, target)
        hits, colourful, hist = hits + h, colourful + c, hist + target_hist
        own_hist += _hue_histogram(pred)  # the prediction's own colourful pixels, for its hue concentration
        grid_p.append(grid_strength(pc) * len(pc))
        grid_t.append(target_grid * len(tc))
    if len(col_p) != len(true_rgb):
        raise ValueError(f"{len(col_p)} predictions for {len(true_rgb)} targets")
    mean_p, mean_t = float(np.mean(col_p)), float(np.mean(col_t))
    return {
        "l1": round(l1_sum / np.asarray(true_rgb).size, 5),
        "psnr": round(float(np.mean(np.concatenate(psnr))), 3),
        "ssim": round(float(np.mean(np.concatenate(ssims))), 4),
        "colourfulness": round(mean_p, 2),
        "colourfulness_target": round(mean_t, 2),
        "colourfulness_ratio": round(mean_p / mean_t, 3) if mean_t > 0 else None,
        "hue_accuracy": round(hits / colourful, 4) if colourful else None,
        "hue_constant_tint": _best_tint(hist)[0],
        "hue_concentration": _best_tint(own_hist)[0],
        "grid": round(sum(grid_p) / len(col_p), 3),
        "grid_target": round(sum(grid_t) / len(col_t), 3),
    }


def forward_ms(generator, size: int, channels: int, repeats: int = 20) -> float:
    """Median latency of one batch-1 forward pass in a ``tf.function``, after a warm-up."""
    import tensorflow as tf

    fn = tf.function(lambda t: generator(t, training=False))
    x = tf.zeros((1, size, size, channels))
    for _ in range(3):
        fn(x).numpy()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x).numpy()
        times.append((time.perf_counter() - t0) * 1000)
    return round(float(np.median(times)), 2)


def with_hints(task: Task, x: np.ndarray, y: np.ndarray, count: int | None, seed: int = 0,
               start: int = 0) -> np.ndarray:
    """``x`` plus hint channels sampled from ``y`` (``count`` per image; None: the training distribution), with a
    fixed seed per image, so every generator and every run sees the same hints. ``start``: the index of ``x[0]``
    in the whole set, when ``x`` is a chunk of it (the hints depend on the index)."""
    from . import hints

    maps = []
    for i, (xi, yi) in enumerate(zip(x, y), start):
        rng = np.random.default_rng([seed, i, -1 if count is None else count])
        region = task.hint_region(yi) if task.hint_region is not None else None
        maps.append(task.hint_channels(hints.sample(yi, rng, region, count), yi.shape[0], xi))
    return np.concatenate([x, np.stack(maps)], -1)


def _decoded_predictions(task: Task, generator, x: np.ndarray, y: np.ndarray, count: int | None):
    """The generator's decoded pictures of ``x``, a chunk of :data:`METRIC_CHUNK` at a time, with ``count`` hints
    sampled from ``y`` (None: a model without hint input)."""
    for i in range(0, len(x), METRIC_CHUNK):
        xi = x[i:i + METRIC_CHUNK]
        x_in = xi if count is None else with_hints(task, xi, y[i:i + METRIC_CHUNK], count, start=i)
        yield decode_batch(task, xi, predict(generator, x_in))


def evaluate_arrays(task: Task, generator, x: np.ndarray, y: np.ndarray, hint_counts=()) -> dict:
    """Validation metrics of ``generator`` on encoded arrays (the task's own input channels), plus its size and
    speed. A hint-aware generator is measured with no hints, and with each of ``hint_counts`` under "hints".

    Each chunk of pictures is predicted, decoded and measured in turn, so the memory this takes does not grow with
    the number of pictures beyond the targets themselves."""
    takes_hints = generator.input_shape[-1] > x.shape[-1]
    target = decode_batch(task, x, y)
    stats = target_stats(target)
    metrics = chunked_metrics(_decoded_predictions(task, generator, x, y, 0 if takes_hints else None), target, stats)
    if task.color_space == "lab":  # the gray-only baseline: a = b = 0, i.e. the input itself
        metrics["psnr_gray_baseline"] = image_metrics(decode_batch(task, x, np.zeros_like(y)), target, stats)["psnr"]
    metrics["params"] = int(generator.count_params())
    metrics["forward_ms"] = forward_ms(generator, x.shape[1], generator.input_shape[-1])
    metrics["takes_hints"] = takes_hints
    if hint_counts:
        metrics["hints"] = {}
        for n in hint_counts:
            # 0 hints (or no hint input) is the automatic mode measured above: not predicted again
            m = (chunked_metrics(_decoded_predictions(task, generator, x, y, n), target, stats) if takes_hints and n
                 else metrics)
            metrics["hints"][str(n)] = {k: m[k] for k in ("l1", "psnr", "ssim", "hue_accuracy")}
    return metrics


def _items(ds, split: str, val_fraction: float) -> list:
    """The items to evaluate: ``split`` "val" (the validation split), "all", or "auto" (all of a paired folder,
    the validation split of an image folder)."""
    from . import data as data_mod

    if split == "auto":
        split = "all" if ds.layout != "images" else "val"
    return ds.items if split == "all" else data_mod.split(ds, val_fraction)[1]


def evaluate(task: Task, data, archs, weights: dict | None = None, split: str = "auto",
             val_fraction: float = 0.1, direction: str | None = None, progress: bool = False,
             hint_counts=()) -> dict:
    """Evaluate each arch's model on ``data`` (its validation split, or all of a paired folder).

    ``progress``: show a progress bar (over the images loaded, then evaluated by each model) on stderr.
    ``hint_counts``: also measure with that many colour hints per image (models without hint channels get none).
    """
    from . import data as data_mod
    from .inference import load

    ds = data_mod.find_dataset(data, direction)
    items = _items(ds, split, val_fraction)
    translators = {arch: load(task.name, arch, (weights or {}).get(arch)) for arch in archs}
    sizes = sorted({t.config.image_size for t in translators.values()})
    bar = Progress(len(items) * (len(sizes) + len(archs)), "image", enabled=progress)
    arrays = {size: data_mod.validation_arrays(task, ds, items, size, progress=bar) for size in sizes}
    results = {}
    for arch, translator in translators.items():
        x, y = arrays[translator.config.image_size]
        results[arch] = evaluate_arrays(task, translator.model, x, y, hint_counts)
        results[arch]["n"] = len(x)
        bar.add(len(items))
    return results


def round_trip(data, arch: str = "unet", weights=None, long_side: int = 512, val_fraction: float = 0.1,
               split: str = "val") -> dict:
    """PSNR of ``night2day(day2night(x))`` against ``x`` on the photos of ``data``, through the full pipeline.

    Each photo is scaled so its long side is ``long_side``; both translations run at that resolution (the models
    at their own size, the guided filter at full size). ``weights``: a folder holding ``<task>/<arch>/`` for both
    tasks (default: the shipped ``weights/``). ``split``: "val" (the validation photos), "all" or "auto" (as in
    :func:`evaluate`).
    """
    import tensorflow as tf

    from . import data as data_mod
    from .inference import load

    ds = data_mod.find_dataset(data)
    items = _items(ds, split, val_fraction)
    d2n, n2d = load("day2night", arch, weights), load("night2day", arch, weights)  # weights/<task>/<arch>/
    scores, night_drop = [], []
    for _, path in items:
        img = imaging.open_image(path)
        img = imaging.downscale_to(img, long_side * long_side * min(img.size) // max(img.size))
        night = d2n(img)
        back = n2d(night)
        x, b, n = (tf.constant(np.asarray(im), tf.float32) / 255.0 for im in (img, back, night))
        scores.append(float(tf.image.psnr(x, b, max_val=1.0)))
        night_drop.append(float(tf.reduce_mean(n)) / max(float(tf.reduce_mean(x)), 1e-6))
    return {"arch": arch, "psnr": round(float(np.mean(scores)), 2), "psnr_min": round(float(np.min(scores)), 2),
            "night_brightness_ratio": round(float(np.mean(night_drop)), 3), "n": len(scores),
            "long_side": long_side}


def round_trips(data, weights=None, archs=None, **kwargs) -> list[dict]:
    """:func:`round_trip` for every generator (of ``archs``) that has both a day2night and a night2day model in
    ``weights`` (default: the shipped ``weights/``)."""
    from .inference import WEIGHTS_DIR
    from .models import ARCHS

    root = Path(weights) if weights else WEIGHTS_DIR
    return [round_trip(data, arch, weights, **kwargs) for arch in archs or ARCHS
            if all((root / t / arch / "config.json").exists() for t in ("day2night", "night2day"))]


def hints_table(task_name: str, results: dict) -> str:
    """PSNR and hue accuracy against the number of hints, one row per generator (the hints curve)."""
    counts = next((list(m["hints"]) for m in results.values() if "hints" in m), [])
    if not counts:
        return ""
    head = (f"| {task_name} | " + " | ".join(f"{n} hints" for n in counts) + " |\n|---|" + "---|" * len(counts))
    rows = [f"| {arch}{'' if m.get('takes_hints') else ' (no hint input)'} | "
            + " | ".join(f"{m['hints'][n]['psnr']:.2f} dB, hue {fmt_metric(m['hints'][n]['hue_accuracy'])}"
                         for n in counts) + " |" for arch, m in results.items() if "hints" in m]
    return head + "\n" + "\n".join(rows)


def fmt_metric(v, spec: str = ".2f") -> str:
    """A metric for a table cell: formatted with ``spec``, or "—" when it was not measured (None, missing, text)."""
    return format(v, spec) if isinstance(v, (int, float)) and not isinstance(v, bool) else "—"


def colour_cells(m: dict) -> str:
    """The table cells "hue accuracy (best tint) | hue concentration (best tint) | grid (targets')" of metrics ``m``,
    shared by the ``evaluate`` table and the model card."""
    tint = fmt_metric(m.get("hue_constant_tint"))
    return (f"{fmt_metric(m.get('hue_accuracy'))} ({tint}) | {fmt_metric(m.get('hue_concentration'))} ({tint}) | "
            f"{fmt_metric(m.get('grid'), '.1f')} ({fmt_metric(m.get('grid_target'), '.1f')})")


def markdown_table(task_name: str, results: dict) -> str:
    head = ("| task | generator | L1 ↓ | PSNR ↑ (gray only) | SSIM ↑ | hue accuracy (best constant tint) | "
            "hue concentration (target) | grid (target) | colourfulness (target) | params | forward ms |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = [f"| {task_name} | {arch} | {m['l1']:.4f} | {m['psnr']:.2f}"
            + (f" ({m['psnr_gray_baseline']:.2f})" if "psnr_gray_baseline" in m else "")
            + f" | {m['ssim']:.3f} | {colour_cells(m)} | {m['colourfulness']:.1f} ({m['colourfulness_target']:.1f}) | "
            f"{m['params'] / 1e6:.2f} M | {m['forward_ms']:.1f} |" for arch, m in results.items()]
    return head + "\n".join(rows)


def save_json(path, obj) -> None:
    Path(path).write_text(json.dumps(obj, indent=2))

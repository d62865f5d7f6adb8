"""Watch them learn: fresh generators trained side by side on a few images, live (no Gradio in this module).

A run (:mod:`pix2pix_demo.live_run`, the app's side: start, reports, stop, one run at a time) trains one pix2pix
GAN per generator (encoder-decoder and U-Net by default, the MobileNet U-Net on request) from scratch with the task's
shipped recipe (:data:`pix2pix_demo.zoo.RECIPES`: widths, discriminator, batch, Adam 2e-4; λ = 100 for every task) on
:data:`LIVE_SIZE` px crops; every generator gets the same batch at each step. Every ``report_every`` seconds
:func:`train_worker` reports, per generator: the training L1 since the last report, the held-out L1, its output on
the held-out input and its own steps per second. At the end (time limit or a stop) each generator is exported to
``export_dir/<task>/<arch>/``, which ``pix2pix_demo.load(task, arch, weights=export_dir)`` opens.

Training runs in a child process (``isolation="process"``, the default) at nice +10 on one core
(``os.sched_setaffinity``), TensorFlow limited to one thread: the app keeps the other core and wins the shared one.
Under ``python app.py`` the child is a fork of the app's fork server (:mod:`pix2pix_demo.forkserver`,
:func:`forked_worker`), which shares the app's imported TensorFlow; elsewhere it is ``spawn`` ed.
The child is kept lean, since its memory counts against the app's budget (issue 14: ≤ 1.5 GB with a training
running): it never imports what Keras loads only for notebooks and DataFrames (:data:`UNUSED_IN_TRAINER`), its
crops are kept in float16, its optimiser updates each variable in one kernel (:func:`fused_adam`), and freed heap
memory goes back to the system when training starts and after every report (:func:`~pix2pix_demo.heap.malloc_trim`).
``isolation="thread"`` trains in a thread of this process instead: no second TensorFlow (less memory), but the
training's kernels run in TensorFlow's thread pools at normal priority, beside the app's.

Held out: the far third of every image (right for a landscape, bottom for a portrait) never appears in a training
crop. The held-out L1 is the mean over :data:`HELDOUT_CROPS` crops of these thirds; the first (the centre of the
last image's third) is the input shown. L1 is measured as in training, on the output encoding in [-1, 1] (CIELAB
ab / 110 for colorize, RGB otherwise).
"""

from __future__ import annotations

import gc
import logging
import os
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .heap import malloc_trim

log = logging.getLogger(__name__)

LIVE_TASKS = ("colorize", "day2night", "sketch")
LIVE_ARCHS = ("encoder_decoder", "unet", "mobilenet_unet")
DEFAULT_ARCHS = ("encoder_decoder", "unet")
#: Side of the training crops (px): the shipped photo models' size (sketch's are 256 px). At 64 px a step was 4×
#: cheaper, but a minute then made 300–400 steps, enough for the U-Net to overfit three photos' colours: on
#: colorize its held-out L1 met the encoder-decoder's (0.098 both); at 128 px (about 110 steps) 0.084 vs 0.117.
LIVE_SIZE = 128
MIN_SECONDS, DEFAULT_SECONDS, MAX_SECONDS = 10, 120, 600
MAX_IMAGES = 3
#: The held-out L1 is the mean over this many crops of the held-out regions (one is shown): with a single crop
#: the curves were too noisy to compare (colorize swung by ±40 % between reports).
HELDOUT_CROPS = 4


@dataclass
class LiveSpec:
    """What one live run trains. ``None`` fields take the task's recipe in :data:`pix2pix_demo.zoo.RECIPES`."""

    task: str
    archs: tuple[str, ...] = DEFAULT_ARCHS
    seconds: float = DEFAULT_SECONDS
    image_size: int = LIVE_SIZE
    base_filters: int | None = None
    max_filters: int | None = None
    disc_filters: int | None = None
    batch_size: int | None = None
    alpha: float | None = None
    lr: float = 2e-4
    l1_lambda: float = 100.0
    #: BatchNorm momentum of the generators (Keras: 0.99). At 0.9 the moving statistics follow the last ~10
    #: steps, so the inference-mode pictures (and the exported models) match the current weights within seconds.
    bn_momentum: float = 0.9
    report_every: float = 3.0
    pool: int = 48  # encoded training crops kept ready; two are replaced after every step
    seed: int = 0
    export_dir: str | None = None
    isolation: str = "process"
    nice: int = 10
    cores: int = 1

    def __post_init__(self):
        if self.task not in LIVE_TASKS:
            raise ValueError(f"task must be one of {', '.join(LIVE_TASKS)}, not {self.task!r}")
        self.archs = tuple(self.archs)
        if not self.archs or any(a not in LIVE_ARCHS for a in self.archs) or len(set(self.archs)) != len(self.archs):
            raise ValueError(f"archs must be distinct names among {', '.join(LIVE_ARCHS)}, not {self.archs!r}")
        if not MIN_SECONDS <= self.seconds <= MAX_SECONDS:
            raise ValueError(f"seconds must be within {MIN_SECONDS}..{MAX_SECONDS}, not {self.seconds!r}")
        if self.isolation not in ("process", "thread"):
            raise ValueError(f"isolation must be 'process' or 'thread', not {self.isolation!r}")

    def train_config(self, arch: str):
        """The :class:`~pix2pix_demo.training.TrainConfig` of one generator: the task's recipe, resized."""
        from .recipes import RECIPES
        from .training import TrainConfig

        recipe = RECIPES[self.task]
        pick = {k: recipe[k] if getattr(self, k) is None else getattr(self, k)
                for k in ("base_filters", "max_filters", "disc_filters", "batch_size", "alpha")}
        return TrainConfig(task=self.task, arch=arch, image_size=self.image_size, lr=self.lr,
                           l1_lambda=self.l1_lambda, seed=self.seed, steps=0, **pick)


# ----------------------------------------------------------------------------------------------- the data
def prepare_images(images, size: int = LIVE_SIZE) -> list[np.ndarray]:
    """RGB pictures (PIL images or arrays) → uint8 arrays whose short side is at most 3 × ``size``."""
    out = []
    for img in images[:MAX_IMAGES]:
        img = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, np.uint8))
        img = img.convert("RGB")
        s = 3 * size / min(img.size)
        if s < 1:
            img = img.resize((max(size, round(img.width * s)), max(size, round(img.height * s))),
                             Image.Resampling.BOX)
        out.append(np.asarray(img))
    if not out:
        raise ValueError("no images to train on")
    return out


def split_heldout(pairs) -> tuple[list, list]:
    """(training pairs, held-out pairs): the far third of every pair (along its long side) is held out."""
    train, held = [], []
    for a, b in pairs:
        h, w = a.shape[:2]
        axis = 1 if w >= h else 0
        cut = a.shape[axis] - max(1, a.shape[axis] // 3)
        first, rest = (slice(None), slice(None, cut)), (slice(None), slice(cut, None))
        if axis == 0:
            first, rest = first[::-1], rest[::-1]
        train.append((a[first], b[first]))
        held.append((a[rest], b[rest]))
    return train, held


def heldout_crops(task, held: list, size: int, rng: np.random.Generator, n: int = 4) -> list:
    """``n`` held-out crops: the centre of the last picture's held-out third first (the one shown), then the centre
    of each other one's, then random crops of them."""
    from . import data as data_mod

    order = held[::-1]
    crops = [data_mod.center_crop(a, b, size) for a, b in order[:n]]
    while len(crops) < n:
        a, b = order[len(crops) % len(order)]
        crops.append(data_mod.random_crop(a, b, size, task, rng))
    return crops


class CropPool:
    """Encoded random training crops (``data.random_crop``: zoom or the paper's jitter, and mirroring), ready to
    batch: encoding a crop (CIELAB for colorize, canonical strokes for sketch) costs as much as a step.

    The crops are kept in float16 and batched as float32. Their values lie in [-1, 1], where float16 is at most
    2^-11 off: finer than the pictures' own 8 bits (2/255). The 48 crops of 128 px of day2night
    (:attr:`LiveSpec.pool`) take 9 MB instead of 19 in the trainer."""

    def __init__(self, task, pairs, size: int, rng: np.random.Generator, n: int):
        self.task, self.pairs, self.size, self.rng = task, pairs, size, rng
        self.samples = [self._make() for _ in range(n)]

    def _make(self):
        from . import data as data_mod

        a, b = self.pairs[int(self.rng.integers(len(self.pairs)))]
        a, b = data_mod.random_crop(a, b, self.size, self.task, self.rng)
        return self.task.encode_input(a).astype(np.float16), self.task.encode_target(b).astype(np.float16)

    def batch(self, n: int, refresh: int = 2):
        for k in self.rng.choice(len(self.samples), refresh, replace=False):
            self.samples[k] = self._make()
        idx = self.rng.choice(len(self.samples), n, replace=len(self.samples) < n)
        return (np.stack([self.samples[i][0] for i in idx]).astype(np.float32),
                np.stack([self.samples[i][1] for i in idx]).astype(np.float32))


def _as_rgb(x: np.ndarray) -> np.ndarray:
    """An encoded input in [-1, 1] shown as an RGB picture (1-channel inputs as gray)."""
    v = np.clip((np.asarray(x, np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(v[..., :1], 3, -1) if v.shape[-1] != 3 else v


# --------------------------------------------------------------------------------------------- the worker
def _isolate(nice: int, cores: int) -> None:
    """This (new) process at lower priority on its last ``cores`` allowed cores; threads started later inherit it."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, max(nice, os.getpriority(os.PRIO_PROCESS, 0)))
    except (AttributeError, OSError):
        pass
    try:
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) > cores:
            os.sched_setaffinity(0, set(allowed[-cores:]))
    except (AttributeError, OSError):
        pass


#: Modules Keras imports when it starts, only for notebooks (``IPython``: 40 MB with ``jedi``) and for DataFrame
#: inputs (``pandas``), neither of which a live training uses. Keras imports both inside ``try``/``except
#: ImportError``; in the trainer process each import fails at once (:func:`_skip_unused_imports`): 44 MB less.
UNUSED_IN_TRAINER = ("IPython", "pandas")


def _skip_unused_imports() -> None:
    """Make ``import NAME`` fail for :data:`UNUSED_IN_TRAINER` in this (new) process; a module already imported
    stays as it is."""
    import sys

    for name in UNUSED_IN_TRAINER:
        sys.modules.setdefault(name, None)


def fused_adam(lr: float, beta_1: float):
    """``keras.optimizers.Adam(lr, beta_1=beta_1)`` whose update of a float32 variable is TensorFlow's fused
    ``ResourceApplyAdam`` kernel.

    The arithmetic is Keras's own (m, v, the step size ``lr·√(1 − β2^t) / (1 − β1^t)``, ε = 1e-7 added to √v), but
    Keras writes it as about 39 graph ops per variable, two fifths of a GAN step's graph (1,900 of 4,900 ops). A
    traced graph costs memory in TensorFlow's C++ runtime in proportion to its ops: the two GAN steps of a live
    training (day2night) took 12–35 MB less this way in two measurements, and ran no slower (0.54 vs 0.56 s per
    step of both). The hook is the one Keras documents for custom optimisers (``update_step``); anything else
    (another dtype, sparse gradients, AMSGrad) takes Keras's own update.
    """
    import keras
    import tensorflow as tf

    class FusedAdam(keras.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            if self.amsgrad or variable.dtype != tf.float32 or not isinstance(gradient, tf.Tensor):
                return super().update_step(gradient, variable, learning_rate)
            k = self._get_variable_index(variable)
            t = tf.cast(self.iterations + 1, tf.float32)
            b1, b2 = tf.constant(self.beta_1, tf.float32), tf.constant(self.beta_2, tf.float32)
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=self._momentums[k].handle, v=self._velocities[k].handle,
                beta1_power=tf.pow(b1, t), beta2_power=tf.pow(b2, t), lr=tf.cast(learning_rate, tf.float32),
                beta1=b1, beta2=b2, epsilon=tf.constant(self.epsilon, tf.float32), grad=gradient)

    return FusedAdam(lr, beta_1=beta_1)


def _set_bn_momentum(model, momentum: float) -> None:
    for layer in getattr(model, "layers", []):
        if layer.__class__.__name__ == "BatchNormalization":
            layer.momentum = momentum
        _set_bn_momentum(layer, momentum)


class _AppConnection:
    """A forked worker's end of its connection to the app: ``put`` sends a report, ``is_set`` tells whether the
    app asked to stop (or has gone)."""

    def __init__(self, conn):
        self.conn, self.stopped = conn, False

    def put(self, msg: dict) -> None:
        try:
            self.conn.send(msg)
        except OSError:
            self.stopped = True

    def is_set(self) -> bool:
        try:
            while not self.stopped and self.conn.poll():
                self.stopped = self.conn.recv() == "stop"
        except (OSError, EOFError):
            self.stopped = True
        return self.stopped


def forked_worker(spec: dict, images: list[np.ndarray], conn) -> None:
    """:func:`train_worker` in a process forked from the app's fork server (:mod:`pix2pix_demo.forkserver`),
    talking to the app through ``conn``."""
    app = _AppConnection(conn)
    train_worker(spec, images, app, app, isolated=True)


def train_worker(spec: dict, images: list[np.ndarray], out, stop, isolated: bool) -> None:
    """Train every generator of ``spec`` on ``images`` and report through ``out`` (a queue) until ``stop`` (an
    event) is set or the time is up. Messages are dicts with a ``kind``: ``setup``, ``started``, ``progress``,
    ``done`` or ``error``. Runs in the child process (``isolated``) or in a thread."""
    try:
        if isolated:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            _isolate(spec["nice"], spec["cores"])
            _skip_unused_imports()
        if hasattr(images, "get"):  # the images come through a queue (not the process arguments, see start)
            images = images.get(timeout=60)
        spec = LiveSpec(**spec)
        out.put({"kind": "setup", "what": "loading TensorFlow"})
        import tensorflow as tf

        if isolated:
            tf.config.threading.set_intra_op_parallelism_threads(spec.cores)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        import keras

        from .tasks import get_task
        from .training import build_gan

        out.put({"kind": "setup", "what": "making the training pairs"})
        task = get_task(spec.task)
        rng = np.random.default_rng(spec.seed)
        keras.utils.set_random_seed(spec.seed)
        pairs, held_out = split_heldout([task.make_pair(img, rng) for img in images])
        held = heldout_crops(task, held_out, spec.image_size, rng, HELDOUT_CROPS)
        xh = np.stack([task.encode_input(a) for a, _ in held]).astype(np.float32)
        yh = np.stack([task.encode_target(b) for _, b in held]).astype(np.float32)
        pool = CropPool(task, pairs, spec.image_size, rng, spec.pool)
        models = {}
        for k, arch in enumerate(spec.archs):
            out.put({"kind": "setup", "what": f"building generator {k + 1} of {len(spec.archs)} ({arch})"})
            if stop.is_set():
                break
            cfg = spec.train_config(arch)
            gan = build_gan(cfg, task)
            gan.compile(fused_adam(cfg.lr, cfg.beta_1), fused_adam(cfg.lr, cfg.beta_1))
            _set_bn_momentum(gan.generator, spec.bn_momentum)
            # No AutoGraph: the step has no tensor-dependent Python control flow to convert (a probe of the trainer
            # alone: 16 MB less after 30 steps, same speed; beside the served app, within the run-to-run spread).
            step = tf.function(gan.train_step, autograph=False)
            x, y = pool.batch(cfg.batch_size, refresh=0)
            step((tf.constant(x), tf.constant(y)))  # trace now: the first step is not timed
            gan.reset_metrics()
            models[arch] = {"gan": gan, "step": step, "cfg": cfg, "busy_s": 0.0, "steps": 0}
        if isolated:  # (a thread of the app leaves the app's heap to the app)
            # Building and tracing the GAN steps frees much of what it allocated, but glibc keeps it for later:
            # 20–30 MB of the trainer's resident memory was such free space when training started. Trimmed here,
            # after collecting the tracing's Python graphs (reference cycles), and again after every report (a
            # few ms every 3 s): the learn benchmark's peak (app, server and trainer) went from 1,545 MB to
            # 1,513–1,521 MB, the trainer's private memory from 457 to 431–438 MB.
            gc.collect()
            malloc_trim()
        out.put({"kind": "started", "input": _as_rgb(xh[0]), "target": task.decode(xh[0], yh[0]),
                 "params": {a: int(m["gan"].generator.count_params()) for a, m in models.items()},
                 "batch_size": spec.train_config(spec.archs[0]).batch_size, "pairs": len(pairs)})

        def report(kind="progress", **extra):
            gens = {}
            for arch, m in models.items():
                gen = m["gan"].generator
                pred = np.asarray(gen(xh, training=False))
                gens[arch] = {"train_l1": m.get("l1"), "heldout_l1": float(np.mean(np.abs(pred - yh))),
                              "steps": m["steps"], "steps_per_s": m["steps"] / m["busy_s"] if m["busy_s"] else 0.0,
                              "picture": task.decode(xh[0], pred[0])}
                m["gan"].reset_metrics()
            out.put({"kind": kind, "step": steps, "elapsed": time.monotonic() - t0, "generators": gens, **extra})

        t0 = last = time.monotonic()
        steps, reason = 0, "stopped"
        while models and not stop.is_set():
            if time.monotonic() - t0 >= spec.seconds:
                reason = "time"
                break
            x, y = pool.batch(models[spec.archs[0]]["cfg"].batch_size)
            x, y = tf.constant(x), tf.constant(y)
            for m in models.values():
                t1 = time.perf_counter()
                m["l1"] = float(m["step"]((x, y))["l1"])  # the mean since the last report (reset_metrics)
                m["busy_s"] += time.perf_counter() - t1
                m["steps"] += 1
            steps += 1
            if time.monotonic() - last >= spec.report_every:
                report()
                if isolated:
                    malloc_trim()
                last = time.monotonic()
        folders = {}
        if spec.export_dir and models and steps:
            from .export import export_model

            out.put({"kind": "setup", "what": "saving the generators"})
            for arch, m in models.items():
                folder = Path(spec.export_dir) / spec.task / arch
                export_model(folder, task, m["gan"].generator, m["cfg"].generator_config(task),
                             {"live_training": True, "training_steps": m["steps"], "batch_size": m["cfg"].batch_size,
                              "wall_time_s": round(time.monotonic() - t0, 1), "train_pairs": len(pairs)},
                             train_config=asdict(m["cfg"]) | {"live": asdict(spec) | {"export_dir": None}})
                folders[arch] = str(folder)
        if models and steps:
            report("done", reason=reason, folders=folders)
        else:  # stopped before the first step
            out.put({"kind": "done", "reason": reason, "step": 0, "generators": {}, "folders": {}})
    except Exception as err:  # noqa: BLE001 -- reported to the app, which tells the user in a sentence
        out.put({"kind": "error", "message": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()})

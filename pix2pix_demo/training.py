"""pix2pix training: a ``keras.Model`` with ``train_step``, callbacks for progress, samples and checkpoints.

The objective is the paper's: ``G* = arg min_G max_D  L_cGAN(G, D) + λ·L1(G)`` with λ = 100 by default, both networks
trained with Adam(2e-4, β1 = 0.5). Training runs under a ``tf.distribute`` strategy, so the same code runs on one
CPU, on several local devices (``devices``: MirroredStrategy) or on several workers, one process per machine or per
core, when the ``TF_CONFIG`` environment variable describes a cluster (MultiWorkerMirroredStrategy, see
:mod:`pix2pix_demo.cluster`: the global batch is split over the workers, each reads its own shard of the training
images, and only the chief writes the run folder).

A run folder holds::

    run.json             the arguments, so --resume continues the same run
    checkpoints/         tf.train.CheckpointManager: models, optimisers, step (every N steps and on SIGINT/SIGTERM)
    logs/                TensorBoard scalars and sample images
    samples/             step_000500.png: input | output | target grids
    model/               the exported model: config.json, model.safetensors, metrics.json (same as weights/)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import signal
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from . import cluster as cluster_mod
from . import data as data_mod
from .evaluation import evaluate_arrays, predict
from .models import GeneratorConfig, build_discriminator, build_generator
from .progress import Progress
from .tasks import TASKS, Task, get_task

log = logging.getLogger(__name__)


class Pix2Pix(keras.Model):
    """The conditional GAN: a generator G and a PatchGAN discriminator D, trained together."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, l1_lambda: float = 100.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.l1_lambda = l1_lambda
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")
        self.trackers = {k: keras.metrics.Mean(name=k) for k in ("g_loss", "g_gan", "l1", "d_loss")}

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, x, training=False):
        return self.generator(x, training=training)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Before fitting, Keras builds the model on a first batch that it averages over the replicas with
        # strategy.reduce, which under MultiWorkerMirroredStrategy takes one tensor, not an (input, target) pair.
        # The pair's shapes are known: build on those instead.
        if iterator is not None and isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            iterator, data_batch = None, (keras.KerasTensor((None, *self.generator.input_shape[1:])),
                                          keras.KerasTensor((None, *self.generator.output_shape[1:])))
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _mean(self, per_example):
        # Average over this replica's batch, then divide by the replica count: the gradients are summed across
        # replicas, which gives the mean over the global batch.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return tf.reduce_mean(per_example) / replicas

    def train_step(self, batch):
        x, y = batch
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            # Under a mixed-precision policy the networks compute in bfloat16/float16; losses stay in float32.
            fake = tf.cast(self.generator(x, training=True), y.dtype)
            d_real = tf.cast(self.discriminator([x, y], training=True), tf.float32)
            d_fake = tf.cast(self.discriminator([x, fake], training=True), tf.float32)
            g_gan = self._mean(self.bce(tf.ones_like(d_fake), d_fake))
            l1 = self._mean(tf.abs(y - fake))
            g_loss = g_gan + self.l1_lambda * l1
            d_loss = self._mean(self.bce(tf.ones_like(d_real), d_real)) + \
                self._mean(self.bce(tf.zeros_like(d_fake), d_fake))
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        for name, value in (("g_loss", g_loss), ("g_gan", g_gan), ("l1", l1), ("d_loss", d_loss)):
            self.trackers[name].update_state(value * replicas)
        logs = {k: m.result() for k, m in self.trackers.items()}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras averages a multi-worker step's outputs over all replicas along axis 0, which a scalar lacks.
            logs = {k: tf.reshape(v, [1]) for k, v in logs.items()}
        return logs


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``run.json``)."""

    task: str
    arch: str = "unet"
    data: str = ""
    steps: int = 2000
    batch_size: int = 4
    image_size: int | None = None  # None: the task's default
    base_filters: int = 32
    max_filters: int = 256
    num_levels: int | None = None
    alpha: float = 0.35
    disc_filters: int = 64  # PatchGAN base width (64 in the paper); the shipped small models use 32
    lr: float = 2e-4
    beta_1: float = 0.5
    l1_lambda: float = 100.0
    val_fraction: float = 0.1
    direction: str | None = None
    layout: str = "auto"
    seed: int = 0
    checkpoint_every: int = 250
    sample_every: int = 250
    log_every: int = 25
    keep_checkpoints: int = 2
    bn_recalibration_batches: int = 100
    max_images: int | None = None
    weights_dtype: str = "float16"
    #: Keras dtype policy while training: "float32", or "mixed_bfloat16" (1.6× faster steps on this AVX-512 BF16
    #: CPU in `benchmarks`; the shipped models were trained in float32). Exported weights are the same either way.
    precision: str = "float32"
    #: Batch-normalise the innermost encoder layer, as the TensorFlow tutorial does (the paper's code does not).
    #: Runs saved before this setting existed used it, so a ``run.json`` without the key reads as True.
    bottleneck_norm: bool = False
    #: Colour hints (pix2pix_demo.hints): the generator also gets hint colours and their mask, sampled from the
    #: target during training; with no hints it is the automatic model. Sketch and colorize only.
    hints: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Read a saved ``run.json``; settings this version no longer has are ignored with a warning."""
        known = {f.name for f in dataclasses.fields(cls)}
        if set(d) - known:
            log.warning("ignoring unknown run settings: %s", ", ".join(sorted(set(d) - known)))
        d = {"bottleneck_norm": True} | d
        return cls(**{k: v for k, v in d.items() if k in known})

    def generator_config(self, task: Task) -> GeneratorConfig:
        return GeneratorConfig(arch=self.arch, image_size=self.image_size or task.image_size,
                               in_channels=data_mod.input_channels(task, self.hints),
                               out_channels=task.out_channels,
                               base_filters=self.base_filters, max_filters=self.max_filters,
                               num_levels=self.num_levels, alpha=self.alpha, bottleneck_norm=self.bottleneck_norm)


def build_gan(cfg: TrainConfig, task: Task) -> Pix2Pix:
    """The generator and PatchGAN of ``cfg``, built under its precision policy, in a compiled :class:`Pix2Pix`.

    Call it inside a ``tf.distribute`` strategy's scope to train under that strategy.
    """
    keras.mixed_precision.set_global_policy(cfg.precision)  # layers keep the policy they were built with
    try:
        gcfg = cfg.generator_config(task)
        generator = build_generator(gcfg)
        discriminator = build_discriminator(gcfg.in_channels, task.out_channels, gcfg.image_size, cfg.disc_filters)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    gan = Pix2Pix(generator, discriminator, cfg.l1_lambda)
    gan.compile(keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta_1), keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta_1))
    return gan


# -------------------------------------------------------------------------------------------- callbacks
class StepCallback(keras.callbacks.Callback):
    """Base for callbacks that act on the global step (the generator optimiser's iteration count)."""

    def __init__(self, every: int):
        super().__init__()
        self.every = every

    @property
    def step(self) -> int:
        return int(self.model.g_optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        if self.every and self.step % self.every == 0:
            self.act(logs or {})

    def act(self, logs):
        raise NotImplementedError


class ProgressBar(StepCallback):
    """One progress bar over the whole run, with the losses and an ETA (:class:`~pix2pix_demo.progress.Progress`)."""

    def __init__(self, total: int, every: int = 1):
        super().__init__(every)
        self.total = total
        self.bar = None

    def on_train_begin(self, logs=None):
        self.bar = Progress(self.total, "step", initial=self.step)

    def act(self, logs):
        self.bar.update(self.step, logs)

    def on_train_end(self, logs=None):
        self.bar.close()


class TensorBoardLogger(StepCallback):
    """TensorBoard scalars every ``every`` steps (losses, learning rate, images/s)."""

    def __init__(self, logdir: Path, every: int, batch_size: int):
        super().__init__(every)
        self.writer = tf.summary.create_file_writer(str(logdir))
        self.batch_size = batch_size
        self.last = None

    def act(self, logs):
        now = time.perf_counter()
        with self.writer.as_default(step=self.step):
            for k, v in logs.items():
                tf.summary.scalar(f"train/{k}", float(v))
            if self.last is not None:
                tf.summary.scalar("train/images_per_second", self.every * self.batch_size / (now - self.last[1]))
        self.last = (self.step, now)
        self.writer.flush()


class SampleGrid(StepCallback):
    """Every ``every`` steps: a PNG grid of input | output | target rows, plus validation L1, in TensorBoard."""

    def __init__(self, task: Task, val_x, val_y, out_dir: Path, writer, every: int, rows: int = 4):
        super().__init__(every)
        self.task, self.x, self.y = task, val_x[:rows], val_y[:rows]
        self.val_x, self.val_y = val_x, val_y
        self.out_dir, self.writer = out_dir, writer

    def act(self, logs):
        grid = make_grid(self.task, self.x, predict(self.model.generator, self.x), self.y)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(self.out_dir / f"step_{self.step:06d}.png")
        val_l1 = float(np.mean(np.abs(predict(self.model.generator, self.val_x) - self.val_y)))
        with self.writer.as_default(step=self.step):
            tf.summary.image("samples", grid[None], max_outputs=1)
            tf.summary.scalar("val/l1", val_l1)
        self.writer.flush()


#: In a cluster, the workers compare notes on SIGINT/SIGTERM every this many steps (a one-number all-reduce).
STOP_CHECK_EVERY = 10


class Checkpointer(StepCallback):
    """Checkpoints every ``every`` steps and when SIGINT or SIGTERM arrives (then training stops cleanly).

    In a cluster (``agree``: :meth:`~pix2pix_demo.cluster.Collectives.any`) the workers must stop at the same step,
    or the one still training would wait for the others' gradients: a signal on any worker stops them all at the
    next multiple of :data:`STOP_CHECK_EVERY` steps, with a checkpoint.
    """

    def __init__(self, manager: tf.train.CheckpointManager, every: int, total: int, agree=None):
        super().__init__(every)
        self.manager, self.total, self.agree = manager, total, agree
        self.signal = None
        self._old = {}

    def on_train_begin(self, logs=None):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.signal = signum

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        stop = self.signal is not None
        if self.agree is not None:
            stop = self.step % STOP_CHECK_EVERY == 0 and self.agree(stop)
        if stop or self.step >= self.total:
            self.act(logs)
            self.model.stop_training = True

    def act(self, logs):
        self.manager.save(checkpoint_number=self.step)

    def on_train_end(self, logs=None):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------------------------- helpers
def make_grid(task: Task, x, y_pred, y_true) -> np.ndarray:
    """Rows of input | output | target as one uint8 RGB image."""
    rows = []
    for xi, pi, ti in zip(x, y_pred, y_true):
        xin = np.clip((xi + 1.0) * 127.5, 0, 255).astype(np.uint8)
        xin = np.repeat(xin[..., :1], 3, -1) if xin.shape[-1] != 3 else xin
        rows.append(np.concatenate([xin, task.decode(xi, pi), task.decode(xi, ti)], 1))
    return np.concatenate(rows, 0)


def _sublayers(layer):
    for sub in getattr(layer, "layers", []):
        yield sub
        yield from _sublayers(sub)


def recalibrate_batchnorm(generator: keras.Model, dataset, batches: int = 100) -> int:
    """Precise BatchNorm: recompute every moving mean and variance with the final weights.

    During training the moving averages trail weights that keep changing, so inference mode (deterministic,
    what the app uses) can drift far from training mode. Measured on the validation split, L1 in [-1, 1]:
    night2day U-Net 0.462 with the moving averages, 0.199 after averaging 100 training batches' statistics with
    dropout off (training mode: 0.200); sketch U-Net 0.292 before, 0.303 after (96 images). One rule for every
    model: always recalibrate. Returns the number of batches used.
    """
    layers_ = list(_sublayers(generator))
    norms = [layer for layer in layers_ if isinstance(layer, keras.layers.BatchNormalization)]
    drops = [(layer, layer.rate) for layer in layers_ if isinstance(layer, keras.layers.Dropout)]
    momenta = [layer.momentum for layer in norms]
    for layer, _ in drops:
        layer.rate = 0.0
    for layer in norms:
        layer.moving_mean.assign(tf.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(tf.zeros_like(layer.moving_variance))
    used = 0
    try:
        for x, _ in dataset.take(batches):
            for layer in norms:  # a running mean over batches: the k-th batch gets weight 1/(k+1)
                layer.momentum = used / (used + 1)
            generator(x, training=True)
            used += 1
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
        for layer, rate in drops:
            layer.rate = rate
    return used


def _strategy(devices: int | None):
    if devices and devices > 1:
        return tf.distribute.MirroredStrategy(
            [d.name for d in tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")][:devices])
    return tf.distribute.get_strategy()


# ------------------------------------------------------------------------------------------------ train
def train(cfg: TrainConfig, out: str | Path, resume: bool = False, devices: int | None = None,
          verbose: bool = True, cluster_timeout: float = cluster_mod.DEFAULT_TIMEOUT_S) -> Path | None:
    """Train (or resume) a run in ``out`` and export the model to ``out/model``; return that folder.

    Returns ``None`` when the run stopped early (SIGINT/SIGTERM) after writing a checkpoint: ``--resume`` goes on.
    Resuming a complete run (its model exported at its target step) returns that model without touching it.

    When ``TF_CONFIG`` describes a cluster of several workers, every worker calls this with the same arguments.
    The first thing it does is join the cluster (MultiWorkerMirroredStrategy must exist before any other
    TensorFlow op) within ``cluster_timeout`` seconds. The chief reads and writes ``out``; the others take the
    run's settings and restored weights from the chief and write into a temporary folder they delete. A worker that
    cannot reach the others, or loses them, raises :class:`~pix2pix_demo.cluster.ClusterError` naming them.
    """
    out = Path(out)
    workers = cluster_mod.from_env()
    if workers is None:
        cfg = _open_run(cfg, out, resume)
        return out / "model" if cfg is None else _train(cfg, out, resume, devices, verbose)
    if devices:
        raise ValueError("--devices is for one machine: in a cluster every worker trains on all of its own devices")
    strategy = cluster_mod.connect(workers, cluster_timeout)
    collectives = cluster_mod.Collectives(strategy)

    def open_on_chief():  # the run's settings as JSON (None: already complete), for every worker
        opened = _open_run(cfg, out, resume)
        return None if opened is None else asdict(opened)

    try:
        settings = collectives.json_from_chief(open_on_chief if workers.is_chief else None)
        if settings is None:
            return out / "model"
        scratch = None if workers.is_chief else Path(tempfile.mkdtemp(prefix=f"pix2pix-worker{workers.rank}-"))
        try:
            folder = _train(TrainConfig.from_dict(settings), scratch or out, resume, None, verbose,
                            strategy, workers, collectives)
            collectives.any(False)  # a last barrier: no worker reports success before the chief has exported
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError,
            tf.errors.CancelledError) as err:
        raise cluster_mod.ClusterError(cluster_mod.lost(workers, err)) from None
    return None if folder is None else out / "model"


def _open_run(cfg: TrainConfig, out: Path, resume: bool) -> TrainConfig | None:
    """The run's settings (on ``resume``: its ``run.json``, with a new ``steps`` target when one is given), saved
    to ``out/run.json``; ``None`` when ``resume`` finds the run complete."""
    run_file = out / "run.json"
    if resume:
        if not run_file.exists():
            raise FileNotFoundError(f"Nothing to resume: {run_file} does not exist.")
        saved = json.loads(run_file.read_text())
        if cfg.steps:  # an explicit --steps on resume sets a new target (e.g. to train longer)
            saved["steps"] = cfg.steps
        cfg = TrainConfig.from_dict(saved)
        if (done := completed_steps(out, cfg.steps)) is not None:
            log.info("run %s is already complete (%d/%d steps); model in %s", out, done, cfg.steps, out / "model")
            return None
    task = get_task(cfg.task)
    if cfg.hints and not task.takes_hints:
        raise ValueError(f"The {cfg.task} task takes no colour hints; --hints is for "
                         f"{', '.join(t for t in TASKS if TASKS[t].takes_hints)}.")
    out.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(asdict(cfg), indent=2))
    return cfg


def _train(cfg: TrainConfig, out: Path, resume: bool, devices: int | None, verbose: bool, strategy=None,
           workers: cluster_mod.Cluster | None = None, collectives: cluster_mod.Collectives | None = None):
    """The body of :func:`train` for a run whose settings are known; ``out``: where this process writes.

    With ``workers`` (and their ``strategy`` and ``collectives``), this process is one worker of a cluster.
    """
    from .export import export_model

    task = get_task(cfg.task)
    chief = workers is None or workers.is_chief
    gcfg = cfg.generator_config(task)
    size = gcfg.image_size
    keras.utils.set_random_seed(cfg.seed)

    ds = data_mod.find_dataset(cfg.data, cfg.direction, cfg.layout)
    if cfg.max_images:
        ds.items = ds.items[:cfg.max_images]
    train_items, val_items = data_mod.split(ds, cfg.val_fraction)
    log.info("%s: %d training / %d validation items (%s layout)", ds.root, len(train_items), len(val_items),
             ds.layout)
    val_x, val_y = data_mod.validation_arrays(task, ds, val_items or train_items[:4], size, hints=cfg.hints)

    strategy = strategy or _strategy(devices)
    global_batch = cfg.batch_size
    if workers is not None:  # every worker reads its own images, and its share of each global batch
        shard = train_items[workers.rank::workers.count]
        if global_batch % strategy.num_replicas_in_sync or not shard:
            raise ValueError(f"--batch-size {global_batch} with {len(train_items)} training images does not split "
                             f"over {strategy.num_replicas_in_sync} replicas on {workers.count} workers: give each "
                             "replica a whole share of the batch and each worker at least one image")
        log.info("%s: %d of the %d training items, %d of the %d images of each step", workers.name(), len(shard),
                 len(train_items), global_batch // workers.count, global_batch)
    with strategy.scope():
        gan = build_gan(cfg, task)
        generator, discriminator = gan.generator, gan.discriminator
        # Create optimiser slots now so a checkpoint restores them (not lazily at the first step).
        gan.g_optimizer.build(generator.trainable_variables)
        gan.d_optimizer.build(discriminator.trainable_variables)
        ckpt = tf.train.Checkpoint(generator=generator, discriminator=discriminator,
                                   g_optimizer=gan.g_optimizer, d_optimizer=gan.d_optimizer)
    manager = tf.train.CheckpointManager(ckpt, out / "checkpoints", max_to_keep=cfg.keep_checkpoints)
    if resume and manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log.info("resumed from %s", manager.latest_checkpoint)
    if collectives is not None:  # the chief's weights and step, restored or new, on every worker
        collectives.variables_from_chief(_run_variables(gan))
    start = int(gan.g_optimizer.iterations.numpy())
    if not chief and start:
        log.info("%s: continues from the chief's step %d", workers.name(), start)
    remaining = cfg.steps - start
    t0 = time.perf_counter()
    if remaining > 0:
        if workers is None:
            train_ds = data_mod.train_dataset(task, ds, train_items, size, global_batch, cfg.seed + start,
                                              hints=cfg.hints)
        else:
            train_ds = strategy.distribute_datasets_from_function(lambda context: data_mod.train_dataset(
                task, ds, shard, size, context.get_per_replica_batch_size(global_batch), cfg.seed + start,
                hints=cfg.hints))
        writer_dir = out / "logs"
        tb = TensorBoardLogger(writer_dir, cfg.log_every, global_batch)
        callbacks = [
            tb,
            SampleGrid(task, val_x, val_y, out / "samples", tb.writer, cfg.sample_every),
            Checkpointer(manager, cfg.checkpoint_every, cfg.steps, collectives and collectives.any),
        ]
        if verbose and chief:
            callbacks.insert(0, ProgressBar(cfg.steps))
        gan.fit(train_ds, epochs=1, steps_per_epoch=remaining, callbacks=callbacks, verbose=0, shuffle=False)
    wall = time.perf_counter() - t0
    step = int(gan.g_optimizer.iterations.numpy())
    history = _history(out / "run_history.json", start, step, wall)
    if step < cfg.steps:
        log.warning("stopped at step %d of %d (checkpoint written); continue with --resume", step, cfg.steps)
        return None
    if workers is not None:  # each worker recalibrates on its shard; the statistics are averaged over workers
        calib_ds = data_mod.train_dataset(task, ds, shard, size, global_batch // workers.count, cfg.seed + 1,
                                          hints=cfg.hints)
        with strategy.scope():
            recalibrate_batchnorm(generator, calib_ds, -(-cfg.bn_recalibration_batches // workers.count))
            collectives.average_variables(generator.non_trainable_weights + discriminator.non_trainable_weights)
        log.info("%s: final weights sha256 %s", workers.name(),
                 cluster_mod.digest(generator.weights + discriminator.weights))
    elif strategy.num_replicas_in_sync == 1:
        calib_ds = data_mod.train_dataset(task, ds, train_items, size, global_batch, cfg.seed + 1,
                                          hints=cfg.hints)
        recalibrate_batchnorm(generator, calib_ds, cfg.bn_recalibration_batches)
    else:  # assigning the statistics across replicas is not worth the complexity: keep the moving averages
        log.info("BatchNorm recalibration skipped under %d replicas", strategy.num_replicas_in_sync)
    # Headline metrics with no hints (the automatic mode); a hint-aware model also gets its hints curve.
    from .hints import EVAL_COUNTS

    metrics = evaluate_arrays(task, generator, val_x[..., :task.in_channels], val_y, EVAL_COUNTS if cfg.hints else ())
    metrics.update(training_steps=step, batch_size=cfg.batch_size, wall_time_s=round(history, 1),
                   train_items=len(train_items), val_items=len(val_x), data=str(cfg.data))
    return export_model(out / "model", task, generator, gcfg, metrics, train_config=asdict(cfg),
                        dtype=cfg.weights_dtype)


def _run_variables(gan: Pix2Pix) -> list:
    """Everything a checkpoint restores: both networks' weights and both optimisers' state (with the step)."""
    seen, variables = set(), []
    for v in (gan.generator.weights + gan.discriminator.weights + gan.g_optimizer.variables
              + gan.d_optimizer.variables):
        if id(v) not in seen:
            seen.add(id(v))
            variables.append(v)
    return variables


def completed_steps(out: str | Path, steps: int | None = None) -> int | None:
    """The training steps of the model exported in run ``out`` when they reach ``steps`` (default: the run's
    target in ``run.json``), else ``None``: the run is not complete (or not exported yet)."""
    out = Path(out)
    try:
        steps = steps or json.loads((out / "run.json").read_text())["steps"]
        done = json.loads((out / "model" / "metrics.json").read_text())["training_steps"]
    except (OSError, ValueError, KeyError):
        return None
    return done if done >= steps else None


def _history(path: Path, start: int, end: int, wall: float) -> float:
    """Append this session's wall time to the run's history and return the total over all sessions."""
    sessions = json.loads(path.read_text()) if path.exists() else []
    sessions.append({"from_step": start, "to_step": end, "wall_time_s": round(wall, 1)})
    path.write_text(json.dumps(sessions, indent=2))
    return sum(s["wall_time_s"] for s in sessions)

"""pix2pix training runs: :func:`train` runs (or resumes) one in a run folder, on one process or across a cluster.

Training runs under a ``tf.distribute`` strategy, so the same code runs on one CPU, on several local devices
(``devices``: MirroredStrategy) or on several workers, one process per machine or per core, when the ``TF_CONFIG``
environment variable describes a cluster (MultiWorkerMirroredStrategy, see :mod:`pix2pix_demo.cluster`: the global
batch is split over the workers, each reads its own shard of the training images, and only the chief writes the run
folder). After the last step the generator's BatchNorm statistics are recomputed (:func:`recalibrate_batchnorm`),
the model is evaluated on the validation split and exported.

The run is split in three modules, each read on its own:

* :mod:`pix2pix_demo.gan`: the settings (:class:`TrainConfig`), the GAN and its losses (:class:`Pix2Pix`), and
  :func:`build_gan`;
* :mod:`pix2pix_demo.callbacks`: progress, TensorBoard, sample grids and checkpoints during ``fit``;
* this module: the run folder, the strategy, the loop around ``fit``, resuming and exporting.

Those modules' names stay importable from here (``from pix2pix_demo.training import TrainConfig, build_gan``).

A run folder holds::

    run.json             the arguments, so --resume continues the same run
    run_history.json     each session's steps and wall time
    checkpoints/         tf.train.CheckpointManager: models, optimisers, step (every N steps and on SIGINT/SIGTERM)
    logs/                TensorBoard scalars and sample images
    samples/             step_000500.png: input | output | target grids
    model/               the exported model: config.json, model.safetensors, metrics.json (same as weights/)
"""

from __future__ import annotations

import gc
import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import keras
import tensorflow as tf

from . import cluster as cluster_mod
from . import data as data_mod
from .callbacks import (  # noqa: F401 - StepCallback, STOP_CHECK_EVERY and make_grid: importable from here as before
    STOP_CHECK_EVERY,
    Checkpointer,
    ProgressBar,
    SampleGrid,
    StepCallback,
    TensorBoardLogger,
    make_grid,
)
from .evaluation import evaluate_arrays
from .gan import Pix2Pix, TrainConfig, build_gan, native_bfloat16
from .tasks import TASKS, get_task

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- helpers
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
        scratch = None if workers.is_chief else cluster_mod.worker_scratch(out, workers.rank)
        try:
            folder = _train(TrainConfig.from_dict(settings), scratch or out, resume, None, verbose,
                            strategy, workers, collectives)
            collectives.any(False)  # a last barrier: no worker reports success before the chief has exported
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError,
            tf.errors.CancelledError) as err:
        cluster_mod.quiet_exit()
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
    if cfg.precision == "mixed_bfloat16" and native_bfloat16() is False:
        log.warning("this CPU has no native bfloat16 (AVX-512 BF16, AMX): mixed_bfloat16 is emulated and was about "
                    "10x slower than float32 on such a CPU; --precision float32 trains faster here")
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
        del train_ds, callbacks  # its in-memory cache of decoded pairs: about 5 GB after a sketch epoch
        gc.collect()
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
